"""MathML in the book's notation, for Jupyter, the HTML report and the explorer.

SymPy's presentation MathML printer (:class:`BookMathMLPrinter`) with network entries as
Ω₁[2,3], adjoints as ∂ℓ/∂v and the notebook's visible dot between factors; whole
(:func:`mathml`) or flowing over lines at a page's width (:func:`mathml_flow`).  LaTeX and
plain text are :mod:`derive.present.notation`.
"""

from __future__ import annotations

import html
import re

import sympy
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pretty.pretty_symbology import greek_unicode

from derive.models import names
from derive.present.notation import (TIMES, _TYPED, applied_name, applied_template,
                                     book_factors, book_product, fraction,
                                     leads_with_minus, negated)


TIMES_SPACE = "0.05em"
"""Its space on either side in MathML: tight, as the book sets a product."""


MATHML = {"order": "none", "mul_symbol": "dot"}
"""The MathML printer's settings: SymPy's own products (with a coefficient or a
fraction) get the same visible dot as ours."""


class BookMathMLPrinter(MathMLPresentationPrinter):
    """SymPy's presentation MathML with network entries as Ω₁[2,3], ∂ℓ/∂v and Ωᵀ."""

    def _element(self, tag, *children, text=None):
        node = self.dom.createElement(tag)
        if text is not None:
            node.appendChild(self.dom.createTextNode(text))
        for child in children:
            node.appendChild(child)
        return node

    def _print_Adjoint(self, sym):
        return self._element("mfrac",
                             self._element("mrow", self._element("mi", text="\u2202"),
                                           self._element("mi", text="\u2113")),
                             self._element("mrow", self._element("mi", text="\u2202"),
                                           self._print(sympy.Symbol(sym.name))))

    def _print_Mul(self, expr):
        """Factors in the book's order (:func:`book_factors`), where no fraction asks for
        SymPy's own layout; a visible dot between factors (ω₁·h₁), as the terminal, the
        graph and the PDF write them; a product inside in brackets; −X as − X."""
        if self._settings["order"] != "none" or fraction(expr):
            return super()._print_Mul(book_product(expr))
        inner = negated(expr)
        if inner is not None:  # −X as − X, as the text and LaTeX
            return self._element("mrow", self._element("mo", text="−"),
                                 self._bracketed(inner) if inner.is_Add else self._print(inner))
        row = self._element("mrow")
        for i, factor in enumerate(book_product(expr).args):
            if i:
                dot = self._element("mo", text=TIMES)
                dot.setAttribute("lspace", TIMES_SPACE)
                dot.setAttribute("rspace", TIMES_SPACE)
                row.appendChild(dot)
            negative = i and leads_with_minus(factor)  # ω₂·(−sin[…]), not ω₂·−sin[…]
            row.appendChild(self._print(factor) if i == 0 and factor.is_Number else
                            self._bracketed(factor) if negative else
                            self.parenthesize(factor, PRECEDENCE["Mul"]))
        return row

    def _bracketed(self, expr):
        return self._element("mrow", self._element("mo", text="("), self._print(expr),
                             self._element("mo", text=")"))

    def _typed(self, name: str):
        """A name as typed (as :func:`typed_name`): a Greek letter's name as the letter,
        trailing digits as a subscript, anything else verbatim (no x__2 superscript,
        xAbs as |x| or xprime as x′, which SymPy's printer would make)."""
        match = _TYPED.fullmatch(name)
        if not match:
            return self._element("mi", text=name)
        base, digits = match.groups()
        letter = self._element("mi", text=greek_unicode.get(base, base))
        if len(base) > 1 and base not in greek_unicode:
            letter.setAttribute("mathvariant", "normal")
        if not digits:
            return letter
        return self._element("msub", letter, self._element("mn", text=digits))

    def _print_Relational(self, expr):
        """a < b with the operator as a character reference: SymPy's printer writes its
        text unescaped, and a bare < would break the page."""
        operator = {"<": "&lt;", "<=": "&le;", ">": "&gt;", ">=": "&ge;", "==": "=",
                    "!=": "&ne;"}[expr.rel_op]
        return self._element("mrow", self._print(expr.lhs), self._element("mo", text=operator),
                             self._print(expr.rhs))

    def _print_Function(self, expr):
        """A table row as the book applies it: its name, then [arguments] (cos[f2]);
        rows printed otherwise (√x, |x|, x²) as SymPy prints them."""
        name = applied_name(expr)
        template = applied_template(expr) if name is None else None
        if template:
            return self._templated(template, self._print(expr.args[0]))
        if name is None:
            return super()._print_Function(expr)
        call = self._element("mrow", self._element("mi", text=name), self._element("mo", text="["))
        for i, a in enumerate(expr.args):
            if i:
                call.appendChild(self._element("mo", text=","))
            call.appendChild(self._print(a))
        call.appendChild(self._element("mo", text="]"))
        return call

    _print_exp = _print_Function
    _print_log = _print_Function

    def _print_transpose(self, expr):
        return self._element("msup", self._print(expr.args[0]), self._element("mi", text="T"))

    def _templated(self, template: str, argument):
        """A row's text template (𝕀[{} > 0]) as MathML: numbers mn, brackets and
        operators mo (escaped), letters mi, the argument in place of {}."""
        before, after = template.split("{}")
        row = self._element("mrow")
        for part in (before, None, after):
            if part is None:
                row.appendChild(argument)
                continue
            for token in re.findall(r"[0-9.]+|[\[\]()<>=+−-]|[^\s\[\]()<>=+−0-9-]+", part):
                tag = "mn" if token[0].isdigit() else "mo" if token in "[]()<>=+−-" else "mi"
                text = {"<": "&lt;", ">": "&gt;"}.get(token, token)
                row.appendChild(self._element(tag, text=text))
        return row

    def _print_Symbol(self, sym, style="plain"):
        if sym.name == "l":
            return self._element("mi", text="\u2113")
        entry = names.entry(sym.name)
        if entry is None:
            return self._typed(sym.name)
        greek, layer, index = entry
        letter = "\u03a9" if greek == "Omega" else "\u03b2"
        x = self.dom.createElement("mrow")
        sub = self.dom.createElement("msub")
        for tag, text in (("mi", letter), ("mn", layer)):
            node = self.dom.createElement(tag)
            node.appendChild(self.dom.createTextNode(text))
            sub.appendChild(node)
        x.appendChild(sub)
        bracket = self.dom.createElement("mo")
        bracket.appendChild(self.dom.createTextNode(f"[{index}]"))
        x.appendChild(bracket)
        return x


def mathml(expr: sympy.Basic) -> str:
    """Presentation MathML inside <math>, named entities made numeric (a tree walk).

    MathML Core renders natively in Chromium, Firefox and Safari; numeric
    character references need no DTD.
    """
    return f'<math display="inline">{_inner(BookMathMLPrinter(MATHML), expr)}</math>'


FLOW_NODES = 12
"""Tree nodes up to which a piece of a flowing formula is printed whole."""


def mathml_flow(expr: sympy.Basic, limit: int = FLOW_NODES, lhs: sympy.Basic | None = None) -> str:
    """A long formula as pieces that wrap to the width available, as the PDF breaks it.

    Each piece is its own ``<math>``; a sum breaks before its + and −, a product
    before its ·, a function between its brackets (a power's exponent goes on the
    closing bracket), recursively until every piece has
    at most ``limit`` tree nodes; a line-break opportunity (``<wbr>``) joins them.
    ``lhs``, where given, starts the first piece: ``lhs = …``.
    MathML Core has no automatic line breaking, so the pieces are what lets a
    browser wrap.  Cost: one tree walk, like :func:`mathml`.

    >>> x, y = sympy.symbols("x y")
    >>> mathml_flow(sympy.sin(x) + y, limit=2).count("<math")
    2
    """
    printer = BookMathMLPrinter(MATHML)
    pieces: list[list] = []
    for text, size in _flow(expr, printer, limit):  # neighbours joined up to the limit
        if pieces and pieces[-1][1] + size <= limit:
            pieces[-1] = [pieces[-1][0] + text, pieces[-1][1] + size]
        else:
            pieces.append([text, size])
    if lhs is not None:
        pieces[0][0] = _inner(printer, lhs) + _mo("=") + pieces[0][0]
    return "<wbr>".join(f'<math display="inline"><mrow>{p}</mrow></math>' for p, _ in pieces)


def _mo(text: str) -> str:
    return f"<mo>{text}</mo>"


TIGHT_TIMES = f'<mo lspace="{TIMES_SPACE}" rspace="{TIMES_SPACE}">&#{ord(TIMES)};</mo>'
"""The product's dot between pieces, as :class:`BookMathMLPrinter` writes it."""


def _flow(expr, printer, limit) -> list[tuple[str, int]]:
    """``expr`` as pieces (inner MathML, tree nodes), see :func:`mathml_flow`."""
    size = _tree(expr)
    if size <= limit:
        return [(_inner(printer, expr), size)]
    if expr.is_Add:
        out = []
        for i, term in enumerate(expr.args):
            negative = term.could_extract_minus_sign()
            sign = "−" if negative else ("+" if i else "")
            # a + or − that starts a piece still joins two terms: spaced as infix, not
            # read as a sign (β₂ + ω₂·exp[…], not β₂ +ω₂·exp[…])
            operator = f'<mo form="infix">{sign}</mo>' if i else _mo(sign) if sign else ""
            out += _wrapped(_flow(-term if negative else term, printer, limit), operator, "")
        return out
    if expr.is_Mul:
        factors, out = book_factors(expr.args), []
        negative = factors[0].is_Number and factors[0] < 0
        if negative:
            factors = ([-factors[0]] if factors[0] != -1 else []) + factors[1:]
        for i, factor in enumerate(factors):
            pieces = _flow(factor, printer, limit)
            if factor.is_Add or factor.is_Mul or (i and leads_with_minus(factor)):
                pieces = _wrapped(pieces, _mo("("), _mo(")"))
            operator = TIGHT_TIMES if i else _mo("−") if negative else ""
            out += _wrapped(pieces, operator, "")
        return out
    if expr.is_Pow and expr.exp.is_Number and expr.exp > 0:  # (…)² and tanh[…]²
        exponent = _inner(printer, expr.exp)
        if expr.base.is_Add or expr.base.is_Mul:
            return _wrapped(_flow(expr.base, printer, limit), _mo("("),
                            f"<msup>{_mo(')')}{exponent}</msup>")
        return _wrapped(_flow(expr.base, printer, limit), "", f"<msup><mrow></mrow>{exponent}</msup>")
    name = applied_name(expr) if expr.is_Function else None
    if name is not None and len(expr.args) == 1:
        return _wrapped(_flow(expr.args[0], printer, limit),
                        f"<mi>{name}</mi>" + _mo("["), _mo("]"))
    return [(_inner(printer, expr), size)]


def _wrapped(pieces, left: str, right: str) -> list[tuple[str, int]]:
    """Pieces with ``left`` before the first and ``right`` after the last."""
    pieces = list(pieces)
    text, size = pieces[0]
    pieces[0] = (left + text, size + bool(left))
    text, size = pieces[-1]
    pieces[-1] = (text + right, size + bool(right))
    return pieces


def _tree(expr) -> int:
    """Tree nodes of ``expr`` (memoised over distinct nodes, so linear in the graph)."""
    counts: dict = {}
    stack = [expr]
    while stack:
        node = stack[-1]
        if node in counts:
            stack.pop()
            continue
        waiting = [a for a in node.args if a not in counts]
        if waiting:
            stack.extend(waiting)
        else:
            counts[node] = 1 + sum(counts[a] for a in node.args)
            stack.pop()
    return counts[expr]


def _inner(printer, expr) -> str:
    """The MathML inside <math> for ``expr``: named entities made numeric, minus signs
    true minus (SymPy's printer writes a hyphen-minus)."""
    return _numeric_entities(printer.doprint(expr)).replace("<mo>-</mo>", "<mo>−</mo>")


def _numeric_entities(text: str) -> str:
    def numeric(match):
        char = html.entities.html5.get(match.group(1) + ";")
        return "".join(f"&#{ord(c)};" for c in char) if char else match.group(0)

    return re.sub(r"&([A-Za-z][A-Za-z0-9]*);", numeric, text)
