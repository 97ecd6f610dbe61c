"""A row of the rule table: everything any reading needs of one operation.

Its numpy forward as one source string (:attr:`Rule.code`, used by the interpreter and
by generated code), its local partial or its own vector-Jacobian and Jacobian-vector
products over an arithmetic (:mod:`derive.core.arithmetic`), its SymPy function and book
notation, its operation counts and its domain (where it faults, whether it is analytic,
where it has a kink).  The rows themselves are :mod:`derive.core.rules`.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sympy

from derive.core.arithmetic import SYMBOLIC


def _call_ops(n: int) -> tuple[int, int]:
    """A function call or power: one operation forward; per argument, the local
    partial and the multiplication by the incoming adjoint."""
    return 1, 2


@dataclass(frozen=True, eq=False)
class Rule:
    """One row of the table (see the module docstring).

    ``params`` names the arguments in ``code``; an n-ary row (Add, Mul) has
    ``join``, the operator between its arguments, instead.  ``ops(n)`` is
    (forward operations, backward operations per argument that needs an
    adjoint) for n arguments.  ``build(*args)`` is the row applied to SymPy
    arguments, unevaluated.  ``kink(*args)`` is the signed distance from the row's
    kink (relu: x; max: a − b), whose sign says which side a value lies on;
    ``inert`` lists arguments no derivative flows to; ``constants`` those a user must
    write as constants (leaky_relu's slope); ``spelled`` rows may be
    written by users (the indicator is relu′, not a function to call).
    ``centre`` is where default chain parameters place an activation's argument;
    ``domain`` is where the spec tests draw every argument; ``gain`` scales a
    network's initial weights (Var Ω = gain/fan-in: 2 for ReLU).
    """

    name: str
    code: str
    latex: str
    params: tuple[str, ...] = ("x",)
    join: str | None = None
    partial: Callable | None = None
    vjp: Callable | None = None
    jvp: Callable | None = None
    sympy: Any = None
    build: Callable | None = None
    analytic: bool = True
    kink: Callable | None = None
    fault: Callable = field(default=lambda *args: None)
    ops: Callable = _call_ops
    spelled: bool = True
    inert: tuple[int, ...] = ()
    constants: tuple[int, ...] = ()
    gain: float = 1.0
    centre: float = 0.0
    domain: tuple[float, float] = (-2.0, 2.0)

    @property
    def arity(self) -> int | None:
        """How many arguments the row takes (None: any number, as Add and Mul)."""
        return None if self.join is not None else len(self.params)

    @property
    def activation(self) -> bool:
        """A unary row a user may write: chains, networks and expressions may use it."""
        return self.spelled and self.arity == 1

    def differentiable(self, args) -> list[tuple[int, Any]]:
        """(index, argument) for the arguments a derivative flows to (not ``inert``:
        a comparison's sides, where's condition)."""
        return [(i, a) for i, a in enumerate(args) if i not in self.inert]

    def live(self, args) -> list:
        """The arguments a derivative flows to (those of :meth:`differentiable`)."""
        return [a for _, a in self.differentiable(args)]

    def source(self, args: list[str]) -> str:
        """The forward as source, applied to argument texts (names or literals)."""
        if self.join is not None:
            return self.join.join(args)
        names = dict(zip(self.params, args))
        return re.sub(r"\b(" + "|".join(self.params) + r")\b",
                      lambda match: names[match.group()], self.code)

    @functools.cached_property
    def forward(self) -> Callable:
        """The numpy forward compiled from :attr:`code` (our own text, never user text)."""
        if self.join is not None:
            return lambda *args: functools.reduce(
                operator.add if self.join.strip() == "+" else operator.mul, args)
        params = ", ".join(self.params)
        return eval(f"lambda {params}: {self.code}", dict(NAMESPACE))  # noqa: S307

    def vjp_of(self, m, args, out, bar, i):
        """args[i]'s share of the adjoint: bar times the local partial, or the row's own vjp."""
        if self.vjp is not None:
            return self.vjp(m, args, out, bar, i)
        return m.times(self.partial(m, args, out, i), bar)

    @functools.lru_cache(maxsize=None)
    def reads(self, n: int) -> tuple[frozenset, bool]:
        """Which values the row's vector-Jacobian products read, for n arguments:
        (argument indices, whether the output): found by running them on symbols.
        sin reads its argument, exp its output, add nothing (its vjp passes the
        adjoint on); a vjp that reads no value still takes its shape from its
        arguments (sign′ = 0·x)."""
        args, out, bar = list(sympy.symbols(f"a0:{n}")), sympy.Symbol("out"), sympy.Symbol("bar")
        found, passes = set(), True
        for i, _ in self.differentiable(args):
            share = self.vjp_of(SYMBOLIC, args, out, bar, i)
            passes &= share == bar
            found |= getattr(share, "free_symbols", set())
        indices = frozenset(i for i, a in enumerate(args) if a in found)
        if not found - {bar} and not passes:
            indices = frozenset(range(n))
        return indices, out in found

    def jvp_of(self, m, args, out, dots):
        """The output's tangent from the arguments' tangents (None: no tangent)."""
        if self.jvp is not None:
            return self.jvp(m, args, out, dots)
        terms = [m.times(self.partial(m, args, out, i), dots[i])
                 for i, _ in self.differentiable(args) if dots[i] is not None]
        return functools.reduce(operator.add, terms) if terms else None

    def apply(self, *args):
        """The row applied to SymPy arguments (unevaluated): the step's equation."""
        if self.build is not None:
            return self.build(*args)
        return self.sympy(*args)


SUPPORT = {"_erf": "np.vectorize(math.erf, otypes=[float])",
           "_erfc": "np.vectorize(math.erfc, otypes=[float])"}
"""Helpers a row's code may call besides numpy, as source (generated code defines the
ones it uses): erf and erfc on arrays, since numpy has none and SciPy is not a
dependency (erfc is its own function: 1 - erf(x) cancels to 0 for x past 6)."""


NAMESPACE = {"np": np, "math": math}
NAMESPACE.update({name: eval(text, dict(NAMESPACE)) for name, text in SUPPORT.items()})  # noqa: S307
