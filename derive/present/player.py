"""The step-through: the notebook's three steps as frames over the computational graph.

Frame 0 shows the model (its parameters' and inputs' values, which are given); then
one frame per forward step (Step 1: the step's box lights up and its value appears),
one per adjoint in the order backprop computes them (Step 2: ∂ℓ/∂v appears and the
arrows it flowed back along are marked, with the chain-rule term that was used), and
one per parameter, or per matrix Ω_k, β_k of a network (Step 3).  Every number is the
program's, printed as the picture prints it; the HTML player (templates/player.html.j2)
only shows and hides what the frames name.

>>> from derive.models.families import model
>>> f = frames(model("toy"))
>>> len(f), [x["step"] for x in f].count(1), [x["step"] for x in f].count(2)
(24, 8, 7)
>>> f[1]["equation"], f[1]["reads"]
('f₀ = β₀ + ω₀·x', 'β₀ = 1.000, ω₀ = 0.100, x = 2.300')
>>> f[10]["equation"], [r.partition(" = ")[0] for r in f[10]["reads"].split(", ")]
('∂ℓ/∂h₃ = ω₃·∂ℓ/∂f₃', ['ω₃', '∂ℓ/∂f₃'])
"""

from __future__ import annotations

import re

import sympy

from derive.present.picture import _reads, _shown, graph, numbers
from derive.present.drawing import Picture
from derive.models.names import loss_name, text_name
from derive.present.notation import Adjoint, to_text
from derive.core.program import Step, Variable, program
from derive.present.steps import chain_rule, trace

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
    t = traced or trace(model)
    steps = _Frames(model, t, picture or graph(model, values=True, adjoints=True, traced=t))
    out = [steps.given()] + steps.forward() + steps.backward() + steps.gradients()
    if t.of != "ℓ":  # a model with no loss differentiates its output (trace's ∂l₄/∂)
        for f in out:
            f.update({k: f[k].replace("∂ℓ/∂", f"∂{t.of}/∂") for k in TEXTS})
    return out


class _Frames:
    """The frames of one model, from its program, trace and picture."""

    def __init__(self, model, t, picture: Picture):
        self.model, self.t, self.picture = model, t, picture
        self.p = program(model)
        self.ell = loss_name(s.name for s in self.p.steps)
        self.value, self.adjoint = numbers(model, self.p, t)
        self.shapes = {a.name: f"{len(a.grid)}×{len(a.grid[0])}" for args in self.p.args
                       for a in args if isinstance(a, Variable) and not a.batch}
        self.boxes = {n.name for n in picture.nodes}
        self.fold = next((n.name for n in picture.nodes if n.kind == "fold"), None)

    def frame(self, step, node, shows, equation, reads, result, number, edges) -> dict:
        return {"step": step, "title": STEPS[step], "node": node,
                "box": (node if node in self.boxes else self.fold) if node else None,
                "shows": shows, "equation": equation, "reads": reads, "result": result,
                "number": number,
                "edges": [[a, b] for a, b in edges if a in self.boxes and b in self.boxes]}

    def shown(self, symbol) -> str:
        """A name the equation reads, with its value (a matrix with its shape)."""
        name, text = symbol.name, text_name(symbol.name, self.ell)
        if isinstance(symbol, Adjoint):
            return f"{to_text(symbol, self.ell)} = {_shown(self.adjoint.get(name, 1.0))}"
        if name in self.shapes:
            return f"{text} [{self.shapes[name]}]"
        return f"{text} = {_shown(self.value[name])}" if name in self.value else text

    def reads(self, expr) -> str:
        symbols = sorted(_reads(expr), key=lambda a: isinstance(a, Adjoint))  # stable
        listed = [self.shown(s) for s in symbols[:READS_SHOWN]]
        return ", ".join(listed + ["…"] * (len(symbols) > READS_SHOWN))

    def given(self) -> dict:
        """Frame 0: the model and the values it is given."""
        leaves = [sympy.Symbol(n.name) for n in self.picture.nodes
                  if n.kind != "step" and n.name in self.value]
        listed = ", ".join(f"{text_name(s.name, self.ell)} = {_shown(self.value[s.name])}"
                           for s in leaves[:READS_SHOWN])
        count = len(self.model.wrt)
        return self.frame(0, None, None, f"{self.model.name}: {count} parameter"
                          f"{'s' * (count != 1)}",
                          listed + (", …" if len(leaves) > READS_SHOWN else ""), "", "", [])

    def forward(self) -> list[dict]:
        """Step 1: a frame per step, its value appearing, the arrows into it marked."""
        out = []
        for s in self.p.steps:
            name, number = text_name(s.name, self.ell), _shown(self.value[s.name])
            out.append(self.frame(1, s.name, "value", f"{name} = {to_text(s.equation, self.ell)}",
                                  self.reads(s.equation), f"{name} = {number}", number,
                                  [(str(a), s.name) for a in _reads(s.equation)]))
        return out

    def backward(self) -> list[dict]:
        """Step 2: a frame per adjoint, with the chain rule that computed it and the
        arrows it flowed back along (to each step that uses the value)."""
        node = {s.name: s.node for s in self.p.steps}
        return [self._adjoint(2, r["name"], r["rule"], r["adjoint"],
                              self.p.step_users.get(node[r["name"]], []))
                for r in self.t.backward.rows]

    def gradients(self) -> list[dict]:
        """Step 3: a frame per parameter (a network's per matrix), in the program's order
        of first use."""
        place = {n.name: k for k, n in enumerate(self.picture.nodes)}
        order = {s.name: k for k, s in enumerate(self.p.steps)}

        def first_use(leaf):
            return (min((order[u] for u in self.p.step_users.get(leaf, [])), default=0),
                    place.get(str(leaf), 0))
        leaves = [a for a in sorted(self.p.leaves, key=first_use)
                  if isinstance(a, (sympy.Symbol, Variable)) and str(a) in self.adjoint]
        return [self._adjoint(3, str(a), chain_rule(self.p, Step(str(a), a, sympy.Symbol(str(a)))),
                              self.adjoint[str(a)], self.p.step_users.get(a, []))
                for a in leaves]

    def _adjoint(self, step, name, rule, number, users) -> dict:
        lhs, number = to_text(Adjoint(name), self.ell), _shown(number)
        return self.frame(step, name, "adjoint", f"{lhs} = {to_text(rule, self.ell)}",
                          self.reads(rule), f"{lhs} = {number}", number,
                          [(name, u) for u in users])


def width_px(svg: str) -> float | None:
    """An SVG's width in CSS pixels, from its width="…pt" (the player's picture takes
    it, and the caption goes beside it where there is room, else above)."""
    match = re.search(r'<svg[^>]*\swidth="([0-9.]+)pt"', svg)
    return round(float(match.group(1)) * 4 / 3, 1) if match else None
