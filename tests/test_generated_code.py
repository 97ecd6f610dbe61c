"""Issue 16: lean staged backprop, generated code that frees what it no longer needs,
the same program for PyTorch and JAX, and `derive bench --against`."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

from derive import model, parse, program
from derive.readings import codegen
from derive.checks.bench import peak_bytes
from derive.models.model import from_expression
from derive.core.rules import ARITHMETIC, LOSSES, PRIMITIVES, functions
from derive.readings.symbolic import dag_gradient


def test_a_row_says_which_values_its_backward_reads():
    assert PRIMITIVES["sin"].reads(1) == (frozenset({0}), False)
    assert PRIMITIVES["exp"].reads(1) == (frozenset(), True)
    assert PRIMITIVES["tanh"].reads(1) == (frozenset(), True)
    assert ARITHMETIC[sympy.Add].reads(3) == (frozenset(), False)
    assert ARITHMETIC[sympy.Mul].reads(2) == (frozenset({0, 1}), False)
    # sign' = 0 reads no value but takes its shape from the argument
    assert PRIMITIVES["sign"].reads(1) == (frozenset({0}), False)


def test_the_lean_backward_keeps_only_what_rules_read():
    p = program(model("toy"))
    names = {p.names.get(n) for n in p.saved}
    # exp keeps its output h2, sin and cos keep their arguments f0 and f2, products
    # keep their factors (h1, h3); the sums f1 and f3 (h2's and the loss's inputs) are
    # read by the loss's square and by the products
    assert {"f0", "h1", "h2", "f2", "h3"} <= names
    assert len(p.saved & set(p.nodes)) < len(p.nodes)


@pytest.mark.parametrize("spec", ["toy", "chain:tanh,relu,softplus*3", "logistic:6",
                                  "mlp:2-4-3-1:tanh", "chain:sin,exp,cos*4"])
def test_lean_gradients_equal_the_stored_passes(spec):
    m = model(spec).batch(64, seed=3)
    p = program(m)
    value = p.forward(m.values)
    stored = p.summed(value, p.backward(value))
    lean = p.gradients(m.values)
    assert lean[0] == stored[0] and lean[1] == stored[1]


def test_the_lean_backward_holds_less_memory():
    m = model("chain:tanh*8").batch(20_000, seed=0)
    p = program(m)
    stored = peak_bytes(lambda: p.summed(*(lambda v: (v, p.backward(v)))(p.forward(m.values))))
    assert peak_bytes(lambda: p.gradients(m.values)) < 0.6 * stored


# ---- the same program for every array library ----------------------------------------

BACKENDS = [pytest.param("numpy"),
            pytest.param("torch", marks=pytest.mark.backend("torch")),
            pytest.param("jax", marks=pytest.mark.backend("jax"))]


@pytest.fixture(autouse=True)
def _backend_present(request):
    """Tests of a backend skip, with the reason, where its library is absent."""
    marker = request.node.get_closest_marker("backend")
    if marker:
        pytest.importorskip(marker.args[0], reason=f"{marker.args[0]} is not installed "
                            f"(pip install 'derive[{marker.args[0]}]'); CI installs it")


def _row_model(name, n=16, seed=0):
    """fn(w0*x0, w1*x1, ...) with the x drawn over the row's domain (where takes a
    comparison of x0 first; leaky_relu's slope is a constant)."""
    rule = PRIMITIVES[name]
    lo, hi = rule.domain
    rng = np.random.default_rng(seed)
    if name == "where":
        text, weighted, count = "where(x0 > 0, w1*x1, w2*x2)", [1, 2], 3
    elif name == "leaky_relu":
        text, weighted, count = "leaky_relu(w0*x0, 0.1)", [0], 1
    else:
        count = rule.arity
        weighted = list(range(count))
        text = f"{name}({', '.join(f'w{i}*x{i}' for i in weighted)})"
    weights = {sympy.Symbol(f"w{i}"): 1.0 + 0.1 * i for i in weighted}
    inputs = {sympy.Symbol(f"x{i}"): rng.uniform(lo, hi, n) for i in range(count)}
    return from_expression(parse(text), weights, inputs, name=name)


def _backend_gradients(m, backend):
    gradient = dag_gradient(m.output, m.wrt)
    shape = np.shape(m.values[m.inputs[0]]) if m.inputs else ()
    return codegen.evaluate(gradient, list(m.values), m.values, shape, backend=backend,
                            batch=m.inputs + m.targets)


def _assert_equal_to_backprop(m, backend):
    _, backprop = program(m).gradients(m.values)
    generated = _backend_gradients(m, backend)
    for w, g in zip(m.wrt, generated):
        assert abs(g - backprop[w]) <= 1e-10 * max(1.0, abs(backprop[w])), (w, g, backprop[w])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spec", ["toy", "chain:tanh,relu,softplus*3", "chain:sin,exp,cos*4",
                                  "logistic:6", "chain:gelu,silu,elu,selu*2"])
def test_every_backend_equals_backprop_on_the_families(spec, backend):
    _assert_equal_to_backprop(model(spec).batch(32, seed=5), backend)


def _spelled():
    return [name for name in functions() if name in PRIMITIVES]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", _spelled())
def test_every_backend_equals_backprop_on_every_row(name, backend):
    _assert_equal_to_backprop(_row_model(name), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_takes_numbers_where_the_library_wants_arrays(backend):
    """max(x, 0), where's constant branch and x**(1/3) write numbers into calls."""
    x, w = sympy.symbols("x w")
    m = from_expression(parse("max(w*x, 0) + where(x > 0.5, w, 2) + hypot(w*x, 0.001) "
                              "+ (w*x)**(1/3) + arctan2(w, 2)"),
                        {w: 1.3}, {x: np.linspace(0.1, 2.0, 9)})
    _assert_equal_to_backprop(m, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_code_backend_writes_a_file_that_runs(run, tmp_path, backend):
    target = tmp_path / "g.py"
    code, _, err = run("code", "toy", "--backend", backend, "-o", str(target))
    assert code == 0, err
    text = target.read_text()
    assert {"numpy": "import numpy as np", "torch": "import torch",
            "jax": "@jax.jit"}[backend] in text
    done = subprocess.run([sys.executable, "-I", str(target)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split() for line in done.stdout.strip().splitlines())
    assert float(lines["dl_domega0"]) == pytest.approx(5.246071430986, rel=1e-10)
    assert float(lines["loss"]) == pytest.approx(0.138580566415, rel=1e-10)


def test_an_unknown_backend_is_refused(run):
    code, out, err = run("code", "toy", "--backend", "tensorflow")
    assert code == 2 and out == "" and "invalid choice" in err
    with pytest.raises(ValueError, match="unknown backend"):
        codegen.source([sympy.Symbol("x")], [sympy.Symbol("x")], backend="tf")


@pytest.mark.parametrize("name", [*PRIMITIVES, *LOSSES])
def test_each_backend_prints_every_rows_code_from_the_table(name):
    """Issue 23: a printer per backend, as SymPy's printers are classes.  numpy prints a
    row's code as the table writes it; torch and jax print it in their own spelling,
    valid Python with no numpy left in it, and torch turns each number a function
    takes into a tensor."""
    import ast
    from derive.readings.backends import JaxPrinter, Printer, TorchPrinter
    rule = {**PRIMITIVES, **LOSSES}[name]
    args = {p: f"v{i}" for i, p in enumerate(rule.params)}
    assert Printer().template(rule.code, args) == rule.source(list(args.values()))
    for printer in (TorchPrinter(), JaxPrinter()):
        text = printer.template(rule.code, args)
        ast.parse(text)
        assert not re.search(r"\bnp\.|\b_erfc?\(", text), text
    if "0.0" in rule.code:  # elu, selu, indicator: np.where(..., 0.0, x)
        assert "_t(0.0)" in TorchPrinter().template(rule.code, args)


def test_module_names_taken_by_arguments_are_renamed():
    names = sympy.symbols("torch jnp jax np math")
    expression = sum(sympy.sin(s) for s in names)
    for backend in ["numpy", "torch", "jax"]:
        pytest.importorskip(backend, reason=f"{backend} is not installed")
        function = codegen.compile_source(codegen.source([expression], list(names),
                                                         backend=backend))
        assert float(function(*[0.5] * 5)[0]) == pytest.approx(5 * np.sin(0.5), rel=1e-14)


# ---- derive bench --against -------------------------------------------------------------

@pytest.mark.parametrize("library", [pytest.param("torch", marks=pytest.mark.backend("torch")),
                                     pytest.param("jax", marks=pytest.mark.backend("jax"))])
def test_bench_against_a_framework_times_and_cross_checks_it(run, library):
    keys = {"torch": ["torch_autograd", "generated_torch"],
            "jax": ["jax_grad", "generated_jax"]}[library]
    code, out, err = run("bench", "chain:tanh,sin*2", "--batch", "500", "--repeat", "1",
                         "--against", library, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data["against"]) == {"torch_autograd", "jax_grad", "generated_torch",
                                    "generated_jax"}
    for key in keys:
        assert data["against"][key] > 0
        assert data["relative_error"][key] < 1e-12
        assert data["ratios"][f"{key}_over_generated"] > 0
    assert data["threads"]["numpy"] == 1
    if library == "torch":
        assert data["threads"]["torch"] == 1


def test_bench_against_text_shows_the_frameworks(run):
    pytest.importorskip("torch", reason="torch is not installed")
    code, out, _ = run("bench", "toy", "--batch", "50", "--repeat", "1", "--against", "torch",
                       "--threads", "2")
    assert code == 0
    assert "torch_autograd" in out and "relative error against backprop" in out
    assert "torch=2" in out


@pytest.mark.parametrize("args", [["--against", "tensorflow"], ["--against", ","],
                                  ["--threads", "0"], ["--threads", "x"]])
def test_bench_refuses_bad_against_and_threads(run, args):
    code, out, err = run("bench", "toy", *args)
    assert code == 2 and out == "" and err.count("\n") == 1


def test_a_missing_framework_is_skipped_with_the_reason(monkeypatch):
    from derive.checks import frameworks
    from derive.checks.bench import bench
    monkeypatch.setattr(frameworks, "missing", lambda library: f"{library} is not installed")
    result = bench(model("toy"), batch=10, repeat=1, against=["jax"])
    assert result["against"]["jax_grad"] is None
    assert result["skipped"]["jax_grad"] == "jax is not installed"


def test_the_install_hint_pins_the_cpu_torch(monkeypatch):
    """Issue 24: the hint said pip install 'derive[torch]', which can pull a CUDA build of
    several GB; it now names the pinned version the README and .ci/run install."""
    import importlib.util

    from derive.checks import frameworks
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert frameworks.missing("torch") == "torch is not installed (pip install 'torch==2.13.0')"
    assert frameworks.missing("jax") == "jax is not installed (pip install 'jax[cpu]==0.10.2')"
    assert "torch==2.13.0" in (Path(__file__).parents[1] / ".ci" / "run").read_text()
