"""The one rule for "agrees", and the one central difference, that every check reads:
``check``'s methods against backprop, the Hessian's methods against each other, and a
user's values against derive's.

>>> agree(1.0 + 1e-12, 1.0, rtol=1e-10, atol=1e-10)
True
>>> agree(float("nan"), 1.0, rtol=1e-10, atol=1e-10)
False
>>> round(float(central(lambda d: (2.0 + d) ** 2, 1e-3)), 6)  # d/dx x² at 2
4.0
"""

from __future__ import annotations

import numpy as np


def agree(a, b, rtol: float, atol: float, scale: float = 1.0, slack: float = 0.0) -> bool:
    """|a − b| ≤ atol·scale + rtol·|b| + slack, entry by entry (arrays too); a missing,
    NaN or infinite value, or slack, never agrees.  Cost: one pass over the entries."""
    if a is None or b is None:
        return False
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(all="ignore"):
        return bool(np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and np.isfinite(slack)
                    and np.all(np.abs(a - b) <= atol * scale + rtol * np.abs(b) + slack))


def central(at, h: float):
    """(at(h) − at(−h)) / 2h: the central difference of ``at`` (a number, or an array of
    them) at step ``h``; its error is O(h²).  Cost: two calls of ``at``."""
    return (np.asarray(at(h)) - np.asarray(at(-h))) / (2 * h)
