"""Every input answered (issue 11, in part): generated code no name can fool, a model
that is a bare name, and wrong answers found by adversarial trials, each asserted with
the right value written in."""

import json

import numpy as np
import pytest

from derive.staged import trace
from derive.usermodels import from_text


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
    from derive.codegen import compile_source, source
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
