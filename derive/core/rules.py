"""The one rule table: every operation a program can contain is one row.

A :class:`Rule` holds all that any reading needs:

* the numeric forward as one source string (``code``, in the row's ``params``),
  compiled for the interpreter and copied into generated code;
* the local partial ``partial(m, args, out, i)`` (elementwise rows) or the
  vector-Jacobian product ``vjp(m, args, out, bar, i)`` (reverse mode), and the
  Jacobian-vector product ``jvp(m, args, out, dots)`` (forward mode).  Each is
  written once and read twice: ``m`` is :data:`NUMERIC` (numpy) or
  :data:`SYMBOLIC` (SymPy), so the same rule gives numbers to the staged
  program and expressions to the symbolic sweep and the report.  A rule may
  reuse the forward output ``out`` (exp′ is exp, tanh′ is 1 − h²);
* its book notation (``latex``), operation counts, and domain: where it
  faults (``fault``), whether it is analytic (complex step), where it has a
  kink (``kink``, with the derivative there as the rule computes it).

Rows: the primitives (:data:`PRIMITIVES`; ``indicator`` is relu's derivative, the
notebook's indicator), the arithmetic :data:`ARITHMETIC` (Add, Mul, Pow), the
losses :data:`LOSSES`, and the affine layer :data:`AFFINE` (f = β + Ω·h, on
matrices).  Nothing outside this module names a primitive or restates a
rule; adding a primitive is adding a row (:func:`primitive`).

>>> from derive.core.arithmetic import NUMERIC, SYMBOLIC
>>> PRIMITIVES["tanh"].partial(SYMBOLIC, (z,), sympy.tanh(z), 0)
1 - tanh(z)**2
>>> float(PRIMITIVES["sigmoid"].partial(NUMERIC, (0.0,), 0.5, 0))
0.25
>>> AFFINE.vjp(SYMBOLIC, sympy.symbols("beta Omega h"), None, sympy.Symbol("g"), 2).args
(transpose(Omega), g)
>>> rule_for(sympy.Abs(z))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
derive.base.errors.DeriveError: no derivative rule for 'Abs': use a primitive from the table (sin, cos, exp, ...)
"""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import replace
from typing import Any, Callable

import numpy as np
import sympy

from derive.base.errors import DeriveError
from derive.core import arithmetic
from derive.core.arithmetic import SYMBOLIC
from derive.core.rule import NAMESPACE, Rule
from derive.core.partials import (at_zero, binary_cross_entropy, difference, least_squares,
                                  log_fault, pow_fault, pow_partial)

z = sympy.Symbol("z")


# ---- the two readings of a rule: numbers and symbols ---------------------------


# ---- the row -----------------------------------------------------------------------


def _function(name: str, nargs: int = 1) -> type[sympy.Function]:
    """A SymPy function class whose derivative and LaTeX are read from the table."""

    def fdiff(self, argindex=1):
        return row(name).partial(SYMBOLIC, self.args, self, argindex - 1)

    def _latex(self, printer, exp=None):
        return row_latex(self, printer, exp)

    return type(name, (sympy.Function,), {"fdiff": fdiff, "_latex": _latex,
                                          "nargs": nargs})


def row_latex(node, printer, exp=None) -> str:
    """A function row's node in the row's LaTeX pattern (raised to ``exp`` where given)."""
    tex = row(type(node).__name__).latex.format(*[printer._print(a) for a in node.args])
    return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"


def primitive(name: str, code: str, partial: Callable | None, latex: str, sympy_function=None,
              **fields) -> Rule:
    """A function row (unary unless ``params`` says otherwise); its SymPy function is
    made from the row unless SymPy has one."""
    function = sympy_function or _function(name, len(fields.get("params", ("x",))))
    return Rule(name, code, latex, partial=partial, sympy=function, **fields)


# ---- the primitives ----------------------------------------------------------------
# partial(m, (x,), out, 0): the derivative, in m's functions, reusing out where it can


_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_ROOT_PI = 2.0 / math.sqrt(math.pi)
_ROOT_HALF = math.sqrt(0.5)
_ONE_OVER_ROOT_TWO_PI = 1.0 / math.sqrt(2.0 * math.pi)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
# How other array libraries spell what the rows' code calls (np.NAME is torch.NAME or
# jnp.NAME unless listed), and the helpers a spelling needs, as (parameters, numpy source)
# that the backend's printer prints: generated code's backends.
SPELLINGS = {"torch": {"cbrt": "_cbrt", "_erf": "torch.special.erf",
                       "_erfc": "torch.special.erfc"},
             "jax": {"_erf": "jax.scipy.special.erf", "_erfc": "jax.scipy.special.erfc"}}
LIBRARY_SUPPORT = {"torch": {"_cbrt": (("x",), "np.sign(x) * np.abs(x) ** (1.0 / 3.0)")}}
_erf = NAMESPACE["_erf"]


_ROWS = [
    # ---- trigonometric ------------------------------------------------------
    primitive("sin", "np.sin(x)", lambda m, a, out, i: m.cos(a[0]),
              r"\sin\left[{}\right]", sympy.sin),
    primitive("cos", "np.cos(x)", lambda m, a, out, i: -m.sin(a[0]),
              r"\cos\left[{}\right]", sympy.cos),
    # ---- exponential and logarithm: exp's rule reuses the output --------------
    primitive("exp", "np.exp(x)", lambda m, a, out, i: out,
              r"\exp\left[{}\right]", sympy.exp),
    primitive("log", "np.log(x)", lambda m, a, out, i: 1 / a[0],
              r"\log\left[{}\right]", sympy.log, centre=1.5, domain=(0.2, 3.0),
              fault=log_fault),
    # ---- squashing activations: rules reuse the output ------------------------
    primitive("tanh", "np.tanh(x)", lambda m, a, out, i: 1 - out**2,
              r"\tanh\left[{}\right]", sympy.tanh),
    # sig' = sig(x)·sig(-x), not out·(1 - out), which is 0 past x = 37 (1 - out cancels)
    primitive("sigmoid", "1.0 / (1.0 + np.exp(-x))",
              lambda m, a, out, i: out * m.sigmoid(-a[0]),
              r"\operatorname{{sig}}\left[{}\right]"),
    # both branches are evaluated; each is exact where it is chosen
    primitive("softplus",
              "np.where(np.real(x) > 0, x + np.log1p(np.exp(-x)), np.log1p(np.exp(x)))",
              lambda m, a, out, i: m.sigmoid(a[0]),
              r"\operatorname{{softplus}}\left[{}\right]"),
    # ---- piecewise linear: not analytic, so no complex step; relu'(0) = 0 ------
    primitive("relu", "x * (np.real(x) > 0)",
              lambda m, a, out, i: m.indicator(a[0]),
              r"\operatorname{{ReLU}}\left[{}\right]", analytic=False, kink=at_zero,
              centre=0.5, domain=(0.05, 2.0), gain=2.0),
    # ---- powers ---------------------------------------------------------------
    primitive("square", "x * x", lambda m, a, out, i: 2 * a[0],
              r"\left({}\right)^{{2}}"),
    primitive("sqrt", "np.sqrt(x)", lambda m, a, out, i: 1 / (2 * out),
              r"\sqrt{{{}}}", centre=1.5, domain=(0.2, 3.0),
              fault=lambda x: "sqrt of a negative number" if x < 0 else None),
]
_ROWS += [
    # ---- more trigonometric and hyperbolic, as numpy spells them -----------------
    primitive("tan", "np.tan(x)", lambda m, a, out, i: 1 + out**2,
              r"\tan\left[{}\right]", domain=(-1.2, 1.2)),
    primitive("arcsin", "np.arcsin(x)", lambda m, a, out, i: 1 / m.sqrt(1 - a[0]**2),
              r"\arcsin\left[{}\right]", domain=(-0.9, 0.9),
              fault=lambda x: "arcsin outside [-1, 1]" if abs(np.real(x)) > 1 else None),
    primitive("arccos", "np.arccos(x)", lambda m, a, out, i: -1 / m.sqrt(1 - a[0]**2),
              r"\arccos\left[{}\right]", domain=(-0.9, 0.9),
              fault=lambda x: "arccos outside [-1, 1]" if abs(np.real(x)) > 1 else None),
    primitive("arctan", "np.arctan(x)", lambda m, a, out, i: 1 / (1 + a[0]**2),
              r"\arctan\left[{}\right]"),
    primitive("sinh", "np.sinh(x)", lambda m, a, out, i: m.cosh(a[0]),
              r"\sinh\left[{}\right]"),
    primitive("cosh", "np.cosh(x)", lambda m, a, out, i: m.sinh(a[0]),
              r"\cosh\left[{}\right]"),
    primitive("arcsinh", "np.arcsinh(x)", lambda m, a, out, i: 1 / m.sqrt(a[0]**2 + 1),
              r"\operatorname{{arsinh}}\left[{}\right]"),
    primitive("arccosh", "np.arccosh(x)", lambda m, a, out, i: 1 / m.sqrt(a[0]**2 - 1),
              r"\operatorname{{arcosh}}\left[{}\right]", centre=2.0, domain=(1.1, 3.0),
              fault=lambda x: "arccosh below 1" if np.real(x) < 1 else None),
    primitive("arctanh", "np.arctanh(x)", lambda m, a, out, i: 1 / (1 - a[0]**2),
              r"\operatorname{{artanh}}\left[{}\right]", domain=(-0.9, 0.9),
              fault=lambda x: "arctanh outside (-1, 1)" if abs(np.real(x)) >= 1 else None),
    # ---- error function, logarithms and exponentials in other bases -----------------
    # analytic, but their numpy forwards take no complex argument: no complex step
    primitive("erf", "_erf(x)", lambda m, a, out, i: _TWO_OVER_ROOT_PI * m.exp(-a[0]**2),
              r"\operatorname{{erf}}\left[{}\right]", analytic=False),
    primitive("erfc", "_erfc(x)", lambda m, a, out, i: -_TWO_OVER_ROOT_PI * m.exp(-a[0]**2),
              r"\operatorname{{erfc}}\left[{}\right]", analytic=False),
    primitive("log2", "np.log2(x)", lambda m, a, out, i: 1 / (a[0] * _LN2),
              r"\log_{{2}}\left[{}\right]", centre=1.5, domain=(0.2, 3.0), fault=log_fault),
    primitive("log10", "np.log10(x)", lambda m, a, out, i: 1 / (a[0] * _LN10),
              r"\log_{{10}}\left[{}\right]", centre=1.5, domain=(0.2, 3.0),
              fault=log_fault),
    primitive("log1p", "np.log1p(x)", lambda m, a, out, i: 1 / (1 + a[0]),
              r"\log\left[1 + {}\right]", domain=(-0.5, 2.0),
              fault=lambda x: log_fault(1 + x)),
    primitive("expm1", "np.expm1(x)", lambda m, a, out, i: m.exp(a[0]),  # out + 1 cancels
              r"\left(\exp\left[{}\right] - 1\right)"),
    primitive("exp2", "np.exp2(x)", lambda m, a, out, i: out * _LN2, r"2^{{{}}}"),
    primitive("cbrt", "np.cbrt(x)", lambda m, a, out, i: 1 / (3 * out**2),
              r"\sqrt[3]{{{}}}", centre=1.5, domain=(0.2, 3.0), analytic=False),
    # ---- the activations of the book's chapter 3 ---------------------------------
    primitive("silu", "x / (1.0 + np.exp(-x))",
              lambda m, a, out, i: m.sigmoid(a[0]) * (1 + a[0] * (1 - m.sigmoid(a[0]))),
              r"\operatorname{{SiLU}}\left[{}\right]"),
    # Φ(x) = erfc(-x/√2)/2, not (1 + erf(x/√2))/2, which cancels to 0 past x = -6
    primitive("gelu", "0.5 * x * _erfc(-x / np.sqrt(2.0))",
              lambda m, a, out, i: (0.5 * m.erfc(-a[0] * _ROOT_HALF)
                                    + a[0] * _ONE_OVER_ROOT_TWO_PI * m.exp(-a[0]**2 / 2)),
              r"\operatorname{{GELU}}\left[{}\right]", analytic=False),
    primitive("elu", "np.where(np.real(x) > 0, x, np.expm1(np.where(np.real(x) > 0, 0.0, x)))",
              lambda m, a, out, i: m.indicator(a[0])
              + (1 - m.indicator(a[0])) * m.exp(-m.relu(-a[0])),  # exp(min(x, 0)): out + 1
              # would cancel to 0 past x = -37
              r"\operatorname{{ELU}}\left[{}\right]", analytic=False, kink=at_zero,
              domain=(0.05, 2.0)),
    primitive("selu", f"{_SELU_SCALE!r} * np.where(np.real(x) > 0, x, "
              f"{_SELU_ALPHA!r} * np.expm1(np.where(np.real(x) > 0, 0.0, x)))",
              lambda m, a, out, i: _SELU_SCALE * m.indicator(a[0])
              + (1 - m.indicator(a[0])) * _SELU_SCALE * _SELU_ALPHA * m.exp(-m.relu(-a[0])),
              r"\operatorname{{SELU}}\left[{}\right]", analytic=False, kink=at_zero,
              domain=(0.05, 2.0)),
    primitive("softsign", "x / (1.0 + np.abs(x))", lambda m, a, out, i: 1 / (1 + m.abs(a[0]))**2,
              r"\operatorname{{softsign}}\left[{}\right]", analytic=False, kink=at_zero,
              centre=0.5, domain=(0.05, 2.0)),
    primitive("logsigmoid", "-np.logaddexp(0.0, -x)", lambda m, a, out, i: m.sigmoid(-a[0]),
              r"\log\operatorname{{sig}}\left[{}\right]", analytic=False),
    # ---- kinks: abs'(0) = 0, sign' = 0 everywhere ------------------------------------
    primitive("abs", "np.abs(x)", lambda m, a, out, i: m.sign(a[0]),
              r"\left|{}\right|", analytic=False, kink=at_zero, centre=0.5, domain=(0.05, 2.0)),
    primitive("sign", "np.sign(x)", lambda m, a, out, i: 0 * a[0],
              r"\operatorname{{sign}}\left[{}\right]", analytic=False, kink=at_zero, centre=0.5,
              domain=(0.05, 2.0)),
]
# the notebook's indicator 𝕀[x > 0]: relu's derivative, not an activation itself
_ROWS.append(primitive("indicator", "np.where(np.real(x) > 0, 1.0, 0.0)",
                       lambda m, a, out, i: 0 * a[0], r"\mathbb{{I}}\left[{} > 0\right]",
                       analytic=False, kink=at_zero, spelled=False))


_ROWS += [
    # ---- functions of two arguments: max and min split a tie 0.5/0.5, as PyTorch and JAX --
    primitive("max", "np.maximum(a, b)", lambda m, a, out, i: m.heaviside(a[i] - a[1 - i]),
              r"\max\left[{}, {}\right]", params=("a", "b"), analytic=False,
              kink=difference),
    primitive("min", "np.minimum(a, b)", lambda m, a, out, i: m.heaviside(a[1 - i] - a[i]),
              r"\min\left[{}, {}\right]", params=("a", "b"), analytic=False,
              kink=difference),
    # numpy's arctan2 and hypot take no complex argument: no complex step
    # at (0, 0), where atan2 has no derivative, 0 in both arguments, as PyTorch (JAX: NaN)
    primitive("arctan2", "np.arctan2(y, x)",
              lambda m, a, out, i: m.where(m.is_zero(a[0]**2 + a[1]**2), 0,
                                           (a[1] if i == 0 else -a[0]) / (a[0]**2 + a[1]**2)),
              r"\operatorname{{atan2}}\left[{}, {}\right]", params=("y", "x"),
              analytic=False, domain=(0.3, 2.0)),
    primitive("hypot", "np.hypot(a, b)", lambda m, a, out, i: a[i] / out,
              r"\operatorname{{hypot}}\left[{}, {}\right]", params=("a", "b"),
              analytic=False),
    # leaky_relu(x, slope): slope·x below zero; leaky_relu'(0) = slope, like relu'(0) = 0
    primitive("leaky_relu", "np.where(np.real(x) > 0, x, slope * x)",
              lambda m, a, out, i: (m.indicator(a[0]) + a[1] * (1 - m.indicator(a[0]))
                                    if i == 0 else a[0] * (1 - m.indicator(a[0]))),
              r"\operatorname{{LReLU}}\left[{}, {}\right]", params=("x", "slope"),
              analytic=False, kink=lambda x, slope: x, constants=(1,)),
    # the Heaviside step with H(0) = 1/2: max's and min's derivative
    primitive("heaviside", "np.heaviside(np.real(x), 0.5)", lambda m, a, out, i: 0 * a[0],
              r"H\left[{}\right]", analytic=False, kink=at_zero, spelled=False),
]


# ---- branches: where(condition, a, b) and the comparisons it takes ----------------------


class where(sympy.Function):
    """where(c, a, b): a where the comparison c holds, else b (SymPy's Piecewise
    ((a, c), (b, True)), as ``rewrite(sympy.Piecewise)`` gives it).  Its derivative
    is where(c, a′, b′): the branch taken, read from the row's JVP."""

    nargs = 3

    @classmethod
    def eval(cls, c, a, b):
        if c is sympy.true or a == b:
            return a
        if c is sympy.false:
            return b
        return None

    def _eval_derivative(self, s):
        c, a, b = self.args
        return row(type(self).__name__).jvp_of(SYMBOLIC, self.args, self,
                                               [None, a.diff(s), b.diff(s)])

    def _eval_rewrite_as_Piecewise(self, c, a, b, **kwargs):
        return sympy.Piecewise((a, c), (b, True))

    def _latex(self, printer, exp=None):
        return row_latex(self, printer, exp)

    def _mathml_presentation(self, printer):
        """A brace over two rows, as the LaTeX cases: a if c, b otherwise."""
        dom = printer.dom

        def element(tag, *children, text=None):
            node = dom.createElement(tag)
            if text is not None:
                node.appendChild(dom.createTextNode(text))
            for child in children:
                node.appendChild(child)
            return node

        c, a, b = self.args
        rows = [element("mtr", element("mtd", printer._print(a)),
                        element("mtd", element("mtext", text="if\u00a0"), printer._print(c))),
                element("mtr", element("mtd", printer._print(b)),
                        element("mtd", element("mtext", text="otherwise")))]
        table = element("mtable", *rows)
        table.setAttribute("columnalign", "left left")
        return element("mrow", element("mo", text="{"), table)


def _where_jvp(m, args, out, dots):
    if dots[1] is None and dots[2] is None:
        return None
    return m.where(args[0], 0 if dots[1] is None else dots[1], 0 if dots[2] is None else dots[2])


_ROWS.append(Rule(
    "where", "np.where(c, a, b)",
    r"\begin{{cases}} {1} & \text{{if }} {0} \\ {2} & \text{{otherwise}} \end{{cases}}",
    params=("c", "a", "b"), sympy=where, inert=(0,),
    vjp=lambda m, a, out, bar, i: m.where(a[0], bar, 0) if i == 1 else m.where(a[0], 0, bar),
    jvp=_where_jvp, ops=lambda n: (1, 1)))


def _comparison(name: str, relation, latex: str, operator_: str) -> Rule:
    """A comparison row: true or false per entry (of the real parts), no derivative."""
    return Rule(name, f"np.real(a) {operator_} np.real(b)", "{} %s {}" % latex,
                params=("a", "b"), sympy=relation, inert=(0, 1), kink=difference,
                build=lambda a, b: relation(a, b, evaluate=False), ops=lambda n: (1, 0))


_RELATIONS = [("less", sympy.StrictLessThan, "<", "<"),
              ("less_equal", sympy.LessThan, r"\leq", "<="),
              ("greater", sympy.StrictGreaterThan, ">", ">"),
              ("greater_equal", sympy.GreaterThan, r"\geq", ">="),
              ("equal", sympy.Equality, "=", "=="),
              ("not_equal", sympy.Unequality, r"\neq", "!=")]
COMPARISONS: dict[Any, Rule] = {relation: _comparison(name, relation, latex, op)
                                for name, relation, latex, op in _RELATIONS}
"""Comparison rows by SymPy class: where's first argument."""
RELATIONS: dict[str, Any] = {op: relation for _, relation, _, op in _RELATIONS}
"""The comparison operators as users write them, to their SymPy classes."""

PRIMITIVES: dict[str, Rule] = {r.name: r for r in _ROWS}
arithmetic.bind(PRIMITIVES)
"""The function rows, by name; the activations are the unary ones users may write."""

RELU_73 = replace(PRIMITIVES["relu"], partial=lambda m, a, out, i: 1 - m.indicator(-a[0]),
                  latex=r"\operatorname{{ReLU}}_{{7.3}}\left[{}\right]")
"""Notebook 7.3's ReLU: the same forward, but the derivative 𝕀[x ≥ 0] (1 − 𝕀[−x > 0]):
7.3's ``indicator_function`` counts x = 0 as active, where 7.2's and the relu row's
(𝕀[x > 0]) do not.  Not a row users write: :mod:`derive.checks.initialization` runs it so that
7.3's experiment is the notebook's to the last bit, a dead layer included."""
NOTEBOOK_73_ROWS = {RELU_73.name: RELU_73}
"""7.3's own rows, by the activation they stand for; also the activations whose growth
of values has the one-line law Var × D·σ²_Ω/gain per layer (positively homogeneous)."""

sigmoid, relu, softplus, square, sqrt, indicator = (
    PRIMITIVES[n].sympy for n in ("sigmoid", "relu", "softplus", "square", "sqrt",
                                  "indicator"))


def activations() -> list[str]:
    """The primitives a chain, an expression or a network may use (read at call time)."""
    return [name for name, r in PRIMITIVES.items() if r.activation]


def functions() -> list[str]:
    """Every function an expression may call: the activations, then the functions
    of two or three arguments (read at call time)."""
    return [name for name, r in PRIMITIVES.items() if r.spelled]


ACTIVATIONS = activations()
ALIASES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
           "acosh": "arccosh", "atanh": "arctanh", "swish": "silu", "atan2": "arctan2"}
"""Other spellings a user may write for a primitive."""
DEFAULT_ACTIVATION = "relu"
"""A network's activation where its name gives none (the book's networks use ReLU)."""


# ---- arithmetic ----------------------------------------------------------------------


ARITHMETIC: dict[Any, Rule] = {
    sympy.Add: Rule("add", "+", "{} + {}", params=(), join=" + ", sympy=sympy.Add,
                    vjp=lambda m, args, out, bar, i: bar,
                    jvp=lambda m, args, out, dots: functools.reduce(
                        operator.add, [d for d in dots if d is not None]),
                    build=lambda *a: sympy.Add(*a, evaluate=False),
                    ops=lambda n: (n - 1, 0)),
    sympy.Mul: Rule("mul", "*", "{} {}", params=(), join=" * ", sympy=sympy.Mul,
                    partial=lambda m, args, out, i: m.others(args, i),
                    build=lambda *a: sympy.Mul(*a, evaluate=False),
                    ops=lambda n: (n - 1, max(n - 2, 0) + 1)),
    sympy.Pow: Rule("pow", "x ** p", "{}^{{{}}}", params=("x", "p"), sympy=sympy.Pow,
                    partial=pow_partial, fault=pow_fault,
                    build=lambda a, b: sympy.Pow(a, b, evaluate=False)),
}


OPERATORS: dict[Any, Rule] = {**ARITHMETIC, **COMPARISONS}
"""Arithmetic and comparisons: the rows SymPy writes as operators, by SymPy class."""


# ---- losses: ℓ(f, y), summed over their entries ----------------------------------------


LOSSES: dict[str, Rule] = {
    "least_squares": Rule(
        "least_squares", "np.sum((f - y) ** 2)", r"\left({0} - {1}\right)^{{2}}",
        params=("f", "y"), build=least_squares,
        vjp=lambda m, a, out, bar, i: m.times(m.mul(2 if i == 0 else -2, a[0] - a[1]), bar),
        jvp=lambda m, a, out, d: m.sum(m.mul(2, a[0] - a[1],
                                             (d[0] if d[0] is not None else 0)
                                             - (d[1] if d[1] is not None else 0))),
        ops=lambda n: (3, 3)),
    "binary_cross_entropy": Rule(
        "binary_cross_entropy", "-np.sum(y * np.log(f) + (1 - y) * np.log(1 - f))",
        r"-\left[{1} \log {0} + \left(1 - {1}\right) \log\left(1 - {0}\right)\right]",
        params=("f", "y"), build=binary_cross_entropy,
        fault=lambda f, y: "log of a negative number" if not 0 <= np.real(f) <= 1 else
        "log of zero" if f in (0, 1) else None,
        vjp=lambda m, a, out, bar, i: m.times(
            (a[0] - a[1]) / (a[0] * (1 - a[0])) if i == 0 else m.log(1 - a[0]) - m.log(a[0]),
            bar),
        jvp=lambda m, a, out, d: m.sum(
            (0 if d[0] is None else d[0] * (a[0] - a[1]) / (a[0] * (1 - a[0])))
            + (0 if d[1] is None else d[1] * (m.log(1 - a[0]) - m.log(a[0])))),
        ops=lambda n: (8, 6)),
}
"""Loss rows by name: ``build(f, y)`` is the scalar formula a model differentiates."""


# ---- the affine layer of a network: f = β + Ω·h, one column per example ----------------


def _affine_vjp(m, args, out, bar, i):
    beta, omega, h = args
    if i == 0:
        return bar  # summed over the batch where β meets it (one column)
    if i == 1:
        return m.matmul(bar, m.T(h))
    return m.matmul(m.T(omega), bar)


def _affine_jvp(m, args, out, dots):
    beta, omega, h = args
    d_beta, d_omega, d_h = dots
    terms = [d_beta, None if d_omega is None else m.matmul(d_omega, h),
             None if d_h is None else m.matmul(omega, d_h)]
    return functools.reduce(operator.add, [t for t in terms if t is not None])


AFFINE = Rule("affine", "b + W @ h", r"{0} + {1} {2}", params=("b", "W", "h"),
              vjp=_affine_vjp, jvp=_affine_jvp,
              build=lambda b, w, h: sympy.Add(b, sympy.Mul(w, h, evaluate=False),
                                              evaluate=False))


# ---- lookups ---------------------------------------------------------------------------


def row(name: str) -> Rule:
    """A primitive's row by name, read at call time (so a row swapped in is seen)."""
    return PRIMITIVES[name]


def by_function(func) -> Rule | None:
    """The primitive row whose SymPy function is ``func`` (a class such as sympy.sin)."""
    found = PRIMITIVES.get(getattr(func, "__name__", ""))
    return found if found is not None and found.sympy is func else None


def rule_for(node: sympy.Basic) -> Rule:
    """The rule of a non-atomic SymPy node; a :class:`DeriveError` naming it if none."""
    found = OPERATORS.get(node.func) or by_function(node.func)
    if found is None:
        raise DeriveError(
            f"no derivative rule for {node.func.__name__!r}: use a primitive from "
            f"the table ({', '.join(activations())})")
    return found


def own_ops(node: sympy.Basic) -> int:
    """Operations a node itself performs as printed: n-ary Add or Mul n − 1, a power
    or a call one (also a function outside the table), a symbol or number none."""
    if not node.args:
        return 0
    found = OPERATORS.get(node.func) or by_function(node.func)
    return found.ops(len(node.args))[0] if found is not None else 1


def lambdify_modules() -> list:
    """``modules=`` for ``sympy.lambdify``: the table's forwards, then numpy.

    Built at call time, so a row swapped into the table is the one used.
    """
    return [{r.name: r.forward for r in PRIMITIVES.values()}, "numpy"]
