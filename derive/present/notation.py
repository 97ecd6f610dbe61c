"""LaTeX in the book's notation: sin[f0] with square brackets, ℓ for the loss.

Functions in the primitive table print through the table's own LaTeX pattern;
everything else is SymPy's LaTeX printer.  Cost: like ``sympy.latex``, a walk
of the whole tree, so callers guard it by size (see :func:`derive.core.graph.sizes`).

>>> import sympy
>>> f0, y = sympy.symbols("f0 y")
>>> to_latex(sympy.sin(f0))
'\\\\sin\\\\left[f_{0}\\\\right]'
>>> to_latex(sympy.Symbol("l"))
'\\\\ell'
"""

from __future__ import annotations

import re

import sympy
from sympy.printing.latex import LatexPrinter, greek_letters_set, tex_greek_dictionary
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from derive.core import graph
from derive.models import names
from derive.models.names import text_name
from derive.base.limits import LATEX_CAP
from derive.core.rules import by_function, row_latex


def book_factors(factors) -> list:
    """A product's factors in the book's order: numbers, then parameters (Greek names:
    ω1, β0, Ω1[2,3]), then the rest, each group as given (ω1·h1, ω3·∂ℓ/∂f3).

    >>> h1, omega1 = sympy.symbols("h1 omega1")
    >>> book_factors((h1, omega1, sympy.Integer(2)))
    [2, omega1, h1]
    """
    def rank(a):
        if a.is_Number:
            return 0
        return 1 if a.is_Symbol and names.greek(a.name) else 2
    return sorted(factors, key=rank)


def leads_with_minus(expr) -> bool:
    """Whether ``expr`` prints starting with a minus sign (−2, −sin[…], a product whose
    first factor does): after a product's dot it takes brackets, ω₂·(−sin[…])."""
    if expr.is_Number:
        return expr < 0
    if expr.is_Mul:
        return leads_with_minus(book_factors(expr.args)[0])
    return False


def flat_sum(expr: sympy.Add) -> sympy.Add:
    """A sum with the sums among its terms opened in place (unevaluated): printed
    (β₃ + ω₃·h₃ − y)², as MathML prints it, not the nightmare's ((β₃ + …) − y)."""
    if not any(term.is_Add for term in expr.args):
        return expr
    terms = []
    for term in expr.args:
        terms.extend(flat_sum(term).args if term.is_Add else [term])
    return sympy.Add._from_args(terms)


def fraction(expr: sympy.Mul) -> bool:
    """Whether a product has a divisor or a rational coefficient: SymPy's own layout
    writes it as a fraction, in LaTeX and MathML alike."""
    return any(a.is_Pow and a.exp.is_negative or a.is_Rational and not a.is_Integer
               for a in expr.args)


def negated(expr: sympy.Mul):
    """X where ``expr`` is −1·X (the product of the other factors, unevaluated), else
    None: every printer writes it − X, X as printed on its own."""
    minus, *rest = expr.args
    if minus is not sympy.S.NegativeOne or not rest:
        return None
    return rest[0] if len(rest) == 1 else sympy.Mul._from_args(rest)


def book_product(expr: sympy.Mul) -> sympy.Mul:
    """The same product with its factors in :func:`book_factors` order (unevaluated)."""
    ordered = book_factors(expr.args)
    return expr if list(expr.args) == ordered else sympy.Mul._from_args(ordered)


LATEX = {"order": "none", "mul_symbol": "dot"}
"""The LaTeX printer's settings: terms as written, a dot between factors (as MATHML)."""


class BookLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with the table's function forms and ℓ for ``l``."""

    def _print_Function(self, expr, exp=None):
        if by_function(expr.func) is None:
            return super()._print_Function(expr, exp)
        return row_latex(expr, self, exp)

    def _print_Mul(self, expr):
        """A product in the book's order (:func:`book_factors`: ω1·h1) with a dot between
        factors, as the notebook writes ω_3\\cdot\\cos and the other printers do; a
        product inside it in brackets, and a factor after the first that starts with a
        minus (ω₂·(−sin[f₂])); −X as − X.  A fraction in SymPy's layout, with the dot."""
        if fraction(expr):
            return super()._print_Mul(expr)
        inner = negated(expr)
        if inner is not None:
            body = self._print(inner)
            return rf"- \left({body}\right)" if inner.is_Add else f"- {body}"
        expr = book_product(expr)
        return r" \cdot ".join(
            self._print(a) if i == 0 and a.is_Number  # −2·ω₁, not (−2)·ω₁
            else rf"\left({self._print(a)}\right)" if i and leads_with_minus(a)
            else self.parenthesize(a, PRECEDENCE["Mul"]) for i, a in enumerate(expr.args))

    def _print_exp(self, expr, exp=None):
        return self._print_Function(expr, exp)

    def _print_Add(self, expr, order=None):
        return super()._print_Add(flat_sum(expr), order)

    _print_log = _print_exp  # SymPy has its own printers for these two

    def _print_Symbol(self, expr, style="plain"):
        if expr.name == "l":
            return r"\ell"
        entry = names.entry(expr.name)
        if entry:  # a network weight or bias: Omega1[2,3] -> \Omega_{1}[2,3]
            greek, layer, index = entry
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
    return BookLatexPrinter(LATEX).doprint(expr)


class Adjoint(sympy.Symbol):
    """∂ℓ/∂v for a step named v, in a displayed chain rule."""

    def _latex(self, printer):
        return rf"\frac{{\partial \ell}}{{\partial {printer._print(sympy.Symbol(self.name))}}}"

    def _sympystr(self, printer):
        return f"dl/d{self.name}"


_NAMED = re.compile(r"(?:\\operatorname\{\{(\w+)\}\}|\\(\w+)|(\w))"
                    r"(?:_\{\{(\w+)\}\})?\\left\[(?:\{\}(?:, )?)+\\right\]")


def applied_template(expr) -> str | None:
    """A row printed neither as name[arguments] nor as SymPy prints it, as plain text with
    ``{}`` for its argument, from its LaTeX: the notebook's indicator, 𝕀[{} > 0]."""
    rule = by_function(expr.func)
    if rule is None:
        return None
    text = rule.latex.replace(r"\mathbb{{I}}", "\U0001d540")
    text = text.replace(r"\left", "").replace(r"\right", "")
    return text if "\\" not in text and text.count("{}") == 1 and len(expr.args) == 1 else None


def _bracket_name(latex: str) -> str | None:
    r"""The name a row's LaTeX applies with brackets (\cos\left[{}\right] -> cos,
    \log_{{2}}... -> log₂), or None for a row written otherwise (\sqrt{{{}}}).

    >>> from derive.core.rules import row
    >>> _bracket_name(row("cos").latex), _bracket_name(row("log2").latex), _bracket_name(row("sqrt").latex)
    ('cos', 'log₂', None)
    """
    match = _NAMED.fullmatch(latex)
    if not match:
        return None
    name = next(g for g in match.groups()[:3] if g)
    return name + (match.group(4) or "").translate(_SUBSCRIPT)


_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def applied_name(expr) -> str | None:
    """The name a table row's node is applied by with brackets (cos for cos(f2),
    printed cos[f₂]), or None for a node printed otherwise (not a row, or √x, |x|)."""
    rule = by_function(expr.func)
    return _bracket_name(rule.latex) if rule is not None else None



TIMES = "\u00b7"
"""The multiplication sign every output writes between factors: ω₁·h₁, 2·(f₃ − y)."""
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class BookTextPrinter(StrPrinter):
    """Plain text in the book's notation, for the terminal and the graph's labels:
    cos[f₂], ω₁·h₁, (f₃ − y)², ∂ℓ/∂f₃.  Setting ``loss``: the name printed ℓ."""

    _default_settings = {**StrPrinter._default_settings, "loss": "l"}
    printmethod = "_book_text"  # not Adjoint's own _sympystr (dl/dv), which str() keeps

    def _print_Symbol(self, expr):
        if isinstance(expr, Adjoint):
            return f"∂ℓ/∂{text_name(expr.name)}"
        return text_name(expr.name, self._settings.get("loss", "l"))

    def _print_Function(self, expr):
        name = applied_name(expr)
        if name is None:
            template = applied_template(expr)
            return template.replace("{}", self._print(expr.args[0])) if template else \
                super()._print_Function(expr)
        return f"{name}[{', '.join(self._print(a) for a in expr.args)}]"

    _print_exp = _print_Function
    _print_log = _print_Function

    def _print_transpose(self, expr):
        return self.parenthesize(expr.args[0], PRECEDENCE["Pow"]) + "ᵀ"

    def _print_Mul(self, expr):
        inner = negated(expr)
        if inner is not None and len(expr.args) == 2 and not inner.is_Number:
            # −X as −X (SymPy would re-evaluate X, flattening the products inside it)
            body = self._print(inner)
            return f"-({body})" if inner.is_Add else f"-{body}"
        return super()._print_Mul(book_product(expr)).replace("*", "·")

    def parenthesize(self, item, level, strict=False):
        """A product inside a product keeps its brackets, as in LaTeX and MathML: a
        chain rule's local partial times the adjoint, (4·l₃)·∂ℓ/∂l₄."""
        if level == PRECEDENCE["Mul"] and getattr(item, "is_Mul", False):
            return f"({self._print(item)})"
        return super().parenthesize(item, level, strict)

    def _print_Pow(self, expr, rational=False):
        if expr.exp.is_Integer and expr.exp > 1:
            return self.parenthesize(expr.base, PRECEDENCE["Pow"]) + str(expr.exp).translate(
                _SUPERSCRIPT)
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Add(self, expr, order=None):
        return re.sub(r"(^|(?<=[ (\[]))-", "−", super()._print_Add(flat_sum(expr), order))


def to_text(expr: sympy.Basic, loss: str | None = "l") -> str:
    """Plain text for ``expr`` in the book's notation (a full tree walk).

    >>> f2, f3, y, h1, omega1 = sympy.symbols("f2 f3 y h1 omega1")
    >>> to_text(-sympy.sin(f2)), to_text((f3 - y) ** 2), to_text(h1 * omega1)
    ('−sin[f₂]', '(f₃ − y)²', 'ω₁·h₁')
    """
    text = BookTextPrinter({"order": "none", "loss": loss}).doprint(expr)
    return _minus_signs(text)


def ascending_text(expr: sympy.Basic) -> str:
    """A polynomial in ascending powers, as Baydin et al. print Table 1, in the book's
    notation rather than SymPy's ``*`` and ``**``.

    >>> x = sympy.Symbol("x")
    >>> ascending_text(-16 * x * (x - 1) * (2 * x - 1) ** 2), ascending_text(4 - 8 * x)
    ('−16·x·(−1 + x)·(−1 + 2·x)²', '4 − 8·x')
    """
    text = sympy.sstr(expr, order="rev-lex")
    text = re.sub(r"\*\*(\d+)", lambda power: power.group(1).translate(_SUPERSCRIPT), text)
    return _minus_signs(text.replace("*", "·"))


def _minus_signs(text: str) -> str:
    """ASCII hyphens that are minus signs (at the start, after a space or bracket) as −."""
    return re.sub(r"(^|(?<=[ (\[]))-", "−", text)


def latex_chars(expr: sympy.Basic, cap: int = LATEX_CAP) -> tuple[int | None, str | None]:
    """Length of the expression's LaTeX form, or (None, reason) above ``cap`` tree nodes.

    Cost: a linear size check, then (below the cap) one LaTeX print, a tree walk.

    >>> x = sympy.Symbol("x")
    >>> latex_chars(sympy.sin(x) ** 2)
    (35, None)
    """
    tree = graph.sizes(expr).tree_nodes
    if tree > cap:
        return None, f"not printed: {tree:,} tree nodes, above the cap of {cap:,}"
    return len(to_latex(expr)), None
