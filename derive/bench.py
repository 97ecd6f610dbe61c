"""Side-by-side timings, in one process, as medians of repeated runs and ratios.

Derivation (per-parameter ``sympy.diff`` vs the DAG sweep), compile
(``lambdify``, ``lambdify(cse=True)``, generated code) and evaluation over a
batch (forward only, staged backprop, lambdified symbolic plain and cse,
generated code).  What would take minutes is skipped, with the reason under
"skipped": ``sympy.diff`` above :data:`BENCH_DIFF_CAP` (output tree × variables),
``lambdify`` above :data:`BENCH_LAMBDIFY_CAP` tree nodes of the gradient.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import sympy
from sympy.core.cache import clear_cache

from . import codegen
from .graph import sizes
from .primitives import lambdify_modules
from .modes import forward_mode
from .staged import programs
from .symbolic import dag_gradient, diff_gradient, diff_skipped

BENCH_DIFF_CAP = 20_000
BENCH_LAMBDIFY_CAP = 200_000
THREAD_VARIABLES = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "OPENBLAS_CORETYPE"]


def median_seconds(function, repeat: int, setup=None) -> float:
    """Median wall time of ``repeat`` calls (after one warm-up call).

    ``setup`` runs untimed before each call: symbolic work clears SymPy's
    cache there, or every call after the first would be a cache lookup.
    """
    function()
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def environment() -> dict:
    return {"numpy": np.__version__, "sympy": sympy.__version__, "cpus": os.cpu_count(),
            **{k: os.environ.get(k) for k in THREAD_VARIABLES}}


def bench(model, batch: int = 100_000, repeat: int = 5, seed: int = 0, progress=None) -> dict:
    """The documented ``derive bench --json`` object for ``model``.

    Cost: ``repeat`` + 1 runs of everything not skipped; derivation and
    compile are timed with fewer repeats (at most 3) as they are slow.
    ``progress(items, desc=)`` wraps the evaluations where given.
    """
    batch = model.batch_size or batch  # a batch from a file is the one measured
    result = {"model": model.name, "batch": batch, "derivation": {}, "compile": {},
              "evaluation": {}, "ratios": {}, "skipped": {}, "environment": environment()}
    slow = min(repeat, 3)
    skipped = diff_skipped(model.output, model.wrt, BENCH_DIFF_CAP)
    derivation = result["derivation"]
    derivation["dag"] = median_seconds(lambda: dag_gradient(model.output, model.wrt), slow,
                                       clear_cache)
    if skipped:
        derivation["sympy_diff"] = None
        result["skipped"]["sympy_diff"] = skipped
    else:
        derivation["sympy_diff"] = median_seconds(
            lambda: diff_gradient(model.output, model.wrt), slow, clear_cache)
    gradient = dag_gradient(model.output, model.wrt)
    arguments = list(model.values)
    batched = model.batch(batch, seed) if batch > 1 and model.batch_size is None else model
    values = [batched.values[a] for a in arguments]
    functions = _compile(result, gradient, arguments, slow, model.inputs + model.targets)
    *lowered, p = programs(model)
    evaluation = result["evaluation"]
    evaluation["forward"] = median_seconds(lambda: p.forward(batched.values), repeat)
    evaluation["backprop"] = median_seconds(lambda: p.gradients(batched.values), repeat)
    evaluation["forward_mode"] = median_seconds(
        lambda: forward_mode(p, batched.values, model.wrt), min(repeat, 3))
    iterate = progress or (lambda items, **_: items)
    for name, function in iterate(list(functions.items()), desc="bench"):
        evaluation[name] = (median_seconds(lambda f=function: f(*values), repeat)
                            if function else None)
    result["ratios"] = _ratios(result)
    for q in lowered:  # the model's own lowering (a network's matrix program), timed beside
        forward, backprop = f"{q.kind}_forward", f"{q.kind}_backprop"
        evaluation[forward] = median_seconds(lambda: q.forward(batched.values), repeat)
        evaluation[backprop] = median_seconds(lambda: q.backward(q.forward(batched.values)),
                                              repeat)
        result["ratios"][f"{backprop}_over_forward"] = _ratio(evaluation[backprop],
                                                             evaluation[forward])
    return result


def _compile(result, gradient, arguments, repeat, batch) -> dict:
    tree = sizes(gradient).tree_nodes
    namespace = lambdify_modules()
    makers = {
        "lambdify": lambda: sympy.lambdify(arguments, gradient, modules=namespace),
        "lambdify_cse": lambda: sympy.lambdify(arguments, gradient, modules=namespace,
                                               cse=True),
        "generated": lambda: codegen.compile_source(codegen.source(gradient, arguments, batch=batch)),
    }
    functions = {}
    for name, make in makers.items():
        if name != "generated" and tree > BENCH_LAMBDIFY_CAP:
            result["compile"][name] = None
            result["skipped"][name] = (f"gradient tree has {tree:,} nodes, above "
                                       f"{BENCH_LAMBDIFY_CAP:,}: lambdify prints the tree")
            functions[name] = None
            continue
        result["compile"][name] = median_seconds(make, repeat, clear_cache)
        functions[name] = make()
    return functions


def _ratio(a, b):
    return a / b if a is not None and b else None


def _ratios(result) -> dict:
    d, e = result["derivation"], result["evaluation"]
    return {"backprop_over_forward": _ratio(e["backprop"], e["forward"]),
            "generated_over_backprop": _ratio(e["generated"], e["backprop"]),
            "sympy_diff_over_dag": _ratio(d["sympy_diff"], d["dag"]),
            "lambdify_over_backprop": _ratio(e["lambdify"], e["backprop"]),
            "lambdify_cse_over_backprop": _ratio(e["lambdify_cse"], e["backprop"]),
            "forward_mode_over_backprop": _ratio(e["forward_mode"], e["backprop"])}
