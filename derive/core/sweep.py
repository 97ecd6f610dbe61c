"""The two loops over a program's rows: Step 1 forward and Step 2 in reverse, each
written once and read in every arithmetic.

Step 1 (:func:`forward`) computes each row from its arguments' entries: values
(:meth:`derive.core.program.Program.run`), tangents (forward mode,
:meth:`derive.core.program.Program.tangents`), the variables that reach a node (the
operation count of forward mode) or a row's own operation count.

Backprop on numbers (:meth:`derive.core.program.Program.backward`), forward-over-reverse on
dual numbers, the symbolic gradient on SymPy expressions
(:func:`derive.readings.symbolic.adjoints`) and the operation count of a whole gradient
(:meth:`derive.core.program.Program.backprop_ops`) are this one loop over the program's rows
in reverse, read in a different arithmetic: what a share of an adjoint is (``share``)
and how a node's shares are summed (``total``).

>>> import sympy
>>> from derive.core.rules import SYMBOLIC, rule_for
>>> x, w = sympy.symbols("x w")
>>> f = sympy.sin(w * x)
>>> ops = [(n, rule_for(n), n.args) for n in (w * x, f)]
>>> adjoint = reverse(ops, f, {w * x, f, w}, sympy.S.One,
...                   lambda node, rule, args, i, bar: rule.vjp_of(SYMBOLIC, args, node, bar, i),
...                   symbolic_total)
>>> adjoint[w]
x*cos(w*x)
"""

from __future__ import annotations

import functools
import operator
from typing import Callable

import sympy


def forward(ops, entry: dict, step: Callable, after: Callable | None = None) -> dict:
    """``entry`` filled in for every row, in order: ``step(node, rule, args, entry)``
    gives the node's entry, or None for none (a tangent no variable reaches).
    ``after(index, args)``, where given, is called once each row is done: where a lean
    forward pass releases the arguments it last read.

    >>> import sympy
    >>> from derive.core.rules import rule_for
    >>> x = sympy.Symbol("x")
    >>> f = sympy.exp(sympy.sin(x))
    >>> ops = [(n, rule_for(n), n.args) for n in (f.args[0], f)]
    >>> value = forward(ops, {x: 0.0}, lambda node, rule, args, v: rule.forward(*[v[a] for a in args]))
    >>> float(value[f])  # exp(sin 0)
    1.0
    >>> forward_count(ops)
    2

    Cost: one ``step`` per row.
    """
    for index, (node, rule, args) in enumerate(ops):
        result = step(node, rule, args, entry)
        if result is not None:
            entry[node] = result
        if after is not None:
            after(index, args)
    return entry


def forward_count(ops) -> int:
    """The primal operations of one forward pass: Step 1 on the counting arithmetic."""
    return sum(forward(ops, {}, lambda node, rule, args, _: rule.ops(len(args))[0]).values())


def reverse(ops, output, active, seed, share: Callable, total: Callable,
            release: Callable | None = None) -> dict:
    """{node: its adjoint} for every node that depends on an ``active`` variable.

    ``ops`` are (node, rule, argument nodes) in topological order; ``seed`` is the
    output's own adjoint.  Each node, in reverse, passes ``share(node, rule, args, i,
    bar)`` to each active argument i, and its adjoint is ``total`` of the shares its
    users passed it, summed once, in the order they came.  ``release(node)``, where
    given, is called once a node has passed its shares on (its adjoint is then dropped
    too): what a lean backward pass frees.

    Cost: one share per (row, active argument) and one sum per node.
    """
    terms: dict = {output: [seed]}
    adjoint: dict = {}
    for node, rule, args in reversed(ops):
        if node not in terms:
            continue
        adjoint[node] = total(terms.pop(node))
        for i, arg in rule.differentiable(args):
            if arg in active:
                terms.setdefault(arg, []).append(share(node, rule, args, i, adjoint[node]))
        if release is not None and node is not output:
            release(node)
            del adjoint[node]
    for leaf, shares in terms.items():  # the leaves: read by no row
        adjoint[leaf] = total(shares)
    return adjoint


def numeric_total(shares: list):
    """Shares added left to right: ((a + b) + c), as an accumulating loop adds them."""
    return functools.reduce(operator.add, shares)


def symbolic_total(shares: list):
    """One unevaluated sum of the shares (a single share as itself)."""
    return shares[0] if len(shares) == 1 else sympy.Add(*shares, evaluate=False)


def count_total(shares: list) -> int:
    """Operations: each share's own, and one addition where two shares meet."""
    return sum(shares) + len(shares) - 1
