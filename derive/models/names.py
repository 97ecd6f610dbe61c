"""The families' names, written and read in one place: a network's weight and bias
entries (``Omega1[2,3]``, ``beta1[2]``), the layer a name belongs to (the number it
ends in: ``h29`` and ``omega29`` are layer 29), and which names are Greek letters.

The families build their symbols with these functions, and the readings (printers,
the picture's folding) read names only through them, so that no other module parses
a name.

>>> weight(1, 2, 3), bias(1, 2), entry("Omega1[2,3]"), entry("beta0[4]"), entry("omega1")
('Omega1[2,3]', 'beta1[2]', ('Omega', '1', '2,3'), ('beta', '0', '4'), None)
>>> layer_of("h29"), layer_of("Omega3[0,1]"), layer_of("x")
(29, 3, None)
>>> greek("omega0"), greek("Omega1[2,3]"), greek("h1")
(True, True, False)
>>> preactivation("f12"), preactivation("h1"), preactivation("f1[0]")
(True, False, False)
"""

from __future__ import annotations

import re

_ENTRY = re.compile(r"(Omega|beta)([0-9]+)\[([0-9]+(?:,[0-9]+)?)\]")
_GREEK = re.compile(r"(omega|beta|Omega|alpha|gamma|phi|theta|sigma)[0-9]*(\[[0-9,]+\])?")
_LAYER = re.compile(r"([0-9]+)(\[[0-9,]+\])?$")
_PREACTIVATION = re.compile(r"f[0-9]+")


def weight(layer: int, i: int, j: int) -> str:
    """The name of Ω_layer's entry (i, j)."""
    return f"Omega{layer}[{i},{j}]"


def bias(layer: int, i: int) -> str:
    """The name of β_layer's entry i."""
    return f"beta{layer}[{i}]"


def entry(name: str) -> tuple[str, str, str] | None:
    """(letter, layer, index) of a network's weight or bias entry, or None."""
    match = _ENTRY.fullmatch(name)
    return match.groups() if match else None


def greek(name: str) -> bool:
    """Whether a name is a Greek letter's (a parameter, as the book writes them)."""
    return _GREEK.fullmatch(name) is not None


def layer_of(name: str) -> int | None:
    """The layer a name belongs to: the number it ends in (an entry's index aside)."""
    match = _LAYER.search(name)
    return int(match.group(1)) if match else None


def preactivation(name: str) -> bool:
    """Whether a name is a layer's affine step f_k, as the book counts layers."""
    return _PREACTIVATION.fullmatch(name) is not None


_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_TYPED = re.compile(r"([A-Za-z]+)([0-9]*)")


def loss_name(names) -> str | None:
    """The name printed ℓ among a program's step names: l where the program names its
    loss so, else None (then an l is a name of yours, printed l)."""
    return "l" if "l" in set(names) else None


def text_name(name: str, loss: str | None = "l") -> str:
    """A name as plain text in the book's notation: ω₀, f₃, ℓ, Ω₁[2,3]; ``loss`` is
    the name printed ℓ (None where a model's own parameter is called l).

    >>> text_name("omega0"), text_name("l"), text_name("Omega1[2,3]"), text_name("x_1")
    ('ω₀', 'ℓ', 'Ω₁[2,3]', 'x_1')
    """
    if name == loss:
        return "\u2113"
    from sympy.printing.pretty.pretty_symbology import greek_unicode  # SymPy, once asked

    found = entry(name)
    if found:
        greek, layer, index = found
        return f"{greek_unicode[greek]}{layer.translate(_SUBSCRIPT)}[{index}]"
    match = _TYPED.fullmatch(name)
    if not match:
        return name
    base, digits = match.groups()
    return greek_unicode.get(base, base) + digits.translate(_SUBSCRIPT)


def differentiated(p) -> str:
    """What program ``p``'s gradient is of, as printed: ℓ for a loss, else the output's
    own name (the logistic map's l₄, which is not a loss)."""
    output = next((s.name for s in p.steps if s.node is p.output), None)
    return "ℓ" if loss_name(s.name for s in p.steps) or output is None else \
        text_name(output, None)
