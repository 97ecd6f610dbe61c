"""The step-through: the notebook's three steps as frames over the computational graph.

Frame 0 shows the model (its parameters' and inputs' values, which are given); then
one frame per forward step (Step 1: the step's box lights up and its value appears),
one per adjoint in the order backprop computes them (Step 2: ∂ℓ/∂v appears and the
arrows it flowed back along are marked, with the chain-rule term that was used), and
one per parameter, or per matrix Ω_k, β_k of a network (Step 3).  Every number is the
program's, printed as the picture prints it; the HTML player (templates/player.html.j2)
only shows and hides what the frames name.

>>> from derive.families import model
>>> f = frames(model("toy"))
>>> len(f), [x["step"] for x in f].count(1), [x["step"] for x in f].count(2)
(24, 8, 7)
>>> f[1]["equation"], f[1]["result"]
('f₀ = β₀ + ω₀·x', 'f₀ = 1.230')
>>> f[10]["equation"], f[10]["reads"]
('∂ℓ/∂h₃ = ω₃·∂ℓ/∂f₃', 'ω₃ = 3.000, ∂ℓ/∂f₃ = 0.745')
"""

from __future__ import annotations

import re

import sympy

from .picture import Picture, _reads, _shown, graph, matrices
from .printing import Adjoint, loss_name, text_name, to_text
from .staged import Step, Variable, program, trace

READS_SHOWN = 6
"""Values listed under a frame's equation (a step reading more says '…')."""
TEXTS = ("equation", "reads", "result")
STEPS = {0: "The model", 1: "Step 1: forward pass", 2: "Step 2: backward pass",
         3: "Step 3: parameter gradients"}


def frames(model, traced=None, picture: Picture | None = None) -> list[dict]:
    """The frames of ``model``'s step-through, each a dict: ``step`` (0 to 3), ``title``,
    ``node`` (the program's name of the value shown, None for frame 0), ``box`` (the
    picture's node that holds it: the fold where the middle layers are folded),
    ``shows`` ("value", "adjoint" or None), ``equation``, ``reads`` (the values it
    uses), ``result``, ``number`` (the value or adjoint as the box prints it) and
    ``edges`` ([from, to] arrows to mark).

    Cost: one trace (linear in the program) and each step's own small chain rule;
    ``traced`` and ``picture`` where the caller has them (a report does).
    """
    p = program(model)
    t = traced or trace(model)
    picture = picture or graph(model, values=True, adjoints=True, traced=t)
    ell = loss_name(s.name for s in p.steps)
    value = {r["name"]: r["value"] for r in t.forward.rows}
    value.update({**t.parameters, **t.inputs})
    if model.target is not None:
        value[str(model.target)] = t.target
    adjoint = {r["name"]: r["adjoint"] for r in t.backward.rows}
    adjoint.update(t.gradients)
    grids = matrices(p, t)
    value.update(grids["value"])
    adjoint.update(grids["adjoint"])
    shapes = {a.name: f"{len(a.grid)}×{len(a.grid[0])}" for args in p.args for a in args
              if isinstance(a, Variable) and not a.batch}
    boxes = {n.name for n in picture.nodes}
    fold = next((n.name for n in picture.nodes if n.kind == "fold"), None)

    def box(name):
        return name if name in boxes else fold

    def shown(symbol) -> str:
        name = symbol.name
        if isinstance(symbol, Adjoint):
            return f"{to_text(symbol, ell)} = {_shown(adjoint.get(name, 1.0))}"
        if name in shapes:
            return f"{text_name(name, ell)} [{shapes[name]}]"
        return f"{text_name(name, ell)} = {_shown(value[name])}" if name in value else \
            text_name(name, ell)

    def reads(expr) -> str:
        symbols = sorted(_reads(expr), key=lambda a: isinstance(a, Adjoint))  # stable
        listed = [shown(s) for s in symbols[:READS_SHOWN]]
        return ", ".join(listed + ["…"] * (len(symbols) > READS_SHOWN))

    def frame(step, node, shows, equation, used, result, number, edges):
        return {"step": step, "title": STEPS[step], "node": node,
                "box": box(node) if node else None, "shows": shows, "equation": equation,
                "reads": used, "result": result, "number": number,
                "edges": [[a, b] for a, b in edges if a in boxes and b in boxes]}

    leaves = [n.name for n in picture.nodes if n.kind != "step" and n.name in value]
    out = [frame(0, None, None, f"{model.name}: {len(model.wrt)} parameter"
                 f"{'s' * (len(model.wrt) != 1)}", ", ".join(
                     f"{text_name(n, ell)} = {_shown(value[n])}" for n in leaves[:READS_SHOWN])
                 + (", …" if len(leaves) > READS_SHOWN else ""), "", "", [])]
    for s in p.steps:
        name = text_name(s.name, ell)
        out.append(frame(1, s.name, "value", f"{name} = {to_text(s.equation, ell)}",
                         reads(s.equation), f"{name} = {_shown(value[s.name])}",
                         _shown(value[s.name]),
                         [(str(a), s.name) for a in _reads(s.equation)]))
    for r in t.backward.rows:
        lhs = to_text(Adjoint(r["name"]), ell)
        node = next(s.node for s in p.steps if s.name == r["name"])
        users = p.step_users.get(node, [])
        out.append(frame(2, r["name"], "adjoint", f"{lhs} = {to_text(r['rule'], ell)}",
                         reads(r["rule"]), f"{lhs} = {_shown(r['adjoint'])}",
                         _shown(r["adjoint"]), [(r["name"], u) for u in users]))
    place = {n.name: k for k, n in enumerate(picture.nodes)}
    order = {s.name: k for k, s in enumerate(p.steps)}
    for leaf in sorted(p.leaves, key=lambda a: (
            min((order[u] for u in p.step_users.get(a, [])), default=0), place.get(str(a), 0))):
        name = str(leaf)
        if name not in adjoint or not isinstance(leaf, (sympy.Symbol, Variable)):
            continue
        rule = p.chain_rule(Step(name, leaf, sympy.Symbol(name)))
        lhs = to_text(Adjoint(name), ell)
        out.append(frame(3, name, "adjoint", f"{lhs} = {to_text(rule, ell)}", reads(rule),
                         f"{lhs} = {_shown(adjoint[name])}", _shown(adjoint[name]),
                         [(name, u) for u in p.step_users.get(leaf, [])]))
    if t.of != "ℓ":  # a model with no loss differentiates its output (trace's ∂l₄/∂)
        for f in out:
            f.update({k: f[k].replace("∂ℓ/∂", f"∂{t.of}/∂") for k in TEXTS})
    return out


def width_px(svg: str) -> float | None:
    """An SVG's width in CSS pixels, from its width="…pt" (the player's picture takes
    it, and the caption goes beside it where there is room, else above)."""
    match = re.search(r'<svg[^>]*\swidth="([0-9.]+)pt"', svg)
    return round(float(match.group(1)) * 4 / 3, 1) if match else None
