"""The four-way check on the issue's models, and its JSON contract."""

import json
import re

import pytest

from derive import check, dag_gradient, diff_gradient, model, program
from derive.checks.check import TOLERANCES, Tolerance

MODELS = ["toy", "chain:sin,exp,cos", "chain:tanh*12", "chain:sigmoid,softplus,tanh*3",
          "logistic:10"]


@pytest.mark.parametrize("batch", [None, 1000])
@pytest.mark.parametrize("spec", MODELS)
def test_check_exits_zero(run, spec, batch):
    argv = ["check", spec, "--json"] + (["--batch", str(batch)] if batch else [])
    code, out, err = run(*argv)
    data = json.loads(out)
    assert code == 0, out
    assert data["agree"] is True
    assert set(data) == {"model", "loss", "parameters", "gradients", "agree"}
    assert list(data["gradients"]) == data["parameters"]
    for values in data["gradients"].values():
        assert set(values) == {"backprop", "forward_mode", "symbolic", "central_difference",
                               "complex_step"}


@pytest.mark.parametrize("batch", [None, 1000])
@pytest.mark.parametrize("spec", MODELS)
def test_backprop_equals_both_symbolic_forms_to_1e_10(spec, batch):
    m = model(spec)
    m = m.batch(batch, 0) if batch else m
    result = check(m)
    for row in result.rows:
        b = row["backprop"]
        for method in ("symbolic", "symbolic_diff"):
            assert abs(row[method] - b) <= 1e-10 * max(1.0, abs(b)), (row["name"], method)


def test_parameter_names_follow_the_book(run):
    _, out, _ = run("check", "chain:tanh*2", "--json")
    assert json.loads(out)["parameters"] == ["beta0", "omega0", "beta1", "omega1",
                                             "beta2", "omega2"]
    _, out, _ = run("check", "logistic:3", "--json")
    assert json.loads(out)["parameters"] == ["x"]


def test_batch_loss_and_gradients_are_sums_over_the_batch():
    m = model("toy").batch(5, seed=3)
    loss, grads = program(m).gradients(m.values)
    xs, ys = m.values[m.inputs[0]], m.values[m.target]
    singles = []
    for x, y in zip(xs, ys):
        values = {**m.values, m.inputs[0]: x, m.target: y}
        singles.append(program(m).gradients(values))
    assert loss == pytest.approx(sum(s[0] for s in singles), rel=1e-14)
    for w in m.wrt:
        assert grads[w] == pytest.approx(sum(s[1][w] for s in singles), rel=1e-12)


def test_dag_and_diff_gradients_are_symbolically_equal_on_the_toy():
    import sympy
    m = model("toy")
    # expanded, the difference is a polynomial in the same sin, exp and cos terms on both
    # sides: zero as it stands is the proof (simplify says the same in 40 times the time)
    for a, b in zip(dag_gradient(m.output, m.wrt), diff_gradient(m.output, m.wrt)):
        assert sympy.expand(a - b) == 0


def test_complex_step_is_not_applicable_through_relu():
    result = check(model("chain:tanh,relu"))
    # beta0, omega0, beta1, omega1 reach relu; beta2, omega2 do not
    assert [r["complex_step"] is None for r in result.rows] == [True] * 4 + [False] * 2
    assert result.agree


def test_nan_never_counts_as_agreement():
    tol = Tolerance(rtol=1.0, atol=1.0)
    assert not tol.agree(float("nan"), 1.0)
    assert not tol.agree(1.0, float("inf"))
    assert not tol.agree(float("inf"), float("inf"))


def test_a_value_off_in_the_fifth_digit_disagrees():
    assert not TOLERANCES["symbolic"].agree(5.2461, 5.246071430989502)
    assert not TOLERANCES["central_difference"].agree(5.2461, 5.246071430989502)
    assert TOLERANCES["central_difference"].agree(5.2460714, 5.246071430989502)


def test_check_exits_one_on_disagreement(run, monkeypatch):
    from dataclasses import replace

    from derive.core import rules
    wrong = replace(rules.PRIMITIVES["cos"], partial=lambda m, a, out, i: m.sin(a[0]))
    monkeypatch.setitem(rules.PRIMITIVES, "cos", wrong)
    code, out, _ = run("check", "toy")
    assert code == 1
    assert "DISAGREE" in out


def test_a_model_without_a_loss_names_its_output_not_a_loss(run):
    """The logistic map differentiates l₄ itself: check says so as trace does, in the
    terminal and in Jupyter's HTML (the JSON keeps its key "loss")."""
    import derive
    code, out, _ = run("check", "logistic:4")
    assert code == 0 and re.fullmatch(r"model logistic:4    output l₄ = [0-9.]+",
                                      out.splitlines()[0])
    html = derive.check(derive.model("logistic:4"))._repr_html_()
    assert "output l₄ =" in html and ": loss" not in html
    assert "model toy    loss " in run("check", "toy")[1]
