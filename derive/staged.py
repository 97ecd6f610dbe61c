"""The staged program: notebook 7.1's three steps, for any model.

The model's expression graph in topological order is a Wengert list.

* **Step 1, the forward pass** (:meth:`Program.forward`): evaluate every node
  in order and store every value.
* **Step 2, the backward pass** (:meth:`Program.backward`): walk the list in
  reverse; each node passes its adjoint ∂ℓ/∂node, times its local partial
  derivatives looked up in the rule table, on to its arguments.
* **Step 3, the parameter gradients** (:meth:`Program.gradients`): the
  adjoints that reach the parameters.

The steps a reader sees (:attr:`Program.steps`) are the graph's named nodes:
every primitive application, its argument, every shared node and the output.
An arithmetic node used once, inside other arithmetic (the ``ω0·x`` in
``f0 = β0 + ω0·x``), is computed as part of its user's step.  For the toy
model the steps are exactly the notebook's f0, h1, f1, h2, f2, h3, f3, ℓ.
Steps the model does not name are named the notebook's way too: h_k for the
k-th primitive application, f_k for arithmetic after it (v1, v2, ... where
such a name is taken).

Cost: building is linear in distinct nodes; forward and backward are one
numpy operation per node and per node argument, vectorised over the batch.

>>> from derive.models import model
>>> p = program(model("toy"))
>>> [s.name for s in p.steps]
['f0', 'h1', 'f1', 'h2', 'f2', 'h3', 'f3', 'l']
>>> value = p.forward(model("toy").values)
>>> round(float(value[p.steps[0].node]), 3)
1.23
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy

from .graph import topological_order, users
from .primitives import ARITHMETIC, rule_for
from .printing import mathml, to_latex
from .table import Table, plain


@dataclass(frozen=True)
class Step:
    """A named intermediate: its node and its equation in earlier steps' names."""

    name: str
    node: sympy.Basic
    equation: sympy.Basic


class Program:
    """The Wengert list of a model's output, and its forward and backward passes."""

    def __init__(self, output: sympy.Basic, wrt, names: dict | None = None):
        self.output = output
        self.wrt = tuple(wrt)
        order = topological_order(output)
        self.leaves = [n for n in order if not n.args]
        self.nodes = [n for n in order if n.args]
        self.rules = [rule_for(n) for n in self.nodes]
        self.active = _depends_on(order, set(self.wrt))
        self.steps = _steps(order, output, names or {})
        self.owner = _owners(order, self.steps)
        self.used_by = users(order)

    def forward(self, values: dict) -> dict:
        """Step 1: the value of every node (arrays over the batch), all stored."""
        value = {}
        for leaf in self.leaves:
            value[leaf] = np.asarray(values[leaf] if leaf.is_Symbol else float(leaf))
        with np.errstate(all="ignore"):
            for node, rule in zip(self.nodes, self.rules):
                value[node] = rule.forward(*[value[a] for a in node.args])
        return value

    def backward(self, value: dict) -> dict:
        """Step 2: ∂ℓ/∂v for every node v that depends on a differentiated variable.

        Per batch entry; the loop only looks rules up and accumulates.
        """
        adjoint = {self.output: np.ones_like(value[self.output])}
        with np.errstate(all="ignore"):
            for node, rule in zip(reversed(self.nodes), reversed(self.rules)):
                if node not in adjoint:
                    continue
                args = [value[a] for a in node.args]
                for i, arg in enumerate(node.args):
                    if arg in self.active:
                        bar = adjoint[node] * rule.partial_numeric(args, value[node], i)
                        adjoint[arg] = adjoint[arg] + bar if arg in adjoint else bar
        return adjoint

    def gradients(self, values: dict) -> tuple[float, dict]:
        """Step 3: the summed loss and its gradient {variable: float}."""
        value = self.forward(values)
        return self.summed(value, self.backward(value))

    def summed(self, value: dict, adjoint: dict) -> tuple[float, dict]:
        """The loss and the variables' adjoints from the two passes, summed over the batch."""
        shape = np.shape(value[self.output])
        grads = {w: float(np.sum(np.broadcast_to(adjoint.get(w, 0.0), shape)))
                 for w in self.wrt}
        return float(np.sum(value[self.output])), grads

    def faults(self, value: dict, adjoint: dict | None = None) -> list[dict]:
        """Where values first stop being finite: one entry per step and pass.

        A forward fault is a node whose value is NaN or infinite at batch
        entries where all its arguments are finite (the origin, not what it
        spreads to); a backward fault is a node whose adjoint is not finite
        where its value and its users' adjoints are.  Each entry: pass, step,
        kind, entries (batch indices, at most 10; [] for a single point),
        count.
        """
        found: dict = {}
        self._forward_faults(value, found)
        if adjoint is not None:
            self._backward_faults(value, adjoint, found)
        return list(found.values())

    def _forward_faults(self, value, found):
        for node in self.nodes:
            bad = ~_finite(value[node])
            for a in node.args:
                bad = bad & _finite(value[a])
            if np.any(bad):
                _add(found, "forward", self.owner[node], _kind(node, value, bad), bad)

    def _backward_faults(self, value, adjoint, found):
        for node in reversed([*self.leaves, *self.nodes]):
            if node not in adjoint or node is self.output:
                continue
            bad = ~_finite(adjoint[node]) & _finite(value[node])
            for user in self.used_by[node]:
                if user in adjoint:
                    bad = bad & _finite(adjoint[user])
            if np.any(bad):
                _add(found, "backward", self.owner.get(node, str(node)),
                     "derivative not finite", bad)

    def counts(self) -> dict:
        """Forward steps (operations), backward steps (nodes given an adjoint) and ops.

        >>> from derive.models import model
        >>> program(model("toy")).counts()
        {'forward_steps': 14, 'backward_steps': 20, 'backprop_ops': 29}
        """
        return {"forward_steps": len(self.nodes),
                "backward_steps": sum(1 for n in self.active if n is not self.output),
                "backprop_ops": self.backprop_ops()}

    def backprop_ops(self) -> int:
        """Primitive operations of one full gradient by backprop.

        Forward: one per node operation (an n-ary Add or Mul is n − 1).
        Backward, for each argument that needs an adjoint: the local partial
        (n − 2 multiplications for a Mul, one evaluation otherwise, none for
        an Add), one multiplication by the incoming adjoint (none for an Add)
        and one addition where adjoints meet.
        """
        forward = sum(len(n.args) - 1 if n.func in (sympy.Add, sympy.Mul) else 1
                      for n in self.nodes)
        backward, reached = 0, {self.output}
        for node in reversed(self.nodes):
            if node not in reached:
                continue
            for arg in node.args:
                if arg not in self.active:
                    continue
                if node.func is sympy.Mul:
                    backward += max(len(node.args) - 2, 0) + 1
                elif node.func is not sympy.Add:
                    backward += 2
                backward += arg in reached
                reached.add(arg)
        return forward + backward


def program(model) -> Program:
    """The staged program of a :class:`derive.models.Model`."""
    return Program(model.output, model.wrt, model.names)


def _finite(x):
    return np.isfinite(np.asarray(x))


def _kind(node, value, bad) -> str:
    """Why a node's value stopped being finite, from its rule and arguments."""
    where = np.unravel_index(np.argmax(bad), np.shape(bad)) if np.ndim(bad) else ()
    args = [np.broadcast_to(value[a], np.shape(bad))[where] if np.ndim(bad) else value[a]
            for a in node.args]
    result = np.broadcast_to(value[node], np.shape(bad))[where] if np.ndim(bad) else value[node]
    name = rule_for(node).name
    if name in ("log", "sqrt") and np.real(args[0]) < 0:
        return f"{name} of a negative number"
    if name == "log" and args[0] == 0:
        return "log of zero"
    if name == "pow" and args[0] == 0 and np.real(args[1]) < 0:
        return "division by zero"
    if name == "pow" and np.real(args[0]) < 0:
        return "power of a negative number"
    if np.isnan(result):
        return "invalid operation (inf - inf or 0 * inf)"
    return f"overflow in {name}"


def _add(found: dict, pass_: str, step: str, kind: str, bad):
    entries = [int(i) for i in np.flatnonzero(bad)[:10]] if np.ndim(bad) else []
    key = (pass_, step)
    if key not in found:
        found[key] = {"pass": pass_, "step": step, "kind": kind, "entries": entries,
                      "count": int(np.count_nonzero(bad))}


def _owners(order, steps) -> dict:
    """The step each node is computed in: its own, or its single user's (fused)."""
    owner = {s.node: s.name for s in steps}
    for node in reversed(order):
        for arg in node.args:
            if arg.args and arg not in owner:
                owner[arg] = owner.get(node, "?")
    return owner


def _depends_on(order, wrt: set) -> set:
    """Nodes whose value depends on any of ``wrt`` (they need adjoints)."""
    active = set()
    for node in order:
        if node in wrt or any(a in active for a in node.args):
            active.add(node)
    return active


def _steps(order, output, names: dict) -> list[Step]:
    """The named nodes, in order, each with its equation in earlier names."""
    used_by = users(order)
    arithmetic = tuple(ARITHMETIC)

    def fused(node):
        return (node is not output and node not in names and len(used_by[node]) == 1
                and isinstance(node, arithmetic)
                and isinstance(used_by[node][0], arithmetic))

    boundary = [n for n in order if n.args and not fused(n)]
    symbol = {node: sympy.Symbol(names[node]) for node in boundary if node in names}
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
        symbol[node] = sympy.Symbol(name)
    return [Step(symbol[n].name, n, n.func(*[_rename(a, symbol) for a in n.args],
                                           evaluate=False))
            for n in boundary]


def _rename(expr, symbol: dict):
    """``expr`` with named nodes replaced by their names, order kept (a fused cluster)."""
    if expr in symbol:
        return symbol[expr]
    if not expr.args:
        return expr
    return expr.func(*[_rename(a, symbol) for a in expr.args], evaluate=False)


@dataclass
class Trace:
    """The notebook's three steps for one model, as tables.

    ``forward``: Step 1, each intermediate's name, equation (LaTeX) and value;
    ``backward``: Step 2, each adjoint ∂ℓ/∂v (name, adjoint) in reverse order;
    ``gradients``: Step 3, {parameter name: ∂ℓ/∂parameter}.  For a batch the
    values are arrays and ``loss`` and ``gradients`` are sums over it.
    """

    model: str
    parameters: dict
    inputs: dict
    target: object
    loss: float
    forward: Table
    backward: Table
    gradients: dict
    faults: list = field(default_factory=list)

    def to_json(self) -> dict:
        """The documented ``derive trace --json`` object ("faults" only when there are)."""
        out = {"model": self.model, "parameters": self.parameters,
               "inputs": self.inputs, "target": self.target, "loss": self.loss,
               "forward": [{"name": r["name"], "equation": r["equation"],
                            "value": r["value"]} for r in self.forward],
               "backward": [{"name": r["name"], "adjoint": r["adjoint"]}
                            for r in self.backward],
               "gradients": self.gradients}
        if self.faults:
            out["faults"] = self.faults
        return out

    def __str__(self) -> str:
        grads = Table(["name", "gradient"], [{"name": k, "gradient": v}
                                             for k, v in self.gradients.items()],
                      headers={"gradient": "dl/dparam"})
        steps = Table(["name", "text", "value"], self.forward.rows,
                      headers={"text": "equation"})
        return "\n\n".join([
            f"model {self.model}    loss {_fmt(self.loss)}",
            "Step 1: forward pass\n" + str(steps),
            "Step 2: backward pass\n" + str(self.backward),
            "Step 3: parameter gradients\n" + str(grads)]
            + [describe_faults(self.faults)] * bool(self.faults))

    def _repr_html_(self) -> str:
        from .notebook import fragment
        return fragment("trace.html.j2", t=self)

    def _repr_latex_(self) -> str:
        lines = [rf"{to_latex(sympy.Symbol(r['name']))} &= {r['equation']} = {r['value']:.3f}"
                 for r in self.forward if not isinstance(r["value"], list)]
        return "$$\\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}$$"


def trace(model) -> Trace:
    """Run the three steps on ``model`` and tabulate every intermediate.

    Cost: the forward and backward passes are linear in the graph; the
    equations print only each step's own small cluster.

    >>> from derive.models import model
    >>> t = trace(model("toy"))
    >>> round(t.forward["h2"]["value"], 3), round(t.backward["f1"]["adjoint"], 3)
    (5.068, -17.06)
    >>> round(t.gradients["omega0"], 3)
    5.246
    """
    if model.network is not None:
        from .network import network_trace
        return network_trace(model)
    p = program(model)
    value = p.forward(model.values)
    adjoint = p.backward(value)
    loss, grads = p.gradients(model.values)
    forward = Table(["name", "equation", "value"], [
        {"name": s.name, "equation": to_latex(s.equation), "text": str(s.equation),
         "mathml": mathml(s.equation), "value": plain(value[s.node])} for s in p.steps])
    backward = Table(["name", "adjoint"], [
        {"name": s.name, "adjoint": plain(adjoint.get(s.node, 0.0))}
        for s in reversed(p.steps) if s.node is not p.output and s.node in p.active],
        headers={"name": "dl/d"})
    return Trace(model.name, {str(s): plain(model.values[s]) for s in model.parameters},
                 {str(s): plain(model.values[s]) for s in model.inputs},
                 model.target_value(),
                 loss, forward, backward, {str(w): g for w, g in grads.items()},
                 p.faults(value, adjoint))


def describe_faults(faults: list[dict]) -> str:
    """Numeric faults as lines of text: which step, which pass, which batch entries."""
    lines = ["numeric faults (values that stopped being finite):"]
    for f in faults:
        where = (f" at batch entries {f['entries']}" + (" ..." if f["count"] > 10 else "")
                 if f["entries"] else "")
        lines.append(f"  {f['pass']} pass, step {f['step']}: {f['kind']}{where}")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:.6g}"
