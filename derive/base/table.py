"""A small table: rows a user can index by name or position, printed aligned.

>>> t = Table(["name", "value"], [{"name": "f0", "value": 1.23}, {"name": "h1", "value": 0.942}])
>>> t["h1"]["value"]
0.942
>>> print(t)
name  value
----  -----
f0    1.230
h1    0.942
"""

from __future__ import annotations

import json
import math

import numpy as np

from derive.base.streams import spelled


class Table:
    """Rows (dicts) with ordered columns; ``table[name]`` or ``table[i]`` gives a row."""

    def __init__(self, columns: list[str], rows: list[dict], key: str = "name",
                 headers: dict | None = None):
        self.columns, self.rows, self.key = list(columns), list(rows), key
        self.headers = {c: c for c in self.columns} | (headers or {})

    def __getitem__(self, item):
        if isinstance(item, int):
            return self.rows[item]
        for row in self.rows:
            if row[self.key] == item:
                return row
        raise KeyError(item)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __str__(self) -> str:
        cells = [[spelled(cell(row.get(c))) for c in self.columns] for row in self.rows]
        header = [spelled(self.headers[c]) for c in self.columns]
        width = [max(len(x) for x in col) for col in zip(header, *cells)]
        numeric = [all(_is_number(row.get(c)) for row in self.rows) for c in self.columns]

        def line(items):
            return "  ".join(x.rjust(w) if num else x.ljust(w)
                             for x, w, num in zip(items, width, numeric)).rstrip()

        return "\n".join([line(header), line(["-" * w for w in width]),
                          *map(line, cells)])


def plain(value):
    """A float, or a list of floats for a batch: a value as JSON and tables hold it."""
    array = np.asarray(value, dtype=float)
    return float(array) if array.ndim == 0 else array.tolist()


NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
"""How JSON outputs write what is not a finite number (JSON has no NaN or Infinity)."""


def json_text(value, **options) -> str:
    """``json.dumps`` with NaN and infinities as the strings "nan", "inf", "-inf".

    >>> json_text({"a": [1.5, float("nan")], "b": float("-inf")})
    '{"a": [1.5, "nan"], "b": "-inf"}'
    """
    return json.dumps(_finite_json(value), allow_nan=False, **options)


def _finite_json(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def brief(value, items: int = 3, digits: int = 6) -> str:
    """A number or array in a few characters: '1.23', '[1, 2, 3, ...]' (the first
    ``items`` entries, 6 significant digits), '-' for None; a single number to ``digits``.

    >>> brief([1.0, 2.5, 3.0, 4.0]), brief(0.17565884712, digits=10), brief(None)
    ('[1, 2.5, 3, ...]', '0.1756588471', '-')
    """
    if value is None:
        return "-"
    flat = np.asarray(list(_numbers(value)), dtype=float)  # ragged lists (layers) too
    flat = flat + 0.0  # no "-0"
    if flat.size == 1:
        return f"{flat[0]:.{digits}g}"
    shown = ", ".join(f"{v:.6g}" for v in flat[:items])
    return f"[{shown}{', ...' if flat.size > items else ''}]"


def _numbers(value):
    """The numbers of a nested list or array, in order."""
    if isinstance(value, np.ndarray):
        yield from value.reshape(-1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _numbers(v)
    else:
        yield value


def cell(value) -> str:
    """A value as a table prints it."""
    if value is None:
        return "-"
    if isinstance(value, list):
        shown = ", ".join(cell(v) for v in value[:6])
        return f"[{shown}{', ...' if len(value) > 6 else ''}]"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        value += 0.0  # no "-0.000"
        if math.isfinite(value) and value != 0 and not 1e-3 <= abs(value) < 1e6:
            return f"{value:.3e}"
        return f"{value:.3f}"
    return str(value)
