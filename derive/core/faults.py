"""Where a program's values first stop being finite: the origin of a NaN or an inf.

A forward fault is a node whose value is NaN or infinite at batch entries where all its
arguments are finite (the origin, not what it spreads to), with the row's own reason
(``log`` of a negative number) where the row knows one; a backward fault is a node
whose adjoint is not finite where its value and its users' adjoints are.  Cost: one
finiteness test per value and adjoint.
"""

from __future__ import annotations

import numpy as np


def faults(p, value: dict, adjoint: dict | None = None) -> list[dict]:
    """Where values first stop being finite: one entry per step and pass.

    A forward fault is a node whose value is NaN or infinite at batch
    entries where all its arguments are finite (the origin, not what it
    spreads to); a backward fault is a node whose adjoint is not finite
    where its value and its users' adjoints are.  Each entry: pass, step,
    kind, entries (batch indices, at most 10; [] for a single point),
    count.
    """
    found: dict = {}
    for node, rule, args in zip(p.nodes, p.rules, p.args):
        bad = ~_finite(value[node])
        for a in args:
            bad = _and_finite(bad, value[a])
        if np.any(bad):
            _add(p, found, "forward", p.owner[node], _kind(rule, args, value, node, bad), bad)
    if adjoint is not None:
        nearest = _backward_origins(p, value, adjoint)
        for step, (_, bad) in sorted(nearest.items(), key=lambda item: -item[1][0]):
            _add(p, found, "backward", step, "derivative not finite", bad)
    return list(found.values())


def _backward_origins(p, value: dict, adjoint: dict) -> dict:
    """{step: (position, where)} for each step with a node whose adjoint is not finite
    where its value and its users' adjoints are: the node nearest the loss (the last
    in the program's order), as the reverse sweep meets it first."""
    nearest = {}
    for position, node in enumerate([*p.leaves, *p.nodes]):
        if node not in adjoint or node is p.output:
            continue
        bad = ~_finite(adjoint[node]) & _finite(value[node])
        for user in p.used_by[node]:
            if user in adjoint:
                bad = _and_finite(bad, adjoint[user])
        if np.any(bad):
            nearest[p.owner.get(node, str(node))] = (position, bad)
    return nearest


def _add(p, found: dict, pass_: str, step: str, kind: str, bad):
    key = (pass_, step)
    if key in found:
        return
    columns = bad.reshape(-1, bad.shape[-1]).any(axis=0) if np.ndim(bad) else bad
    single = np.ndim(bad) == 0 or (p.columns and bad.shape[-1] == 1)
    entries = [] if single else [int(i) for i in np.flatnonzero(columns)[:10]]
    found[key] = {"pass": pass_, "step": step, "kind": kind, "entries": entries,
                  "count": int(np.count_nonzero(columns))}


def _finite(x):
    return np.isfinite(np.asarray(x))


def _and_finite(bad, x):
    """bad where x is finite: entry by entry where shapes match, else x as a whole."""
    finite = _finite(x)
    try:
        return bad & np.broadcast_to(finite, np.shape(bad))
    except ValueError:  # a matrix argument (Ω_k) of a column value
        return bad & bool(np.all(finite))


def _kind(rule, args, value, node, bad) -> str:
    """Why a node's value stopped being finite: the row's own fault, or the general kind."""
    where = np.unravel_index(np.argmax(bad), np.shape(bad)) if np.ndim(bad) else ()
    entries = []
    for a in args:
        try:
            entries.append(np.broadcast_to(value[a], np.shape(bad))[where])
        except ValueError:
            entries = None
            break
    reason = rule.fault(*entries) if entries is not None else None
    if reason:
        return reason
    if np.isnan(np.broadcast_to(value[node], np.shape(bad))[where]):
        return "invalid operation (inf - inf or 0 * inf)"
    return f"overflow in {rule.name}"
