"""Deep networks: notebook 7.2's network, matrix backprop against symbols and the scalar program."""

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from derive import check, dag_gradient, model, program, trace
from derive.readings import codegen
from derive.models.network import build, default_values
from derive.core.program import expression_program


def test_udl72_trace_prints_the_notebooks_output_and_loss(run):
    code, out, _ = run("trace", "mlp:udl72")
    assert code == 0
    assert "[1.907]" in out and "loss 327.371" in out
    t = trace(model("mlp:udl72"))
    assert round(t.forward["f5"]["value"][0], 3) == 1.907
    assert round(t.loss, 3) == 327.371
    assert len(t.gradients) == 187


def test_udl72_uses_the_notebooks_draws_in_its_order():
    m = model("mlp:udl72")
    state = np.random.get_state()
    np.random.seed(0)
    omega0, omega5 = np.random.normal(size=(6, 1)), np.random.normal(size=(1, 6))
    beta0, beta5 = np.random.normal(size=(6, 1)), np.random.normal(size=(1, 1))
    omega1 = np.random.normal(size=(6, 6))
    np.random.set_state(state)
    v = {str(s): x for s, x in m.values.items()}
    assert v["Omega0[3,0]"] == omega0[3, 0] and v["Omega5[0,4]"] == omega5[0, 4]
    assert v["beta0[2]"] == beta0[2, 0] and v["beta5[0]"] == beta5[0, 0]
    assert v["Omega1[1,2]"] == omega1[1, 2]
    assert v["x"] == 1.2 and v["y"] == 20.0


def test_udl72_check_exits_0_with_all_187_gradients_agreeing(run):
    code, out, _ = run("check", "mlp:udl72", "--json")
    data = json.loads(out)
    assert code == 0 and data["agree"] is True
    assert len(data["parameters"]) == 187
    assert data["parameters"][:2] == ["Omega0[0,0]", "Omega0[1,0]"]
    result = check(model("mlp:udl72"))
    for row in result.rows:
        b = row["backprop"]
        for method in ("symbolic", "scalar_staged"):
            assert abs(row[method] - b) <= 1e-10 * max(1.0, abs(b)), (row["name"], method)


networks = st.tuples(st.lists(st.integers(1, 5), min_size=1, max_size=4),
                     st.integers(1, 3), st.integers(1, 3),
                     st.sampled_from(["tanh", "sigmoid", "softplus", "relu"]),
                     st.integers(0, 2**16), st.integers(1, 20))


@settings(max_examples=25, deadline=None)
@given(networks)
def test_matrix_backprop_equals_the_symbolic_gradient(spec):
    hidden, d_in, d_out, act, seed, batch = spec
    dims = (d_in, *hidden, d_out)
    W, b, x, y = default_values(dims, act, seed)
    m = build(dims, act, W, b, x, y, "random").batch(batch, seed)
    assert program(m).kind == "matrix"
    matrix = program(m).gradients(m.values)[1]
    shape = (batch,)
    symbolic = codegen.evaluate(dag_gradient(m.output, m.wrt), list(m.values), m.values, shape)
    _, scalar = expression_program(m).gradients(m.values)
    for w, g in zip(m.wrt, symbolic):
        assert abs(matrix[w] - g) <= 1e-10 * max(1.0, abs(g)), (dims, act, str(w))
        assert abs(matrix[w] - scalar[w]) <= 1e-10 * max(1.0, abs(g))


def test_a_finite_difference_across_the_relu_kink_is_flagged_not_a_disagreement(run):
    # beta0[0] = -Omega0[0,0] * x puts the first pre-activation exactly at the kink
    m = model("mlp:1-2-1")
    v = {str(s): val for s, val in m.values.items()}
    beta = -v["Omega0[0,0]"] * v["x"]
    code, out, _ = run("check", "mlp:1-2-1", "--param", f"beta0[0]={beta!r}", "--json")
    assert code == 0 and json.loads(out)["agree"] is True
    from dataclasses import replace
    values = dict(m.values)
    values[next(s for s in m.values if str(s) == "beta0[0]")] = beta
    result = check(replace(m, values=values))
    flagged = [r["name"] for r in result.rows if r["kink"]]
    assert "beta0[0]" in flagged and "Omega0[0,0]" in flagged
    assert result.agree
    assert any("kink" in n for n in result.notes)


@pytest.mark.parametrize("spec,message", [
    ("mlp:", "at least two widths"), ("mlp:1", "at least two widths"),
    ("mlp:1-0-1", "widths from 1"), ("mlp:1-6-1:nope", "unknown activation 'nope'"),
    ("mlp:1-x-1", "at least two widths"), ("mlp:1-300-1", "widths from 1"),
])
def test_bad_mlp_strings_exit_2(run, spec, message):
    code, _, err = run("check", spec)
    assert code == 2 and message in err and err.count("\n") == 1


def test_sizes_sweeps_networks_over_depth_and_width(run):
    code, out, _ = run("sizes", "mlp:3", "--depth", "1:8", "--json")
    depth = json.loads(out)
    assert code == 0 and depth["fits"]["gradient_tree_nodes"]["law"] == "exponential"
    assert depth["fits"]["backprop_ops"]["law"] == "linear"
    code, out, _ = run("sizes", "mlp-width:2", "--depth", "1:8", "--json")
    width = json.loads(out)
    assert code == 0 and [r["parameters"] for r in width["rows"]][:2] == [2 + 2 + 2, 4 + 6 + 3]


def test_bench_times_the_matrix_form(run):
    code, out, _ = run("bench", "mlp:1-3-3-1", "--batch", "100", "--repeat", "1", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["evaluation"]["matrix_forward"] > 0 and data["evaluation"]["matrix_backprop"] > 0
    assert data["ratios"]["matrix_backprop_over_forward"] > 0


def test_report_for_a_network_has_layer_tables_heatmaps_and_two_sweeps(tmp_path):
    import importlib
    report = importlib.import_module("derive.present.report")
    result = report.make_report("mlp:1-3-3-1", "1:4", tmp_path / "net", ["html"], timestamp="t")
    html = (tmp_path / "net" / "index.html").read_text()
    assert "Layer 0:" in html and "Layer 2:" in html
    assert '<table id="layers"' in html and '<details id="all-gradients">' in html
    assert "∂ℓ/∂Ω₂" in html  # the heatmap panel titles, in the book's notation
    assert [g["axis"] for g in result.data["growth"]] == ["depth", "width"]
    assert len(result.data["layers"]) == 3
    # each sweep's charts say which sweep they draw (titles are SVG text)
    for title in ("size of the gradient by depth", "size of the gradient by width",
                  "the whole gradient by depth: forward mode against reverse mode",
                  "the whole gradient by width: forward mode against reverse mode"):
        assert html.count(f">{title}<") == 1, title
