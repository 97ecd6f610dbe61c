"""derive: symbolic versus numeric derivatives, and why backprop does not swell.

Notebook 7.1 of "Understanding Deep Learning" in a tool: build a model,
trace its staged forward and backward passes, and check the gradient six
ways.

>>> import derive
>>> t = derive.trace(derive.model("toy"))
>>> round(t.gradients["omega0"], 3)
5.246
>>> derive.check(derive.model("chain:tanh*3")).agree
True

``import derive`` is cheap: each name below loads its module (SymPy, numpy, and for
reports Jinja2 and matplotlib) on first use.
"""

import importlib

from derive.version import __version__
from derive.base.errors import DeriveError

_HOMES = {
    "model": "present.modelview", "Model": "models.model", "from_expression": "models.model",
    "jvp": "readings.modes", "check": "present.notebook", "dag_gradient": "present.notebook",
    "diff_gradient": "present.notebook", "hessian": "present.notebook",
    "jacobian": "present.notebook", "make_report": "present.notebook",
    "size_sweep": "present.notebook", "trace": "present.notebook", "parse": "models.parser",
    "parse_steps": "models.parser", "graph": "present.picture", "PRIMITIVES": "core.rules",
    "program": "core.program", "from_torch": "usercode.torch_modules",
}
"""Each public name and the module that defines it, loaded on first use."""

__all__ = ["__version__", "DeriveError", *sorted(_HOMES)]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'derive' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__():
    return sorted(set(globals()) | set(_HOMES))
