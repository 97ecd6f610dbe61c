"""The expression as a graph: topological order, users, dependence and exact sizes.

A SymPy expression is a DAG: equal subexpressions are one node however often
they occur.  Everything here visits each *distinct* node once, so it is exact
and linear in the graph even when the tree the expression prints as has
10^15 nodes.  Nothing here walks the tree (unlike ``count_ops``, ``atoms`` or
``preorder_traversal``).

>>> import sympy
>>> x = sympy.Symbol("x")
>>> s = sympy.sin(x)
>>> e = sympy.Mul(s, sympy.Add(s, 1, evaluate=False), evaluate=False)
>>> [str(n) for n in topological_order(e)]
['x', 'sin(x)', '1', 'sin(x) + 1', '(sin(x) + 1)*sin(x)']
>>> sizes(e)
Sizes(tree_nodes=7, dag_nodes=5, ops=4, cse_ops=3, depth=4)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import sympy

from derive.core.rules import own_ops


def topological_order(roots: sympy.Basic | Iterable[sympy.Basic]) -> list[sympy.Basic]:
    """Distinct nodes of one or more expressions, every node after its arguments.

    Iterative depth-first search (no recursion limit); cost linear in distinct
    nodes.  The roots come last, in the order given.
    """
    roots = [roots] if isinstance(roots, sympy.Basic) else list(roots)
    order: list[sympy.Basic] = []
    seen: set[sympy.Basic] = set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(node.args) if a not in seen)
    return order


def users(order: list, args_of: dict | None = None) -> dict:
    """The distinct nodes that use each node as an argument, in topological order.

    ``args_of`` maps a node to its arguments (default: a SymPy node's ``args``).
    """
    used_by: dict = {node: [] for node in order}
    for node in order:
        arguments = node.args if args_of is None else args_of.get(node, ())
        for arg in dict.fromkeys(arguments):  # a repeated argument: one user
            used_by[arg].append(node)
    return used_by


def depends_on(nodes: list, args: list, wrt: set) -> set:
    """The leaves in ``wrt`` and the nodes whose value depends on them (they need adjoints).

    ``nodes`` in topological order, ``args[i]`` the arguments of ``nodes[i]``.
    """
    active = {a for arguments in args for a in arguments if a in wrt}
    for node, arguments in zip(nodes, args):
        if node in wrt or any(a in active for a in arguments):
            active.add(node)
    return active


@dataclass(frozen=True)
class Sizes:
    """Exact sizes of one expression or of a list of them taken together.

    tree_nodes: every occurrence counted, ``len(list(preorder_traversal(e)))``
    summed over the expressions; dag_nodes: distinct subexpressions across
    all of them; ops: :func:`own_ops` summed over the tree; cse_ops: the same
    counted once per distinct node, i.e. after common subexpressions are
    shared; depth: the deepest nesting.

    ``ops`` differs from ``sympy.count_ops`` where SymPy prints a node
    otherwise than it is stored: ``x - y`` is stored as ``x + (-1)*y`` (two
    operations here, one SUB there), ``x/y`` as ``x*y**(-1)`` (two here,
    one DIV there), and a fraction such as 1/2 is one number here, one DIV
    there.  On expressions without negation, fractions or division they agree.
    """

    tree_nodes: int
    dag_nodes: int
    ops: int
    cse_ops: int
    depth: int


def sizes(exprs: sympy.Basic | Iterable[sympy.Basic]) -> Sizes:
    """Measure expressions by memoised recursion over distinct nodes.

    Cost: linear in distinct nodes (Python ints make the tree counts exact at
    any size).  For a list, the tree counts are summed and the DAG counts are
    of the union, so shared subexpressions across the list count once.
    """
    exprs = [exprs] if isinstance(exprs, sympy.Basic) else list(exprs)
    order = topological_order(exprs)
    tree: dict[sympy.Basic, int] = {}
    ops: dict[sympy.Basic, int] = {}
    depth: dict[sympy.Basic, int] = {}
    for node in order:
        tree[node] = 1 + sum(tree[a] for a in node.args)
        ops[node] = own_ops(node) + sum(ops[a] for a in node.args)
        depth[node] = 1 + max((depth[a] for a in node.args), default=0)
    return Sizes(
        tree_nodes=sum(tree[e] for e in exprs),
        dag_nodes=len(order),
        ops=sum(ops[e] for e in exprs),
        cse_ops=sum(own_ops(node) for node in order),
        depth=max((depth[e] for e in exprs), default=0),
    )
