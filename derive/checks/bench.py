"""Side-by-side timings, in one process, as medians of repeated runs and ratios.

Derivation (per-parameter ``sympy.diff`` vs the DAG sweep), compile
(``lambdify``, ``lambdify(cse=True)``, generated code) and evaluation over a
batch (forward only, staged backprop, lambdified symbolic plain and cse,
generated code); with ``against``, PyTorch autograd, ``jax.jit(jax.grad)`` and
derive's generated code for both (:mod:`derive.checks.frameworks`).  Every gradient is
cross-checked against backprop, and each numpy evaluation's peak memory is
measured by tracemalloc.  Every measurement's seconds, all its runs together, are
predicted before it runs (:mod:`derive.readings.costs`, under "predicted"); one predicted over
the budget is skipped, with the prediction and the reason under "skipped".
"""

from __future__ import annotations

import functools

import os
import statistics
import time
import tracemalloc
import types

import numpy as np
import sympy
from sympy.core.cache import clear_cache

from derive.checks import frameworks
from derive.readings import codegen
from derive.readings.costs import BUDGET, predict, seconds_text
from derive.core.graph import sizes
from derive.core.rules import lambdify_modules
from derive.readings.modes import forward_mode, forward_mode_ops, forward_ops
from derive.core.program import programs
from derive.readings.symbolic import dag_gradient, diff_gradient, diff_seconds, too_deep
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


def runs(seconds: float, repeat: int, extra: int = 0) -> int:
    """How many times :func:`median_seconds` (plus ``extra`` untimed calls) runs a
    measurement predicted at ``seconds`` a call: a warm-up, then ``repeat``, or one more
    past :data:`SLOW_SECONDS`."""
    return 1 + (1 if seconds > SLOW_SECONDS else repeat) + extra


def bench(model, batch: int = 100_000, repeat: int = 5, seed: int = 0, progress=None,
          against=(), threads: int = 1, budget: float | None = BUDGET) -> dict:
    """The documented ``derive bench --json`` object for ``model``.

    Cost: ``repeat`` + 1 runs of everything not skipped; derivation and
    compile are timed with fewer repeats (at most 3) as they are slow.  Each
    measurement is predicted first (under "predicted", the seconds of one run) and
    skipped where the prediction exceeds ``budget`` seconds (None: nothing skipped).
    ``progress(items, desc=)`` wraps the evaluations where given.  ``against``
    names frameworks (:data:`derive.checks.frameworks.LIBRARIES`) timed beside, on
    ``threads`` threads.
    """
    batch = model.batch_size or batch  # a batch from a file is the one measured
    result = _new_result(model.name, batch, budget, threads, against)
    slow = min(repeat, 3)
    gradient = dag_gradient(model.output, model.wrt)
    loss, grad = sizes(model.output), sizes(gradient)
    *lowered, p = programs(model)
    ops = {"forward": forward_ops(p), "backprop": p.backprop_ops(),
           "forward_mode": forward_mode_ops(p), "lambdify": grad.ops,
           "lambdify_cse": grad.cse_ops, "generated": grad.cse_ops}

    measure = functools.partial(_measure, result, budget)
    measure("derivation", "dag", lambda: dag_gradient(model.output, model.wrt),
            lambda n: predict("dag", loss.dag_nodes, runs=n + 1), slow, clear_cache)
    measure("derivation", "sympy_diff", lambda: diff_gradient(model.output, model.wrt),
            lambda n: diff_seconds(model.output, model.wrt, runs=n + 1),
            slow, clear_cache, too_deep(loss.depth))
    arguments = list(model.values)
    batched = model.batch(batch, seed) if batch > 1 and model.batch_size is None else model
    values = [batched.values[a] for a in arguments]
    functions = _compile(result, gradient, grad, arguments, slow, model.inputs + model.targets,
                         measure)
    evaluation = result["evaluation"]

    def timed(key, rate, size, function, times, extra):
        """``extra``: the untimed runs after (peak memory, the cross-check)."""
        single = predict(rate, size, batch).seconds
        return measure("evaluation", key, function,
                       lambda n: predict(rate, size, batch, runs(single, n, extra), key), times)

    timed("forward", "forward", ops["forward"], lambda: p.forward(batched.values), repeat, 1)
    timed("backprop", "backprop", ops["backprop"], lambda: p.gradients(batched.values), repeat,
          2)
    timed("forward_mode", "forward_mode", ops["forward_mode"],
          lambda: forward_mode(p, batched.values, model.wrt), min(repeat, 3), 0)
    iterate = progress or (lambda items, **_: items)
    for name, function in iterate(list(functions.items()), desc="bench"):
        if function:
            timed(name, f"eval_{name}", ops[name], lambda f=function: f(*values), repeat, 2)
        else:
            evaluation[name] = None
    expected = _cross_checked(result, p, model.wrt, functions, arguments, batched.values)
    result["peak_bytes"] = _peaks(p, batched.values, functions, values, evaluation)
    result["ratios"] = _ratios(result)
    _against(result, model, batched.values, against, expected, repeat, measure,
             lambda rate, key, n: predict(rate, ops[rate.removeprefix("eval_")], batch, n, key))
    for q in lowered:  # the model's own lowering (a network's matrix program), timed beside
        _time_lowering(result, q, timed, ops, batched.values, repeat)
    return result


def _new_result(name: str, batch: int, budget, threads: int, against) -> dict:
    """The ``bench --json`` object before anything is measured."""
    return {"model": name, "batch": batch, "budget": budget, "derivation": {},
            "compile": {}, "evaluation": {}, "ratios": {}, "skipped": {},
            "predicted": {"derivation": {}, "compile": {}, "evaluation": {}, "against": {}},
            "environment": environment(),
            "threads": frameworks.pin_threads(threads, against), "peak_bytes": {},
            "relative_error": {}, "against": dict.fromkeys(frameworks.KEYS)}


def _measure(result: dict, budget, section, key, function, guess, times, setup=None,
             why=None):
    """Time ``function`` into result[section][key] unless predicted over budget."""
    prediction = guess(times)
    result["predicted"][section][key] = prediction.each
    why = f"{why}; {prediction.method}: about {seconds_text(prediction.seconds)} " \
          f"predicted ({prediction.basis})" if why else prediction.over(budget)
    if why:
        result[section][key] = None
        compiled = section == "evaluation" and key in result["compile"]
        result["skipped"][f"{key}_evaluation" if compiled else key] = why
        return None
    result[section][key] = median_seconds(function, times, setup)
    return result[section][key]


def _cross_checked(result: dict, p, wrt, functions: dict, arguments, values: dict):
    """Backprop's gradient (None where it was not timed), and each timed function's
    relative error against it, into result["relative_error"]."""
    evaluation = result["evaluation"]
    if evaluation["backprop"] is None:
        return None
    _, gradient = p.gradients(values)
    expected = [gradient[w] for w in wrt]
    shape = np.broadcast_shapes(*[np.shape(values[a]) for a in arguments])
    for name, function in functions.items():
        if function and evaluation[name] is not None:
            found = codegen.batch_sums(function, arguments, values, shape)
            result["relative_error"][name] = frameworks.relative_error(found, expected)
    return expected


def _time_lowering(result: dict, q, timed, ops: dict, values: dict, repeat: int) -> None:
    """A lowering's forward and backward passes, timed beside the scalar program's (at
    most its cost: predicted by it), and their ratio."""
    forward, backprop = f"{q.kind}_forward", f"{q.kind}_backprop"
    timed(forward, "forward", ops["forward"], lambda: q.forward(values), repeat, 0)
    timed(backprop, "backprop", ops["backprop"], lambda: q.backward(q.forward(values)),
          repeat, 0)
    result["ratios"][f"{backprop}_over_forward"] = _ratio(result["evaluation"][backprop],
                                                         result["evaluation"][forward])


def _peaks(p, values: dict, functions: dict, arguments: list, evaluated: dict) -> dict:
    """Peak bytes numpy allocates in one evaluation of each that was timed (tracemalloc,
    untimed)."""
    measured = {"forward": lambda: p.forward(values), "backprop": lambda: p.gradients(values)}
    measured.update({name: (lambda f=without_lines(f): f(*arguments))
                     for name, f in functions.items() if f})
    return {name: peak_bytes(run) for name, run in measured.items()
            if evaluated.get(name) is not None}


def without_lines(function):
    """``function`` with its code's line table emptied (the same bytecode, tracebacks
    without line numbers).  tracemalloc looks up the line of every allocation by scanning
    the code's line table from its start, so one evaluation of a lambdified gradient of
    41,597 tree nodes took 61 s under it (0.22 s untraced), and `bench
    chain:sin,exp,cos*11 --budget 1000` (145,411 nodes) had not finished in 16 minutes;
    without the table it takes 0.13 s where it had taken 20 s (chain:sin,exp,cos*6), and
    that bench 113 s in all.
    Functions of other kinds are returned as they are."""
    code = getattr(function, "__code__", None)
    if not isinstance(function, types.FunctionType) or code is None:
        return function
    return types.FunctionType(code.replace(co_linetable=b""), function.__globals__,
                              function.__name__, function.__defaults__, function.__closure__)


def peak_bytes(function) -> int:
    """The most memory held at once, above what was held before, during ``function()``
    (numpy reports its arrays to tracemalloc)."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


AGAINST_RATES = {"torch_autograd": "backprop", "generated_torch": "eval_generated",
                 "jax_grad": "backprop", "generated_jax": "eval_generated"}
"""Each framework's measurement is predicted as derive's own of the same kind."""


def _against(result, model, values: dict, libraries, expected, repeat, measure, guess):
    """Time the frameworks' gradients and derive's code for them, cross-checked."""
    for library in libraries:
        why = frameworks.missing(library)
        if why:
            for key in frameworks.LIBRARIES[library]:
                result["skipped"][key] = why
            continue
        for key, (run, total) in frameworks.functions(model, library, values).items():
            rate = AGAINST_RATES.get(key, "backprop")
            if measure("against", key, run, lambda n: guess(rate, key, n + 2), repeat) \
                    is not None and expected is not None:
                result["relative_error"][key] = frameworks.relative_error(total(run()),
                                                                          expected)
    generated = result["evaluation"]["generated"]
    for key, seconds in result["against"].items():
        if seconds is not None:
            result["ratios"][f"{key}_over_generated"] = _ratio(seconds, generated)


def _compile(result, gradient, grad, arguments, repeat, batch, measure) -> dict:
    """Compile the gradient three ways, each timed (``measure``) unless predicted over
    the budget; the compiled functions, None for those skipped."""
    namespace = lambdify_modules()
    makers = {
        "lambdify": lambda: sympy.lambdify(arguments, gradient, modules=namespace),
        "lambdify_cse": lambda: sympy.lambdify(arguments, gradient, modules=namespace,
                                               cse=True),
        "generated": lambda: codegen.compile_source(codegen.source(gradient, arguments,
                                                                   batch=batch)),
    }
    size = {"lambdify": grad.tree_nodes, "lambdify_cse": grad.tree_nodes,
            "generated": grad.dag_nodes}
    functions = {}
    for name, make in makers.items():
        timed = measure("compile", name, make,
                        lambda n, name=name: predict(name, size[name], runs=n + 2), repeat,
                        clear_cache)
        functions[name] = make() if timed is not None else None
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
