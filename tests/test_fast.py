"""Issue 16: lean staged backprop, generated code that frees what it no longer needs,
the same program for PyTorch and JAX, and `derive bench --against`."""

import tracemalloc

import numpy as np
import pytest

from derive import codegen, model, program
from derive.primitives import ARITHMETIC, PRIMITIVES
from derive.symbolic import dag_gradient

import sympy


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


def _peak(function, *args) -> int:
    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_lean_backward_holds_less_memory():
    m = model("chain:tanh*8").batch(20_000, seed=0)
    p = program(m)
    stored = _peak(lambda: p.summed(*(lambda v: (v, p.backward(v)))(p.forward(m.values))))
    assert _peak(p.gradients, m.values) < 0.6 * stored
