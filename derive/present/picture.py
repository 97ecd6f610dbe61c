"""The computational graph as the book draws it: Step 1 and Step 2 in one picture.

One node per named step of the staged program (f0, h1, …, ℓ) and per parameter
and input, an arrow in the direction of the forward pass, each node labelled
with its equation in the book's notation and, on request, its forward value
and its adjoint ∂ℓ/∂v.  A network's steps are vectors and its Ω_k, β_k
matrices, drawn one node each with their shape.  Past :data:`MAX_NODES`
nodes the middle layers fold into one node ("× 20 layers").

The layout is our own and deterministic: a step's column is its longest path
from the inputs (for a chain, its place in the program), a step sharing a
column with another goes below it, and each parameter or input stands above
the first step that reads it.  matplotlib draws it, as SVG (text kept as text,
each node a group ``id="node-<name>"`` with a ``<title>``) or PDF (TrueType
fonts); no Graphviz program is needed.

>>> from derive.models.families import model
>>> g = graph(model("toy"), values=True, adjoints=True)
>>> [n.name for n in g.nodes if n.kind == "step"]
['f0', 'h1', 'f1', 'h2', 'f2', 'h3', 'f3', 'l']
>>> g.node("f0").label
['f₀ = β₀ + ω₀·x', '1.230', '∂ℓ/∂f₀ = 2.281']
"""

from __future__ import annotations

import numpy as np
import sympy

from derive.models import names
from derive.base.limits import MAX_NODES
from derive.models.names import loss_name, text_name
from derive.present.notation import to_text
from derive.core.program import Variable, program
from derive.present.steps import trace
from derive.present.drawing import Node, Picture

KEEP_LAYERS = 2
"""Layers kept whole at each end of a folded graph."""


# ---- building ---------------------------------------------------------------------


def graph(model, values: bool = False, adjoints: bool = False, traced=None) -> Picture:
    """The computational graph of ``model``'s staged program, laid out.

    ``values`` adds each node's forward value, ``adjoints`` its ∂ℓ/∂v (Step 2,
    and the parameter gradients of Step 3).  ``traced``: the model's trace where the
    caller has it (a report does).  Cost: one trace of the model (linear in the
    program) and printing each step's own small equation.
    """
    p = program(model)
    t = traced or trace(model)
    value, adjoint = numbers(model, p, t)
    output = p.names[p.output] if p.output in p.names else str(p.output)  # never the tree
    adjoint[output] = 1.0
    kinds = {**{str(s): "parameter" for s in model.parameters},
             **{str(s): "input" for s in model.inputs}}
    if model.target is not None:
        kinds[str(model.target)] = "target"
    nodes, edges, reads = [], [], {}
    for s in p.steps:
        reads[s.name] = [str(a) for a in _reads(s.equation)]
    names = set(reads)
    for s in p.steps:
        for leaf in reads[s.name]:
            if leaf not in names and all(n.name != leaf for n in nodes):
                nodes.append(Node(leaf, _leaf_kind(leaf, kinds), []))
        nodes.append(Node(s.name, "step", []))
        edges += [(leaf, s.name) for leaf in reads[s.name]]
    if not nodes:  # the output is a leaf itself (f = w): one box
        nodes.append(Node(str(p.output), _leaf_kind(str(p.output), kinds), []))
    shown = {"value": value if values else {}, "adjoint": adjoint if adjoints else {},
             "shape": {**{k: f"{len(v)}" for k, v in value.items() if isinstance(v, list)},
                       **_shapes(p)}, "equation": {s.name: s.equation for s in p.steps},
             "loss": loss_name(names), "of": t.of}
    for n in nodes:
        n.label = _label(n, shown)
    picture = Picture(model.name, nodes, edges, layers=_layer_count(nodes))
    if len(nodes) > MAX_NODES:
        picture = _fold(picture)
    _layout(picture)
    return picture


def _reads(equation) -> list:
    """The names a step's equation reads, in the order they print (sympy's sorted order
    of free symbols, made stable by name)."""
    return sorted(equation.free_symbols, key=lambda s: sympy.default_sort_key(s))


def _leaf_kind(name: str, kinds: dict) -> str:
    """parameter, input or target; a network's matrix by its entries' kind (Ω0[1,0])."""
    if name in kinds:
        return kinds[name]
    return next((kind for entry, kind in kinds.items() if entry.startswith(name + "[")),
                "parameter")


def numbers(model, p, t) -> tuple[dict, dict]:
    """Every value and adjoint the picture can show, by name: the steps' (Step 1 and 2),
    the parameters', inputs' and target's and their gradients (Step 3), and a network's
    matrices whole (see :func:`matrices`)."""
    value = {r["name"]: r["value"] for r in t.forward.rows}
    value.update({**t.parameters, **t.inputs})
    if model.target is not None:
        value[str(model.target)] = t.target
    adjoint = {r["name"]: r["adjoint"] for r in t.backward.rows}
    adjoint.update(t.gradients)
    grids = matrices(p, t)
    value.update(grids["value"])
    adjoint.update(grids["adjoint"])
    return value, adjoint


def matrices(p, t) -> dict:
    """A network's matrices Ω_k, β_k as the picture shows them: {"value": {name: entries},
    "adjoint": {name: ∂ℓ/∂ entries}}, each a flat list, row by row (the trace holds them
    entry by entry, Omega0[1,0]). Inputs and targets (one column per example) are not
    among them."""
    out = {"value": {}, "adjoint": {}}
    for args in p.args:
        for a in args:
            if isinstance(a, Variable) and not a.batch:
                names = [str(s) for _, s in a.symbols()]
                if all(n in t.parameters for n in names):
                    out["value"][a.name] = [t.parameters[n] for n in names]
                if all(n in t.gradients for n in names):
                    out["adjoint"][a.name] = [t.gradients[n] for n in names]
    return out


def _shapes(p) -> dict:
    """A network's leaves by name: their shape 'rows×columns' (inputs and targets,
    loaded a column per example, by their rows)."""
    shapes = {}
    for args in p.args:
        for a in args:
            if isinstance(a, Variable):
                shapes[a.name] = f"{len(a.grid)}×{len(a.grid[0])}" if not a.batch else \
                    f"{len(a.grid)}"
    return shapes


def _layer_count(nodes) -> int:
    """Layers as the book counts them: the affine steps f_k (k = 0 … K)."""
    return sum(1 for n in nodes if n.kind == "step" and names.preactivation(n.name))


def _label(node, shown: dict) -> list[str]:
    """A box's lines: its equation (or name) and shape; its value and adjoint where
    ``shown`` holds them."""
    name = text_name(node.name, shown["loss"])
    lines = [f"{name} = {to_text(shown['equation'][node.name], shown['loss'])}"
             if node.kind == "step" else name]
    if node.name in shown["shape"]:
        lines[0] += f"   [{shown['shape'][node.name]}]"
    if node.name in shown["value"]:
        lines.append(_shown(shown["value"][node.name]))
    if node.name in shown["adjoint"] and node.name != shown["loss"]:
        lines.append(f"∂{shown['of']}/∂{name} = {_shown(shown['adjoint'][node.name])}")
    return lines


def _shown(v) -> str:
    """A value as the picture shows it: three decimals; a vector's first three entries."""
    if isinstance(v, list):
        head = ", ".join(_shown(x) for x in v[:3])
        return f"[{head}{', …' if len(v) > 3 else ''}]"
    if isinstance(v, np.ndarray):
        return _shown(v.ravel().tolist())
    v = float(v) + 0.0
    text = f"{v:.3f}" if v == 0 or 1e-3 <= abs(v) < 1e6 else f"{v:.3e}"
    return text.replace("-", "−")


# ---- folding --------------------------------------------------------------------------


def _fold(picture: Picture) -> Picture:
    """Keep the first and last :data:`KEEP_LAYERS` layers (by the number a name ends
    in) whole, and the middle ones as one node; a graph without numbered layers is
    folded by its steps' places instead."""
    steps = [n for n in picture.nodes if n.kind == "step"]
    numbers = sorted({k for k in (names.layer_of(n.name) for n in steps) if k is not None})
    if len(numbers) > 2 * KEEP_LAYERS + 1:
        middle = set(numbers[KEEP_LAYERS:-KEEP_LAYERS])
        hidden = {n.name for n in picture.nodes if names.layer_of(n.name) in middle}
    else:
        order = [n.name for n in steps]
        keep = MAX_NODES // 3
        hidden = set(order[keep:-keep])
        users = {b for a, b in picture.edges if a not in hidden}
        hidden |= {a for a, b in picture.edges if b in hidden and a not in users
                   and a not in {n.name for n in steps}}
    hidden_steps = [n.name for n in steps if n.name in hidden]
    if not hidden_steps:
        return picture
    layers = len({names.layer_of(n) for n in hidden_steps} - {None}) or len(hidden_steps)
    fold_name = f"{hidden_steps[0]}…{hidden_steps[-1]}"
    fold = Node(fold_name, "fold", [f"{text_name(hidden_steps[0])} … {text_name(hidden_steps[-1])}",
                                    f"× {layers} layers" if layers > 1 else "× 1 layer"])
    nodes, edges = [], []
    for n in picture.nodes:
        if n.name not in hidden:
            nodes.append(n)
        elif n.name == hidden_steps[0]:
            nodes.append(fold)
    for a, b in picture.edges:
        a2, b2 = (fold_name if a in hidden else a), (fold_name if b in hidden else b)
        if a2 != b2 and (a2, b2) not in edges:
            edges.append((a2, b2))
    return Picture(picture.model, nodes, edges, folded=len(hidden), layers=picture.layers)


# ---- layout ---------------------------------------------------------------------------


def _layout(picture: Picture) -> None:
    """Columns by longest path over the steps; rows 0, 1, … down for steps sharing a
    column; the leaves a step reads first side by side above it (row −1, −2, …: their
    order in the band)."""
    steps = [n for n in picture.nodes if n.kind in ("step", "fold")]
    before = {}
    for a, b in picture.edges:
        before.setdefault(b, []).append(a)
    column = {}
    for n in steps:
        column[n.name] = 1 + max((column[a] for a in before.get(n.name, ()) if a in column),
                                 default=-1)
    taken = {}
    for n in steps:
        n.column = column[n.name]
        n.row = taken.get(n.column, 0)
        taken[n.column] = n.row + 1
    above = {}
    for n in picture.nodes:
        if n.kind in ("step", "fold"):
            continue
        first = next((b for a, b in picture.edges if a == n.name), None)
        n.column = column.get(first, 0)
        above[n.column] = above.get(n.column, 0) + 1
        n.row = -above[n.column]


# ---- drawing ------------------------------------------------------------------------------
