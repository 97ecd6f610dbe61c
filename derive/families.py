"""One registry of model families: how a name parses, how a member is built,
what its growth sweep is, and the default name of its output folder.

Members (:func:`model`): ``toy``, ``chain:LIST[*K]``, ``logistic:N``,
``mlp:D0-...-DK[:ACT]``, ``mlp:udl72``; a model file ``FILE.toml``
(:func:`load`); a user expression (``--expr``, :mod:`derive.usermodels`).

Sweep families (:func:`member` builds one at a depth): a chain list cycled to
each depth (``sin,exp,cos``), ``logistic`` (depth = N), ``mlp:W[:ACT]``
(depth = hidden layers of width W) and ``mlp-width:K[:ACT]`` (the "depth" is
the width of K hidden layers).  :func:`sweeps` maps any name, member or
family, to the families it sweeps: ``toy``, ``chain:sin,exp,cos*2`` and
``sin,exp,cos`` all sweep ``sin,exp,cos``.  Batch draws belong to the model
(:attr:`derive.models.Model.draw`), set by the family that builds it.

>>> sweeps("toy"), sweeps("chain:sin,exp,cos*2"), sweeps("mlp:udl72")
(['sin,exp,cos'], ['sin,exp,cos'], ['mlp:6:relu', 'mlp-width:5:relu'])
>>> model("chain:tanh*0")
Traceback (most recent call last):
...
derive.errors.DeriveError: bad model 'chain:tanh*0': the repeat count K in chain:LIST*K must be a whole number from 1 to 512
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import DeriveError, require_text
from .models import (CHAIN_X, CHAIN_Y, MAX_LOGISTIC, TOY_LAYERS, Model, chain, chain_values,
                     check_seed, logistic, parse_chain, toy)
from .network import UDL72, mlp, parse_mlp
from .usermodels import from_toml

ACCEPTED = ("toy, chain:LIST, chain:LIST*K (LIST of primitives), logistic:N, "
            "mlp:D0-D1-...-DK[:ACT] or mlp:udl72")


@dataclass(frozen=True)
class Family:
    """A family of members named ``NAME`` or ``NAME:ARG``."""

    name: str
    build: Callable[[str, str, int], Model]   # (spec, arg, seed) -> the member
    sweeps: Callable[[str, str], list[str]]   # (spec, arg) -> the families it sweeps


def _toy(spec, arg, seed):
    _toy_sweeps(spec, arg)
    return toy()


def _toy_sweeps(spec, arg):
    if arg:
        raise _bad(spec, f"expected {ACCEPTED}")
    return [TOY_LAYERS]


def _chain(spec, arg, seed):
    layers = parse_chain(arg, spec)
    beta, omega = chain_values(layers, seed)
    return chain(layers, beta, omega, CHAIN_X, CHAIN_Y, spec)


def _logistic(spec, arg, seed):
    if not re.fullmatch(r"[0-9]+", arg) or not 1 <= int(arg) <= MAX_LOGISTIC:
        raise _bad(spec, f"logistic:N needs a whole number N from 1 to {MAX_LOGISTIC}")
    return logistic(int(arg))


def _mlp_sweeps(spec, arg):
    dims, act = (UDL72["dims"], UDL72["act"]) if arg == "udl72" else parse_mlp(spec)
    hidden = dims[1:-1] or (1,)
    return [f"mlp:{hidden[0]}:{act}", f"mlp-width:{len(dims) - 2 or 1}:{act}"]


def _chain_sweeps(spec, arg):
    parse_chain(arg, spec)  # a bad name fails before any work
    return [",".join(name.strip() for name in arg.partition("*")[0].split(","))]


def _logistic_sweeps(spec, arg):
    _logistic(spec, arg, 0)
    return ["logistic"]


FAMILIES = {
    "toy": Family("toy", _toy, _toy_sweeps),
    "chain": Family("chain", _chain, _chain_sweeps),
    "logistic": Family("logistic", _logistic, _logistic_sweeps),
    "mlp": Family("mlp", lambda spec, arg, seed: mlp(spec, seed), _mlp_sweeps),
}


def _split(spec: str) -> tuple[str, str, Family]:
    spec = (spec or "").strip()
    if not spec:
        raise DeriveError(f"empty model name: expected {ACCEPTED}")
    head, _, arg = spec.partition(":")
    if head not in FAMILIES:
        raise _bad(spec, f"expected {ACCEPTED}")
    return spec, arg, FAMILIES[head]


def model(spec: str, seed: int = 0) -> Model:
    """A family member from its name; a one-line :class:`DeriveError` if the name is bad.

    >>> round(float(model("toy").evaluate()), 3)
    0.139
    """
    spec, arg, family = _split(require_text(spec, "a model name"))
    return family.build(spec, arg, check_seed(seed))


def load(spec: str, seed: int = 0, allow_path=None) -> Model:
    """A member by name, or the model a file ``FILE.toml`` describes."""
    require_text(spec, "a model name")
    return from_toml(spec, allow_path) if spec.endswith(".toml") else model(spec, seed)


# ---- sweeps ------------------------------------------------------------------------


def _is_sweep(name: str) -> bool:
    return (name == "logistic" or name.startswith("mlp-width:")
            or bool(re.fullmatch(r"mlp:[0-9]+(:[A-Za-z0-9_]*)?", name))
            or (":" not in name and name != "toy"))


def sweeps(spec: str) -> list[str]:
    """The sweep families of a name: itself if it is one, else its member's families."""
    spec = (spec or "").strip()
    if _is_sweep(spec):
        return [spec]
    spec, arg, family = _split(spec)
    return family.sweeps(spec, arg)


def _network(family: str, depth: int) -> str:
    """The member name of an mlp sweep family at ``depth``."""
    kind, _, rest = family.partition(":")
    size, _, act = rest.partition(":")
    if not re.fullmatch(r"[0-9]+", size) or int(size) < 1:
        raise DeriveError(f"bad family {family!r}: expected mlp:W[:ACT] (depth sweep at "
                          "width W) or mlp-width:K[:ACT] (width sweep with K hidden layers)")
    hidden = [int(size)] * depth if kind == "mlp" else [depth] * int(size)
    return "mlp:" + "-".join(map(str, [1, *hidden, 1])) + (f":{act}" if act else "")


def check_member(family: str, depth: int) -> None:
    """Whether the family's member at ``depth`` is within the limits, without building
    it: a one-line :class:`DeriveError` if not (cost: parsing a name)."""
    if family == "logistic":
        if depth > MAX_LOGISTIC:
            raise _bad(f"logistic:{depth}", f"logistic:N needs N from 1 to {MAX_LOGISTIC}")
    elif family.startswith(("mlp:", "mlp-width:")):
        parse_mlp(_network(family, depth))
    else:
        cycle = parse_chain(family, f"chain:{family}")
        parse_chain(f"{','.join(cycle[:1])}*{depth}", f"chain:{family} at depth {depth}")


def largest(family: str, depths: range) -> tuple[range, str | None]:
    """The depths whose members are within the limits (a prefix: the limits grow with
    depth), and a note naming the first one left out."""
    last = depths.stop - 1
    while last >= depths.start:
        try:
            check_member(family, last)
            break
        except DeriveError as error:
            why = str(error)
            last -= 1
    if last == depths.stop - 1:
        return depths, None
    if last < depths.start:
        raise DeriveError(f"no member of {family} in depths {depths.start}:{depths.stop - 1} "
                          f"is within the limits: {why}")
    return (range(depths.start, last + 1),
            f"{family} stops at {axis(family)} {last}: the next member is over the limits ({why})")


def member(family: str, depth: int, seed: int = 0) -> Model:
    """The sweep family's model at ``depth``.

    ``logistic``: l_depth.  A chain list: cycled to ``depth`` layers.
    ``mlp:W[:ACT]``: ``depth`` hidden layers of width W (input and output
    width 1).  ``mlp-width:K[:ACT]``: K hidden layers of width ``depth``.
    """
    if family == "logistic":
        return logistic(depth)
    if family.startswith(("mlp:", "mlp-width:")):
        return mlp(_network(family, depth), seed)
    cycle = parse_chain(family, f"chain:{family}")
    layers = [cycle[k % len(cycle)] for k in range(depth)]
    beta, omega = chain_values(layers, seed)
    return chain(layers, beta, omega, CHAIN_X, CHAIN_Y, f"chain:{','.join(layers)}")


def axis(family: str) -> str:
    """What a sweep's "depth" column counts: the width, for an mlp-width family."""
    return "width" if family.startswith("mlp-width:") else "depth"


# ---- output names ------------------------------------------------------------------


def output_name(spec: str | None, expression: str | None = None,
                title: str | None = None) -> str:
    """The default report folder, distinct per model:

    * a family member: ``reports/<its full name>``, every character but letters,
      digits, ``.``, ``_`` and ``-`` made ``_`` (``logistic:3`` → ``reports/logistic_3``);
    * a model file: ``reports/file-<its stem>``;
    * an expression (``spec`` None): ``reports/expr-<title>``, or without a title
      ``reports/expr-<the first 8 hex digits of the text's SHA-256>``.

    >>> output_name("chain:sin,exp,cos*4"), output_name("examples/toy.toml")
    ('reports/chain_sin_exp_cos_4', 'reports/file-toy')
    >>> output_name(None, "w*x"), output_name(None, "w*x", "my model")
    ('reports/expr-ad1a4904', 'reports/expr-my_model')
    """
    if spec is None:
        label = "expr-" + (title or hashlib.sha256((expression or "").encode()).hexdigest()[:8])
    elif spec.endswith(".toml"):
        label = "file-" + Path(spec).stem
    else:
        label = spec.strip()
    return "reports/" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("._") or "model")


def _bad(spec: str, why: str) -> DeriveError:
    return DeriveError(f"bad model {spec!r}: {why}")
