"""A report's first layer: every number computed once, into plain data (data.json).

:func:`gather` runs the model's three steps, its check, forward mode and the Hessian,
the growth sweep of its family and the nightmare (the closed form), and returns numbers,
names and LaTeX strings only; the filters and templates of :mod:`derive.present.report`
format them and compute nothing.  Cost: the growth sweep dominates (see
:func:`derive.checks.growth.run_sweep`).
"""

from __future__ import annotations

import sys

import jinja2
import numpy as np
import sympy

from derive.base.table import json_text
from derive.checks.check import check, DIFF_WORK_CAP, evaluator
from derive.checks.differences import central_difference, complex_step, forward_difference
from derive.checks.growth import run_sweep
from derive.checks.initialization import of_model
from derive.core.graph import sizes
from derive.core.program import program, Variable
from derive.core.rules import LOSSES
from derive.models.families import largest, sweeps
from derive.present import policy
from derive.present.notation import Adjoint, to_latex
from derive.present.picture import graph
from derive.present.player import frames
from derive.present.steps import trace
from derive.readings.costs import BUDGET
from derive.readings.hessian import hessian
from derive.readings.modes import jacobian
from derive.readings.symbolic import derivatives, DIFF_DEEP_FROM, diff_gradient
from derive.version import __version__


def formula(expr, cap: int = policy.EXPRESSION_CAP) -> dict:
    """An expression for a report: itself below ``cap`` tree nodes, else its measures.

    Cost: the size check is linear in distinct nodes; printing (by the
    filters) walks the tree, so only small formulas are kept to print.
    """
    s = sizes(expr)
    entry = {"tree_nodes": s.tree_nodes, "dag_nodes": s.dag_nodes, "ops": s.ops}
    shallow = s.depth <= policy.PRINT_DEPTH_CAP  # printers recurse: never past this depth
    if s.tree_nodes <= cap and shallow:
        return {**entry, "latex": expr, "preview": None}
    preview = sympy.sstr(expr)[:policy.PREVIEW_CHARS] if s.tree_nodes <= 50 * cap and \
        shallow else None
    return {**entry, "latex": None, "preview": preview}


def gather(model, families, depths, timestamp: str, command: str, seed: int = 0,
           max_seconds: float | None = None, progress=None,
           budget: float | None = BUDGET) -> dict:
    """Every number the report shows, computed once (data.json, formulas as SymPy).

    An implied family sweep stops at its largest member within the limits
    (:func:`derive.models.families.largest`) and says so under ``"stopped"``.
    """
    t = trace(model)
    derived = derivatives(model, DIFF_WORK_CAP, budget)
    result = check(model, derived=derived, progress=progress, budget=budget)
    p = program(model)
    gradients = _gradient_section(result)
    picture = graph(model, values=True, adjoints=True, traced=t)
    return {
        "title": f"derive report: {model.name}",
        "model": _model_section(model, p),
        "forward": [{"name": r["name"], "symbol": sympy.Symbol(r["name"]), "latex": r["expr"],
                     "value": r["value"]} for r in t.forward],
        "backward": [{"name": r["name"], "symbol": sympy.Symbol(r["name"]),
                      "chain": r["rule"], "value": r["adjoint"]} for r in t.backward],
        "loss": t.loss,
        "gradients": gradients,
        "methods": policy.method_names(_compared(result)),
        "graph": picture.to_json(),
        "frames": frames(model, t, picture),
        "agree": result.agree,
        "notes": result.notes,
        "tolerances": {k: {"rtol": v.rtol, "atol": v.atol, "scaled": v.scaled}
                       for k, v in result.tolerances.items()},
        "modes": _modes_section(model, budget),
        "nightmare": _nightmare(model, derived),
        "growth": [_growth_section(f, depths, seed, max_seconds, progress,
                                   2 if len(model.wrt) <= policy.PARAMETER_CAP else 1, budget)
                   for f in families],
        "layers": _layers_section(p, result, gradients),
        "values": of_model(model, seed),
        "faults": t.faults,
        "steps": _step_chart_data(model, p, result),
        "reproduce": {"command": command, "timestamp": timestamp, "derive": __version__,
                      "python": sys.version.split()[0], "sympy": sympy.__version__,
                      "numpy": np.__version__, "jinja2": jinja2.__version__},
    }


def _growth_section(family, depths, seed, max_seconds=None, progress=None, order=1,
                    budget=BUDGET) -> dict:
    depths, limited = largest(sweeps(family)[0], depths)
    result = run_sweep(family, depths, seed, progress, max_seconds=max_seconds, order=order,
                       budget=budget)
    return {"family": result.family, "axis": result.axis, "rows": result.rows,
            "fits": result.fits, "words": result.words,
            "stopped": "; ".join(filter(None, [limited, result.stopped])) or None}


def _modes_section(model, budget=BUDGET) -> dict:
    """Forward or reverse: the Jacobian of a model with several outputs by both modes,
    against its parameters and against its inputs; the Hessian four ways for a model
    of at most PARAMETER_CAP parameters."""
    section = {"outputs": len(model.outputs), "jacobian": [], "hessian": None}
    if len(model.outputs) > 1:
        for label, wrt in (("parameters", model.wrt), ("inputs", model.inputs)):
            j = jacobian(model, wrt)
            section["jacobian"].append({"variables": label, "count": len(wrt),
                                        "passes": j.passes, "ops": j.ops,
                                        "seconds": j.seconds, "agree": j.agree})
    if len(model.wrt) <= policy.PARAMETER_CAP:
        h = hessian(model, budget=budget, refuse=False)  # at most PARAMETER_CAP passes
        differences = h.differences()
        section["hessian"] = {
            "parameters": h.parameters, "symbols": [sympy.Symbol(n) for n in h.parameters],
            "matrix": h.matrices["forward_over_reverse"], "agree": h.agree, "notes": h.notes,
            "differences": differences, "verdict": policy.hessian_verdict(h.agree, differences)}
    return section


def _layers_section(p, result, gradients) -> list[dict]:
    """The matrix-valued variables of the program, by the step that uses them, with
    their gradients (the check's backprop) as matrices; each gradient row is
    marked with its layer."""
    grads = {row["name"]: row["backprop"] for row in result.rows}
    layers, layer_of = [], {}
    for node, args in zip(p.nodes, p.args):
        grids = [a for a in args if isinstance(a, Variable) and a in p.wrt]
        if not grids:
            continue
        k = len(layers)
        variables = []
        for v in grids:
            matrix = [[grads[str(s)] for s in row] for row in v.grid]
            variables.append({"name": v.name, "symbol": sympy.Symbol(v.name),
                              "gradient": matrix, "shape": [len(v.grid), len(v.grid[0])]})
            layer_of.update({str(s): k for _, s in v.symbols()})
        layers.append({"k": k, "step": p.names[node], "variables": variables})
    for row in gradients:
        row["layer"] = layer_of.get(row["name"], 0)
    for layer in layers:  # the per-layer summary a network's report shows first
        rows = [r for r in gradients if r["layer"] == layer["k"]]
        layer["count"] = len(rows)
        layer["agree"] = all(r["agree"] for r in rows)
        layer["worst"] = {m["method"]: max((r["methods"][i]["rel_error"] for r in rows
                                            if r["methods"][i]["rel_error"] is not None),
                                           default=None)
                          for i, m in enumerate(rows[0]["methods"])} if rows else {}
    return layers


LOSS_WORDS = {"least_squares": "least squares", "binary_cross_entropy": "binary cross-entropy",
              None: "none: f itself is differentiated"}


def _model_section(model, p) -> dict:
    """The model: its prediction, loss, and every value (a list for a batch)."""
    f = model.prediction if model.prediction is not None else model.output
    loss = None
    if model.loss is not None and model.target is not None:
        loss = LOSSES[model.loss].build(sympy.Symbol("f"), model.target)

    def entries(symbols):
        return [{"name": str(s), "symbol": s, "value": p.shown(model.values[s])}
                for s in symbols]

    return {"name": model.name, "prediction": formula(f), "program": p.counts(),
            "loss": LOSS_WORDS[model.loss], "loss_latex": loss,
            "parameters": entries(model.parameters), "inputs": entries(model.inputs),
            "target": (entries([model.target])[0] if model.target is not None else None)}


def _compared(result) -> list[str]:
    """The methods the check compared and that computed some gradient, in table order."""
    return [m for m in policy.METHODS if m in result.tolerances
            and any(r[m] is not None for r in result.rows)]


def _gradient_section(result) -> list[dict]:
    """Each parameter's gradient by backprop and by every method that computed some
    (a method skipped for every parameter is left out, not shown as a column of –)."""
    rows = []
    names = _compared(result)
    for r in result.rows:
        b = r["backprop"]
        methods = []
        for m in names:
            value = r[m]
            error = None if value is None else abs(value - b)
            methods.append({"method": m, "value": value, "abs_error": error,
                            "rel_error": None if value is None else error / max(abs(b), 1e-300)})
        rows.append({"name": r["name"], "symbol": sympy.Symbol(r["name"]), "layer": 0,
                     "kink": r["kink"], "flag": _flags(r), "backprop": b, "methods": methods,
                     "agree": r["agree"]})
    return rows


def _flags(row: dict) -> str | None:
    """Why a method of this row was not compared, as the agree cell shows it."""
    flags = [f"central: {row['central_flag']}" if row["central_flag"] else "",
             f"complex step: {row['complex_flag']}" if row.get("complex_flag") else ""]
    return "; ".join(f for f in flags if f) or None


def _nightmare(model, derived) -> dict:
    """One parameter's closed form as sympy.diff prints it, and as shared intermediates."""
    i = 1 if len(model.wrt) > 1 else 0  # omega0 for toy
    w = model.wrt[i]
    # a closed form printed only where it is short and shallow (DIFF_DEEP_FROM levels)
    if derived.output.tree_nodes > policy.EXPRESSION_CAP or derived.output.depth > DIFF_DEEP_FROM:
        return {"parameter": str(w), "symbol": w, "closed": None, "cse": []}
    [closed] = [derived.diff[i]] if derived.diff else diff_gradient(model.output, [w])
    names = sympy.numbered_symbols("t", exclude=closed.free_symbols)  # t0, t1, ... not taken
    replacements, [reduced] = sympy.cse(closed, symbols=names)
    return {"parameter": str(w), "symbol": w, "closed": formula(closed),
            "cse": [{"name": s, "latex": e} for s, e in replacements]
            + [{"name": Adjoint(str(w)), "latex": reduced}]}


def _step_chart_data(model, p, result) -> dict:
    """Finite-difference error against step h for one parameter; the complex step as floor
    where the check found it applies."""
    w = model.wrt[1] if len(model.wrt) > 1 else model.wrt[0]
    row = result.rows[str(w)]
    exact = row["backprop"]
    evaluate = evaluator(p, model.values)
    hs = [float(h) for h in np.logspace(-1, -13, 25)]
    forward = [abs(forward_difference(evaluate, w, h) - exact) for h in hs]
    central = [abs(central_difference(evaluate, w, h) - exact) for h in hs]
    floor = (abs(complex_step(evaluate, model.values, w) - exact)
             if row["complex_step"] is not None else None)
    return {"parameter": str(w), "symbol": w, "h": hs, "forward": forward, "central": central,
            "complex": floor, "exact": exact}


def to_json(data: dict) -> str:
    """data.json: formulas as their LaTeX."""
    def encode(value):
        if isinstance(value, sympy.Basic):
            return to_latex(value)
        raise TypeError(f"not JSON: {type(value).__name__}")

    return json_text(data, indent=1, sort_keys=True, default=encode) + "\n"
