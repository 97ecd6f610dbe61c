"""A pytest plugin: the ``derive_check`` fixture, for tests of your own backprop.

Installed with derive (entry point ``pytest11``), so a test in any project reads::

    def test_my_backward(derive_check):
        derive_check(derive.model("toy"), my_backward)

and fails with derive's step-by-step message (see
:func:`derive.testing.assert_backprop_matches`).
"""

import pytest


@pytest.fixture
def derive_check():
    """derive_check(model, fn, rtol=1e-10, atol=1e-10): assert that your backprop ``fn``
    matches derive's, naming the first wrong step when it does not."""
    from derive.testing import assert_backprop_matches
    return assert_backprop_matches
