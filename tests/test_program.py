"""One program, many readings: the same interpreter for scalar and matrix programs,
the chain rule read off the table, one family registry."""

import json

import numpy as np
import pytest

from derive import model, program, trace
from derive.present.notation import to_latex
from derive.core.program import expression_program, programs


def test_a_network_runs_as_a_matrix_program_of_table_rows():
    p = program(model("mlp:udl72"))
    assert p.kind == "matrix"
    assert [s.name for s in p.steps] == ["f0", "h1", "f1", "h2", "f2", "h3", "f3", "h4", "f4",
                                         "h5", "f5", "l"]
    assert [r.name for r in p.rules] == ["affine", "relu"] * 5 + ["affine", "least_squares"]
    assert str(p.steps[0].equation) == "Omega0*x + beta0"
    assert to_latex(p.steps[0].equation) == r"\beta_{0} + \Omega_{0} \cdot x"


def test_matrix_adjoints_equal_the_scalar_programs_entry_by_entry():
    m = model("mlp:1-3-4-2").batch(5, seed=2)
    matrix, scalar = programs(m)
    value, adjoint = matrix.forward(m.values), None
    adjoint = matrix.backward(value)
    s_value = scalar.forward(m.values)
    s_adjoint = scalar.backward(s_value)
    by_name = {step.name: step.node for step in scalar.steps}
    for step in matrix.steps[:-1]:
        for i in range(value[step.node].shape[0]):
            node = by_name[f"{step.name}[{i}]"]
            assert np.allclose(value[step.node][i], s_value[node], rtol=1e-14, atol=1e-15)
            assert np.allclose(adjoint[step.node][i], s_adjoint[node], rtol=1e-12, atol=1e-14)


def test_udl72_trace_shows_vectors_per_layer_read_off_the_program(run):
    code, out, _ = run("trace", "mlp:udl72", "--json")
    data = json.loads(out)
    assert code == 0
    assert [r["name"] for r in data["backward"]] == ["f5", "h5", "f4", "h4", "f3", "h3", "f2",
                                                     "h2", "f1", "h1", "f0"]
    assert all(len(r["adjoint"]) == (1 if r["name"] == "f5" else 6) for r in data["backward"])
    assert data["forward"][-1]["name"] == "l" and round(data["forward"][-1]["value"], 3) == 327.371


@pytest.mark.parametrize("spec", ["toy", "chain:tanh,relu,softplus", "logistic:6",
                                  "mlp:2-3-2:tanh"])
def test_forward_mode_equals_backprop_one_direction_at_a_time(spec):
    m = model(spec).batch(4, seed=1)
    p = program(m)
    value = p.forward(m.values)
    _, grads = p.summed(value, p.backward(value))
    where = p.locations()
    for w in m.wrt:
        leaf, index = where[w]
        direction = np.zeros(np.shape(value[leaf]))
        if index is None:
            direction = np.ones(np.shape(value[leaf]))
        else:
            direction[index] = 1.0
        tangent = p.tangents(value, {leaf: direction})[p.output]
        assert float(np.sum(tangent)) == pytest.approx(grads[w], rel=1e-12, abs=1e-12), str(w)


def test_the_chain_rule_column_is_the_rule_the_program_runs():
    t = trace(model("chain:tanh,sigmoid"))
    rule = {r["name"]: to_latex(r["rule"]) for r in t.backward}
    assert rule["f0"] == r"\left(1 - h_{1}^{2}\right) \cdot \frac{\partial \ell}{\partial h_{1}}"
    # sig' = h·sig[−f], not h·(1 − h), which cancels to 0 past f = 37 (test_precision)
    assert rule["f1"] == (r"\left(h_{2} \cdot \operatorname{sig}\left[- f_{1}\right]\right) "
                          r"\cdot \frac{\partial \ell}{\partial h_{2}}")
    assert rule["h1"] == r"\omega_{1} \cdot \frac{\partial \ell}{\partial f_{1}}"
    assert rule["f2"] == r"2 \cdot \left(f_{2} - y\right)"


def test_the_networks_chain_rule_is_the_books(tmp_path):
    t = trace(model("mlp:udl72"))
    rule = {r["name"]: to_latex(r["rule"]) for r in t.backward}
    assert rule["f5"] == r"2 \cdot \left(f_{5} - y\right)"
    assert rule["h5"] == r"\Omega_{5}^{T} \cdot \frac{\partial \ell}{\partial f_{5}}"
    assert rule["f4"] == (r"\mathbb{I}\left[f_{4} > 0\right] \cdot "
                          r"\frac{\partial \ell}{\partial h_{5}}")


def test_the_report_shows_the_rules_tanh_and_sigmoid_run(run, tmp_path):
    code, _, err = run("report", "chain:tanh,sigmoid", "--depth", "1:2", "--format", "html,tex",
                       "--out", str(tmp_path / "r"))
    assert code == 0, err
    data = json.loads((tmp_path / "r" / "data.json").read_text())
    chain = {r["name"]: r["chain"] for r in data["backward"]}
    assert chain["f0"].startswith(r"\left(1 - h_{1}^{2}\right)")
    assert chain["f1"].startswith(r"\left(h_{2} \cdot \operatorname{sig}\left[- f_{1}\right]")
    assert "mathml" not in json.dumps(data) and "<math" not in json.dumps(data)
    html = (tmp_path / "r" / "index.html").read_text()
    start = html.index('id="backward"')
    backward = html[start:html.index("Step 3", start)]
    assert backward.count("<tr data-name=") == len(data["backward"])
    assert backward.count("<math") == 2 * len(data["backward"])  # the name, its rule
    tex = (tmp_path / "r" / "report.tex").read_text()
    assert r"\left(1 - h_{1}^{2}\right)" in tex


def sizes_rows(run, *argv):
    code, out, err = run("sizes", *argv, "--json")
    assert code == 0, err
    return [{k: v for k, v in row.items() if not k.startswith("seconds")}
            for row in json.loads(out)["rows"]]


@pytest.mark.parametrize("depth,spellings", [
    ("1:6", ["toy", "chain:sin,exp,cos", "chain:sin,exp,cos*2", "sin,exp,cos"]),
    ("1:4", ["mlp:6", "mlp:6:relu", "mlp:1-6-6-1", "mlp:udl72"]),
    ("1:5", ["logistic", "logistic:9"]),
])
def test_sizes_takes_every_spelling_of_a_family(run, depth, spellings):
    rows = [sizes_rows(run, spec, "--depth", depth) for spec in spellings]
    assert all(r == rows[0] for r in rows[1:])
    assert len(rows[0]) == int(depth.split(":")[1])


@pytest.mark.parametrize("spec", ["chain:foo", "toy:3", "logistic:0", "mlp:1-x-1", "nope:1"])
def test_sizes_refuses_bad_names_in_one_line(run, spec):
    code, out, err = run("sizes", spec, "--depth", "1:3")
    assert code == 2 and out == "" and err.count("\n") == 1


def test_expression_program_of_a_scalar_model_is_its_program():
    m = model("toy")
    assert [s.name for s in expression_program(m).steps] == [s.name for s in program(m).steps]
    assert len(programs(m)) == 1 and len(programs(model("mlp:1-2-1"))) == 2


@pytest.mark.parametrize("spec", ["mlp:1-2-1", "mlp:2-3-2:tanh", "mlp:udl72"])
def test_a_network_checks_on_a_batch(run, spec):
    code, out, _ = run("check", spec, "--batch", "5", "--json")
    data = json.loads(out)
    assert code == 0 and data["agree"] is True


def test_a_toy_report_builds_each_program_once(monkeypatch):
    """Issue 23, "computed once": every section of a report reads the same program of an
    expression (the toy's was built ten times)."""
    import collections
    from derive.core import program as staged
    from derive.present.report import make_report
    built = collections.Counter()
    init = staged.Program.__init__

    def counted(self, ops, output, *args, **kwargs):
        built[output] += 1
        init(self, ops, output, *args, **kwargs)

    staged._PROGRAMS.clear()
    monkeypatch.setattr(staged.Program, "__init__", counted)
    make_report("toy", depth="1:3", formats=["html"], write=False, timestamp="t")
    assert built and max(built.values()) == 1, built.most_common(3)


def test_backward_faults_name_each_step_once_nearest_the_loss_first():
    """sqrt at 0 has a finite value and an infinite derivative: both square roots'
    steps are backward faults, f1 (nearer the loss) before f0, each at its origin."""
    from derive.models.user import from_text
    m = from_text("sqrt(w*x) + sqrt(b*x)", {"w": 0.0, "b": 0.0}, {"x": 1.0}, {"y": 1.0})
    assert trace(m).faults == [
        {"pass": "backward", "step": "f1", "kind": "derivative not finite", "entries": [],
         "count": 1},
        {"pass": "backward", "step": "f0", "kind": "derivative not finite", "entries": [],
         "count": 1}]
