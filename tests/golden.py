"""Golden files compared as a reader would: words exact, numbers within tolerance.

Floats differ in their last bits between CPUs (numpy's SIMD kernels for sin, exp
and logspace, BLAS builds, thread counts), and so do their printed digits. A
committed report is therefore compared token by token: every run of text that
is not a number must match exactly (names, structure, integer sizes as printed),
and every number must agree with its counterpart by :func:`numbers_agree`.

>>> same("h1 = 0.942, tree 91 nodes", "h1 = 0.9424, tree 91 nodes")
True
>>> same("tree 91 nodes", "tree 92 nodes")
False
>>> same("rel. error 1.6544e-07", "rel. error 1.6519e-07")
True
>>> same("difference 5.8e\u221216", "difference 2.9e\u221216")
True
"""

from __future__ import annotations

import math
import re

NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?|\.\d+)(?:[eE]([-+\u2212]?\d+))?(?![\w.])")
"""An unsigned decimal number, its exponent's sign a hyphen or a true minus (a sign in
front stays in the text)."""

RTOL = 1e-8
"""Relative tolerance for numbers above :data:`NOISE`: a central difference moves by
about 1e-11 relative between CPUs, a least-squares fit by a few ulps."""

NOISE = 1e-6
"""Below this, a number is an error measure (a relative error, a Hessian difference,
an error estimate): rounding noise, compared by order of magnitude."""

FLOOR = 1e-12
"""Two numbers both below this agree (rounding noise that may be 0 on one CPU)."""


def unit(token: str) -> float:
    """Half a unit in the last printed place of ``token`` ("1.230" -> 0.0005); 0 for a
    number printed without a decimal point (integers, sizes: those are exact).

    >>> unit("1.230"), unit("91"), unit("1.7e-07") == 0.5e-08
    (0.0005, 0.0, True)
    """
    mantissa, _, exponent = value_text(token).lower().partition("e")
    if "." not in mantissa:
        return 0.0
    places = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (int(exponent or 0) - places)


def value_text(token: str) -> str:
    """The token as Python reads a float (a true minus in the exponent as a hyphen)."""
    return token.replace("\u2212", "-")


def numbers_agree(a: float, b: float, slack: float = 0.0) -> bool:
    """|a - b| <= RTOL·max(|a|, |b|) + slack (the printed rounding of both), or, where
    both are error measures below :data:`NOISE`, within a factor of two (or both below
    :data:`FLOOR`).

    >>> numbers_agree(1e-05, 9.999999999999999e-06), numbers_agree(1.0, 1.001)
    (True, False)
    """
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b or (math.isnan(a) and math.isnan(b))
    big = max(abs(a), abs(b))
    if abs(a - b) <= RTOL * big + slack:
        return True
    if big < FLOOR:
        return True
    return big < NOISE and abs(a - b) <= 0.5 * big


def split(text: str) -> tuple[list[str], list[str]]:
    """The text between numbers, and the numbers, as printed."""
    words, numbers, last = [], [], 0
    for match in NUMBER.finditer(text):
        words.append(text[last:match.start()])
        numbers.append(match.group(0))
        last = match.end()
    words.append(text[last:])
    return words, numbers


def differences(fresh: str, committed: str, most: int = 5) -> list[str]:
    """Where ``fresh`` and ``committed`` differ beyond tolerance (at most ``most``)."""
    words_a, numbers_a = split(fresh)
    words_b, numbers_b = split(committed)
    found = []
    if len(numbers_a) != len(numbers_b) or words_a != words_b:
        for i, (a, b) in enumerate(zip(words_a, words_b)):
            if a != b:
                at = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
                found.append(f"text differs after number {i}: {a[max(0, at - 30):at + 50]!r} "
                             f"!= {b[max(0, at - 30):at + 50]!r}")
                break
        else:
            found.append(f"{len(numbers_a)} numbers != {len(numbers_b)}")
        return found
    for i, (a, b) in enumerate(zip(numbers_a, numbers_b)):
        if not numbers_agree(float(value_text(a)), float(value_text(b)), unit(a) + unit(b)):
            found.append(f"number {i} ({words_a[i][-40:]!r}): {a} != {b}")
            if len(found) >= most:
                break
    return found


def same(fresh: str, committed: str) -> bool:
    """Whether two texts agree word for word and number within tolerance."""
    return not differences(fresh, committed)


def json_differences(fresh, committed, atol=lambda path: 0.0, path=(), most: int = 5) -> list:
    """Where two parsed JSON values differ beyond tolerance: keys, lengths, strings,
    booleans and integers exactly; floats by :func:`numbers_agree`, plus ``atol(path)``
    (a path is the tuple of keys and indices from the root).

    >>> json_differences({"a": [1, 0.1]}, {"a": [1, 0.1 + 1e-17]})
    []
    >>> json_differences({"a": 1}, {"a": 2})
    ['a: 1 != 2']
    """
    where = ".".join(map(str, path))
    if isinstance(fresh, float) and isinstance(committed, float):
        return [] if numbers_agree(fresh, committed, atol(path)) else [
            f"{where}: {fresh!r} != {committed!r}"]
    if type(fresh) is not type(committed):
        return [f"{where}: {type(fresh).__name__} != {type(committed).__name__}"]
    if isinstance(fresh, dict):
        if fresh.keys() != committed.keys():
            return [f"{where}: keys {sorted(fresh.keys() ^ committed.keys())} differ"]
        pairs = [(k, fresh[k], committed[k]) for k in fresh]
    elif isinstance(fresh, list):
        if len(fresh) != len(committed):
            return [f"{where}: {len(fresh)} items != {len(committed)}"]
        pairs = [(i, a, b) for i, (a, b) in enumerate(zip(fresh, committed))]
    else:
        return [] if fresh == committed else [f"{where}: {fresh!r} != {committed!r}"]
    found = []
    for key, a, b in pairs:
        found += json_differences(a, b, atol, (*path, key), most)
        if len(found) >= most:
            break
    return found[:most]
