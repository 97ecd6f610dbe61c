"""Side-by-side timings, in one process, as medians of repeated runs and ratios.

Derivation (per-parameter ``sympy.diff`` vs the DAG sweep), compile
(``lambdify``, ``lambdify(cse=True)``, generated code) and evaluation over a
batch (forward only, staged backprop, lambdified symbolic plain and cse,
generated code); with ``against``, PyTorch autograd, ``jax.jit(jax.grad)`` and
derive's generated code for both (:mod:`derive.against`).  Every gradient is
cross-checked against backprop, and each numpy evaluation's peak memory is
measured by tracemalloc.  What would take minutes is skipped, with the reason under
"skipped": ``sympy.diff`` above :data:`BENCH_DIFF_CAP` (output tree × variables),
``lambdify`` above :data:`BENCH_LAMBDIFY_CAP` tree nodes of the gradient.
"""

from __future__ import annotations

import os
import statistics
import time
import tracemalloc

import numpy as np
import sympy
from sympy.core.cache import clear_cache

from . import against as frameworks
from . import codegen
from .dag import sizes
from .primitives import lambdify_modules
from .modes import forward_mode
from .staged import programs
from .symbolic import dag_gradient, diff_gradient, diff_skipped

BENCH_DIFF_CAP = 20_000
BENCH_LAMBDIFY_CAP = 200_000
THREAD_VARIABLES = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "OPENBLAS_CORETYPE"]


SLOW_SECONDS = 5.0
"""A measurement whose warm-up call takes longer is timed once after it (forward mode
of a deep chain on a big batch), not ``repeat`` times."""


def median_seconds(function, repeat: int, setup=None) -> float:
    """Median wall time of ``repeat`` calls (after one warm-up call; one call where the
    warm-up took over :data:`SLOW_SECONDS`).

    ``setup`` runs untimed before each call: symbolic work clears SymPy's
    cache there, or every call after the first would be a cache lookup.
    """
    start = time.perf_counter()
    function()
    if time.perf_counter() - start > SLOW_SECONDS:
        repeat = 1
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


def bench(model, batch: int = 100_000, repeat: int = 5, seed: int = 0, progress=None,
          against=(), threads: int = 1) -> dict:
    """The documented ``derive bench --json`` object for ``model``.

    Cost: ``repeat`` + 1 runs of everything not skipped; derivation and
    compile are timed with fewer repeats (at most 3) as they are slow.
    ``progress(items, desc=)`` wraps the evaluations where given.  ``against``
    names frameworks (:data:`derive.against.LIBRARIES`) timed beside, on
    ``threads`` threads.
    """
    batch = model.batch_size or batch  # a batch from a file is the one measured
    result = {"model": model.name, "batch": batch, "derivation": {}, "compile": {},
              "evaluation": {}, "ratios": {}, "skipped": {}, "environment": environment(),
              "threads": frameworks.pin_threads(threads, against), "peak_bytes": {},
              "relative_error": {}, "against": dict.fromkeys(frameworks.KEYS)}
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
    _, expected = p.gradients(batched.values)
    expected = [expected[w] for w in model.wrt]
    shape = np.broadcast_shapes(*[np.shape(v) for v in values])
    for name, function in functions.items():
        if function:
            found = codegen.batch_sums(function, arguments, batched.values, shape)
            result["relative_error"][name] = frameworks.relative_error(found, expected)
    result["peak_bytes"] = _peaks(p, batched.values, functions, values)
    result["ratios"] = _ratios(result)
    _against(result, model, batched.values, against, expected, repeat)
    for q in lowered:  # the model's own lowering (a network's matrix program), timed beside
        forward, backprop = f"{q.kind}_forward", f"{q.kind}_backprop"
        evaluation[forward] = median_seconds(lambda: q.forward(batched.values), repeat)
        evaluation[backprop] = median_seconds(lambda: q.backward(q.forward(batched.values)),
                                              repeat)
        result["ratios"][f"{backprop}_over_forward"] = _ratio(evaluation[backprop],
                                                             evaluation[forward])
    return result


def _peaks(p, values: dict, functions: dict, arguments: list) -> dict:
    """Peak bytes numpy allocates in one evaluation of each (tracemalloc, untimed)."""
    measured = {"forward": lambda: p.forward(values), "backprop": lambda: p.gradients(values)}
    measured.update({name: (lambda f=f: f(*arguments)) for name, f in functions.items() if f})
    return {name: peak_bytes(run) for name, run in measured.items()}


def peak_bytes(function) -> int:
    """The most memory held at once, above what was held before, during ``function()``
    (numpy reports its arrays to tracemalloc)."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _against(result, model, values: dict, libraries, expected, repeat):
    """Time the frameworks' gradients and derive's code for them, cross-checked."""
    for library in libraries:
        why = frameworks.missing(library)
        if why:
            for key in frameworks.LIBRARIES[library]:
                result["skipped"][key] = why
            continue
        for key, (run, total) in frameworks.functions(model, library, values).items():
            result["relative_error"][key] = frameworks.relative_error(total(run()), expected)
            result["against"][key] = median_seconds(run, repeat)
    generated = result["evaluation"]["generated"]
    for key, seconds in result["against"].items():
        if seconds is not None:
            result["ratios"][f"{key}_over_generated"] = _ratio(seconds, generated)


def _compile(result, gradient, arguments, repeat, batch) -> dict:
    tree = sizes(gradient).tree_nodes
    namespace = lambdify_modules()
    makers = {
        "lambdify": lambda: sympy.lambdify(arguments, gradient, modules=namespace),
        "lambdify_cse": lambda: sympy.lambdify(arguments, gradient, modules=namespace,
                                               cse=True),
        "generated": lambda: codegen.compile_source(codegen.source(gradient, arguments,
                                                                   batch=batch)),
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
