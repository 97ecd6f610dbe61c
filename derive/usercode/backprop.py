"""Your backprop under test: a user's gradient code compared with derive's, step by step.

:func:`compare` calls the user's function ``fn`` with the model's values as keyword
arguments (only those it names, unless it takes ``**kwargs``) and compares what it
returns with derive's own numbers:

* **gradients** with the symbolic gradient (the DAG sweep, evaluated): under the
  parameter's name (``omega0``), or as the notebooks spell it (``dldomega0``,
  ``dl_domega0``); for a network a whole matrix or vector (``Omega1``, ``beta1``) or
  notebook 7.2's lists ``all_dl_dweights`` and ``all_dl_dbiases``;
* **forward values** with the staged program's steps (``f0``, ``h1``, ..., ``l``;
  notebook 7.1's ``l_i``; notebook 7.2's lists ``all_f`` and ``all_h``);
* **adjoints** with the staged backward pass (``dldf3``, ``dl_df3``; notebook 7.2's
  ``all_dl_df`` and ``all_dl_dh``).

The first wrong step is found in the program's order (the forward pass first, then
the backward pass from the loss back), and what it implies is said: a value that is
wrong although everything it is computed from is right points at one rule.

Tolerance: |yours − derive's| ≤ rtol·|derive's| + atol·s, s the largest |value| of
that quantity (a step, a parameter group), with rtol = atol = 1e-10 unless given: the
symbolic gradient is exact, so only rounding separates a right answer from it.

>>> import numpy as np
>>> from derive.models.families import model
>>> def mine(beta0, beta1, omega0, omega1, x):   # f1 from cos(f0) where h1 = sin(f0) is due
...     f0 = beta0 + omega0 * x
...     return {"f0": f0, "h1": np.sin(f0), "f1": beta1 + omega1 * np.cos(f0)}
>>> v = compare(model("toy"), mine)
>>> v.ok, v.first_wrong.given_as
(False, 'f1')
>>> v.suspect
'f1 is wrong although h1 is right: the rule for f₁ = β₁ + ω₁·h₁ is the suspect'
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from derive.base import agreement
from derive.readings import codegen
from derive.base.errors import DeriveError, require_model
from derive.models.names import text_name
from derive.present.notation import to_text
from derive.present.steps import chain_rule
from derive.core.program import Variable, program
from derive.readings.symbolic import dag_gradient
from derive.base.table import brief

RTOL = ATOL = 1e-10
"""Default tolerance: rounding only (derive's gradient is exact)."""

_ADJOINT = re.compile(r"dl_?/?d(.+)")
_NETWORK_LISTS = {"all_f": ("value", "preactivation"), "all_h": ("value", "activation"),
                  "all_dl_df": ("adjoint", "preactivation"),
                  "all_dl_dh": ("adjoint", "activation"),
                  "all_dl_dweights": ("gradient", "weight"),
                  "all_dl_dbiases": ("gradient", "bias")}
"""Notebook 7.2's lists, one entry per layer k, and what each entry is of the program's
layer (all_h[k] is h_k, the activation of layer k − 1; all_h[0], the input, is not
compared)."""


def _listed(layers, part: str) -> list:
    """The names a notebook list holds, by index: all_h is shifted by one layer."""
    names = [getattr(layer, part) for layer in layers]
    return [None, *names[:-1]] if part == "activation" else names


@dataclass
class Quantity:
    """One compared quantity: its kind ("value", "adjoint" or "gradient"), name, the
    name the user gave it, derive's value, the user's, and whether they agree; where the
    user's could not be compared (``lenient``), why (``problem``: "shape (1, 1) holds 1
    value, expected 6") and ``found`` is NaN."""

    kind: str
    name: str
    given_as: str
    expected: np.ndarray
    found: np.ndarray
    ok: bool
    order: int = 0
    problem: str = ""

    @property
    def error(self) -> float:
        """The largest relative error over the quantity's entries."""
        scale = max(float(np.max(np.abs(self.expected))), 1e-300)
        with np.errstate(all="ignore"):
            return float(np.max(np.abs(self.found - self.expected))) / scale


@dataclass
class Verdict:
    """Every quantity compared, the first wrong step and what it implies."""

    model: str
    quantities: list = field(default_factory=list)
    first_wrong: Quantity | None = None
    suspect: str = ""
    equation: str = ""

    @property
    def ok(self) -> bool:
        return all(q.ok for q in self.quantities)

    def message(self) -> str:
        """The AssertionError's text: every wrong parameter, then the first wrong step."""
        wrong = [q for q in self.quantities if not q.ok and q.kind == "gradient"]
        lines = [f"your backprop disagrees with derive's for {self.model}: "
                 f"{sum(not q.ok for q in self.quantities)} of {len(self.quantities)} "
                 "quantities wrong"]
        for q in wrong:
            lines.append(f"  {q.given_as}: yours {_shown(q.found)}, right {_shown(q.expected)}, "
                         f"rel. error {q.error:.2e}")
        if self.first_wrong is not None:
            q = self.first_wrong
            lines += [f"first wrong step: {q.given_as} ({_PASS[q.kind]}): "
                      f"{self.equation}",
                      f"  expected {_shown(q.expected)}, yours {_shown(q.found)}"]
            if self.suspect:
                lines.append(f"  {self.suspect}")
        return "\n".join(lines)


_PASS = {"value": "forward pass", "adjoint": "backward pass", "gradient": "gradient"}


def arguments(model) -> dict:
    """The keyword arguments a user's function may take: every symbol by name and, for a
    network, notebook 7.2's ``all_weights``, ``all_biases``, ``net_input`` and ``y``."""
    p = program(model)
    values = {str(s): v for s, v in model.values.items() if re.fullmatch(r"\w+", str(s))}
    if p.layers:
        leaves = p.load(model.values)
        grids = {leaf.name: leaves[leaf] for leaf in p.leaves if isinstance(leaf, Variable)}
        net_input = grids[p.layers[0].input]
        values.update(all_weights=[grids[layer.weight] for layer in p.layers],
                      all_biases=[grids[layer.bias] for layer in p.layers],
                      net_input=net_input, x=net_input, y=grids.get("y"))
    return values


def call(fn, model) -> Mapping:
    """fn called with the model's values (only the names it takes); its result checked
    to be a mapping of names to values."""
    if not callable(fn):
        raise DeriveError(f"fn must be a function, got {type(fn).__name__}")
    given = arguments(model)
    parameters = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        missing = [n for n, p in parameters.items() if n not in given
                   and p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                           p.KEYWORD_ONLY)]
        if missing:
            raise DeriveError(f"fn takes {', '.join(missing)}, which {model.name} does not "
                              f"have; it has {', '.join(given)}")
        given = {n: v for n, v in given.items() if n in parameters}
    result = fn(**given)
    if not isinstance(result, Mapping):
        raise AssertionError(f"fn must return a mapping of names to values (a dict such as "
                             f"{{'omega0': 5.2}}), got {type(result).__name__}")
    return result


def compare(model, fn, rtol: float = RTOL, atol: float = ATOL,
            lenient: bool = False) -> Verdict:
    """Call ``fn`` and compare everything it returns with derive's numbers (see the
    module docstring).  A value of the wrong shape or type is an AssertionError saying
    so, or, ``lenient`` (grading), a wrong quantity.  Cost: one forward and backward
    pass, one DAG sweep and its evaluation."""
    require_model(model)
    expected = _expected(model)
    verdict = Verdict(model.name)
    for name, value in call(fn, model).items():
        for kind, key, given_as, found in _entries(name, value, expected, model):
            want = expected[kind][key]
            problem = ""
            try:
                found = _as_array(found, given_as, want.shape)
            except AssertionError as error:
                if not lenient:
                    raise
                found, problem = np.full(want.shape, np.nan), str(error).removeprefix(
                    f"{given_as}: ")
            ok = not problem and _close(found, want, rtol, atol)
            verdict.quantities.append(Quantity(kind, key, given_as, want, found, ok,
                                               _order(expected, kind, key), problem))
    if not verdict.quantities:
        raise AssertionError("fn returned nothing derive can compare: return the gradient "
                             f"by name ({', '.join(list(expected['gradient'])[:4])}, ...)")
    _first_wrong(verdict, expected)
    return verdict


# ---- derive's side -------------------------------------------------------------------


def _expected(model) -> dict:
    """derive's numbers: step values and adjoints from the staged program, gradients from
    the symbolic sweep (grouped by grid for a network), and the order steps are read in."""
    p = program(model)
    value = p.forward(model.values)
    adjoint = p.backward(value)
    steps = {s.name: s for s in p.steps}
    out = {"program": p, "steps": steps,
           "value": {s.name: np.asarray(p.shown(value[s.node]), float) for s in p.steps},
           "adjoint": {s.name: np.asarray(p.shown(adjoint.get(s.node, 0.0)), float)
                       for s in p.steps if s.node is not p.output},
           "order": {}}
    for i, s in enumerate(p.steps):
        out["order"][("value", s.name)] = i
        out["order"][("adjoint", s.name)] = 2 * len(p.steps) - i
    by_symbol = expected_gradient(model)
    out["gradient"] = {name: np.asarray(v) for name, v in by_symbol.items()}
    for leaf in p.leaves:
        if isinstance(leaf, Variable) and not leaf.batch:
            grid = [[by_symbol.get(str(s), 0.0) for s in row] for row in leaf.grid]
            out["gradient"][leaf.name] = np.asarray(grid)
    out["loss_name"] = p.steps[-1].name
    return out


def expected_gradient(model) -> dict:
    """{symbol name: derive's gradient}, by the symbolic sweep (DAG), evaluated and summed
    over the batch."""
    shape = (model.batch_size,) if model.batch_size else ()
    numbers, _ = codegen.numeric(dag_gradient(model.output, model.wrt), list(model.values),
                                 model.values, shape)
    return dict(zip(map(str, model.wrt), numbers))


# ---- the user's side -----------------------------------------------------------------


def _entries(name, value, expected, model):
    """(kind, key, the user's name, value) for one returned item; a clear error for a name
    derive does not know."""
    layers = expected["program"].layers
    if name in _NETWORK_LISTS and layers:
        kind, part = _NETWORK_LISTS[name]
        if not isinstance(value, (list, tuple)):
            raise AssertionError(f"{name} must be a list (one entry per layer), got "
                                 f"{type(value).__name__}")
        for k, (item, key) in enumerate(zip(value, _listed(layers, part))):
            if item is not None and key in expected[kind]:
                yield kind, key, f"{name}[{k}]", item
        return
    if name == "l_i":  # notebook 7.1's name for the loss
        yield "value", expected["loss_name"], name, value
        return
    if name in expected["gradient"]:
        yield "gradient", name, name, value
        return
    adjoint = _ADJOINT.fullmatch(name)
    if adjoint and adjoint.group(1) in expected["gradient"]:
        yield "gradient", adjoint.group(1), name, value
        return
    if adjoint and adjoint.group(1) in expected["adjoint"]:
        yield "adjoint", adjoint.group(1), name, value
        return
    if name in expected["value"]:
        yield "value", name, name, value
        return
    known = list(expected["gradient"])[:6] + list(expected["value"])[:4]
    raise AssertionError(f"fn returned {name!r}, which {model.name} has no quantity for; "
                         f"names derive compares: {', '.join(known)}, ... (parameters, "
                         "steps, dld<step>, dld<parameter>)")


def _as_array(found, name: str, shape) -> np.ndarray:
    try:
        array = np.asarray(found, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{name}: expected a number or an array of numbers, got "
                             f"{type(found).__name__}") from None
    if array.size != int(np.prod(shape)):
        held = f"{array.size} value{'s' * (array.size != 1)}"
        raise AssertionError(f"{name}: shape {array.shape} holds {held}, expected "
                             f"{int(np.prod(shape)) if shape else 'a scalar'}")
    return array.reshape(shape)


def _close(found, expected, rtol, atol) -> bool:
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return agreement.agree(found, expected, rtol, atol, scale)


# ---- the first wrong step ------------------------------------------------------------


def _order(expected: dict, kind: str, key: str) -> float:
    """Where a quantity is read: its step's place (forward in order, then backward from
    the loss); a network's β_k and Ω_k gradient just after ∂ℓ/∂f_k, which it equals or
    is made from (∂ℓ/∂β_k = ∂ℓ/∂f_k)."""
    if (kind, key) in expected["order"]:
        return expected["order"][(kind, key)]
    layer, part = _parameter_of(expected["program"].layers, key)
    if kind == "gradient" and layer and ("adjoint", layer.preactivation) in expected["order"]:
        return expected["order"][("adjoint", layer.preactivation)] + (
            0.25 if part == "bias" else 0.5)
    return 10**9


def _parameter_of(layers, name: str) -> tuple:
    """(the layer, "weight" or "bias") where ``name`` is a layer's Ω_k or β_k, else
    (None, None)."""
    for layer in layers:
        for part in ("weight", "bias"):
            if getattr(layer, part) == name:
                return layer, part
    return None, None


def _as_step(q: Quantity, layers) -> tuple:
    """The adjoint a quantity stands for: its own, or ∂ℓ/∂f_k for a network's β_k."""
    layer, part = _parameter_of(layers, q.name) if q.kind == "gradient" else (None, None)
    return ("adjoint", layer.preactivation) if part == "bias" else (q.kind, q.name)


def _first_wrong(verdict: Verdict, expected: dict):
    known = {}
    for q in verdict.quantities:
        known.setdefault(_as_step(q, expected["program"].layers), q)
    steps = [q for key, q in known.items() if key[0] != "gradient"]
    wrong = sorted((q for q in steps if not q.ok), key=lambda q: q.order)
    if not wrong:
        wrong = sorted((q for q in verdict.quantities if not q.ok), key=lambda q: q.order)
        if wrong:
            verdict.first_wrong = wrong[0]
            verdict.equation = "a parameter's gradient"
        return
    first = verdict.first_wrong = wrong[0]
    kind, name = _as_step(first, expected["program"].layers)
    p, step = expected["program"], expected["steps"][name]
    given = known
    if kind == "value":
        verdict.equation = f"{text_name(name)} = {to_text(step.equation)}"
        reads = [s.name for s in p.steps if name in p.step_users.get(s.node, [])]
        right = [given[("value", r)].given_as for r in reads
                 if ("value", r) in given and given[("value", r)].ok]
        if len(right) == len(reads):
            before = (f"although {', '.join(right)} {'is' if len(right) == 1 else 'are'} "
                      "right" if right else "and it reads only the model's values")
            verdict.suspect = (f"{first.given_as} is wrong {before}: the rule for "
                               f"{verdict.equation} is the suspect")
        return
    verdict.equation = f"∂ℓ/∂{text_name(name)} = {to_text(chain_rule(p, step))}"
    users = p.step_users.get(step.node, [])
    evidence = [_right_after(u, p, expected, given) for u in users]
    if users and all(evidence):
        rules = "; ".join(f"{text_name(u)} = {to_text(expected['steps'][u].equation)}"
                          for u in users)
        shown = ", ".join(e for group in evidence for e in group)
        verdict.suspect = (f"{first.given_as} is wrong although {shown} "
                           f"{'is' if len(evidence) == 1 and ',' not in shown else 'are'} "
                           f"right: the rule for {rules} is the suspect")


def _right_after(user: str, p, expected: dict, given: dict) -> list[str]:
    """What shows the adjoint of step ``user`` right: its own (given and right), or, where
    it was not given, the adjoints of all its own users (one step further: notebook 7.2
    keeps ∂ℓ/∂h_k local, but gives ∂ℓ/∂β_(k) = ∂ℓ/∂f_k); [] where nothing does."""
    q = given.get(("adjoint", user))
    if q is not None:
        return [q.given_as] if q.ok else []
    after = p.step_users.get(expected["steps"][user].node, [])
    found = [given.get(("adjoint", a)) for a in after]
    if after and all(f is not None and f.ok for f in found):
        return [f.given_as for f in found]
    return []


def _shown(value: np.ndarray) -> str:
    """A value in a message: a number to 10 digits, an array's first 6 entries."""
    return brief(value, items=6, digits=10)
