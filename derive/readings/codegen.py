"""Straight-line numpy code from the expression graph.

One assignment per step, in topological order: the graph printed as a program.
A node used once is written inside its user's line, as lambdify writes it (so
numpy reuses the temporary's buffer); a node used twice, named or returned gets
its own line, and is deleted after its last use.  Built in time linear in the
graph, so it evaluates symbolic gradients at depths where ``lambdify`` (which
prints the tree, even with ``cse=True``) takes minutes.  The source needs only
numpy: primitives from the table are written from the table's own ``code``,
inline or (where the code uses its argument twice) as a helper function at the
top.  Sums and products take parameters and numbers first, so that they meet each other
as scalars before they touch the batch (``batch`` says which arguments it is).

>>> import sympy
>>> x, w, b = sympy.symbols("x w b")
>>> s = sympy.sin(b * w * x)
>>> print(source([s * s + s], [w, b, x], {s: "h1"}, name="g", batch=[x]))
import numpy as np
<BLANKLINE>
<BLANKLINE>
def g(w, b, x):
    h1 = np.sin(b * w * x)
    t1 = h1 ** 2 + h1
    del h1
    return (t1,)
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from derive.core.graph import sizes, topological_order
from derive.core.rules import LIBRARY_SUPPORT, SPELLINGS, SUPPORT, lambdify_modules, rule_for
from derive.core.program import expression_program
from derive.readings.symbolic import adjoints
from derive.readings.costs import predict
from derive.base.limits import BACKENDS, LAMBDIFY_DEPTH_CAP, LAMBDIFY_TREE_CAP


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


def _free(name: str, taken) -> str:
    """``name``, or ``name`` with ``_`` appended until it is not ``taken``."""
    while name in taken:
        name += "_"
    return name


def source(outputs, arguments, names: dict | None = None, name: str = "gradient",
           doc: str = "", batch=None, backend: str = "numpy", tail: str = "") -> str:
    """Python source of ``def name(*arguments)`` returning the outputs as a tuple.

    One line per step: a node that is named (``names``: steps, adjoints), returned,
    or used more than once gets an assignment (t1, t2, ... where unnamed, skipping
    names an argument or step has); arithmetic used once is written inside its
    user's line, as lambdify writes it, so numpy reuses its buffer.  ``batch`` names
    the arguments that vary over the batch (default: all): products and sums take
    the rest first, so parameters meet each other as scalars before they touch the
    batch.  An array is deleted after its last use, bounding peak memory.  An argument
    named like a module the code uses (``np``, ``math``) keeps its name; the module is
    imported under another (``np_``).  ``backend`` writes the same program for
    PyTorch tensors ("torch") or as a jitted JAX function ("jax"): see
    :data:`BACKENDS`.  Argument names are made distinct Python identifiers by
    :func:`identifiers`; every name the code introduces (temporaries, step and
    adjoint names, module aliases, the function itself) is chosen around them.
    ``tail`` is module code put after the function (``{function}`` in it is the
    function's final name).  Cost: linear in the distinct nodes of all outputs together.

    >>> x, w = sympy.symbols("x w")
    >>> print(source([sympy.tanh(w * x) ** 2], [w, x], backend="torch"))
    import torch
    <BLANKLINE>
    <BLANKLINE>
    def _t(value):
        # a float64 tensor (a tensor given stays on its device)
        return torch.as_tensor(value, dtype=torch.float64)
    <BLANKLINE>
    <BLANKLINE>
    def gradient(w, x):
        w, x = map(_t, (w, x))
        t1 = torch.tanh(w * x) ** 2
        return (t1,)
    """
    return sources(outputs, arguments, names, name, doc, batch, [backend], tail)[backend]


def sources(outputs, arguments, names: dict | None = None, name: str = "gradient",
            doc: str = "", batch=None, backends=("numpy",), tail: str | dict = "") -> dict:
    """:func:`source` for each of ``backends`` at once ({backend: text}): the plan and
    the numpy lines, which cost the most, are made once for all.  ``tail`` may be a
    {backend: text} dict.

    >>> x, w = sympy.symbols("x w")
    >>> texts = sources([sympy.tanh(w * x)], [w, x], backends=BACKENDS)
    >>> [line for line in texts["jax"].splitlines() if "tanh" in line]
    ['    t1 = jnp.tanh(w * x)']
    """
    for backend in backends:
        check_backend(backend)
    plan = _Plan(outputs, arguments, names or {}, batch)
    lines, helpers = [], {}
    for node in plan.bound:
        lines += _assignments(plan.label[node], node, plan, helpers)
        dead = plan.dead_after(node)
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    head = ["import numpy as np", ""]
    support = [name for name in SUPPORT
               if any(re.search(rf"\b{name}\(", line) for line in lines)
               or any(re.search(rf"\b{name}\(", rule.code) for rule in helpers.values())]
    if support:
        head = ["import math", "", "import numpy as np", ""]
        head += [f"{name} = {SUPPORT[name]}" for name in support] + [""]
    for fname, rule in helpers.items():
        head += ["", f"def {fname}({', '.join(rule.params)}):", f"    return {rule.code}", ""]
    label = plan.label
    name = _free(name, plan.taken)
    signature = f"def {name}({', '.join(label[a] for a in arguments)}):"
    body = ([f'    """{doc}"""'] if doc else []) + lines
    result = ", ".join(_text(o, plan, helpers)[0] for o in outputs)
    texts = {}
    for backend in backends:
        end = (tail.get(backend, "") if isinstance(tail, dict) else tail).format(function=name)
        if backend != "numpy":
            texts[backend] = _for_backend(backend, head, signature, body, result,
                                          [label[a] for a in arguments], plan.taken, end)
            continue
        code = head + ["", signature, *body, f"    return ({result},)"]
        code += end.split("\n") if end else []
        texts[backend] = "\n".join(_rename_modules(code, plan.taken))
    return texts


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


INLINE_OPERATIONS = 12
"""Operations written inside one line at most: a longer chain of single uses is split."""


class _Plan:
    """Which nodes get a line of their own, their names, and when each array dies.

    A node gets a line where it is named, returned, used more than once, computed
    from numbers alone, or where writing it inside its user would make that line
    longer than :data:`INLINE_OPERATIONS`; sums inside sums and products inside
    products are flattened into one, up to :data:`WIDEST_LINE` terms.
    """

    def __init__(self, outputs, arguments, names: dict, batch):
        order = topological_order(outputs)
        batch = set(arguments) if batch is None else set(batch)
        mangled = identifiers(str(a) for a in arguments)
        self.label = {a: mangled[str(a)] for a in arguments}
        self.arguments, self.outputs = set(arguments), set(outputs)
        self.batched = {}
        uses: dict = {}
        for node in order:
            self.batched[node] = node in batch or any(self.batched[a] for a in node.args)
            for a in node.args:
                uses[a] = uses.get(a, 0) + 1
        self.flat, weight, width, bound, lined = set(), {}, {}, [], set()
        for node in order:
            if node in self.label or not node.args:
                continue
            inner = [a for a in node.args if a.args and a not in self.label
                     and uses.get(a, 0) == 1 and a not in self.outputs and a not in names
                     and not all(b.is_Number for b in a.args)]
            inner = [a for a in inner if a not in lined]
            weight[node] = 1 + sum(weight[a] for a in inner)
            width[node] = sum(width.get(a, 1) if a in self.flat else 1 for a in node.args)
            same = [a for a in inner if type(a) is type(node) and rule_for(node).join]
            if same and width[node] - len(same) + sum(width[a] for a in same) <= WIDEST_LINE:
                self.flat.update(same)
                width[node] += sum(width[a] - 1 for a in same)
            if (node in self.outputs or node in names or uses.get(node, 0) != 1
                    or all(a.is_Number for a in node.args) or weight[node] > INLINE_OPERATIONS):
                bound.append(node)
                lined.add(node)
        self.bound = bound
        self.inline = set(weight) - lined
        self._name(bound, names)
        self._last_use()

    def _name(self, bound, names):
        """Labels for the lined nodes: their names where free, else t1, t2, ... (skipping
        every name an argument or step has)."""
        labels = set(self.label.values())
        used = labels | {identifier(n) for n in names.values()}
        count = 0
        for node in bound:
            if node in names and identifier(names[node]) not in labels:
                self.label[node] = identifier(names[node])
            else:
                count += 1
                while f"t{count}" in used:
                    count += 1
                self.label[node] = f"t{count}"
            used.add(self.label[node])
            labels.add(self.label[node])
        self.taken = labels
        """Every name the function binds: its arguments, steps and temporaries."""

    def reads(self, node) -> list:
        """The lined nodes and arguments a lined node's line reads."""
        found, stack = [], list(node.args)
        while stack:
            a = stack.pop()
            if a in self.inline:
                stack.extend(a.args)
            elif a.args or a in self.arguments:
                found.append(a)
        return found

    def _last_use(self):
        last = {}
        for node in self.bound:
            for a in self.reads(node):
                last[a] = node
        self._dies: dict = {}
        for a, node in last.items():
            if a not in self.arguments and a not in self.outputs and self.batched[a]:
                self._dies.setdefault(node, []).append(self.label[a])

    def dead_after(self, node) -> list[str]:
        """The arrays no line after ``node``'s reads."""
        return sorted(set(self._dies.get(node, [])))


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


def compile_source(text: str, name: str = "gradient"):
    """The function defined by generated ``text`` (our own code, never user text)."""
    namespace: dict = {}
    exec(compile(text, "<derive generated>", "exec"), namespace)  # noqa: S102
    return namespace[name]


def _number(node: sympy.Basic) -> str:
    if node.is_Integer:
        text = str(int(node)) if abs(int(node)) < 2**53 else repr(float(node))
    elif node.is_Rational:
        text = f"{node.p}.0 / {node.q}.0"
    elif node.is_Number or node.is_NumberSymbol:
        value = float(node)
        text = repr(value) if np.isfinite(value) else \
            "np.nan" if np.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    else:
        raise ValueError(f"cannot generate code for the atom {node!r}")
    return f"({text})" if text.startswith("-") or "/" in text else text


WIDEST_LINE = 64
"""Arguments of one sum or product per line of generated code (Python's compiler
recurses once per operator)."""


def _assignments(target: str, node, plan, helpers) -> list[str]:
    """``target = <the node's operation>``; a sum or product of many terms over
    several lines, each adding the next terms to the one before."""
    if rule_for(node).join is None:
        return [f"    {target} = {_text(node, plan, helpers, top=True)[0]}"]
    terms = _terms(node, plan)
    chunks = [terms[i:i + WIDEST_LINE] for i in range(0, len(terms), WIDEST_LINE)]
    first = _joined(node, chunks[0], plan, helpers)[0]
    join = rule_for(node).join
    return ([f"    {target} = {first}"]
            + [f"    {target} = {target}{join}({_joined(node, chunk, plan, helpers)[0]})"
               for chunk in chunks[1:]])


# how tightly a text binds, as Python parses it: a text is put in parentheses where
# its user binds tighter
ATOM, POWER, UNARY, PRODUCT, SUM, LOOSE = 6, 5, 4, 3, 2, 0


def _text(node, plan, helpers, top=False) -> tuple[str, int]:
    """The node as Python source (its label, or its operation written out) and how
    tightly that text binds."""
    if not top and node in plan.label:
        return plan.label[node], ATOM
    if not node.args:
        return _number(node), ATOM
    rule = rule_for(node)
    if rule.join is not None:
        return _joined(node, _terms(node, plan), plan, helpers)
    args = [_text(a, plan, helpers) for a in node.args]
    if all(a.is_Number for a in node.args):  # numbers alone follow IEEE rules as float64
        args = [(f"np.float64({text})", ATOM) for text, _ in args]
    if isinstance(node, sympy.Pow):
        (base, b), (exponent, e) = args
        return f"{_wrap(base, b, ATOM)} ** {_wrap(exponent, e, UNARY)}", POWER
    return _call(rule, args, helpers)


def _wrap(text: str, binds: int, needed: int) -> str:
    return text if binds >= needed else f"({text})"


def _terms(node, plan) -> list:
    """A sum's terms or a product's factors, flattening the ones written inside it;
    where two or more are the same for every example, those come first (combined
    as scalars), then the batch."""
    found = []
    for a in node.args:
        found += _terms(a, plan) if a in plan.flat else [a]
    if sum(not plan.batched[a] for a in found) < 2:
        return found
    return sorted(found, key=lambda a: plan.batched[a])


def _joined(node, terms, plan, helpers) -> tuple[str, int]:
    if isinstance(node, sympy.Mul):
        return _product(terms, plan, helpers)
    text = ""
    for term in terms:
        negative = _negative(term, plan)
        if negative:
            part, binds = (_number(-term), ATOM) if term.is_Number else \
                _product(_terms(term, plan), plan, helpers, negate=True)
        else:
            part, binds = _text(term, plan, helpers)
        if not text:
            text = ("-" + _wrap(part, binds, PRODUCT)) if negative else _wrap(part, binds, SUM)
        else:
            text += (" - " if negative else " + ") + _wrap(part, binds, PRODUCT)
    return text, SUM


def _negative(term, plan) -> bool:
    """A term written as a subtraction: a negative number, or a product written inline
    whose number is negative."""
    if term.is_Number:
        return bool(term < 0)
    if term in plan.inline and isinstance(term, sympy.Mul):
        factors = _terms(term, plan)
        return factors[0].is_Number and bool(factors[0] < 0)
    return False


def _product(factors, plan, helpers, negate=False) -> tuple[str, int]:
    """Factors multiplied left to right (in :func:`_terms`' order); ``negate``
    drops the sign of the leading number (the caller subtracts)."""
    factors = list(factors)
    sign = ""
    if factors[0].is_Number and factors[0] < 0:
        number = -factors[0]
        if not negate:
            sign = "-"
        factors[0] = number
    if len(factors) > 1 and factors[0] == 1:
        factors = factors[1:]
    texts = [_text(f, plan, helpers) for f in factors]
    text = " * ".join(_wrap(t, b, UNARY) for t, b in texts)
    if sign:
        return f"-{text}", (PRODUCT if len(texts) > 1 else UNARY)
    return text, (PRODUCT if len(texts) > 1 else texts[0][1])


def _call(rule, args, helpers) -> tuple[str, int]:
    """The row's own source applied to argument texts; a row whose code uses an
    argument more than once becomes a helper function defined at the top of the
    file, so each argument is computed once."""
    if any(len(re.findall(rf"\b{p}\b", rule.code)) > 1 for p in rule.params):
        helpers[rule.name] = rule
        return f"{rule.name}({', '.join(text for text, _ in args)})", ATOM
    texts = [text if _argument_position(rule.code, p) else _wrap(text, binds, ATOM)
             for p, (text, binds) in zip(rule.params, args)]
    return rule.source(texts), (ATOM if _one_call(rule.code) else LOOSE)


@functools.lru_cache(maxsize=None)
def _argument_position(code: str, param: str) -> bool:
    """Whether ``param`` stands only as a whole argument of a call in ``code``."""
    return all(re.search(r"[(,]\s*$", code[:m.start()]) and re.match(r"\s*[,)]", code[m.end():])
               for m in re.finditer(rf"\b{param}\b", code))


@functools.lru_cache(maxsize=None)
def _one_call(code: str) -> bool:
    """Whether ``code`` is one call, ``np.f(...)``, as a whole."""
    match = re.match(r"[\w.]+\(", code)
    return bool(match) and _closing(code, match.end() - 1) == len(code) - 1


LAMBDIFIED = 16
"""lambdify's functions kept, by expressions (the largest is LAMBDIFY_TREE_CAP nodes)."""


def numeric(exprs, arguments, values: dict, shape=(),
            budget: float | None = None) -> tuple[list[float], str | None]:
    """Evaluate expressions, summed over the batch: by ``lambdify`` while their printed
    tree has at most :data:`LAMBDIFY_TREE_CAP` nodes (and they are at most
    :data:`LAMBDIFY_DEPTH_CAP` deep, no sum or product wider than :data:`WIDEST_LINE`),
    by generated code beyond (it is built in time linear in the graph; lambdify prints
    the tree) or where lambdify is predicted to take longer than ``budget`` seconds.
    The printer keeps each sum's terms in SymPy's own order (``order="none"``): sorting
    them for display was two thirds of lambdify's time on a ten-layer chain.
    Returns the numbers and, where generated code was used, why.
    """
    reason = _beyond_lambdify(exprs, budget)
    if reason:
        return evaluate(exprs, arguments, values, shape), reason
    function = _lambdified(tuple(exprs), tuple(arguments))
    return batch_sums(function, arguments, values, shape), None


@functools.lru_cache(maxsize=LAMBDIFIED)
def _lambdified(exprs: tuple, arguments: tuple):
    """lambdify's function of ``exprs``, kept for the same expressions and arguments
    (a model checked again at other values, as `derive serve` does, prints nothing)."""
    modules = lambdify_modules()
    printer = Float64Printer({"fully_qualified_modules": False, "inline": True,
                              "allow_unknown_functions": True, "order": "none",
                              "user_functions": {name: name for name in modules[0]}})
    return sympy.lambdify(arguments, list(exprs), modules=modules, printer=printer)


class Float64Printer(NumPyPrinter):
    """lambdify's numpy printer with every number a numpy float64, so that constants
    alone (``(10**64)**64``) follow IEEE rules as the variables do (Python's ints and
    floats would raise OverflowError or ZeroDivisionError)."""

    def _print_Integer(self, expr):
        return f"float64({_float_text(expr)})"

    _print_Rational = _print_Float = _print_NumberSymbol = _print_Integer

    def _print_Infinity(self, expr):
        return "float64('inf')"

    def _print_NegativeInfinity(self, expr):
        return "float64('-inf')"

    def _print_NaN(self, expr):
        return "float64('nan')"


def _float_text(number) -> str:
    """A SymPy number as a float literal ('inf' quoted where it overflows)."""
    try:
        value = float(number)
    except OverflowError:
        value = np.inf if number > 0 else -np.inf
    return repr(value) if np.isfinite(value) else repr(str(value))


def _beyond_lambdify(exprs, budget: float | None = None) -> str | None:
    """Why lambdify cannot take these expressions, or would take longer than ``budget``
    seconds to print them (None where it can)."""
    measured = sizes(exprs)
    if measured.tree_nodes > LAMBDIFY_TREE_CAP:
        return (f"its tree has {measured.tree_nodes:,} nodes (lambdify is used up to "
                f"{LAMBDIFY_TREE_CAP:,})")
    slow = predict("lambdify_unsorted", measured.tree_nodes, name="lambdify").over(budget)
    if slow:
        return slow
    if measured.depth > LAMBDIFY_DEPTH_CAP:
        return (f"it is {measured.depth} operations deep (lambdify is used up to "
                f"{LAMBDIFY_DEPTH_CAP})")
    widest = max((len(n.args) for n in topological_order(exprs)), default=0)
    if widest > WIDEST_LINE:
        return f"a sum or product of {widest:,} terms (lambdify is used up to {WIDEST_LINE})"
    return None


def evaluate(outputs, arguments, values: dict, shape=(), backend: str = "numpy",
             batch=None) -> list[float]:
    """Evaluate outputs by generated code (for ``backend``) and sum each over the batch
    shape."""
    text = source(outputs, arguments, backend=backend, batch=batch)
    return batch_sums(compile_source(text), arguments, values, shape)


def batch_sums(function, arguments, values: dict, shape=()) -> list[float]:
    """Call a compiled gradient on the values and sum each result over the batch shape.

    A derivative that does not depend on the batch comes back as a scalar:
    it is broadcast to the batch before summing.  Values go in as float64 arrays, so
    a singular point gives inf or NaN under IEEE rules, never a Python exception.
    """
    with np.errstate(all="ignore"):
        results = function(*[np.asarray(values[a], dtype=float) for a in arguments])
        return [float(np.sum(np.broadcast_to(_real(r), shape))) for r in results]


def _real(value):
    """A result as a real number: NaN where SymPy's own rules made it complex (the
    textbook derivative of (-1)**x holds log(-1) = iπ), which no real derivative is."""
    value = np.asarray(value)
    if not np.iscomplexobj(value):
        return value
    return np.where(np.imag(value) == 0, np.real(value), np.nan)


def model_source(model, backend: str = "numpy") -> str:
    """The module of :func:`model_sources` for one ``backend``: what `derive code` writes."""
    return model_sources(model, [backend])[backend]


def model_sources(model, backends=("numpy",)) -> dict:
    """A standalone module computing the model's loss and gradient, forward then backward.

    ``loss_and_gradient(...)`` takes every symbol of the model (parameters,
    inputs, target) and returns (loss, dl/d<first>, dl/d<second>, ...);
    forward nodes carry the staged program's names (f0, h1, ...) and adjoints
    are named dl_d<step>.  Running the file prints both at the model's values.
    Names that Python reserves are spelled with a ``_`` appended (a parameter
    ``lambda`` is the argument ``lambda_``: :func:`identifiers`), and the function
    is ``loss_and_gradient_`` if a parameter takes its name.
    Returns {backend: text} for each of ``backends`` (of :data:`BACKENDS`; the
    costly part, the plan of the lines, is made once for all).  Cost: linear in the
    graph of the loss and its DAG-sweep gradient.

    >>> from derive.models.families import model
    >>> texts = model_sources(model("toy"), ["numpy", "torch"])
    >>> [text.count("dl_dh3 =") for text in texts.values()]
    [1, 1]
    """
    adjoint = adjoints(model.output, model.wrt)
    names = {step.node: step.name for step in expression_program(model).steps}
    for node in model.wrt:
        names.setdefault(node, str(node))
    for node, bar in list(adjoint.items()):
        if node in names and bar.args:
            names.setdefault(bar, f"dl_d{names[node]}")
    arguments = list(model.values)
    label = identifiers(str(a) for a in arguments)
    outputs = [model.output] + [adjoint.get(w, sympy.S.Zero) for w in model.wrt]
    returned = ", ".join(["loss"] + [f"dl_d{label[str(w)]}" for w in model.wrt])
    main = {}
    for backend in backends:
        values = ", ".join(f"{label[str(a)]}={_literal(model.values[a], backend)}"
                           for a in arguments)
        main[backend] = ("\n\n\nif __name__ == \"__main__\":\n"
                         f"    _results = {{function}}({values})\n"
                         f"    for _name, _value in zip({returned.split(', ')!r}, _results):\n"
                         "        _total = _value.sum() if hasattr(_value, \"sum\") else _value\n"
                         "        print(f\"{{_name:>12}} {{float(_total): .12g}}\")\n")
    texts = sources(outputs, arguments, names, name="loss_and_gradient",
                    batch=model.inputs + model.targets, backends=backends, tail=main,
                    doc=f"Forward pass, then backward pass. Returns ({returned}).")
    header = (f'"""Loss and gradient of {model.name}, generated by `derive code`.\n\n'
              "Straight-line code from the expression graph: one assignment per step\n"
              "(arithmetic used once is written inside its user), the forward pass first,\n"
              "then the backward pass (dl_d*). Arrays are deleted after their last use.\n"
              '"""\n')
    return {backend: header + text for backend, text in texts.items()}


def _literal(value, backend: str = "numpy") -> str:
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return repr(float(array))
    make = {"numpy": "np.array({})", "jax": "jnp.array({})",
            "torch": "torch.tensor({}, dtype=torch.float64)"}[backend]
    return make.format(repr(array.tolist()))
