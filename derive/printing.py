"""LaTeX in the book's notation: sin[f0] with square brackets, ℓ for the loss.

Functions in the primitive table print through the table's own LaTeX pattern;
everything else is SymPy's LaTeX printer.  Cost: like ``sympy.latex``, a walk
of the whole tree, so callers guard it by size (see :func:`derive.dag.sizes`).

>>> import sympy
>>> f0, y = sympy.symbols("f0 y")
>>> to_latex(sympy.sin(f0))
'\\\\sin\\\\left[f_{0}\\\\right]'
>>> to_latex(sympy.Symbol("l"))
'\\\\ell'
"""

from __future__ import annotations

import html
import re

import sympy
from sympy.printing.latex import LatexPrinter, greek_letters_set, tex_greek_dictionary
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.pretty.pretty_symbology import greek_unicode
from sympy.printing.precedence import PRECEDENCE

from .primitives import by_function, row_latex


_ENTRY = re.compile(r"(Omega|beta)([0-9]+)\[([0-9]+(?:,[0-9]+)?)\]")


class BookLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the table's function forms and ℓ for ``l``."""

    def _print_Function(self, expr, exp=None):
        if by_function(expr.func) is None:
            return super()._print_Function(expr, exp)
        return row_latex(expr, self, exp)

    def _print_Mul(self, expr):
        """A product as written; a number after the first factor, or a factor repeated,
        gets a dot (d·2 and x·x, not d 2 and x x)."""
        if any(a.is_Number for a in expr.args[1:]) or len(set(expr.args)) < len(expr.args):
            return r" \cdot ".join(self.parenthesize(a, PRECEDENCE["Mul"]) for a in expr.args)
        return super()._print_Mul(expr)

    def _print_exp(self, expr, exp=None):
        return self._print_Function(expr, exp)

    _print_log = _print_exp  # SymPy has its own printers for these two

    def _print_Symbol(self, expr, style="plain"):
        if expr.name == "l":
            return r"\ell"
        entry = _ENTRY.fullmatch(expr.name)
        if entry:  # a network weight or bias: Omega1[2,3] -> \Omega_{1}[2,3]
            greek, layer, index = entry.groups()
            return rf"\{greek}_{{{layer}}}[{index}]"
        return typed_name(expr.name)


_TYPED = re.compile(r"([A-Za-z]+)([0-9]*)")


def typed_name(name: str) -> str:
    r"""A name in LaTeX as it was typed: a Greek letter's name as the letter, one
    letter in italics, longer names upright, trailing digits as a subscript;
    SymPy's suffix magic (``xscr`` as 𝓍, ``xhat`` as x̂) never applies.

    >>> typed_name("omega0"), typed_name("f3"), typed_name("xscr"), typed_name("x__2")
    ('\\omega_{0}', 'f_{3}', '\\mathrm{xscr}', '\\mathrm{x\\_\\_2}')
    >>> typed_name("x_1"), typed_name("xAbs")
    ('\\mathrm{x\\_1}', '\\mathrm{xAbs}')
    """
    match = _TYPED.fullmatch(name)
    if not match:
        return r"\mathrm{%s}" % name.replace("_", r"\_")
    base, digits = match.groups()
    if base in tex_greek_dictionary:
        tex = tex_greek_dictionary[base]
    elif base in greek_letters_set:
        tex = "\\" + base
    else:
        tex = base if len(base) == 1 else r"\mathrm{%s}" % base
    return tex + (f"_{{{digits}}}" if digits else "")


def to_latex(expr: sympy.Basic) -> str:
    """LaTeX for ``expr`` in the notebook's notation (a full tree walk)."""
    return BookLatexPrinter({"order": "none"}).doprint(expr)


class Adjoint(sympy.Symbol):
    """∂ℓ/∂v for a step named v, in a displayed chain rule."""

    def _latex(self, printer):
        return rf"\frac{{\partial \ell}}{{\partial {printer._print(sympy.Symbol(self.name))}}}"

    def _sympystr(self, printer):
        return f"dl/d{self.name}"


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
        """Factors in the order the rule writes them (Ωᵀ before ∂ℓ/∂f), where no
        coefficient or fraction asks for SymPy's own layout."""
        plain = not any(a.is_Number or (a.is_Pow and a.exp.is_negative) for a in expr.args)
        if self._settings["order"] != "none" or not plain:
            return super()._print_Mul(expr)
        row = self._element("mrow")
        times = "\u22c5" if len(set(expr.args)) < len(expr.args) else "\u2062"  # x⋅x, not xx
        for i, factor in enumerate(expr.args):
            if i:
                row.appendChild(self._element("mo", text=times))
            row.appendChild(self.parenthesize(factor, PRECEDENCE["Mul"]))
        return row

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

    def _print_transpose(self, expr):
        return self._element("msup", self._print(expr.args[0]), self._element("mi", text="T"))

    def _print_Symbol(self, sym, style="plain"):
        if sym.name == "l":
            return self._element("mi", text="\u2113")
        entry = _ENTRY.fullmatch(sym.name)
        if entry is None:
            return self._typed(sym.name)
        greek, layer, index = entry.groups()
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
    text = BookMathMLPrinter({"order": "none"}).doprint(expr)
    return f'<math display="inline">{_numeric_entities(text)}</math>'


def _numeric_entities(text: str) -> str:
    def numeric(match):
        char = html.entities.html5.get(match.group(1) + ";")
        return "".join(f"&#{ord(c)};" for c in char) if char else match.group(0)

    return re.sub(r"&([A-Za-z][A-Za-z0-9]*);", numeric, text)
