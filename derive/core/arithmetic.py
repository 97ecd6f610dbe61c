"""The arithmetics a rule is read in: numbers and symbols.

A row's partials and products are written once, over an arithmetic ``m``:
:data:`NUMERIC` reads them on numpy arrays (the staged program's backprop) and
:data:`SYMBOLIC` on SymPy expressions (the symbolic gradient, and the chain rule as
displayed), so the same rule gives both.  ``m.sin`` is the table's row for sin, read
in that arithmetic; the table is bound once, by :mod:`derive.core.rules`.
"""

from __future__ import annotations

import functools
import operator

import numpy as np
import sympy

from derive.core.sweep import numeric_total, symbolic_total


OTHERS_DIRECT = 8
"""Up to this many factors a product's partials multiply the other factors directly."""


class _Numeric:
    """Rules read on numpy arrays: ``m.sin`` is the table's forward of sin."""

    one = 1.0

    @staticmethod
    def mul(*factors):
        return functools.reduce(operator.mul, factors)

    total = staticmethod(numeric_total)  # an adjoint from its users' shares

    _products = (None, None, None)
    """The last n-ary product's factors, prefix and suffix products (see :meth:`others`)."""

    def others(self, factors: list, i: int):
        """The product of every factor but factors[i]: a product's partial.  Over many
        factors, from prefix and suffix products made once per list of factors (its n
        partials cost O(n), not O(n²): a product of 4,999 factors took 25 s)."""
        if len(factors) <= OTHERS_DIRECT:
            return self.mul(*factors[:i], *factors[i + 1:])
        last, prefix, suffix = self._products  # one read: safe beside another thread
        if last is not factors:
            prefix, suffix = [self.one], [self.one]
            for a, b in zip(factors[:-1], reversed(factors[1:])):
                prefix.append(prefix[-1] * a)
                suffix.append(suffix[-1] * b)
            self._products = (factors, prefix, suffix[::-1])
            last, prefix, suffix = self._products
        if i == len(factors) - 1:  # the last partial asked for: keep no arrays past it
            self._products = (None, None, None)
        return prefix[i] * suffix[i]

    @staticmethod
    def times(local, bar):
        return bar * local

    T = staticmethod(np.transpose)
    matmul = staticmethod(np.matmul)
    sum = staticmethod(np.sum)

    @staticmethod
    def is_zero(x):
        return np.real(x) == 0

    def __getattr__(self, name):
        return _row_attribute(name).forward


class _Symbolic:
    """Rules read on SymPy expressions: ``m.sin`` is the row's SymPy function.

    Products are built unevaluated (so shared factors stay shared and a rule
    prints as written), skipping factors of one.
    """

    one = sympy.S.One

    @staticmethod
    def mul(*factors):
        return factors[0] if len(factors) == 1 else sympy.Mul(*factors, evaluate=False)

    total = staticmethod(symbolic_total)  # an adjoint from its users' shares, one sum

    def others(self, factors: list, i: int):
        """The product of every factor but factors[i], as written."""
        return self.mul(*factors[:i], *factors[i + 1:])

    @staticmethod
    def times(local, bar):
        """local · bar, skipping a factor of one."""
        if local == 1:
            return bar
        return local if bar == 1 else sympy.Mul(local, bar, evaluate=False)

    @staticmethod
    def T(matrix):
        return transpose(matrix)

    matmul = mul

    @staticmethod
    def sum(x):
        return x

    @staticmethod
    def is_zero(x):
        return sympy.Eq(x, 0)

    def __getattr__(self, name):
        return _row_attribute(name).sympy


_TABLE: dict = {}
"""The rule table the arithmetics read rows from, by name (bound by :func:`bind`)."""


def bind(table: dict) -> None:
    """Read rows from ``table`` (the rule table's own dict, so a row replaced there, as
    tests replace one, is the row read)."""
    global _TABLE
    _TABLE = table


def _row_attribute(name: str):
    if name not in _TABLE:
        raise AttributeError(name)
    return _TABLE[name]


NUMERIC = _Numeric()


SYMBOLIC = _Symbolic()


class transpose(sympy.Function):
    """Ωᵀ in a displayed rule (a symbol for a matrix, never evaluated)."""

    def _latex(self, printer):
        return rf"{printer._print(self.args[0])}^{{T}}"
