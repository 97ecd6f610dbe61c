"""Straight-line numpy code from the expression graph.

One assignment per distinct node, in topological order: the graph printed as
a program.  Built in time linear in the graph, so it evaluates symbolic
gradients at depths where ``lambdify`` (which prints the tree, even with
``cse=True``) takes minutes.  The source needs only numpy: primitives from the
table are defined at its top from the table's own ``code``.

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

from .graph import topological_order
from .primitives import PRIMITIVES, by_function

_NUMPY_DIRECT = {"sin", "cos", "exp", "log", "tanh", "sqrt"}


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
    t1, t2, ...  Cost: linear in the distinct nodes of all outputs together.
    """
    names = names or {}
    label: dict[sympy.Basic, str] = {a: identifier(str(a)) for a in arguments}
    used = set(label.values())
    lines, helpers, count = [], {}, 0
    for node in topological_order(outputs):
        if node in label:
            continue
        if not node.args:
            label[node] = _number(node)
            continue
        if node in names and identifier(names[node]) not in used:
            label[node] = identifier(names[node])
        else:
            count += 1
            label[node] = f"t{count}"
        used.add(label[node])
        lines.append(f"    {label[node]} = {_operation(node, label, helpers)}")
    head = ["import numpy as np", ""]
    for fname, code in helpers.items():
        head += ["", f"def {fname}(x):", f"    return {code}", ""]
    signature = f"def {name}({', '.join(label[a] for a in arguments)}):"
    body = ([f'    """{doc}"""'] if doc else []) + lines
    result = ", ".join(label[o] for o in outputs)
    return "\n".join(head + ["", signature, *body, f"    return ({result},)"])


def compile_source(text: str, name: str = "gradient"):
    """The function defined by generated ``text`` (our own code, never user text)."""
    namespace: dict = {}
    exec(compile(text, "<derive generated>", "exec"), namespace)  # noqa: S102
    return namespace[name]


def _number(node: sympy.Basic) -> str:
    if node.is_Integer:
        return f"{int(node)}.0" if abs(int(node)) < 2**53 else repr(float(node))
    if node.is_Rational:
        return f"({node.p}.0 / {node.q}.0)"
    if node.is_Number or node.is_NumberSymbol:
        return repr(float(node))
    raise ValueError(f"cannot generate code for the atom {node!r}")


def _operation(node, label, helpers) -> str:
    args = [label[a] for a in node.args]
    if isinstance(node, sympy.Add):
        return " + ".join(args)
    if isinstance(node, sympy.Mul):
        return " * ".join(args)
    if isinstance(node, sympy.Pow):
        base, exponent = node.args
        return f"{args[0]} ** {_exponent(exponent, args[1])}"
    row = by_function(node.func)
    if row is None:
        raise ValueError(f"cannot generate code for {node.func.__name__!r}")
    if row.name in _NUMPY_DIRECT:
        return f"np.{row.name}({args[0]})"
    helpers[row.name] = PRIMITIVES[row.name].code
    return f"{row.name}({args[0]})"


def _exponent(exponent, text):
    # integer exponents print as ints so that negative bases stay real
    return str(int(exponent)) if exponent.is_Integer else text


def evaluate(outputs, arguments, values: dict, shape=()) -> list[float]:
    """Evaluate outputs by generated code and sum each over the batch shape."""
    return batch_sums(compile_source(source(outputs, arguments)), arguments, values, shape)


def batch_sums(function, arguments, values: dict, shape=()) -> list[float]:
    """Call a compiled gradient on the values and sum each result over the batch shape.

    A derivative that does not depend on the batch comes back as a scalar:
    it is broadcast to the batch before summing.
    """
    with np.errstate(all="ignore"):
        results = function(*[values[a] for a in arguments])
    return [float(np.sum(np.broadcast_to(r, shape))) for r in results]


def model_source(model) -> str:
    """A standalone module computing the model's loss and gradient, forward then backward.

    ``loss_and_gradient(...)`` takes every symbol of the model (parameters,
    inputs, target) and returns (loss, dl/d<first>, dl/d<second>, ...);
    forward nodes carry the staged program's names (f0, h1, ...) and adjoints
    are named dl_d<step>.  Running the file prints both at the model's values.
    Cost: linear in the graph of the loss and its DAG-sweep gradient.
    """
    from .staged import program
    from .symbolic import adjoints

    adjoint = adjoints(model.output, model.wrt)
    names = {step.node: step.name for step in program(model).steps}
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
    return header + text + main


def _literal(value) -> str:
    array = np.asarray(value, dtype=float)
    return repr(float(array)) if array.ndim == 0 else f"np.array({array.tolist()!r})"
