"""The array libraries generated code is written for: numpy, PyTorch and JAX.

derive writes a program's straight-line code once, in numpy's spelling
(:mod:`derive.readings.codegen`); for torch and jax each numpy call, and the erf
helper, is spelled as that library spells it (the rule table's ``SPELLINGS``), torch
converts the arguments to float64 tensors first and jax compiles the function.
Argument names that clash with a module alias move the alias (``np_``).
"""

from __future__ import annotations

import builtins
import keyword
import re

from derive.base.limits import BACKENDS
from derive.core.rules import LIBRARY_SUPPORT, SPELLINGS
from derive.core.rule import SUPPORT

def _free(name: str, taken) -> str:
    """``name``, or ``name`` with ``_`` appended until it is not ``taken``."""
    while name in taken:
        name += "_"
    return name


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose from {', '.join(BACKENDS)}")


_HEADS = {
    "torch": ["import torch", "", "", "def _t(value):",
              "    # a float64 tensor (a tensor given stays on its device)",
              "    return torch.as_tensor(value, dtype=torch.float64)", ""],
    "jax": ["import jax", "import jax.numpy as jnp", "import jax.scipy.special", "",
            'jax.config.update("jax_enable_x64", True)', ""],
}


def _for_backend(backend, head, signature, body, result, arguments, taken, tail="") -> str:
    """The numpy program's lines written for another array library: each ``np.f(...)``
    call (and the erf helper) spelled as that library spells it; torch converts the
    arguments to tensors first, jax compiles the function."""
    helpers = [line for line in head
               if not line.startswith(("import", *(f"{name} =" for name in SUPPORT)))]
    top, decorator = list(_HEADS[backend]), ["@jax.jit"] if backend == "jax" else []
    if backend == "torch":
        names = ", ".join(arguments) + ("," if len(arguments) == 1 else "")
        documented = bool(body) and body[0].lstrip().startswith('"""')
        body = body[:documented] + [f"    {names} = map(_t, ({names}))"] + body[documented:]
    text = _translate("\n".join([*helpers, "", *decorator, signature, *body,
                                 f"    return ({result},)"]), backend) + tail
    for helper, definition in LIBRARY_SUPPORT.get(backend, {}).items():
        if f"{helper}(" in text:
            top += ["", *definition, ""]
    text = "\n".join(_rename_modules(top + text.split("\n"), taken, _MODULES[backend]))
    return re.sub(r"\n{4,}", "\n\n\n", text)


_CALL = re.compile(rf"\bnp\.(\w+)(\()?|\b({'|'.join(sorted(SUPPORT, reverse=True))})\(")


_NUMBER = r"\(?-?[0-9.]+(?:e[-+]?[0-9]+)?\)?"


_LITERAL = re.compile(rf"{_NUMBER}|\({_NUMBER} / {_NUMBER}\)")


def _translate(text: str, backend: str) -> str:
    """numpy source rewritten call by call (arguments first) for ``backend``."""
    out, position = [], 0
    while match := _CALL.search(text, position):
        out.append(text[position:match.start()])
        name = match.group(1) or match.group(3)
        if match.group(1) and not match.group(2):  # an attribute: np.inf, np.nan
            out.append(("jnp." if backend == "jax" else "torch.") + name)
            position = match.end()
            continue
        close = _closing(text, match.end() - 1)
        args = [_translate(a, backend) for a in _split(text[match.end():close])]
        out.append(_spell(backend, name, args))
        position = close + 1
    return "".join(out) + text[position:]


def _spell(backend: str, name: str, args: list[str]) -> str:
    """One numpy call as ``backend`` writes it."""
    function = SPELLINGS[backend].get(name, ("jnp." if backend == "jax" else "torch.") + name)
    if backend == "torch":
        if name == "float64":
            return f"_t({args[0]})"
        # torch's functions take tensors: a number written in the code becomes one
        args = [f"_t({a})" if _LITERAL.fullmatch(a) else a for a in args]
    return f"{function}({', '.join(args)})"


def _closing(text: str, opening: int) -> int:
    """The index of the parenthesis closing the one at ``opening``."""
    depth = 0
    for i in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise ValueError("unbalanced parentheses in generated code")


def _split(arguments: str) -> list[str]:
    """A call's argument text split at its top-level commas."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(arguments):
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(arguments[start:i].strip())
            start = i + 1
    last = arguments[start:].strip()
    return parts + [last] if last else parts


_MODULES = {"numpy": ("np", "math"), "torch": ("torch",), "jax": ("jnp", "jax")}
"""The module names each backend's code binds (renamed where an argument takes one)."""


def _rename_modules(lines: list[str], taken: set, modules=_MODULES["numpy"]) -> list[str]:
    """The lines with the modules renamed where an argument takes the name."""
    for module in modules:
        if module not in taken:
            continue
        alias = _free(module + "_", taken)
        lines = [_renamed_import(line, module, alias) if line.startswith("import ")
                 else re.sub(rf"\b{module}\.", f"{alias}.", line) for line in lines]
    return lines


def _renamed_import(line: str, module: str, alias: str) -> str:
    """An import line binding ``alias`` where it bound ``module`` (a submodule's import,
    ``import jax.numpy as jnp``, stays)."""
    if line == f"import {module}":
        return f"import {module} as {alias}"
    if line.endswith(f" as {module}"):
        return line[:-len(module)] + alias
    return line


RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
"""Python's keywords and builtins: never a name in generated code (a parameter named
``map`` or ``float`` would shadow what the code calls)."""


def identifier(name: str) -> str:
    """A Python identifier for a symbol or step name, never a keyword or builtin
    ('Omega0[1,2]' -> 'Omega0_1_2', 'lambda' -> 'lambda_').  Not injective by itself:
    :func:`identifiers` makes a model's names distinct."""
    ident = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "v"
    if ident[0].isdigit():
        ident = "v_" + ident
    return _free(ident, RESERVED)


def _plain(name: str) -> bool:
    """A name that is already a safe identifier of the user's namespace (it starts with a
    letter: every name derive itself introduces at module level starts with ``_`` or is
    chosen around the user's)."""
    return (name.isascii() and name.isidentifier() and name[:1].isalpha()
            and name not in RESERVED)


def identifiers(names) -> dict[str, str]:
    """Each of ``names`` mapped to a distinct Python identifier (injective): a plain name
    keeps itself; the others (keywords, builtins, network entries) take
    :func:`identifier`'s spelling, with ``_`` appended until it is free.  Sorted, so the
    same names always get the same identifiers.  Cost: linear in the names.

    >>> identifiers(["lambda", "lambda_", "a", "np", "map", "Omega0[1,2]", "Omega0_1_2"])
    {'lambda_': 'lambda_', 'a': 'a', 'np': 'np', 'Omega0_1_2': 'Omega0_1_2', \
'Omega0[1,2]': 'Omega0_1_2_', 'lambda': 'lambda__', 'map': 'map_'}
    """
    names = list(dict.fromkeys(names))
    label = {n: n for n in names if _plain(n)}
    used = set(label.values())
    for name in sorted(n for n in names if n not in label):
        label[name] = _free(identifier(name), used)
        used.add(label[name])
    return label
