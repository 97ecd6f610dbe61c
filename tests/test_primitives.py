"""One spec table drives the tests of every primitive: a new row is tested by existing."""

import numpy as np
import pytest
import sympy

from derive.primitives import PRIMITIVES, lambdify_modules

ROWS = list(PRIMITIVES.values())
z = sympy.Symbol("z")


def points(row, n=25):
    lo, hi = row.domain
    return np.random.default_rng(0).uniform(lo, hi, n)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_numeric_derivative_matches_a_central_difference(row):
    x = points(row)
    h = 1e-6
    expected = (row.forward(x + h) - row.forward(x - h)) / (2 * h)
    assert np.allclose(row.d_numeric(x, row.forward(x)), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_symbolic_derivative_matches_the_numeric_one(row):
    x = points(row)
    node = row.sympy(z)
    derivative = sympy.lambdify(z, row.derivative(z, node),
                                modules=lambdify_modules())
    assert np.allclose(np.broadcast_to(derivative(x), x.shape),
                       row.d_numeric(x, row.forward(x)), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_forward_matches_sympy_where_sympy_knows_the_function(row):
    x = points(row, 5)
    for value in x:
        exact = row.sympy(sympy.Float(value))
        if exact.is_Number:
            assert float(row.forward(value)) == pytest.approx(float(exact), rel=1e-13)


@pytest.mark.parametrize("row", [r for r in ROWS if r.analytic], ids=lambda r: r.name)
def test_analytic_rows_support_the_complex_step(row):
    x = points(row)
    h = 1e-20
    assert np.allclose(np.imag(row.forward(x + 1j * h)) / h,
                       row.d_numeric(x, row.forward(x)), rtol=1e-10, atol=1e-14)


def test_a_sympy_function_with_no_rule_fails_naming_it():
    from derive import DeriveError
    from derive.symbolic import dag_gradient
    with pytest.raises(DeriveError, match="'Abs'"):
        dag_gradient(sympy.Abs(z), [z])
