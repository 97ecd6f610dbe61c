"""Exact sizes without walking, growth laws, generated code, sizes/bench/code commands."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import sympy
from hypothesis import assume, given, settings, strategies as st

from derive import model, program
from derive.readings import codegen
from derive.core.graph import own_ops, sizes
from derive.checks.growth import TIMING_R2, describe, fit, fits, sweep, table1
from derive.readings.symbolic import dag_gradient

x, y, z = sympy.symbols("x y z")
leaves = st.sampled_from([x, y, z, sympy.Integer(2), sympy.Integer(3), sympy.Rational(1, 2)])


def _combine(children):
    unary = st.tuples(st.sampled_from([sympy.sin, sympy.exp, sympy.tanh]), children).map(
        lambda t: t[0](t[1]))
    binary = st.tuples(st.sampled_from(["add", "mul", "pow", "shared"]), children, children).map(
        _binary)
    return unary | binary


def _binary(t):
    op, a, b = t
    if op == "add":
        return sympy.Add(a, b, evaluate=False)
    if op == "mul":
        return sympy.Mul(a, b, evaluate=False)
    if op == "pow":
        return sympy.Pow(a, 2, evaluate=False)
    return sympy.Mul(a, sympy.Add(a, b, evaluate=False), evaluate=False)  # a is shared


expressions = st.recursive(leaves, _combine, max_leaves=25)
whole = st.recursive(st.sampled_from([x, y, z, sympy.Integer(2), sympy.Integer(3)]), _combine,
                     max_leaves=25)


def walk_ops(e):
    return own_ops(e) + sum(walk_ops(a) for a in e.args)


@settings(max_examples=200, deadline=None)
@given(expressions)
def test_sizes_equal_a_direct_walk(e):
    walked = list(sympy.preorder_traversal(e))
    s = sizes(e)
    assert s.tree_nodes == len(walked)
    assert s.dag_nodes == len(set(walked))
    assert s.ops == walk_ops(e)


@settings(max_examples=200, deadline=None)
@given(whole)
def test_ops_equals_count_ops_without_negation_or_division(e):
    # count_ops counts as SymPy prints; with no negative numbers, fractions or
    # negative powers both definitions agree (derive.core.graph.Sizes says where not);
    # count_ops expects evaluated expressions, so compare on the evaluated form
    e = e.doit()
    assume(all(not (n.is_Number and (n.is_negative or not n.is_Integer))
               for n in sympy.preorder_traversal(e)))
    assert sizes(e).ops == sympy.count_ops(e)


def test_sizes_of_a_list_share_across_it():
    s = sympy.sin(x)
    assert sizes([s, s]).dag_nodes == 2 and sizes([s, s]).tree_nodes == 4


def test_logistic_40_has_an_exact_swollen_tree_and_a_small_graph():
    [row] = sweep("logistic", [40], progress=None)
    assert row["gradient_tree_nodes"] > 10**12
    assert row["gradient_tree_nodes"] == 1410413456217067370490533
    assert row["gradient_dag_nodes"] < 400


def test_logistic_laws():
    laws = fits(sweep("logistic", range(1, 25), progress=None))
    assert laws["gradient_tree_nodes"]["law"] == "exponential"
    assert round(laws["gradient_tree_nodes"]["b"], 2) == 4.00  # Baydin et al.'s 4^n
    assert describe(laws["gradient_tree_nodes"]).startswith(
        "exponential: grows about 4.00 times per layer")
    for key in ("gradient_dag_nodes", "backprop_ops"):
        assert laws[key]["law"] == "linear", laws[key]


def test_the_toy_familys_loss_tree_is_called_linear():
    """5n + 11 nodes exactly: a power law n^0.81 fits the deeper half almost as well,
    and the criterion prefers the simpler law."""
    rows = sweep("sin,exp,cos", range(1, 13), progress=None)
    assert [r["loss_tree_nodes"] for r in rows] == [5 * n + 11 for n in range(1, 13)]
    law = fits(rows)["loss_tree_nodes"]
    assert law["law"] == "linear" and law["b"] == pytest.approx(5) and law["a"] == pytest.approx(11)
    assert describe(law) == "linear: about 5.0 more per layer, 5.0·n + 11.0 (R² 1.000)"


def test_noisy_timing_fits_are_not_stated_as_laws():
    law = fit([6, 7, 8, 9, 10, 11], [1.0, 3.0, 1.2, 2.9, 1.1, 3.3])
    assert law["r2"] < TIMING_R2
    assert describe(law, timing=True).startswith("too noisy to state a law")
    assert not describe(law).startswith("too noisy")


def test_the_sizes_text_states_no_timing_law_below_the_bar():
    """Issue 24: `derive sizes` printed a timing law at R² 0.869 (its text called describe
    without the timing rule); a noisy seconds column is now "too noisy" there too."""
    from derive.checks.growth import Sweep
    from derive.present.terminal import format_sweep
    rows = sweep("sin,exp,cos", range(1, 13), progress=None)
    noisy = [1.0, 3.0, 1.2, 2.9, 1.1, 3.3]  # the deeper half's seconds, R² far below 0.9
    for row, seconds in zip(rows[6:], noisy):
        row["seconds_sympy_diff"] = seconds
    laws = fits(rows)
    assert laws["seconds_sympy_diff"]["r2"] < TIMING_R2
    from derive.present.policy import SIZE_HEADERS
    laws_text = format_sweep(Sweep("sin,exp,cos", rows, laws)).split("growth laws")[1]
    seconds = next(line for line in laws_text.splitlines()
                   if line.strip().startswith(SIZE_HEADERS["seconds_sympy_diff"]))
    assert "too noisy to state a law" in seconds, seconds
    assert "linear: about 5.0 more per layer" in laws_text  # the sizes keep their laws


def test_sin_exp_cos_chain_laws():
    laws = fits(sweep("sin,exp,cos", range(1, 31), progress=None))
    assert laws["gradient_tree_nodes"]["law"] == "power"
    assert laws["gradient_tree_nodes"]["k"] > 2
    for key in ("gradient_cse_ops", "backprop_ops"):
        assert laws[key]["law"] == "linear" and laws[key]["b"] == pytest.approx(7, abs=0.1)


def test_fit_recovers_known_laws():
    n = list(range(1, 20))
    assert fit(n, [3 * k**2.5 for k in n]) == pytest.approx(
        {"law": "power", "k": 2.5, "a": 3.0, "r2": 1.0, "from_depth": 10})
    assert fit(n, [2**k for k in n])["b"] == pytest.approx(2.0)
    assert fit(n, [4 + 3 * k for k in n]) == pytest.approx(
        {"law": "linear", "a": 4.0, "b": 3.0, "r2": 1.0, "from_depth": 10})


@pytest.mark.parametrize("spec", ["toy", "chain:tanh,relu,softplus*3", "logistic:8",
                                  "chain:log,sqrt,sigmoid,square"])
def test_generated_code_lambdify_and_backprop_agree_on_random_inputs(spec):
    m = model(spec).batch(200, seed=7)
    gradient = dag_gradient(m.output, m.wrt)
    arguments = list(m.values)
    shape = np.shape(m.values[m.inputs[0]])
    generated = codegen.evaluate(gradient, arguments, m.values, shape)
    by_lambdify, fallback = codegen.numeric(gradient, arguments, m.values, shape)  # check's
    assert fallback is None  # lambdify ran (its unsorted printer: 3 times as fast)
    _, backprop = program(m).gradients(m.values)
    for w, g, lam in zip(m.wrt, generated, by_lambdify):
        b = backprop[w]
        assert abs(g - b) <= 1e-10 * max(1, abs(b)) and abs(lam - b) <= 1e-10 * max(1, abs(b))


def test_code_command_writes_a_standalone_file(run, tmp_path):
    target = tmp_path / "g.py"
    code, out, _ = run("code", "toy", "-o", str(target))
    assert code == 0 and out.strip() == str(target)
    text = target.read_text()
    assert "derive" not in text.split('"""', 2)[2]  # only numpy is imported
    done = subprocess.run([sys.executable, "-I", str(target)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split() for line in done.stdout.strip().splitlines())
    assert round(float(lines["dl_domega0"]), 3) == 5.246
    assert round(float(lines["loss"]), 3) == 0.139


def test_sizes_json_contract(run):
    code, out, _ = run("sizes", "sin,exp,cos", "--depth", "1:7", "--json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"family", "rows", "fits"}
    assert [r["depth"] for r in data["rows"]] == list(range(1, 8))
    assert set(data["rows"][0]) == {
        "depth", "parameters", "loss_tree_nodes", "loss_dag_nodes", "gradient_tree_nodes",
        "sympy_diff_tree_nodes", "gradient_dag_nodes", "gradient_ops", "gradient_cse_ops",
        "backprop_ops", "forward_mode_ops", "reverse_mode_ops", "seconds_sympy_diff",
        "seconds_dag_gradient"}
    assert data["rows"][2]["parameters"] == 8  # depth 3: the toy's structure


def test_sizes_csv(run):
    code, out, _ = run("sizes", "logistic", "--depth", "2:4", "--csv")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("depth,parameters,") and len(lines) == 4


def test_table1_matches_baydin_et_al():
    rows = table1(range(1, 5))
    expected = [1, 4 - 8 * x, 16 * (1 - 10 * x + 24 * x**2 - 16 * x**3),
                64 * (1 - 42 * x + 504 * x**2 - 2640 * x**3 + 7040 * x**4 - 9984 * x**5
                      + 7168 * x**6 - 2048 * x**7)]
    for row, paper in zip(rows, expected):
        assert sympy.expand(row["simplified"] - paper) == 0
        assert sympy.expand(row["derivative"] - paper) == 0


def test_table1_command(run):
    code, out, _ = run("sizes", "logistic", "--depth", "1:4", "--table1")
    assert code == 0
    assert ("64·(1 − 42·x + 504·x² − 2640·x³ + 7040·x⁴ − 9984·x⁵ + 7168·x⁶ − 2048·x⁷)"
            in out)  # the book's notation, not SymPy's (issue 24)
    assert "*" not in out and "−4·x·(−1 + x)" in out


def test_bench_json_contract(run):
    code, out, _ = run("bench", "toy", "--batch", "100", "--repeat", "1", "--json")
    data = json.loads(out)
    assert code == 0
    assert set(data["derivation"]) == {"sympy_diff", "dag"}
    assert set(data["compile"]) == {"lambdify", "lambdify_cse", "generated"}
    assert set(data["evaluation"]) == {"forward", "backprop", "forward_mode", "lambdify",
                                       "lambdify_cse", "generated"}
    assert set(data["ratios"]) == {"backprop_over_forward", "generated_over_backprop",
                                   "sympy_diff_over_dag", "lambdify_over_backprop",
                                   "lambdify_cse_over_backprop", "forward_mode_over_backprop"}
    assert data["model"] == "toy" and data["batch"] == 100 and "skipped" in data
    assert all(v > 0 for v in data["evaluation"].values())
    assert set(data) == {"model", "batch", "budget", "derivation", "compile", "evaluation",
                         "ratios", "skipped", "predicted", "environment", "threads",
                         "peak_bytes", "relative_error", "against"}
    assert data["budget"] == 20.0
    for section in ("derivation", "compile", "evaluation"):
        assert set(data["predicted"][section]) == set(data[section])
        assert all(s > 0 for s in data["predicted"][section].values())
    assert data["against"] == {"torch_autograd": None, "jax_grad": None,
                               "generated_torch": None, "generated_jax": None}
    assert set(data["peak_bytes"]) == {"forward", "backprop", "lambdify", "lambdify_cse",
                                       "generated"}
    assert all(e < 1e-12 for e in data["relative_error"].values())


def test_bench_skips_what_would_take_minutes_and_says_why(run):
    code, out, _ = run("bench", "chain:sin,exp,cos*22", "--batch", "10", "--repeat", "1",
                       "--json")
    data = json.loads(out)
    assert data["derivation"]["sympy_diff"] is None and "sympy_diff" in data["skipped"]
    assert data["compile"]["lambdify"] is None
    assert re.fullmatch(r"lambdify: about \d+ (s|min) predicted \(gradient tree [0-9,]+ nodes, "
                        r"3 runs\), over the 20 s budget; --budget to raise it",
                        data["skipped"]["lambdify"]), data["skipped"]["lambdify"]
    assert "predicted" in data["skipped"]["sympy_diff"]
    assert data["compile"]["generated"] > 0


def test_bench_budget_decides_what_runs(run):
    """The budget is compared with the prediction, never with a clock: a tiny budget skips
    every measurement (each saying its prediction), a large one none."""
    code, out, _ = run("bench", "toy", "--batch", "10", "--repeat", "1", "--json",
                       "--budget", "1e-9")
    data = json.loads(out)
    assert code == 0 and all(v is None for v in data["evaluation"].values())
    assert all("predicted" in why and "1e-09 s budget" in why
               for why in data["skipped"].values()), data["skipped"]
    code, out, _ = run("bench", "toy", "--batch", "10", "--repeat", "1", "--json",
                       "--budget", "1000")
    assert json.loads(out)["skipped"] == {}


@pytest.mark.parametrize("budget", ["0", "-1", "nan", "inf", "soon"])
def test_a_bad_budget_is_refused(run, budget):
    code, _, err = run("bench", "toy", "--budget", budget)
    assert code == 2 and err.count("\n") == 1 and "--budget" in err


def test_bad_depth_exits_2(run):
    for depth in ["0:3", "5:2", "a:b", "1:9999"]:
        code, _, err = run("sizes", "tanh", "--depth", depth)
        assert code == 2 and err.count("\n") == 1


def test_latex_chars_below_and_above_its_cap():
    from derive.present.notation import latex_chars
    from derive.present.notation import to_latex
    e = sympy.sin(x) * sympy.exp(y) + z
    assert latex_chars(e) == (len(to_latex(e)), None)
    [row] = sweep("logistic", [30], progress=None)
    from derive.models.model import logistic
    n, reason = latex_chars(dag_gradient(logistic(30).output, [x])[0])
    assert n is None and "tree nodes, above the cap" in reason


def test_staged_program_counts():
    counts = program(model("chain:tanh*5")).counts()
    assert counts["forward_steps"] < counts["backprop_ops"] <= 3 * counts["forward_steps"] + 5


def test_peak_memory_is_measured_on_the_same_code_without_its_line_table():
    """bench's peak memory runs each function with its line table emptied (tracemalloc
    scans it at every allocation: quadratic on a lambdified gradient): the same values
    and the same peak, and no line table left."""
    from derive.checks.bench import peak_bytes, without_lines
    m = model("chain:sin,exp,cos*2").batch(500, seed=3)
    gradient = dag_gradient(m.output, m.wrt)
    arguments = list(m.values)
    f = sympy.lambdify(arguments, gradient, modules="numpy")
    g = without_lines(f)
    values = [m.values[a] for a in arguments]
    assert g.__code__.co_linetable == b"" and f.__code__.co_linetable != b""
    assert all(np.array_equal(a, b) for a, b in zip(f(*values), g(*values)))
    assert peak_bytes(lambda: g(*values)) == peak_bytes(lambda: f(*values)) > 500 * 8
    assert without_lines(len) is len
