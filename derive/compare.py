"""The four-way check: backprop, symbolic, central difference, complex step.

Per variable differentiated, the staged backprop gradient is compared with

* **symbolic**: the DAG-sweep derivative (:func:`derive.symbolic.dag_gradient`),
  made numeric by ``lambdify`` (numpy backend) while its tree has at most
  :data:`LAMBDIFY_TREE_CAP` nodes, by generated straight-line code above;
* **symbolic (sympy.diff)**: per-variable ``sympy.diff``, the textbook form,
  run while the output's tree times the number of variables is at most
  :data:`DIFF_WORK_CAP` (otherwise skipped and said so);
* **central difference**: D(h) = (L(p + h) − L(p − h)) / 2h with
  h = ε^(1/3)·max(1, |p|) ≈ 6.06e-6·max(1, |p|), ε the float64 epsilon, and
  its own error estimate |D(2h) − D(h)| (truncation error grows as h², so
  D(2h) − D(h) is three times D(h)'s truncation error);
* **complex step**: Im L(p + i·h) / h with h = 1e-20·max(1, |p|), where every
  primitive that p reaches is analytic (relu is not: then ``None``).

Agreement rule: |a − b| <= atol + rtol·|b|, b the backprop value, with the
defaults in :data:`TOLERANCES`; NaN or inf never agrees.  The exact methods
compute the same quantity as backprop, so their tolerance is rounding only;
the central difference's tolerance adds its error estimate to atol and
rtol: its rounding error ε·|L|/h scales with max(1, |L|), and its truncation
error h²·|L'''|/6 is large where L is wild (the logistic map is chaotic: at
N = 10 its third derivative reaches 10^15) and is what the estimate measures.
A wrong gradient is still caught: D(h) and D(2h) then agree with each other,
not with backprop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy

from . import codegen
from .graph import sizes, topological_order
from .primitives import PRIMITIVES, lambdify_modules, rule_for
from .staged import program
from .symbolic import dag_gradient, diff_gradient, diff_skipped
from .table import Table

LAMBDIFY_TREE_CAP = 200_000
DIFF_WORK_CAP = 5_000
EPS = float(np.finfo(float).eps)
CENTRAL_STEP = EPS ** (1 / 3)
COMPLEX_STEP = 1e-20


@dataclass(frozen=True)
class Tolerance:
    """|a − b| <= atol·scale + rtol·|b|; ``scale`` is max(1, |L|) where ``scaled``."""

    rtol: float
    atol: float
    scaled: bool = False

    def agree(self, a, b, loss: float = 1.0, estimate: float = 0.0) -> bool:
        """Whether a agrees with b; ``estimate`` is a method's own error estimate."""
        if a is None or not (math.isfinite(a) and math.isfinite(b) and math.isfinite(estimate)):
            return False
        scale = max(1.0, abs(loss)) if self.scaled else 1.0
        return abs(a - b) <= self.atol * scale + self.rtol * abs(b) + estimate


TOLERANCES = {
    "symbolic": Tolerance(rtol=1e-10, atol=1e-10),
    "symbolic_diff": Tolerance(rtol=1e-10, atol=1e-10),
    "complex_step": Tolerance(rtol=1e-10, atol=1e-10, scaled=True),
    "central_difference": Tolerance(rtol=1e-6, atol=1e-7, scaled=True),
    "scalar_staged": Tolerance(rtol=1e-10, atol=1e-10),
}
"""Default tolerance of each method against backprop."""

METHODS = ["backprop", "symbolic", "symbolic_diff", "central_difference", "complex_step"]


@dataclass
class Check:
    """The comparison for every variable: ``rows[name][method]`` is a float or None.

    ``agree`` is True when every method that applies agrees with backprop;
    ``notes`` says what was skipped or switched and why.
    """

    model: str
    loss: float
    parameters: list[str]
    rows: Table
    tolerances: dict
    notes: list[str] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return all(row["agree"] for row in self.rows)

    def disagreements(self) -> list[dict]:
        return [row for row in self.rows if not row["agree"]]

    def to_json(self) -> dict:
        """The documented ``derive check --json`` object."""
        keys = ["backprop", "symbolic", "central_difference", "complex_step"]
        out = {"model": self.model, "loss": self.loss, "parameters": self.parameters,
               "gradients": {r["name"]: {k: r[k] for k in keys} for r in self.rows},
               "agree": self.agree}
        if self.faults:
            out["faults"] = self.faults
        return out

    def _repr_html_(self) -> str:
        from .notebook import fragment
        return fragment("check.html.j2", c=self)

    def __str__(self) -> str:
        lines = [f"model {self.model}    loss {self.loss:.6g}", "", str(self.rows), ""]
        lines += [f"note: {n}" for n in self.notes]
        if self.faults:
            from .staged import describe_faults
            lines += [describe_faults(self.faults),
                      "NaN and infinity never count as agreement."]
        tol = ", ".join(f"{k} rtol={t.rtol:g} atol={t.atol:g}{'*max(1,|L|)' if t.scaled else ''}"
                        for k, t in self.tolerances.items())
        lines += [f"tolerances vs backprop: {tol}",
                  "all agree" if self.agree else
                  f"DISAGREE: {', '.join(r['name'] for r in self.disagreements())}"]
        return "\n".join(lines)


def check(model, tolerances: dict | None = None) -> Check:
    """Compare backprop with the symbolic and numeric derivatives, per variable.

    Cost: one DAG sweep (linear), one compile of its derivatives, two forward
    passes per variable for the central difference and one complex one for
    the complex step, plus ``sympy.diff`` below its size cap.

    >>> from derive.models import model
    >>> c = check(model("toy"))
    >>> c.agree, round(c.rows["omega0"]["central_difference"], 3)
    (True, 5.246)
    """
    tol = {**TOLERANCES, **(tolerances or {})}
    p = program(model)
    value = p.forward(model.values)
    adjoint = p.backward(value)
    loss, staged = p.summed(value, adjoint)
    shape = np.shape(value[model.output])
    notes: list[str] = []
    network = model.network
    # for a network, backprop is the matrix form and the scalar program is checked beside it
    backprop = network.gradients(model.values) if network is not None else staged
    methods = METHODS[1:] + (["scalar_staged"] if network is not None else [])
    symbolic = _numeric(dag_gradient(model.output, model.wrt), model, shape, notes, "DAG sweep")
    by_diff = _by_diff(model, shape, notes) or [None] * len(model.wrt)
    analytic = _complex_step_applies(model)
    evaluate = _evaluator(model, p)
    rows = []
    for i, w in enumerate(model.wrt):
        central, estimate, kink = _central(evaluate, model, w)
        row = {"name": str(w), "backprop": backprop[w], "symbolic": symbolic[i],
               "symbolic_diff": by_diff[i], "central_difference": central,
               "central_estimate": estimate, "kink": kink,
               "complex_step": _complex(evaluate, model, w) if w in analytic else None,
               "scalar_staged": staged[w] if network is not None else None}
        row["agree"] = _agrees(row, methods, tol, loss)
        rows.append(row)
    notes += _notes(rows, analytic, model)
    table = Table(["name", "backprop", *methods, "agree"], rows,
                  headers={"symbolic_diff": "sympy.diff", "central_difference": "central",
                           "complex_step": "complex", "scalar_staged": "scalar staged"})
    return Check(model.name, loss, [str(w) for w in model.wrt], table,
                 {m: tol[m] for m in methods}, notes, p.faults(value, adjoint))


def _agrees(row: dict, methods, tol: dict, loss: float) -> bool:
    """Every method that applies agrees with backprop (a kinked central difference aside)."""
    for m in methods:
        if m == "central_difference" and row["kink"]:
            continue
        if row[m] is None and m not in ("symbolic", "scalar_staged"):
            continue  # not applicable (complex step through relu, sympy.diff skipped)
        estimate = row["central_estimate"] if m == "central_difference" else 0.0
        if not tol[m].agree(row[m], row["backprop"], loss, estimate):
            return False
    return True


def _notes(rows, analytic, model) -> list[str]:
    notes = []
    if len(analytic) < len(model.wrt):
        notes.append("complex step not applicable where a non-analytic primitive "
                     "(relu) lies on the path")
    flagged = [r["name"] for r in rows if r["kink"]]
    if flagged:
        shown = ", ".join(flagged[:5]) + (", ..." if len(flagged) > 5 else "")
        notes.append(f"central difference flagged, not compared, for {len(flagged)} "
                     f"variable(s) ({shown}): a pre-activation lies within the step of a "
                     "kink (relu at 0)")
    return notes


def _evaluator(model, p):
    """values -> (summed loss, signs at kinks or None): the matrix form for a network."""
    if model.network is not None:
        return model.network.loss_and_kinks
    kinked = [n for n, rule in zip(p.nodes, p.rules) if not rule.analytic]

    def evaluate(values):
        value = p.forward(values)
        signs = [np.sign(np.real(value[n.args[0]])) for n in kinked] if kinked else None
        return np.sum(value[model.output]), signs

    return evaluate


def _numeric(exprs, model, shape, notes, what: str) -> list[float]:
    """Evaluate derivative expressions: lambdify while small, generated code beyond."""
    arguments = [s for s in model.values]
    tree = sizes(exprs).tree_nodes
    if tree > LAMBDIFY_TREE_CAP:
        notes.append(f"{what} evaluated by generated code: its tree has {tree:,} nodes "
                     f"(lambdify is used up to {LAMBDIFY_TREE_CAP:,})")
        return codegen.evaluate(exprs, arguments, model.values, shape)
    function = sympy.lambdify(arguments, list(exprs), modules=lambdify_modules())
    return codegen.batch_sums(function, arguments, model.values, shape)


def _by_diff(model, shape, notes):
    skipped = diff_skipped(model.output, model.wrt, DIFF_WORK_CAP)
    if skipped:
        notes.append(f"sympy.diff skipped: {skipped}")
        return None
    return _numeric(diff_gradient(model.output, model.wrt), model, shape, notes, "sympy.diff")


def _shifted(model, w, delta):
    values = dict(model.values)
    values[w] = values[w] + delta
    return values


def _central(evaluate, model, w) -> tuple[float, float, bool]:
    """D(h), its error estimate |D(2h) − D(h)|, and whether a kink lies within ±2h."""
    h = CENTRAL_STEP * max(1.0, float(np.max(np.abs(model.values[w]))))
    loss, signs = {}, []
    for step in (-2 * h, -h, h, 2 * h):
        loss[step], sign = evaluate(_shifted(model, w, step))
        signs.append(sign)
    kink = signs[0] is not None and any(
        not np.array_equal(a, b) for other in signs[1:] for a, b in zip(signs[0], other))
    value = float((loss[h] - loss[-h]) / (2 * h))
    estimate = abs(float((loss[2 * h] - loss[-2 * h]) / (4 * h)) - value)
    return value, estimate, kink


def _complex(evaluate, model, w) -> float:
    h = COMPLEX_STEP * max(1.0, float(np.max(np.abs(model.values[w]))))
    return float(np.imag(evaluate(_shifted(model, w, 1j * h))[0]) / h)


def _complex_step_applies(model) -> set:
    """Variables whose every path to the output passes only analytic rules."""
    net = model.network
    if net is not None:  # only the last layer avoids a non-analytic activation
        if PRIMITIVES[net.act].analytic:
            return set(model.wrt)
        return set(net.betas[-1]) | {s for row in net.omegas[-1] for s in row}
    reach: dict = {}
    blocked: set = set()
    wrt = set(model.wrt)
    for node in topological_order(model.output):
        below = set().union(*(reach[a] for a in node.args)) if node.args else set()
        reach[node] = below | ({node} & wrt)
        if node.args and not rule_for(node).analytic:
            blocked |= reach[node]
    return wrt - blocked
