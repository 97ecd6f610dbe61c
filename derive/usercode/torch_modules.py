"""PyTorch modules checked against derive (optional: ``pip install 'torch==2.13.0'``).

:func:`from_torch` turns an ``nn.Sequential`` of ``nn.Linear`` layers and activations
into the equivalent mlp model with the module's weights; each activation is
recognised by what it computes (its forward on a probe, compared with every
activation row of the table), so a user's own module wrapping a custom
``torch.autograd.Function`` is recognised too.  :func:`assert_torch_matches` runs
the module's autograd backward for the summed least-squares loss and compares every
parameter's gradient with derive's symbolic gradient, naming parameters as PyTorch
does (``0.weight[2,3]``).  torch is imported only when these are called.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from derive.models import names as naming
from derive.base.errors import DeriveError
from derive.models.network import build
from derive.base.errors import INSTALL
from derive.core.rules import DEFAULT_ACTIVATION, PRIMITIVES, activations

PROBE = np.linspace(-3.0, 3.0, 61)


def _torch():
    try:
        import torch
    except ImportError:
        raise DeriveError(f"PyTorch is not installed: {INSTALL['torch']}") from None
    return torch


def _layers(module):
    """[(Linear module or activation name, index in the Sequential)]."""
    torch = _torch()
    if not isinstance(module, torch.nn.Sequential):
        raise DeriveError(f"from_torch takes an nn.Sequential, got {type(module).__name__}")
    out = []
    for index, layer in enumerate(module):
        if isinstance(layer, torch.nn.Linear):
            out.append((layer, index))
        else:
            out.append((_activation(layer, index), index))
    return out


def _activation(layer, index) -> str:
    """The table's activation that computes what ``layer`` computes on the probe."""
    torch = _torch()
    with torch.no_grad():
        got = layer(torch.tensor(PROBE, dtype=torch.float64)).numpy()
    for name in activations():
        with np.errstate(all="ignore"):
            expected = PRIMITIVES[name].forward(PROBE)
        if np.allclose(got, expected, rtol=1e-12, atol=1e-12):
            return name
    raise DeriveError(f"layer {index} ({type(layer).__name__}) computes no activation of "
                      f"the table ({', '.join(activations())})")


def from_torch(module, input, target, name: str = "torch"):
    """The mlp model equivalent to ``module`` (Linear, activation, Linear, ..., Linear; one
    activation throughout), with its weights, on ``input`` (N × D0) and ``target``
    (N × DK), least-squares loss summed over outputs and examples."""
    layers = _layers(module)
    linear = [layer for layer, _ in layers if not isinstance(layer, str)]
    acts = {layer for layer, _ in layers if isinstance(layer, str)}
    shape_ok = (layers and not isinstance(layers[0][0], str)
                and not isinstance(layers[-1][0], str) and len(acts) <= 1
                and all(isinstance(a[0], str) != isinstance(b[0], str)
                        for a, b in zip(layers, layers[1:])))
    if not shape_ok:
        raise DeriveError("from_torch takes Linear, activation, Linear, ..., Linear with one "
                          "activation throughout")
    act = acts.pop() if acts else DEFAULT_ACTIVATION
    dims = [linear[0].in_features] + [layer.out_features for layer in linear]
    W = [layer.weight.detach().double().numpy() for layer in linear]
    b = [layer.bias.detach().double().numpy() for layer in linear]
    x = np.asarray(_numpy(input), dtype=float).reshape(-1, dims[0]).T
    y = np.asarray(_numpy(target), dtype=float).reshape(-1, dims[-1]).T
    if x.shape[1] != y.shape[1]:
        raise DeriveError(f"input has {x.shape[1]} examples, target {y.shape[1]}")
    model = build(tuple(dims), act, W, b, x[:, 0], y[:, 0], name)
    if x.shape[1] == 1:
        return model
    values = dict(model.values)  # a batch: one column per example, as the program reads it
    values.update(zip(model.inputs, x))
    values.update(zip(model.targets, y))
    return replace(model, values=values)


def torch_gradients(module, input, target) -> dict:
    """{PyTorch parameter name with entry ('0.weight[2,3]'): gradient}, by autograd of the
    summed least-squares loss in float64."""
    torch = _torch()
    copy = _float64(module)
    x = torch.as_tensor(_numpy(input), dtype=torch.float64)
    y = torch.as_tensor(_numpy(target), dtype=torch.float64)
    copy.zero_grad()
    loss = ((copy(x) - y) ** 2).sum()
    loss.backward()
    out = {}
    for pname, parameter in copy.named_parameters():
        grad = parameter.grad.numpy()
        for index in np.ndindex(grad.shape):
            out[f"{pname}[{','.join(map(str, index))}]"] = float(grad[index])
    return out


def derive_names(module) -> dict:
    """{'0.weight[2,3]': 'Omega0[2,3]', '0.bias[2]': 'beta0[2]', ...}."""
    names = {}
    for k, (layer, index) in enumerate(
            (layer, index) for layer, index in _layers(module) if not isinstance(layer, str)):
        rows, cols = layer.weight.shape
        for i in range(rows):
            names[f"{index}.bias[{i}]"] = naming.bias(k, i)
            for j in range(cols):
                names[f"{index}.weight[{i},{j}]"] = naming.weight(k, i, j)
    return names


def _float64(module):
    import copy
    return copy.deepcopy(module).double()


def _numpy(value):
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
