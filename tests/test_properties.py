"""Property tests: random chains from the table, random batches.

Backprop equals both symbolic forms on every one.  Parameters come from the
documented seeded initialisation, which keeps every layer in its primitive's
safe range (see derive.models.chain_values).
"""

import numpy as np
from hypothesis import given, settings, strategies as st

from derive import check, model
from derive.primitives import ACTIVATIONS

chains = st.lists(st.sampled_from(ACTIVATIONS), min_size=1, max_size=10)


@settings(max_examples=40, deadline=None)
@given(layers=chains, seed=st.integers(0, 2**16), batch=st.integers(1, 50))
def test_backprop_equals_both_symbolic_forms(layers, seed, batch):
    m = model("chain:" + ",".join(layers), seed=seed).batch(batch, seed)
    result = check(m)
    for row in result.rows:
        b = row["backprop"]
        assert np.isfinite(b)
        for method in ("symbolic", "symbolic_diff"):
            assert abs(row[method] - b) <= 1e-10 * max(1.0, abs(b)), (layers, row)
