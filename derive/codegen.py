"""Straight-line numpy code from the expression graph.

One assignment per distinct node, in topological order: the graph printed as
a program.  Built in time linear in the graph, so it evaluates symbolic
gradients at depths where ``lambdify`` (which prints the tree, even with
``cse=True``) takes minutes.  The source needs only numpy: primitives from the
table are written from the table's own ``code``, inline or (where the code uses
its argument twice) as a helper function at the top.

>>> import sympy
>>> x, w = sympy.symbols("x w")
>>> s = sympy.sin(w * x)
>>> print(source([s * s + s], [w, x], {s: "h1"}, name="g"))
import numpy as np
<BLANKLINE>
<BLANKLINE>
def g(w, x):
    t1 = w * x
    h1 = np.sin(t1)
    t2 = h1 ** 2
    t3 = t2 + h1
    return (t3,)
"""

from __future__ import annotations

import keyword
import re

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from .graph import sizes, topological_order
from .primitives import SUPPORT, lambdify_modules, rule_for
from .staged import expression_program
from .symbolic import adjoints


def identifier(name: str) -> str:
    """A safe Python identifier for a symbol or step name ('Omega0[1,2]' -> 'Omega0_1_2')."""
    ident = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "v"
    if ident[0].isdigit() or keyword.iskeyword(ident):
        ident = "v_" + ident
    return ident


def source(outputs, arguments, names: dict | None = None, name: str = "gradient",
           doc: str = "") -> str:
    """Python source of ``def name(*arguments)`` returning the outputs as a tuple.

    ``names`` gives readable names to nodes (steps, adjoints); the rest are
    t1, t2, ... (skipping any name an argument or step has).  An argument named like
    a module the code uses (``np``, ``math``) keeps its name; the module is imported
    under another (``np_``).  Cost: linear in the distinct nodes of all outputs together.
    """
    names = names or {}
    label: dict[sympy.Basic, str] = {a: identifier(str(a)) for a in arguments}
    used = set(label.values()) | {identifier(n) for n in names.values()}
    lines, helpers, count = [], {}, 0
    for node in topological_order(outputs):
        if node in label:
            continue
        if not node.args:
            label[node] = _number(node)
            continue
        if node in names and identifier(names[node]) not in set(label.values()):
            label[node] = identifier(names[node])
        else:
            count += 1
            while f"t{count}" in used:
                count += 1
            label[node] = f"t{count}"
        used.add(label[node])
        lines += _assignments(label[node], node, label, helpers)
    head = ["import numpy as np", ""]
    support = [name for name in SUPPORT if any(name in line for line in lines)
               or any(name in rule.code for rule in helpers.values())]
    if support:
        head = ["import math", "", "import numpy as np", ""]
        head += [f"{name} = {SUPPORT[name]}" for name in support] + [""]
    for fname, rule in helpers.items():
        head += ["", f"def {fname}({', '.join(rule.params)}):", f"    return {rule.code}", ""]
    signature = f"def {name}({', '.join(label[a] for a in arguments)}):"
    body = ([f'    """{doc}"""'] if doc else []) + lines
    result = ", ".join(label[o] for o in outputs)
    code = head + ["", signature, *body, f"    return ({result},)"]
    return "\n".join(_rename_modules(code, set(label[a] for a in arguments)))


def _rename_modules(lines: list[str], taken: set) -> list[str]:
    """The lines with ``np`` and ``math`` renamed where an argument takes the name."""
    for module in ("np", "math"):
        if module not in taken:
            continue
        alias = module + "_"
        while alias in taken:
            alias += "_"
        lines = [re.sub(rf"\b{module}\.", f"{alias}.", line)
                 .replace(f"import numpy as {module}", f"import numpy as {alias}")
                 .replace(f"import {module}", f"import {module} as {alias}")
                 for line in lines]
    return lines


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


def _assignments(target: str, node, label, helpers) -> list[str]:
    """``target = <the node's operation>``; a sum or product of many arguments over
    several lines, each adding the next arguments to the one before."""
    rule = rule_for(node)
    args = _arguments(node, label)
    if rule.join is None or len(args) <= WIDEST_LINE:
        return [f"    {target} = {_operation(node, args, helpers)}"]
    chunks = [args[i:i + WIDEST_LINE] for i in range(0, len(args), WIDEST_LINE)]
    return ([f"    {target} = {rule.source(chunks[0])}"]
            + [f"    {target} = {rule.source([target, *chunk])}" for chunk in chunks[1:]])


def _arguments(node, label) -> list[str]:
    """The arguments' labels; an operation on numbers alone gets them as numpy float64,
    so that it follows IEEE rules (10 ** 64 ** 64 is inf, not a Python OverflowError)."""
    args = [label[a] for a in node.args]
    if all(a.is_Number for a in node.args):
        args = [f"np.float64({a})" for a in args]
    return args


def _operation(node, args, helpers) -> str:
    """The node's row applied to its arguments' texts, as the row's own source.

    A row whose code uses its argument more than once becomes a helper
    function defined at the top of the file, so each argument is computed once.
    """
    rule = rule_for(node)
    if rule.join is None and any(len(re.findall(rf"\b{p}\b", rule.code)) > 1
                                 for p in rule.params):
        helpers[rule.name] = rule
        return f"{rule.name}({', '.join(args)})"
    return rule.source(args)


LAMBDIFY_TREE_CAP = 200_000
"""Printed tree nodes above which expressions are evaluated by generated code, not lambdify."""
LAMBDIFY_DEPTH_CAP = 100
"""Depth (operations) above which generated code is used: lambdify's printer recurses."""


def numeric(exprs, arguments, values: dict, shape=()) -> tuple[list[float], str | None]:
    """Evaluate expressions, summed over the batch: by ``lambdify`` while their printed
    tree has at most :data:`LAMBDIFY_TREE_CAP` nodes (and they are at most
    :data:`LAMBDIFY_DEPTH_CAP` deep, no sum or product wider than :data:`WIDEST_LINE`),
    by generated code beyond (it is built in time linear in the graph; lambdify prints
    the tree).  Returns the numbers and, where generated code was used, why.
    """
    reason = _beyond_lambdify(exprs)
    if reason:
        return evaluate(exprs, arguments, values, shape), reason
    modules = lambdify_modules()
    printer = Float64Printer({"fully_qualified_modules": False, "inline": True,
                              "allow_unknown_functions": True,
                              "user_functions": {name: name for name in modules[0]}})
    function = sympy.lambdify(arguments, list(exprs), modules=modules, printer=printer)
    return batch_sums(function, arguments, values, shape), None


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


def _beyond_lambdify(exprs) -> str | None:
    """Why lambdify cannot take these expressions (None where it can)."""
    measured = sizes(exprs)
    if measured.tree_nodes > LAMBDIFY_TREE_CAP:
        return (f"its tree has {measured.tree_nodes:,} nodes (lambdify is used up to "
                f"{LAMBDIFY_TREE_CAP:,})")
    if measured.depth > LAMBDIFY_DEPTH_CAP:
        return (f"it is {measured.depth} operations deep (lambdify is used up to "
                f"{LAMBDIFY_DEPTH_CAP})")
    widest = max((len(n.args) for n in topological_order(exprs)), default=0)
    if widest > WIDEST_LINE:
        return f"a sum or product of {widest:,} terms (lambdify is used up to {WIDEST_LINE})"
    return None


def evaluate(outputs, arguments, values: dict, shape=()) -> list[float]:
    """Evaluate outputs by generated code and sum each over the batch shape."""
    return batch_sums(compile_source(source(outputs, arguments)), arguments, values, shape)


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


def model_source(model) -> str:
    """A standalone module computing the model's loss and gradient, forward then backward.

    ``loss_and_gradient(...)`` takes every symbol of the model (parameters,
    inputs, target) and returns (loss, dl/d<first>, dl/d<second>, ...);
    forward nodes carry the staged program's names (f0, h1, ...) and adjoints
    are named dl_d<step>.  Running the file prints both at the model's values.
    Cost: linear in the graph of the loss and its DAG-sweep gradient.
    """
    adjoint = adjoints(model.output, model.wrt)
    names = {step.node: step.name for step in expression_program(model).steps}
    for node in model.wrt:
        names.setdefault(node, str(node))
    for node, bar in list(adjoint.items()):
        if node in names and bar.args:
            names.setdefault(bar, f"dl_d{names[node]}")
    arguments = list(model.values)
    outputs = [model.output] + [adjoint.get(w, sympy.S.Zero) for w in model.wrt]
    returned = ", ".join(["loss"] + [f"dl_d{identifier(str(w))}" for w in model.wrt])
    text = source(outputs, arguments, names, name="loss_and_gradient",
                  doc=f"Forward pass, then backward pass. Returns ({returned}).")
    values = ", ".join(f"{identifier(str(a))}={_literal(model.values[a])}" for a in arguments)
    header = (f'"""Loss and gradient of {model.name}, generated by `derive code`.\n\n'
              "Straight-line code from the expression graph: one assignment per distinct\n"
              "node, the forward pass first, then the backward pass (dl_d*).\n"
              '"""\n')
    main = ("\n\n\nif __name__ == \"__main__\":\n"
            f"    results = loss_and_gradient({values})\n"
            f"    for name, value in zip({returned.split(', ')!r}, results):\n"
            "        print(f\"{name:>12} {np.sum(value): .12g}\")\n")
    taken = {identifier(str(a)) for a in arguments}
    return header + text + "\n".join(_rename_modules(main.split("\n"), taken))


def _literal(value) -> str:
    array = np.asarray(value, dtype=float)
    return repr(float(array)) if array.ndim == 0 else f"np.array({array.tolist()!r})"
