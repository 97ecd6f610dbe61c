"""A gradient checker for your own test suites.

Use it the way ``torch.autograd.gradcheck`` or ``jax.test_util.check_grads``
are used: build a model, then assert that its staged backprop gradient
agrees with the symbolic derivatives and with finite differences
(:func:`assert_gradients_agree`), or that *your own* backprop does
(:func:`assert_backprop_matches`, step by step).

>>> import sympy
>>> from derive import from_expression
>>> b, w, x, y = sympy.symbols("b w x y")
>>> m = from_expression(b + w * sympy.tanh(x), {b: 0.5, w: -1.0}, {x: 2.0}, {y: 1.0})
>>> assert_gradients_agree(m).agree
True
"""

from __future__ import annotations

import inspect
import math
import warnings

from derive.checks.check import TOLERANCES, Tolerance, check
from derive.base.errors import DeriveError
from derive.checks.methods import GRADIENT
from derive.models.model import Model
from derive.usercode.backprop import ATOL, RTOL, compare


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
    Returns the :class:`derive.checks.check.Check` when all agree.
    """
    if not isinstance(model, Model):
        raise DeriveError(f"assert_gradients_agree takes a derive Model, got "
                          f"{type(model).__name__}")
    rtol, atol = _tolerance(rtol, "rtol"), _tolerance(atol, "atol")
    if batch:
        model = model.batch(batch, seed)
    tolerances = {}
    if rtol is not None or atol is not None:
        # the exact methods: all but the central difference, whose tolerance scales with ℓ
        for method in (m for m in GRADIENT[1:] if not TOLERANCES[m].scaled):
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
            values = ", ".join(f"{m}={row[m]!r}" for m in GRADIENT)
            lines.append(f"  {row['name']}: {values}")
        lines += [f"  fault: {f['pass']} pass, step {f['step']}: {f['kind']}"
                  for f in result.faults]
        lines.append("tolerance: |a - b| <= atol*scale + rtol*|backprop|: " + ", ".join(
            f"{k} rtol={t.rtol:g} atol={t.atol:g}" for k, t in result.tolerances.items()))
        raise AssertionError("\n".join(lines))
    return result


def assert_backprop_matches(model, fn, rtol: float = RTOL, atol: float = ATOL):
    """Check *your* backprop: raise AssertionError unless everything ``fn`` returns equals
    derive's own numbers, and name the first wrong step.

    ``fn`` is called with the model's values as keyword arguments (only those it
    names: ``beta0``, ``x``, ``y``, ...; for a network also notebook 7.2's
    ``all_weights``, ``all_biases``, ``net_input``) and returns a mapping: gradients
    by parameter name (``omega0``, ``dldomega0``; a network's ``Omega1`` or
    ``all_dl_dweights``), and, for a diagnosis step by step, intermediate values
    (``f0``, ``h1``, ``l_i``; ``all_f``, ``all_h``) and adjoints (``dldf3``;
    ``all_dl_df``, ``all_dl_dh``).  Gradients are compared with the symbolic gradient,
    steps with the staged program, within rtol·|value| + atol·(the quantity's largest
    |value|) (1e-10 both: derive's gradient is exact).  Returns the
    :class:`derive.usercode.backprop.Verdict` when all agree.  See :mod:`derive.usercode.backprop`.

    >>> from derive.models.families import model
    >>> def mine(beta3, omega3, f3=None, **values):
    ...     return {"dldbeta3": 0.7445}          # 4 digits: not the exact value
    >>> assert_backprop_matches(model("toy"), mine)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: your backprop disagrees with derive's for toy: 1 of 1 quantities wrong
      dldbeta3: yours 0.7445, right 0.7445282168, rel. error 3.79e-05
    first wrong step: dldbeta3 (gradient): a parameter's gradient
      expected 0.7445282168, yours 0.7445

    Cost: one forward and backward pass and one symbolic sweep, plus your function.
    """
    rtol, atol = _tolerance(rtol, "rtol"), _tolerance(atol, "atol")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        verdict = compare(model, fn, rtol, atol)
    if not verdict.ok:
        raise AssertionError(verdict.message())
    return verdict


def assert_forward_matches(model, fn, rtol: float = RTOL, atol: float = ATOL):
    """:func:`assert_backprop_matches` for a forward pass alone: ``fn`` returns step
    values (``f0``, ``h1``, ..., or ``all_f`` and ``all_h``), and nothing else."""
    def forward_only(**values):
        result = fn(**values)
        if isinstance(result, dict):
            extra = [k for k in result if k.startswith(("dl", "all_dl"))]
            if extra:
                raise AssertionError(f"a forward pass returns values, not derivatives: "
                                     f"{', '.join(extra)}")
        return result
    forward_only.__signature__ = inspect.signature(fn)
    return assert_backprop_matches(model, forward_only, rtol, atol)


def assert_torch_matches(module, input, target, rtol: float = RTOL, atol: float = ATOL):
    """Check a PyTorch module's autograd (custom ``autograd.Function`` backwards included)
    against derive's symbolic gradient of the same network (:func:`derive.from_torch`),
    for the summed least-squares loss on ``input`` and ``target``.  Raises AssertionError
    naming every wrong parameter entry as PyTorch names it (``0.weight[2,3]``), with
    PyTorch's value, derive's and the relative error.  Needs torch (``derive[torch]``).

    Cost: one autograd backward in float64, one symbolic sweep of the network.
    """
    from derive.usercode.torch_modules import derive_names, from_torch, torch_gradients
    from derive.usercode.backprop import expected_gradient
    rtol, atol = _tolerance(rtol, "rtol"), _tolerance(atol, "atol")
    model = from_torch(module, input, target)
    theirs = torch_gradients(module, input, target)
    ours = expected_gradient(model)
    names = derive_names(module)
    scale = max((abs(v) for v in ours.values()), default=0.0)
    tolerance = Tolerance(rtol, atol)  # the check's rule: atol at the gradient's scale
    wrong = []
    for name, value in theirs.items():
        right = ours[names[name]]
        if not tolerance.agree(value, right, gradient=scale):
            error = (f"rel. error {abs(value - right) / abs(right):.2e}" if right
                     else f"abs. error {abs(value - right):.2e}")
            wrong.append(f"  {name}: torch {value:.10g}, derive {right:.10g} "
                         f"({names[name]}), {error}")
    if wrong:
        raise AssertionError(f"PyTorch's gradients disagree with derive's at {len(wrong)} of "
                             f"{len(theirs)} parameter entries:\n" + "\n".join(wrong))
    return model
