"""The steps a reader sees: notebook 7.1's chain rule in step names, and the trace.

Naming for people sits here, above the printers: :func:`chain_rule` writes ∂ℓ/∂v as the
program computes it, in the names of the steps (∂ℓ/∂f1 = h2·∂ℓ/∂h2), and :func:`trace`
tabulates the three steps with their equations in the book's notation.  The program
itself (:mod:`derive.core.program`) knows no printer.

>>> from derive.models.families import model
>>> p = program(model("toy"))
>>> chain_rule(p, p.steps[2])   # ∂ℓ/∂f1 = h2·∂ℓ/∂h2: exp's rule reuses its output
dl/dh2*h2
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import sympy
from sympy.core.parameters import distribute

from derive.base.errors import require_model
from derive.base.table import Table, plain
from derive.core.program import Program, Step, program
from derive.core.arithmetic import SYMBOLIC
from derive.core.sweep import reverse
from derive.models.names import differentiated, loss_name
from derive.present.notation import Adjoint, to_latex, to_text


def chain_rule(p: Program, step: Step) -> sympy.Expr:
    """∂ℓ/∂step as the program computes it: Σ over the steps u that use it of
    the rows' vector-Jacobian products applied to ∂ℓ/∂u, in step names.

    Each user's fused operations are swept in reverse with the table's
    rules, so the terms are the rules that run (tanh′ as 1 − h²).  Cost:
    the size of the users' clusters.
    """
    terms = []
    steps = {s.name: s for s in p.steps}
    for name in p.step_users.get(step.node, []):
        user, cluster = steps[name], p.clusters[name]
        inside = set(cluster)
        seed = sympy.S.One if user.node is p.output else Adjoint(user.name)
        with distribute(False):  # keep 2·(f − y) as the rule writes it
            bar = reverse([(key, *p._op[key]) for key in cluster], user.node,
                          inside | {step.node}, seed, functools.partial(_display_share, p), _nested_sum)
        terms.append(bar.get(step.node, sympy.S.Zero))
    return terms[0] if len(terms) == 1 else sympy.Add(*terms, evaluate=False)

def _display_share(p: Program, node, rule, args, i, bar):
    """A row's share of ∂ℓ/∂args[i] in display symbols (steps by their names)."""
    return rule.vjp_of(SYMBOLIC, [p.display(a) for a in args], p.display(node), bar, i)


def _nested_sum(shares: list):
    """Shares summed as a displayed chain rule adds them: ((a + b) + c), unevaluated."""
    return functools.reduce(lambda a, b: sympy.Add(a, b, evaluate=False), shares)


# ---- the trace: the three steps as tables --------------------------------------------


@dataclass
class Trace:
    """The notebook's three steps for one model, as tables.

    ``forward``: Step 1, each intermediate's name, equation (LaTeX; ``expr``
    holds it as SymPy) and value; ``backward``: Step 2, each adjoint ∂ℓ/∂v
    (name, adjoint, and ``rule``, its chain rule as SymPy) in reverse order;
    ``gradients``: Step 3, {parameter name: ∂ℓ/∂parameter}.  For a batch the
    values are lists and ``loss`` and ``gradients`` are sums over it.  ``of`` is what
    is differentiated, as printed: ℓ for a loss, else the output's name (the logistic
    map's l₃), whose value ``loss`` then holds.
    """

    model: str
    parameters: dict
    inputs: dict
    target: object
    loss: float
    forward: Table
    backward: Table
    gradients: dict
    faults: list = field(default_factory=list)
    of: str = "ℓ"

    def to_json(self) -> dict:
        """The documented ``derive trace --json`` object ("faults" only when there are)."""
        out = {"model": self.model, "parameters": self.parameters,
               "inputs": self.inputs, "target": self.target, "loss": self.loss,
               "forward": [{"name": r["name"], "equation": r["equation"],
                            "value": r["value"]} for r in self.forward],
               "backward": [{"name": r["name"], "adjoint": r["adjoint"]}
                            for r in self.backward],
               "gradients": self.gradients}
        if self.faults:
            out["faults"] = self.faults
        return out


def trace(model) -> Trace:
    """Run the three steps on ``model`` and tabulate every intermediate.

    Cost: the forward and backward passes are linear in the graph; the
    equations print only each step's own small cluster.

    >>> from derive.models.families import model
    >>> t = trace(model("toy"))
    >>> round(t.forward["h2"]["value"], 3), round(t.backward["f1"]["adjoint"], 3)
    (5.068, -17.06)
    >>> round(t.gradients["omega0"], 3)
    5.246
    """
    p = program(require_model(model))
    value = p.forward(model.values)
    adjoint = p.backward(value)
    loss, grads = p.summed(value, adjoint)
    ell, of = loss_name(s.name for s in p.steps), differentiated(p)
    forward = Table(["name", "equation", "value"], [
        {"name": s.name, "equation": to_latex(s.equation),
         "text": to_text(s.equation, ell),
         "expr": s.equation, "value": p.shown(value[s.node])} for s in p.steps])
    backward = Table(["name", "adjoint"], [
        {"name": s.name, "adjoint": p.shown(adjoint.get(s.node, 0.0)),
         "rule": chain_rule(p, s)}
        for s in reversed(p.steps) if s.node is not p.output and s.node in p.active],
        headers={"name": f"∂{of}/∂"})
    return Trace(model.name, {str(s): plain(model.values[s]) for s in model.parameters},
                 {str(s): plain(model.values[s]) for s in model.inputs},
                 model.target_value(), loss, forward, backward,
                 {str(w): grads[w] for w in model.wrt}, p.faults(value, adjoint), of)
