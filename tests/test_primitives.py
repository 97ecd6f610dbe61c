"""One spec table drives the tests of every row of the rule table: a new row is
tested by adding it, and a row added at run time works in every reading."""

import json

import numpy as np
import pytest
import sympy

from derive import primitives
from derive.primitives import (AFFINE, ARITHMETIC, LOSSES, NUMERIC, PRIMITIVES, SYMBOLIC,
                               lambdify_modules, primitive)

UNARY = list(PRIMITIVES.values())
z = sympy.Symbol("z")


def points(row, n=25, seed=0):
    lo, hi = row.domain
    return np.random.default_rng(seed).uniform(lo, hi, n)


# Every row with its argument shapes and a domain to draw from: (row, shapes, low, high).
SPECS = ([(r, [(25,)], *r.domain) for r in UNARY]
         + [(ARITHMETIC[sympy.Add], [(7,), (7,), (7,)], -2.0, 2.0),
            (ARITHMETIC[sympy.Mul], [(7,), (7,), (7,)], -2.0, 2.0),
            (ARITHMETIC[sympy.Pow], [(7,), (7,)], 0.3, 2.0),
            (LOSSES["least_squares"], [(3, 4), (3, 4)], -2.0, 2.0),
            (LOSSES["binary_cross_entropy"], [(5,), (5,)], 0.1, 0.9),
            (AFFINE, [(3, 1), (3, 2), (2, 4)], -1.0, 1.0)])
IDS = [spec[0].name for spec in SPECS]


def draw(spec, seed=0):
    _, shapes, lo, hi = spec
    rng = np.random.default_rng(seed)
    return [rng.uniform(lo, hi, shape) for shape in shapes]


def to_shape(adjoint, shape):
    """An adjoint summed down to its argument's shape (β_k meets one column per example)."""
    adjoint = np.broadcast_to(adjoint, np.broadcast_shapes(np.shape(adjoint), shape))
    axes = tuple(a for a, (n, s) in enumerate(zip(adjoint.shape, shape)) if s == 1 and n != 1)
    return adjoint.sum(axis=axes, keepdims=True) if axes else adjoint


def loss_of(row, args):
    """A scalar test function of the row's output: a fixed random weighting."""
    out = row.forward(*args)
    weights = np.random.default_rng(99).uniform(0.5, 1.5, np.shape(out))
    return float(np.sum(weights * out)), weights


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_vjp_matches_central_differences(spec):
    row, args = spec[0], draw(spec)
    out = row.forward(*args)
    _, bar = loss_of(row, args)
    for i, arg in enumerate(args):
        got = to_shape(row.vjp_of(NUMERIC, args, out, bar, i), arg.shape)
        h = 1e-6
        for index in np.ndindex(arg.shape):
            up, down = [a.copy() for a in args], [a.copy() for a in args]
            up[i][index] += h
            down[i][index] -= h
            expected = (loss_of(row, up)[0] - loss_of(row, down)[0]) / (2 * h)
            assert got[index] == pytest.approx(expected, rel=1e-6, abs=1e-6), (row.name, i, index)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_jvp_and_vjp_are_transposes(spec):
    """<bar, J·dot> = Σ_i <J_iᵀ·bar, dot_i> for random bar and dots."""
    row, args = spec[0], draw(spec)
    dots = draw(spec, seed=1)
    out = row.forward(*args)
    bar = np.random.default_rng(2).uniform(-1, 1, np.shape(out))
    forward = np.sum(bar * row.jvp_of(NUMERIC, args, out, dots))
    reverse = sum(np.sum(to_shape(row.vjp_of(NUMERIC, args, out, bar, i), d.shape) * d)
                  for i, d in enumerate(dots))
    assert forward == pytest.approx(reverse, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("row", UNARY, ids=lambda r: r.name)
def test_symbolic_partial_matches_the_numeric_one(row):
    x = points(row)
    node = row.sympy(z)
    derivative = sympy.lambdify(z, row.partial(SYMBOLIC, (z,), node, 0),
                                modules=lambdify_modules())
    assert np.allclose(np.broadcast_to(derivative(x), x.shape),
                       row.partial(NUMERIC, (x,), row.forward(x), 0), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("row", UNARY, ids=lambda r: r.name)
def test_forward_matches_sympy_where_sympy_knows_the_function(row):
    x = points(row, 5)
    for value in x:
        exact = row.sympy(sympy.Float(value))
        if exact.is_Number:
            assert float(row.forward(value)) == pytest.approx(float(exact), rel=1e-13)


@pytest.mark.parametrize("row", [r for r in UNARY if r.analytic], ids=lambda r: r.name)
def test_analytic_rows_support_the_complex_step(row):
    x = points(row)
    h = 1e-20
    assert np.allclose(np.imag(row.forward(x + 1j * h)) / h,
                       row.partial(NUMERIC, (x,), row.forward(x), 0), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", list(LOSSES))
def test_a_loss_row_builds_the_formula_its_code_computes(name):
    f, y = sympy.symbols("f y")
    formula = sympy.lambdify((f, y), LOSSES[name].build(f, y))
    assert float(LOSSES[name].forward(0.3, 0.7)) == pytest.approx(float(formula(0.3, 0.7)),
                                                                  rel=1e-14)


def test_a_sympy_function_with_no_rule_fails_naming_it():
    from derive import DeriveError
    from derive.symbolic import dag_gradient
    with pytest.raises(DeriveError, match="'Abs'"):
        dag_gradient(sympy.Abs(z), [z])


# ---- a row added at run time works everywhere, with nothing else changed -------------


@pytest.fixture
def cube(monkeypatch):
    """x³ as a new primitive: its own SymPy function, a helper in generated code."""
    row = primitive("cube", "x * x * x", lambda m, a, out, i: 3 * a[0] ** 2,
                    r"\left({}\right)^{{3}}", domain=(-1.0, 1.0))
    monkeypatch.setitem(PRIMITIVES, "cube", row)
    return row


def test_a_new_row_runs_in_trace_check_code_and_report(cube, run, tmp_path):
    code, out, _ = run("trace", "chain:cube,tanh", "--json")
    assert code == 0
    data = json.loads(out)
    assert [r["name"] for r in data["forward"]] == ["f0", "h1", "f1", "h2", "f2", "l"]
    assert data["forward"][1]["equation"] == r"\left(f_{0}\right)^{3}"
    f0 = data["forward"][0]["value"]
    assert data["forward"][1]["value"] == pytest.approx(f0**3, rel=1e-15)

    code, out, _ = run("check", "chain:cube,tanh", "--json")
    assert code == 0 and json.loads(out)["agree"] is True

    target = tmp_path / "g.py"
    code, _, _ = run("code", "chain:cube,tanh", "-o", str(target))
    source = target.read_text()
    assert code == 0 and "def cube(x):" in source and "return x * x * x" in source
    namespace = {}
    exec(compile(source, str(target), "exec"), namespace)
    loss = namespace["loss_and_gradient"](**data["parameters"], **data["inputs"], y=data["target"])
    assert loss[0] == pytest.approx(data["loss"], rel=1e-14)
    assert loss[1:] == pytest.approx(list(data["gradients"].values()), rel=1e-10)

    code, out, err = run("report", "chain:cube,tanh", "--depth", "1:3", "--format", "html,tex",
                         "--out", str(tmp_path / "report"))
    assert code == 0, err
    report = json.loads((tmp_path / "report" / "data.json").read_text())
    assert report["agree"] is True and report["growth"][0]["family"] == "cube,tanh"
    assert r"\left(f_{0}\right)^{3}" in (tmp_path / "report" / "report.tex").read_text()


def test_the_new_row_is_checked_by_the_spec_table(cube):
    spec = (cube, [(25,)], *cube.domain)
    test_vjp_matches_central_differences(spec)
    test_jvp_and_vjp_are_transposes(spec)
    test_symbolic_partial_matches_the_numeric_one(cube)
    assert "cube" in primitives.activations()


# An independent reference for each row: SymPy's own function (or formula), whose
# derivative SymPy takes by its own rules, not the table's.
r = sympy.Symbol("r", real=True)
REFERENCES = {
    "sin": sympy.sin(r), "cos": sympy.cos(r), "exp": sympy.exp(r), "log": sympy.log(r),
    "tanh": sympy.tanh(r), "sigmoid": 1 / (1 + sympy.exp(-r)),
    "softplus": sympy.log(1 + sympy.exp(r)), "relu": sympy.Max(r, 0), "square": r**2,
    "sqrt": sympy.sqrt(r), "tan": sympy.tan(r), "arcsin": sympy.asin(r),
    "arccos": sympy.acos(r), "arctan": sympy.atan(r), "sinh": sympy.sinh(r),
    "cosh": sympy.cosh(r), "arcsinh": sympy.asinh(r), "arccosh": sympy.acosh(r),
    "arctanh": sympy.atanh(r), "erf": sympy.erf(r), "erfc": sympy.erfc(r),
    "log2": sympy.log(r, 2), "log10": sympy.log(r, 10), "log1p": sympy.log(1 + r),
    "expm1": sympy.exp(r) - 1, "exp2": 2**r, "cbrt": sympy.cbrt(r),
    "silu": r / (1 + sympy.exp(-r)), "gelu": r / 2 * (1 + sympy.erf(r / sympy.sqrt(2))),
    "elu": sympy.Piecewise((r, r > 0), (sympy.exp(r) - 1, True)),
    "selu": sympy.Float("1.0507009873554804934193349852946") * sympy.Piecewise(
        (r, r > 0), (sympy.Float("1.6732632423543772848170429916717") * (sympy.exp(r) - 1),
                     True)),
    "softsign": r / (1 + sympy.Abs(r)), "logsigmoid": -sympy.log(1 + sympy.exp(-r)),
    "abs": sympy.Abs(r), "sign": sympy.sign(r), "indicator": sympy.Heaviside(r, 0),
}


def test_every_row_has_a_reference():
    assert set(REFERENCES) == set(PRIMITIVES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_and_derivative_equal_sympys_own(name):
    row = PRIMITIVES[name]
    x = points(row, 15, seed=3)
    forward = sympy.lambdify(r, REFERENCES[name], modules=["numpy", {"erf": np.vectorize(
        __import__("math").erf), "erfc": np.vectorize(__import__("math").erfc)}])
    derivative = sympy.lambdify(r, sympy.diff(REFERENCES[name], r), modules=[
        "numpy", {"erf": np.vectorize(__import__("math").erf),
                  "DiracDelta": lambda v: 0.0 * v}])
    assert np.allclose(row.forward(x), np.broadcast_to(forward(x), x.shape), rtol=1e-13,
                       atol=1e-14)
    assert np.allclose(row.partial(NUMERIC, (x,), row.forward(x), 0),
                       np.broadcast_to(derivative(x), x.shape), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("alias,name", [("asin", "arcsin"), ("acos", "arccos"),
                                        ("atan", "arctan"), ("asinh", "arcsinh"),
                                        ("acosh", "arccosh"), ("atanh", "arctanh"),
                                        ("swish", "silu")])
def test_aliases_parse_to_the_row(alias, name):
    from derive.parser import parse
    assert parse(f"{alias}(x)") == parse(f"{name}(x)")


def test_new_primitives_check_in_chains(run):
    for spec in ["chain:gelu,silu,elu*4", "chain:tan,arctan,sinh,arcsinh,erf,softsign",
                 "chain:log2,exp2,cbrt,log1p,expm1,logsigmoid,selu,abs"]:
        code, out, err = run("check", spec, "--json")
        assert code == 0 and json.loads(out)["agree"] is True, (spec, err)
