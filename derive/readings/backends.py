"""The array libraries generated code is written for: numpy, PyTorch and JAX, a printer each.

A row's code in the rule table is numpy source (``np.sin(x)``); generated code is
printed from the rows, never rewritten afterwards.  :class:`Printer` prints numpy:
a row's code with its arguments' texts put in, numbers, constants and the module's
head; :class:`TorchPrinter` and :class:`JaxPrinter` print the same pieces as those
libraries spell them (the rule table's ``SPELLINGS``), torch converting arguments
and numbers to float64 tensors and jax compiling the function.  A module an argument's
name takes is bound under another name (``np_``), chosen when the printer is made.

>>> Printer().template("np.where(np.real(x) > 0, x, 0.0)", {"x": "h1"})
'np.where(np.real(h1) > 0, h1, 0.0)'
>>> TorchPrinter().template("np.heaviside(np.real(x), 0.5)", {"x": "h1"})
'torch.heaviside(torch.real(h1), _t(0.5))'
>>> JaxPrinter({"jnp"}).template("_erf(np.sqrt(x))", {"x": "2.0"})
'jax.scipy.special.erf(jnp_.sqrt(2.0))'
"""

from __future__ import annotations

import builtins
import functools
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


_PIECE = re.compile(rf"\b(np|math)\.(\w+)(\()?|\b({'|'.join(sorted(SUPPORT, reverse=True))})\(")


@functools.lru_cache(maxsize=None)
def parsed(code: str) -> tuple:
    """A row's numpy source in pieces: text (holding the row's parameters), module
    attributes ``("attribute", module, name)`` and calls ``("call", module, name, args)``
    (module None for a helper of ``SUPPORT``), each argument parsed in turn.  Parsed
    once per row: it is the table's text, never generated code.

    >>> parsed("1.0 / (1.0 + np.exp(-x))")
    ('1.0 / (1.0 + ', ('call', 'np', 'exp', (('-x',),)), ')')
    """
    pieces, position = [], 0
    while match := _PIECE.search(code, position):
        pieces.append(code[position:match.start()])
        module, name, opening, helper = match.groups()
        if module and not opening:
            pieces.append(("attribute", module, name))
            position = match.end()
            continue
        close = _closing(code, match.end() - 1)
        arguments = tuple(parsed(a) for a in _split(code[match.end():close]))
        pieces.append(("call", module, name or helper, arguments))
        position = close + 1
    pieces.append(code[position:])
    return tuple(p for p in pieces if p != "")


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


class Printer:
    """numpy's printer: the pieces of a generated module as numpy writes them.

    ``taken`` holds every name the function binds; a module among them is bound under
    ``name_`` (``import numpy as np_``).  :attr:`used` collects the helpers the
    printed code calls (erf's, defined at the top of the module).
    """

    backend = "numpy"
    modules = {"np": "numpy", "math": "math"}
    """The names the code binds to modules (each renamed where an argument takes it)."""
    home = "np"
    """The module the rows' ``np.`` calls and attributes are printed under."""
    spellings: dict = {}

    def __init__(self, taken=frozenset()):
        self.alias = {m: _free(m + "_", taken) if m in taken else m for m in self.modules}
        self.used: dict = {}

    def module(self, name: str) -> str:
        """The name the code binds the module ``name`` to."""
        return self.alias.get(name, name)

    def dotted(self, path: str) -> str:
        """A dotted name with its module as bound (``torch.special.erf``)."""
        head, dot, rest = path.partition(".")
        return self.module(head) + dot + rest if dot else path

    def template(self, code: str, args: dict) -> str:
        """A row's ``code`` with each parameter's text of ``args`` put in."""
        return "".join(self._piece(piece, args) for piece in parsed(code))

    def _piece(self, piece, args: dict) -> str:
        if isinstance(piece, str):
            if not args:
                return piece
            return re.sub(r"\b(" + "|".join(args) + r")\b", lambda m: args[m.group()], piece)
        if piece[0] == "attribute":
            return self.attribute(piece[1], piece[2])
        _, module, name, arguments = piece
        texts = ["".join(self._piece(p, args) for p in argument) for argument in arguments]
        return self.call(name, texts, module)

    def attribute(self, module: str, name: str) -> str:
        """``np.inf``, ``math.erf`` (numpy's in the :attr:`home` module)."""
        return f"{self.module(self.home if module == 'np' else module)}.{name}"

    def function(self, name: str, module: str | None = "np") -> str:
        """How the code names numpy's function ``name`` (or a helper, module None)."""
        module = self.home if module == "np" else module
        if module is None:
            self.used[name] = True
        spelled = self.spellings.get(name)
        if spelled is None:
            return f"{self.module(module)}.{name}" if module else name
        if spelled in LIBRARY_SUPPORT.get(self.backend, {}):
            self.used[spelled] = True
        return self.dotted(spelled)

    def call(self, name: str, args: list[str], module: str | None = "np") -> str:
        return f"{self.function(name, module)}({', '.join(args)})"

    def scalar(self, text: str) -> str:
        """A number computed alone, as a float64 (IEEE rules, not Python's)."""
        return self.call("float64", [text])

    def definition(self, name: str, params, code: str) -> list[str]:
        """A helper function ``name`` returning a row's ``code``, between blank lines."""
        return ["", f"def {name}({', '.join(params)}):",
                f"    return {self.template(code, {})}", ""]

    def support(self) -> list[str]:
        """The helpers of ``SUPPORT`` the printed code calls, in the table's order."""
        return [name for name in SUPPORT if name in self.used]

    def imported(self, path: str, name: str) -> str:
        """The import binding ``name`` to module ``path``."""
        bound = self.module(name)
        return f"import {path}" if bound == path else f"import {path} as {bound}"

    def head(self) -> list[str]:
        """The module's imports and the helpers its code calls."""
        if not self.support():
            return [self.imported("numpy", "np"), ""]
        return [self.imported("math", "math"), "", self.imported("numpy", "np"), "",
                *(f"{name} = {self.template(SUPPORT[name], {})}" for name in self.support()),
                ""]

    def function_lines(self, signature: str, body: list[str], arguments: list[str]) -> list[str]:
        """The function's lines (a decorator, conversions of its arguments)."""
        return [signature, *body]

    def module_text(self, helpers: list[str], signature: str, body: list[str], result: str,
                    arguments: list[str], tail: str) -> str:
        """The whole module: head, helper functions, the function, then ``tail``."""
        code = [*self.head(), *helpers, "", *self.function_lines(signature, body, arguments),
                f"    return ({result},)"]
        return "\n".join(code + (tail.split("\n") if tail else []))


class _LibraryPrinter(Printer):
    """What torch's and jax's modules share: numpy's module laid out with the library's
    head, and the helpers its spellings need (the rule table's ``LIBRARY_SUPPORT``)."""

    def module_text(self, helpers, signature, body, result, arguments, tail) -> str:
        # blank lines where numpy's module has its imports; runs of blanks close up below
        blanks = [""] * (3 if self.support() else 1)
        text = "\n".join([*blanks, *helpers, "", *self.function_lines(signature, body, arguments),
                          f"    return ({result},)"]) + tail
        top = self.head()
        for helper, (params, code) in LIBRARY_SUPPORT.get(self.backend, {}).items():
            if helper in self.used:
                top += self.definition(helper, params, code)
        return re.sub(r"\n{4,}", "\n\n\n", "\n".join(top + text.split("\n")))


class TorchPrinter(_LibraryPrinter):
    """PyTorch's printer: torch's functions on float64 tensors; the arguments, and each
    number a function takes, converted by ``_t``."""

    backend = "torch"
    modules = {"torch": "torch"}
    home = "torch"
    spellings = SPELLINGS["torch"]

    def call(self, name: str, args: list[str], module: str | None = "np") -> str:
        if name == "float64":
            return f"_t({args[0]})"
        # torch's functions take tensors: a number written in the code becomes one
        return super().call(name, [f"_t({a})" if _LITERAL.fullmatch(a) else a for a in args],
                            module)

    def head(self) -> list[str]:
        torch = self.module("torch")
        return [self.imported("torch", "torch"), "", "", "def _t(value):",
                "    # a float64 tensor (a tensor given stays on its device)",
                f"    return {torch}.as_tensor(value, dtype={torch}.float64)", ""]

    def function_lines(self, signature, body, arguments):
        names = ", ".join(arguments) + ("," if len(arguments) == 1 else "")
        documented = bool(body) and body[0].lstrip().startswith('"""')
        return [signature, *body[:documented], f"    {names} = map(_t, ({names}))",
                *body[documented:]]


class JaxPrinter(_LibraryPrinter):
    """JAX's printer: ``jax.numpy``'s functions, in float64, the function jitted."""

    backend = "jax"
    modules = {"jnp": "jax.numpy", "jax": "jax"}
    home = "jnp"
    spellings = SPELLINGS["jax"]

    def head(self) -> list[str]:
        return [self.imported("jax", "jax"), self.imported("jax.numpy", "jnp"),
                "import jax.scipy.special", "",
                f'{self.module("jax")}.config.update("jax_enable_x64", True)', ""]

    def function_lines(self, signature, body, arguments):
        return [f"@{self.module('jax')}.jit", signature, *body]


PRINTERS = {"numpy": Printer, "torch": TorchPrinter, "jax": JaxPrinter}
"""The printer of each backend of :data:`derive.base.limits.BACKENDS`."""


def printer(backend: str, taken=frozenset()) -> Printer:
    """A fresh printer for ``backend`` around the names ``taken``."""
    check_backend(backend)
    return PRINTERS[backend](taken)


_NUMBER = r"\(?-?[0-9.]+(?:e[-+]?[0-9]+)?\)?"
_LITERAL = re.compile(rf"{_NUMBER}|\({_NUMBER} / {_NUMBER}\)")


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
