"""Forward mode, reverse mode and second derivatives, against references nobody here wrote.

The second derivatives below are PyTorch 2.13 float64 values
(torch.autograd.functional.hessian), written in as numbers.
"""

import json
import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st

from derive import check, hessian, jacobian, jvp, model, parse, program
from derive.readings.modes import forward_gradients
from derive.core.rules import ACTIVATIONS

# (expression, point, PyTorch float64 Hessian in the point's variable order)
SECOND_DERIVATIVES = [
    ('sin(x)', {'x': 0.7},
     [[-0.644217687237691]]),
    ('cos(x)', {'x': -1.3},
     [[-0.26749882862458735]]),
    ('exp(x)', {'x': 0.4},
     [[1.4918246976412703]]),
    ('log(x)', {'x': 2.5},
     [[-0.16]]),
    ('tanh(x)', {'x': 0.3},
     [[-0.5331818782014544]]),
    ('sigmoid(x)', {'x': -0.8},
     [[0.08127476720921598]]),
    ('softplus(x)', {'x': 1.1},
     [[0.18736987954752055]]),
    ('sqrt(x)', {'x': 1.7},
     [[-0.11278896894814272]]),
    ('square(x)', {'x': -2.1},
     [[2.0]]),
    ('relu(x)', {'x': 0.9},
     [[0.0]]),
    ('x*y', {'x': 1.5, 'y': -0.5},
     [[0.0, 1.0], [1.0, 0.0]]),
    ('x**3*y', {'x': 0.7, 'y': 1.3},
     [[5.46, 1.4699999999999998], [1.4699999999999998, 0.0]]),
    ('sin(x)*cos(y)', {'x': 0.4, 'y': -0.9},
     [[-0.24206632340649498, 0.721491862010698], [0.721491862010698, -0.24206632340649498]]),
    ('exp(x*y)', {'x': 0.6, 'y': 0.8},
     [[1.0342876174034519, 2.3917901152454824], [2.3917901152454824, 0.5817867847894416]]),
    ('log(x + y)', {'x': 1.2, 'y': 0.8},
     [[-0.25, -0.25], [-0.25, -0.25]]),
    ('tanh(x*y + x)', {'x': 0.5, 'y': -0.3},
     [[-0.29234885068613986, 0.6780308855394791], [0.6780308855394791, -0.14915757688068362]]),
    ('x/y', {'x': 2.0, 'y': 1.5},
     [[-0.0, -0.4444444444444444], [-0.4444444444444444, 1.1851851851851851]]),
    ('sigmoid(x)*y**2', {'x': 0.2, 'y': -1.1},
     [[-0.029850071330746134, -0.5445364599660919], [-0.5445364599660919, 1.099667994624956]]),
    ('sqrt(x*x + y*y)', {'x': 3.0, 'y': 4.0},
     [[0.128, -0.096], [-0.096, 0.07200000000000001]]),
    ('exp(sin(x))*y', {'x': 1.1, 'y': 0.7},
     [[-1.1698367936777734, 1.1058997784971287], [1.1058997784971287, 0.0]]),
    ('x**y', {'x': 1.3, 'y': 2.2},
     [[2.782227233443109, 2.1608228895043524], [2.1608228895043524, 0.12259838174583354]]),
    ('(x - y)**2', {'x': 0.3, 'y': 1.9},
     [[2.0, -2.0], [-2.0, 2.0]]),
    ('log(1 + exp(x*y))', {'x': -0.4, 'y': 1.6},
     [[0.578691498061743, 0.20057366487824502], [0.20057366487824502, 0.03616821862885894]]),
    ('tanh(tanh(x))', {'x': 0.8},
     [[-0.7323817389544349]]),
    ('x*y*sin(x)', {'x': 2.1, 'y': -0.6},
     [[1.69345912749741, -0.1969674530108273], [-0.1969674530108273, 0.0]]),
    ('exp(-x*x)', {'x': 0.9},
     [[0.5516240021164469]]),
    ('1/(1 + x*x)', {'x': -0.7},
     [[0.2841639940639955]]),
    ('relu(x*y)*x', {'x': 1.2, 'y': 0.5},
     [[1.0, 2.4], [2.4, 0.0]]),
    ('softplus(x)*tanh(y)', {'x': -0.3, 'y': 0.45},
     [[0.10313671852742205, 0.3498087743480167], [0.3498087743480167, -0.38450246172128055]]),
    ('sin(x)**2*exp(y)', {'x': 0.9, 'y': -0.2},
     [[-0.3720346841779325, 0.7973190042121132], [0.7973190042121132, 0.5023740475834739]]),
    ('x**-2 + y**0.5', {'x': 0.8, 'y': 2.3},
     [[14.648437499999996, -0.0], [0.0, -0.0716717905864986]]),
    ('cos(x*y)/(1 + y*y)', {'x': 1.7, 'y': 0.35},
     [[-0.09037700766846303, -0.8293264121438878], [-0.8293264121438879, -1.8141215843751302]]),
]


@pytest.mark.parametrize("text,point,expected", SECOND_DERIVATIVES,
                         ids=[c[0] for c in SECOND_DERIVATIVES])
def test_second_derivatives_agree_with_pytorch(run, text, point, expected):
    params = [a for name, value in point.items() for a in ("--param", f"{name}={value!r}")]
    code, out, err = run("hessian", "--expr", text, *params, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["agree"] is True and data["parameters"] == list(point)
    for method in ("forward_over_reverse", "symbolic", "sympy_diff"):
        got = np.array(data["hessian"][method])
        assert np.all(np.abs(got - expected) <= 1e-10 * np.maximum(1, np.abs(expected))), method
    central = np.array(data["hessian"]["central_difference"])
    assert np.all(np.abs(central - expected) <= 1e-5 * np.maximum(1, np.abs(expected)))


TOY_HESSIAN = {(0, 0): 9.337156668299578, (1, 1): 49.393558775304776,
               (0, 7): 4.788388805661715, (3, 5): 415.73445912702533}
"""Entries of the toy's Hessian by PyTorch float64, for (beta0, omega0, beta1, omega1, ...)."""


def test_the_toys_hessian_four_ways():
    h = hessian(model("toy"))
    assert h.agree and len(h.parameters) == 8
    reference = np.array(h.matrices["forward_over_reverse"])
    for method in ("symbolic", "sympy_diff"):
        got = np.array(h.matrices[method])
        assert np.all(np.abs(got - reference) <= 1e-10 * np.maximum(1, np.abs(reference)))
    central = np.array(h.matrices["central_difference"])
    assert np.all(np.abs(central - reference) <= 1e-6 * np.maximum(1, np.abs(reference))
                  + np.array(h.estimate))
    for (i, j), value in TOY_HESSIAN.items():
        assert reference[i, j] == pytest.approx(value, rel=1e-12)
        assert reference[j, i] == pytest.approx(value, rel=1e-12)


def test_a_wrong_hessian_is_caught(monkeypatch):
    from dataclasses import replace

    from derive.core import rules
    wrong = replace(rules.PRIMITIVES["sin"], partial=lambda m, a, out, i: m.cos(a[0]) * 1.001)
    monkeypatch.setitem(rules.PRIMITIVES, "sin", wrong)
    assert not hessian(model("toy")).agree


@pytest.mark.parametrize("batch", [None, 50])
@pytest.mark.parametrize("spec", ["toy", "chain:sin,exp,cos", "chain:tanh*12",
                                  "chain:sigmoid,softplus,tanh*3", "logistic:10", "mlp:udl72",
                                  "mlp:2-4-3:tanh"])
def test_forward_mode_equals_backprop(spec, batch):
    m = model(spec)
    m = m.batch(batch, 0) if batch else m
    _, backprop = program(m).gradients(m.values)
    forward = forward_gradients(m)
    for w in m.wrt:
        assert abs(forward[w] - backprop[w]) <= 1e-10 * max(1.0, abs(backprop[w])), str(w)


@settings(max_examples=30, deadline=None)
@given(layers=st.lists(st.sampled_from(ACTIVATIONS), min_size=1, max_size=8),
       seed=st.integers(0, 2**16), batch=st.integers(1, 20))
def test_forward_mode_equals_backprop_on_random_chains(layers, seed, batch):
    m = model("chain:" + ",".join(layers), seed=seed).batch(batch, seed)
    _, backprop = program(m).gradients(m.values)
    forward = forward_gradients(m)
    for w in m.wrt:
        assert abs(forward[w] - backprop[w]) <= 1e-10 * max(1.0, abs(backprop[w]))


def test_check_json_carries_forward_mode_beside_every_earlier_key(run):
    code, out, _ = run("check", "toy", "--json")
    data = json.loads(out)
    assert code == 0 and data["agree"] is True
    assert set(data) == {"model", "loss", "parameters", "gradients", "agree"}
    for name, values in data["gradients"].items():
        assert set(values) == {"backprop", "forward_mode", "symbolic", "central_difference",
                               "complex_step"}
        assert abs(values["forward_mode"] - values["backprop"]) <= 1e-10 * max(
            1, abs(values["backprop"]))


def test_a_wrong_jvp_rule_fails_the_check(monkeypatch):
    from dataclasses import replace

    from derive.core import rules
    wrong = replace(rules.PRIMITIVES["exp"], jvp=lambda m, a, out, d: 1.01 * out * d[0])
    monkeypatch.setitem(rules.PRIMITIVES, "exp", wrong)
    result = check(model("toy"))
    assert not result.agree
    assert {r["name"] for r in result.disagreements()} == {"beta0", "omega0", "beta1", "omega1"}


def test_the_jacobian_crossover_on_a_five_output_network(run):
    code, out, err = run("jacobian", "mlp:2-8-8-5", "--json")
    assert code == 0, err
    by_parameters = json.loads(out)
    assert set(by_parameters) == {"model", "outputs", "variables", "jacobian", "passes", "ops",
                                  "seconds", "agree"}
    assert by_parameters["agree"] is True
    assert by_parameters["outputs"] == [f"f2[{i}]" for i in range(5)]
    assert by_parameters["passes"] == {"forward_mode": 141, "reverse_mode": 5}
    assert by_parameters["ops"]["reverse_mode"] < by_parameters["ops"]["forward_mode"]
    forward = np.array(by_parameters["jacobian"]["forward_mode"])
    reverse = np.array(by_parameters["jacobian"]["reverse_mode"])
    assert forward.shape == (5, 141)
    assert np.all(np.abs(forward - reverse) <= 1e-10 * np.maximum(1, np.abs(reverse)))

    code, out, err = run("jacobian", "mlp:2-8-8-5", "--wrt", "x0,x1", "--json")
    by_inputs = json.loads(out)
    assert code == 0 and by_inputs["agree"] is True and by_inputs["variables"] == ["x0", "x1"]
    assert by_inputs["passes"] == {"forward_mode": 2, "reverse_mode": 5}
    assert by_inputs["ops"]["forward_mode"] < by_inputs["ops"]["reverse_mode"]


def test_the_jacobian_by_inputs_matches_central_differences():
    m = model("mlp:2-8-8-5")
    x0, x1 = m.inputs
    j = jacobian(m, [x0, x1])
    p = program(m)
    h = 1e-6
    for col, x in enumerate((x0, x1)):
        up = p.forward({**m.values, x: m.values[x] + h})["f2"][:, 0]
        down = p.forward({**m.values, x: m.values[x] - h})["f2"][:, 0]
        column = (up - down) / (2 * h)
        assert np.allclose([row[col] for row in j.forward_mode], column, rtol=1e-7, atol=1e-8)


def test_jvp_is_the_gradient_along_a_direction():
    m = model("chain:tanh*3")
    _, g = program(m).gradients(m.values)
    direction = {w: 0.1 * (i + 1) for i, w in enumerate(m.wrt)}
    assert jvp(m, direction) == pytest.approx(sum(g[w] * d for w, d in direction.items()),
                                              rel=1e-12)


def test_order_2_sizes_show_the_hessian_swelling_faster(run):
    code, out, err = run("sizes", "sin,exp,cos", "--depth", "1:16", "--order", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    for key in ("hessian_tree_nodes", "hessian_dag_nodes", "sympy_diff_hessian_tree_nodes",
                "forward_over_reverse_ops", "forward_mode_ops", "reverse_mode_ops"):
        assert key in data["rows"][0]
    assert data["rows"][-1]["sympy_diff_hessian_tree_nodes"] is None  # past its cap
    fits = data["fits"]
    assert fits["hessian_tree_nodes"]["k"] > fits["gradient_tree_nodes"]["k"] + 1
    for key in ("hessian_dag_nodes", "forward_over_reverse_ops", "forward_mode_ops"):
        assert fits[key]["law"] == "power" and 1.5 < fits[key]["k"] < 2.5, (key, fits[key])
    assert fits["reverse_mode_ops"]["law"] == "linear"


def test_the_report_answers_forward_or_reverse(tmp_path):
    from derive import make_report
    r = make_report("mlp:2-8-8-5", "1:2", tmp_path / "net", "html")
    html = (tmp_path / "net" / "index.html").read_text()
    assert "Forward or reverse?" in html and 'id="jacobian"' in html
    jac = {e["variables"]: e for e in r.data["modes"]["jacobian"]}
    assert jac["parameters"]["passes"] == {"forward_mode": 141, "reverse_mode": 5}
    assert jac["inputs"]["passes"] == {"forward_mode": 2, "reverse_mode": 5}
    assert "the Jacobian of the outputs" in html  # the chart's title
    t = make_report("toy", "1:4", tmp_path / "toy", "html")
    assert t.data["modes"]["hessian"]["agree"] is True
    assert max(v for v in t.data["modes"]["hessian"]["differences"].values()) < 1e-6
    assert "hessian_tree_nodes" in t.data["growth"][0]["rows"][0]
    # one verdict, in the same words, in the report, the terminal and Jupyter
    import derive
    verdict = t.data["modes"]["hessian"]["verdict"]
    assert verdict == "all 4 ways agree"
    assert f"Verdict: {verdict}." in (tmp_path / "toy" / "index.html").read_text()
    assert verdict in derive.hessian(derive.model("toy"))._repr_html_()
    assert str(derive.hessian(derive.model("toy"))).splitlines()[-1] == verdict


OFF_THE_BATCH = ["sin(b) + w*x", "b + w*x", "exp(c)*tanh(w*x + b)", "b*b + c*(w - x)**2"]


@pytest.mark.parametrize("batch", [1, 3, 17])
@pytest.mark.parametrize("text", OFF_THE_BATCH)
def test_forward_mode_sums_over_the_batch_off_the_inputs_path_too(run, text, batch):
    """A parameter whose path never meets the inputs (b in sin(b) + w·x) has one tangent
    for every entry of the batch: forward mode sums it over the batch as backprop does."""
    from derive.models.model import from_expression
    from derive.readings.modes import forward_gradients
    from derive.core.program import program
    b, c, w, x = sympy.symbols("b c w x")
    expr = parse(text)
    inputs = {x: np.linspace(-1.0, 1.0, batch) if batch > 1 else 0.3}
    m = from_expression(expr, {s: v for s, v in {b: 0.7, c: -0.4, w: 1.3}.items()
                               if s in expr.free_symbols}, inputs)
    p = program(m)
    value = p.forward(m.values)
    _, expected = p.summed(value, p.backward(value))
    found = forward_gradients(m)
    for s in m.wrt:
        assert found[s] == pytest.approx(expected[s], rel=1e-12, abs=1e-12), (text, s)


def test_jvp_of_an_offset_over_a_batch_of_three_counts_it_three_times():
    from derive.models.model import from_expression
    b, w, x = sympy.symbols("b w x")
    m = from_expression(b + w * x, {b: 1.0, w: 2.0}, {x: np.array([1.0, 2.0, 3.0])})
    assert jvp(m, {b: 1.0}) == 3.0 and jvp(m, {w: 1.0}) == 6.0


def test_check_and_jacobian_agree_off_the_batch_path(run, tmp_path):
    code, out, _ = run("check", "--expr", "sin(b) + w*x", "--param", "b=1", "--param", "w=2",
                       "--batch", "4", "--input", "x=1", "--json")
    data = json.loads(out)
    assert code == 0 and data["agree"] is True
    b = data["gradients"]["b"]
    assert b["backprop"] == pytest.approx(4 * math.cos(1.0), rel=1e-12)  # 4 entries of cos b
    assert b["forward_mode"] == pytest.approx(b["backprop"], rel=1e-12)
    (tmp_path / "x.csv").write_text("1\n2\n3\n")
    code, out, _ = run("jacobian", "--expr", "sin(b) + w*x", "--param", "b=1", "--param", "w=2",
                       "--input", f"x=@{tmp_path / 'x.csv'}", "--json")
    assert code == 0 and json.loads(out)["agree"] is True


FAMILY_SPECS = st.one_of(
    st.just("toy"),
    st.lists(st.sampled_from(ACTIVATIONS), min_size=1, max_size=6).map(
        lambda names: "chain:" + ",".join(names)),
    st.integers(1, 12).map(lambda n: f"logistic:{n}"),
    st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 3),
              st.sampled_from(["relu", "tanh", "sigmoid", "softplus"])).map(
        lambda t: f"mlp:{t[0]}-{t[1]}-{t[2]}:{t[3]}"))
"""Every family's grammar: the toy, chains of any activations, logistic maps, networks."""

ON_PATH = ["w*x", "sin(w*x)", "exp(w*x)*c", "tanh(w*x + b)", "x**2*w", "log1p(x**2)*w"]
OFF_PATH = ["b", "sin(b)", "b*c", "exp(c)", "cos(b)*c", "c**2"]
"""Terms of an --expr that read the batch's input x, and terms whose parameters' paths
never meet it (their tangent is the same for every entry: summed N times)."""


def _assert_forward_equals_backprop(m):
    """Forward mode's summed gradient against backprop's, to 1e-12 of ‖g‖∞ (the two add
    the same terms in different orders)."""
    p = program(m)
    value = p.forward(m.values)
    _, backprop = p.summed(value, p.backward(value))
    forward = forward_gradients(m)
    scale = max(abs(g) for g in backprop.values())
    for w in m.wrt:
        assert abs(forward[w] - backprop[w]) <= 1e-12 * max(scale, 1e-300), (m.name, str(w))


@settings(max_examples=200, deadline=None)
@given(spec=FAMILY_SPECS, seed=st.integers(0, 2**16), batch=st.integers(1, 12))
def test_forward_mode_equals_backprop_over_batches_in_every_family(spec, seed, batch):
    """Issue 28's Must show: over a seeded batch, in every family (the toy's and the
    logistic map's offsets, a chain's biases and a network's b_k are parameters whose
    path meets the inputs only through a sum)."""
    _assert_forward_equals_backprop(model(spec, seed=seed).batch(batch, seed))


@settings(max_examples=200, deadline=None)
@given(on=st.lists(st.sampled_from(ON_PATH), min_size=1, max_size=3),
       off=st.lists(st.sampled_from(OFF_PATH), min_size=1, max_size=3),
       seed=st.integers(0, 2**16), batch=st.integers(1, 12))
def test_forward_mode_equals_backprop_over_batches_of_any_expression(on, off, seed, batch):
    """An --expr whose parameters lie on the inputs' path (w), off it (b, c) or both."""
    from derive.models.model import from_expression
    expr = parse(" + ".join(on + off))
    draw = np.random.default_rng(seed)
    values = {s: float(draw.uniform(0.2, 1.5)) for s in expr.free_symbols if str(s) != "x"}
    x = sympy.Symbol("x")
    m = from_expression(expr, values, {x: draw.uniform(-1.0, 1.0, batch)} if batch > 1
                        else {x: float(draw.uniform(-1.0, 1.0))})
    _assert_forward_equals_backprop(m)
