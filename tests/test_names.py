"""Issue 28, "generated code that cannot collide": parameter, input and target names drawn
from the code generator's own vocabulary, Python's keywords (with and without suffixes)
and builtins; the generated module runs on every backend and equals the staged
program's backprop (what `trace` shows).

Tolerance: each gradient within 1e-10 relative (max(1, |g|)) of backprop's, the loss
likewise; every draw is Hypothesis's, derandomized (the same examples every run).

JAX: every example runs the generated function's own body (``__wrapped__``, op by op),
which is where a name could collide; one example in twenty-five (twenty in all) also
runs it as written, through ``jax.jit`` and the module's ``__main__`` block (XLA
compiles each model anew, about a quarter of a second here, so all 500 would take two
minutes of the suite). Which one is chosen from the generated text's checksum, not by
Hypothesis: Hypothesis draws the ends of a range far more often than their share (an
integer in 0..24 came out 0 in 166 of 636 runs, each a compile)."""

import builtins
import contextlib
import io
import keyword
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from derive.readings import backends, codegen
from derive.base.errors import DeriveError
from derive.models.parser import parse_name
from derive.core.program import program
from derive.models.user import from_text

GENERATOR = ["np", "np_", "np__", "math", "math_", "torch", "torch_", "jnp", "jnp_", "jax",
             "jax_", "t", "t1", "t2", "t3", "f", "f0", "f1", "h1", "h2", "l", "dl_df0",
             "dl_dh1", "dl_dw", "dl_dl", "loss", "loss_and_gradient", "loss_and_gradient_",
             "gradient", "results", "value", "total", "name", "v", "v_1", "v_lambda",
             "Omega0_1_2", "map_", "float_", "e_x", "x", "y", "w", "b"]
KEYWORDS = [k + suffix for k in keyword.kwlist + keyword.softkwlist
            for suffix in ("", "_", "__")]
BUILTINS = [b + suffix for b in dir(builtins) if b[0].isalpha() for suffix in ("", "_")]


def _accepted(name: str) -> bool:
    try:
        parse_name(name)
        return True
    except DeriveError:
        return False


VOCABULARY = sorted({n for n in GENERATOR + KEYWORDS + BUILTINS if _accepted(n)})
TERMS = ["sin({p}*{x})", "{p}*{q}", "exp(-{p}*{x})", "tanh({p} + {q}*{x})", "erf({p}*{x})",
         "{p}**2*{x}", "cbrt({p}*{x} + 2)", "sigmoid({q} - {p}*{x})"]


@st.composite
def named_models(draw):
    names = draw(st.lists(st.sampled_from(VOCABULARY), min_size=4, max_size=7, unique=True))
    x, y, params = names[0], names[1], names[2:]
    terms = []
    for i, p in enumerate(params):
        q = params[(i + 1) % len(params)]
        terms.append(draw(st.sampled_from(TERMS)).format(p=p, q=q, x=x))
    values = {p: draw(st.floats(-1.5, 1.5).filter(lambda v: abs(v) > 0.05)) for p in params}
    batch = draw(st.integers(1, 4))
    inputs = {x: np.linspace(0.2, 0.9, batch) if batch > 1 else 0.5}
    return from_text(" + ".join(terms), values, inputs, {y: 0.3})


def _run_module(text: str, backend: str, whole: bool = True):
    """The generated module executed (``whole``: as a script, its __main__ block running
    and printing) and its function, whatever name it took (for JAX not ``whole``, the
    function under ``jax.jit``)."""
    namespace = {"__name__": "__main__" if whole else "generated"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(text, f"<derive {backend}>", "exec"), namespace)  # noqa: S102
    if whole:
        assert printed.getvalue().splitlines()[0].split()[0] == "loss"
    function = namespace.get("loss_and_gradient_") or namespace["loss_and_gradient"]
    return function if whole or backend != "jax" else function.__wrapped__


def _sum(value) -> float:
    array = np.asarray(value.detach() if hasattr(value, "detach") else value, dtype=float)
    return float(array.sum())


@settings(max_examples=500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(m=named_models())
def test_generated_code_runs_on_every_backend_whatever_the_names(m):
    p = program(m)  # trace's numbers without its printed equations (a sixth of the time)
    value = p.forward(m.values)
    reference_loss, reference = p.summed(value, p.backward(value))
    backends = ["numpy"] + [b for b in ("torch", "jax") if _present(b)]
    texts = codegen.model_sources(m, backends)  # what model_source(m, b) writes, planned once
    for backend, text in texts.items():
        whole = backend != "jax" or zlib.crc32(text.encode()) % 25 == 0
        function = _run_module(text, backend, whole=whole)
        results = function(*[m.values[a] for a in m.values])
        loss, gradients = _sum(results[0]), [_sum(r) for r in results[1:]]
        assert abs(loss - reference_loss) <= 1e-10 * max(1.0, abs(reference_loss))
        for w, g in zip(m.wrt, gradients):
            expected = reference[w]
            assert abs(g - expected) <= 1e-10 * max(1.0, abs(expected)), (backend, w, text)


def _present(library: str) -> bool:
    try:
        __import__(library)
        return True
    except ImportError:
        return False


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_the_name_test_covers_the_library(library):
    """The property test above runs a backend only where its library is installed; CI
    installs both, so there this asserts that it ran them."""
    pytest.importorskip(library, reason=f"{library} is not installed (pip install "
                        f"'derive[{library}]'); CI installs it")
    assert _present(library)


def test_identifiers_are_injective_and_never_reserved():
    label = backends.identifiers(VOCABULARY + ["Omega0[1,2]", "Omega0[12]", "Omega01[2]"])
    assert len(set(label.values())) == len(label)
    assert not set(label.values()) & backends.RESERVED
    assert all(v.isidentifier() and not v.startswith("_") for v in label.values())
