"""The one table of primitives, and the arithmetic rules beside it.

Every activation ``derive`` knows is one :class:`Primitive` row in
:data:`PRIMITIVES`: its SymPy function, its numpy forward function, its local
derivative (symbolic, and numeric reusing the forward value where it can), its
LaTeX form and whether it is analytic (so that the complex step applies).
The symbolic reverse sweep, the staged program, the generated code, the
printers and the tests all read this table; no other file lists activations.
Adding a primitive is adding one row.

Arithmetic (``Add``, ``Mul``, ``Pow``) is not an activation but has local
derivatives too; its three rules live in :data:`ARITHMETIC`.  :func:`rule_for`
finds the rule of any node and fails loudly, naming the node, where there is
none.

>>> PRIMITIVES["tanh"].derivative(z, sympy.tanh(z))
1 - tanh(z)**2
>>> float(PRIMITIVES["sigmoid"].d_numeric(0.0, 0.5))
0.25
>>> rule_for(sympy.Abs(z))
Traceback (most recent call last):
...
derive.errors.DeriveError: no derivative rule for 'Abs': use a primitive from the table (sin, cos, exp, log, tanh, sigmoid, softplus, relu, square, sqrt)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy

from .errors import DeriveError

z = sympy.Symbol("z")


@dataclass(frozen=True)
class Primitive:
    """One row of the table.

    ``code`` is the numpy forward as source, an expression in ``x`` (numpy is
    ``np``): it is compiled once into :attr:`forward` and copied verbatim into
    generated code, so both run the same formula.  ``derivative(z, out)``
    builds dh/dz symbolically from the argument ``z`` and the node
    ``out = h(z)`` itself, so that a rule may reuse the primal output (exp' is
    exp); ``d_numeric(z, out)`` does the same on arrays.  ``latex`` is a
    pattern with one ``{}`` for the argument.  ``centre`` is where default
    chain parameters place this primitive's argument, and ``domain`` is the
    interval the property tests draw arguments from.
    """

    name: str
    sympy: Callable
    code: str
    derivative: Callable
    d_numeric: Callable
    latex: str
    analytic: bool
    centre: float = 0.0
    domain: tuple[float, float] = (-2.0, 2.0)

    @functools.cached_property
    def forward(self) -> Callable:
        """The numpy forward function compiled from :attr:`code` (our own text)."""
        return eval(f"lambda x: {self.code}", {"np": np})  # noqa: S307


def _function(name: str) -> type[sympy.Function]:
    """A SymPy function class whose derivative is read from the table."""

    def fdiff(self, argindex=1):
        return PRIMITIVES[name].derivative(self.args[0], self)

    def _latex(self, printer):
        return PRIMITIVES[name].latex.format(printer._print(self.args[0]))

    return type(name, (sympy.Function,), {"fdiff": fdiff, "_latex": _latex})


sigmoid = _function("sigmoid")
relu = _function("relu")
softplus = _function("softplus")
square = _function("square")
sqrt = _function("sqrt")
step = _function("step")

# the notebook's indicator: 1 where x > 0, otherwise 0 (so relu'(0) = 0)
_STEP = "np.where(np.real(x) > 0, 1.0, 0.0)"


_ROWS = [
    # ---- trigonometric -----------------------------------------------------
    Primitive("sin", sympy.sin, "np.sin(x)",
              lambda z, out: sympy.cos(z), lambda z, out: np.cos(z),
              r"\sin\left[{}\right]", True),
    Primitive("cos", sympy.cos, "np.cos(x)",
              lambda z, out: -sympy.sin(z), lambda z, out: -np.sin(z),
              r"\cos\left[{}\right]", True),
    # ---- exponential and logarithm: exp's rule reuses the output ---------------
    Primitive("exp", sympy.exp, "np.exp(x)",
              lambda z, out: out, lambda z, out: out,
              r"\exp\left[{}\right]", True),
    Primitive("log", sympy.log, "np.log(x)",
              lambda z, out: 1 / z, lambda z, out: 1.0 / z,
              r"\log\left[{}\right]", True, centre=1.5, domain=(0.2, 3.0)),
    # ---- squashing activations: rules reuse the output -----------------------
    Primitive("tanh", sympy.tanh, "np.tanh(x)",
              lambda z, out: 1 - out**2, lambda z, out: 1.0 - out * out,
              r"\tanh\left[{}\right]", True),
    Primitive("sigmoid", sigmoid, "1.0 / (1.0 + np.exp(-x))",
              lambda z, out: out * (1 - out), lambda z, out: out * (1.0 - out),
              r"\operatorname{{sig}}\left[{}\right]", True),
    # both branches are evaluated; each is exact where it is chosen
    Primitive("softplus", softplus,
              "np.where(np.real(x) > 0, x + np.log1p(np.exp(-x)), np.log1p(np.exp(x)))",
              lambda z, out: sigmoid(z), lambda z, out: PRIMITIVES["sigmoid"].forward(z),
              r"\operatorname{{softplus}}\left[{}\right]", True),
    # ---- piecewise linear: not analytic, so no complex step ----------------
    Primitive("relu", relu, "np.where(np.real(x) > 0, x, 0.0 * x)",
              lambda z, out: step(z), lambda z, out: PRIMITIVES["step"].forward(z),
              r"\operatorname{{ReLU}}\left[{}\right]", False,
              centre=0.5, domain=(0.05, 2.0)),
    Primitive("step", step, _STEP,
              lambda z, out: sympy.S.Zero, lambda z, out: 0.0 * z,
              r"\mathbb{{I}}\left[{} > 0\right]", False),
    # ---- powers ----------------------------------------------------------
    Primitive("square", square, "x * x",
              lambda z, out: 2 * z, lambda z, out: 2.0 * z,
              r"\left({}\right)^{{2}}", True),
    Primitive("sqrt", sqrt, "np.sqrt(x)",
              lambda z, out: 1 / (2 * out), lambda z, out: 0.5 / out,
              r"\sqrt{{{}}}", True, centre=1.5, domain=(0.2, 3.0)),
]

PRIMITIVES: dict[str, Primitive] = {row.name: row for row in _ROWS}
"""The table, by name.  ``step`` is relu's derivative; the others are activations."""

ACTIVATIONS = [name for name in PRIMITIVES if name != "step"]


def lambdify_modules() -> list:
    """``modules=`` for ``sympy.lambdify``: the table's forwards, then numpy.

    Built at call time, so a row swapped into the table is the one used.
    """
    return [{row.name: row.forward for row in PRIMITIVES.values()}, "numpy"]


def by_function(func) -> Primitive | None:
    """The table row whose SymPy function is ``func`` (a class such as sympy.sin).

    Looked up by name at call time, so a row swapped into the table (as the
    tests do to inject a wrong rule) is the one every reader sees.
    """
    row = PRIMITIVES.get(getattr(func, "__name__", ""))
    return row if row is not None and row.sympy is func else None


# ---- arithmetic rules -----------------------------------------------------
# Each rule gives the partial derivative of a node with respect to its i-th
# argument, symbolically (from the args and the node) and numerically (from the
# argument values and the node's value).


def _others(items, i, one):
    out = one
    for j, item in enumerate(items):
        if j != i:
            out = out * item
    return out


@dataclass(frozen=True)
class Rule:
    """A node's forward function and local partial derivatives."""

    name: str
    forward: Callable  # (*values) -> value
    partial: Callable  # (node, i) -> sympy expression
    partial_numeric: Callable  # (values, out, i) -> array
    analytic: bool = True


def _mul_partial(node, i):
    others = [a for j, a in enumerate(node.args) if j != i]
    return others[0] if len(others) == 1 else sympy.Mul(*others, evaluate=False)


def _pow_partial(node, i):
    base, exponent = node.args
    if i == 0:
        return exponent * base ** (exponent - 1)
    return node * sympy.log(base)


def _pow_partial_numeric(values, out, i):
    base, exponent = values
    if i == 0:
        return exponent * base ** (exponent - 1)
    return out * np.log(base)


ARITHMETIC = {
    sympy.Add: Rule("add", lambda *v: sum(v[1:], v[0]),
                    lambda node, i: sympy.S.One,
                    lambda values, out, i: 1.0),
    sympy.Mul: Rule("mul", lambda *v: math.prod(v[1:], start=v[0]),
                    _mul_partial,
                    lambda values, out, i: _others(values, i, 1.0)),
    sympy.Pow: Rule("pow", lambda b, e: b**e, _pow_partial, _pow_partial_numeric),
}


@functools.lru_cache(maxsize=None)
def _primitive_rule(row: Primitive) -> Rule:
    return Rule(row.name, row.forward,
                lambda node, i: row.derivative(node.args[0], node),
                lambda values, out, i: row.d_numeric(values[0], out),
                row.analytic)


def rule_for(node: sympy.Basic) -> Rule:
    """The rule of a non-atomic node; a :class:`DeriveError` naming it if none."""
    rule = ARITHMETIC.get(node.func)
    if rule is not None:
        return rule
    row = by_function(node.func)
    if row is None:
        raise DeriveError(
            f"no derivative rule for {node.func.__name__!r}: use a primitive from "
            f"the table ({', '.join(ACTIVATIONS)})")
    return _primitive_rule(row)
