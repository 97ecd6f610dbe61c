"""The staged program: notebook 7.1's three steps, for any model.

A model is lowered once into a :class:`Program`: operations in topological
order (a Wengert list), each a row of the rule table applied to earlier
operations and to leaves.  A scalar model's program is read off its SymPy
graph (:meth:`Program.from_expression`); a network's is its layers, the
affine row and the activation on matrices, one column per example
(:func:`derive.models.network.build`).  One interpreter runs both:

* **Step 1, the forward pass** (:meth:`Program.forward`): evaluate every
  operation in order and store every value;
* **Step 2, the backward pass** (:meth:`Program.backward`): walk the list in
  reverse; each operation passes its adjoint ∂ℓ/∂v on to its arguments
  through its row's vector-Jacobian product (the loop only looks rules up and
  accumulates);
* **Step 3, the parameter gradients** (:meth:`Program.gradients`): the
  adjoints that reach the parameters, summed over the batch.

Forward mode (:meth:`Program.tangents`) runs the rows' Jacobian-vector
products instead.  The steps a reader sees (:attr:`Program.steps`) are the
named operations: in a scalar program every primitive application, its
argument, every shared node and the output; arithmetic used once inside
other arithmetic (the ``ω0·x`` in ``f0 = β0 + ω0·x``) is computed as part of
its user's step.  For the toy model the steps are exactly the notebook's f0,
h1, f1, h2, f2, h3, f3, ℓ.  Unnamed steps are named the notebook's way: h_k
for the k-th primitive application, f_k after it (v1, v2, ... where taken).

Cost: building is linear in distinct nodes; forward and backward are one
numpy operation per operation and per argument, vectorised over the batch.

>>> from derive.models.families import model
>>> p = program(model("toy"))
>>> [s.name for s in p.steps]
['f0', 'h1', 'f1', 'h2', 'f2', 'h3', 'f3', 'l']
>>> value = p.forward(model("toy").values)
>>> round(float(value[p.steps[0].node]), 3)
1.23
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass

import numpy as np
import sympy

from derive.core.graph import depends_on, topological_order, users
from derive.core.rules import OPERATORS, PRIMITIVES, rule_for
from derive.core.arithmetic import NUMERIC
from derive.core.faults import faults
from derive.core.sweep import count_total, forward, forward_count, reverse
from derive.base.table import plain


@dataclass(frozen=True)
class Step:
    """A named intermediate: its node (key) and its equation in earlier steps' names."""

    name: str
    node: object
    equation: sympy.Basic


@dataclass(frozen=True)
class Layer:
    """One layer of a network program, by the names its rows and variables carry:
    f_k = β_k + Ω_k h_k (``preactivation``, ``bias``, ``weight``, ``input``), then
    h_{k+1} = a[f_k] (``activation``; None after the last layer)."""

    weight: str
    bias: str
    input: str
    preactivation: str
    activation: str | None


@dataclass(frozen=True, eq=False)
class Variable:
    """A leaf holding a grid of the model's symbols as one array (a network's Ω_k, β_k, x, y).

    ``grid`` is a tuple of rows of symbols; ``batch`` marks inputs and
    targets, loaded with one column per example.
    """

    name: str
    grid: tuple
    batch: bool = False

    def load(self, values: dict) -> np.ndarray:
        if self.batch:
            entries = [np.atleast_1d(np.asarray(values[s])) for row in self.grid for s in row]
            n = max(e.shape[0] for e in entries)
            return np.stack([np.broadcast_to(e, (n,)) for e in entries])
        return np.array([[values[s] for s in row] for row in self.grid])

    def symbols(self):
        """(index, symbol) for every entry."""
        return [((i, j), s) for i, row in enumerate(self.grid) for j, s in enumerate(row)]

    def __str__(self) -> str:
        return self.name


class Program:
    """A Wengert list of rule applications, its passes and its named steps.

    ``ops`` is a list of (key, rule, argument keys) in topological order;
    leaves are the keys that are only arguments (SymPy symbols and numbers, or
    :class:`Variable` grids).  ``names`` names the steps shown to a reader.
    ``layers`` are a network's :class:`Layer` records, by the names of its rows and
    variables (none for other programs).
    """

    def __init__(self, ops, output, wrt, names: dict, layers: tuple = ()):
        self.output, self.wrt, self.layers = output, tuple(wrt), tuple(layers)
        self.nodes = [key for key, _, _ in ops]
        self.rules = [rule for _, rule, _ in ops]
        self.args = [tuple(args) for _, _, args in ops]
        produced = set(self.nodes)
        # the output is a leaf itself where the model is a bare name or number
        self.leaves = list(dict.fromkeys([a for args in self.args for a in args
                                          if a not in produced]
                                         + [output] * (output not in produced)))
        self.active = depends_on(self.nodes, [rule.live(args) for rule, args
                                              in zip(self.rules, self.args)], set(self.wrt))
        self.used_by = users(self.leaves + self.nodes, dict(zip(self.nodes, self.args)))
        self.names = names
        self.steps = self._steps()
        self.owner = self._owners()

    @classmethod
    def from_expression(cls, output: sympy.Basic, wrt, names: dict | None = None) -> "Program":
        """The program of a scalar SymPy expression: one operation per distinct node."""
        order = topological_order(output)
        ops = [(n, rule_for(n), n.args) for n in order if n.args]
        return cls(ops, output, wrt, _step_names(order, output, names or {}))

    # ---- Step 1, Step 2, Step 3 ----------------------------------------------------

    def forward(self, values: dict) -> dict:
        """Step 1: the value of every node (arrays over the batch), all stored."""
        return self.run(self.load(values))

    def load(self, values: dict) -> dict:
        """The leaves' values from the model's {symbol: value} (a grid as one array)."""
        return {leaf: _load(leaf, values) for leaf in self.leaves}

    def locations(self) -> dict:
        """{model symbol: (leaf, index in the leaf's array or None)} for every symbol read."""
        return self._locations

    @functools.cached_property
    def _locations(self) -> dict:
        where = {}
        for leaf in self.leaves:
            if isinstance(leaf, Variable):
                where.update({s: (leaf, index) for index, s in leaf.symbols()})
            elif leaf.is_Symbol:
                where[leaf] = (leaf, None)
        return where

    def shifted(self, leaves: dict, symbol, delta) -> dict:
        """Loaded leaves with one model symbol moved by ``delta`` (a complex one for the
        complex step); only the leaf holding it is copied."""
        if symbol not in self.locations():
            return leaves
        leaf, index = self.locations()[symbol]
        moved = dict(leaves)
        if index is None:
            moved[leaf] = leaves[leaf] + delta
        else:
            moved[leaf] = leaves[leaf].astype(np.result_type(leaves[leaf], delta))
            moved[leaf][index] += delta
        return moved

    def sides(self, value: dict):
        """Which side of its kink each non-analytic row's argument lies on (relu at 0),
        or None where the program has no kink: a finite difference whose steps change
        a side has crossed one."""
        kinked = [(rule.kink, args) for rule, args in zip(self.rules, self.args)
                  if rule.kink is not None]
        return [np.sign(np.real(kink(*[value[a] for a in args]))) for kink, args in kinked
                ] if kinked else None

    def run(self, leaves: dict, keep=None) -> dict:
        """Step 1 from loaded leaves: every operation in order, every value stored, or
        (given ``keep``, the values a backward pass reads) each other value released
        after its last use."""
        last = self._last_use if keep is not None else {}

        def release(index, args):
            for a in args:
                if last.get(a) == index and a not in keep:
                    del value[a]

        value = dict(leaves)
        with np.errstate(all="ignore"):
            return forward(self.rows, value, _evaluate, release if last else None)

    @functools.cached_property
    def _last_use(self) -> dict:
        """{operation: the index of the last operation that reads it} (not the output)."""
        last = {a: i for i, args in enumerate(self.args) for a in args if a in self._op}
        last.pop(self.output, None)
        return last

    @functools.cached_property
    def saved(self) -> set:
        """The values the backward pass reads, by the rows' :meth:`Rule.reads`: sin
        keeps its argument, exp its output, a sum nothing; and the output."""
        kept = {self.output}
        for node, rule, args in zip(self.nodes, self.rules, self.args):
            if node in self.active and any(a in self.active for a in rule.live(args)):
                indices, out = rule.reads(len(args))
                kept.update(args[i] for i in indices)
                if out:
                    kept.add(node)
        return kept

    def backward(self, value: dict, m=NUMERIC, seed=None, release: bool = False) -> dict:
        """Step 2: ∂ℓ/∂v for every node v that depends on a differentiated variable.

        The rules are read in ``m``'s arithmetic (numpy; dual numbers for
        forward-over-reverse); ``seed`` is ∂ℓ/∂ℓ (ones).  With ``release``, each
        operation's value and adjoint are dropped once passed on (from ``value`` too),
        leaving the leaves' adjoints: what :meth:`gradients` needs.
        """
        read = {}  # the node whose inputs were last read, and them (a row's shares share it)

        def share(node, rule, args, i, bar):
            if read.get("node") is not node:
                read.update(node=node, inputs=[value.get(a) for a in args])
            return rule.vjp_of(m, read["inputs"], value.get(node), bar, i)

        with np.errstate(all="ignore"):
            return reverse(self.rows, self.output,
                           self.active,
                           np.ones_like(value[self.output]) if seed is None else seed,
                           share, m.total,
                           (lambda node: value.pop(node, None)) if release else None)

    def tangents(self, value: dict, direction: dict) -> dict:
        """Forward mode: dv/dt of every node along ``direction`` {leaf: tangent}."""
        def tangent(node, rule, args, dot):
            dots = [dot.get(a) for a in args]
            if any(d is not None for d in dots):
                return rule.jvp_of(NUMERIC, [value[a] for a in args], value[node], dots)
            return None

        with np.errstate(all="ignore"):
            return forward(self.rows, {leaf: direction[leaf] for leaf in self.leaves
                                       if leaf in direction}, tangent)

    def gradients(self, values: dict) -> tuple[float, dict]:
        """Step 3: the summed loss and its gradient {model symbol: float}.

        Lean: the forward pass keeps only the values the backward pass reads
        (:attr:`saved`), and the backward pass drops each once it is used.
        """
        value = self.run(self.load(values), keep=self.saved)
        return self.summed(value, self.backward(value, release=True))

    def summed(self, value: dict, adjoint: dict) -> tuple[float, dict]:
        """The loss and the variables' adjoints, summed over the batch, per model symbol."""
        return float(np.sum(value[self.output])), self.per_symbol(value, adjoint)

    def per_symbol(self, value: dict, adjoint: dict, part=None) -> dict:
        """{model symbol: float} from the leaves' adjoints, summed over the batch (a grid
        entry by entry); ``part`` picks what to read of an adjoint (a Dual's tangent)."""
        shape = np.shape(value[self.output])
        grads = {}
        for w in self.wrt:
            bar = adjoint.get(w, 0.0)
            bar = part(bar) if part is not None else bar
            if isinstance(w, Variable):
                total = _unbroadcast(np.asarray(bar, dtype=float), np.shape(value[w]))
                grads.update({s: float(total[index]) for index, s in w.symbols()})
            else:
                grads[w] = float(np.sum(np.broadcast_to(bar, shape)))
        return grads

    def shown(self, value):
        """A value as tables and JSON hold it: one column per example drops its axis."""
        array = np.asarray(value)
        if self.columns and array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        return plain(array)

    # ---- the steps a reader sees ---------------------------------------------------

    def _steps(self) -> list[Step]:
        return [Step(self.names[key], key, self.equation(key))
                for key in self.nodes if key in self.names]

    def display(self, key):
        """A node as a reader sees it: its step's name, a leaf, or a fused formula."""
        if key in self.names:
            return sympy.Symbol(self.names[key])
        if isinstance(key, Variable):
            return sympy.Symbol(key.name)
        if key not in self._op:
            return key
        return self.equation(key)

    def equation(self, key):
        """The operation ``key`` in its arguments' displays (earlier steps' names)."""
        rule, args = self._op[key]
        return rule.apply(*[self.display(a) for a in args])

    @functools.cached_property
    def columns(self) -> bool:
        """Whether values hold one column per example: a leaf is a batch of inputs or
        targets loaded as a grid (a network's x, y)."""
        return any(isinstance(leaf, Variable) and leaf.batch for leaf in self.leaves)

    @property
    def kind(self) -> str:
        """What the values are, read from the leaves, as JSON keys name a lowering's
        results (``matrix_staged``): "matrix" (one column per example) or "scalar".
        No reading branches on it (tests/test_layers.py)."""
        return "matrix" if self.columns else "scalar"

    @functools.cached_property
    def rows(self) -> list:
        """The program's rows: (node, rule, argument nodes), in order."""
        return list(zip(self.nodes, self.rules, self.args))

    @functools.cached_property
    def _op(self) -> dict:
        """{key: (rule, argument keys)}."""
        return {k: (r, a) for k, r, a in zip(self.nodes, self.rules, self.args)}

    def _owners(self) -> dict:
        """The step each node is computed in: its own, or its single user's (fused)."""
        owner = {s.node: s.name for s in self.steps}
        for node in self.nodes:
            fused = []
            while node not in owner and self.used_by[node]:
                fused.append(node)
                node = self.used_by[node][-1]  # its user (the last, were there several)
            for key in fused:
                owner[key] = owner.get(node, "?")
        return owner

    @functools.cached_property
    def clusters(self) -> dict:
        """{step name: the operations computed in that step, in order}."""
        clusters = {s.name: [] for s in self.steps}
        for key in self.nodes:
            clusters[self.owner[key]].append(key)
        return clusters

    @functools.cached_property
    def step_users(self) -> dict:
        """{node: the steps whose operations take it as an argument}."""
        found: dict = {}
        for name, cluster in self.clusters.items():
            inside = set(cluster)
            for key in cluster:
                for arg in self._op[key][1]:
                    if arg not in inside and name not in found.setdefault(arg, []):
                        found[arg].append(name)
        return found

    # ---- numeric faults ------------------------------------------------------------

    def faults(self, value: dict, adjoint: dict | None = None) -> list[dict]:
        """Where values first stop being finite (see :func:`derive.core.faults.faults`)."""
        return faults(self, value, adjoint)

    # ---- counts --------------------------------------------------------------------

    def counts(self) -> dict:
        """Forward steps (operations), backward steps (nodes given an adjoint) and ops.

        >>> from derive.models.families import model
        >>> program(model("toy")).counts()
        {'forward_steps': 14, 'backward_steps': 20, 'backprop_ops': 29}
        """
        return {"forward_steps": len(self.nodes),
                "backward_steps": sum(1 for n in self.active if n is not self.output),
                "backprop_ops": self.backprop_ops()}

    def backprop_ops(self) -> int:
        """Operations of one full gradient by backprop, from the rows' counts.

        Forward: each row's forward count.  Backward, for each argument that
        needs an adjoint: the row's count per argument (local partial and the
        product with the incoming adjoint), plus one addition where adjoints meet.
        """
        counts = reverse(self.rows, self.output,
                         self.active, 0, lambda node, rule, args, i, bar: rule.ops(len(args))[1],
                         count_total)
        return forward_count(self.rows) + sum(counts.values())


def _evaluate(node, rule, args, value):
    """A row's value from its arguments' values: Step 1 on numbers."""
    return rule.forward(*[value[a] for a in args])


def expression_program(model) -> Program:
    """The scalar program of a model's SymPy expression, built once per expression,
    variables, step names and rule table (a toy report asked for it ten times; a row
    replaced in the table, as tests replace one, builds it afresh).

    Cost: a dictionary lookup, and the table's rows read, where built before."""
    rows = (*PRIMITIVES.values(), *OPERATORS.values())
    key = (model.output, tuple(model.wrt), frozenset(model.names.items()), tuple(map(id, rows)))
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key][0]
    built = Program.from_expression(model.output, model.wrt, model.names)
    _PROGRAMS[key] = (built, rows)  # the rows kept alive, so that their ids stay theirs
    if len(_PROGRAMS) > 64:
        _PROGRAMS.popitem(last=False)
    return built


_PROGRAMS: collections.OrderedDict = collections.OrderedDict()
"""The last 64 expression programs built, by expression, variables, names and rows."""


def programs(model) -> list[Program]:
    """Every staged program the model is lowered to; the first is its backprop."""
    return [*model.lowerings, expression_program(model)]


def program(model) -> Program:
    """The staged program that computes a model's backprop (see :func:`programs`)."""
    return model.lowerings[0] if model.lowerings else expression_program(model)


# ---- helpers ---------------------------------------------------------------------------


def _load(leaf, values: dict):
    if isinstance(leaf, Variable):
        return leaf.load(values)
    return np.asarray(values[leaf] if leaf.is_Symbol else float(leaf))


def _unbroadcast(bar: np.ndarray, shape: tuple) -> np.ndarray:
    """An adjoint summed down to a leaf's shape (β_k meets one column per example)."""
    axes = tuple(i for i, (b, s) in enumerate(zip(bar.shape, shape)) if s == 1 and b != 1)
    return bar.sum(axis=axes, keepdims=True) if axes else np.broadcast_to(bar, shape)


def _step_names(order, output, names: dict) -> dict:
    """The named nodes of a scalar graph: every node but arithmetic fused into its user."""
    used_by = users(order, {n: n.args for n in order})
    arithmetic = tuple(OPERATORS)

    def fused(node):
        return (node is not output and node not in names and len(used_by[node]) == 1
                and isinstance(node, arithmetic)
                and isinstance(used_by[node][0], arithmetic))

    boundary = [n for n in order if n.args and not fused(n)]
    named = {node: names[node] for node in boundary if node in names}
    taken = {n.name for n in order if n.is_Symbol} | set(names.values())
    layer, auto = 0, 0
    for node in boundary:
        if node in names:
            continue
        # unnamed steps read like the notebook: h_k for the k-th primitive, f_k before it
        function = not isinstance(node, arithmetic)
        layer += function
        name = f"h{layer}" if function else f"f{layer}"
        while name in taken:
            auto += 1
            name = f"v{auto}"
        taken.add(name)
        named[node] = name
    return named
