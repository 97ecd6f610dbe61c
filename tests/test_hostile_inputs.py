"""Every input answered (issue 11, in part): generated code no name can fool, a model
that is a bare name, and wrong answers found by adversarial trials, each asserted with
the right value written in."""

import json
import math

import numpy as np
import pytest

from derive.present.steps import trace
from derive.models.user import from_text


def generated(run, tmp_path, args):
    target = tmp_path / "g.py"
    code, _, err = run("code", *args, "-o", str(target))
    assert code == 0, err
    namespace = {}
    exec(compile(target.read_text(), str(target), "exec"), namespace)
    return target.read_text(), namespace["loss_and_gradient"]


def test_a_parameter_named_like_a_temporary_is_not_overwritten(run, tmp_path):
    # the trial's case: t1 was overwritten by a temporary, giving dl_dw 0.137 (right: 0.246)
    _, function = generated(run, tmp_path, ["--expr", "t1*sin(w*x)", "--param", "t1=0.7",
                                            "--param", "w=1.3", "--input", "x=0.9"])
    loss, dt1, dw = function(t1=0.7, w=1.3, x=0.9)
    assert dw == pytest.approx(0.7 * 0.9 * np.cos(1.3 * 0.9), rel=1e-14)
    assert dw == pytest.approx(0.2457955611, rel=1e-9)
    assert dt1 == pytest.approx(np.sin(1.17), rel=1e-14)


def test_symbols_named_like_every_temporary_helper_and_module_give_the_right_numbers(
        run, tmp_path):
    text = "np*erf(w*math) + t2*t3 + t1*relu(t4 - t5) + v1*gelu(t6)"
    values = {"np": 0.7, "w": 1.3, "t2": 1.0, "t3": 2.0, "t1": -0.4, "t4": 2.0, "t5": 0.5,
              "v1": 1.1, "t6": 0.3, "math": 0.9}
    args = ["--expr", text] + [f"--param={k}={v}" for k, v in values.items() if k != "math"]
    args += ["--input", "math=0.9"]
    source, function = generated(run, tmp_path, args)
    assert "import numpy as np_" in source and "import math as math_" in source
    results = function(**values)
    expected = trace(from_text(text, {k: v for k, v in values.items() if k != "math"},
                               {"math": 0.9}))
    assert results[0] == pytest.approx(expected.loss, rel=1e-14)
    assert list(results[1:]) == pytest.approx(list(expected.gradients.values()), rel=1e-12)
    code, out, _ = run("check", *args, "--json")
    assert code == 0 and json.loads(out)["agree"] is True


def test_an_infinite_constant_is_written_as_numpy_understands(tmp_path):
    import sympy
    from derive.readings.codegen import compile_source, source
    x = sympy.Symbol("x")
    function = compile_source(source([x + sympy.oo, x * sympy.nan, x - sympy.oo], [x]))
    plus, nan, minus = function(1.0)
    assert plus == np.inf and np.isnan(nan) and minus == -np.inf


def _reject(constant):
    raise ValueError(f"bare JSON constant {constant}")


@pytest.mark.parametrize("args", [
    ["trace", "--expr", "log(x)", "--param", "x=0"],
    ["check", "--expr", "1.0/x", "--param", "x=0"],
    ["check", "--expr", "sqrt(x)*w", "--param", "x=0", "--param", "w=2"],
    ["jacobian", "--expr", "log(x)", "--param", "x=0"],
    ["hessian", "--expr", "log(x)", "--param", "x=0"],
])
def test_json_outputs_are_strict_json_with_non_finite_values_as_strings(run, args):
    code, out, err = run(*args, "--json")
    assert code in (0, 1), err
    data = json.loads(out, parse_constant=_reject)
    assert "inf" in out or "nan" in out
    assert json.dumps(data, allow_nan=False)


def test_a_reports_data_json_is_strict_json(run, tmp_path):
    code, _, err = run("report", "--expr", "log(x)*w", "--param", "x=0", "--param", "w=1",
                       "--format", "html", "--out", str(tmp_path / "r"))
    assert code in (0, 1), err
    text = (tmp_path / "r" / "data.json").read_text()
    json.loads(text, parse_constant=_reject)
    assert '"-inf"' in text or '"inf"' in text or '"nan"' in text


# ---- singular and edge points, PyTorch float64 written in (torch.autograd.grad of the same
# text read as Python, computed once with PyTorch 2.13; nothing here imports torch) -------

INF, NAN = math.inf, math.nan
EDGE_CASES = [
    ('1.0/x', {'x': 0.0}, INF, {'x': -INF}),
    ('sin(x) + 3.0/y', {'x': 1.0, 'y': 0.0}, INF, {'x': 0.5403023058681398, 'y': -INF}),
    ('0.0**y', {'y': 2.0}, 0.0, {'y': 0.0}),
    ('0.0**y', {'y': 0.5}, 0.0, {'y': 0.0}),
    ('x**0.0', {'x': 0.0}, 1.0, {'x': 0.0}),
    ('x**0', {'x': 0.0}, 1.0, {'x': 0.0}),
    ('x**0.0', {'x': 2.5}, 1.0, {'x': 0.0}),
    ('log(x)', {'x': 0.0}, -INF, {'x': INF}),
    ('log(x)', {'x': 1e-07}, -16.11809565095832, {'x': 10000000.0}),
    ('sqrt(x)', {'x': 0.0}, 0.0, {'x': INF}),
    ('sqrt(x)', {'x': 1e-12}, 1e-06, {'x': 500000.0}),
    ('x**-2', {'x': 0.0}, INF, {'x': -INF}),
    ('x**-2', {'x': 1e-100}, 1e+200, {'x': -1.9999999999999998e+300}),
    ('exp(x)', {'x': 800.0}, INF, {'x': INF}),
    ('exp(x)', {'x': -800.0}, 0.0, {'x': 0.0}),
    ('sin(x)', {'x': 1000000.0}, -0.34999350217129294, {'x': 0.9367521275331447}),
    ('sin(x)', {'x': -1000000.0}, 0.34999350217129294, {'x': 0.9367521275331447}),
    ('cos(x)', {'x': 1000000.0}, 0.9367521275331447, {'x': 0.34999350217129294}),
    ('cos(x)', {'x': -1000000.0}, 0.9367521275331447, {'x': -0.34999350217129294}),
    ('tan(x)', {'x': 1000000.0}, -0.373624453987599, {'x': 1.1395952326175316}),
    ('tan(x)', {'x': -1000000.0}, 0.373624453987599, {'x': 1.1395952326175316}),
    ('x**3', {'x': 1e+200}, INF, {'x': INF}),
    ('x*w/w', {'x': 1.0, 'w': 0.0}, NAN, {'x': NAN, 'w': NAN}),
    ('exp(log(w))', {'w': -1.0}, NAN, {'w': NAN}),
    ('(w**0.5)**2', {'w': -4.0}, NAN, {'w': NAN}),
    ('log(x)', {'x': -1.0}, NAN, {'x': -1.0}),
    ('sqrt(x)', {'x': -1.0}, NAN, {'x': NAN}),
    ('x**0.5', {'x': 0.0}, 0.0, {'x': INF}),
    ('x**y', {'x': 0.0, 'y': 2.0}, 0.0, {'x': 0.0, 'y': 0.0}),
    ('x**y', {'x': -2.0, 'y': 3.0}, -8.0, {'x': 12.0, 'y': NAN}),
    ('tanh(x)', {'x': 1000.0}, 1.0, {'x': 0.0}),
    ('sigmoid(x)', {'x': -1000.0}, 0.0, {'x': 0.0}),
    ('softplus(x)', {'x': 1000.0}, 1000.0, {'x': 1.0}),
    ('softplus(x)', {'x': -1000.0}, 0.0, {'x': 0.0}),
    ('logsigmoid(x)', {'x': -1000.0}, -1000.0, {'x': 1.0}),
    ('exp(x)/exp(x)', {'x': 800.0}, NAN, {'x': NAN}),
    ('x*x', {'x': 1e+200}, INF, {'x': 2e+200}),
    ('1.0/(x*x)', {'x': 1e-200}, INF, {'x': -INF}),
    ('abs(x)', {'x': 0.0}, 0.0, {'x': 0.0}),
    ('relu(x)', {'x': 0.0}, 0.0, {'x': 0.0}),
    ('arcsin(x)', {'x': 1.0}, 1.5707963267948966, {'x': INF}),
    ('arccos(x)', {'x': -1.0}, 3.141592653589793, {'x': -INF}),
    ('arctanh(x)', {'x': -1.0}, -INF, {'x': INF}),
    ('log1p(x)', {'x': -1.0}, -INF, {'x': INF}),
    ('expm1(x)', {'x': 1000.0}, INF, {'x': INF}),
    ('cbrt(x)', {'x': 0.0}, 0.0, {'x': INF}),
]


def _finite(case):
    _, _, value, gradient = case
    return math.isfinite(value) and all(math.isfinite(g) for g in gradient.values())


@pytest.mark.parametrize("text,point,value,gradient", EDGE_CASES, ids=[
    f"{c[0]} at {c[1]}" for c in EDGE_CASES])
def test_singular_and_edge_points_agree_with_pytorch_or_report_the_fault(
        run, text, point, value, gradient):
    t = trace(from_text(text, point, {}))
    for name, expected in gradient.items():
        if math.isfinite(expected) and math.isfinite(t.gradients[name]):
            assert t.gradients[name] == pytest.approx(expected, rel=1e-10, abs=1e-300), name
    args = ["check", "--expr", text] + [f"--param={k}={v!r}" for k, v in point.items()]
    code, out, err = run(*args)
    if _finite((text, point, value, gradient)):
        assert t.faults == [] and t.loss == pytest.approx(value, rel=1e-12, abs=1e-300)
        assert code == 0, out + err
    else:
        assert t.faults, "a non-finite value must be reported where it starts"
        assert code == 1 and "numeric faults" in out and "Warning" not in err, out + err


def test_there_are_at_least_forty_edge_cases():
    assert len(EDGE_CASES) >= 40


# ---- every crash and wrong answer the trials found, as its command line --------------
# (args, exit code, text that must appear in stdout+stderr); files are made in tmp_path.

TRIALS = [
    (["check", "--expr", "1.0/x", "--param", "x=0.0"], 1, "division by zero"),
    (["check", "--expr", "sin(x) + 3.0/y", "--param", "x=1", "--param", "y=0"], 1,
     "division by zero"),
    (["check", "--expr", "log(w)", "--param", "w=0"], 1, "log of zero"),
    (["check", "--expr", "w^3", "--param", "w=1e200"], 1, "overflow in pow"),
    (["check", "--expr", "f", "--param", "f=0", "--target", "y=1", "--loss",
      "binary_cross_entropy"], 1, "log of zero"),
    (["check", "--expr", "f", "--param", "f=1", "--target", "y=0", "--loss",
      "binary_cross_entropy"], 1, "log of zero"),
    (["check", "chain:log,tanh*100", "--param", "beta0=0", "--param", "omega0=0"], 1,
     "numeric faults"),
    (["check", "--expr", "0.0**y", "--param", "y=1"], 0, "all agree"),
    (["check", "--expr", "w*(10^64)^64", "--param", "w=1"], 1, "overflow in pow"),
    (["check", "--expr", "w*((10^64)^64)^64", "--param", "w=1"], 1, "overflow in pow"),
    (["check", "--expr", "w*exp(exp(1e15))", "--param", "w=1"], 1, "numeric faults"),
    (["check", "--expr", "w*log(-1)", "--param", "w=1"], 2, "is not a real number"),
    (["check", "--expr", "w*log(0)", "--param", "w=1"], 1, "log of zero"),
    (["check", "--expr", "w*(-1)^0.5", "--param", "w=1"], 2, "is not a real number"),
    (["check", "--expr", "w*(-8)^(1/3)", "--param", "w=1"], 2, "is not a real number"),
    (["check", "--expr", "w/0.0", "--param", "w=1"], 2, "division by zero"),
    (["check", "--expr", "w*0.0^-1", "--param", "w=1"], 2, "division by zero"),
    (["report", "--expr", "w", "--param", "w=1", "--format", "html", "--out", "r1"], 0, "r1"),
    (["report", "logistic:1", "--format", "html", "--out", "r2"], 0, "r2"),
    (["check", "--batch", "99999999999999999999999"], 2, "--batch must be"),
    (["check", "--batch", "1000000000"], 2, "--batch must be"),
    (["check", "--batch", "3", "--seed", "-1"], 2, "--seed must be"),
    (["check", "--expr", "w*x", "--param", "w=1", "--input", "x=@ok.csv", "--batch", "5"], 2,
     "already holds a batch"),
    (["bench", "--expr", "w*x", "--param", "w=1", "--input", "x=@ok.csv", "--repeat", "1",
      "--json"], 0, '"batch": 3'),
    (["bench", "toy", "--repeat", "100000000"], 2, "--repeat"),
    (["check", "--expr", "w*x", "--param", "w=1", "--input", "x=@archive.npy"], 2,
     "not an .npy array"),
    (["check", "--expr", "w*x", "--param", "w=1", "--input", "x=@huge.npy"], 2,
     "must hold 1 to"),
    (["check", "--expr", "w*x", "--param", "w=1", "--input", "x=@passwd.csv"], 2,
     "line 1 of passwd.csv"),
    (["check", "bad_loss.toml"], 2, "'loss' and 'title' must be strings"),
    (["check", "loss_table.toml"], 2, "'loss' and 'title' must be strings"),
    (["check", "digits400.toml"], 2, "400 digits is out of range"),
    (["check", "digits5000.toml"], 2, "bad model file digits5000.toml"),
    (["check", "outside.toml"], 2, "a model file may name only files in its own folder"),
    (["check", "--expr", "x*w/w", "--param", "x=1", "--param", "w=0"], 1, "division by zero"),
    (["check", "--expr", "exp(log(w))", "--param", "w=-1"], 1, "log of a negative number"),
    (["check", "--expr", "(w^0.5)^2", "--param", "w=-4"], 1, "power of a negative number"),
    (["trace", "--expr", "x**0.0", "--param", "x=0.0", "--json"], 0, '"x": 0.0'),
    (["check", "--expr", "w", "--param", "w=1", "--wrt", "w,w,w"], 2, "'w' is repeated"),
    (["check", "--expr", "sin(x)", "--param", "x=1e6"], 0, "(unreliable)"),
    (["check", "--expr", "cos(x)", "--param", "x=-1e6"], 0, "(unreliable)"),
    (["check", "--expr", "tan(x)", "--param", "x=1e6"], 0, "(unreliable)"),
    (["check", "--expr", "sqrt(w)", "--param", "w=1e-12"], 0, "(domain)"),
    # a title is only a title: the batch is drawn as for any expression (its output f, no
    # target so no loss, summed over the batch: 14.448)
    (["check", "--expr", "w*x", "--param", "w=1", "--input", "x=5", "--batch", "3",
      "--title", "logistic"], 0, "output f = 14.4477"),
    (["trace", "--expr", "f + l*sin(x)", "--param", "f=1", "--param", "l=2", "--input",
      "x=0.5", "--target", "y=1"], 0, "v1    f + l·h₁"),  # your l is not ℓ
    (["check", "--expr", "log(w)", "--param", "w=1e-7"], 0, "(domain)"),
    # issue 28's false disagreements: every exact method agrees, and a method that cannot
    # be trusted at the point is flagged with its reason, not counted
    (["check", "--expr", "sin(w)", "--param", "w=1e15"], 0, "(unreliable)"),
    (["check", "--expr", "tan(w)", "--param", "w=1.5707963267948966"], 0, "(unreliable)"),
    (["check", "--expr", "arcsin(w)", "--param", "w=0.9999999999999999"], 0,
     "complex step flagged (unreliable)"),
    (["check", "--expr", "w*w", "--param", "w=1e-300"], 0, "complex step flagged (underflow)"),
    (["check", "--expr", "exp(-700)*w", "--param", "w=1"], 0, "complex step flagged (underflow)"),
    (["check", "--expr", "; ".join(["h1 = w*w"] + [f"h{i} = h{i - 1}*h{i - 1}"
                                                   for i in range(2, 61)]),
      "--param", "w=0.9999999999999999"], 0, "complex step flagged (unreliable)"),
]


@pytest.fixture
def trial_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.csv").write_text("1,2,3\n")
    (tmp_path / "passwd.csv").write_text("root:x:0:0:root:/root:/bin/bash\n")
    np.savez(tmp_path / "archive", a=np.ones(3))
    (tmp_path / "archive.npz").rename(tmp_path / "archive.npy")
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }"
    header += b" " * (117 - len(header)) + b"\n"
    (tmp_path / "huge.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                                        + header + b"\x00" * 8)
    body = '[params]\nw = 1\n[inputs]\nx = 1\n'
    (tmp_path / "bad_loss.toml").write_text('expr = "w*x"\nloss = ["a"]\n' + body)
    (tmp_path / "loss_table.toml").write_text('expr = "w*x"\n[loss]\na = 1\n' + body)
    (tmp_path / "digits400.toml").write_text(f'expr = "w*x"\n[params]\nw = {"9" * 400}\n')
    (tmp_path / "digits5000.toml").write_text(f'expr = "w*x"\n[params]\nw = {"9" * 5000}\n')
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "s.csv").write_text("1,2,3\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "outside.toml").write_text(
        'expr = "w*x"\n[params]\nw = 1\n[inputs]\nx = "@/etc/hostname"\n')
    return tmp_path


@pytest.mark.parametrize("args,code,text", TRIALS, ids=[" ".join(t[0])[:60] for t in TRIALS])
def test_every_trial_input_is_answered(run, trial_files, args, code, text):
    got, out, err = run(*args)
    assert got == code, out + err
    assert text in out + err
    assert "internal error" not in err and "Warning" not in err
    if "root:x:0:0" in (trial_files / "passwd.csv").read_text():
        assert "root:x" not in out + err  # an error never quotes a file's content


def test_a_model_files_path_outside_its_folder_needs_allow_path(run, trial_files):
    (trial_files / "models" / "m.toml").write_text(
        'expr = "w*x"\n[params]\nw = 1\n[inputs]\nx = "@../secret/s.csv"\n')
    code, _, err = run("check", "models/m.toml")
    assert code == 2 and "--allow-path" in err
    code, out, err = run("check", "models/m.toml", "--allow-path", "secret")
    assert code == 0, err


@pytest.mark.parametrize("row,expr,at,partial", [
    ("sin", "sin(x)", "1e6", lambda m, a, out, i: m.cos(a[0]) + 0.1),
    ("sin", "sin(x)", "1e15", lambda m, a, out, i: m.cos(a[0]) + 0.1),
    ("tan", "tan(x)", "1.5707963267948966", lambda m, a, out, i: 1.1 * (1 + out * out)),
    ("arcsin", "arcsin(x)", "0.9999999999999999", lambda m, a, out, i:
     1.1 / m.sqrt(1 - a[0] * a[0])),
])
def test_a_wrong_gradient_is_still_caught_where_a_numeric_method_is_flagged(
        run, monkeypatch, row, expr, at, partial):
    """A row's rule made wrong by 10%: where the central difference or the complex step
    cannot be trusted (sin at 1e6 and 1e15, tan at π/2, arcsin next to 1), sympy.diff
    (SymPy's own rule) or the complex step (whose own error estimate cannot explain 10%)
    still disagrees with backprop: a flag never hides a wrong rule."""
    from derive.core.rules import PRIMITIVES, primitive
    import dataclasses
    monkeypatch.setitem(PRIMITIVES, row, dataclasses.replace(PRIMITIVES[row], partial=partial))
    code, out, _ = run("check", "--expr", expr, "--param", f"x={at}")
    assert code == 1 and "DISAGREE: x" in out
    assert primitive  # the table's own constructor is the one a new row uses


def test_relative_errors_on_tiny_gradients_are_caught():
    """A 17% error on gradients of 1e-26 is a disagreement: exact methods are compared at
    the gradient's own scale, not against an absolute 1e-10."""
    from derive.checks.check import TOLERANCES
    tol = TOLERANCES["symbolic"]
    assert not tol.agree(1.932e-26, 1.602e-26, gradient=1.932e-26)
    assert tol.agree(1.602e-26 * (1 + 1e-12), 1.602e-26, gradient=1.602e-26)
    assert tol.agree(1.0 + 1e-11, 1.0, gradient=1.0)


def test_the_python_api_raises_derive_errors_for_wrong_types_and_converts_numbers():
    import sympy
    import derive
    from derive import DeriveError, from_expression
    from derive.checks.check import check
    from derive.testing import assert_gradients_agree
    w, b, x, y = sympy.symbols("w b x y")
    bad = [lambda: derive.model(123), lambda: trace("toy"), lambda: check(123),
           lambda: derive.size_sweep("logistic", 5),
           lambda: from_expression(w * x, {w: 1.0}, {x: 1.0}, {y: 1.0}, loss="nope"),
           lambda: derive.model("toy").batch(2.5),
           lambda: assert_gradients_agree(derive.model("toy"), rtol="x"),
           lambda: from_expression(w * x, {w: "a"}, {x: 1.0}),
           lambda: from_expression(3, {w: 1.0}, {}),
           lambda: from_expression(w * x, {w: 1.0}, {x: 1.0}, wrt=[y])]
    for call in bad:
        with pytest.raises(DeriveError):
            call()
    # Python ints become float64 at the boundary: no silent int64 overflow
    t = trace(from_expression((w * b - x) ** 2, {w: 3 * 10**9, b: 4 * 10**9}, {x: 1}))
    assert t.gradients["w"] == pytest.approx(9.6e28, rel=1e-12)
    assert t.gradients["b"] == pytest.approx(7.2e28, rel=1e-12)
    assert check(from_expression(w * x * b, {w: 3 * 10**9, b: 4 * 10**9}, {x: 1})).loss \
        == pytest.approx(1.2e19, rel=1e-12)


def test_assert_gradients_agree_raises_assertion_error_naming_the_fault():
    import sympy
    from derive import from_expression
    from derive.testing import assert_gradients_agree
    w = sympy.Symbol("w")
    with pytest.raises(AssertionError, match="log of zero"):
        assert_gradients_agree(from_expression(sympy.log(w), {w: 0.0}, {}))


# ---- Hypothesis: random expressions and points never crash a command -----------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

CONSTANTS = st.sampled_from(["0", "0.0", "1", "2", "0.5", "1e15", "1e-15", "10^64",
                             "(10^64)^64", "(0-1)", "3.0"])
FUNCTIONS = ["sin", "exp", "log", "sqrt", "tanh", "relu", "abs", "arcsin", "log1p", "tan",
             "gelu", "cbrt", "sign"]


def _expressions():
    leaf = st.one_of(st.sampled_from(["x", "w"]), CONSTANTS)

    def grow(children):
        binary = st.tuples(st.sampled_from(["+", "-", "*", "/", "^", "**"]), children,
                           children).map(lambda t: f"({t[1]}{t[0]}{t[2]})")
        call = st.tuples(st.sampled_from(FUNCTIONS), children).map(lambda t: f"{t[0]}({t[1]})")
        two = st.tuples(st.sampled_from(["max", "min", "hypot", "arctan2"]), children,
                        children).map(lambda t: f"{t[0]}({t[1]}, {t[2]})")
        branch = st.tuples(st.sampled_from(["<", ">=", "=="]), children, children, children,
                           children).map(lambda t: f"where({t[1]} {t[0]} {t[2]}, {t[3]}, {t[4]})")
        return binary | call | two | branch

    return st.recursive(leaf, grow, max_leaves=8)


POINTS = st.sampled_from(["0", "0.0", "-1", "1", "1e-12", "1e6", "-1e6", "1e200", "800",
                          "0.5", "-0.5"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(text=_expressions(), x=POINTS, w=POINTS,
       command=st.sampled_from(["check", "trace", "jacobian"]))
def test_random_expressions_and_points_never_crash(run, text, x, w, command):
    code, out, err = run(command, "--expr", f"w*({text})", "--param", f"w={w}",
                         "--param", f"x={x}", "--json")
    assert code in (0, 1, 2), err
    assert "internal error" not in err and "Warning" not in err
    if code in (0, 1):
        json.loads(out, parse_constant=_reject)
    else:
        assert out == "" and err.startswith("derive: error:")


def test_names_are_shown_as_typed_and_distinct():
    from derive.models.parser import parse
    from derive.present.notation import to_latex
    from derive.present.mathml import mathml
    e = parse("w*x__2 + x1 + x_1 + xAbs + xnorm + xprime")
    latex, html = to_latex(e), mathml(e)
    for shown in (r"\mathrm{x\_\_2}", "x_{1}", r"\mathrm{x\_1}", r"\mathrm{xAbs}",
                  r"\mathrm{xnorm}", r"\mathrm{xprime}"):
        assert shown in latex
    for shown in ("<mi>x__2</mi>", "<msub><mi>x</mi><mn>1</mn></msub>", "<mi>x_1</mi>",
                  ">xAbs</mi>", ">xnorm</mi>", ">xprime</mi>"):
        assert shown in html
    assert "|" not in html and "&#8242;" not in html and "<msup>" not in html


def test_generated_code_computes_constants_in_float64(run, tmp_path):
    """(10^64)^64 in generated code is inf under IEEE rules, not a Python OverflowError."""
    source, function = generated(run, tmp_path, ["--expr", "w*((10^64)^64)^64 + w*2^3",
                                                 "--param", "w=1"])
    assert "np.float64(10) ** np.float64(64)" in source
    with np.errstate(all="ignore"):
        loss, dw = function(w=np.float64(1.0))
    assert loss == np.inf and dw == np.inf
