"""Expression growth with depth: exact sizes per depth and fitted growth laws.

A family is a chain list cycled to ``depth`` layers (``sin,exp,cos`` at depth 3
has the toy's structure; at depth 7 it is sin,exp,cos,sin,exp,cos,sin) or
``logistic`` (depth = N).  :func:`size_row` measures one depth exactly, by
memoised passes over distinct nodes (:func:`derive.core.graph.sizes`); only
``sympy.diff`` walks the tree, and it runs only below
:data:`derive.checks.check.DIFF_WORK_CAP`.

>>> row = size_row(member("logistic", 30))
>>> row["gradient_tree_nodes"] > 10**9, row["gradient_dag_nodes"] < 300
(True, True)
>>> fit([1, 2, 3, 4, 5], [2, 4, 8, 16, 32])["law"]
'exponential'
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import numpy as np
import sympy
from sympy.core.cache import clear_cache

from derive.checks.check import DIFF_WORK_CAP
from derive.readings.costs import BUDGET, Prediction, predict, seconds_text
from derive.base.errors import DeriveError, require_text
from derive.models.families import axis, check_member, member, sweeps
from derive.checks.measures import MEASURES
from derive.core.graph import sizes
from derive.models.model import logistic
from derive.readings.modes import forward_mode_ops, forward_over_reverse_ops
from derive.readings.hessian import diff_twice
from derive.core.program import expression_program
from derive.readings.symbolic import dag_gradient, diff_gradient, diff_seconds, diff_skipped

ROW_KEYS = ["depth", *(m.key for m in MEASURES if m.order == 1)]
"""A row's keys: the depth, then the measures (:mod:`derive.checks.measures`)."""
ORDER2_KEYS = [m.key for m in MEASURES if m.order == 2]
"""Added to each row by ``--order 2``."""
FIT_KEYS = [m.key for m in MEASURES if m.order == 1 and m.fitted]
MAX_DEPTH = 512


def parse_depths(text: str) -> range:
    """'A:B' (inclusive) or 'N' -> a range of depths; DeriveError otherwise."""
    match = re.fullmatch(r"\s*([0-9]+)\s*(?::\s*([0-9]+)\s*)?", text or "")
    if not match:
        raise DeriveError(f"bad --depth {text!r}: expected A:B with whole numbers, e.g. 1:12")
    a = int(match.group(1))
    b = int(match.group(2) or a)
    if not 1 <= a <= b <= MAX_DEPTH:
        raise DeriveError(f"bad --depth {text!r}: need 1 <= A <= B <= {MAX_DEPTH}")
    return range(a, b + 1)


def size_row(model, diff_cap: int = DIFF_WORK_CAP, order: int = 1,
             budget: float | None = BUDGET, diff: bool = True) -> dict:
    """One row of measures for ``model`` (keys :data:`ROW_KEYS`, depth left None;
    with ``order`` 2 also :data:`ORDER2_KEYS`).

    Cost: linear in the graph, plus ``sympy.diff`` where the output's tree
    size times the number of variables is at most ``diff_cap`` and it is predicted to
    take at most ``budget`` seconds; order 2 adds P sweeps over the gradient's graph and
    ``sympy.diff`` twice below its cap and budget.  ``diff`` False leaves
    ``sympy.diff`` out whatever its size (a sweep's own budget for it is spent).
    """
    return _measured_row(model, diff_cap, order, budget, budget if diff else 0.0)[0]


def _measured_row(model, diff_cap: int, order: int, budget: float | None,
                 diff_left: float | None) -> tuple[dict, float]:
    """:func:`size_row`, with ``sympy.diff`` (first and, for order 2, second
    derivatives) run only while its predicted seconds fit in ``diff_left`` (None: no
    limit) as well as the budget; returns the row and the predicted seconds of the
    ``sympy.diff`` it ran, which a sweep charges to its budget."""
    limit = min((b for b in (budget, diff_left) if b is not None), default=None)
    charged = 0.0

    def affordable(outputs) -> bool:
        nonlocal charged
        seconds = diff_seconds(outputs, model.wrt).seconds
        if limit is not None and charged + seconds > limit:
            return False
        charged += seconds
        return True

    start = time.perf_counter()
    gradient = dag_gradient(model.output, model.wrt)
    grad = sizes(gradient)
    seconds_dag = time.perf_counter() - start
    loss = sizes(model.output)
    diff_tree = seconds_diff = None
    if not diff_skipped(model.output, model.wrt, diff_cap, loss) and \
            affordable(model.output):
        start = time.perf_counter()
        by_diff = diff_gradient(model.output, model.wrt)
        seconds_diff = time.perf_counter() - start
        diff_tree = sizes(by_diff).tree_nodes
    p = expression_program(model)
    backprop = p.backprop_ops()
    row = {"depth": None, "parameters": len(model.wrt),
           "loss_tree_nodes": loss.tree_nodes, "loss_dag_nodes": loss.dag_nodes,
           "gradient_tree_nodes": grad.tree_nodes, "sympy_diff_tree_nodes": diff_tree,
           "gradient_dag_nodes": grad.dag_nodes, "gradient_ops": grad.ops,
           "gradient_cse_ops": grad.cse_ops, "backprop_ops": backprop,
           "forward_mode_ops": forward_mode_ops(p), "reverse_mode_ops": backprop,
           "seconds_sympy_diff": seconds_diff, "seconds_dag_gradient": seconds_dag}
    if order == 2:
        row.update(_order2(model, gradient, loss.tree_nodes, p, diff_cap, affordable))
    return row, charged


def _order2(model, gradient, loss_tree: int, p, diff_cap: int, affordable) -> dict:
    """The Hessian's sizes: by the DAG sweep over the gradient, by sympy.diff twice
    (while the loss's tree × P² is within ``diff_cap`` and ``affordable(gradient)``
    says its predicted seconds are), and forward-over-reverse's ops."""
    hessian = [e for g in gradient for e in dag_gradient(g, model.wrt)]
    measured = sizes(hessian)
    by_diff = None
    if loss_tree * len(model.wrt) ** 2 <= diff_cap and affordable(gradient):
        by_diff = sizes(diff_twice(model.output, model.wrt)).tree_nodes
    return {"hessian_tree_nodes": measured.tree_nodes, "hessian_dag_nodes": measured.dag_nodes,
            "sympy_diff_hessian_tree_nodes": by_diff,
            "forward_over_reverse_ops": forward_over_reverse_ops(p)}


def sweep(family: str, depths, seed: int = 0, diff_cap: int = DIFF_WORK_CAP,
          progress=None, max_seconds: float | None = None, order: int = 1,
          budget: float | None = BUDGET) -> list[dict]:
    """Rows for each depth (:func:`sweep_until` says why a sweep stopped early)."""
    return sweep_until(family, depths, seed, diff_cap, progress, max_seconds, order,
                       budget)[0]


def sweep_until(family: str, depths, seed: int = 0, diff_cap: int = DIFF_WORK_CAP,
                progress=None, max_seconds: float | None = None, order: int = 1,
                budget: float | None = BUDGET) -> tuple[list[dict], str | None]:
    """Rows for each depth, and why the sweep stopped early (None where it did not).

    ``progress(items, total=, desc=)`` wraps the loop over depths where given
    (the CLI passes a progress bar).  With ``max_seconds``, no new depth starts
    once that much time has passed.  Under ``budget`` seconds, no depth starts whose
    predicted seconds (:func:`row_seconds`), added to those of the depths before, pass
    it, and ``sympy.diff`` (first derivatives, and second for order 2) has a budget of
    its own across the sweep: each depth's runs only while its predicted seconds, added
    to those it ran at earlier depths, stay within it.  Predictions come from sizes, so
    where a sweep stops is the same on any machine.
    """
    rows, start, depths = [], time.perf_counter(), list(depths)
    iterate = progress or (lambda items, **_: items)
    clear_cache()  # no cached twin from earlier work (the report's own model) mixes in
    spent = {"rows": 0.0, "diff": 0.0}  # predicted seconds so far: the same on any machine
    for depth in iterate(depths, total=len(depths), desc=f"sizes {family}"):
        if max_seconds is not None and rows and time.perf_counter() - start > max_seconds:
            return rows, (f"--max-seconds {max_seconds:g} reached after depth "
                          f"{rows[-1]['depth']}; depths {depth} to {depths[-1]} not run")
        model = member(family, depth, seed)
        cost = row_seconds(model, order)
        if budget is not None and rows and spent["rows"] + cost.seconds > budget:
            return rows, (f"depth {depth}: about {seconds_text(cost.seconds)} predicted "
                          f"({cost.basis}) after {seconds_text(spent['rows'])} for depths "
                          f"{depths[0]} to {rows[-1]['depth']}, past the {budget:g} s budget; "
                          f"depths {depth} to {depths[-1]} not run (--budget to raise it)")
        spent["rows"] += cost.seconds
        # sympy.diff, the baseline, has a budget of its own across the sweep (its first
        # derivatives and, for order 2, its second)
        row, charged = _measured_row(model, diff_cap, order, budget, None if budget is None
                                    else budget - spent["diff"])
        spent["diff"] += charged
        row["depth"] = depth
        rows.append(row)
    return rows, None


def row_seconds(model, order: int = 1) -> Prediction:
    """The predicted seconds of :func:`size_row` on ``model`` without ``sympy.diff`` (its
    passes linear in the graph, and order 2's sweep per parameter; sympy.diff is
    predicted apart, by :func:`derive.readings.symbolic.diff_seconds`, as each row runs).

    Cost: linear in the graph.
    """
    nodes, parameters = sizes(model.output).dag_nodes, len(model.wrt)
    seconds = predict("size_row", nodes).seconds
    if order == 2:
        seconds += predict("hessian_sizes", nodes * parameters).seconds
    return Prediction("depth", seconds, f"loss graph {nodes:,} nodes, {parameters:,} parameters")


@dataclass
class Sweep:
    """A family's size rows by depth with their fitted laws (Jupyter shows a table)."""

    family: str
    rows: list[dict]
    fits: dict
    stopped: str | None = None

    @property
    def words(self) -> dict:
        return {k: describe(v, self.axis, k.startswith("seconds")) for k, v in self.fits.items()}

    @property
    def axis(self) -> str:
        """What the "depth" column counts: the width, for an mlp-width family."""
        return axis(self.family)

    def to_json(self) -> dict:
        """The documented ``derive sizes --json`` object."""
        out = {"family": self.family, "rows": self.rows, "fits": self.fits}
        if self.stopped:
            out["stopped"] = self.stopped
        return out


def size_sweep(family: str, depth: str = "1:12", seed: int = 0, progress=None,
               max_seconds: float | None = None, order: int = 1,
               budget: float | None = BUDGET) -> Sweep:
    """Sweep ``family`` over ``depth`` ('A:B') and fit growth laws.

    ``family`` is a sweep family or any model name (``toy`` sweeps
    ``sin,exp,cos``; see :func:`derive.models.families.sweeps`).

    >>> s = size_sweep("logistic", "1:8")
    >>> s.fits["gradient_tree_nodes"]["law"]
    'exponential'
    """
    require_text(family, "family")
    return run_sweep(family, parse_depths(require_text(depth, "depth ('A:B')")), seed,
                     progress, max_seconds, order, budget)


def run_sweep(family: str, depths: range, seed: int = 0, progress=None,
              max_seconds: float | None = None, order: int = 1,
              budget: float | None = BUDGET) -> Sweep:
    """:func:`sweep` with its fitted laws, and a note where ``max_seconds`` cut it short."""
    family = sweeps(family)[0]
    check_member(family, depths[-1])  # every limit is checked before the first row
    if max_seconds is not None and not max_seconds > 0:
        raise DeriveError("--max-seconds must be a positive number of seconds")
    if order not in (1, 2):
        raise DeriveError(f"bad --order {order}: 1 (gradients) or 2 (Hessians)")
    rows, stopped = sweep_until(family, depths, seed, progress=progress,
                                max_seconds=max_seconds, order=order, budget=budget)
    return Sweep(family, rows, fits(rows), stopped)


SIMPLER_BY = 1e-4
"""A simpler law is chosen over a better-fitting one whose R² is higher by less than this."""
TIMING_R2 = 0.9
"""Timing fits below this R² are not stated as laws (their words say why)."""


def _r2(logv, predicted) -> float:
    """R² of log values: the three laws scored on one scale (a law that predicts a
    value <= 0 scores -inf)."""
    if np.any(predicted <= 0):
        return -math.inf
    residual = logv - np.log(predicted)
    total = np.sum((logv - logv.mean()) ** 2)
    return float(1.0 - np.sum(residual**2) / total) if total > 0 else 1.0


def fit(depths, values) -> dict | None:
    """The law a value follows with n: linear a + b·n, power a·n^k or exponential a·b^n.

    Each is fitted by least squares (linear to the values, power and exponential to
    their logarithms) on the deeper half of the points (all of them below six), where
    the asymptotic law shows rather than small-depth offsets.  The criterion: the
    highest R² of the log values, except that the simpler law (linear, then power)
    is taken while its R² is within :data:`SIMPLER_BY` of the best.  Returns
    {"law": "linear", "a", "b"} (value ≈ a + b·n), {"law": "power", "a", "k"}
    (a·n^k) or {"law": "exponential", "a", "b"} (a·b^n), each with "r2" and
    "from_depth"; None with fewer than three positive values.  Exact ints of any
    size are fine.  Cost: three least-squares fits of a few points.

    >>> fit([1, 2, 3, 4, 5, 6, 7, 8], [16, 21, 26, 31, 36, 41, 46, 51])["law"]
    'linear'
    >>> round(fit(range(1, 9), [3 * n**2.5 for n in range(1, 9)])["k"], 2)
    2.5
    """
    points = [(n, v) for n, v in zip(depths, values) if v is not None and v > 0]
    if len(points) < 3:
        return None
    if len(points) >= 6:
        points = points[len(points) // 2:]
    n = np.array([p[0] for p in points], dtype=float)
    if np.ptp(n) == 0:
        return None
    logv = np.array([math.log(p[1]) for p in points])  # math.log takes ints of any size
    value = np.exp(logv)
    candidates = []
    slope, intercept = np.polyfit(n, value, 1)
    candidates.append({"law": "linear", "a": float(intercept), "b": float(slope),
                       "r2": _r2(logv, intercept + slope * n)})
    if np.all(n > 0):
        k, c = np.polyfit(np.log(n), logv, 1)
        candidates.append({"law": "power", "a": float(math.exp(c)), "k": float(k),
                           "r2": _r2(logv, np.exp(c + k * np.log(n)))})
    rate, c = np.polyfit(n, logv, 1)
    candidates.append({"law": "exponential", "a": float(math.exp(c)), "b": float(math.exp(rate)),
                       "r2": _r2(logv, np.exp(c + rate * n))})
    best = max(c["r2"] for c in candidates)
    chosen = next(c for c in candidates if c["r2"] >= best - SIMPLER_BY)
    return {**chosen, "from_depth": int(n[0])}


def fits(rows: list[dict]) -> dict:
    """A fitted law per measure in :data:`FIT_KEYS` (and :data:`ORDER2_KEYS` where the
    rows have them)."""
    depths = [r["depth"] for r in rows]
    keys = FIT_KEYS + [k for k in ORDER2_KEYS if rows and k in rows[0]]
    return {key: fit(depths, [r[key] for r in rows]) for key in keys}


PER = {"depth": "layer", "width": "unit of width"}
"""What one step of n is called in a law's words, by the sweep's axis."""


def describe(law: dict | None, axis: str = "depth", timing: bool = False) -> str:
    """A fitted law in words.

    >>> describe({"law": "exponential", "a": 1.0, "b": 2.93, "r2": 0.9999, "from_depth": 6})
    'exponential: grows about 2.93 times per layer (R² 1.000)'
    >>> describe({"law": "linear", "a": 11.0, "b": 5.0, "r2": 1.0, "from_depth": 6})
    'linear: about 5.0 more per layer, 5.0·n + 11.0 (R² 1.000)'
    >>> describe({"law": "power", "a": 3.0, "k": 2.04, "r2": 0.9999, "from_depth": 6})
    'polynomial of degree about 2: grows like n^2.04 (R² 1.000)'
    """
    if law is None:
        return "too few points to fit"
    r2 = f"(R² {law['r2']:.3f})"
    if timing and law["r2"] < TIMING_R2:
        return f"too noisy to state a law {r2}, below {TIMING_R2}"
    per = PER.get(axis, axis)
    if law["law"] == "linear":
        return (f"linear: about {law['b']:.1f} more per {per}, "
                f"{law['b']:.1f}·n {'+' if law['a'] >= 0 else '−'} {abs(law['a']):.1f} {r2}")
    if law["law"] == "power":
        degree = round(law["k"])
        kind = (f"polynomial of degree about {degree}" if abs(law["k"] - degree) <= 0.25
                else "polynomial")
        return f"{kind}: grows like n^{law['k']:.2f} {r2}"
    return f"exponential: grows about {law['b']:.2f} times per {per} {r2}"


def table1(depths) -> list[dict]:
    """Baydin et al. 2018, Table 1: l_n, its product-rule derivative, and simplified.

    l_n is shown factored; the derivative is ``sympy.diff`` of that factored
    form (the product rule, as the paper prints it); the simplified form is
    its expansion with the common factor taken out.
    """
    x = sympy.Symbol("x")
    rows = []
    for n in depths:
        l_n = sympy.factor(sympy.expand(logistic(n).output.doit()))
        derivative = sympy.diff(l_n, x)
        simplified = sympy.factor_terms(sympy.expand(derivative))
        rows.append({"n": n, "l_n": l_n, "derivative": derivative, "simplified": simplified})
    return rows
