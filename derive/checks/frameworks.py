"""The same gradient by the frameworks people use, for ``derive bench --against``.

For one model, batch and values, four functions beside derive's own:

* ``torch_autograd``: PyTorch autograd of the model's forward program (the loss
  written for tensors by :func:`derive.readings.codegen.source`, summed, then
  ``torch.autograd.grad``);
* ``jax_grad``: ``jax.jit(jax.grad(...))`` of the same forward program in JAX;
* ``generated_torch`` and ``generated_jax``: derive's generated gradient code
  written for those libraries (``derive code --backend``).

Each takes its inputs already converted (tensors, device arrays), so the timing is
of the gradient alone; each result is summed over the batch and compared with the
staged backprop (:func:`relative_error`).  PyTorch runs on ``threads`` threads (by
default 1, as numpy's elementwise operations do); JAX is asked for the same through
``XLA_FLAGS`` where it is not yet imported.

Cost: one compile per function (JAX traces and compiles on the first call), then
one evaluation per timed call.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

from derive.readings import codegen
from derive.base.errors import DeriveError
from derive.base.errors import INSTALL
from derive.readings.symbolic import dag_gradient

LIBRARIES = {"torch": ("torch_autograd", "generated_torch"),
             "jax": ("jax_grad", "generated_jax")}
"""Each library ``--against`` takes, and the timings it adds under "against"."""
KEYS = [key for pair in LIBRARIES.values() for key in pair]


def parse(text: str) -> list[str]:
    """``--against torch,jax`` as a list of libraries (an unknown name is an error)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in LIBRARIES]
    if unknown or not names:
        raise DeriveError(f"--against takes {' and/or '.join(LIBRARIES)}, comma-separated "
                          f"(got {text[:40]!r})")
    return list(dict.fromkeys(names))


def missing(library: str) -> str | None:
    """Why ``library`` cannot be measured here (None where it can)."""
    if importlib.util.find_spec(library) is None:
        return f"{library} is not installed ({INSTALL.get(library, 'pip install ' + library)})"
    return None


def pin_threads(threads: int, libraries=()) -> dict:
    """Pin the ``libraries`` measured to ``threads`` threads; what each was set to (none
    is imported that is not measured)."""
    settings = {"numpy": 1}  # numpy's elementwise operations run on one thread
    if "jax" in libraries and not missing("jax"):
        flags = (f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                 f"intra_op_parallelism_threads={threads}")
        if "jax" not in sys.modules:
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
        settings["jax"] = os.environ.get("XLA_FLAGS", "default")
    if "torch" in libraries and not missing("torch"):
        import torch
        torch.set_num_threads(threads)
        settings["torch"] = torch.get_num_threads()
    return settings


def functions(model, library: str, values: dict) -> dict:
    """{key: (run, total)} for ``library``, built over ``values`` (the batch): ``run()``
    computes the gradient as the library leaves it (what is timed: autograd's sums,
    generated code's per-example arrays), ``total(result)`` sums it over the batch
    as a list of floats, one per variable (for the cross-check)."""
    arguments = list(model.values)
    batch = model.inputs + model.targets
    wrt = [arguments.index(w) for w in model.wrt]
    loss = codegen.compile_source(codegen.source([model.output], arguments, name="loss",
                                                 batch=batch, backend=library), "loss")
    gradient = codegen.compile_source(codegen.source(
        dag_gradient(model.output, model.wrt), arguments, batch=batch, backend=library))
    shape = np.broadcast_shapes(*[np.shape(values[a]) for a in arguments])
    if library == "torch":
        return _torch(loss, gradient, arguments, wrt, values, shape)
    return _jax(loss, gradient, arguments, wrt, values, shape)


def _torch(loss, gradient, arguments, wrt, values, shape):
    import torch
    inputs = [torch.as_tensor(np.asarray(values[a], dtype=float)) for a in arguments]

    def summed(value):  # over the batch, a value the same for every example included
        return torch.broadcast_to(torch.as_tensor(value, dtype=torch.float64), shape).sum()

    def autograd():
        leaves = [x.clone().requires_grad_(True) if i in wrt else x
                  for i, x in enumerate(inputs)]
        total = summed(loss(*leaves)[0])
        return torch.autograd.grad(total, [leaves[i] for i in wrt], allow_unused=True)

    return {"torch_autograd": (autograd, lambda r: [0.0 if g is None else float(g) for g in r]),
            "generated_torch": (lambda: gradient(*inputs),
                                lambda r: [float(summed(g)) for g in r])}


def _jax(loss, gradient, arguments, wrt, values, shape):
    import jax
    import jax.numpy as jnp
    inputs = [jnp.asarray(np.asarray(values[a], dtype=float)) for a in arguments]
    grad = jax.jit(jax.grad(lambda *a: jnp.broadcast_to(loss(*a)[0], shape).sum(),
                            argnums=tuple(wrt)))
    return {"jax_grad": (lambda: jax.block_until_ready(grad(*inputs)),
                         lambda r: [float(g) for g in r]),
            "generated_jax": (lambda: jax.block_until_ready(gradient(*inputs)),
                              lambda r: [float(jnp.broadcast_to(g, shape).sum()) for g in r])}


def relative_error(found: list[float], expected: list[float]) -> float:
    """‖found − expected‖∞ / ‖expected‖∞: the gradient's error at its own scale."""
    found, expected = np.asarray(found, dtype=float), np.asarray(expected, dtype=float)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    error = float(np.max(np.abs(found - expected))) if expected.size else 0.0
    return error / scale if scale > 0 else error
