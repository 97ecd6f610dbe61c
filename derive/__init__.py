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

from .compare import check
from .errors import DeriveError
from .models import Model, from_expression, model
from .primitives import PRIMITIVES
from .staged import program, trace
from .symbolic import dag_gradient, diff_gradient

__version__ = "0.1.0"

__all__ = ["DeriveError", "Model", "PRIMITIVES", "check", "dag_gradient",
           "diff_gradient", "from_expression", "model", "program", "trace"]

from .growth import size_sweep  # noqa: E402
from .report import make_report  # noqa: E402

__all__ += ["make_report", "size_sweep"]
