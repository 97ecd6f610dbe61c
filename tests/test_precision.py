"""Issue 28, "stable rows": each row's forward and derivative keep full relative precision
into its tails, against mpmath at 50 digits (a reference nobody here wrote; SymPy depends
on it).  Tolerance: 1e-12 relative, the issue's; every point is a normal double, so a
relative comparison is meaningful there.

The points are the rows' documented precise ranges (README, "Precision in the tails"):
where a value underflows to a subnormal or to zero, or overflows, no double can hold it
to 1e-12, and the points stop short of it."""

import mpmath
import numpy as np
import pytest

from derive.core.rules import PRIMITIVES
from derive.core.arithmetic import NUMERIC

mpmath.mp.dps = 50
mp = mpmath.mp


def sigma(x):
    return 1 / (1 + mp.exp(-x))


SCALE, ALPHA = mp.mpf("1.0507009873554804934193349852946"), \
    mp.mpf("1.6732632423543772848170429916717")

# row: (forward, derivative, points), the reference functions in mpmath
REFERENCES = {
    "erfc": (mp.erfc, lambda x: -2 / mp.sqrt(mp.pi) * mp.exp(-x**2),
             [-6, -1, 1e-8, 0.5, 5, 10, 26]),
    "erf": (mp.erf, lambda x: 2 / mp.sqrt(mp.pi) * mp.exp(-x**2), [-5, -1e-8, 1e-8, 0.5, 3]),
    "logsigmoid": (lambda x: -mp.log1p(mp.exp(-x)), lambda x: sigma(-x),
                   [-700, -40, -1, 1e-8, 1, 40, 700]),
    "sigmoid": (sigma, lambda x: sigma(x) * sigma(-x), [-700, -40, -1, 0, 1, 40, 700]),
    "softplus": (lambda x: mp.log1p(mp.exp(x)), sigma, [-700, -40, -1, 0, 1, 40, 700]),
    "elu": (lambda x: x if x > 0 else mp.expm1(x), lambda x: 1 if x > 0 else mp.exp(x),
            [-700, -40, -1, -1e-8, 1e-8, 2, 40]),
    "selu": (lambda x: SCALE * (x if x > 0 else ALPHA * mp.expm1(x)),
             lambda x: SCALE * (1 if x > 0 else ALPHA * mp.exp(x)),
             [-700, -40, -1, -1e-8, 1e-8, 2, 40]),
    "gelu": (lambda x: x / 2 * mp.erfc(-x / mp.sqrt(2)),
             lambda x: mp.erfc(-x / mp.sqrt(2)) / 2 + x * mp.exp(-x**2 / 2) / mp.sqrt(2 * mp.pi),
             [-35, -10, -5, -1, 1e-8, 1, 5, 10]),
    "silu": (lambda x: x * sigma(x), lambda x: sigma(x) * (1 + x * sigma(-x)),
             [-700, -40, -1, 1e-8, 1, 40, 700]),
    "expm1": (mp.expm1, mp.exp, [-700, -40, -1e-10, 1e-10, 5, 700]),
    "log1p": (mp.log1p, lambda x: 1 / (1 + x), [-0.999999, -0.5, -1e-10, 1e-10, 1e10, 1e300]),
}


def relative(value, reference) -> float:
    reference = mp.mpf(reference)
    return float(abs(mp.mpf(float(value)) - reference) / abs(reference))


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_and_derivative_are_precise_into_the_tails(name):
    forward, derivative, points = REFERENCES[name]
    rule = PRIMITIVES[name]
    x = np.array(points, dtype=float)
    out = rule.forward(x)
    slope = rule.partial(NUMERIC, (x,), out, 0)
    for point, value, d in zip(points, out, np.broadcast_to(slope, x.shape)):
        exact = mp.mpf(point)
        assert relative(value, forward(exact)) <= 1e-12, (name, point, value)
        assert relative(d, derivative(exact)) <= 1e-12, (name, "derivative", point, d)


def test_erfc_of_10_is_the_printed_value():
    """erfc(10) = 2.0884875837625e-45 (the issue's figure; A&S table 7.1's asymptotics)."""
    value = float(PRIMITIVES["erfc"].forward(np.array(10.0)))
    assert abs(value / 2.0884875837625e-45 - 1) <= 1e-12


# ---- singular points (issue 28, part 8), against PyTorch 2.13 float64 written as numbers --


def test_arctan2_at_the_origin_follows_pytorch():
    """torch.atan2(y, x).backward() at (0, 0) gives dy = 0.0, dx = -0.0 (JAX: NaN)."""
    from derive import check, trace
    from derive.models.user import from_text
    m = from_text("arctan2(w, v)", {"w": 0.0, "v": 0.0}, {})
    assert trace(m).gradients == {"w": 0.0, "v": 0.0}
    result = check(m)
    assert result.agree and all(r["central_flag"] for r in result.rows)


def test_zero_to_a_negative_power_is_a_flagged_pole_not_a_gradient():
    """PyTorch gives d(0**w)/dw = -inf at w = -1, JAX NaN: the value itself is infinite.
    derive keeps its one rule (0**w has derivative 0 in w) and check flags the point."""
    from derive import check, trace
    from derive.models.user import from_text
    m = from_text("b**w", {"w": -1.0}, {"b": 0.0})
    t = trace(m)
    assert t.gradients["w"] == 0.0 and t.faults
    assert not check(m).agree
