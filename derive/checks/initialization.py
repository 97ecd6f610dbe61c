"""Growth of values: notebook 7.3 (initialization), the values' swell beside the expressions'.

Notebook 7.3 runs a deep network of K hidden layers of width D, weights drawn with
variance σ²_Ω and zero biases, and prints the standard deviation of the hidden units
h_k layer by layer (forward) and of ∂ℓ/∂f_k (backward).  :func:`experiment` runs its
procedure exactly, on derive's matrix program (:func:`derive.models.network.layers`):

1. ``init_params``: legacy ``np.random.seed(seed)``, then Ω₀ (D×1), Ω_K (1×D),
   Ω₁ … Ω_{K−1} (D×D), each N(0, 1)·√σ²_Ω, every bias zero;
2. the forward pass (Step 1) on ``n_data = 1000`` inputs drawn from the same stream
   after the weights: std of h_k over all units and inputs, k = 1 … K;
3. ``init_params`` again, then 100 inputs from the stream, target y = 0, the backward
   pass (Step 2): std of ∂ℓ/∂f_k over all units and inputs, k = K−1 … 1.

The notebook draws and passes the 100 inputs one at a time; here they are one batch
(the same draws, in the same order: the legacy generator's stream does not depend on
how it is read, and each column's backward pass is the example's own under the summed
loss).  The ReLU is 7.3's (:data:`derive.core.rules.RELU_73`, derivative 𝕀[f ≥ 0]).

Theory (the book's section 7.5): with ReLU layers the variance is multiplied by about
D·σ²_Ω/2 per layer, forward and, mirrored, backward; the std by its square root.
He's σ²_Ω = 2/D makes it 1; Glorot's 1/D (fan-in = fan-out = D) halves the variance
per layer.  For another activation the factor is measured, not predicted.

Cost: two forward passes and one backward pass of K matrix products (D×D by D×1000 and
D×100): about a second at K = 50, D = 80.

>>> run = experiment(K=5, D=8, sigma2=1.0)
>>> printed = [0.811, 1.472, 4.547, 8.896, 10.106]     # the notebook's printout, forward
>>> all(abs(s - p) <= 5e-4 for s, p in zip(run.forward_std, printed))
True
>>> printed = [56.472, 109.132, 340.657, 446.654]     # backward, from layer 4 down
>>> all(abs(s - p) <= 5e-4 for s, p in zip(run.backward_std[-2::-1], printed))
True
>>> run.predicted_factor["forward"]               # √(8·1/2)
2.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from derive.base.errors import DeriveError
from derive.core.rules import NOTEBOOK_73_ROWS, PRIMITIVES, RELU_73

N_FORWARD = 1000
"""Inputs of the forward experiment (the notebook's ``n_data`` in its first experiment)."""
N_BACKWARD = 100
"""Inputs of the backward experiment (its ``n_data`` in the second)."""
MAX_K, MAX_D, MAX_UNITS = 200, 512, 20_000
"""Depth and width at most, and K·D at most (the forward pass keeps K·D·1000 values
twice: 320 MB at the limit)."""
NOTEBOOK = RELU_73.name
"""The notebook's activation: ReLU, with its own derivative at 0 (:data:`RELU_73`)."""
BAND = 10.0
"""A σ²_Ω "keeps" the std when every layer's is within this factor of layer 1's (grading)."""


def sigma2_value(text: str, D: int) -> float:
    """``--sigma2``'s value: ``he`` (2/D), ``glorot`` (1/D), or a positive number.

    >>> sigma2_value("he", 80), sigma2_value("glorot", 8), sigma2_value("0.5", 8)
    (0.025, 0.125, 0.5)
    """
    word = text.strip().lower()
    if word == "he":
        return 2.0 / D
    if word == "glorot":
        return 1.0 / D
    try:
        value = float(word)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise DeriveError(f"bad --sigma2 {text!r}: a positive number, he (2/D) or glorot "
                          "(1/D)")
    return value


def check_shape(K: int, D: int) -> None:
    """A depth and width the experiment takes, or one line saying the limits."""
    if not (1 <= K <= MAX_K and 1 <= D <= MAX_D and K * D <= MAX_UNITS):
        raise DeriveError(f"bad --K {K} --D {D}: depth K from 1 to {MAX_K}, width D from 1 "
                          f"to {MAX_D}, and K·D at most {MAX_UNITS:,}")


def init_params(K: int, D: int, sigma2: float, seed: int = 0):
    """The notebook's ``init_params``: weights [Ω₀ … Ω_K], zero biases [β₀ … β_K] (columns),
    and the seeded legacy generator, positioned after the weights (its next draws are the
    notebook's inputs)."""
    rng = np.random.RandomState(seed)  # np.random.seed(seed)'s stream
    weights, biases = [None] * (K + 1), [None] * (K + 1)
    weights[0] = rng.normal(size=(D, 1)) * np.sqrt(sigma2)
    weights[-1] = rng.normal(size=(1, D)) * np.sqrt(sigma2)
    biases[0], biases[-1] = np.zeros((D, 1)), np.zeros((1, 1))
    for layer in range(1, K):
        weights[layer] = rng.normal(size=(D, D)) * np.sqrt(sigma2)
        biases[layer] = np.zeros((D, 1))
    return weights, biases, rng


def network(K: int, activation: str = NOTEBOOK):
    """The matrix program of K hidden layers (grids without a symbol per weight), with
    7.3's own row for its ReLU."""
    from derive.models.network import layers
    rule = NOTEBOOK_73_ROWS.get(activation) or PRIMITIVES[activation]
    return layers(((),) * (K + 1), ((),) * (K + 1), (), (), rule)


def weight_leaves(program, weights, biases) -> dict:
    """{leaf: array} for the program's Ω_k and β_k (a column each)."""
    by_name = {leaf.name: leaf for leaf in program.leaves}
    leaves = {}
    for layer, w, b in zip(program.layers, weights, biases):
        leaves[by_name[layer.weight]] = w
        leaves[by_name[layer.bias]] = np.reshape(b, (-1, 1))
    return leaves


def with_data(program, leaves, x) -> dict:
    """The weights' leaves with inputs ``x`` (one column per example) and target y = 0."""
    by_name = {leaf.name: leaf for leaf in program.leaves}
    outputs = np.shape(leaves[by_name[program.layers[-1].bias]])[0]
    return {**leaves, by_name[program.layers[0].input]: x,
            by_name["y"]: np.zeros((outputs, x.shape[1]))}


def hidden_layers(program) -> int:
    """K: the program's layers f_0 … f_K, less one (-1 for a program of no layers)."""
    return len(program.layers) - 1


def forward_std(program, leaves, x) -> list[float]:
    """Step 1 on the inputs ``x``: std of h_k over units and inputs, k = 1 … K."""
    value = program.run(with_data(program, leaves, x))
    return [float(np.std(value[layer.activation])) for layer in program.layers[:-1]]


def backward_std(program, leaves, x) -> list[float | None]:
    """Steps 1 and 2 with y = 0: std of ∂ℓ/∂f_k over units and inputs for k = 1 … K−1,
    and None for k = K (f_K is the output, not a hidden layer; the notebook prints K−1 … 1)."""
    value = program.run(with_data(program, leaves, x))
    adjoint = program.backward(value)
    return [float(np.std(adjoint[layer.preactivation]))
            for layer in program.layers[1:-1]] + [None]


def exponential(layers, stds, backward: bool = False) -> dict | None:
    """The std's exponential law a·b^k by least squares on log std against the layer k:
    {"law": "exponential", "a", "b", "r2", "from_depth"} as :func:`derive.checks.growth.fit`
    gives it (``b`` per layer going back for ``backward``), whatever law would fit better:
    the factor per layer is the question.  None with fewer than two finite, positive values.

    >>> exponential([1, 2, 3], [1.0, 2.0, 4.0])["b"], exponential([1, 2, 3], [4, 2, 1], True)["b"]
    (2.0, 2.0)
    """
    from derive.checks.growth import _r2
    points = [(k, math.log(s)) for k, s in zip(layers, stds)
              if s is not None and math.isfinite(s) and s > 0]
    if len(points) < 2:
        return None
    k = np.array([p[0] for p in points], dtype=float)
    logs = np.array([p[1] for p in points])
    slope, intercept = np.polyfit(k, logs, 1)
    r2 = _r2(logs, np.exp(intercept + slope * k)) if len(points) > 2 else 1.0
    return {"law": "exponential", "a": float(math.exp(intercept)),
            "b": round(float(math.exp(-slope if backward else slope)), 12), "r2": r2,
            "from_depth": int(k[0])}


def fitted(layers, forward, backward) -> dict:
    """{"forward", "backward"}: each std's exponential law (:func:`exponential`; the
    backward one per layer going back), None where too few layers."""
    return {"forward": exponential(layers, forward),
            "backward": exponential(layers, backward, backward=True)}


def factor_words(law: dict | None) -> str:
    """A fitted factor in derive's words for growth laws.

    >>> factor_words({"law": "exponential", "a": 1.0, "b": 6.24, "r2": 0.9999})
    'exponential: grows about 6.24 times per layer (R² 1.000)'
    """
    from derive.checks.growth import describe
    return "too few layers to fit" if law is None else describe(law)


def predicted_factor(D: int, sigma2: float, activation: str = NOTEBOOK) -> float | None:
    """The std's factor per layer by the theory, √(D·σ²_Ω/gain) (gain 2: √(D·σ²_Ω/2) for
    ReLU), for the activations it covers (:data:`derive.core.rules.NOTEBOOK_73_ROWS`);
    None otherwise (no one-line law: tanh and the others saturate, so the factor depends
    on the variance reached)."""
    row = NOTEBOOK_73_ROWS.get(activation)
    return None if row is None else math.sqrt(D * sigma2 / row.gain)


@dataclass
class Initialization:
    """One run of 7.3's experiment: ``forward_std[i]`` and ``backward_std[i]`` are layer
    ``layers[i]``'s (backward None at layer K); the factors per layer as predicted and
    fitted, each {"forward", "backward"}."""

    K: int
    D: int
    sigma2: float
    seed: int
    activation: str
    layers: list
    forward_std: list
    backward_std: list
    predicted_factor: dict
    fitted_factor: dict

    def to_json(self) -> dict:
        """The documented ``derive init --json`` object."""
        return {"K": self.K, "D": self.D, "sigma2": self.sigma2, "seed": self.seed,
                "activation": self.activation, "layers": self.layers,
                "forward_std": self.forward_std, "backward_std": self.backward_std,
                "predicted_factor": self.predicted_factor,
                "fitted_factor": self.fitted_factor}

    def laws(self) -> dict:
        """{"forward", "backward"}: each std's fitted factor per layer, in words."""
        laws = fitted(self.layers, self.forward_std, self.backward_std)
        return {key: factor_words(law) for key, law in laws.items()}

    def lines(self) -> list[str]:
        """The notebook's own printout: forward layers 1 … K, then backward K−1 … 1 (its
        label says dl_dh; the values are ∂ℓ/∂f_k, as its code computes them)."""
        lines = [f"Layer {k}, std of hidden units = {s:3.3f}"
                 for k, s in zip(self.layers, self.forward_std)]
        lines += [f"Layer {k}, std of dl_dh = {s:3.3f}"
                  for k, s in reversed(list(zip(self.layers, self.backward_std)))
                  if s is not None]
        return lines

    def theory(self) -> str:
        """The predicted factor per layer, and the σ²_Ω that makes it 1."""
        he, glorot = 2.0 / self.D, 1.0 / self.D
        if self.predicted_factor["forward"] is None:
            return (f"theory: none in one line for {self.activation} (it saturates, so the "
                    "factor depends on the variance reached): the factors above are measured")
        return (f"theory: the std is multiplied by √(D·σ²_Ω/2) = "
                f"{self.predicted_factor['forward']:.4g} per layer, forward and backward; "
                f"He's σ²_Ω = 2/D = {he:.4g} makes it 1; Glorot's 1/D = {glorot:.4g} "
                f"gives {math.sqrt(0.5):.3f} (the variance halves each layer)")


def experiment(K: int = 5, D: int = 8, sigma2: float = 1.0, activation: str = NOTEBOOK,
               seed: int = 0) -> Initialization:
    """Notebook 7.3's two experiments for depth K, width D, variance σ²_Ω (see the module
    docstring).  Cost: K matrix products on D×1000 and twice on D×100."""
    from derive.core.rules import activations
    check_shape(K, D)
    if activation not in activations():
        raise DeriveError(f"bad --activation {activation!r}; known: {', '.join(activations())}")
    program = network(K, activation)
    with np.errstate(all="ignore"):
        weights, biases, rng = init_params(K, D, sigma2, seed)
        forward = forward_std(program, weight_leaves(program, weights, biases),
                              rng.normal(size=(1, N_FORWARD)))
        weights, biases, rng = init_params(K, D, sigma2, seed)
        backward = backward_std(program, weight_leaves(program, weights, biases),
                                rng.normal(size=(1, N_BACKWARD)))
    layers = list(range(1, K + 1))
    predicted = predicted_factor(D, sigma2, activation)
    return Initialization(
        K, D, float(sigma2), seed, activation, layers, forward, backward,
        {"forward": predicted, "backward": predicted},
        {key: _b(law) for key, law in fitted(layers, forward, backward).items()})


def _b(law: dict | None) -> float | None:
    return None if law is None else law["b"]


def of_model(model, seed: int = 0) -> dict | None:
    """The report's "growth of values": 7.3's measurements on a network model's own
    program, at its own weights and biases (run "own", ``sigma2`` the σ̂² below) and at He's
    initialization (run "he") (each Ω_k drawn
    N(0, 2/D) as 7.3 draws, D the width of the first hidden layer, biases zero); inputs
    N(0, 1) from legacy ``np.random.seed(seed)``, 1000 forward and 100 backward with
    y = 0.  For ReLU the predicted factor at its own weights is √(D·σ̂²/2), σ̂² the mean
    square of the hidden layers' weights (Ω₁ … Ω_{K−1}).  None for a model without
    weight matrices, or with no hidden layer.

    Cost: the model's forward pass on 1000 inputs and its backward pass on 100, twice.

    >>> from derive.models.families import model
    >>> v = of_model(model("mlp:1-8-8-8-1"))
    >>> v["K"], v["D"], [r["name"] for r in v["runs"]], v["runs"][1]["sigma2"]
    (3, 8, ['own', 'he'], 0.25)
    """
    program = next((p for p in model.lowerings if hidden_layers(p) >= 1), None)
    if program is None:
        return None
    K = hidden_layers(program)
    first, last = program.layers[0], program.layers[-1]
    weights = {layer.weight for layer in program.layers}
    biases = {layer.bias for layer in program.layers}
    parameters = weights | biases
    own = {leaf: v for leaf, v in program.load(model.values).items() if leaf.name in parameters}
    D, inputs = next(v for leaf, v in own.items() if leaf.name == first.weight).shape
    rule = program.rules[program.nodes.index(first.activation)]
    rng = np.random.RandomState(seed)
    he = {leaf: rng.normal(size=np.shape(v)) * np.sqrt(2.0 / D) for leaf, v in own.items()
          if leaf.name in weights}  # in 7.3's order of the program's Ω_k
    he.update({leaf: np.zeros_like(v) for leaf, v in own.items() if leaf.name in biases})
    hidden = [v for leaf, v in own.items() if leaf.name in weights
              and leaf.name not in (first.weight, last.weight)]
    sigma2 = float(np.mean(np.concatenate([v.ravel() for v in hidden]) ** 2)) if hidden else None
    layers, runs = list(range(1, K + 1)), []
    for name, variance, leaves, factor in (
            ("own", sigma2, own, predicted_factor(D, sigma2, rule.name) if sigma2 else None),
            ("he", 2.0 / D, he, predicted_factor(D, 2.0 / D, rule.name))):
        with np.errstate(all="ignore"):
            forward = forward_std(program, leaves, np.random.RandomState(seed).normal(
                size=(inputs, N_FORWARD)))
            backward = backward_std(program, leaves, np.random.RandomState(seed).normal(
                size=(inputs, N_BACKWARD)))
        laws = fitted(layers, forward, backward)
        runs.append({"name": name, "sigma2": variance, "layers": layers, "forward_std": forward,
                     "backward_std": backward,
                     "predicted_factor": {"forward": factor, "backward": factor},
                     "fitted_factor": {key: _b(law) for key, law in laws.items()},
                     "laws": {key: factor_words(law) for key, law in laws.items()}})
    return {"K": K, "D": D, "activation": rule.name, "seed": seed, "runs": runs}
