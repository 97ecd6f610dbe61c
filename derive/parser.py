"""The expression grammar: user text to SymPy objects, executing nothing.

SymPy's ``sympify`` and ``parse_expr`` run Python's ``eval``; this parser
never calls eval, exec, sympify or parse_expr.  It reads a small grammar and
builds SymPy objects directly::

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | power
    power      := atom (("**" | "^") unary)?          right-associative
    atom       := NUMBER | NAME | FUNCTION "(" expression ")" | "(" expression ")"

NUMBER is ASCII digits with an optional fraction and exponent (``2``, ``0.5``,
``1e-3``); NAME matches ``[A-Za-z][A-Za-z0-9_]*`` and becomes a plain symbol
(``E``, ``I`` and ``pi`` are names, not constants); FUNCTION is a primitive
from the table.  Limits (:data:`LIMITS`) bound the text, the nesting, the
symbols, and numeric literals and constant exponents.  Every error is a
:class:`ParseError` naming the problem and its column.

>>> parse("b1 + w1*tanh(b0 + w0*x)")
b1 + w1*tanh(b0 + w0*x)
>>> parse("2^-1 * x")
x/2
>>> parse("__import__('os')")
Traceback (most recent call last):
...
derive.parser.ParseError: unexpected character '_' at column 1
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from .errors import DeriveError
from .primitives import ALIASES, PRIMITIVES, activations

LIMITS = {
    "text_length": 10_000,     # characters
    "nesting": 100,            # parentheses, calls and unary signs inside each other
    "symbols": 1_000,          # distinct names
    "number_length": 40,       # characters of one numeric literal
    "number_magnitude": 1e15,  # absolute value of one numeric literal
    "exponent": 64,            # absolute value of a constant exponent
}
"""Documented limits on user text."""

_TOKEN = re.compile(r"""
    (?P<space>[ \t]+)
  | (?P<number>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)? | \.[0-9]+(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z][A-Za-z0-9_]*)
  | (?P<op>\*\*|[-+*/^()])
""", re.VERBOSE)


class ParseError(DeriveError):
    """A parse error at ``column`` (1-based) of ``text``."""

    def __init__(self, message: str, text: str = "", column: int = 0):
        super().__init__(message)
        self.text, self.column = text, column

    def caret(self, width: int = 60) -> str:
        """Two lines: the text around the column, and a caret under it."""
        if not self.column:
            return ""
        start = max(0, self.column - 1 - width // 2)
        window = self.text[start:start + width]
        shown = "".join(c if c.isprintable() and c.isascii() else "?" for c in window)
        prefix = "..." if start else ""
        return f"  {prefix}{shown}\n  {' ' * (len(prefix) + self.column - 1 - start)}^"


@dataclass
class _Token:
    kind: str
    text: str
    column: int


def tokenize(text: str) -> list[_Token]:
    """The tokens of ``text``; a ParseError at the first character outside the grammar."""
    if len(text) > LIMITS["text_length"]:
        raise ParseError(f"expression too long: {len(text):,} characters, at most "
                         f"{LIMITS['text_length']:,}")
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            char = text[position]
            shown = repr(char) if char.isascii() and char.isprintable() else \
                f"{char!r} (U+{ord(char):04X})"
            raise ParseError(f"unexpected character {shown} at column {position + 1}",
                             text, position + 1)
        if match.lastgroup != "space":
            tokens.append(_Token(match.lastgroup, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.symbols: dict[str, sympy.Symbol] = {}

    # ---- helpers ---------------------------------------------------------------
    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def error(self, message: str, token: _Token | None = None) -> ParseError:
        token = token or self.token
        return ParseError(f"{message} at column {token.column}", self.text, token.column)

    def take(self, *texts) -> _Token | None:
        if self.token.kind == "op" and self.token.text in texts:
            self.index += 1
            return self.tokens[self.index - 1]
        return None

    def nested(self, token):
        self.depth += 1
        if self.depth > LIMITS["nesting"]:
            raise self.error(f"nesting deeper than {LIMITS['nesting']}", token)

    # ---- grammar ---------------------------------------------------------------
    def expression(self):
        value = self.term()
        while (op := self.take("+", "-")):
            right = self.term()
            value = value + right if op.text == "+" else value - right
        return value

    def term(self):
        value = self.unary()
        while (op := self.take("*", "/")):
            right = self.unary()
            if op.text == "/":
                if right == 0:
                    raise self.error("division by zero", op)
                value = value / right
            else:
                value = value * right
        return value

    def unary(self):
        if (op := self.take("-", "+")):
            self.nested(op)
            value = self.unary()
            self.depth -= 1
            return -value if op.text == "-" else value
        return self.power()

    def power(self):
        base = self.atom()
        if (op := self.take("**", "^")):
            self.nested(op)
            exponent = self.unary()
            self.depth -= 1
            if exponent.is_Number and abs(exponent) > LIMITS["exponent"]:
                raise self.error(f"constant exponent larger than {LIMITS['exponent']}", op)
            if base == 0 and exponent.is_Number and exponent <= 0:
                raise self.error("division by zero", op)
            return base ** exponent
        return base

    def atom(self):
        token = self.token
        if token.kind == "number":
            self.index += 1
            return self.number(token)
        if token.kind == "name":
            self.index += 1
            if self.take("("):
                return self.call(token)
            if token.text in PRIMITIVES or token.text in ALIASES:
                raise self.error(f"function {token.text!r} needs an argument in parentheses",
                                 token)
            return self.symbol(token)
        if (open_ := self.take("(")):
            self.nested(open_)
            value = self.expression()
            self.close(open_)
            return value
        if token.kind == "end":
            raise self.error("expression ends too early")
        raise self.error(f"unexpected {token.text!r}")

    def call(self, name: _Token):
        function = ALIASES.get(name.text, name.text)
        if function not in activations():
            raise self.error(f"unknown function {name.text!r}; known: "
                             f"{', '.join(activations())}", name)
        self.nested(name)
        argument = self.expression()
        self.close(name)
        return PRIMITIVES[function].sympy(argument)

    def close(self, opener: _Token):
        if not self.take(")"):
            raise self.error(f"unclosed '(' from column {opener.column}: expected ')'")
        self.depth -= 1

    def number(self, token: _Token):
        if len(token.text) > LIMITS["number_length"]:
            raise self.error(f"number longer than {LIMITS['number_length']} characters", token)
        value = float(token.text)
        if abs(value) > LIMITS["number_magnitude"]:
            raise self.error(f"number larger than {LIMITS['number_magnitude']:g}", token)
        if re.fullmatch(r"[0-9]+", token.text):
            return sympy.Integer(int(token.text))
        return sympy.Float(token.text, 17)

    def symbol(self, token: _Token):
        if token.text not in self.symbols:
            if len(self.symbols) >= LIMITS["symbols"]:
                raise self.error(f"more than {LIMITS['symbols']} distinct names", token)
            self.symbols[token.text] = sympy.Symbol(token.text)
        return self.symbols[token.text]


def parse(text: str) -> sympy.Expr:
    """The SymPy expression ``text`` denotes; a :class:`ParseError` otherwise.

    Cost: linear in the text (SymPy's own simplification of each + and * aside).
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseError("empty expression")
    parser = _Parser(text)
    value = parser.expression()
    if parser.token.kind != "end":
        raise parser.error(f"unexpected {parser.token.text!r} after a complete expression")
    return value


def parse_name(text: str, what: str = "name", entry: bool = False) -> str:
    """A name from an option or file: the grammar's NAME, not a primitive's name.

    With ``entry``, a network entry such as ``Omega1[2,3]`` or ``beta0[4]`` is
    accepted too (to replace a family's value; expressions cannot use them).
    """
    pattern = r"[A-Za-z][A-Za-z0-9_]*" + (r"(\[[0-9]+(,[0-9]+)?\])?" if entry else "")
    if not re.fullmatch(pattern, text or "") or len(text) > 64:
        raise DeriveError(f"bad {what} {text!r}: names match [A-Za-z][A-Za-z0-9_]* "
                          "(at most 64 characters)")
    if text in PRIMITIVES or text in ALIASES:
        raise DeriveError(f"bad {what} {text!r}: that is a primitive's name")
    return text
