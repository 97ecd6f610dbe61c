"""Property tests: random chains from the table, random batches.

Backprop equals both symbolic forms (the DAG sweep and ``sympy.diff``) on every one.
Parameters come from the documented seeded initialisation, which keeps every layer in
its primitive's safe range (see derive.models.model.chain_values).  The symbolic gradients are
evaluated by code generated from their graph (codegen.evaluate), which is linear in it:
lambdify prints each as a tree (two thirds of this test's time when it went through
``check``), and it is compared with generated code and backprop in tests/test_growth.py.

Tolerance: each within 1e-10 relative (max(1, |g|)) of backprop's; every draw is
Hypothesis's, derandomized.
"""

import numpy as np
from hypothesis import given, settings, strategies as st

from derive import model
from derive.readings.codegen import evaluate
from derive.core.rules import ACTIVATIONS
from derive.core.program import program
from derive.readings.symbolic import derivatives

chains = st.lists(st.sampled_from(ACTIVATIONS), min_size=1, max_size=10)


@settings(max_examples=40, deadline=None)
@given(layers=chains, seed=st.integers(0, 2**16), batch=st.integers(1, 50))
def test_backprop_equals_both_symbolic_forms(layers, seed, batch):
    m = model("chain:" + ",".join(layers), seed=seed).batch(batch, seed)
    p = program(m)
    value = p.forward(m.values)
    _, backprop = p.summed(value, p.backward(value))
    derived = derivatives(m, diff_cap=10**9)
    assert derived.diff is not None, derived.skipped
    arguments, shape = list(m.values), np.shape(value[p.output])
    for form in (derived.dag, derived.diff):
        numbers = evaluate(form, arguments, m.values, shape)
        for w, g in zip(m.wrt, numbers):
            b = backprop[w]
            assert np.isfinite(b)
            assert abs(g - b) <= 1e-10 * max(1.0, abs(b)), (layers, w, g, b)
