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

import functools
import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from derive.core.graph import sizes, topological_order
from derive.core.rules import lambdify_modules
from derive.core.program import expression_program
from derive.readings.symbolic import adjoints
from derive.readings.costs import predict
from derive.base.limits import LAMBDIFY_DEPTH_CAP, LAMBDIFY_TREE_CAP
from derive.readings.backends import _free, check_backend, identifiers, printer
from derive.readings.straightline import WIDEST_LINE, _Lines, _Plan, _assignments, _text


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
    function's final name, ``{np}``, ``{torch}``, ``{jnp}`` the modules' as the code
    binds them).  Each backend has its printer (:mod:`derive.readings.backends`): the
    lines are printed for it, not rewritten from numpy's.  Cost: linear in the distinct
    nodes of all outputs together.

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
    """:func:`source` for each of ``backends`` at once ({backend: text}): the plan,
    which costs the most, is made once for all; each backend's printer writes its lines.
    ``tail`` may be a {backend: text} dict.

    >>> x, w = sympy.symbols("x w")
    >>> texts = sources([sympy.tanh(w * x)], [w, x], backends=("numpy", "torch", "jax"))
    >>> [line for line in texts["jax"].splitlines() if "tanh" in line]
    ['    t1 = jnp.tanh(w * x)']
    """
    for backend in backends:
        check_backend(backend)
    plan = _Plan(outputs, arguments, names or {}, batch)
    name = _free(name, plan.taken)
    signature = f"def {name}({', '.join(plan.label[a] for a in arguments)}):"
    texts = {}
    for backend in backends:
        out = _Lines(printer(backend, plan.taken))
        body = [f'    """{doc}"""'] if doc else []
        for node in plan.bound:
            body += _assignments(plan.label[node], node, plan, out)
            dead = plan.dead_after(node)
            if dead:
                body.append(f"    del {', '.join(dead)}")
        result = ", ".join(_text(o, plan, out)[0] for o in outputs)
        end = tail.get(backend, "") if isinstance(tail, dict) else tail
        texts[backend] = out.printer.module_text(
            out.helper_lines(), signature, body, result, [plan.label[a] for a in arguments],
            end.format(function=name, **out.printer.alias))
    return texts


def compile_source(text: str, name: str = "gradient"):
    """The function defined by generated ``text`` (our own code, never user text)."""
    namespace: dict = {}
    exec(compile(text, "<derive generated>", "exec"), namespace)  # noqa: S102
    return namespace[name]


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
    # the modules as the code binds them: the tail is formatted with the printer's names
    make = {"numpy": "{{np}}.array({})", "jax": "{{jnp}}.array({})",
            "torch": "{{torch}}.tensor({}, dtype={{torch}}.float64)"}[backend]
    return make.format(repr(array.tolist()))
