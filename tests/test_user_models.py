"""Your own models: the parser executes nothing, hostile input gets exit 2, nothing is lost."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st

from derive import model
from derive.models.parser import LIMITS, ParseError, parse
from derive.models.user import from_toml

ROOT = Path(__file__).resolve().parent.parent
TOY_EXPR = "beta3 + omega3*cos(beta2 + omega2*exp(beta1 + omega1*sin(beta0 + omega0*x)))"
TOY_VALUES = ["--param", "beta0=1.0", "--param", "omega0=0.1", "--param", "beta1=2.0",
              "--param", "omega1=-0.4", "--param", "beta2=-3.0", "--param", "omega2=2.0",
              "--param", "beta3=0.4", "--param", "omega3=3.0", "--input", "x=2.3",
              "--target", "y=2.0"]

HOSTILE_EXPRESSIONS = {
    "python call": "__import__('os').system('touch canary')",
    "lambda": "lambda: __import__('os').system('touch canary')",
    "attribute": "x.__class__",
    "dunder name": "__class__",
    "subscript": "x[0]",
    "f-string": "f'{x}'",
    "comprehension": "[x for x in y]",
    "walrus": "(y := 2)",
    "semicolon": "x; import os",
    "1 MB": "x+" * 500_000 + "x",
    "10,000 nested parentheses": "(" * 10_000 + "x" + ")" * 10_000,
    "deep nesting within length": "(" * 2_000 + "x" + ")" * 2_000,
    "huge exponent": "10**10**10",
    "huge literal": "1" * 400,
    "cyrillic look-alike": "\u0455in(x)",
    "fullwidth x": "\uff58 + 1",
    "empty": "",
    "whitespace only": "   \t ",
    "unknown function": "eval(x)",
    "division by zero": "x/0",
}


def run_cli(*argv) -> tuple[int, str, str]:
    completed = subprocess.run([sys.executable, "-m", "derive.cli", *argv], capture_output=True,
                               text=True)
    return completed.returncode, completed.stdout, completed.stderr


@pytest.mark.parametrize("label,text", HOSTILE_EXPRESSIONS.items(), ids=list(HOSTILE_EXPRESSIONS))
def test_hostile_expressions_exit_2_execute_nothing_write_nothing(run, tmp_path, monkeypatch,
                                                                  label, text):
    monkeypatch.chdir(tmp_path)
    code, out, err = run("report", "--expr", text, "--param", "x=1", "--out", "out")
    assert code == 2, err
    assert err.startswith("derive: error: ") and "Traceback" not in err
    assert len(err.splitlines()) <= 3  # the message, then at most the text and a caret
    assert list(tmp_path.iterdir()) == []  # no canary, no report, no reports/ folder


@pytest.mark.parametrize("argv", [
    ["--param", "\\input{/etc/passwd}=1"],
    ["--param", "<script>=1"],
    ["--input", "x=__import__('os')"],
    ["--input", "x=nan"],
    ["--title", "\\write18{touch canary}"],
    ["--title", "<script>alert(1)</script>"],
    ["--title", "\\catcode`\\@=11"],
], ids=["tex name", "html name", "python value", "nan value", "tex title", "html title",
        "catcode title"])
def test_injection_in_names_titles_and_values_exit_2(run, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, _, err = run("report", "--expr", "w*x", "--param", "w=1", "--input", "x=1", *argv,
                       "--out", "out")
    assert code == 2 and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_injection_in_a_model_file_title_exits_2(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("m.toml").write_text('title = "\\\\input{x}"\nexpr = "w*x"\n[params]\nw = 1.0\n'
                              '[inputs]\nx = 1.0\n')
    code, _, err = run("report", "m.toml", "--out", "out")
    assert code == 2 and "bad title" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.toml"]


def test_a_parse_error_shows_the_text_and_a_caret(run):
    code, _, err = run("check", "--expr", "b + w*x.y", "--param", "b=1", "--param", "w=1",
                       "--input", "x=1")
    lines = err.splitlines()
    assert code == 2
    assert lines[0] == "derive: error: unexpected character '.' at column 8"
    assert lines[1].strip() == "b + w*x.y"
    assert lines[2].index("^") == lines[1].index(".")


def test_undeclared_names_are_named(run):
    code, _, err = run("check", "--expr", "b + w*x", "--param", "b=1", "--input", "x=1")
    assert code == 2 and "undeclared name 'w'" in err


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_our_error(text):
    try:
        parse(text)
    except ParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="xy12.()+-*/^e sincoexptah", max_size=40))
def test_text_near_the_grammar_raises_only_our_error(text):
    try:
        parse(text)
    except ParseError:
        pass


NAMES = [sympy.Symbol(n) for n in ("x", "w0", "beta_1", "E", "pi")]
leaf = st.one_of(st.sampled_from(NAMES).map(lambda s: (s.name, s)),
                 st.integers(1, 50).map(lambda n: (str(n), sympy.Integer(n))))


def _grow(children):
    binary = st.tuples(st.sampled_from(["+", "-", "*", "/"]), children, children).map(
        lambda t: (f"({t[1][0]} {t[0]} {t[2][0]})",
                   {"+": t[1][1] + t[2][1], "-": t[1][1] - t[2][1],
                    "*": t[1][1] * t[2][1], "/": t[1][1] / t[2][1]}[t[0]]))
    power = st.tuples(children, st.integers(1, 3)).map(
        lambda t: (f"({t[0][0]})^{t[1]}", t[0][1] ** t[1]))
    negate = children.map(lambda c: (f"-({c[0]})", -c[1]))
    call = st.tuples(st.sampled_from(["sin", "tanh", "exp", "sigmoid", "relu"]), children).map(
        lambda t: (f"{t[0]}({t[1][0]})", __import__("derive").PRIMITIVES[t[0]].sympy(t[1][1])))
    return binary | power | negate | call


def evaluated(expr):
    """The expression as SymPy would have built it, evaluating every node (the parser
    builds it as written)."""
    if not expr.args:
        return expr
    return expr.func(*[evaluated(a) for a in expr.args])


@settings(max_examples=300, deadline=None)
@given(st.recursive(leaf, _grow, max_leaves=12))
def test_grammar_expressions_parse_to_what_they_denote(pair):
    text, expected = pair
    assume_nonzero = expected.has(sympy.zoo) or expected.has(sympy.nan)
    if assume_nonzero:
        return  # a division by an expression that SymPy folds to zero
    assert evaluated(parse(text)) == expected


def test_limits_are_enforced():
    with pytest.raises(ParseError, match="nesting deeper"):
        parse("(" * (LIMITS["nesting"] + 1) + "x" + ")" * (LIMITS["nesting"] + 1))
    assert parse("(" * 50 + "x" + ")" * 50) == sympy.Symbol("x")
    with pytest.raises(ParseError, match="more than 1000 distinct names"):
        parse("+".join(f"a{i}" for i in range(1001)))
    with pytest.raises(ParseError, match="constant exponent"):
        parse("x**65")


def test_the_toy_model_file_reproduces_the_built_in_toy_exactly():
    mine, built_in = from_toml(ROOT / "examples" / "toy.toml"), model("toy")
    assert mine.output == built_in.output
    assert [str(s) for s in mine.wrt] == [str(s) for s in built_in.wrt]
    from derive import check
    a, b = check(mine), check(built_in)
    assert a.loss == b.loss
    for ra, rb in zip(a.rows, b.rows):
        assert ra["name"] == rb["name"]
        for method in ("backprop", "symbolic", "central_difference", "complex_step"):
            assert ra[method] == rb[method]


def test_check_expr_with_the_toy_written_by_hand_matches_check_toy(run):
    code, out, _ = run("check", "--expr", TOY_EXPR, *TOY_VALUES, "--json")
    _, reference, _ = run("check", "toy", "--json")
    mine, ref = json.loads(out), json.loads(reference)
    assert code == 0
    assert mine["gradients"] == ref["gradients"] and mine["loss"] == ref["loss"]


def test_batch_inputs_from_csv_and_npy(run, tmp_path):
    xs = np.linspace(0.5, 3.0, 7)
    (tmp_path / "x.csv").write_text("\n".join(map(str, xs)))
    np.save(tmp_path / "y.npy", np.cos(xs))
    code, out, err = run("check", "--expr", "b + w*tanh(x)", "--param", "b=0.1", "--param",
                         "w=0.7", "--input", f"x=@{tmp_path / 'x.csv'}", "--target",
                         f"y=@{tmp_path / 'y.npy'}", "--json")
    data = json.loads(out)
    assert code == 0, err
    f = 0.1 + 0.7 * np.tanh(xs)
    assert data["loss"] == pytest.approx(np.sum((f - np.cos(xs)) ** 2), rel=1e-13)
    assert data["gradients"]["w"]["backprop"] == pytest.approx(
        np.sum(2 * (f - np.cos(xs)) * np.tanh(xs)), rel=1e-12)


def test_binary_cross_entropy(run):
    code, out, _ = run("check", "--expr", "sigmoid(b + w*x)", "--param", "b=0.2", "--param",
                       "w=-0.5", "--input", "x=1.5", "--target", "y=1", "--loss",
                       "binary_cross_entropy", "--json")
    data = json.loads(out)
    p = 1 / (1 + np.exp(-(0.2 - 0.5 * 1.5)))
    assert code == 0
    assert data["loss"] == pytest.approx(-np.log(p), rel=1e-13)
    assert data["gradients"]["b"]["backprop"] == pytest.approx(p - 1, rel=1e-12)


def test_overflow_is_named_by_step_and_check_exits_1(run):
    code, out, _ = run("trace", "chain:exp*6", "--param", "beta3=800", "--json")
    faults = json.loads(out)["faults"]
    assert code == 0
    assert faults[0] == {"pass": "forward", "step": "h4", "kind": "overflow in exp",
                         "entries": [], "count": 1}
    code, out, _ = run("check", "chain:exp*6", "--param", "beta3=800")
    assert code == 1
    assert "forward pass, step h4: overflow in exp" in out
    assert "NaN and infinity never count as agreement" in out


def test_faults_name_the_batch_entries(run, tmp_path):
    (tmp_path / "x.csv").write_text("-1, 2, 3, 0.5, -4")
    code, out, _ = run("check", "--expr", "log(a*x)", "--param", "a=1", "--input",
                       f"x=@{tmp_path / 'x.csv'}", "--json")
    data = json.loads(out)
    assert code == 1 and data["agree"] is False
    assert data["faults"][0]["step"] == "f" and data["faults"][0]["entries"] == [0, 4]
    assert data["faults"][0]["kind"] == "log of a negative number"


@pytest.mark.parametrize("command", [["sizes", "tanh"], ["report", "--out", "never"]])
def test_max_seconds_must_be_positive(run, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(*command, "--max-seconds", "0")
    assert code == 2 and "--max-seconds must be a positive number" in err
    assert list(tmp_path.iterdir()) == []


def test_max_seconds_stops_a_sweep_and_keeps_finished_rows(run):
    code, out, err = run("sizes", "sin,exp,cos", "--depth", "1:400", "--max-seconds", "0.3",
                         "--json")
    data = json.loads(out)
    assert code == 0
    assert 1 <= len(data["rows"]) < 400 and "max-seconds" in data["stopped"]
    assert [r["depth"] for r in data["rows"]] == list(range(1, len(data["rows"]) + 1))


def test_an_internal_error_exits_3_with_a_hint(run, monkeypatch):
    import derive.present.steps  # the command imports trace from here when it runs
    monkeypatch.setattr(derive.present.steps, "trace", lambda m: 1 / 0)
    code, _, err = run("trace")
    assert code == 3 and "--debug" in err and err.count("\n") == 1


def test_a_report_killed_midway_leaves_the_previous_one_intact(tmp_path):
    out = tmp_path / "toy"
    quick = ["--depth", "1:3", "--format", "html,tex", "--budget", "0.001"]  # about the kill
    code, _, err = run_cli("report", "--out", str(out), *quick)
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    process = subprocess.Popen([sys.executable, "-m", "derive.cli", "report", "--out", str(out),
                                *quick, "--timestamp", "next"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".toy.new.")
                                             for p in tmp_path.iterdir()):
        time.sleep(0.02)  # wait until it is writing its new report
    time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before


def test_a_report_of_your_own_batch_model(run, tmp_path):
    (tmp_path / "x.csv").write_text("0.5\n1.0\n1.5\n")
    (tmp_path / "y.csv").write_text("1\n0\n1\n")
    code, out, err = run("report", "--expr", "sigmoid(b + w*x)", "--param", "b=0.1",
                         "--param", "w=0.3", "--input", f"x=@{tmp_path / 'x.csv'}",
                         "--target", f"y=@{tmp_path / 'y.csv'}", "--loss",
                         "binary_cross_entropy", "--title", "Logistic regression",
                         "--out", str(tmp_path / "out"), "--format", "html,tex")
    assert code == 0, err
    html = (tmp_path / "out" / "index.html").read_text()
    assert "derive report: Logistic regression" in html
    assert "binary cross-entropy" in html and "No family sweep" in html
    data = json.loads((tmp_path / "out" / "data.json").read_text())
    assert data["model"]["inputs"][0]["value"] == [0.5, 1.0, 1.5]
    assert data["agree"] is True


def test_steps_of_your_own_model_are_named_the_notebooks_way():
    from derive import program
    names = [s.name for s in program(from_toml(ROOT / "examples" / "toy.toml")).steps]
    assert names == ["f0", "h1", "f1", "h2", "f2", "h3", "f", "l"]
    from derive.models.user import from_text
    taken = from_text("h1*sin(x) + cos(x)", {"h1": 1.0}, {"x": 2.0})  # h1: the user's name
    steps = [s.name for s in program(taken).steps]
    assert sorted(steps) == ["f", "h2", "v1"] and "h1" not in steps
