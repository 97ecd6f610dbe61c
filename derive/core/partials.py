"""The rule table's helpers longer than a line: partials, faults, kinks and loss formulas.

Each is read by a row of :mod:`derive.core.rules` (pow's partials and faults, log's
fault, the kink of max and min, the losses' unevaluated formulas); none names a
primitive.
"""

from __future__ import annotations

import numpy as np
import sympy


def at_zero(x):
    """A kink at zero: the signed distance is the argument itself."""
    return x


def log_fault(x):
    return "log of a negative number" if x < 0 else "log of zero" if x == 0 else None


def difference(a, b):
    """A kink where two arguments meet (max, min, a comparison): a − b."""
    return a - b


def pow_partial(m, args, out, i):
    """c·x^(c−1) and x^c·log x, except that x^0 has derivative 0 in x and 0^y has
    derivative 0 in y (as PyTorch, autograd and JAX define them)."""
    base, exponent = args
    if i == 0:
        return m.where(m.is_zero(exponent), 0, exponent * base ** (exponent - 1))
    return m.where(m.is_zero(base), 0, out * m.log(base))


def pow_fault(base, exponent):
    if base == 0 and np.real(exponent) < 0:
        return "division by zero"
    return "power of a negative number" if np.real(base) < 0 else None


def least_squares(f, y):
    """ℓ = (f − y)², unevaluated so that f stays one node of the graph."""
    return sympy.Pow(sympy.Add(f, sympy.Mul(-1, y, evaluate=False), evaluate=False), 2,
                     evaluate=False)


def binary_cross_entropy(f, y):
    """ℓ = −[y·log f + (1 − y)·log(1 − f)], unevaluated so f stays one node."""
    def neg(e):
        return sympy.Mul(-1, e, evaluate=False)

    positive = sympy.Mul(y, sympy.log(f), evaluate=False)
    negative = sympy.Mul(sympy.Add(1, neg(y), evaluate=False),
                         sympy.log(sympy.Add(1, neg(f), evaluate=False)), evaluate=False)
    return neg(sympy.Add(positive, negative, evaluate=False))
