"""A gradient checker for your own test suites.

Use it the way ``torch.autograd.gradcheck`` or ``jax.test_util.check_grads``
are used: build a model, then assert that its staged backprop gradient
agrees with the symbolic derivatives and with finite differences.

>>> import sympy
>>> from derive import from_expression
>>> b, w, x, y = sympy.symbols("b w x y")
>>> m = from_expression(b + w * sympy.tanh(x), {b: 0.5, w: -1.0}, {x: 2.0}, {y: 1.0})
>>> assert_gradients_agree(m).agree
True
"""

from __future__ import annotations

import math
import warnings

from .compare import TOLERANCES, Tolerance, check
from .errors import DeriveError
from .models import Model


def _tolerance(value, name: str):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise DeriveError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def assert_gradients_agree(model, rtol: float | None = None, atol: float | None = None,
                           batch: int | None = None, seed: int = 0):
    """Raise AssertionError listing every variable whose derivatives disagree, and
    every numeric fault (a NaN or infinity never passes).

    ``rtol`` and ``atol`` override the exact methods' tolerances (symbolic,
    sympy.diff, complex step); finite differences keep their own, with their
    error estimate.  With ``batch``, the check runs on a seeded batch.  A model with
    no variable to differentiate is an error (:class:`derive.DeriveError`), as are
    arguments of the wrong type; no numpy warning escapes.
    Returns the :class:`derive.compare.Check` when all agree.
    """
    if not isinstance(model, Model):
        raise DeriveError(f"assert_gradients_agree takes a derive Model, got "
                          f"{type(model).__name__}")
    rtol, atol = _tolerance(rtol, "rtol"), _tolerance(atol, "atol")
    if batch:
        model = model.batch(batch, seed)
    tolerances = {}
    if rtol is not None or atol is not None:
        for method in ("forward_mode", "symbolic", "symbolic_diff", "complex_step"):
            base = TOLERANCES[method]
            tolerances[method] = Tolerance(base.rtol if rtol is None else rtol,
                                           base.atol if atol is None else atol, base.scaled)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = check(model, tolerances)
    if not result.agree:
        lines = [f"gradients disagree for {model.name} at "
                 f"{len(result.disagreements())} of {len(result.rows)} variables:"]
        for row in result.disagreements():
            values = ", ".join(f"{m}={row[m]!r}" for m in
                               ("backprop", "forward_mode", "symbolic", "symbolic_diff",
                                "central_difference", "complex_step"))
            lines.append(f"  {row['name']}: {values}")
        lines += [f"  fault: {f['pass']} pass, step {f['step']}: {f['kind']}"
                  for f in result.faults]
        lines.append("tolerance: |a - b| <= atol*scale + rtol*|backprop|: " + ", ".join(
            f"{k} rtol={t.rtol:g} atol={t.atol:g}" for k, t in result.tolerances.items()))
        raise AssertionError("\n".join(lines))
    return result
