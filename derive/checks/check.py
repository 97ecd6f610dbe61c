"""The gradient check: backprop against forward mode, symbolic (DAG sweep and sympy.diff),
central difference, complex step and, for a network, its scalar staged program.

Per variable differentiated, the staged backprop gradient is compared with

* **forward mode**: the same program run with tangents, one pass per variable
  (:func:`derive.readings.modes.forward_gradients`);
* **symbolic**: the DAG-sweep derivative (:func:`derive.readings.symbolic.dag_gradient`),
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
  row that p reaches is analytic (relu is not: then ``None``).

A model lowered to more than one staged program (a network: its matrix program
and its scalar expression's) has every further program compared too
("scalar_staged").

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

from derive.base import agreement
from derive.readings import codegen
from derive.checks.methods import GRADIENT, STAGED as LOWERED
from derive.base.errors import DeriveError, require_model
from derive.readings.costs import BUDGET, predict, seconds_text
from derive.base.limits import DIFF_WORK_CAP, FD_SAMPLE
from derive.readings.modes import forward_mode, forward_mode_ops, forward_ops
from derive.core.program import programs
from derive.models.names import differentiated
from derive.readings.symbolic import Derivatives, derivatives
from derive.base.table import Table
from derive.checks.differences import (UNRELIABLE, _central, _complex_doubt, _step_too_large,
                                       complex_step, complex_step_applies)

LAMBDIFY_TREE_CAP = codegen.LAMBDIFY_TREE_CAP


@dataclass(frozen=True)
class Tolerance:
    """|a − b| <= atol·scale + rtol·|b|: ``scale`` is max(1, |L|) where ``scaled`` (a
    finite difference's rounding grows with the loss), else the gradient's own scale
    ‖g‖∞ = max over the variables of |backprop| (so gradients of 1e-26 are compared
    at their own scale, not swamped by an absolute 1e-10)."""

    rtol: float
    atol: float
    scaled: bool = False

    def agree(self, a, b, loss: float = 1.0, estimate: float = 0.0,
              gradient: float = 1.0) -> bool:
        """Whether a agrees with b; ``estimate`` is a method's own error estimate,
        ``gradient`` the gradient's scale ‖g‖∞."""
        scale = max(1.0, abs(loss)) if self.scaled else gradient
        return agreement.agree(a, b, self.rtol, self.atol, scale, estimate)


TOLERANCES = {
    "symbolic": Tolerance(rtol=1e-10, atol=1e-10),
    "symbolic_diff": Tolerance(rtol=1e-10, atol=1e-10),
    "complex_step": Tolerance(rtol=1e-10, atol=1e-10),
    "central_difference": Tolerance(rtol=1e-6, atol=1e-7, scaled=True),
    "scalar_staged": Tolerance(rtol=1e-10, atol=1e-10),
    "forward_mode": Tolerance(rtol=1e-10, atol=1e-10),
}
"""Default tolerance of each method against backprop."""

METHODS = list(GRADIENT)
STAGED = list(LOWERED)
"""Further staged programs compared with backprop, for models lowered more than once."""


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
    of: str = "ℓ"
    """What is differentiated, as printed (see :class:`derive.present.steps.Trace`); ``loss``
    then holds its value."""

    @property
    def agree(self) -> bool:
        return all(row["agree"] for row in self.rows)

    def disagreements(self) -> list[dict]:
        return [row for row in self.rows if not row["agree"]]

    def to_json(self) -> dict:
        """The documented ``derive check --json`` object."""
        keys = [m for m in METHODS if m != "symbolic_diff"]  # the documented keys
        out = {"model": self.model, "loss": self.loss, "parameters": self.parameters,
               "gradients": {r["name"]: {k: r[k] for k in keys} for r in self.rows},
               "agree": self.agree}
        if self.faults:
            out["faults"] = self.faults
        return out



def check(model, tolerances: dict | None = None,
          derived: Derivatives | None = None, progress=None, fd_all: bool = False,
          seed: int = 0, budget: float | None = BUDGET) -> Check:
    """Compare backprop with the symbolic and numeric derivatives, per variable.

    Cost: one DAG sweep (linear), one compile of its derivatives, four forward
    passes per variable for the central difference and one complex one for
    the complex step, plus ``sympy.diff`` below its size cap.  ``derived``
    passes derivatives already made (:func:`derive.readings.symbolic.derivatives`);
    ``progress(items, total=, desc=)`` wraps the loop over variables.  Above
    :data:`FD_SAMPLE` variables the per-variable methods run on a sample drawn with
    ``seed`` (all with ``fd_all``); the others' rows hold None for them.  Under
    ``budget`` seconds (None: no limit), ``sympy.diff`` predicted to take longer is
    skipped, ``lambdify`` replaced by generated code, and the per-variable methods run
    on as large a sample as their prediction fits (:func:`per_variable_budget`).

    >>> from derive.models.families import model
    >>> c = check(model("toy"))
    >>> c.agree, round(c.rows["omega0"]["central_difference"], 3)
    (True, 5.246)
    """
    if not require_model(model).wrt:
        raise DeriveError(f"nothing to check: {model.name} has no variable to differentiate")
    tol = {**TOLERANCES, **(tolerances or {})}
    lowered, passes = _backprop(model)
    p, expression = lowered[0], lowered[-1]
    loss, backprop = p.summed(*passes[p])
    staged = {f"{q.kind}_staged": q.summed(*passes[q])[1] for q in lowered[1:]}
    affordable, why = per_variable_budget(p, model, budget)
    sampled = _sample(model.wrt, fd_all, seed, affordable)
    forward = forward_mode(p, model.values, [w for w in model.wrt if w in sampled],
                           passes[p][0])
    shape = np.shape(passes[expression][0][expression.output])  # the batch
    notes: list[str] = []
    methods = METHODS[1:] + list(staged)
    symbolic, by_diff = _symbolic(derived or derivatives(model, DIFF_WORK_CAP, budget), model,
                                  shape, notes, budget)
    analytic, blockers = complex_step_applies(p)
    scale = max((abs(g) for g in backprop.values() if math.isfinite(g)), default=0.0)
    at = {"evaluate": evaluator(p, model.values), "slope": slopes(p, model.values),
          "values": model.values, "loss": loss, "scale": scale, "tol": tol,
          "backprop": backprop, "analytic": analytic}
    measured = [(i, w) for i, w in enumerate(model.wrt) if w in sampled]
    if len(measured) < len(model.wrt):
        notes.append(_sample_note(len(measured), len(model.wrt), seed, why
                                  if not fd_all and affordable < FD_SAMPLE else None))
    rows, conventions, overflowed = [], [], []
    for i, w in (progress or (lambda items, **_: items))(measured, total=len(measured),
                                                          desc="check"):
        rows.append(_measured_row(w, at, forward[w], symbolic[i], by_diff[i], staged, methods,
                                  conventions, overflowed))
    rows += [_unsampled(w, i, backprop, symbolic, by_diff, staged, methods, tol, loss, scale)
             for i, w in enumerate(model.wrt) if w not in sampled]
    order = {str(w): i for i, w in enumerate(model.wrt)}
    rows.sort(key=lambda r: order[r["name"]])
    notes += _not_compared(overflowed, conventions) + _notes(
        rows, analytic, blockers, {rule.name for rule in p.rules if rule.kink is not None}, model)
    table = Table(["name", "backprop", *methods, "agree"], rows)
    return Check(model.name, loss, [str(w) for w in model.wrt], table,
                 {m: tol[m] for m in methods}, notes, p.faults(*passes[p]), differentiated(p))


PASSES_PER_VARIABLE = 7
"""Forward passes the numeric methods run per variable: four for the central difference
and its estimate, one to confirm a doubtful one, and a complex pass (about two real)."""


def per_variable_budget(p, model, budget: float | None) -> tuple[int, str | None]:
    """How many variables forward mode, the central difference and the complex step fit
    in ``budget`` seconds (at most :data:`FD_SAMPLE`, at least one), and, where that is
    fewer than all, the prediction for all of them.

    Cost: one pass over the program (its operation counts).
    """
    batch = model.batch_size or 1
    total = len(model.wrt)
    passes = predict("forward", forward_ops(p), batch, runs=PASSES_PER_VARIABLE * total)
    tangents = predict("forward_mode", forward_mode_ops(p), batch)
    seconds = passes.seconds + tangents.seconds
    if budget is None or seconds <= budget:
        return FD_SAMPLE, None
    fits = max(1, min(FD_SAMPLE, int(total * budget / seconds)))
    return fits, (f"about {seconds_text(seconds)} predicted ({passes.basis}; "
                  f"{tangents.basis}), over the {budget:g} s budget; --budget to raise it")


def _sample(wrt, fd_all: bool, seed: int, size: int = FD_SAMPLE) -> set:
    """The variables the per-variable methods run on: all, or a seeded sample of
    ``size``."""
    if fd_all or len(wrt) <= size:
        return set(wrt)
    picked = np.random.default_rng(seed).choice(len(wrt), size, replace=False)
    return {wrt[i] for i in picked}


def _unsampled(w, i, backprop, symbolic, by_diff, staged, methods, tol, loss, scale) -> dict:
    """A row outside the sample: backprop against the symbolic derivatives only."""
    row = {"name": str(w), "backprop": backprop[w], "forward_mode": None,
           "symbolic": symbolic[i], "symbolic_diff": by_diff[i], "central_difference": None,
           "central_estimate": 0.0, "central_flag": None, "kink": False, "complex_step": None,
           "complex_flag": None,
           **{name: grads[w] for name, grads in staged.items()}}
    row["agree"] = _agrees(row, [m for m in methods if m != "forward_mode"], tol, loss, scale)
    return row


def _textbook_undefined(row: dict, conventions: list):
    """SymPy's textbook rules leave 0·log 0 undefined where the table follows PyTorch's
    convention: such a sympy.diff value is not compared (and the variable is noted)."""
    textbook, exact = row["symbolic_diff"], (row["backprop"], row["symbolic"])
    if textbook is not None and not np.isfinite(textbook) and all(
            v is not None and np.isfinite(v) for v in exact) and exact[0] == exact[1]:
        row["symbolic_diff"] = None
        conventions.append(row["name"])


def _measured_row(w, at: dict, forward, symbolic, by_diff, staged: dict, methods,
                  conventions: list, overflowed: list) -> dict:
    """``w``'s row: every method's derivative, flags and whether all agree."""
    numeric, doubt = _numeric_row(w, at, overflowed)
    row = {"name": str(w), "backprop": at["backprop"][w], "forward_mode": forward,
           "symbolic": symbolic, "symbolic_diff": by_diff, **numeric,
           **{name: grads[w] for name, grads in staged.items()}, "complex_flag": doubt}
    _textbook_undefined(row, conventions)
    row["agree"] = _agrees(row, methods, at["tol"], at["loss"], at["scale"])
    return row


def _symbolic(derived: Derivatives, model, shape, notes: list, budget) -> tuple[list, list]:
    """The DAG sweep's and sympy.diff's derivatives as numbers, per variable (None for
    each where sympy.diff was skipped, and a note why)."""
    symbolic = _numeric(derived.dag, model, shape, notes, "DAG sweep", budget)
    if derived.diff is None:
        notes.append(f"sympy.diff skipped: {derived.skipped}")
        return symbolic, [None] * len(model.wrt)
    return symbolic, _numeric(derived.diff, model, shape, notes, "sympy.diff", budget)


def _sample_note(measured: int, total: int, seed: int, why: str | None) -> str:
    """What a check on a sample of the variables says of it."""
    return (f"forward mode, central difference and complex step on a seeded sample of "
            f"{measured:,} of {total:,} variables (seed {seed}; --fd-all for all)"
            + (f": all of them {why}" if why else ""))


def _not_compared(overflowed: list, conventions: list) -> list[str]:
    """Notes on the entries left out of the comparison, and why."""
    notes = []
    if overflowed:
        notes.append(f"complex step not finite for {', '.join(overflowed)} (a row overflowed "
                     "on its complex argument) where backprop is finite: not compared")
    if conventions:
        notes.append(f"sympy.diff not finite where the table's rules are, by a documented "
                     f"convention (x**0, 0**y: README), for {', '.join(conventions)}: "
                     "not compared")
    return notes


def _backprop(model) -> tuple[list, dict]:
    """The model's programs (the first computes its backprop), and each one's forward
    and backward passes."""
    lowered = programs(model)
    passes = {}
    for q in lowered:
        value = q.forward(model.values)
        passes[q] = (value, q.backward(value))
    return lowered, passes


def _numeric_row(w, at: dict, overflowed: list) -> tuple[dict, str | None]:
    """The numeric methods' entries of ``w``'s row (the central difference, its estimate
    and flag, the complex step), and the complex step's flag; ``overflowed`` collects
    the variables whose complex step overflowed."""
    evaluate, values, backprop, tol = at["evaluate"], at["values"], at["backprop"], at["tol"]
    central, estimate, flag = _central(evaluate, values, w, at["loss"], at["scale"])
    if flag is None and not tol["central_difference"].agree(central, backprop[w], at["loss"],
                                                            estimate):
        flag = _step_too_large(evaluate, at["slope"], values, w, central, at["scale"])
    # no complex step through a non-analytic row, nor where the derivative is not finite
    # (it would report a large finite number)
    step = (complex_step(evaluate, values, w)
            if w in at["analytic"] and math.isfinite(backprop[w]) else None)
    if step is not None and not math.isfinite(step):
        step = None  # overflow inside a row on a complex argument
        overflowed.append(str(w))
    doubt = (None if step is None or tol["complex_step"].agree(
        step, backprop[w], at["loss"], 0.0, at["scale"]) else _complex_doubt(
        evaluate, values, w, step, backprop[w], tol["complex_step"], at["scale"]))
    return {"central_difference": central, "central_estimate": estimate,
            "central_flag": flag, "kink": flag == "kink", "complex_step": step}, doubt


def _agrees(row: dict, methods, tol: dict, loss: float, scale: float) -> bool:
    """Every method that applies agrees with backprop (a flagged central difference aside:
    across a kink, out of the domain, or unreliable; and a flagged complex step: underflow
    or unreliable)."""
    for m in methods:
        if m == "central_difference" and row["central_flag"]:
            continue
        if m == "complex_step" and row.get("complex_flag"):
            continue
        if row[m] is None and m not in ("symbolic", "forward_mode", *STAGED):
            continue  # not applicable (complex step through relu, sympy.diff skipped)
        estimate = row["central_estimate"] if m == "central_difference" else 0.0
        if not tol[m].agree(row[m], row["backprop"], loss, estimate, scale):
            return False
    return True


def _notes(rows, analytic, blockers, kinked, model) -> list[str]:
    notes = []
    if len(analytic) < len(model.wrt):
        notes.append("complex step not applicable where a non-analytic row "
                     f"({', '.join(sorted(blockers))}) lies on the path")
    why = {"kink": f"an argument lies within the step of a kink ({', '.join(sorted(kinked))})",
           "domain": "a step leaves the domain (the loss is not finite there)",
           "unreliable": "the step is large against the function's scale (its error "
                         f"estimate, or its change when the step shrinks 64-fold, exceeds "
                         f"{UNRELIABLE:g} of the value, or the gradient changes by more than "
                         f"{UNRELIABLE:g} within the step)"}
    doubts = {"underflow": "Im L = g·h lies below the normal doubles (it keeps fewer than "
                           "53 bits)",
              "unreliable": "its error estimate (its change when the step shrinks 16-fold) "
                            "exceeds the tolerance and accounts for the difference (its "
                            "truncation error, h²·f‴/6, is large: near a singularity)"}
    for key, method, reasons in [("central_flag", "central difference", why),
                                 ("complex_flag", "complex step", doubts)]:
        for flag, reason in reasons.items():
            flagged = [r["name"] for r in rows if r.get(key) == flag]
            if flagged:
                shown = ", ".join(flagged[:5]) + (", ..." if len(flagged) > 5 else "")
                notes.append(f"{method} flagged ({flag}), not compared, for "
                             f"{len(flagged)} variable(s) ({shown}): {reason}")
    return notes


def evaluator(p, values):
    """evaluate(w, delta) -> (the summed loss with the symbol w shifted by delta, the
    side of every kink its non-analytic rows meet, or None).

    The leaves are loaded once; each call copies only the leaf that holds w
    (one entry of a network's Ω_k), then runs the forward pass.
    """
    leaves = p.load(values)

    def evaluate(w=None, delta=0.0):
        value = p.run(p.shifted(leaves, w, delta))
        return np.sum(value[p.output]), p.sides(value)

    return evaluate


def slopes(p, values):
    """slope(w, delta) -> backprop's ∂L/∂w with the symbol w shifted by delta: how the
    gradient itself moves within a finite difference's step.  Cost: a forward and a
    backward pass per call; the leaves are loaded at the first call (a check whose
    central differences all agree makes none)."""
    leaves = {}

    def slope(w, delta):
        if not leaves:
            leaves.update(p.load(values))
        value = p.run(p.shifted(leaves, w, delta))
        return p.summed(value, p.backward(value))[1].get(w, 0.0)

    return slope


def _numeric(exprs, model, shape, notes, what: str, budget=None) -> list[float]:
    """Evaluate derivative expressions (:func:`derive.readings.codegen.numeric`), noting a switch
    to generated code."""
    numbers, reason = codegen.numeric(exprs, list(model.values), model.values, shape, budget)
    if reason is not None:
        notes.append(f"{what} evaluated by generated code: {reason}")
    return numbers
