"""derive.testing used the way a user's own test suite would use it."""

from dataclasses import replace

import pytest
import sympy

import derive
from derive.core import rules
from derive.testing import assert_gradients_agree


def my_model():
    b0, w0, b1, w1, x, y = sympy.symbols("b0 w0 b1 w1 x y")
    f = b1 + w1 * sympy.tanh(b0 + w0 * x) + sympy.sin(w0 * b1)
    return derive.from_expression(f, {b0: 0.2, w0: -0.7, b1: 0.1, w1: 1.3},
                                  {x: 1.5}, {y: 0.25}, name="mine")


def test_my_model_has_correct_gradients():
    result = assert_gradients_agree(my_model())
    assert [r["name"] for r in result.rows] == ["b0", "w0", "b1", "w1"]


def test_my_model_on_a_batch():
    assert_gradients_agree(my_model(), batch=64, seed=1)


def test_a_wrong_derivative_rule_fails_naming_the_parameters(monkeypatch):
    wrong = replace(rules.PRIMITIVES["tanh"], partial=lambda m, a, out, i: 1.0 + out * out)
    monkeypatch.setitem(rules.PRIMITIVES, "tanh", wrong)
    with pytest.raises(AssertionError) as failure:
        assert_gradients_agree(my_model())
    message = str(failure.value)
    assert "gradients disagree for mine" in message
    for name in ("b0", "w0"):
        assert f"  {name}: backprop=" in message
    for name in ("b1", "w1"):  # their derivatives do not use tanh's rule
        assert f"  {name}:" not in message
    assert "tolerance" in message and "rtol=1e-10" in message
