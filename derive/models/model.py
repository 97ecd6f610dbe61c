"""Models: a composed SymPy expression with values, and the families that build them.

A :class:`Model` holds the differentiated quantity ``output`` (the loss
ℓ = (f − y)² for toy and chain, l_N itself for the logistic map), the
variables differentiated (``wrt``) and a value for every symbol.

The families, built here and named by :mod:`derive.models.families`:

``toy``
    Notebook 7.1 exactly: f = β3 + ω3·cos[β2 + ω2·exp[β1 + ω1·sin[β0 + ω0·x]]],
    β = (1.0, 2.0, −3.0, 0.4), ω = (0.1, −0.4, 2.0, 3.0), x = 2.3, y = 2.0.
``chain:LIST`` and ``chain:LIST*K``
    f0 = β0 + ω0·x, h_k = act_k[f_{k−1}], f_k = β_k + ω_k·h_k, with LIST a
    comma-separated list of primitives, repeated K times.  Defaults (see
    :func:`chain_values`): x = 0.5, y = 1.0 and seeded parameters.
``logistic:N``
    The logistic map l1 = x, l_{n+1} = 4·l_n·(1 − l_n), built unevaluated so
    each l_n is one shared node; l_N is differentiated with respect to x = 0.3.

>>> m = toy()
>>> [str(p) for p in m.wrt]
['beta0', 'omega0', 'beta1', 'omega1', 'beta2', 'omega2', 'beta3', 'omega3']
>>> round(float(m.evaluate()), 3)
0.139
>>> parse_chain("tanh*0", "chain:tanh*0")
Traceback (most recent call last):
...
derive.base.errors.DeriveError: bad model 'chain:tanh*0': the repeat count K in chain:LIST*K must be a whole number from 1 to 512
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import sympy
from sympy import Add, Mul, Symbol

from derive.base.errors import DeriveError
from derive.base.limits import MAX_BATCH, MAX_CHAIN_LAYERS as MAX_LAYERS, MAX_SEED
from derive.core.graph import topological_order
from derive.core.rules import LOSSES, PRIMITIVES, activations
from derive.core.program import program
from derive.base.table import plain


TOY_BETA = (1.0, 2.0, -3.0, 0.4)
TOY_OMEGA = (0.1, -0.4, 2.0, 3.0)
TOY_X, TOY_Y = 2.3, 2.0
TOY_LAYERS = "sin,exp,cos"
"""Notebook 7.1's layers, spelled as a chain list (the toy's growth family)."""
CHAIN_X, CHAIN_Y = 0.5, 1.0
LOGISTIC_X = 0.3


@dataclass(frozen=True)
class Model:
    """A differentiable quantity with values for every symbol.

    ``names`` maps intermediate nodes to the names the staged program shows
    (f0, h1, ...); ``prediction`` is f where there is one.  Values are floats,
    or numpy arrays of one batch shape for inputs and targets.
    """

    name: str
    output: sympy.Expr
    wrt: tuple[Symbol, ...]
    values: dict[Symbol, object]
    parameters: tuple[Symbol, ...] = ()
    inputs: tuple[Symbol, ...] = ()
    targets: tuple[Symbol, ...] = ()
    prediction: sympy.Expr | None = None
    names: dict[sympy.Basic, str] = field(default_factory=dict)
    loss: str | None = None
    """The loss's row name in :data:`derive.core.rules.LOSSES`, or None where the
    output itself is differentiated."""
    lowerings: tuple = ()
    """Staged programs the model is lowered to besides its expression's own (a
    network's matrix program); the first computes its backprop."""
    draw: Callable = None
    """draw(rng, value, n): a batch of n inputs around ``value`` (default ± 0.5)."""
    predictions: tuple = ()
    """A model's outputs before the loss where there are several (a network's f_K)."""

    def __repr__(self) -> str:
        """Short whatever the model's size (a network's expression runs to millions of
        characters): its name and :meth:`summary`.

        >>> import derive
        >>> derive.model("toy")
        <Model toy: 8 variables (beta0, omega0, beta1, omega1, …), input x, target y, loss least_squares>

        Cost: constant.
        """
        name = self.name if len(self.name) <= 60 else self.name[:59] + "…"
        return f"<Model {name}: {self.summary()}>"

    def summary(self) -> str:
        """What it differentiates with respect to (the first few named), its inputs,
        targets, loss and batch, in one short line.  Cost: constant."""
        def some(symbols, most=4):
            names = [str(s) for s in symbols[:most]]
            return ", ".join(names + ["…"] * (len(symbols) > most))

        parts = [f"{len(self.wrt)} variable{'s' * (len(self.wrt) != 1)} ({some(self.wrt)})"]
        for label, symbols in (("input", self.inputs), ("target", self.targets)):
            if symbols:
                parts.append(f"{label}{'s' * (len(symbols) > 1)} {some(symbols, 2)}")
        if self.loss:
            parts.append(f"loss {self.loss}")
        if self.batch_size is not None:
            parts.append(f"batch {self.batch_size}")
        return ", ".join(parts)

    @property
    def outputs(self) -> tuple:
        """The outputs a Jacobian differentiates: the predictions, else f, else the output."""
        if self.predictions:
            return self.predictions
        return (self.prediction if self.prediction is not None else self.output,)

    @property
    def batch_size(self) -> int | None:
        """The number of examples where a value holds a batch (from a file), else None."""
        sizes = [np.size(v) for v in self.values.values() if np.ndim(v) > 0]
        return max(sizes) if sizes else None

    @property
    def target(self) -> Symbol | None:
        """The target symbol where there is exactly one."""
        return self.targets[0] if len(self.targets) == 1 else None

    def target_value(self):
        """The target's value: a float, a list (several targets or a batch), or None."""
        values = [plain(self.values[t]) for t in self.targets]
        return values[0] if len(values) == 1 else (values or None)

    def evaluate(self, values: dict | None = None):
        """The output's value (an array for a batch); see :mod:`derive.core.program`."""
        p = program(self)
        return p.forward(values or self.values)[p.output]

    def batch(self, n: int, seed: int = 0) -> "Model":
        """The same model on a seeded batch of ``n`` inputs and targets.

        Each input is drawn by the family's ``draw`` (uniformly from its value
        ± 0.5 unless the family says otherwise: the logistic map's x from
        (0, 1)); each target from its value ± 0.5.  The batch loss and its
        gradients are sums over the batch.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_BATCH:
            raise DeriveError(f"--batch must be a whole number from 1 to at most {MAX_BATCH:,}, "
                              f"got {n!r}")
        check_seed(seed)
        if self.batch_size is not None:
            raise DeriveError(f"the model already holds a batch of {self.batch_size} from a "
                              "file: leave out --batch")
        rng = np.random.default_rng(seed)
        values = dict(self.values)
        draw = self.draw or around
        for s in self.inputs:
            values[s] = draw(rng, self.values[s], n)
        for t in self.targets:
            values[t] = around(rng, self.values[t], n)
        return replace(self, values=values)


def check_seed(seed) -> int:
    """The seed if it is a whole number from 0 to MAX_SEED, else a DeriveError (before
    any work: numpy's generators refuse negative seeds with a bare ValueError)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= seed <= MAX_SEED:
        raise DeriveError(f"--seed must be a whole number from 0 to {MAX_SEED:,}, got {seed!r}")
    return seed


def around(rng, value, n: int) -> np.ndarray:
    """n draws uniformly from value ± 0.5."""
    return float(value) + rng.uniform(-0.5, 0.5, n)


def unit_interval(rng, value, n: int) -> np.ndarray:
    """n draws uniformly from (0, 1), the logistic map's domain."""
    return rng.uniform(0.0, 1.0, n)


def from_expression(prediction: sympy.Expr, parameters: dict, inputs: dict,
                    target: dict | None = None, wrt=None, name: str = "expression",
                    names: dict | None = None, loss: str = "least_squares") -> Model:
    """A model from a SymPy expression built in Python.

    ``parameters``, ``inputs`` and ``target`` map symbols to values (give
    ``target`` a one-entry dict; with none, the prediction itself is
    differentiated).  ``wrt`` defaults to every parameter, in order.  ``loss``
    names a loss row of :data:`derive.core.rules.LOSSES`.

    >>> b, w, x, y = sympy.symbols("b w x y")
    >>> m = from_expression(b + w * sympy.tanh(x), {b: 0.5, w: -1.0}, {x: 2.0}, {y: 1.0})
    >>> m.output
    (-y + (b + w*tanh(x)))**2
    """
    if not isinstance(prediction, sympy.Expr):
        raise DeriveError(f"the prediction must be a SymPy expression, got "
                          f"{type(prediction).__name__} (parse text with derive.parse)")
    if loss not in LOSSES:
        raise DeriveError(f"bad loss {str(loss)[:40]!r}: choose from {', '.join(LOSSES)}")
    parameters, inputs = _values(parameters, "parameters"), _values(inputs, "inputs")
    target = _values(target, "target") if target else target
    names = dict(names or {})
    symbols = {s.name for s in topological_order(prediction) if s.is_Symbol}
    symbols |= {str(s) for s in (target or {})}
    if target:
        ((y, y_value),) = target.items()
        output = LOSSES[loss].build(prediction, y)
        _default_name(names, prediction, "f", symbols)
        _default_name(names, output, "l", symbols)
        values = {**parameters, **inputs, y: y_value}
    else:
        y, output = None, prediction
        _default_name(names, output, "f", symbols)
        values = {**parameters, **inputs}
    missing = [str(s) for s in topological_order(output) if s.is_Symbol and s not in values]
    if missing:
        raise DeriveError(f"no value for symbol(s) {', '.join(sorted(missing))}")
    wrt = tuple(parameters) if wrt is None else tuple(wrt)
    if any(w not in values for w in wrt) or len(set(wrt)) < len(wrt):
        raise DeriveError("wrt must list the model's parameters or inputs, each once")
    return Model(name, output, wrt, values, tuple(parameters), tuple(inputs),
                 (y,) if y is not None else (), prediction, names,
                 loss=loss if y is not None else None)


def _values(values, what: str) -> dict:
    """{symbol: float64 value or 1-D float64 batch}: Python ints and other numbers are
    converted here, at the boundary (so 3*10**9 never overflows int64 arithmetic)."""
    if not isinstance(values, dict):
        raise DeriveError(f"{what} must be a dict of symbol: value, got {type(values).__name__}")
    out = {}
    for symbol, value in values.items():
        if not isinstance(symbol, sympy.Symbol):
            raise DeriveError(f"{what}: {symbol!r} is not a SymPy symbol")
        try:
            array = np.asarray(value, dtype=float) if not isinstance(value, (str, bytes)) \
                else None
        except (TypeError, ValueError, OverflowError):
            array = None
        if array is None or array.ndim > 1 or not np.all(np.isfinite(array)) \
                or array.size == 0 or array.size > MAX_BATCH:
            raise DeriveError(f"{what}: the value of {symbol} must be a finite number or a "
                              f"1-D batch of at most {MAX_BATCH:,}, got {str(value)[:40]!r}")
        out[symbol] = float(array) if array.ndim == 0 else array
    return out


def _default_name(names: dict, node, name: str, symbols: set):
    """Name a node the book's way (f, ℓ) unless it has a name; where a step or one of
    the model's own symbols has that one, it is v1, v2, ... instead."""
    if node in names:
        return
    taken = set(names.values()) | symbols
    k = 0
    while name in taken:
        k += 1
        name = f"v{k}"
    names[node] = name


def chain(activations: list[str], beta, omega, x: float, y: float, name: str) -> Model:
    """f0 = β0 + ω0·x, h_k = act_k[f_{k−1}], f_k = β_k + ω_k·h_k; ℓ = (f_K − y)²."""
    K = len(activations)
    betas = sympy.symbols(f"beta0:{K + 1}")
    omegas = sympy.symbols(f"omega0:{K + 1}")
    xs, ys = Symbol("x"), Symbol("y")
    f = betas[0] + omegas[0] * xs
    names = {f: "f0"}
    for k, act in enumerate(activations, start=1):
        h = PRIMITIVES[act].sympy(f)
        f = betas[k] + omegas[k] * h
        names[h], names[f] = f"h{k}", f"f{k}"
    parameters = {}
    for k in range(K + 1):
        parameters[betas[k]], parameters[omegas[k]] = float(beta[k]), float(omega[k])
    return from_expression(f, parameters, {xs: x}, {ys: y}, name=name, names=names)


def chain_values(activations: list[str], seed: int = 0, x: float = CHAIN_X):
    """Default chain parameters: seeded, and scaled so deep chains stay finite.

    ω_k = ±U(0.5, 1.0) with a random sign; β_k is then chosen so that the
    pre-activation f_k at the default input lies within ±0.25 of the next
    primitive's centre (0 for most, 0.5 for relu, 1.5 for log and sqrt; 0 for
    the output f_K).  So every layer works where its primitive is tame, at
    any depth.  Returns (beta, omega) as lists.
    """
    rng = np.random.default_rng(seed)
    beta, omega, h = [], [], x
    for nxt in [*activations, None]:
        w = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0)
        centre = PRIMITIVES[nxt].centre if nxt else 0.0
        b = centre + rng.uniform(-0.25, 0.25) - w * h
        beta.append(b)
        omega.append(w)
        if nxt:
            h = float(PRIMITIVES[nxt].forward(b + w * h))
    return beta, omega


def logistic(n: int, x: float = LOGISTIC_X) -> Model:
    """l1 = x, l_{k+1} = 4·l_k·(1 − l_k), each l_k one shared node; output l_n."""
    xs = Symbol("x")
    l, names = xs, {}
    for k in range(2, n + 1):
        l = Mul(4, l, Add(1, Mul(-1, l, evaluate=False), evaluate=False), evaluate=False)
        names[l] = f"l{k}"
    return Model(f"logistic:{n}", l, (xs,), {xs: x}, (), (xs,), (), None, names,
                 draw=unit_interval)


def toy() -> Model:
    """Notebook 7.1's model and values."""
    return chain(parse_chain(TOY_LAYERS, "toy"), TOY_BETA, TOY_OMEGA, TOY_X, TOY_Y, "toy")


def parse_chain(arg: str, spec: str) -> list[str]:
    """'sin,exp,cos*4' -> the list of activations, validated."""
    body, star, count = arg.partition("*")
    if star and (not re.fullmatch(r"[0-9]+", count) or not 1 <= int(count) <= MAX_LAYERS):
        raise _bad(spec, "the repeat count K in chain:LIST*K must be a whole number "
                         f"from 1 to {MAX_LAYERS}")
    names = [name.strip() for name in body.split(",")] if body.strip() else []
    if not names:
        raise _bad(spec, "a chain needs at least one layer, e.g. chain:sin,exp,cos")
    for name in names:
        if name not in activations():
            raise _bad(spec, f"unknown primitive {name!r}; known: {', '.join(activations())}")
    layers = names * (int(count) if star else 1)
    if len(layers) > MAX_LAYERS:
        raise _bad(spec, f"a chain may have at most {MAX_LAYERS} layers, this has {len(layers)}")
    return layers


def _bad(spec: str, why: str) -> DeriveError:
    return DeriveError(f"bad model {spec!r}: {why}")
