"""LaTeX in the book's notation: sin[f0] with square brackets, ℓ for the loss.

Functions in the primitive table print through the table's own LaTeX pattern;
everything else is SymPy's LaTeX printer.  Cost: like ``sympy.latex``, a walk
of the whole tree, so callers guard it by size (see :func:`derive.graph.sizes`).

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
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter

from .primitives import by_function


class BookLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the table's function forms and ℓ for ``l``."""

    def _print_Function(self, expr, exp=None):
        row = by_function(expr.func)
        if row is None:
            return super()._print_Function(expr, exp)
        tex = row.latex.format(self._print(expr.args[0]))
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"

    def _print_exp(self, expr, exp=None):
        return self._print_Function(expr, exp)

    def _print_Symbol(self, expr, style="plain"):
        if expr.name == "l":
            return r"\ell"
        return super()._print_Symbol(expr, style)


def to_latex(expr: sympy.Basic) -> str:
    """LaTeX for ``expr`` in the notebook's notation (a full tree walk)."""
    return BookLatexPrinter({"order": "none"}).doprint(expr)


def mathml(expr: sympy.Basic) -> str:
    """Presentation MathML inside <math>, named entities made numeric (a tree walk).

    MathML Core renders natively in Chromium, Firefox and Safari; numeric
    character references need no DTD.
    """
    text = MathMLPresentationPrinter({"order": "none"}).doprint(expr)
    return f'<math display="inline">{_numeric_entities(text)}</math>'


def _numeric_entities(text: str) -> str:
    def numeric(match):
        char = html.entities.html5.get(match.group(1) + ";")
        return "".join(f"&#{ord(c)};" for c in char) if char else match.group(0)

    return re.sub(r"&([A-Za-z][A-Za-z0-9]*);", numeric, text)
