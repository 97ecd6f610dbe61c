"""The numeric baselines of a check: the central difference and the complex step.

Each runs on an evaluator of the summed loss with one variable shifted
(:func:`derive.checks.check.evaluator`); each says when its own answer is not to be
trusted: a central step too large for the function's curvature, across a kink or out
of the domain; a complex step that underflows or meets a row that is not analytic.
Cost: two (central) or one (complex) evaluations of the loss per variable, and as many
again for the error estimate.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from derive.base import agreement
from derive.core.program import Variable


EPS = float(np.finfo(float).eps)
"""float64's machine epsilon."""
CENTRAL_STEP = EPS ** (1 / 3)
"""The central difference's step, scaled by max(1, |w|): balances truncation and rounding."""
COMPLEX_STEP = 1e-20
TINY = float(np.finfo(float).tiny)


def _step(values, w, scale: float) -> float:
    """A step for w scaled to its size: scale·max(1, |w|)."""
    return scale * max(1.0, float(np.max(np.abs(values[w]))))


def _quiet(function):
    """Run under IEEE rules: inf and NaN are values here, not warnings on stderr."""
    @functools.wraps(function)
    def quiet(*args, **kwargs):
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)
    return quiet


@_quiet
def central_difference(evaluate, w, h) -> float:
    """(L(p + h) − L(p − h)) / 2h."""
    return float(agreement.central(lambda d: evaluate(w, d)[0], h))


@_quiet
def forward_difference(evaluate, w, h) -> float:
    """(L(p + h) − L(p)) / h."""
    return float((evaluate(w, h)[0] - evaluate()[0]) / h)


@_quiet
def _step_too_large(evaluate, slope, values, w, central: float, scale: float) -> str | None:
    """"unreliable" where D(h) disagrees and its step is larger than |p| itself (the
    steps cross p's sign, as for x**-2 at 1e-100), or a 64 times smaller step changes it
    by more than UNRELIABLE of the scale (h is large against the function's scale, as at
    sin(1e6)), or the gradient at p ± h differs from the gradient at p by more than
    UNRELIABLE of the scale (the slope turns within the step, as at sin(1e15), where the
    step spans 10^9 periods, or tan at π/2); None where the function is smooth over the
    step and D(h/64) confirms D(h), so that a wrong gradient is caught (a wrong rule is
    wrong at p ± h alike)."""
    h = _step(values, w, CENTRAL_STEP)
    if h > float(np.max(np.abs(values[w]))):
        return "unreliable"  # the steps cross p's sign: a singularity at 0 may lie between
    small = central_difference(evaluate, w, h / 64)
    if math.isfinite(small) and abs(small - central) > UNRELIABLE * max(abs(small), scale):
        return "unreliable"
    at = slope(w, 0.0)
    for step in (-h, h):
        moved = slope(w, step)
        if not math.isfinite(moved) or abs(moved - at) > UNRELIABLE * max(abs(at), scale):
            return "unreliable"
    return None


UNRELIABLE = 0.01
"""A central difference whose error estimate exceeds this share of max(|D(h)|, ‖g‖∞)
cannot be trusted (its step is large against the function's scale, as at sin(1e6))."""


@_quiet
def _central(evaluate, values, w, at: float = 0.0, scale: float = 0.0):
    """D(h), its error estimate |D(2h) − D(h)|, and why it cannot be compared (None
    where it can): "kink" where a kink lies within ±2h, "domain" where a step leaves
    the domain (the loss ``at`` p is finite, a shifted one is not), "unreliable" where
    the estimate is large against the value and the gradient's ``scale``."""
    h = _step(values, w, CENTRAL_STEP)
    loss, sides = {}, []
    for step in (-2 * h, -h, h, 2 * h):
        loss[step], side = evaluate(w, step)
        sides.append(side)
    value = float(agreement.central(loss.get, h))
    estimate = abs(float(agreement.central(loss.get, 2 * h)) - value)
    if sides[0] is not None and any(
            not np.array_equal(a, b) for other in sides[1:] for a, b in zip(sides[0], other)):
        return value, estimate, "kink"
    if math.isfinite(at) and not all(np.isfinite(v) for v in loss.values()):
        return value, estimate, "domain"
    if estimate > UNRELIABLE * max(abs(value), scale):
        return value, estimate, "unreliable"
    return value, estimate, None


@_quiet
def complex_step(evaluate, values, w, h: float | None = None) -> float:
    """Im L(p + ih) / h, with h = 1e-20·min(1, |p|) (1e-20 at p = 0; never below 1e-200)
    unless given: the imaginary step suffers no cancellation, so it may be as small as it
    must be to stay far below p's own size (at p = 1e-100, 1e-20 would not)."""
    h = _complex_h(values, w) if h is None else h
    return float(np.imag(evaluate(w, 1j * h)[0]) / h)


def _complex_h(values, w) -> float:
    size = float(np.max(np.abs(values[w])))
    return max(COMPLEX_STEP * (min(1.0, size) if size > 0 else 1.0), 1e-200)


@_quiet
def _complex_doubt(evaluate, values, w, value: float, exact: float, tolerance,
                   scale: float) -> str | None:
    """Why a complex step that disagrees with backprop cannot be trusted, or None (it is
    compared, so that a wrong gradient is caught): "underflow" where Im L = g·h, by the
    complex step and by backprop alike, lies below the normal doubles (w*w at 1e-300,
    exp(-700)*w: it was rounded to a few bits or to 0); "unreliable" where its own
    error estimate, from a 16 times smaller step (the error is O(h²)), exceeds the
    tolerance and accounts for the difference (its truncation error h²·f‴/6 is large,
    as for arcsin near 1 or a chain of 60 squarings).  A difference the estimate cannot
    explain stays a disagreement: a rule wrong by 10% is caught there."""
    h = _complex_h(values, w)
    if max(abs(value), abs(exact)) * h < TINY / EPS:
        return "underflow"
    small = complex_step(evaluate, values, w, h / 16)
    allowed = tolerance.atol * scale + tolerance.rtol * abs(exact)
    estimate = abs(small - value) * 256 / 255  # the O(h²) error of CS(h)
    if math.isfinite(small) and allowed < estimate and abs(value - exact) <= allowed + 2 * estimate:
        return "unreliable"
    return None


def complex_step_applies(p) -> tuple[set, set]:
    """The model symbols whose every path to the output runs through analytic rows,
    and the names of the non-analytic rows met on the other paths.

    Cost: one pass over the program, carrying the set of variables each node reaches.
    """
    reach: dict = {}
    blocked, blockers = set(), set()
    wrt = set(p.wrt)
    for leaf in p.leaves:
        reach[leaf] = {leaf} & wrt
    for node, rule, args in zip(p.nodes, p.rules, p.args):
        reach[node] = set().union(*(reach[a] for a in args))
        if not rule.analytic and reach[node]:
            blocked |= reach[node]
            blockers.add(rule.name)
    symbols = set()
    for w in wrt - blocked:
        symbols |= {s for _, s in w.symbols()} if isinstance(w, Variable) else {w}
    return symbols, blockers
