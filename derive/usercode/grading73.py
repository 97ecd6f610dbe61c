"""Grading notebook 7.3 (initialization): what its TODOs ask, checked against derive.

The TODOs ask the student to make both experiments 50 layers of 80 units, and to find a
σ²_Ω that stops the forward std exploding, then the backward one.  :mod:`derive.usercode.grading`
runs the notebook; small cells of ours, inserted after each experiment cell, read what
that experiment computed (its K, D, σ²_Ω and the std of each layer, computed in the
kernel from the notebook's own arrays), and our last cell runs the student's
functions on a small network.  Graded:

* each experiment at K = 50, D = 80;
* each experiment's stds equal derive's run of the notebook's procedure
  (:func:`derive.checks.initialization.experiment`) for the student's K, D and σ²_Ω, within
  1e-9 relative: the cells still compute what the published ones do;
* the forward std stays within :data:`derive.checks.initialization.BAND` times layer 1's at
  every layer, and the backward std within that of layer K−1's (where the backward
  pass starts); the first layer outside the band is named;
* ``init_params(3, 4, 0.5)`` draws the notebook's weights, and ``compute_network_output``
  and ``backward_pass`` on those weights and three inputs give derive's matrix program's
  f_k, h_k, ∂ℓ/∂f_k and ∂ℓ/∂Ω_k (with 7.3's ReLU), within 1e-9 relative.
"""

from __future__ import annotations

import numpy as np

from derive.checks import initialization

TASK = {"K": 50, "D": 80}
"""The TODOs' network."""
RTOL = 1e-9
SMALL = {"K": 3, "D": 4, "sigma2": 0.5, "x": [[0.7, -1.2, 1.9]]}
"""The small network and inputs the student's functions are run on."""
STUBS = {"K = 5", "D = 8"}
"""The published experiment cells' sizes: a notebook still holding them is not done."""


def experiment_cell(source: str) -> str | None:
    """'forward' or 'backward' for the notebook's two experiment cells (by what they call),
    None for any other cell."""
    calls = "init_params(" in source and "def init_params" not in source
    if not calls or "def " in source:
        return None
    return "backward" if "backward_pass(" in source else (
        "forward" if "compute_network_output(" in source else None)


def after(kind: str) -> str:
    """Our cell after an experiment cell: what it computed, kept in the kernel."""
    std = ("[float(_derive_np.std(h)) for h in all_h[1:]]" if kind == "forward" else
           "[float(_derive_np.std(_derive_np.asarray(aggregate_dl_df[k]).ravel())) "
           "for k in range(1, K)]")
    return "\n".join([
        "import numpy as _derive_np",
        "_derive_seen = globals().get('_derive_seen', {})",
        "try:",
        f"    _derive_seen[{kind!r}] = {{'K': int(K), 'D': int(D), "
        f"'sigma2': float(sigma_sq_omega), 'std': {std}}}",
        "except Exception:",
        f"    _derive_seen[{kind!r}] = 'unreadable'"])


def reader_code() -> str:
    """What our last cell evaluates before printing: the experiments seen, and the
    student's functions on the small network."""
    return "\n".join([
        "_derive_seen = globals().get('_derive_seen', {})",
        "try:",
        f"    _dW, _db = init_params({SMALL['K']}, {SMALL['D']}, {SMALL['sigma2']})",
        f"    _dx = _derive_np.array({SMALL['x']!r})",
        "    _dout, _df, _dh = compute_network_output(_dx, _dW, _db)",
        "    _dgw, _dgb, _dgh, _dgf = backward_pass(_dW, _db, _df, _dh, "
        "_derive_np.zeros_like(_dout))",
        "    _derive_seen['functions'] = {'weights': _dW, 'f': _df, 'h': _dh[1:], "
        "'dl_df': _dgf, 'dl_dweights': _dgw}",
        "except Exception:",
        "    _derive_seen['functions'] = 'unreadable'"])


def _close(found, expected) -> bool:
    try:
        a, b = np.asarray(found, float), np.asarray(expected, float)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=1e-12))
    except (ValueError, TypeError):
        return False


def _row(quantity, expected, found, ok) -> dict:
    return {"quantity": quantity, "expected": expected, "found": found,
            "status": "missing" if found is None else "pass" if ok else "fail"}


def _band(stds, start: int, step: int):
    """(first layer outside BAND times the starting layer's std, its std, the start's),
    or None when every layer is inside."""
    layers = list(range(start, start + step * len(stds), step))
    first = stds[0]
    for k, s in zip(layers, stds):
        if not (first / initialization.BAND <= s <= first * initialization.BAND):
            return k, s, first
    return None


def _experiment(got) -> dict | None:
    """What our cell read after an experiment, typed (JSON brought K and D as floats);
    None where it was unreadable."""
    try:
        K, D, sigma2 = int(got["K"]), int(got["D"]), float(got["sigma2"])
        initialization.check_shape(K, D)
        std = [float(s) for s in got["std"]]
    except (TypeError, KeyError, ValueError, initialization.DeriveError):
        return None
    return {"K": K, "D": D, "sigma2": sigma2, "std": std} if sigma2 > 0 else None


def compare(seen: dict, result) -> None:
    """Fill ``result`` (a :class:`derive.usercode.grading.Graded`) from what the notebook computed."""
    first_wrong = []
    for kind in ("forward", "backward"):
        got = _experiment(seen.get(kind))
        name = "std of h_k" if kind == "forward" else "std of dl_df_k"
        shape = None if got is None else [got["K"], got["D"]]
        result.rows.append(_row(f"{kind} experiment: K, D", [TASK["K"], TASK["D"]], shape,
                                shape == [TASK["K"], TASK["D"]]))
        if got is None:
            result.rows.append(_row(f"{kind} {name} by layer", None, None, False))
            continue
        run = initialization.experiment(got["K"], got["D"], got["sigma2"])
        ours = run.forward_std if kind == "forward" else run.backward_std[:-1]
        same = _close(got["std"], ours)
        result.rows.append(_row(f"{kind} {name} by layer", ours, got["std"], same))
        if not same:
            first_wrong.append(f"the {kind} experiment's {name} (the cell no longer computes "
                               "what the published one does)")
        # the band is about the layer each pass starts from: 1 forward, K − 1 backward
        start, step = (1, 1) if kind == "forward" else (got["K"] - 1, -1)
        stds = got["std"][::step]
        outside = _band(stds, start, step)
        band = [stds[0] / initialization.BAND, stds[0] * initialization.BAND] if stds else None
        result.rows.append(_row(f"{kind} {name} within {initialization.BAND:g}x layer "
                                f"{start}'s (lowest, highest)", band,
                                [min(stds), max(stds)] if stds else None, outside is None))
        if outside is not None:
            factor = initialization.predicted_factor(got["D"], got["sigma2"])
            first_wrong.append(
                f"the {kind} std {'explodes' if outside[1] > outside[2] else 'vanishes'} at "
                f"layer {outside[0]} ({outside[1]:.4g}, against {outside[2]:.4g}): with "
                f"sigma_sq_omega = {got['sigma2']:.4g} each layer multiplies it by about "
                f"{factor:.3g}; He's 2/D = {2 / got['D']:.4g} keeps it")
    _functions(seen.get("functions"), result, first_wrong)
    if first_wrong:
        result.first_wrong = first_wrong[0]
        result.suspect = "; ".join(first_wrong[1:])


def _functions(got, result, first_wrong) -> None:
    """init_params, compute_network_output and backward_pass on the small network."""
    got = got if isinstance(got, dict) else {}
    weights, _, _ = initialization.init_params(SMALL["K"], SMALL["D"], SMALL["sigma2"])
    ok = _close_list(got.get("weights"), weights)
    result.rows.append(_row("init_params(3, 4, 0.5): weights", _plain(weights),
                            got.get("weights"), ok))
    if not ok:
        first_wrong.append("init_params no longer draws the notebook's weights")
    if got.get("weights") is None:
        return
    try:
        own = [np.asarray(w, float) for w in got["weights"]]
        expected = _program_values(own)
    except (ValueError, TypeError, KeyError, IndexError):
        return
    for key, function in (("f", "compute_network_output"), ("h", "compute_network_output"),
                          ("dl_df", "backward_pass"), ("dl_dweights", "backward_pass")):
        ok = _close_list(got.get(key), expected[key])
        result.rows.append(_row(f"{function}: all_{key}", _plain(expected[key]), got.get(key),
                                ok))
        if not ok:
            first_wrong.append(f"{function}'s all_{key} differs from derive's program for "
                               "the notebook's own weights")


def _program_values(weights) -> dict:
    """derive's matrix program (7.3's ReLU) on the student's weights, zero biases, the
    small inputs and y = 0: f_k, h_k, ∂ℓ/∂f_k, ∂ℓ/∂Ω_k."""
    K = len(weights) - 1
    program = initialization.network(K)
    biases = [np.zeros((w.shape[0], 1)) for w in weights]
    leaves = initialization.weight_leaves(program, weights, biases)
    x = np.array(SMALL["x"])
    with np.errstate(all="ignore"):
        value = program.run(initialization.with_data(program, leaves, x))
        adjoint = program.backward(value)
    by_name = {leaf.name: leaf for leaf in program.leaves}
    return {"f": [value[layer.preactivation] for layer in program.layers],
            "h": [value[layer.activation] for layer in program.layers[:-1]],
            "dl_df": [adjoint[layer.preactivation] for layer in program.layers],
            "dl_dweights": [adjoint[by_name[layer.weight]] for layer in program.layers]}


def _close_list(found, expected) -> bool:
    return (isinstance(found, list) and len(found) == len(expected)
            and all(_close(f, e) for f, e in zip(found, expected)))


def _plain(arrays) -> list:
    return [np.asarray(a, float).tolist() for a in arrays]
