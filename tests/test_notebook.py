"""Notebook 7.1's printed true values are the first acceptance test."""

import json

import pytest

from derive import model, program, trace

FORWARD = {"f0": 1.230, "h1": 0.942, "f1": 1.623, "h2": 5.068, "f2": 7.137,
           "h3": 0.657, "f3": 2.372, "l": 0.139}
ADJOINTS = {"f3": 0.745, "h3": 2.234, "f2": -1.683, "h2": -3.366, "f1": -17.060,
            "h1": 6.824, "f0": 2.281}
GRADIENTS = {"beta3": 0.745, "omega3": 0.489, "beta2": -1.683, "omega2": -8.530,
             "beta1": -17.060, "omega1": -16.079, "beta0": 2.281, "omega0": 5.246}


@pytest.fixture(scope="module")
def toy_trace():
    return trace(model("toy"))


@pytest.mark.parametrize("name,value", FORWARD.items())
def test_forward_values_match_the_notebook(toy_trace, name, value):
    assert round(toy_trace.forward[name]["value"], 3) == pytest.approx(value, abs=1e-12)


@pytest.mark.parametrize("name,value", ADJOINTS.items())
def test_adjoints_match_the_notebook(toy_trace, name, value):
    assert round(toy_trace.backward[name]["adjoint"], 3) == pytest.approx(value, abs=1e-12)


@pytest.mark.parametrize("name,value", GRADIENTS.items())
def test_gradients_match_the_notebook(toy_trace, name, value):
    assert round(toy_trace.gradients[name], 3) == pytest.approx(value, abs=1e-12)


def test_loss_matches_the_notebook(toy_trace):
    assert round(toy_trace.loss, 3) == 0.139


def test_staged_program_has_exactly_the_notebooks_steps_in_order():
    steps = program(model("toy")).steps
    assert [s.name for s in steps] == ["f0", "h1", "f1", "h2", "f2", "h3", "f3", "l"]
    assert [str(s.equation) for s in steps] == [
        "beta0 + omega0*x", "sin(f0)", "beta1 + h1*omega1", "exp(f1)",
        "beta2 + h2*omega2", "cos(f2)", "beta3 + h3*omega3", "(f3 - y)**2"]


def test_backward_pass_runs_in_the_notebooks_reverse_order(toy_trace):
    assert [r["name"] for r in toy_trace.backward] == list(ADJOINTS)


def test_trace_cli_prints_the_notebook_values(run):
    code, out, err = run("trace")
    assert code == 0 and err == ""
    for value in [*FORWARD.values(), *ADJOINTS.values(), *GRADIENTS.values()]:
        assert f"{value:.3f}" in out


def test_trace_json_contract(run):
    code, out, _ = run("trace", "toy", "--json")
    data = json.loads(out)
    assert code == 0
    assert set(data) == {"model", "parameters", "inputs", "target", "loss", "forward",
                         "backward", "gradients"}
    assert data["model"] == "toy" and data["target"] == 2.0
    assert data["inputs"] == {"x": 2.3}
    assert data["parameters"] == {"beta0": 1.0, "omega0": 0.1, "beta1": 2.0, "omega1": -0.4,
                                  "beta2": -3.0, "omega2": 2.0, "beta3": 0.4, "omega3": 3.0}
    assert [set(r) for r in data["forward"]] == [{"name", "equation", "value"}] * 8
    assert data["forward"][1] == {"name": "h1", "equation": r"\sin\left[f_{0}\right]",
                                  "value": pytest.approx(0.9424888019316975)}
    assert [set(r) for r in data["backward"]] == [{"name", "adjoint"}] * 7
    assert round(data["gradients"]["omega0"], 3) == 5.246


@pytest.mark.parametrize("name", ["toy", "mlp:udl72", "chain:tanh*512", "logistic:1000"])
def test_a_models_repr_is_short_whatever_its_size(name):
    """Issue 24: the repr of mlp:udl72 was 2,933,268 characters (the dataclass's, with the
    whole expression); now it names the model, its variables, inputs, target and loss."""
    m = model(name)
    shown = repr(m)
    assert len(shown) < 300, shown
    assert shown.startswith(f"<Model {name}: {len(m.wrt)} variable")
    assert str(m.wrt[0]) in shown


def test_a_models_jupyter_view_shows_its_formula_and_values_folding_the_rest():
    """Issue 24: the toy showed a raw dataclass dump; now its formula in MathML and each
    value, and a network's 187 values fold after the first few."""
    import derive
    from derive.present.modelview import SHOWN
    toy = derive.model("toy")
    view = toy._repr_html_()
    assert "derive-model" in view and "<math" in view and "<details>" not in view
    assert view.count("<tr>") == 1 + len(toy.values)  # the head row and one per value
    assert type(toy.batch(3)) is type(toy) and "a batch" in toy.batch(3)._repr_html_()
    net = derive.model("mlp:udl72")
    view = net._repr_html_()
    assert "not printed" in view  # 69,986 tree nodes: its size, not the formula
    assert f"{len(net.values) - SHOWN} more values" in view


def test_a_networks_trace_shows_its_vectors_as_the_cli_does():
    """Issue 24: the Jupyter trace of a network said "6 values" where the CLI and the
    report print the vector's first entries."""
    from derive.base.table import brief
    t = trace(model("mlp:1-6-1"))
    view = t._repr_html_()
    vector = next(r for r in t.forward if not isinstance(r["value"], float))
    assert " values</td>" not in view
    assert brief(vector["value"]).replace("-", "−") in view


def test_a_model_with_no_loss_names_its_output_not_a_loss():
    """Issue 24: the logistic map has no loss, yet the trace said "loss" and "∂ℓ/∂"; it
    now names the output it differentiates (l₃), in the CLI and in Jupyter."""
    from derive.present.terminal import format_trace
    logistic, toy = trace(model("logistic:3")), trace(model("toy"))
    assert logistic.of == "l₃" and toy.of == "ℓ"
    text = format_trace(logistic)
    assert text.startswith("model logistic:3    output l₃ = ") and "loss" not in text
    assert "∂l₃/∂param" in text and "∂ℓ" not in text
    assert "output l₃ =" in logistic._repr_html_() and "∂l₃/∂parameter" in logistic._repr_html_()
    assert format_trace(toy).startswith("model toy    loss ") and "∂ℓ/∂param" in format_trace(toy)


def test_a_minus_after_a_products_dot_takes_brackets():
    """Jupyter's dag_gradient of the toy printed ω₂·−sin[…]; the book writes
    ω₂·(−sin[…]): no minus sign follows a product's dot, in any display."""
    import re

    import derive
    from derive.present.notation import to_text
    m = derive.model("toy")
    g = derive.dag_gradient(m.output, m.wrt[:2])
    html = g._repr_html_()
    assert "(</mo>" in html or "<mo>(</mo>" in html
    assert not re.search(r"&#183;</mo>(<math[^>]*>|<mrow>|<wbr>)*<mo>−", html)
    assert all("·−" not in to_text(d) for d in g)
