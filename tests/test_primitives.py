"""One spec table drives the tests of every row of the rule table: a new row is
tested by adding it, and a row added at run time works in every reading."""

import json

import numpy as np
import pytest
import sympy

from derive.core import rules
from derive.core.arithmetic import NUMERIC, SYMBOLIC
from derive.core.rules import (AFFINE, ARITHMETIC, COMPARISONS, LOSSES, PRIMITIVES,
                               lambdify_modules, primitive)

FUNCTIONS = [r for r in PRIMITIVES.values() if r.partial is not None]  # elementwise rows
UNARY = [r for r in FUNCTIONS if r.arity == 1]
WHERE = PRIMITIVES["where"]
z = sympy.Symbol("z")
zs = sympy.symbols("z0:3")


def points(row, n=25, seed=0):
    """n draws of each argument of an elementwise row over its domain (one array each)."""
    lo, hi = row.domain
    rng = np.random.default_rng(seed)
    return [rng.uniform(lo, hi, n) for _ in row.params]


class Condition:
    """where's first argument: a comparison's outcome, true or false per entry."""


# Every row with its argument shapes and a domain to draw from: (row, shapes, low, high).
SPECS = ([(r, [(25,)] * r.arity, *r.domain) for r in FUNCTIONS]
         + [(WHERE, [Condition, (25,), (25,)], -2.0, 2.0)]
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
    return [rng.uniform(lo, hi, 25) > 0 if shape is Condition else rng.uniform(lo, hi, shape)
            for shape in shapes]


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
    for i, arg in row.differentiable(args):
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
                  for i, d in row.differentiable(dots))
    assert forward == pytest.approx(reverse, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("row", FUNCTIONS, ids=lambda r: r.name)
def test_symbolic_partial_matches_the_numeric_one(row):
    xs = points(row)
    symbols = zs[:row.arity]
    node = row.sympy(*symbols)
    for i in range(row.arity):
        derivative = sympy.lambdify(symbols, row.partial(SYMBOLIC, symbols, node, i),
                                    modules=lambdify_modules())
        assert np.allclose(np.broadcast_to(derivative(*xs), xs[0].shape),
                           row.partial(NUMERIC, xs, row.forward(*xs), i),
                           rtol=1e-12, atol=1e-14), (row.name, i)


@pytest.mark.parametrize("row", UNARY, ids=lambda r: r.name)
def test_forward_matches_sympy_where_sympy_knows_the_function(row):
    [x] = points(row, 5)
    for value in x:
        exact = row.sympy(sympy.Float(value))
        if exact.is_Number:
            assert float(row.forward(value)) == pytest.approx(float(exact), rel=1e-13)


@pytest.mark.parametrize("row", [r for r in FUNCTIONS if r.analytic], ids=lambda r: r.name)
def test_analytic_rows_support_the_complex_step(row):
    xs = points(row)
    h = 1e-20
    for i in range(row.arity):
        moved = [x + 1j * h if j == i else x for j, x in enumerate(xs)]
        assert np.allclose(np.imag(row.forward(*moved)) / h,
                           row.partial(NUMERIC, xs, row.forward(*xs), i),
                           rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", list(LOSSES))
def test_a_loss_row_builds_the_formula_its_code_computes(name):
    f, y = sympy.symbols("f y")
    formula = sympy.lambdify((f, y), LOSSES[name].build(f, y))
    assert float(LOSSES[name].forward(0.3, 0.7)) == pytest.approx(float(formula(0.3, 0.7)),
                                                                  rel=1e-14)


def test_a_sympy_function_with_no_rule_fails_naming_it():
    from derive import DeriveError
    from derive.readings.symbolic import dag_gradient
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
    assert "cube" in rules.activations()


# An independent reference for each row: SymPy's own function (or formula), whose
# derivative SymPy takes by its own rules, not the table's.
r, s = sympy.symbols("r s", real=True)
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
    "max": sympy.Max(r, s), "min": sympy.Min(r, s), "arctan2": sympy.atan2(r, s),
    "hypot": sympy.sqrt(r**2 + s**2), "leaky_relu": sympy.Piecewise((r, r > 0), (s * r, True)),
    "heaviside": sympy.Heaviside(r, sympy.S.Half),
}


def test_every_row_has_a_reference():
    assert set(REFERENCES) | {"where"} == set(PRIMITIVES)


SYMPY_NUMERIC = ["numpy", {"erf": np.vectorize(__import__("math").erf),
                            "erfc": np.vectorize(__import__("math").erfc),
                            "DiracDelta": lambda v: 0.0 * v}]


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_and_derivative_equal_sympys_own(name):
    row = PRIMITIVES[name]
    xs = points(row, 15, seed=3)
    symbols = (r, s)[:row.arity]
    forward = sympy.lambdify(symbols, REFERENCES[name], modules=SYMPY_NUMERIC)
    assert np.allclose(row.forward(*xs), np.broadcast_to(forward(*xs), xs[0].shape),
                       rtol=1e-13, atol=1e-14)
    for i, symbol in enumerate(symbols):
        derivative = sympy.lambdify(symbols, sympy.diff(REFERENCES[name], symbol),
                                    modules=SYMPY_NUMERIC)
        assert np.allclose(row.partial(NUMERIC, xs, row.forward(*xs), i),
                           np.broadcast_to(derivative(*xs), xs[0].shape),
                           rtol=1e-12, atol=1e-13), (name, i)


def test_where_is_sympys_piecewise_and_differentiates_as_it():
    from derive.core.rules import where
    node = where(r > s, r**2, -r)
    piecewise = node.rewrite(sympy.Piecewise)
    assert isinstance(piecewise, sympy.Piecewise)
    a, b = np.array([-1.5, 0.3, 2.0, -0.2]), np.array([0.0, 0.5, 1.0, -1.0])
    for ours, theirs in [(node, piecewise), (sympy.diff(node, r), sympy.diff(piecewise, r)),
                         (sympy.diff(node, s), sympy.diff(piecewise, s))]:
        got = sympy.lambdify((r, s), ours, modules=lambdify_modules())(a, b)
        expected = sympy.lambdify((r, s), theirs, modules="numpy")(a, b)
        assert np.allclose(np.broadcast_to(got, a.shape), np.broadcast_to(expected, a.shape),
                           rtol=1e-15)


def test_ties_and_kinks_follow_the_documented_conventions():
    """relu'(0) = 0, abs'(0) = 0, sign' = 0, max and min split a tie 0.5/0.5,
    leaky_relu'(0) = its slope (as PyTorch and JAX define them)."""
    def partial(name, *args, i=0):
        row = PRIMITIVES[name]
        return float(row.partial(NUMERIC, args, row.forward(*args), i))
    assert partial("relu", 0.0) == 0.0
    assert partial("abs", 0.0) == 0.0
    assert partial("sign", 0.0) == partial("sign", 3.0) == 0.0
    assert partial("max", 1.5, 1.5, i=0) == partial("max", 1.5, 1.5, i=1) == 0.5
    assert partial("min", 1.5, 1.5, i=0) == partial("min", 1.5, 1.5, i=1) == 0.5
    assert partial("max", 2.0, 1.0, i=0) == 1.0 and partial("min", 2.0, 1.0, i=0) == 0.0
    assert partial("leaky_relu", 0.0, 0.01) == 0.01


@pytest.mark.parametrize("relation", list(COMPARISONS), ids=lambda c: COMPARISONS[c].name)
def test_a_comparison_compares_real_parts_and_passes_no_derivative(relation):
    row = COMPARISONS[relation]
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])
    expected = [bool(relation(sympy.Float(x), sympy.Float(y))) for x, y in zip(a, b)]
    assert list(row.forward(a, b)) == expected
    assert list(row.forward(a + 1e-20j, b)) == expected
    assert row.differentiable([a, b]) == [] and row.jvp_of(NUMERIC, [a, b], None, [a, b]) is None


@pytest.mark.parametrize("alias,name", [("asin", "arcsin"), ("acos", "arccos"),
                                        ("atan", "arctan"), ("asinh", "arcsinh"),
                                        ("acosh", "arccosh"), ("atanh", "arctanh"),
                                        ("swish", "silu")])
def test_aliases_parse_to_the_row(alias, name):
    from derive.models.parser import parse
    assert parse(f"{alias}(x)") == parse(f"{name}(x)")


def test_new_primitives_check_in_chains(run):
    for spec in ["chain:gelu,silu,elu*4", "chain:tan,arctan,sinh,arcsinh,erf,softsign",
                 "chain:log2,exp2,cbrt,log1p,expm1,logsigmoid,selu,abs"]:
        code, out, err = run("check", spec, "--json")
        assert code == 0 and json.loads(out)["agree"] is True, (spec, err)
