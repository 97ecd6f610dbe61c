"""Deep networks: notebook 7.2's network lowered to a matrix program, and the same net as symbols.

``mlp:D0-D1-...-DK[:ACT]`` is a fully connected network in the book's notation:
f_0 = β_0 + Ω_0 x, h_{k} = a[f_{k−1}], f_k = β_k + Ω_k h_k, with the
least-squares loss summed over outputs and batch.  The activation comes from the
rule table (relu by default; relu'(0) = 0, the notebook's indicator).

:func:`build` lowers the layers into a :class:`derive.core.program.Program` of rows
on matrices (one column per example): the affine row, the activation's row
and the loss row.  Its backward pass is the interpreter's, reading those rows,
which is the book's ∂ℓ/∂f_K = 2(f_K − y), ∂ℓ/∂β_k = ∂ℓ/∂f_k, ∂ℓ/∂Ω_k =
∂ℓ/∂f_k h_kᵀ, ∂ℓ/∂h_k = Ω_kᵀ ∂ℓ/∂f_k, ∂ℓ/∂f_{k−1} = a′[f_{k−1}] ⊙ ∂ℓ/∂h_k.  The
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
>>> p = m.lowerings[0]
>>> len(m.wrt), [s.name for s in p.steps][-3:], round(float(p.forward(m.values)["f5"][0, 0]), 3)
(187, ['h5', 'f5', 'l'], 1.907)
"""

from __future__ import annotations

import re
import numpy as np
from sympy import Add, Symbol

from derive.models import names as naming
from derive.base.errors import DeriveError
from derive.base.limits import MAX_NETWORK_LAYERS as MAX_LAYERS
from derive.base.limits import MAX_NETWORK_PARAMETERS as MAX_PARAMETERS
from derive.base.limits import MAX_NETWORK_WIDTH as MAX_WIDTH
from derive.models.model import Model
from derive.core.rules import AFFINE, DEFAULT_ACTIVATION, LOSSES, PRIMITIVES, activations
from derive.core.rule import Rule
from derive.core.program import Layer, Program, Variable

UDL72 = {"dims": (1, 6, 6, 6, 6, 6, 1), "act": DEFAULT_ACTIVATION, "input": 1.2,
         "target": 20.0}


def parse_mlp(spec: str) -> tuple[tuple[int, ...], str]:
    """'mlp:1-6-6-1:tanh' -> ((1, 6, 6, 1), 'tanh'); DeriveError naming what is wrong."""
    body = spec.partition(":")[2]
    dims_text, _, act = body.partition(":")
    act = act or DEFAULT_ACTIVATION
    if not re.fullmatch(r"[0-9]+(-[0-9]+)+", dims_text):
        raise DeriveError(f"bad model {spec!r}: mlp:D0-D1-...-DK[:ACT] needs at least two "
                          "widths joined by '-', e.g. mlp:1-6-6-1:relu, or mlp:udl72")
    dims = tuple(int(d) for d in dims_text.split("-"))
    shown = spec if len(spec) <= 40 else f"{spec[:24]}...{spec[-12:]}"
    if not all(1 <= d <= MAX_WIDTH for d in dims) or len(dims) - 1 > MAX_LAYERS:
        raise DeriveError(f"bad model {shown!r}: widths from 1 to {MAX_WIDTH}, "
                          f"at most {MAX_LAYERS} layers (this has {len(dims) - 1})")
    count = sum(dims[k + 1] * (dims[k] + 1) for k in range(len(dims) - 1))
    if count > MAX_PARAMETERS:
        raise DeriveError(f"bad model {shown!r}: {count:,} parameters, "
                          f"at most {MAX_PARAMETERS:,}")
    if act not in activations():
        raise DeriveError(f"bad model {spec!r}: unknown activation {act!r}; "
                          f"known: {', '.join(activations())}")
    return dims, act


def mlp(spec: str, seed: int = 0) -> Model:
    """The mlp family member (or the udl72 preset): its expression and its matrix program."""
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
    gain = PRIMITIVES[act].gain
    W = [rng.normal(0.0, np.sqrt(gain / dims[k]), size=(dims[k + 1], dims[k]))
         for k in range(len(dims) - 1)]
    b = [rng.normal(0.0, 0.1, size=dims[k + 1]) for k in range(len(dims) - 1)]
    return W, b, rng.normal(size=dims[0]), rng.normal(size=dims[-1])


def build(dims, act, W, b, x, y, name) -> Model:
    """The network as one scalar SymPy expression, lowered also to its matrix program."""
    K = len(dims) - 2
    omegas = tuple(tuple(tuple(Symbol(naming.weight(k, i, j)) for j in range(dims[k]))
                         for i in range(dims[k + 1])) for k in range(K + 1))
    betas = tuple(tuple(Symbol(naming.bias(k, i)) for i in range(dims[k + 1]))
                  for k in range(K + 1))
    xs = tuple(Symbol("x") if dims[0] == 1 else Symbol(f"x{j}") for j in range(dims[0]))
    ys = tuple(Symbol("y") if dims[-1] == 1 else Symbol(f"y{i}") for i in range(dims[-1]))
    loss = LOSSES["least_squares"]
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
    losses = [loss.build(fi, yi) for fi, yi in zip(f, ys)]
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
    prediction = f[0] if len(f) == 1 else None
    return Model(name, output, tuple(parameters), values, tuple(parameters), xs, ys,
                 prediction, names, loss="least_squares",
                 lowerings=(layers(omegas, betas, xs, ys, PRIMITIVES[act]),), predictions=tuple(f))


def layers(omegas, betas, xs, ys, activation: Rule) -> Program:
    """The matrix program: f_k = affine(β_k, Ω_k, h_k), h_{k+1} = a(f_k), ℓ = loss(f_K, y),
    with ``activation`` the row a.

    Values are matrices with one column per example; the program's variables
    are the grids Ω_k and β_k (a column), the input x and the target y.  Grids may
    be empty (``((),) * (K + 1)`` and ``()``) where no symbol per weight is wanted
    (notebook 7.3's networks have 300,000 weights): the program then runs on arrays
    given to :meth:`Program.run`.
    """
    K = len(omegas) - 1
    h = Variable("x", tuple((s,) for s in xs), batch=True)
    ops, wrt, records = [], [], []
    for k in range(K + 1):
        omega = Variable(f"Omega{k}", omegas[k])
        beta = Variable(f"beta{k}", tuple((s,) for s in betas[k]))
        wrt += [omega, beta]
        ops.append((f"f{k}", AFFINE, (beta, omega, h)))
        records.append(Layer(omega.name, beta.name, str(h), f"f{k}",
                             f"h{k + 1}" if k < K else None))
        if k < K:
            ops.append((f"h{k + 1}", activation, (f"f{k}",)))
            h = f"h{k + 1}"
    target = Variable("y", tuple((s,) for s in ys), batch=True)
    ops.append(("l", LOSSES["least_squares"], (f"f{K}", target)))
    return Program(ops, "l", wrt, {key: key for key, _, _ in ops}, records)
