"""Predicted seconds of every method, from sizes derive computes exactly, before it runs.

Node caps do not bound time (a gradient tree of 175,000 nodes is under any sensible
cap, yet ``lambdify`` takes about 20 s to print it, four times over in ``bench``).
So every command that runs a method which may be slow (``bench``, ``check``,
``sizes``, ``report``) first predicts its seconds from one row of :data:`RATES`, and
skips it, saying why and what was predicted, when the prediction is over the budget
(``--budget SECONDS``, default :data:`derive.base.limits.BUDGET`).

A rate is seconds per unit of a size that derive measures in linear time
(:func:`derive.core.graph.sizes`, the program's operation counts): symbolic work scales with
the tree it builds or prints, evaluation with operations × batch elements plus a
per-operation overhead of Python and numpy calls.  The rates were measured on this
project's 2-core reference machine (``derive bench`` on the toy, chain:tanh*8,
chain:sin,exp,cos*4 to *11, logistic:12 and mlp:udl72); a prediction aims to be within
a factor of 3 of the clock there.

>>> p = predict("lambdify", 100_000)
>>> round(p.seconds), p.basis
(15, 'gradient tree 100,000 nodes')
>>> p.over(20.0) is None, p.over(5.0)
(True, 'lambdify: about 15 s predicted (gradient tree 100,000 nodes), over the 5 s budget; --budget to raise it')
>>> predict("forward_mode", 82_085, batch=100_000).seconds > 20
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from derive.base.errors import DeriveError
from derive.base.limits import BUDGET


@dataclass(frozen=True)
class Rate:
    """Seconds = fixed + size·(per_unit·batch + per_op): ``size`` is the measure named
    ``what`` (tree nodes, operations); ``per_op`` is the overhead each operation costs
    whatever the batch (one numpy call), ``per_unit`` the cost of one element."""

    what: str
    unit: str
    per_unit: float
    per_op: float = 0.0
    fixed: float = 0.0


RATES = {
    # symbolic work: proportional to the trees SymPy builds, prints or walks
    "sympy_diff": Rate("the trees sympy.diff builds, about", "nodes", 6e-5, fixed=0.01),
    "dag": Rate("loss graph", "nodes", 1.2e-4, fixed=0.002),
    "lambdify": Rate("gradient tree", "nodes", 1.5e-4, fixed=0.05),
    # derive's own lambdify (codegen.numeric) prints sums unsorted, about 3x faster
    "lambdify_unsorted": Rate("gradient tree", "nodes", 5e-5, fixed=0.05),
    "lambdify_cse": Rate("gradient tree", "nodes", 1.5e-5, fixed=0.03),
    "generated": Rate("gradient graph", "nodes", 5e-5, fixed=0.003),
    # a row of `derive sizes`: sweeps and counts linear in the loss's graph; order 2 adds
    # a sweep over the gradient's graph per parameter (sympy.diff is predicted apart)
    "size_row": Rate("loss graph", "nodes", 1.5e-4, fixed=0.002),
    "hessian_sizes": Rate("loss graph × parameters", "", 8e-5),
    # `derive hessian`: the DAG sweep over the gradient per variable and the generated
    # code of all P² entries (measured 1.0e-4 to 1.6e-4 on chain:tanh*40, mlp:1-8-8-1 to
    # mlp:1-16-16-1 and mlp:udl72); a dual backward pass per variable; a central
    # difference of the backprop gradient per variable (four gradients each)
    "symbolic_hessian": Rate("loss graph nodes × variables", "", 1.3e-4, fixed=0.01),
    "forward_over_reverse": Rate("backprop operations × variables", "", 0.0, per_op=3e-5),
    "central_hessian": Rate("backprop operations × variables", "", 0.0, per_op=1e-4),
    # evaluation over a batch: operations x elements, plus each operation's call
    "forward": Rate("forward pass", "operations", 8e-9, per_op=1e-5),
    "backprop": Rate("backprop", "operations", 6e-9, per_op=3e-5),
    "forward_mode": Rate("forward mode", "operations", 4e-9, per_op=1.5e-5),
    "eval_lambdify": Rate("gradient tree", "operations", 6e-9, per_op=1e-6),
    "eval_lambdify_cse": Rate("gradient graph", "operations", 5e-9, per_op=5e-6),
    "eval_generated": Rate("gradient graph", "operations", 4e-9, per_op=5e-6),
}
"""One row per method: what its time scales with and how fast, on the reference machine."""


@dataclass(frozen=True)
class Prediction:
    """A method's predicted seconds (``runs`` runs together) and the size they were
    predicted from; ``each`` is one run's."""

    method: str
    seconds: float
    basis: str
    runs: int = 1

    @property
    def each(self) -> float:
        return self.seconds / self.runs

    def over(self, budget: float | None) -> str | None:
        """Why the method is skipped under ``budget`` seconds (None where it runs)."""
        if budget is None or self.seconds <= budget:
            return None
        return (f"{self.method}: about {seconds_text(self.seconds)} predicted ({self.basis}), "
                f"over the {budget:g} s budget; --budget to raise it")


def predict(method: str, size: int, batch: int = 1, runs: int = 1,
            name: str | None = None) -> Prediction:
    """The seconds ``runs`` runs of ``method`` take on ``size`` units of its measure (and
    a batch of ``batch`` for evaluations); ``name`` is the method's name in messages.

    Cost: constant.
    """
    rate = RATES[method]
    seconds = runs * (rate.fixed + size * (rate.per_unit * batch + rate.per_op))
    basis = f"{rate.what} {size:,} {rate.unit}".rstrip() + \
        (f" × batch {batch:,}" if batch > 1 else "")
    if runs > 1:
        basis += f", {runs:,} runs"
    return Prediction(name or method, seconds, basis, runs)


def seconds_text(seconds: float) -> str:
    """Seconds in words, to two significant figures at most.

    >>> [seconds_text(s) for s in (0.4, 18.2, 240, 18063 * 60, 4e9)]
    ['0.4 s', '18 s', '4 min', '301 h', '127 years']
    """
    if seconds >= 2 * 365 * 86400:
        return f"{seconds / (365 * 86400):.0f} years"
    if seconds >= 7200:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    if seconds >= 10:
        return f"{seconds:.0f} s"
    return f"{seconds:.2g} s"


def check_budget(budget) -> float:
    """``--budget`` if it is a positive number of seconds, else a DeriveError."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) \
            or not math.isfinite(budget) or budget <= 0:
        raise DeriveError(f"--budget must be a positive number of seconds, got {budget!r}")
    return float(budget)


__all__ = ["BUDGET", "RATES", "Prediction", "Rate", "check_budget", "predict", "seconds_text"]
