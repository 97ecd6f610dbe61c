"""Your own models: from command-line options or a TOML file, validated before any work.

The expression goes through :mod:`derive.models.parser` (nothing is executed); names
must match the grammar; values are plain decimal numbers, or ``@FILE`` for a
batch (``.csv``: numbers separated by commas or newlines; ``.npy``: a numeric
array, loaded without pickle).  A model file holds the same fields::

    title = "Notebook 7.1 toy model"
    expr = "beta3 + omega3*cos(beta2 + omega2*exp(beta1 + omega1*sin(beta0 + omega0*x)))"
                                    # or named steps, "f0 = beta0 + omega0*x; h1 = sin(f0); ...",
                                    # or a [steps] table (f0 = "beta0 + omega0*x", ...) in order
    loss = "least_squares"          # or "binary_cross_entropy"
    wrt = ["beta0", "omega0"]       # optional: default every parameter
    [params]
    beta0 = 1.0
    [inputs]
    x = 2.3                         # or "@x.csv"
    [target]
    y = 2.0                         # optional: without it, f itself is differentiated

Files named in a model file are found relative to it.  Output paths never
come from a model: only from ``--out``.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import sympy

from derive.base import files
from derive.base.errors import DeriveError
from derive.core.graph import topological_order
from derive.models.model import MAX_BATCH, Model, from_expression
from derive.core.rules import LOSSES
from derive.models.parser import LIMITS, ParseError, parse_name, parse_steps

TITLE = re.compile(r"[A-Za-z0-9 .,:;()'+*/=_-]{1,100}")
FILE_KEYS = {"title", "expr", "steps", "loss", "wrt", "params", "inputs", "target"}
_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def number(text, what: str) -> float:
    """A finite decimal number from text or a TOML value (no nan, inf or expressions)."""
    if isinstance(text, bool) or not isinstance(text, (int, float, str)):
        raise DeriveError(f"bad value for {what}: expected a number")
    if isinstance(text, str) and not _NUMBER.fullmatch(text.strip()):
        raise DeriveError(f"bad value for {what}: {text[:40]!r} is not a decimal number")
    if isinstance(text, int) and abs(text) > 10**308:
        raise DeriveError(f"bad value for {what}: a number of {len(str(abs(text)))} digits "
                          "is out of range")
    value = float(text)
    if not np.isfinite(value):
        raise DeriveError(f"bad value for {what}: the number is not finite (out of range)")
    return value


def load_values(path: Path, what: str) -> np.ndarray:
    """A 1-D float batch from a .csv or .npy file; its size is checked before the values
    are held (an .npy's header shape, a CSV's entries as they are read), and errors
    never quote the file's content."""
    if not os.path.lexists(path):
        raise DeriveError(f"bad value for {what}: no file {str(path)!r}")
    files.check(path, f"value for {what}:", files.BATCH_FILE_BYTES)  # a FIFO, /dev/zero
    try:
        if path.suffix == ".npy":
            array = _load_npy(path, what)
        elif path.suffix == ".csv":
            array = _load_csv(path, what)
        else:
            raise DeriveError(f"bad value for {what}: files must be .csv or .npy")
    except (ValueError, OSError) as error:
        if isinstance(error, DeriveError):
            raise
        raise DeriveError(f"bad value for {what}: cannot read {path.name} as "
                          f"{path.suffix[1:]}") from None
    if array.dtype.kind not in "iuf" or array.size == 0 or array.size > MAX_BATCH:
        raise DeriveError(f"bad value for {what}: {path.name} must hold 1 to {MAX_BATCH:,} numbers")
    array = np.asarray(array, dtype=float).ravel()
    if not np.all(np.isfinite(array)):
        raise DeriveError(f"bad value for {what}: {path.name} holds a NaN or infinity")
    return array


def _load_npy(path: Path, what: str) -> np.ndarray:
    """An .npy array, its header read first: a numeric dtype and at most MAX_BATCH
    entries, or an error before any allocation."""
    with open(path, "rb") as stream:
        try:
            version = np.lib.format.read_magic(stream)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(stream)
        except (ValueError, OSError):
            raise DeriveError(f"bad value for {what}: {path.name} is not an .npy array "
                              "(an .npz archive or another file)") from None
    if dtype.kind not in "iuf" or not 1 <= math.prod(shape) <= MAX_BATCH:
        raise DeriveError(f"bad value for {what}: {path.name} must hold 1 to {MAX_BATCH:,} "
                          "numbers")
    return np.load(path, allow_pickle=False)


def _load_csv(path: Path, what: str) -> np.ndarray:
    """A CSV's numbers, counted as they are read: more than MAX_BATCH stops the reading."""
    values = []
    text = files.read_bytes(path, f"value for {what}:", files.BATCH_FILE_BYTES).decode("utf-8")
    for line_number, line in enumerate(text.splitlines(), 1):
        for item in re.split(r"[,\s]+", line):
            if not item:
                continue
            if not _NUMBER.fullmatch(item):
                raise DeriveError(f"bad value for {what}: line {line_number} of "
                                  f"{path.name} holds something that is not a decimal "
                                  "number")
            values.append(float(item))
            if len(values) > MAX_BATCH:
                raise DeriveError(f"bad value for {what}: {path.name} must hold 1 to "
                                  f"{MAX_BATCH:,} numbers")
    return np.array(values, dtype=float)


def value_of(raw, what: str, base: Path, inside: list[Path] | None = None):
    """A number, or ``@FILE`` (relative to ``base``) for a batch.  With ``inside`` (a
    model file's folder, and any ``--allow-path``), the file must lie within one of them."""
    if isinstance(raw, str) and raw.startswith("@"):
        path = base / raw[1:]
        if inside is not None and not any(path.resolve().is_relative_to(folder.resolve())
                                          for folder in inside):
            raise DeriveError(f"bad value for {what}: a model file may name only files in "
                              "its own folder (give --allow-path DIR to allow another)")
        return load_values(path, what)
    return number(raw, what)


def assignments(items, what: str, base: Path) -> dict[str, object]:
    """['b0=0.5', 'x=@x.csv'] -> {'b0': 0.5, 'x': array}; names validated, no repeats."""
    out: dict[str, object] = {}
    for item in items or []:
        name, eq, raw = item.partition("=")
        if not eq:
            raise DeriveError(f"bad {what} {item[:60]!r}: expected NAME=VALUE")
        name = parse_name(name.strip(), what, entry=True)
        if name in out:
            raise DeriveError(f"bad {what}: {name!r} given twice")
        out[name] = value_of(raw.strip(), f"{what} {name}", base)
    return out


def check_title(title) -> str:
    if title is None:
        return "expression"
    if not isinstance(title, str) or not TITLE.fullmatch(title):
        raise DeriveError("bad title: use 1 to 100 letters, digits, spaces and . , : ; ( ) ' "
                          "+ - * / = _ (no markup)")
    return title


def from_text(expr: str, params: dict, inputs: dict, target: dict | None = None,
              wrt=None, loss: str = "least_squares", title: str | None = None) -> Model:
    """A model from user text and values; every name checked before any work.

    >>> m = from_text("b + w*tanh(x)", {"b": 0.5, "w": -1.0}, {"x": 2.0}, {"y": 1.0})
    >>> [str(s) for s in m.wrt], m.name
    (['b', 'w'], 'expression')
    """
    title = check_title(title)
    if len(params) + len(inputs) + len(target or {}) > LIMITS["symbols"]:
        raise DeriveError(f"more than {LIMITS['symbols']:,} names declared")
    for name in [*params, *inputs, *(target or {})]:
        parse_name(name)  # network entries (Omega1[2,3]) are for families only
    if loss not in LOSSES:
        raise DeriveError(f"bad loss {str(loss)[:40]!r}: choose from {', '.join(LOSSES)}")
    prediction, steps = parse_steps(expr)
    declared = {**params, **inputs, **(target or {})}
    if len(declared) != len(params) + len(inputs) + len(target or {}):
        raise DeriveError("a name is declared twice among parameters, inputs and target")
    order = topological_order(prediction)
    _check_steps(steps, declared, set(order))
    used = {s.name for s in order if s.is_Symbol}
    undeclared = sorted(used - set(params) - set(inputs))
    if undeclared:
        raise DeriveError(f"undeclared name {undeclared[0]!r} in the expression: give it "
                          f"with --param {undeclared[0]}=VALUE or --input {undeclared[0]}=VALUE")
    if target and set(target) & used:
        raise DeriveError(f"the target {next(iter(target))!r} appears in the expression")
    _same_batch(declared)
    symbol = {name: sympy.Symbol(name) for name in declared}
    wrt_names = list(params) if wrt is None else [parse_name(w, "--wrt name") for w in wrt]
    repeated = sorted({w for w in wrt_names if wrt_names.count(w) > 1})
    if repeated:
        raise DeriveError(f"bad --wrt: {repeated[0]!r} is repeated")
    unknown = [w for w in wrt_names if w not in params and w not in inputs]
    if unknown or not wrt_names:
        raise DeriveError(f"bad --wrt: {unknown[0]!r} is not a declared parameter or input"
                          if unknown else "nothing to differentiate: declare a --param")
    return from_expression(prediction, {symbol[k]: v for k, v in params.items()},
                           {symbol[k]: v for k, v in inputs.items()},
                           {symbol[k]: v for k, v in (target or {}).items()} or None,
                           [symbol[w] for w in wrt_names], title, names=steps, loss=loss)


def _check_steps(steps: dict, declared: dict, nodes: set):
    """Named steps: none named like a declared value, each one used."""
    for node, name in steps.items():
        if name in declared:
            raise DeriveError(f"{name!r} is both a step and a declared value: rename one")
        if node not in nodes:
            raise DeriveError(f"step {name!r} is defined but the prediction does not use it")


def _same_batch(values: dict):
    sizes = {np.size(v) for v in values.values() if np.ndim(v) > 0}
    if len(sizes) > 1:
        raise DeriveError(f"batch files differ in length: {sorted(sizes)}")


def from_toml(path, allow_path=None) -> Model:
    """A model from a TOML model file (see the module docstring).  Its ``@FILE`` values
    must lie in the file's own folder, or in ``allow_path``."""
    path = Path(path)
    if not os.path.lexists(path):
        raise DeriveError(f"no model file {str(path)!r}")
    try:
        text = files.read_bytes(path, "model file", files.MODEL_FILE_BYTES).decode("utf-8")
        if files.nesting(text) > files.MAX_NESTING:
            raise DeriveError(f"bad model file {path.name}: brackets nest deeper than "
                              f"{files.MAX_NESTING}")
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError, ValueError,
            RecursionError) as error:
        if isinstance(error, DeriveError):
            raise
        raise DeriveError(f"bad model file {path.name}: {str(error)[:200]}") from None
    extra = sorted(set(data) - FILE_KEYS)
    if extra:
        raise DeriveError(f"bad model file {path.name}: unknown key {extra[0]!r}; "
                          f"known: {', '.join(sorted(FILE_KEYS))}")
    text = _expression_text(data, path.name)
    base = path.parent
    inside = [base] + ([Path(allow_path)] if allow_path else [])
    tables = {}
    for key in ("params", "inputs", "target"):
        table = data.get(key, {})
        if not isinstance(table, dict):
            raise DeriveError(f"bad model file {path.name}: [{key}] must be a table")
        if len(table) > LIMITS["symbols"]:
            raise DeriveError(f"bad model file {path.name}: [{key}] declares more than "
                              f"{LIMITS['symbols']:,} names")
        tables[key] = {parse_name(k, f"{key} name"): value_of(v, f"{key} {k}", base, inside)
                       for k, v in table.items()}
    if len(tables["target"]) > 1:
        raise DeriveError(f"bad model file {path.name}: [target] holds one name")
    wrt = data.get("wrt")
    if wrt is not None and not (isinstance(wrt, list) and all(isinstance(w, str) for w in wrt)):
        raise DeriveError(f"bad model file {path.name}: 'wrt' must be a list of names")
    title = data.get("title", path.stem if TITLE.fullmatch(path.stem) else None)
    loss = data.get("loss", "least_squares")
    if not isinstance(loss, str) or not isinstance(title, (str, type(None))):
        raise DeriveError(f"bad model file {path.name}: 'loss' and 'title' must be strings")
    return from_text(text, tables["params"], tables["inputs"], tables["target"] or None,
                     wrt, loss, title)


def _expression_text(data: dict, filename: str) -> str:
    """A model file's expression: ``expr``, after the ``[steps]`` table's definitions
    in order (the last definition is the prediction where there is no ``expr``)."""
    steps = data.get("steps", {})
    if not isinstance(steps, dict) or not all(isinstance(v, str) for v in steps.values()):
        raise DeriveError(f"bad model file {filename}: [steps] must be a table of "
                          'NAME = "expression"')
    expr = data.get("expr")
    if expr is None and steps:
        expr = ""
    if not isinstance(expr, str):
        raise DeriveError(f"bad model file {filename}: 'expr' must be a string "
                          "(or give a [steps] table)")
    lines = [f"{parse_name(name, 'step name')} = {text}" for name, text in steps.items()]
    return "\n".join(lines + ([expr] if expr.strip() else []))


def with_values(model: Model, values: dict[str, object]) -> Model:
    """A family model with some values replaced (names must exist in the model)."""
    by_name = {str(s): s for s in model.values}
    new = dict(model.values)
    for name, value in values.items():
        if name not in by_name:
            raise DeriveError(f"{model.name} has no symbol {name!r}; it has "
                              f"{', '.join(by_name)}")
        new[by_name[name]] = value
    _same_batch({str(k): v for k, v in new.items()})
    return replace(model, values=new)


__all__ = ["ParseError", "from_text", "from_toml", "with_values"]
