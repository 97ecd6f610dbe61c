"""Forward mode, reverse mode and second derivatives: more readings of the same program.

(The Hessian itself is :mod:`derive.readings.hessian`; its dual numbers are here.)

* **Forward mode** (:func:`forward_gradients`): one pass of the rows'
  Jacobian-vector products per variable (:meth:`derive.core.program.Program.tangents`),
  so the full gradient of a loss costs P passes; **reverse mode** (backprop)
  one.  That is why backprop: a loss has one output and many parameters.
* **The Jacobian** (:func:`jacobian`) of a model's outputs (before the loss):
  forward mode, one pass per variable, against reverse mode, one pass per
  output; each counted and timed, so the crossover shows.
* **The Hessian** (:func:`derive.readings.hessian.hessian`), four ways: forward-over-reverse (the
  backward pass run on dual numbers: each row's VJP read in :data:`DUAL`
  arithmetic, one Hessian-vector product per direction), the DAG sweep applied
  to the symbolic gradient, ``sympy.diff`` twice (below its cap), and central
  differences of the backprop gradient.

Operation counts come from the rows (:meth:`derive.core.rules.Rule.ops`): a
forward-mode pass costs the primal operations plus, per argument carrying a
tangent, the row's per-argument count (the partial and its product with the
tangent) and an addition where tangents meet; a forward-over-reverse pass costs
a forward-mode pass plus the backward pass on dual numbers, three operations
per backward operation (its own, and the product rule's two for the tangent).

>>> from derive.models.families import model
>>> m = model("toy")
>>> g = forward_gradients(m)
>>> round(g[m.wrt[1]], 3)   # ∂ℓ/∂ω0 by forward mode, as the notebook's backprop
5.246
"""

from __future__ import annotations

import functools
import operator
import time
from dataclasses import dataclass

import numpy as np

from derive.base import agreement
from derive.base.errors import DeriveError, require_model
from derive.core.graph import topological_order
from derive.core.rules import PRIMITIVES, rule_for
from derive.core.arithmetic import NUMERIC
from derive.core.program import Program, program
from derive.core.sweep import forward, forward_count

EXACT = 1e-10
"""Exact methods agree when |a − b| ≤ 1e-10·max(1, |b|), b forward-over-reverse."""
CENTRAL = 1e-6
"""Central differences of the gradient: |a − b| ≤ 1e-6·max(1, |b|) + their error estimate."""


# ---- dual numbers: the table's rules read on (value, tangent) pairs --------------------


class Dual:
    """A value with a tangent; numpy defers to it, so rules written with operators and
    the namespace's functions run on it unchanged."""

    __slots__ = ("v", "t")
    __array_ufunc__ = None

    def __init__(self, v, t):
        self.v, self.t = v, t

    def __add__(self, o):
        return Dual(self.v + o.v, self.t + o.t) if isinstance(o, Dual) else Dual(self.v + o, self.t)

    __radd__ = __add__

    def __neg__(self):
        return Dual(-self.v, -self.t)

    def __sub__(self, o):
        return Dual(self.v - o.v, self.t - o.t) if isinstance(o, Dual) else Dual(self.v - o, self.t)

    def __rsub__(self, o):
        return Dual(o - self.v, -self.t)

    def __mul__(self, o):
        if isinstance(o, Dual):
            return Dual(self.v * o.v, self.t * o.v + self.v * o.t)
        return Dual(self.v * o, self.t * o)

    __rmul__ = __mul__

    def __truediv__(self, o):
        if isinstance(o, Dual):
            return Dual(self.v / o.v, (self.t * o.v - self.v * o.t) / (o.v * o.v))
        return Dual(self.v / o, self.t / o)

    def __rtruediv__(self, o):
        return Dual(o / self.v, -o * self.t / (self.v * self.v))

    def __pow__(self, p):
        if isinstance(p, Dual):
            out = self.v ** p.v
            return Dual(out, p.v * self.v ** (p.v - 1) * self.t + out * np.log(self.v) * p.t)
        return Dual(self.v ** p, p * self.v ** (p - 1) * self.t)

    def __rpow__(self, base):
        out = base ** self.v
        return Dual(out, out * np.log(base) * self.t)

    def __matmul__(self, o):
        if isinstance(o, Dual):
            return Dual(self.v @ o.v, self.t @ o.v + self.v @ o.t)
        return Dual(self.v @ o, self.t @ o)

    def __rmatmul__(self, o):
        return Dual(o @ self.v, o @ self.t)


def _apply(rule, *args):
    """The row on arguments some of which are Duals: its forward, and its JVP as tangent."""
    if not any(isinstance(a, Dual) for a in args):
        return rule.forward(*args)
    values = [a.v if isinstance(a, Dual) else a for a in args]
    out = rule.forward(*values)
    dots = [a.t if isinstance(a, Dual) else None for a in args]
    tangent = rule.jvp_of(NUMERIC, values, out, dots)
    return out if tangent is None else Dual(out, tangent)


class _DualNamespace(type(NUMERIC)):
    """Rules read on dual numbers: ``m.sin`` applies the sin row to a Dual (products
    as numpy's, which defers to Dual)."""

    @staticmethod
    def T(x):
        return Dual(np.transpose(x.v), np.transpose(x.t)) if isinstance(x, Dual) else x.T

    matmul = staticmethod(operator.matmul)

    @staticmethod
    def sum(x):
        return Dual(np.sum(x.v), np.sum(x.t)) if isinstance(x, Dual) else np.sum(x)

    @staticmethod
    def is_zero(x):
        return np.real(x.v if isinstance(x, Dual) else x) == 0

    def __getattr__(self, name):
        if name not in PRIMITIVES:
            raise AttributeError(name)
        return functools.partial(_apply, PRIMITIVES[name])


DUAL = _DualNamespace()


def _variables(model, wrt) -> list:
    """The variables asked for: the model's own symbols, none repeated (default its wrt)."""
    if wrt is None:
        return list(model.wrt)
    wrt = list(wrt)
    unknown = [w for w in wrt if w not in model.values]
    if unknown or len(set(wrt)) < len(wrt) or not wrt:
        raise DeriveError(f"wrt must list the model's own symbols, each once; got "
                          f"{', '.join(map(str, wrt))[:80] or 'none'}")
    return wrt


# ---- directions ---------------------------------------------------------------------


def _direction(p: Program, value: dict, w) -> dict:
    """The unit direction of model symbol w, as a tangent on the leaf that holds it."""
    where = p.locations()
    if w not in where:
        return {}
    leaf, index = where[w]
    if index is None:
        return {leaf: np.ones_like(np.asarray(value[leaf], dtype=float))}
    unit = np.zeros(np.shape(value[leaf]))
    unit[index] = 1.0
    return {leaf: unit}


def forward_gradients(model) -> dict:
    """The loss's gradient {symbol: float} by forward mode: one tangent pass per variable.

    Cost: P forward passes with tangents (backprop: one forward and one backward).
    """
    return forward_mode(program(model), model.values, model.wrt)


def forward_mode(p: Program, values: dict, wrt, value: dict | None = None) -> dict:
    """{symbol: d loss/d symbol, summed over the batch}: per symbol, a forward pass
    carrying its tangent.  The primal values are recomputed each time, as forward mode
    without stored intermediates does, unless a stored forward pass ``value`` is given
    (then each pass computes only the tangents)."""
    out = {}
    for w in wrt:
        primal = value if value is not None else p.forward(values)
        dot = p.tangents(primal, _direction(p, primal, w)).get(p.output)
        out[w] = _summed(dot, primal[p.output])
    return out


def _summed(dot, output) -> float:
    """A tangent of the output summed as the loss is: over the output's whole (batch)
    shape. A tangent that never met the batch (a parameter whose path avoids the inputs,
    sin(b) + w·x in b) is the same for every entry, so it counts once per entry."""
    if dot is None:
        return 0.0
    return float(np.sum(np.broadcast_to(dot, np.broadcast_shapes(np.shape(dot),
                                                                 np.shape(output)))))


def jvp(model, direction: dict) -> float:
    """The directional derivative of the summed loss along {symbol: component}.

    >>> from derive.models.families import model
    >>> m = model("toy")
    >>> round(jvp(m, {m.wrt[0]: 1.0, m.wrt[1]: 1.0}), 3)   # ∂ℓ/∂β0 + ∂ℓ/∂ω0
    7.527

    Over a batch, the loss is summed over its entries, and so is the tangent, also of a
    parameter whose path never meets the batch (f = b + w·x on three inputs: ∂f/∂b = 3):

    >>> from derive.models.model import from_expression
    >>> import numpy as np, sympy
    >>> b, w, x = sympy.symbols("b w x")
    >>> m = from_expression(b + w * x, {b: 1.0, w: 2.0}, {x: np.array([1.0, 2.0, 3.0])})
    >>> jvp(m, {b: 1.0})
    3.0
    """
    p = program(model)
    value = p.forward(model.values)
    tangent: dict = {}
    for w, amount in direction.items():
        for leaf, unit in _direction(p, value, w).items():
            tangent[leaf] = tangent.get(leaf, 0.0) + float(amount) * unit
    return _summed(p.tangents(value, tangent).get(p.output), value[p.output])


# ---- operation counts ----------------------------------------------------------------


def forward_ops(p: Program) -> int:
    """The primal operations of one forward pass."""
    return forward_count(p.rows)


def forward_mode_ops(p: Program) -> int:
    """Operations of the full gradient by forward mode: per variable, a forward pass
    and its tangents.

    Cost: one pass over the program carrying, per node, the set of variables that
    reach it (as a bit mask), instead of one pass per variable.
    """
    bit = {w: 1 << i for i, w in enumerate(p.wrt)}
    tangents = []

    def reaching(node, rule, args, reach):
        live = rule.live(args)
        mask = functools.reduce(operator.or_, (reach[a] for a in live), 0)
        moving = sum(reach[a].bit_count() for a in live)
        tangents.append(rule.ops(len(args))[1] * moving + moving - mask.bit_count())
        return mask

    forward(p.rows, {leaf: bit.get(leaf, 0) for leaf in p.leaves}, reaching)
    return len(p.wrt) * forward_ops(p) + sum(tangents)


def backward_ops(p: Program) -> int:
    return p.backprop_ops() - forward_ops(p)


def forward_over_reverse_ops(p: Program) -> int:
    """Operations of the whole Hessian by forward-over-reverse: per variable, a
    forward-mode pass, then the backward pass on dual numbers (three operations per
    backward operation)."""
    return forward_mode_ops(p) + 3 * len(p.wrt) * backward_ops(p)


def _close(a, b, tolerance: float, slack: float = 0.0) -> bool:
    """|a − b| ≤ tolerance·max(1, |b|) + slack (:func:`derive.base.agreement.agree`, at the
    scale max(1, |b|)); NaN or infinity never agrees."""
    if b is None or not np.isfinite(b):
        return False
    return agreement.agree(a, b, 0.0, tolerance, max(1.0, abs(b)), slack)


# ---- the Jacobian -----------------------------------------------------------------------


@dataclass
class Jacobian:
    """d outputs / d variables by both modes; rows are outputs."""

    model: str
    outputs: list[str]
    variables: list[str]
    forward_mode: list[list[float]]
    reverse_mode: list[list[float]]
    passes: dict
    ops: dict
    seconds: dict

    @property
    def agree(self) -> bool:
        return all(_close(a, b, EXACT) for ra, rb in zip(self.forward_mode, self.reverse_mode)
                   for a, b in zip(ra, rb))

    def to_json(self) -> dict:
        """The documented ``derive jacobian --json`` object."""
        return {"model": self.model, "outputs": self.outputs, "variables": self.variables,
                "jacobian": {"forward_mode": self.forward_mode,
                             "reverse_mode": self.reverse_mode},
                "passes": self.passes, "ops": self.ops, "seconds": self.seconds,
                "agree": self.agree}


def jacobian(model, wrt=None) -> Jacobian:
    """The Jacobian of the model's outputs (before the loss) with respect to ``wrt``
    (symbols; default the parameters), by forward mode (one pass per variable) and
    reverse mode (one pass per output), each timed and its operations counted.

    Read off the expression's program, summed over a batch.  Cost: V + O passes.
    """
    wrt = _variables(require_model(model), wrt)
    outputs = list(model.outputs)
    order = topological_order(outputs)
    p = Program([(n, rule_for(n), n.args) for n in order if n.args], outputs[0], wrt, {})
    value = p.forward(model.values)
    start = time.perf_counter()
    forward = []
    for w in wrt:
        dots = p.tangents(value, _direction(p, value, w))
        forward.append([_summed(dots.get(o), value[o]) for o in outputs])
    seconds_forward = time.perf_counter() - start
    start = time.perf_counter()
    seeded = [Program(p.rows, o, wrt, {}) for o in outputs]
    reverse = [list(q.per_symbol(value, q.backward(value)).values()) for q in seeded]
    seconds_reverse = time.perf_counter() - start
    # the output's step name (a shared graph's str() would print it as a tree: 2^30
    # factors for 30 squarings), else f1, f2, ...
    names = [model.names[o] if o in model.names else f"f{i + 1}"
             for i, o in enumerate(outputs)]
    return Jacobian(model.name, names, [str(w) for w in wrt],
                    [list(row) for row in zip(*forward)], reverse,
                    {"forward_mode": len(wrt), "reverse_mode": len(outputs)},
                    {"forward_mode": forward_mode_ops(p),
                     "reverse_mode": sum(q.backprop_ops() for q in seeded)},
                    {"forward_mode": seconds_forward, "reverse_mode": seconds_reverse})
