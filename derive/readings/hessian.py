"""Second order: the Hessian three ways, and what each costs.

Forward-over-reverse (the reverse sweep run on dual numbers, one tangent per
parameter), ``sympy.diff`` twice, and central differences of the gradient, compared
under the agreement rule of :mod:`derive.base.agreement` at 1e-10·max(1, |b|) for the
exact methods and 1e-6 for the difference.  Forward mode, dual numbers and the Jacobian
are :mod:`derive.readings.modes`.

>>> from derive.models.families import model
>>> h = hessian(model("toy"))
>>> h.agree, round(h.matrices["forward_over_reverse"][0][0], 4)
(True, 9.3372)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy

from derive.base import agreement
from derive.base.errors import DeriveError, require_model
from derive.base.limits import HESSIAN_DIFF_CAP, MAX_HESSIAN_VARIABLES
from derive.core.graph import sizes
from derive.core.program import expression_program, Program, program
from derive.readings import codegen
from derive.readings.costs import predict, seconds_text
from derive.readings.modes import _close, _direction, _variables, CENTRAL, DUAL, Dual, EXACT
from derive.readings.symbolic import dag_gradient, deep, diff_over_budget, diff_skipped


# ---- the Hessian --------------------------------------------------------------------------


@dataclass
class Hessian:
    """The loss's Hessian four ways; ``matrices[method]`` is a P×P list, or None where
    the method was skipped (``notes`` says why)."""

    model: str
    parameters: list[str]
    matrices: dict
    estimate: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    kinks: list = field(default_factory=list)

    @property
    def agree(self) -> bool:
        reference = self.matrices["forward_over_reverse"]
        for method, matrix in self.matrices.items():
            if matrix is None or method == "forward_over_reverse":
                continue
            central = method == "central_difference"
            for i, (row, ref) in enumerate(zip(matrix, reference)):
                for j, (a, b) in enumerate(zip(row, ref)):
                    if central and (i in self.kinks or j in self.kinks):
                        continue
                    slack = self.estimate[i][j] if central else 0.0
                    if not _close(a, b, CENTRAL if central else EXACT, slack):
                        return False
        return True

    def differences(self) -> dict:
        """{method: its largest difference from forward-over-reverse, times max(1,
        |entry|)}, None where the method was skipped."""
        reference = self.matrices["forward_over_reverse"]
        return {m: None if matrix is None else max(
            abs(a - b) / max(1.0, abs(b)) for ra, rb in zip(matrix, reference)
            for a, b in zip(ra, rb))
            for m, matrix in self.matrices.items() if m != "forward_over_reverse"}

    def to_json(self) -> dict:
        """The documented ``derive hessian --json`` object."""
        return {"model": self.model, "parameters": self.parameters,
                "hessian": dict(self.matrices), "agree": self.agree}



def hessian_vector(p: Program, value: dict, direction: dict) -> dict:
    """H·v per model symbol: the backward pass on dual numbers seeded with v's tangents."""
    dots = p.tangents(value, direction)
    dual = {k: (Dual(v, dots[k]) if k in dots else v) for k, v in value.items()}
    adjoint = p.backward(dual, DUAL, seed=np.ones_like(value[p.output]))
    return p.per_symbol(value, adjoint, lambda a: a.t if isinstance(a, Dual) else 0.0)


def hessian(model, wrt=None, progress=None, budget: float | None = None,
            refuse: bool = True) -> Hessian:
    """The Hessian of the summed loss with respect to ``wrt`` (default: the parameters).

    Cost: P forward-over-reverse passes; P reverse sweeps over the symbolic
    gradient's graph and their compiled evaluation; ``sympy.diff`` twice per
    entry below :data:`HESSIAN_DIFF_CAP`; 4·P gradient evaluations for the central
    differences.  Each is predicted first (:func:`hessian_seconds`) and skipped, with a
    note, where predicted over ``budget`` seconds (None: no limit); forward-over-reverse,
    the reference, is refused instead (DeriveError) unless not ``refuse``.  More than
    :data:`derive.base.limits.MAX_HESSIAN_VARIABLES` variables are refused before work.
    """
    wrt = _variables(require_model(model), wrt)
    if len(wrt) > MAX_HESSIAN_VARIABLES:
        n = len(wrt)
        seconds = hessian_seconds(model, wrt, program(model))["forward_over_reverse"].seconds
        raise DeriveError(f"a Hessian of {n:,} variables has {n ** 2:,} entries, "
                          f"{n ** 2 * 8 / 1e6:,.0f} MB as float64 (forward-over-reverse "
                          f"about {seconds_text(seconds)} predicted): at most "
                          f"{MAX_HESSIAN_VARIABLES:,} variables (--wrt to choose fewer)")
    iterate = progress or (lambda items, **_: items)
    # the model's own program (a network's matrix form) for its parameters, else the
    # expression's program for the variables asked for
    p = program(model) if wrt == list(model.wrt) else \
        Program.from_expression(model.output, wrt, model.names)
    cost = hessian_seconds(model, wrt, p)
    refused = cost["forward_over_reverse"].over(budget)
    if refused and refuse:
        raise DeriveError(f"{refused} (or --wrt to choose fewer variables)")
    value = p.forward(model.values)
    by_dual = []
    for w in iterate(wrt, total=len(wrt), desc="hessian"):
        row = hessian_vector(p, value, _direction(p, value, w))
        by_dual.append([row[v] for v in wrt])
    notes, symbolic = [], None
    gradient = dag_gradient(model.output, wrt)
    skipped = cost["symbolic"].over(budget)
    if skipped:
        notes.append(skipped)
    else:
        symbolic = _symbolic_hessian(model, wrt, gradient)
    skipped = diff_skipped(model.output, [(a, b) for a in wrt for b in wrt],
                           HESSIAN_DIFF_CAP, what="entries") or \
        diff_over_budget([model.output, *gradient], wrt, budget)
    if skipped:
        notes.append(f"sympy.diff twice skipped: {skipped}")
        by_diff = None
    else:
        by_diff = _evaluate(diff_twice(model.output, wrt), model, len(wrt))
    central, estimate, kinks = None, [], []
    skipped = cost["central_difference"].over(budget)
    if skipped:
        notes.append(skipped)
    else:
        central, estimate, kinks = _central_hessian(model, wrt)
    if kinks:
        notes.append(f"central differences flagged at a kink for {len(kinks)} variable(s)")
    return Hessian(model.name, [str(w) for w in wrt],
                   {"forward_over_reverse": by_dual, "symbolic": symbolic, "sympy_diff": by_diff,
                    "central_difference": central}, estimate, notes, kinks)


def diff_twice(output, wrt) -> list:
    """The Hessian's entries by ``sympy.diff``, row by row: each first derivative once,
    then its derivative by every variable, in :func:`derive.readings.symbolic.deep`.  Cost: P + P²
    tree walks."""
    return deep(lambda: [sympy.diff(first, b) for first in (sympy.diff(output, a) for a in wrt)
                         for b in wrt])


def symbolic_hessian_exprs(model, wrt, gradient=None) -> list[list]:
    """The Hessian as expressions: the DAG sweep applied to each symbolic derivative
    (``gradient``, swept here where not given), all sharing one graph.  Cost: P sweeps
    over the gradient's graph."""
    gradient = dag_gradient(model.output, wrt) if gradient is None else gradient
    return [dag_gradient(g, wrt) for g in gradient]


def _symbolic_hessian(model, wrt, gradient) -> list[list[float]]:
    exprs = symbolic_hessian_exprs(model, wrt, gradient)
    return _evaluate([e for row in exprs for e in row], model, len(wrt))


def hessian_seconds(model, wrt, p: Program) -> dict:
    """The predicted seconds of :func:`hessian`'s methods by name
    ("forward_over_reverse", "symbolic", "central_difference"), from the loss's graph,
    the program's operations and the number of variables; sympy.diff is predicted apart
    (:func:`derive.readings.symbolic.diff_seconds`).

    Cost: linear in the loss's graph.

    >>> import derive
    >>> m = derive.model("mlp:1-16-16-1")
    >>> cost = hessian_seconds(m, m.wrt, program(m))
    >>> cost["symbolic"].over(20)
    'symbolic: about 28 s predicted (loss graph nodes × variables 218,601), over the 20 s budget; --budget to raise it'
    """
    n, ops = len(wrt), p.backprop_ops()
    return {"forward_over_reverse": predict("forward_over_reverse", ops * n,
                                            name="forward-over-reverse"),
            "symbolic": predict("symbolic_hessian", sizes(model.output).dag_nodes * n,
                                name="symbolic"),
            "central_difference": predict("central_hessian", ops * n,
                                          name="central difference")}


def _evaluate(flat, model, n) -> list[list[float]]:
    """The P² entries as numbers (summed over the batch), as a P×P list, by generated
    code: built in time linear in the entries' shared graph, where lambdify would print
    P² trees (1.3 s for the toy's 64 entries)."""
    shape = np.shape(expression_program(model).forward(model.values)[model.output])
    numbers = codegen.evaluate(flat, list(model.values), model.values, shape)
    return [numbers[i * n:(i + 1) * n] for i in range(n)]


def _central_hessian(model, wrt):
    """(g(p + h) − g(p − h)) / 2h per column, its error estimate from 2h, and the
    variables whose steps cross a kink."""
    p = program(model)
    leaves = p.load(model.values)
    eps = float(np.finfo(float).eps) ** (1 / 3)

    def gradient(w, delta):
        shifted = p.shifted(leaves, w, delta)
        value = p.run(shifted)
        grads = p.per_symbol(value, p.backward(value))
        return [grads.get(v, 0.0) for v in wrt], p.sides(value) or []

    columns, estimates, kinks = [], [], []
    for j, w in enumerate(wrt):
        h = eps * max(1.0, float(np.max(np.abs(model.values[w]))))
        at = {d: gradient(w, d) for d in (h, -h, 2 * h, -2 * h)}
        d1 = agreement.central(lambda d: at[d][0], h).tolist()
        d2 = agreement.central(lambda d: at[d][0], 2 * h).tolist()
        columns.append(d1)
        estimates.append([abs(a - b) for a, b in zip(d1, d2)])
        s1 = at[h][1]
        if any(not np.array_equal(a, b) for other in (at[-h][1], at[2 * h][1], at[-2 * h][1])
               for a, b in zip(s1, other)):
            kinks.append(j)
    transpose = [list(row) for row in zip(*columns)]
    return transpose, [list(row) for row in zip(*estimates)], kinks
