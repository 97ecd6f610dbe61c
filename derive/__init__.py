"""derive: symbolic versus numeric derivatives, and why backprop does not swell.

Notebook 7.1 of "Understanding Deep Learning" in a tool: build a model,
trace its staged forward and backward passes, and check the gradient four
ways.

>>> import derive
>>> t = derive.trace(derive.model("toy"))
>>> round(t.gradients["omega0"], 3)
5.246
>>> derive.check(derive.model("chain:tanh*3")).agree
True
"""

from .version import __version__  # noqa: E402
from .errors import DeriveError  # noqa: E402
from .families import model  # noqa: E402
from .models import Model, from_expression  # noqa: E402
from .modes import jvp  # noqa: E402
from .notebook import (check, dag_gradient, diff_gradient, hessian, jacobian,  # noqa: E402
                       make_report, size_sweep, trace)
from .parser import parse, parse_steps  # noqa: E402
from .picture import graph  # noqa: E402
from .primitives import PRIMITIVES  # noqa: E402
from .staged import program  # noqa: E402
from .torchbridge import from_torch  # noqa: E402

__all__ = ["__version__", "DeriveError", "Model", "PRIMITIVES", "check", "dag_gradient",
           "diff_gradient", "from_expression", "from_torch", "graph", "hessian", "jacobian", "jvp", "make_report",
           "model", "parse", "parse_steps", "program", "size_sweep", "trace"]
