"""Straight-line code: a graph's nodes written as Python lines, the way lambdify writes them.

:class:`_Plan` decides which nodes get a line of their own (named, returned, used more
than once, or past :data:`INLINE_OPERATIONS` operations written inline) and when an
array dies; :func:`_assignments` and :func:`_text` write a node as numpy source, each
row's own code applied to its arguments' texts, with the parentheses Python needs and
no more, printed by a backend's printer (:mod:`derive.readings.backends`).  Sums and
products of many terms take several lines (:data:`WIDEST_LINE`).  Cost: linear in the
distinct nodes.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import sympy

from derive.core.graph import topological_order
from derive.core.rules import rule_for
from derive.readings.backends import Printer, _closing, identifier, identifiers


INLINE_OPERATIONS = 12
"""Operations written inside one line at most: a longer chain of single uses is split."""


class _Plan:
    """Which nodes get a line of their own, their names, and when each array dies.

    A node gets a line where it is named, returned, used more than once, computed
    from numbers alone, or where writing it inside its user would make that line
    longer than :data:`INLINE_OPERATIONS`; sums inside sums and products inside
    products are flattened into one, up to :data:`WIDEST_LINE` terms.
    """

    def __init__(self, outputs, arguments, names: dict, batch):
        order = topological_order(outputs)
        batch = set(arguments) if batch is None else set(batch)
        mangled = identifiers(str(a) for a in arguments)
        self.label = {a: mangled[str(a)] for a in arguments}
        self.arguments, self.outputs = set(arguments), set(outputs)
        self.batched = {}
        uses: dict = {}
        for node in order:
            self.batched[node] = node in batch or any(self.batched[a] for a in node.args)
            for a in node.args:
                uses[a] = uses.get(a, 0) + 1
        self.flat, weight, width, bound, lined = set(), {}, {}, [], set()
        for node in order:
            if node in self.label or not node.args:
                continue
            inner = [a for a in node.args if a.args and a not in self.label
                     and uses.get(a, 0) == 1 and a not in self.outputs and a not in names
                     and not all(b.is_Number for b in a.args)]
            inner = [a for a in inner if a not in lined]
            weight[node] = 1 + sum(weight[a] for a in inner)
            width[node] = sum(width.get(a, 1) if a in self.flat else 1 for a in node.args)
            same = [a for a in inner if type(a) is type(node) and rule_for(node).join]
            if same and width[node] - len(same) + sum(width[a] for a in same) <= WIDEST_LINE:
                self.flat.update(same)
                width[node] += sum(width[a] - 1 for a in same)
            if (node in self.outputs or node in names or uses.get(node, 0) != 1
                    or all(a.is_Number for a in node.args) or weight[node] > INLINE_OPERATIONS):
                bound.append(node)
                lined.add(node)
        self.bound = bound
        self.inline = set(weight) - lined
        self._name(bound, names)
        self._last_use()

    def _name(self, bound, names):
        """Labels for the lined nodes: their names where free, else t1, t2, ... (skipping
        every name an argument or step has)."""
        labels = set(self.label.values())
        used = labels | {identifier(n) for n in names.values()}
        count = 0
        for node in bound:
            if node in names and identifier(names[node]) not in labels:
                self.label[node] = identifier(names[node])
            else:
                count += 1
                while f"t{count}" in used:
                    count += 1
                self.label[node] = f"t{count}"
            used.add(self.label[node])
            labels.add(self.label[node])
        self.taken = labels
        """Every name the function binds: its arguments, steps and temporaries."""

    def reads(self, node) -> list:
        """The lined nodes and arguments a lined node's line reads."""
        found, stack = [], list(node.args)
        while stack:
            a = stack.pop()
            if a in self.inline:
                stack.extend(a.args)
            elif a.args or a in self.arguments:
                found.append(a)
        return found

    def _last_use(self):
        last = {}
        for node in self.bound:
            for a in self.reads(node):
                last[a] = node
        self._dies: dict = {}
        for a, node in last.items():
            if a not in self.arguments and a not in self.outputs and self.batched[a]:
                self._dies.setdefault(node, []).append(self.label[a])

    def dead_after(self, node) -> list[str]:
        """The arrays no line after ``node``'s reads."""
        return sorted(set(self._dies.get(node, [])))


class _Lines:
    """What writing a plan's lines needs and collects: the backend's printer, and the
    rows written as helper functions (by name)."""

    def __init__(self, printer: Printer):
        self.printer = printer
        self.helpers: dict = {}

    def helper_lines(self) -> list[str]:
        """The helper functions' definitions, each between blank lines."""
        return [line for name, rule in self.helpers.items()
                for line in self.printer.definition(name, rule.params, rule.code)]


def _number(node: sympy.Basic, printer: Printer) -> str:
    if node.is_Integer:
        text = str(int(node)) if abs(int(node)) < 2**53 else repr(float(node))
    elif node.is_Rational:
        text = f"{node.p}.0 / {node.q}.0"
    elif node.is_Number or node.is_NumberSymbol:
        value = float(node)
        text = repr(value) if np.isfinite(value) else \
            printer.attribute("np", "nan") if np.isnan(value) else \
            ("" if value > 0 else "-") + printer.attribute("np", "inf")
    else:
        raise ValueError(f"cannot generate code for the atom {node!r}")
    return f"({text})" if text.startswith("-") or "/" in text else text


WIDEST_LINE = 64
"""Arguments of one sum or product per line of generated code (Python's compiler
recurses once per operator)."""


def _assignments(target: str, node, plan, out) -> list[str]:
    """``target = <the node's operation>``; a sum or product of many terms over
    several lines, each adding the next terms to the one before."""
    if rule_for(node).join is None:
        return [f"    {target} = {_text(node, plan, out, top=True)[0]}"]
    terms = _terms(node, plan)
    chunks = [terms[i:i + WIDEST_LINE] for i in range(0, len(terms), WIDEST_LINE)]
    first = _joined(node, chunks[0], plan, out)[0]
    join = rule_for(node).join
    return ([f"    {target} = {first}"]
            + [f"    {target} = {target}{join}({_joined(node, chunk, plan, out)[0]})"
               for chunk in chunks[1:]])


# how tightly a text binds, as Python parses it: a text is put in parentheses where
# its user binds tighter
ATOM, POWER, UNARY, PRODUCT, SUM, LOOSE = 6, 5, 4, 3, 2, 0


def _text(node, plan, out, top=False) -> tuple[str, int]:
    """The node as Python source (its label, or its operation written out) and how
    tightly that text binds."""
    if not top and node in plan.label:
        return plan.label[node], ATOM
    if not node.args:
        return _number(node, out.printer), ATOM
    rule = rule_for(node)
    if rule.join is not None:
        return _joined(node, _terms(node, plan), plan, out)
    args = [_text(a, plan, out) for a in node.args]
    if all(a.is_Number for a in node.args):  # numbers alone follow IEEE rules as float64
        args = [(out.printer.scalar(text), ATOM) for text, _ in args]
    if isinstance(node, sympy.Pow):
        (base, b), (exponent, e) = args
        return f"{_wrap(base, b, ATOM)} ** {_wrap(exponent, e, UNARY)}", POWER
    return _call(rule, args, out)


def _wrap(text: str, binds: int, needed: int) -> str:
    return text if binds >= needed else f"({text})"


def _terms(node, plan) -> list:
    """A sum's terms or a product's factors, flattening the ones written inside it;
    where two or more are the same for every example, those come first (combined
    as scalars), then the batch."""
    found = []
    for a in node.args:
        found += _terms(a, plan) if a in plan.flat else [a]
    if sum(not plan.batched[a] for a in found) < 2:
        return found
    return sorted(found, key=lambda a: plan.batched[a])


def _joined(node, terms, plan, out) -> tuple[str, int]:
    if isinstance(node, sympy.Mul):
        return _product(terms, plan, out)
    text = ""
    for term in terms:
        negative = _negative(term, plan)
        if negative:
            part, binds = (_number(-term, out.printer), ATOM) if term.is_Number else \
                _product(_terms(term, plan), plan, out, negate=True)
        else:
            part, binds = _text(term, plan, out)
        if not text:
            text = ("-" + _wrap(part, binds, PRODUCT)) if negative else _wrap(part, binds, SUM)
        else:
            text += (" - " if negative else " + ") + _wrap(part, binds, PRODUCT)
    return text, SUM


def _negative(term, plan) -> bool:
    """A term written as a subtraction: a negative number, or a product written inline
    whose number is negative."""
    if term.is_Number:
        return bool(term < 0)
    if term in plan.inline and isinstance(term, sympy.Mul):
        factors = _terms(term, plan)
        return factors[0].is_Number and bool(factors[0] < 0)
    return False


def _product(factors, plan, out, negate=False) -> tuple[str, int]:
    """Factors multiplied left to right (in :func:`_terms`' order); ``negate``
    drops the sign of the leading number (the caller subtracts)."""
    factors = list(factors)
    sign = ""
    if factors[0].is_Number and factors[0] < 0:
        number = -factors[0]
        if not negate:
            sign = "-"
        factors[0] = number
    if len(factors) > 1 and factors[0] == 1:
        factors = factors[1:]
    texts = [_text(f, plan, out) for f in factors]
    text = " * ".join(_wrap(t, b, UNARY) for t, b in texts)
    if sign:
        return f"-{text}", (PRODUCT if len(texts) > 1 else UNARY)
    return text, (PRODUCT if len(texts) > 1 else texts[0][1])


def _call(rule, args, out) -> tuple[str, int]:
    """The row's own source applied to argument texts; a row whose code uses an
    argument more than once becomes a helper function defined at the top of the
    file, so each argument is computed once."""
    if any(len(re.findall(rf"\b{p}\b", rule.code)) > 1 for p in rule.params):
        out.helpers[rule.name] = rule
        return f"{rule.name}({', '.join(text for text, _ in args)})", ATOM
    texts = [text if _argument_position(rule.code, p) else _wrap(text, binds, ATOM)
             for p, (text, binds) in zip(rule.params, args)]
    return (out.printer.template(rule.code, dict(zip(rule.params, texts))),
            ATOM if _one_call(rule.code) else LOOSE)


@functools.lru_cache(maxsize=None)
def _argument_position(code: str, param: str) -> bool:
    """Whether ``param`` stands only as a whole argument of a call in ``code``."""
    return all(re.search(r"[(,]\s*$", code[:m.start()]) and re.match(r"\s*[,)]", code[m.end():])
               for m in re.finditer(rf"\b{param}\b", code))


@functools.lru_cache(maxsize=None)
def _one_call(code: str) -> bool:
    """Whether ``code`` is one call, ``np.f(...)``, as a whole."""
    match = re.match(r"[\w.]+\(", code)
    return bool(match) and _closing(code, match.end() - 1) == len(code) - 1
