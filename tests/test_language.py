"""The language people test gradients in (issue 12): peer-style cases with PyTorch's
float64 gradients written in as numbers, micrograd's engine tests as they stand with
named steps, the conventions at kinks and ties, and the new syntax's errors.

The reference numbers were computed once with PyTorch 2.13 (float64, torch.autograd.grad
of the same text read as Python: max as torch.maximum, where as torch.where, arctan2 as
torch.atan2, cbrt as x**(1/3), gelu exact); nothing here imports torch.
"""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.checks.check import check
from derive.models.parser import ParseError, parse, parse_steps
from derive.present.steps import trace
from derive.models.user import from_text

INF, NAN = math.inf, math.nan

# (expression, point, PyTorch's value, PyTorch's gradient)
PEER_CASES = [
    ('abs(x)*w', {'x': -1.3, 'w': 0.7}, 0.9099999999999999, {'x': -0.7, 'w': 1.3}),
    ('sign(x)*w + x', {'x': 0.8, 'w': 1.1}, 1.9000000000000001, {'x': 1.0, 'w': 1.0}),
    ('tan(w*x)', {'x': 0.6, 'w': 0.9}, 0.5994296231624898, {'x': 1.2233842858122521, 'w': 0.8155895238748347}),
    ('arcsin(w*x)', {'x': 0.5, 'w': 0.8}, 0.41151684606748806, {'x': 0.8728715609439694, 'w': 0.5455447255899809}),
    ('arccos(w*x)', {'x': 0.5, 'w': -0.8}, 1.9823131728623846, {'x': 0.8728715609439694, 'w': -0.5455447255899809}),
    ('arctan(w*x + 1)', {'x': 0.5, 'w': 2.0}, 1.1071487177940904, {'x': 0.4, 'w': 0.1}),
    ('sinh(w*x)', {'x': 0.5, 'w': 1.5}, 0.82231673193583, {'x': 1.9420249270152672, 'w': 0.6473416423384224}),
    ('cosh(w*x)', {'x': 0.5, 'w': -1.5}, 1.2946832846768448, {'x': 1.233475097903745, 'w': -0.411158365967915}),
    ('arcsinh(w*x)', {'x': 2.5, 'w': 1.5}, 2.0322246215338136, {'x': 0.3864939758404985, 'w': 0.6441566264008308}),
    ('arccosh(w*x)', {'x': 2.5, 'w': 1.5}, 1.9966315184985717, {'x': 0.4150286783196448, 'w': 0.6917144638660746}),
    ('arctanh(w*x)', {'x': 0.5, 'w': 0.9}, 0.48470027859405174, {'x': 1.1285266457680252, 'w': 0.6269592476489029}),
    ('erf(w*x)', {'x': 0.5, 'w': 0.9}, 0.47548171978692366, {'x': 0.8293788117109981, 'w': 0.46076600650611005}),
    ('erfc(w*x)', {'x': 0.5, 'w': 0.9}, 0.5245182802130763, {'x': -0.8293788117109981, 'w': -0.46076600650611005}),
    ('log2(w*x)', {'x': 0.5, 'w': 3.0}, 0.5849625007211562, {'x': 2.8853900817779268, 'w': 0.48089834696298783}),
    ('log10(w*x)', {'x': 0.5, 'w': 3.0}, 0.17609125905568124, {'x': 0.8685889638065036, 'w': 0.14476482730108395}),
    ('log1p(w*x)', {'x': 0.5, 'w': -0.9}, -0.5978370007556205, {'x': -1.6363636363636362, 'w': 0.9090909090909091}),
    ('expm1(w*x)', {'x': 0.001, 'w': 0.9}, 0.0009004051215273425, {'x': 0.9008103646093746, 'w': 0.0010009004051215274}),
    ('exp2(w*x)', {'x': 0.5, 'w': 3.0}, 2.8284271247461903, {'x': 5.881548860811283, 'w': 0.9802581434685472}),
    ('cbrt(w*x)', {'x': 0.5, 'w': 3.0}, 1.1447142425533319, {'x': 0.7631428283688879, 'w': 0.12719047139481465}),
    ('silu(w*x)', {'x': 0.5, 'w': -3.0}, -0.2736382857095345, {'x': 0.12388246289742884, 'w': -0.020647077149571473}),
    ('swish(w + x)', {'x': 0.5, 'w': 1.0}, 1.2263617142904655, {'x': 1.041294154299143, 'w': 1.041294154299143}),
    ('gelu(w*x)', {'x': 0.5, 'w': -1.7}, -0.1680131616542885, {'x': 0.06566183715071285, 'w': -0.019312305044327308}),
    ('elu(w*x)', {'x': 0.5, 'w': -1.7}, -0.5725850680512733, {'x': -0.7266053843128354, 'w': 0.21370746597436335}),
    ('elu(w*x)', {'x': 0.5, 'w': 1.7}, 0.85, {'x': 1.7, 'w': 0.5}),
    ('selu(w*x)', {'x': 0.5, 'w': -1.7}, -1.006661430719994, {'x': -1.2774444472165507, 'w': 0.3757189550636914}),
    ('selu(w*x)', {'x': 0.5, 'w': 1.7}, 0.8930958392521584, {'x': 1.7861916785043168, 'w': 0.5253504936777402}),
    ('softsign(w*x)', {'x': 0.5, 'w': -1.7}, -0.45945945945945943, {'x': -0.4967129291453614, 'w': 0.14609203798392983}),
    ('logsigmoid(w*x)', {'x': 0.5, 'w': -1.7}, -1.2058650684421959, {'x': -1.190964142205754, 'w': 0.3502835712369865}),
    ('logsigmoid(w*x)', {'x': 50.0, 'w': -1.7}, -85.0, {'x': -1.7, 'w': 50.0}),
    ('asin(w) + atan(w)', {'w': 0.3}, 0.5961494484932646, {'w': 1.9657160293824685}),
    ('max(w, x)*w', {'x': 0.5, 'w': -1.7}, -0.85, {'x': -1.7, 'w': 0.5}),
    ('min(w, x)*w', {'x': 0.5, 'w': -1.7}, 2.8899999999999997, {'x': 0.0, 'w': -3.4}),
    ('max(w*x, 1)', {'x': 2.0, 'w': 0.8}, 1.6, {'x': 0.8, 'w': 2.0}),
    ('min(w*w, x)', {'x': 2.0, 'w': 0.8}, 0.6400000000000001, {'x': 0.0, 'w': 1.6}),
    ('arctan2(w, x)', {'x': -0.5, 'w': 0.8}, 2.129395642138459, {'x': -0.898876404494382, 'w': -0.5617977528089887}),
    ('atan2(w, x)', {'x': 0.5, 'w': -0.8}, -1.0121970114513341, {'x': 0.898876404494382, 'w': 0.5617977528089887}),
    ('hypot(w, x)', {'x': 3.0, 'w': 4.0}, 5.0, {'x': 0.6, 'w': 0.8}),
    ('leaky_relu(w*x, 0.01)', {'x': 0.5, 'w': -1.7}, -0.0085, {'x': -0.017, 'w': 0.005}),
    ('leaky_relu(w*x, 0.2)', {'x': 0.5, 'w': 1.7}, 0.85, {'x': 1.7, 'w': 0.5}),
    ('where(x > 0, x*x, -x) + abs(x - 1)', {'x': 2.5}, 7.75, {'x': 6.0}),
    ('where(x > 0, x*x, -x) + abs(x - 1)', {'x': -1.5}, 4.0, {'x': -2.0}),
    ('where(x <= w, x*w, w - x)', {'x': 0.5, 'w': 1.5}, 0.75, {'x': 1.5, 'w': 0.5}),
    ('where(x >= w, x*w, w - x)', {'x': 0.5, 'w': 1.5}, 1.0, {'x': -1.0, 'w': 1.0}),
    ('where(x < w, sin(x), cos(w))', {'x': 0.5, 'w': 1.5}, 0.479425538604203, {'x': 0.8775825618903728, 'w': -0.0}),
    ('where(x == w, x, 2*x*w)', {'x': 0.5, 'w': 1.5}, 1.5, {'x': 3.0, 'w': 1.0}),
    ('where(x != w, x*w, 2*x)', {'x': 0.5, 'w': 1.5}, 0.75, {'x': 1.5, 'w': 0.5}),
    ('z = 2*x + 2 + x; q = relu(z) + z*x; h = relu(z*z); y = h + q + q*x', {'x': -4.0}, -20.0, {'x': 46.0}),
    ('c = a + b; d = a*b + b^3; c2 = c + c + 1; c3 = c2 + 1 + c2 + (-a); d2 = d + d*2 + relu(b + a); d3 = d2 + 3*d2 + relu(b - a); e = c3 - d3; f = e^2; g = f/2.0; g2 = g + 10.0/f', {'a': -4.0, 'b': 2.0}, 24.70408163265306, {'a': 138.83381924198252, 'b': 645.5772594752186}),
    ('u = sin(w*x); v = u*u + u; f = exp(v) - v', {'x': 0.7, 'w': 1.3}, 2.6947019726667616, {'x': 6.39438299156811, 'w': 3.443129303152059}),
    ('abs(x)*w', {'x': 0.0, 'w': 0.7}, 0.0, {'x': 0.0, 'w': 0.0}),
    ('sign(x)*w + x', {'x': 0.0, 'w': 1.1}, 0.0, {'x': 1.0, 'w': 0.0}),
    ('relu(x)*w', {'x': 0.0, 'w': 0.7}, 0.0, {'x': 0.0, 'w': 0.0}),
    ('max(w, x)', {'x': 0.5, 'w': 0.5}, 0.5, {'x': 0.5, 'w': 0.5}),
    ('min(w, x)', {'x': 0.5, 'w': 0.5}, 0.5, {'x': 0.5, 'w': 0.5}),
    ('leaky_relu(x, 0.01)', {'x': 0.0}, 0.0, {'x': 0.01}),
    ('elu(x)', {'x': 0.0}, 0.0, {'x': 1.0}),
    ('selu(x)', {'x': 0.0}, 0.0, {'x': 1.7580993408473766}),
    ('softsign(x)', {'x': 0.0}, 0.0, {'x': 1.0}),
    ('where(x > 0, x*x, -x)', {'x': 0.0}, -0.0, {'x': -1.0}),
    ('where(x >= 0, x*x, -x)', {'x': 0.0}, 0.0, {'x': 0.0}),
    ('sqrt(x)', {'x': 0.0}, 0.0, {'x': INF}),
    ('log(x)', {'x': 0.0}, -INF, {'x': INF}),
    ('1.0/x', {'x': 0.0}, INF, {'x': -INF}),
    ('arcsin(x)', {'x': 1.0}, 1.5707963267948966, {'x': INF}),
    ('arctanh(x)', {'x': 1.0}, INF, {'x': INF}),
    ('cbrt(x)', {'x': 0.0}, 0.0, {'x': INF}),
    ('hypot(x, y)', {'x': 0.0, 'y': 0.0}, 0.0, {'x': NAN, 'y': NAN}),
    ('log1p(x)', {'x': -1.0}, -INF, {'x': INF}),
    ('arccosh(x)', {'x': 1.0}, 0.0, {'x': INF}),
]
FINITE = [c for c in PEER_CASES if all(math.isfinite(g) for g in c[3].values())]
SINGULAR = [c for c in PEER_CASES if c not in FINITE]


def model_of(text, point):
    return from_text(text, point, {})


def test_the_cases_cover_every_new_operation():
    from derive.core.rules import PRIMITIVES, activations
    spelled = " ".join(c[0] for c in PEER_CASES)
    new = [n for n in PRIMITIVES if n not in ("sin", "cos", "exp", "log", "tanh", "sigmoid",
                                              "softplus", "relu", "square", "sqrt")
           and PRIMITIVES[n].spelled]
    assert [n for n in new if f"{n}(" not in spelled] == []
    assert all(op in spelled for op in ("<", "<=", ">", ">=", "==", "!="))
    assert len(PEER_CASES) >= 60 and len(SINGULAR) >= 8 and "gelu" in activations()


@pytest.mark.parametrize("text,point,value,gradient", FINITE, ids=[c[0] for c in FINITE])
def test_backprop_agrees_with_pytorch(text, point, value, gradient):
    t = trace(model_of(text, point))
    assert t.loss == pytest.approx(value, rel=1e-12, abs=1e-15)
    for name, expected in gradient.items():
        assert t.gradients[name] == pytest.approx(expected, rel=1e-10, abs=1e-12), name
    assert t.faults == []


@pytest.mark.parametrize("text,point,value,gradient", FINITE, ids=[c[0] for c in FINITE])
def test_every_method_agrees_with_backprop(text, point, value, gradient):
    result = check(model_of(text, point))
    assert result.agree, str(result.rows.rows)


@pytest.mark.parametrize("text,point,value,gradient", SINGULAR, ids=[c[0] for c in SINGULAR])
def test_a_singular_point_is_reported_as_a_fault(text, point, value, gradient):
    """Where PyTorch's derivative is infinite or undefined, derive names the fault."""
    t = trace(model_of(text, point))
    assert t.faults, text
    for name, expected in gradient.items():
        got = t.gradients[name]
        assert not math.isfinite(got), (name, got)
        if not math.isnan(expected) and not math.isnan(got):
            assert math.copysign(1, got) == math.copysign(1, expected)
    assert check(model_of(text, point)).agree is False


# ---- micrograd's engine tests, as they stand, with named steps -------------------------
# karpathy/micrograd test/test_engine.py: test_sanity_check and test_more_ops (the `+=`
# reassignments become new names, since a name is defined once)

SANITY = "z = 2*x + 2 + x; q = relu(z) + z*x; h = relu(z*z); y = h + q + q*x"
MORE_OPS = """c = a + b
d = a*b + b**3
c2 = c + c + 1
c3 = c2 + 1 + c2 + (-a)
d2 = d + d*2 + relu(b + a)
d3 = d2 + 3*d2 + relu(b - a)
e = c3 - d3
f = e**2
g = f / 2.0
g2 = g + 10.0 / f"""


def test_micrograd_sanity_check(run):
    code, out, err = run("trace", "--expr", SANITY, "--param", "x=-4", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["gradients"]["x"] == pytest.approx(46.0, rel=1e-10)
    assert data["loss"] == pytest.approx(-20.0, rel=1e-10)
    names = [r["name"] for r in data["forward"]]
    assert {"z", "q", "h", "y"} <= set(names) and names[-1] == "y"
    assert "∂y/∂" in run("trace", "--expr", SANITY, "--param", "x=-4")[1]  # its output, no loss


def test_micrograd_more_ops(run):
    code, out, err = run("trace", "--expr", MORE_OPS, "--param", "a=-4", "--param", "b=2",
                         "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["loss"] == pytest.approx(24.7041, abs=1e-4)
    assert data["gradients"]["a"] == pytest.approx(138.8338, abs=1e-4)
    assert data["gradients"]["b"] == pytest.approx(645.5773, abs=1e-4)
    # PyTorch float64, as micrograd's test compares them
    assert data["gradients"]["a"] == pytest.approx(138.83381924198252, rel=1e-10)
    assert data["gradients"]["b"] == pytest.approx(645.5772594752186, rel=1e-10)
    names = [r["name"] for r in data["forward"]]
    assert [n for n in names if n in ("c", "d", "c2", "c3", "d2", "d3", "e", "f", "g", "g2")] \
        == ["c", "c2", "c3", "d", "d2", "d3", "e", "f", "g", "g2"]
    step = {r["name"]: r for r in data["forward"]}
    assert step["c2"]["equation"] == "c + c + 1"   # c used twice: one node, named c
    assert step["g2"]["value"] == pytest.approx(24.70408163265306, rel=1e-12)


def test_a_step_used_twice_is_one_node_computed_once():
    from derive.core.program import program as lowered
    m = model_of("u = sin(w*x); v = u*u + u; f = exp(v) - v", {"w": 1.3, "x": 0.7})
    p = lowered(m)
    assert [s.name for s in p.steps].count("u") == 1
    assert sum(1 for r in p.rules if r.name == "sin") == 1


def test_named_steps_reach_code_and_reports(run, tmp_path):
    target = tmp_path / "g.py"
    code, _, err = run("code", "--expr", MORE_OPS, "--param", "a=-4", "--param", "b=2",
                       "-o", str(target))
    assert code == 0, err
    source = target.read_text()
    assert "    c3 = c2 + 1 + c2 + " in source and "dl_dd2 =" in source
    namespace = {}
    exec(compile(source, str(target), "exec"), namespace)
    loss, da, db = namespace["loss_and_gradient"](a=-4.0, b=2.0)
    assert (loss, da, db) == pytest.approx((24.70408163265306, 138.83381924198252,
                                            645.5772594752186), rel=1e-12)
    code, _, err = run("report", "--expr", SANITY, "--param", "x=-4", "--format", "html",
                       "--out", str(tmp_path / "r"))
    assert code == 0, err
    data = json.loads((tmp_path / "r" / "data.json").read_text())
    assert data["agree"] is True
    assert {"z", "q", "h", "y"} <= {r["name"] for r in data["forward"]}


def test_a_model_file_takes_steps_in_expr_or_a_steps_table(run, tmp_path):
    (tmp_path / "a.toml").write_text(f'expr = """{SANITY.replace("; ", chr(10))}"""\n'
                                     "[params]\nx = -4\n")
    (tmp_path / "b.toml").write_text('[steps]\nz = "2*x + 2 + x"\nq = "relu(z) + z*x"\n'
                                     'h = "relu(z*z)"\ny = "h + q + q*x"\n[params]\nx = -4\n')
    for name in ("a.toml", "b.toml"):
        code, out, err = run("trace", str(tmp_path / name), "--json")
        assert code == 0, err
        data = json.loads(out)
        assert data["gradients"]["x"] == pytest.approx(46.0, rel=1e-12)
        assert data["forward"][-1]["name"] == "y"


def test_check_passes_on_the_new_activations_and_branches(run):
    code, out, err = run("check", "chain:gelu,silu,elu*4", "--json")
    assert code == 0 and json.loads(out)["agree"] is True, err
    text = "where(x > 0, x*x, -x) + abs(x - 1)"
    for x in ("-1.5", "0.4", "2.5", "7"):
        code, out, err = run("check", "--expr", text, "--param", f"x={x}")
        assert code == 0 and "all agree" in out, (x, err)
        assert "(kink)" not in out
    code, out, err = run("check", "--expr", text, "--param", "x=1")
    assert code == 0, err
    assert "(kink)" in out.splitlines()[4]


def test_sizes_sweeps_chains_of_the_new_primitives(run):
    code, out, err = run("sizes", "chain:gelu*8", "--json")
    assert code == 0, err
    assert len(json.loads(out)["rows"]) >= 2


# ---- the new syntax's errors: one line, a caret, exit 2 --------------------------------

BAD = {
    "min(x)": "min takes 2 arguments, not 1",
    "max(x, w, 1)": "max takes 2 arguments, not 3",
    "where(x, 1, 2)": "where needs a comparison",
    "where(x > 0, 1)": "where takes 3 arguments",
    "x > 0": "a comparison (>) may only be where's first argument",
    "sin(x > 0)": "a comparison (>) may only be where's first argument",
    "leaky_relu(x, w)": "leaky_relu's slope must be a constant number",
    "z = x*w; z = 2*x; f = z": "step 'z' is defined twice",
    "f = q + 1; q = x*w": "'q' is used before it is defined",
    "a = b*w; b = a + x; f = b": "a cycle: step 'a' uses 'b'",
    "z = z*w": "step 'z' uses itself",
    "sin = x*w; f = sin": "'sin' is a function's name",
    "x*w; f = x": "only the last statement may be a bare expression",
    "f = x*w = 2": "'=' defines a step",
    "f = x*w; g =": "expression ends too early",
    "hypot(x)": "hypot takes 2 arguments",
}


@pytest.mark.parametrize("text,message", BAD.items(), ids=list(BAD))
def test_bad_new_syntax_exits_2_with_a_caret(run, text, message):
    code, out, err = run("check", "--expr", text, "--param", "w=1", "--param", "x=1")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert message in lines[0], lines
    assert len(lines) == 3 and lines[2].strip() == "^"


def test_steps_checked_against_the_model(run):
    code, _, err = run("check", "--expr", "w = x*2; f = w", "--param", "w=1", "--input", "x=1")
    assert code == 2 and "'w' is both a step and a declared value" in err
    code, _, err = run("check", "--expr", "u = x*2; f = w*x", "--param", "w=1",
                       "--input", "x=1")
    assert code == 2 and "step 'u' is defined but the prediction does not use it" in err


# ---- Hypothesis: random programs in the new grammar parse to what they denote -----------

import sympy  # noqa: E402

from derive.core.rules import PRIMITIVES, where  # noqa: E402

X, W = sympy.symbols("x w")
BINARY = ["max", "min", "arctan2", "hypot"]
UNARY = ["abs", "tan", "erf", "gelu", "silu", "elu", "softsign", "logsigmoid", "cbrt"]


def evaluated(expr):
    if not expr.args:
        return expr
    return expr.func(*[evaluated(a) for a in expr.args])


def expressions(names):
    leaf = st.sampled_from([(n, s) for n, s in names] + [("2", sympy.Integer(2)),
                                                        ("0.5", sympy.Float("0.5", 17))])

    def grow(children):
        arithmetic = st.tuples(st.sampled_from("+-*"), children, children).map(
            lambda t: (f"({t[1][0]} {t[0]} {t[2][0]})",
                       {"+": t[1][1] + t[2][1], "-": t[1][1] - t[2][1],
                        "*": t[1][1] * t[2][1]}[t[0]]))
        unary = st.tuples(st.sampled_from(UNARY), children).map(
            lambda t: (f"{t[0]}({t[1][0]})", PRIMITIVES[t[0]].sympy(t[1][1])))
        binary = st.tuples(st.sampled_from(BINARY), children, children).map(
            lambda t: (f"{t[0]}({t[1][0]}, {t[2][0]})", PRIMITIVES[t[0]].sympy(t[1][1], t[2][1])))
        leaky = children.map(lambda c: (f"leaky_relu({c[0]}, 0.1)",
                                        PRIMITIVES["leaky_relu"].sympy(c[1], sympy.Float("0.1", 17))))
        relation = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
        branch = st.tuples(relation, children, children, children, children).map(
            lambda t: (f"where({t[1][0]} {t[0]} {t[2][0]}, {t[3][0]}, {t[4][0]})",
                       where(sympy.sympify(f"a {t[0]} b").func(t[1][1], t[2][1]) if t[0] not in
                             ("==", "!=") else (sympy.Eq if t[0] == "==" else sympy.Ne)(
                                 t[1][1], t[2][1]), t[3][1], t[4][1])))
        return arithmetic | unary | binary | leaky | branch

    return st.recursive(leaf, grow, max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_programs_parse_to_what_they_denote(data):
    names, lines, value = [("x", X), ("w", W)], [], None
    for k in range(data.draw(st.integers(1, 4))):
        text, value = data.draw(expressions(names))
        lines.append(f"s{k} = {text}")
        names.append((f"s{k}", value))
    separator = data.draw(st.sampled_from(["; ", "\n", " ;\n"]))
    try:
        prediction, steps = parse_steps(separator.join(lines))
    except ParseError as error:  # a constant division by zero or a huge exponent
        assert "division by zero" in str(error) or "exponent" in str(error)
        return
    assert evaluated(prediction) == evaluated(value)
    # the prediction is a named step (the first name, where two steps are one node)
    assert not prediction.args or steps[prediction] in [line.split(" = ")[0] for line in lines]
    assert set(steps.values()) <= {line.split(" = ")[0] for line in lines}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="xw12.()+-*/^ ,;=<>!\nmaxinwhereypotsleaky_relu", max_size=50))
def test_text_near_the_new_grammar_raises_only_our_error(text):
    try:
        parse(text)
    except ParseError:
        pass


# ---- conventions for powers: x**0 and 0**y, as PyTorch, autograd and JAX ----------------
# autograd's own test (tests/test_numpy.py, test_pow at 0) and PyTorch float64 both give 0.

@pytest.mark.parametrize("text,point,gradient", [
    ("x**0.0", {"x": 0.0}, {"x": 0.0}),
    ("x**0", {"x": 0.0}, {"x": 0.0}),
    ("0.0**y", {"y": 2.0}, {"y": 0.0}),
    ("x**y", {"x": 0.0, "y": 2.0}, {"x": 0.0, "y": 0.0}),
    ("x**y", {"x": 1.5, "y": 2.0}, {"x": 3.0, "y": 0.9122964932433699}),
])
def test_power_conventions_at_zero(text, point, gradient):
    t = trace(model_of(text, point))
    assert t.faults == []
    for name, expected in gradient.items():
        assert t.gradients[name] == pytest.approx(expected, rel=1e-12, abs=0.0)
    assert check(model_of(text, point)).agree


def test_a_bare_name_or_number_is_a_model_a_report_can_show(run, tmp_path):
    for args in (["--expr", "w", "--param", "w=1"], ["logistic:1"],
                 ["--expr", "w", "--param", "w=1", "--target", "y=2"]):
        code, _, err = run("report", *args, "--format", "html", "--out", str(tmp_path / "r"),
                           "--force")
        assert code == 0, (args, err)
    t = trace(model_of("w", {"w": 3.0}))
    assert t.loss == 3.0 and t.gradients == {"w": 1.0}


def test_every_new_operation_reaches_code_sizes_reports_and_jupyter(run, tmp_path):
    text = ("q = where(x > w, x*x, max(w, -x)); "
            "f = q + hypot(q, w) + leaky_relu(w - x, 0.01) + arctan2(w, x) + min(x, w)")
    args = ["--expr", text, "--param", "w=0.7", "--input", "x=1.3"]
    target = tmp_path / "g.py"
    code, _, err = run("code", *args, "-o", str(target))
    assert code == 0, err
    namespace = {}
    exec(compile(target.read_text(), str(target), "exec"), namespace)
    loss, dw = namespace["loss_and_gradient"](w=0.7, x=1.3)
    t = trace(from_text(text, {"w": 0.7}, {"x": 1.3}))
    assert (loss, dw) == pytest.approx((t.loss, t.gradients["w"]), rel=1e-13)
    code, out, err = run("report", *args, "--format", "html,tex", "--depth", "1:2",
                         "--out", str(tmp_path / "r"))
    assert code == 0, err
    html = (tmp_path / "r" / "index.html").read_text()
    tex = (tmp_path / "r" / "report.tex").read_text()
    assert "<mtable" in html and "<mo><</mo>" not in html  # where as cases; < escaped
    assert r"\begin{cases}" in tex and r"\max\left[" in tex and r"\operatorname{hypot}" in tex
    import derive.present.notebook as nb
    shown = nb.trace(from_text(text, {"w": 0.7}, {"x": 1.3}))._repr_html_()
    assert "q" in shown and "<math" in shown
    from derive.core.graph import sizes
    assert sizes(from_text(text, {"w": 0.7}, {"x": 1.3}).output).dag_nodes > 10
