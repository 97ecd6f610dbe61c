"""The expression grammar: user text to SymPy objects, executing nothing.

SymPy's ``sympify`` and ``parse_expr`` run Python's ``eval``; this parser
never calls eval, exec, sympify or parse_expr.  It reads a small grammar and
builds SymPy objects directly, unevaluated (as written: ``x*w/w`` keeps its
division, ``exp(log(w))`` its two calls)::

    text       := statement ((";" | NEWLINE) statement)*
    statement  := NAME "=" expression | expression      (a bare one only last)
    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | power
    power      := atom (("**" | "^") unary)?          right-associative
    atom       := NUMBER | NAME | FUNCTION "(" arguments ")" | "(" expression ")"
    arguments  := expression ("," expression)*        as many as the function takes
    where      := "where" "(" expression COMPARE expression "," expression "," expression ")"
    COMPARE    := "<" | "<=" | ">" | ">=" | "==" | "!="

NUMBER is ASCII digits with an optional fraction and exponent (``2``, ``0.5``,
``1e-3``); NAME matches ``[A-Za-z][A-Za-z0-9_]*`` and becomes a plain symbol
(``E``, ``I`` and ``pi`` are names, not constants); FUNCTION is a function
row of the table (:func:`derive.core.rules.functions`, with its aliases).

**Named steps.**  ``z = 2*x + 2 + x; q = relu(z) + z*x; f = q*x`` defines
steps in order; the last definition (or a bare last expression) is the
prediction.  A name is defined once, only from names defined before it; a
step used twice is one node of the graph.  :func:`parse_steps` returns the
steps' names with the prediction; they become the staged program's names.

Limits (:data:`LIMITS`) bound the text, the nesting, the symbols, and numeric
literals and constant exponents.  Every error is a :class:`ParseError` naming
the problem and its column.

>>> parse("b1 + w1*tanh(b0 + w0*x)")
b1 + w1*tanh(b0 + w0*x)
>>> parse("x*w/w")
w*x/w
>>> f, names = parse_steps("z = 2*x; f = z*z + max(z, 1)")
>>> f, list(names.values())
((2*x)*(2*x) + max(2*x, 1), ['z', 'f'])
>>> parse("__import__('os')")
Traceback (most recent call last):
...
derive.models.parser.ParseError: unexpected character '_' at column 1
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import sympy

from derive.base.errors import DeriveError
from derive.core.rules import ALIASES, PRIMITIVES, RELATIONS, functions, rule_for

LIMITS = {
    "text_length": 10_000,     # characters
    "nesting": 100,            # parentheses, calls and unary signs inside each other
    "symbols": 1_000,          # distinct names
    "number_length": 40,       # characters of one numeric literal
    "number_magnitude": 1e15,  # absolute value of one numeric literal
    "exponent": 64,            # absolute value of a constant exponent
    "depth": 250,              # operations on the longest path through the expression
}
"""Documented limits on user text."""

_TOKEN = re.compile(r"""
    (?P<space>[ \t]+)
  | (?P<newline>\r?\n)
  | (?P<number>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)? | \.[0-9]+(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z][A-Za-z0-9_]*)
  | (?P<op>\*\*|<=|>=|==|!=|[-+*/^()<>,=;])
""", re.VERBOSE)


class ParseError(DeriveError):
    """A parse error at ``column`` (1-based) of ``text``."""

    def __init__(self, message: str, text: str = "", column: int = 0):
        super().__init__(message)
        self.text, self.column = text, column

    def caret(self, width: int = 60) -> str:
        """Two lines: the text around the column (on its own line), and a caret under it."""
        if not self.column:
            return ""
        line_start = self.text.rfind("\n", 0, self.column - 1) + 1
        line_end = self.text.find("\n", self.column - 1)
        line_end = len(self.text) if line_end < 0 else line_end
        start = max(line_start, self.column - 1 - width // 2)
        window = self.text[start:min(start + width, line_end)]
        shown = "".join(c if c.isprintable() and c.isascii() else "?" for c in window)
        prefix = "..." if start > line_start else ""
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
        self.steps: dict[str, sympy.Basic] = {}      # name -> its node, in order
        self.defined_at: dict[str, _Token] = {}
        self.used: dict[str, tuple[_Token, str | None]] = {}  # name -> first use, in step
        self.reads: dict[str, set] = {}            # step -> steps it reads, transitively
        self.current: str | None = None            # the step being defined
        self.depths: dict = {}                     # node -> operations on its longest path
        self.constants: dict = {}                  # constant node -> its float64 value

    # ---- helpers ---------------------------------------------------------------
    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def error(self, message: str, token: _Token | None = None) -> ParseError:
        token = token or self.token
        return ParseError(f"{message} at {place(self.text, token.column)}", self.text,
                          token.column)

    def take(self, *texts) -> _Token | None:
        if self.token.kind == "op" and self.token.text in texts:
            self.index += 1
            return self.tokens[self.index - 1]
        return None

    def nested(self, token):
        self.depth += 1
        if self.depth > LIMITS["nesting"]:
            raise self.error(f"nesting deeper than {LIMITS['nesting']}", token)

    # ---- statements: named steps -----------------------------------------------
    def text_(self) -> tuple[sympy.Basic, dict]:
        prediction = None
        while True:
            while self.separator():
                pass
            if self.token.kind == "end":
                break
            if prediction is not None and self.bare:
                raise self.error("only the last statement may be a bare expression; "
                                 "name the earlier one (NAME = expression)", self.bare)
            prediction = self.statement()
            if not (self.separator() or self.token.kind == "end"):
                raise self.after_expression()
        if prediction is None:
            raise ParseError("empty expression")
        return prediction, self.names()

    def separator(self) -> bool:
        if self.token.kind == "newline" or (self.token.kind == "op" and self.token.text == ";"):
            self.index += 1
            return True
        return False

    def statement(self):
        token, following = self.token, self.tokens[self.index + 1]
        self.bare = None
        if token.kind == "name" and following.kind == "op" and following.text == "=":
            self.index += 2
            self.define(token)
            self.current = token.text
            self.reads[token.text] = set()
            value = self.expression()
            self.current = None
            self.defined(token)
            self.steps[token.text] = value
            return value
        self.bare = token
        return self.expression()

    def define(self, name: _Token):
        text = name.text
        if text in PRIMITIVES or text in ALIASES:
            raise self.error(f"{text!r} is a function's name, not a step's", name)
        if text in self.steps:
            first = self.defined_at[text]
            raise self.error(f"step {text!r} is defined twice (first at "
                             f"{place(self.text, first.column)})", name)
        self.defined_at[text] = name

    def defined(self, name: _Token):
        """A step's definition is read: it must not have been used before it."""
        if name.text not in self.used:
            return
        use, user = self.used[name.text]
        if user is not None and user in self.reads[name.text]:
            raise self.error(f"a cycle: step {user!r} uses {name.text!r}, whose definition "
                             f"uses {user!r}", use)
        raise self.error(f"{name.text!r} is used before it is defined (at "
                         f"{place(self.text, name.column)}); a step may use only names "
                         "defined before it", use)

    def names(self) -> dict:
        """{node: step name}: the first name wins where two steps are one node; a step
        that is only a name or a number is an alias, not a node of its own."""
        named: dict = {}
        for name, node in self.steps.items():
            if node.args and node not in named:
                named[node] = name
        return named

    # ---- grammar ---------------------------------------------------------------
    def expression(self):
        terms = [self.term()]
        while (op := self.take("+", "-")):
            right = self.term()
            terms.append(right if op.text == "+" else self.negate(right, op))
        return terms[0] if len(terms) == 1 else self.make(sympy.Add, terms, op)

    def term(self):
        factors = [self.unary()]
        while (op := self.take("*", "/")):
            right = self.unary()
            if op.text == "/":
                if self.constant(right) == 0:
                    raise self.error("division by zero", op)
                right = self.make(sympy.Pow, (right, sympy.S.NegativeOne), op)
            factors.append(right)
        return factors[0] if len(factors) == 1 else self.make(sympy.Mul, factors, op)

    def unary(self):
        if (op := self.take("-", "+")):
            self.nested(op)
            value = self.unary()
            self.depth -= 1
            return self.negate(value, op) if op.text == "-" else value
        return self.power()

    def power(self):
        base = self.atom()
        if (op := self.take("**", "^")):
            self.nested(op)
            exponent = self.unary()
            self.depth -= 1
            power = self.constant(exponent)
            if power is not None and not abs(power) <= LIMITS["exponent"]:
                raise self.error(f"constant exponent larger than {LIMITS['exponent']}", op)
            if self.constant(base) == 0 and power is not None and power < 0:
                raise self.error("division by zero", op)
            return self.make(sympy.Pow, (base, exponent), op)
        return base

    def constant(self, node) -> float | None:
        """A constant's float64 value (inf where it overflows), None where the node
        holds a name; made as the node is, so each costs one operation."""
        if node.is_Number:
            return float(node)
        return self.constants.get(node)

    def negate(self, value, op):
        """−value as written: a number's negative, else (−1)·value."""
        if value.is_Number:
            return -value
        return self.make(sympy.Mul, (sympy.S.NegativeOne, value), op)

    def make(self, build, args, token):
        """build(*args) unevaluated; its depth (operations on the longest path down,
        steps included) within :data:`LIMITS`."""
        depth = 1 + max(self.depths.get(a, 0) for a in args)
        if depth > LIMITS["depth"]:
            raise self.error(f"expression deeper than {LIMITS['depth']} operations", token)
        node = build(*args, evaluate=False)
        self.depths[node] = depth
        values = [self.constant(a) for a in args]
        if all(v is not None for v in values):
            with np.errstate(all="ignore"):
                value = float(np.real(rule_for(node).forward(*map(np.float64, values))))
            if np.isnan(value):
                raise self.error(f"the constant {sympy.sstr(node, order='none')[:40]} is not "
                                 "a real number", token)
            self.constants[node] = value
        return node

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
                raise self.error(f"function {token.text!r} needs its arguments in parentheses",
                                 token)
            return self.symbol(token)
        if (open_ := self.take("(")):
            self.nested(open_)
            value = self.expression()
            self.close(open_)
            return value
        if token.kind in ("end", "newline") or token.text == ";":
            raise self.error("expression ends too early")
        if token.kind == "op" and token.text in RELATIONS:
            raise self.error(f"a comparison ({token.text}) may only be where's first argument")
        raise self.error(f"unexpected {token.text!r}")

    def call(self, name: _Token):
        function = ALIASES.get(name.text, name.text)
        if function not in functions():
            raise self.error(f"unknown function {name.text!r}; known: "
                             f"{', '.join(functions())}", name)
        row = PRIMITIVES[function]
        self.nested(name)
        arguments = [self.condition(name) if row.inert == (0,) else self.expression()]
        while self.take(","):
            arguments.append(self.expression())
        if len(arguments) != row.arity:
            raise self.error(f"{name.text} takes {row.arity} argument"
                             f"{'s' if row.arity > 1 else ''}, not {len(arguments)}", name)
        self.close(name)
        for i in row.constants:
            if arguments[i].free_symbols:
                raise self.error(f"{name.text}'s {row.params[i]} must be a constant number",
                                 name)
        return self.make(row.sympy, arguments, name)

    def condition(self, function: _Token):
        left = self.expression()
        op = self.token
        if not (op.kind == "op" and op.text in RELATIONS):
            raise self.error(f"{function.text} needs a comparison as its first argument, "
                             f"as in {function.text}(x > 0, x, 0)", op)
        self.index += 1
        return self.make(RELATIONS[op.text], (left, self.expression()), op)

    def close(self, opener: _Token):
        if not self.take(")"):
            if self.token.kind == "op" and self.token.text in RELATIONS:
                raise self.error(f"a comparison ({self.token.text}) may only be where's "
                                 "first argument")
            raise self.error(f"unclosed '(' from {place(self.text, opener.column)}: "
                             "expected ')'")
        self.depth -= 1

    def after_expression(self) -> ParseError:
        token = self.token
        if token.kind == "op" and token.text in RELATIONS:
            return self.error(f"a comparison ({token.text}) may only be where's first argument")
        if token.kind == "op" and token.text == "=":
            return self.error("'=' defines a step: NAME = expression, one per statement")
        return self.error(f"unexpected {token.text!r} after a complete expression")

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
        name = token.text
        if name in self.steps:
            if self.current is not None:
                self.reads[self.current] |= {name} | self.reads.get(name, set())
            return self.steps[name]
        if name == self.current:
            raise self.error(f"step {name!r} uses itself", token)
        self.used.setdefault(name, (token, self.current))
        if name not in self.symbols:
            if len(self.symbols) >= LIMITS["symbols"]:
                raise self.error(f"more than {LIMITS['symbols']} distinct names", token)
            self.symbols[name] = sympy.Symbol(name)
        return self.symbols[name]


def place(text: str, column: int) -> str:
    """'column C', or 'line L, column C' in text of several lines (column: 1-based offset)."""
    if "\n" not in text:
        return f"column {column}"
    line = text.count("\n", 0, column - 1) + 1
    return f"line {line}, column {column - 1 - text.rfind(chr(10), 0, column - 1)}"


def parse_steps(text: str) -> tuple[sympy.Basic, dict]:
    """The prediction ``text`` denotes and its named steps {node: name}; a
    :class:`ParseError` otherwise.

    Cost: linear in the text; nothing is simplified or evaluated.
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseError("empty expression")
    return _Parser(text).text_()


def parse(text: str) -> sympy.Expr:
    """The SymPy expression ``text`` denotes (the prediction, for named steps); a
    :class:`ParseError` otherwise.

    Cost: linear in the text; nothing is simplified or evaluated.
    """
    return parse_steps(text)[0]


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
