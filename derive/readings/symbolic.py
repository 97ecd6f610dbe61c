"""Symbolic derivatives, two ways: the textbook tree way and the graph way.

:func:`diff_gradient` calls ``sympy.diff`` once per variable.  SymPy walks the
expression as a tree, so both its time and its output grow with the tree:
exponentially in N for the logistic map, although the graph stays small.

:func:`dag_gradient` is reverse-mode differentiation done symbolically: one
sweep over the distinct nodes in reverse topological order, each node's
adjoint built once from its users' adjoints (unevaluated, so SymPy does not
flatten the shared products apart).  All derivatives come out together,
sharing subexpressions, in time linear in the graph.  It is the staged
program's backward pass with symbols in place of numbers (S. Laue, "On the
equivalence of automatic and symbolic differentiation").

>>> import sympy
>>> x, w = sympy.symbols("x w")
>>> e = sympy.sin(w * x) ** 2
>>> [d] = dag_gradient(e, [w])
>>> sympy.simplify(d - sympy.diff(e, w))
0
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, replace

import sympy
from sympy import S

from derive.readings.costs import Prediction, predict
from derive.core.graph import depends_on, sizes, topological_order
from derive.core.rules import rule_for
from derive.core.arithmetic import SYMBOLIC
from derive.core.sweep import reverse


def diff_gradient(output: sympy.Expr, wrt) -> list[sympy.Expr]:
    """Per-variable ``sympy.diff``: the textbook derivatives.

    Cost: a tree walk per variable; on swollen expressions (logistic map
    beyond N = 12 or so) seconds to minutes.  Callers guard it by size.  It runs in
    :func:`deep`, as sympy.diff recurses several Python frames per level.
    """
    return deep(lambda: [sympy.diff(output, w) for w in wrt])


DIFF_DEPTH_CAP = 2000
"""sympy.diff runs (in :func:`deep`) on expressions at most this deep, in operations:
at Python's default recursion limit it failed from 185 levels of gelu and 374 of
sin, exp, cos, in a thread of :func:`deep` it ran 305 levels of gelu (chain:gelu*100);
deeper expressions are also far past any budget there."""

def too_deep(depth: int) -> str | None:
    """Why ``sympy.diff`` is not run on an output ``depth`` operations deep (None where
    it is): past :data:`DIFF_DEPTH_CAP`."""
    return f"output {depth} operations deep exceeds {DIFF_DEPTH_CAP}" \
        if depth > DIFF_DEPTH_CAP else None


DEEP_STACK = 1 << 29
"""The stack of :func:`deep`'s thread, in bytes (reserved, used as touched): about 17 kB
for each of :data:`DEEP_RECURSION` frames, so that Python's RecursionError, not the
stack's end, stops a walk; 2,000 levels of sympy.diff take about 12,000 frames."""
DEEP_RECURSION = 30_000


def deep(work):
    """``work()``, in a thread with a :data:`DEEP_STACK` stack and Python's recursion
    limit raised to :data:`DEEP_RECURSION` while it runs: SymPy's own recursive walks
    (sympy.diff, several frames per level of the expression) of deep expressions.
    Its exception is raised here; Ctrl-C interrupts the wait (the thread is a daemon).
    Where no such thread can start (an address-space limit, ``ulimit -v``), it runs
    here, at the current limits.

    >>> deep(lambda: 6 * 7)
    42
    """
    result = {}

    def run():
        try:
            result["value"] = work()
        except BaseException as error:  # noqa: BLE001 - raised again in the caller
            result["error"] = error

    limit, size = sys.getrecursionlimit(), threading.stack_size()
    thread = threading.Thread(target=run, name="derive-deep", daemon=True)
    sys.setrecursionlimit(max(limit, DEEP_RECURSION))
    try:
        threading.stack_size(DEEP_STACK)
        try:
            thread.start()
        except RuntimeError:  # "can't start new thread": no room for its stack
            sys.setrecursionlimit(limit)
            return work()
        finally:
            threading.stack_size(size)
        thread.join()
    finally:
        sys.setrecursionlimit(limit)
    if "error" in result:
        raise result["error"]
    return result["value"]


def diff_skipped(output: sympy.Expr, wrt, cap: int, measured=None,
                 what: str = "variables") -> str | None:
    """Why ``sympy.diff`` is not run once per entry of ``wrt`` (None where it is):
    the output's tree size times the number of entries, a measure of its tree walks,
    is above ``cap``, or the output is deeper than :data:`DIFF_DEPTH_CAP`.

    Cost: linear in distinct nodes (none if the output's ``measured`` sizes are given).
    """
    measured = sizes(output) if measured is None else measured
    tree = measured.tree_nodes
    deep_reason = too_deep(measured.depth)
    if deep_reason or tree * len(wrt) <= cap:
        return deep_reason
    return f"output tree {tree:,} nodes x {len(wrt):,} {what} exceeds {cap:,}"


@dataclass(frozen=True)
class Derivatives:
    """A model's symbolic derivatives, derived once for every reader.

    ``dag``: one per variable, by the reverse sweep; ``diff``: the same by
    per-variable ``sympy.diff``, or None where ``skipped`` says why; ``output``:
    the sizes of the differentiated expression.
    """

    dag: list
    diff: list | None
    skipped: str | None
    output: object


def derivatives(model, diff_cap: int, budget: float | None = None) -> Derivatives:
    """Both symbolic gradients of a model (``sympy.diff`` only below ``diff_cap`` and
    where it is predicted to take at most ``budget`` seconds).

    Cost: linear in the graph for the sweep; a tree walk per variable for
    ``sympy.diff`` where it runs.
    """
    measured = sizes(model.output)
    skipped = diff_skipped(model.output, model.wrt, diff_cap, measured) or \
        diff_over_budget(model.output, model.wrt, budget)
    return Derivatives(dag_gradient(model.output, model.wrt),
                       None if skipped else diff_gradient(model.output, model.wrt),
                       skipped, measured)


def diff_over_budget(outputs, wrt, budget: float | None) -> str | None:
    """Why ``sympy.diff`` of each of ``outputs`` (one expression or a list) by each of
    ``wrt`` is not run under ``budget`` seconds (None where it is)."""
    return None if budget is None else diff_seconds(outputs, wrt).over(budget)


DIFF_DEEP_FROM = 100
"""Beyond this many levels sympy.diff's time per node it builds grows with the depth
(its heuristics on each new node walk the arguments): its prediction is multiplied by
(depth / this)².  Measured (predicted -> taken, this machine): a chain of 251 sines
1.9 -> 28 s without the factor, 12 s with it; chain:sin,exp,cos*20 (185 levels, 122
parameters) 93 -> 126 s without, 318 s with; chain:tanh*40 (125 levels) 29 -> 38 s
without, 45 s with."""


def diff_seconds(outputs, wrt, runs: int = 1) -> Prediction:
    """The predicted seconds of ``runs`` runs of ``sympy.diff`` of each of ``outputs``
    (one expression or a list) by each of ``wrt``: its time follows the trees it builds
    (:func:`diff_tree_nodes`), and past :data:`DIFF_DEEP_FROM` levels the depth too.

    Cost: linear in the graph.
    """
    outputs = [outputs] if isinstance(outputs, sympy.Basic) else outputs
    built = sum(diff_tree_nodes(e, wrt) for e in outputs)
    prediction = predict("sympy_diff", built, runs=runs, name="sympy.diff")
    depth = sizes(outputs).depth  # one pass over the outputs' shared graph
    if depth <= DIFF_DEEP_FROM:
        return prediction
    factor = (depth / DIFF_DEEP_FROM) ** 2
    return replace(prediction, seconds=prediction.seconds * factor,
                   basis=f"{prediction.basis}, × {factor:.2g} for {depth} levels")


def dag_gradient(output: sympy.Expr, wrt) -> list[sympy.Expr]:
    """All derivatives of ``output`` by one reverse sweep over its graph.

    Cost: linear in distinct nodes; the result shares subexpressions with
    ``output`` and with each other, so measure it with
    :func:`derive.core.graph.sizes`, never by printing it.
    """
    adjoint = adjoints(output, wrt)
    return [adjoint.get(w, S.Zero) for w in wrt]


def adjoints(output: sympy.Expr, wrt) -> dict:
    """The symbolic adjoint ∂output/∂v of every node v that depends on ``wrt``."""
    order = topological_order(output)
    active = depends_on(order, [rule_for(n).live(n.args) if n.args else [] for n in order],
                        set(wrt))
    adjoint = reverse([(n, rule_for(n), n.args) for n in order if n.args], output, active,
                      S.One, _share, SYMBOLIC.total)
    return {n: adjoint[n] for n in reversed(order) if n in adjoint}  # the sweep's order


def _share(node, rule, args, i, bar):
    """A row's share of ∂output/∂args[i] on symbols: each node's value is itself."""
    return rule.vjp_of(SYMBOLIC, args, node, bar, i)


def diff_tree_nodes(output: sympy.Expr, wrt) -> int:
    """About how many tree nodes ``sympy.diff`` builds for all of ``wrt``: the sum over
    the variables of each derivative's tree, by the textbook rules applied to sizes
    (a sum's derivative is its terms'; any other node's is, per argument that depends on
    the variable, the node's other arguments copied beside that argument's derivative).
    ``sympy.diff``'s time follows it (:mod:`derive.readings.costs`).

    Cost: one pass over the distinct nodes, carrying which variables reach each as a
    bit mask (linear in the graph times the variables / 64).

    An estimate within a factor of about 3 of the truth (a rule's own form is not
    counted exactly):

    >>> x, w = sympy.symbols("x w")
    >>> e = sympy.sin(w * x)
    >>> diff_tree_nodes(e, [w]), sizes(sympy.diff(e, w)).tree_nodes
    (10, 6)
    """
    bit = {w: 1 << i for i, w in enumerate(wrt)}
    tree, reach, built = {}, {}, {}
    for node in topological_order(output):
        args = node.args
        tree[node] = 1 + sum(tree[a] for a in args)
        reach[node] = bit.get(node, 0)
        for a in args:
            reach[node] |= reach[a]
        if not args:
            built[node] = 1 if node in bit else 0
        elif isinstance(node, sympy.Add):
            built[node] = sum(built[a] for a in args) + reach[node].bit_count()
        else:
            whole = sum(tree[a] for a in args) + 2
            built[node] = sum(reach[a].bit_count() * whole + built[a] for a in args)
    return built[output]
