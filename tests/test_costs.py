"""Predicted costs: the formula, and what each command does with a prediction over budget.

Predictions are compared with the clock by `derive bench` (the README's table), never here:
these tests check the formula and the decisions it drives, which no CPU changes.
"""

import json
import re

import pytest

from derive import model
from derive.readings.costs import RATES, predict
from derive.core.graph import sizes
from derive.readings.symbolic import dag_gradient, diff_gradient, diff_tree_nodes


def test_the_formula_is_fixed_plus_size_times_batch_rate_plus_overhead():
    for method, rate in RATES.items():
        one = predict(method, 1000, batch=10)
        assert one.seconds == pytest.approx(rate.fixed + 1000 * (rate.per_unit * 10 + rate.per_op))
        three = predict(method, 1000, batch=10, runs=3)
        assert three.seconds == pytest.approx(3 * one.seconds)
        assert three.each == pytest.approx(one.seconds)
        assert predict(method, 2000, batch=10).seconds > one.seconds


def test_over_budget_says_the_method_the_prediction_and_the_size():
    p = predict("lambdify", 175_000, runs=4)
    assert p.over(200.0) is None and p.over(None) is None
    said = re.fullmatch(r"lambdify: about (\d+) s predicted \(gradient tree 175,000 nodes, "
                        r"4 runs\), over the 20 s budget; --budget to raise it", p.over(20.0))
    assert said and float(said.group(1)) == pytest.approx(p.seconds, abs=0.5)
    assert p.seconds == pytest.approx(4 * (0.05 + 175_000 * 1.5e-4))


@pytest.mark.parametrize("spec", ["toy", "chain:tanh*6", "logistic:6", "mlp:1-3-3-1"])
def test_sympy_diffs_trees_are_estimated_within_a_factor_of_three(spec):
    m = model(spec)
    built = sizes(diff_gradient(m.output, m.wrt)).tree_nodes
    assert built / 3 <= diff_tree_nodes(m.output, m.wrt) <= 3 * built


def test_the_gradient_tree_is_measured_not_printed():
    m = model("chain:sin,exp,cos*11")
    assert sizes(dag_gradient(m.output, m.wrt)).tree_nodes == 145_411


def test_check_samples_what_the_budget_affords_and_says_so(run):
    code, out, _ = run("check", "chain:tanh*20", "--budget", "1e-6", "--json")
    data = json.loads(out)
    assert code == 0 and data["agree"] is True
    compared = [g for g in data["gradients"].values() if g["central_difference"] is not None]
    assert len(compared) == 1  # the budget affords the least sample: one variable
    code, out, _ = run("check", "chain:tanh*20", "--budget", "1e-6")
    assert "seeded sample of 1 of 42 variables" in out and "predicted" in out
    assert "sympy.diff skipped: sympy.diff: about" in out


def test_sizes_stops_before_a_depth_predicted_past_the_budget(run):
    code, out, _ = run("sizes", "sin,exp,cos", "--depth", "1:6", "--budget", "1e-9", "--json")
    data = json.loads(out)
    assert code == 0 and [r["depth"] for r in data["rows"]] == [1]
    assert data["stopped"].startswith("depth 2: about ") and "1e-09 s budget" in data["stopped"]
    assert all(r["sympy_diff_tree_nodes"] is None for r in data["rows"])


def test_where_a_sweep_stops_is_predicted_from_sizes_not_the_clock():
    from derive.checks.growth import row_seconds, sweep_until
    from derive.models.families import member
    rows, stopped = sweep_until("tanh", range(1, 41), budget=0.05)
    deepest = rows[-1]["depth"]
    total = sum(row_seconds(member("tanh", d, 0)).seconds for d in range(1, deepest + 1))
    after = row_seconds(member("tanh", deepest + 1, 0)).seconds
    assert total <= 0.05 < total + after and stopped.startswith(f"depth {deepest + 1}:")
    assert sweep_until("tanh", range(1, 41), budget=0.05) [0][-1]["depth"] == deepest


def test_a_report_honours_the_budget(tmp_path, run):
    code, _, err = run("report", "--budget", "1e-9", "--depth", "1:3", "--format", "html",
                       "--out", str(tmp_path / "r"))
    assert code == 0
    data = json.loads((tmp_path / "r" / "data.json").read_text())
    assert data["growth"][0]["stopped"] and "budget" in err
    assert any("sympy.diff skipped" in n for n in data["notes"])


def test_sympy_diffs_prediction_grows_with_depth_past_100_levels():
    """Past DIFF_DEEP_FROM levels the trees' prediction is multiplied by (depth / 100)²
    and says so; at most 100 deep it is the trees' alone."""
    import sympy
    from derive.readings.symbolic import DIFF_DEEP_FROM, diff_seconds
    w, x = sympy.symbols("w x")
    deep_chain = w * x
    for _ in range(199):
        deep_chain = sympy.sin(deep_chain)
    for output, wrt in ((deep_chain, [w]), (model("toy").output, model("toy").wrt)):
        depth = sizes(output).depth
        trees = predict("sympy_diff", diff_tree_nodes(output, wrt), runs=3)
        factor = max(1.0, depth / DIFF_DEEP_FROM) ** 2
        found = diff_seconds(output, wrt, runs=3)
        assert found.seconds == pytest.approx(trees.seconds * factor) and found.runs == 3
        assert (f"for {depth} levels" in found.basis) == (depth > DIFF_DEEP_FROM)
    assert sizes(deep_chain).depth == 201


def test_the_hessians_methods_are_predicted_from_graph_operations_and_variables():
    from derive.readings.hessian import hessian_seconds
    from derive.core.program import program
    m = model("mlp:1-8-8-1")
    p, n = program(m), len(m.wrt)
    cost = hessian_seconds(m, m.wrt, p)
    assert cost["symbolic"].seconds == pytest.approx(
        RATES["symbolic_hessian"].fixed + sizes(m.output).dag_nodes * n * 1.3e-4)
    assert cost["forward_over_reverse"].seconds == pytest.approx(p.backprop_ops() * n * 3e-5)
    assert cost["central_difference"].seconds == pytest.approx(p.backprop_ops() * n * 1e-4)


def test_the_hessian_skips_what_the_budget_does_not_afford_and_says_so(run):
    # mlp:1-8-8-1: symbolic about 2.7 s predicted (217 graph nodes x 97 variables),
    # forward-over-reverse 0.09 s, central differences 0.3 s
    code, out, err = run("hessian", "mlp:1-8-8-1", "--budget", "1", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["hessian"]["symbolic"] is None and data["hessian"]["sympy_diff"] is None
    assert len(data["hessian"]["central_difference"]) == 97 and data["agree"]
    code, out, _ = run("hessian", "mlp:1-8-8-1", "--budget", "1")
    assert re.search(r"note: symbolic: about \d(\.\d)? s predicted \(loss graph nodes × "
                     r"variables 21,049\), over the 1 s budget; --budget to raise it", out), out


def test_a_hessian_past_its_limits_is_refused_before_work(run):
    # 1,153 variables: over the 1,000 a Hessian may have
    code, out, err = run("hessian", "mlp:1-32-32-1")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "1,153 variables has 1,329,409 entries, 11 MB as float64" in err
    assert "at most 1,000 variables" in err and "predicted" in err
    # forward-over-reverse itself predicted over the budget: refused, not run
    code, out, err = run("hessian", "chain:tanh*100", "--budget", "1")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert re.search(r"forward-over-reverse: about \d(\.\d)? s predicted", err), err
