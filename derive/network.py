"""Deep networks: notebook 7.2's staged backprop in matrix form, and the same net as symbols.

``mlp:D0-D1-...-DK[:ACT]`` is a fully connected network in the book's notation:
f_k = β_k + Ω_k h_k, h_{k+1} = a[f_k] (h_0 the input, f_K the output), with the
least-squares loss summed over outputs and batch.  The activation comes from the
primitive table (relu by default; relu'(0) = 0, the notebook's indicator).

The backward pass is the book's:

    ∂ℓ/∂f_K = 2(f_K − y)
    ∂ℓ/∂β_k = ∂ℓ/∂f_k,        ∂ℓ/∂Ω_k = ∂ℓ/∂f_k h_kᵀ
    ∂ℓ/∂h_k = Ω_kᵀ ∂ℓ/∂f_k,   ∂ℓ/∂f_{k−1} = a′[f_{k−1}] ⊙ ∂ℓ/∂h_k

batched with one column per example (no Python loop over examples).  The
same network is also one scalar SymPy expression with a symbol per weight and
bias, named ``Omega{k}[{i},{j}]`` and ``beta{k}[{i}]``, which the DAG sweep and
the scalar staged program read like any other model.

``mlp:udl72`` is notebook 7.2's network exactly: K = 5 hidden layers of width
6, input and output width 1, ReLU, ``np.random.seed(0)`` then ``np.random.normal``
draws in the notebook's order (Ω0, Ω5, β0, β5, then Ω_k, β_k for k = 1..4),
input 1.2, target 20.0.  Other sizes draw, with ``numpy.random.default_rng(seed)``,
Ω_k ~ N(0, g²/D_k) (g² = 2 for relu, 1 otherwise), β_k ~ N(0, 0.1²), the input
from N(0, 1) and the target from N(0, 1).

>>> m = mlp("mlp:udl72")
>>> len(m.wrt), round(float(m.network.forward(m.values)[0][-1][0, 0]), 3)
(187, 1.907)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sympy import Add, Symbol

from .errors import DeriveError
from .models import Model, least_squares
from .primitives import ACTIVATIONS, PRIMITIVES

MAX_WIDTH = 256
MAX_LAYERS = 64
MAX_PARAMETERS = 100_000
UDL72 = {"dims": (1, 6, 6, 6, 6, 6, 1), "act": "relu", "input": 1.2, "target": 20.0}


@dataclass(frozen=True)
class Network:
    """The matrix form: symbols arranged as Ω_k, β_k grids, and numpy passes over them."""

    dims: tuple[int, ...]
    act: str
    omegas: tuple  # Ω_k as a tuple of rows of symbols, shape (D_{k+1}, D_k)
    betas: tuple   # β_k as a tuple of symbols, length D_{k+1}
    inputs: tuple
    targets: tuple

    @property
    def K(self) -> int:
        return len(self.dims) - 2

    def arrays(self, values: dict):
        """Ω_k and β_k as arrays, the input as (D0, N) and the target as (DK, N)."""
        W = [np.array([[values[s] for s in row] for row in om]) for om in self.omegas]
        b = [np.array([values[s] for s in be])[:, None] for be in self.betas]
        X = _columns([values[s] for s in self.inputs])
        Y = _columns([values[s] for s in self.targets])
        return W, b, X, Y

    def forward(self, values: dict):
        """Step 1 in matrix form: (all f_k, all h_k), h_0 the input."""
        W, b, X, _ = self.arrays(values)
        return self._forward(W, b, X)

    def _forward(self, W, b, X):
        act = PRIMITIVES[self.act].forward
        fs, hs = [], [X]
        with np.errstate(all="ignore"):
            for k in range(self.K + 1):
                fs.append(b[k] + W[k] @ hs[k])
                if k < self.K:
                    hs.append(act(fs[k]))
        return fs, hs

    def loss(self, values: dict) -> float:
        """The least-squares loss summed over outputs and batch."""
        return self.loss_and_kinks(values)[0]

    def loss_and_kinks(self, values: dict):
        """The loss, and the sign of every pre-activation where the activation has a kink.

        One forward pass serves both (the finite differences call this per step).
        The signs are None for an analytic activation.
        """
        W, b, X, Y = self.arrays(values)
        fs, _ = self._forward(W, b, X)
        kinks = None if PRIMITIVES[self.act].analytic else [np.sign(f) for f in fs[:-1]]
        return np.sum((fs[-1] - Y) ** 2), kinks

    def backward(self, values: dict):
        """Steps 2 and 3: (∂ℓ/∂f_k, ∂ℓ/∂h_k, ∂ℓ/∂Ω_k, ∂ℓ/∂β_k) per layer, summed over the batch."""
        W, b, X, Y = self.arrays(values)
        fs, hs = self._forward(W, b, X)
        d_act = PRIMITIVES[self.act].d_numeric
        df = [None] * (self.K + 1)
        dh = [None] * (self.K + 1)
        dW, db = [None] * (self.K + 1), [None] * (self.K + 1)
        with np.errstate(all="ignore"):
            df[self.K] = 2 * (fs[self.K] - Y)
            for k in range(self.K, -1, -1):
                db[k] = df[k].sum(axis=1)
                dW[k] = df[k] @ hs[k].T
                if k > 0:
                    dh[k] = W[k].T @ df[k]
                    df[k - 1] = d_act(fs[k - 1], hs[k]) * dh[k]
        return df, dh, dW, db

    def gradients(self, values: dict) -> dict:
        """{parameter symbol: ∂ℓ/∂parameter} from the matrix backward pass."""
        _, _, dW, db = self.backward(values)
        out = {}
        for k in range(self.K + 1):
            for i, row in enumerate(self.omegas[k]):
                for j, s in enumerate(row):
                    out[s] = float(dW[k][i, j])
            for i, s in enumerate(self.betas[k]):
                out[s] = float(db[k][i])
        return out


def _columns(items) -> np.ndarray:
    arrays = [np.atleast_1d(np.asarray(v)) for v in items]
    n = max(a.shape[0] for a in arrays)
    return np.stack([np.broadcast_to(a, (n,)) for a in arrays])


def parse_mlp(spec: str) -> tuple[tuple[int, ...], str]:
    """'mlp:1-6-6-1:tanh' -> ((1, 6, 6, 1), 'tanh'); DeriveError naming what is wrong."""
    body = spec.partition(":")[2]
    dims_text, _, act = body.partition(":")
    act = act or "relu"
    if not re.fullmatch(r"[0-9]+(-[0-9]+)+", dims_text):
        raise DeriveError(f"bad model {spec!r}: mlp:D0-D1-...-DK[:ACT] needs at least two "
                          "widths joined by '-', e.g. mlp:1-6-6-1:relu, or mlp:udl72")
    dims = tuple(int(d) for d in dims_text.split("-"))
    if not all(1 <= d <= MAX_WIDTH for d in dims) or len(dims) - 1 > MAX_LAYERS:
        raise DeriveError(f"bad model {spec!r}: widths from 1 to {MAX_WIDTH}, "
                          f"at most {MAX_LAYERS} layers")
    count = sum(dims[k + 1] * (dims[k] + 1) for k in range(len(dims) - 1))
    if count > MAX_PARAMETERS:
        raise DeriveError(f"bad model {spec!r}: {count:,} parameters, at most {MAX_PARAMETERS:,}")
    if act not in ACTIVATIONS:
        raise DeriveError(f"bad model {spec!r}: unknown activation {act!r}; "
                          f"known: {', '.join(ACTIVATIONS)}")
    return dims, act


def mlp(spec: str, seed: int = 0) -> Model:
    """The mlp family member (or the udl72 preset) as a Model with a Network."""
    if spec.strip() == "mlp:udl72":
        dims, act = UDL72["dims"], UDL72["act"]
        W, b, x, y = udl72_values()
    else:
        dims, act = parse_mlp(spec.strip())
        W, b, x, y = default_values(dims, act, seed)
    return build(dims, act, W, b, x, y, spec.strip())


def udl72_values():
    """Notebook 7.2's draws, in its order, from the legacy global generator."""
    state = np.random.get_state()
    try:
        np.random.seed(0)
        K, D = 5, 6
        W, b = [None] * (K + 1), [None] * (K + 1)
        W[0] = np.random.normal(size=(D, 1))
        W[-1] = np.random.normal(size=(1, D))
        b[0] = np.random.normal(size=(D, 1))
        b[-1] = np.random.normal(size=(1, 1))
        for k in range(1, K):
            W[k] = np.random.normal(size=(D, D))
            b[k] = np.random.normal(size=(D, 1))
    finally:
        np.random.set_state(state)  # leave the caller's global generator as it was
    return W, [v[:, 0] for v in b], np.array([UDL72["input"]]), np.array([UDL72["target"]])


def default_values(dims, act, seed):
    rng = np.random.default_rng(seed)
    gain = 2.0 if act == "relu" else 1.0
    W = [rng.normal(0.0, np.sqrt(gain / dims[k]), size=(dims[k + 1], dims[k]))
         for k in range(len(dims) - 1)]
    b = [rng.normal(0.0, 0.1, size=dims[k + 1]) for k in range(len(dims) - 1)]
    return W, b, rng.normal(size=dims[0]), rng.normal(size=dims[-1])


def build(dims, act, W, b, x, y, name) -> Model:
    """The network as one scalar SymPy expression, plus its matrix form."""
    K = len(dims) - 2
    omegas = tuple(tuple(tuple(Symbol(f"Omega{k}[{i},{j}]") for j in range(dims[k]))
                         for i in range(dims[k + 1])) for k in range(K + 1))
    betas = tuple(tuple(Symbol(f"beta{k}[{i}]") for i in range(dims[k + 1]))
                  for k in range(K + 1))
    xs = tuple(Symbol("x") if dims[0] == 1 else Symbol(f"x{j}") for j in range(dims[0]))
    ys = tuple(Symbol("y") if dims[-1] == 1 else Symbol(f"y{i}") for i in range(dims[-1]))
    h, names = list(xs), {}
    for k in range(K + 1):
        f = [Add(betas[k][i], *[omegas[k][i][j] * h[j] for j in range(dims[k])])
             for i in range(dims[k + 1])]
        for i, fi in enumerate(f):
            names.setdefault(fi, f"f{k}[{i}]")
        if k < K:
            h = [PRIMITIVES[act].sympy(fi) for fi in f]
            for i, hi in enumerate(h):
                names.setdefault(hi, f"h{k + 1}[{i}]")
    losses = [least_squares(fi, yi) for fi, yi in zip(f, ys)]
    output = losses[0] if len(losses) == 1 else Add(*losses, evaluate=False)
    names[output] = "l"
    values = {}
    parameters = []
    for k in range(K + 1):
        for i in range(dims[k + 1]):
            for j in range(dims[k]):
                values[omegas[k][i][j]] = float(W[k][i][j])
                parameters.append(omegas[k][i][j])
        for i in range(dims[k + 1]):
            values[betas[k][i]] = float(b[k][i])
            parameters.append(betas[k][i])
    values.update({s: float(v) for s, v in zip(xs, x)})
    values.update({s: float(v) for s, v in zip(ys, y)})
    network = Network(tuple(dims), act, omegas, betas, xs, ys)
    prediction = f[0] if len(f) == 1 else None
    return Model(name, output, tuple(parameters), values, tuple(parameters), xs, ys,
                 prediction, names, network, loss="least_squares")


def network_trace(model):
    """The three steps per layer, as vectors: f_k, h_k and their adjoints.

    Values are vectors (lists) for one input and matrices (one column per
    example) for a batch; gradients are per parameter, summed over the batch.
    """
    from .printing import mathml, to_latex
    from .staged import Trace
    from .table import Table, plain
    net, values = model.network, model.values
    fs, hs = net.forward(values)
    df, dh, _, _ = net.backward(values)
    act = PRIMITIVES[net.act].sympy
    rows, adjoints = [], []
    for k in range(net.K + 1):
        f, beta, omega, h = (Symbol(f"{n}{k}") for n in ("f", "beta", "Omega", "h"))
        rows.append(_row(f"f{k}", beta + omega * h, _vector(fs[k]), mathml, to_latex))
        if k < net.K:
            rows.append(_row(f"h{k + 1}", act(f), _vector(hs[k + 1]), mathml, to_latex))
    f_K, y = Symbol(f"f{net.K}"), Symbol("y")
    loss = net.loss(values)
    rows.append(_row("l", (f_K - y) ** 2, float(loss), mathml, to_latex))
    for k in range(net.K, -1, -1):
        adjoints.append({"name": f"f{k}", "adjoint": _vector(df[k])})
        if k > 0:
            adjoints.append({"name": f"h{k}", "adjoint": _vector(dh[k])})
    gradients = {str(s): g for s, g in net.gradients(values).items()}
    return Trace(model.name, {str(s): plain(values[s]) for s in model.parameters},
                 {str(s): plain(values[s]) for s in model.inputs}, model.target_value(),
                 float(loss), Table(["name", "equation", "value"], rows),
                 Table(["name", "adjoint"], adjoints, headers={"name": "dl/d"}), gradients,
                 [])


def _row(name, equation, value, mathml, to_latex):
    return {"name": name, "equation": to_latex(equation), "text": str(equation),
            "mathml": mathml(equation), "value": value}


def _vector(array):
    """One column as a list; a batch as a list of rows (one column per example)."""
    array = np.asarray(array, dtype=float)
    return array[:, 0].tolist() if array.shape[1] == 1 else array.tolist()
