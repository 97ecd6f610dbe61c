"""One registry of model families: each family is one :class:`Family` record, holding
its name grammar (read by the parser, the CLI's help and the README's table), its
builder, the sweep families its members grow along (each a :class:`Sweep`: members by
depth, their limits and what the depth counts) and the default name of its output
folder.  :func:`register` adds a family; nothing else in derive names one.

Members (:func:`model`): ``toy``, ``chain:LIST[*K]``, ``logistic:N``,
``mlp:D0-...-DK[:ACT]``, ``mlp:udl72``; a model file ``FILE.toml``
(:func:`load`); a user expression (``--expr``, :mod:`derive.models.user`).

Sweep families (:func:`member` builds one at a depth): a chain list cycled to
each depth (``sin,exp,cos``), ``logistic`` (depth = N), ``mlp:W[:ACT]``
(depth = hidden layers of width W) and ``mlp-width:K[:ACT]`` (the "depth" is
the width of K hidden layers).  :func:`sweeps` maps any name, member or
family, to the families it sweeps: ``toy``, ``chain:sin,exp,cos*2`` and
``sin,exp,cos`` all sweep ``sin,exp,cos``.  Batch draws belong to the model
(:attr:`derive.models.model.Model.draw`), set by the family that builds it.

>>> sweeps("toy"), sweeps("chain:sin,exp,cos*2"), sweeps("mlp:udl72")
(['sin,exp,cos'], ['sin,exp,cos'], ['mlp:6:relu', 'mlp-width:5:relu'])
>>> model("chain:tanh*0")
Traceback (most recent call last):
...
derive.base.errors.DeriveError: bad model 'chain:tanh*0': the repeat count K in chain:LIST*K must be a whole number from 1 to 512
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from derive.base.errors import DeriveError, require_text

# Light on purpose: `derive --help` reads the grammars here, so the builders import the
# models (SymPy, numpy) only when they run.


@dataclass(frozen=True)
class Sweep:
    """A sweep family: one member per depth (``derive sizes``, the report's growth)."""

    name: str
    member: Callable[[int, int], object]   # (depth, seed) -> the Model at that depth
    check: Callable[[int], None]           # (depth) -> None, or a DeriveError over the limits
    axis: str = "depth"                    # what the depth counts ("width" for mlp-width)


@dataclass(frozen=True)
class Family:
    """A family of members named ``NAME`` or ``NAME:ARG``: one record, read everywhere."""

    name: str
    grammar: str                           # its names, for errors: "logistic:N"
    help: str                              # its names with examples, for --help
    build: Callable[[str, str, int], object]   # (spec, arg, seed) -> the member
    sweeps: Callable[[str, str], list[str]]    # (spec, arg) -> the sweep families it grows in
    sweep: Callable[[str], Sweep | None] = lambda name: None  # a sweep family's name read
    sweep_help: str = ""                   # its sweep families' names, for sizes --help
    folder: Callable[[str], str] | None = None  # its default output folder, if not the name's


FAMILIES: dict[str, Family] = {}
"""The registry, in the order the help lists it."""


def register(family: Family) -> Family:
    """Add (or replace) a family: every command, the help and the errors then know it."""
    FAMILIES[family.name] = family
    return family


def accepted() -> str:
    """Every family's grammar, as an error lists what a model name may be."""
    return ", ".join(f.grammar for f in FAMILIES.values())


def model_help() -> str:
    """Every family's names with examples, as ``--help`` lists them."""
    return ", ".join(f.help for f in FAMILIES.values())


def sweep_help() -> str:
    """Every sweep family's names, as ``sizes --help`` lists them."""
    return ", ".join(f.sweep_help for f in FAMILIES.values() if f.sweep_help)


# ---- the families ------------------------------------------------------------------


def _toy(spec, arg, seed):
    _toy_sweeps(spec, arg)
    from derive.models.model import toy
    return toy()


def _toy_sweeps(spec, arg):
    if arg:
        raise _bad(spec, f"expected {accepted()}")
    from derive.models.model import TOY_LAYERS
    return [TOY_LAYERS]


def _chain(spec, arg, seed):
    from derive.models.model import CHAIN_X, CHAIN_Y, chain, chain_values, parse_chain
    layers = parse_chain(arg, spec)
    beta, omega = chain_values(layers, seed)
    return chain(layers, beta, omega, CHAIN_X, CHAIN_Y, spec)


def _chain_sweeps(spec, arg):
    from derive.models.model import parse_chain
    parse_chain(arg, spec)  # a bad name fails before any work
    return [",".join(name.strip() for name in arg.partition("*")[0].split(","))]


def _chain_sweep(name):
    """A chain list cycled to each depth (``sin,exp,cos``): any name without a colon
    that names no family."""
    if ":" in name or name in FAMILIES:
        return None
    from derive.models.model import CHAIN_X, CHAIN_Y, chain, chain_values, parse_chain

    def member(depth, seed):
        cycle = parse_chain(name, f"chain:{name}")
        layers = [cycle[k % len(cycle)] for k in range(depth)]
        beta, omega = chain_values(layers, seed)
        return chain(layers, beta, omega, CHAIN_X, CHAIN_Y, f"chain:{','.join(layers)}")

    def check(depth):
        cycle = parse_chain(name, f"chain:{name}")
        parse_chain(f"{','.join(cycle[:1])}*{depth}", f"chain:{name} at depth {depth}")

    return Sweep(name, member, check)


def _logistic(spec, arg, seed):
    from derive.base.limits import MAX_LOGISTIC
    from derive.models.model import logistic
    if not re.fullmatch(r"[0-9]+", arg) or not 1 <= int(arg) <= MAX_LOGISTIC:
        raise _bad(spec, f"logistic:N needs a whole number N from 1 to {MAX_LOGISTIC}")
    return logistic(int(arg))


def _logistic_sweeps(spec, arg):
    _logistic(spec, arg, 0)
    return ["logistic"]


def _logistic_sweep(name):
    """``logistic``: l_N at depth N."""
    if name != "logistic":
        return None
    from derive.base.limits import MAX_LOGISTIC
    from derive.models.model import logistic

    def check(depth):
        if depth > MAX_LOGISTIC:
            raise _bad(f"logistic:{depth}", f"logistic:N needs N from 1 to {MAX_LOGISTIC}")

    return Sweep(name, lambda depth, seed: logistic(depth), check)


def mlp(spec: str, seed: int = 0):
    """A network member (:func:`derive.models.network.mlp`), its module imported when first built."""
    from derive.models.network import mlp as network_member
    return network_member(spec, seed)


def _mlp(spec, arg, seed):
    return mlp(spec, seed)


def _mlp_sweeps(spec, arg):
    from derive.models.network import UDL72, parse_mlp
    dims, act = (UDL72["dims"], UDL72["act"]) if arg == "udl72" else parse_mlp(spec)
    hidden = dims[1:-1] or (1,)
    return [f"mlp:{hidden[0]}:{act}", f"mlp-width:{len(dims) - 2 or 1}:{act}"]


def _mlp_sweep(name):
    """``mlp:W[:ACT]``, depth hidden layers of width W; ``mlp-width:K[:ACT]``, K hidden
    layers of width depth."""
    head, _, rest = name.partition(":")
    if not (head == "mlp-width" or re.fullmatch(r"mlp:[0-9]+(:[A-Za-z0-9_]*)?", name)):
        return None
    from derive.models.network import parse_mlp
    size, _, act = rest.partition(":")

    def network(depth):
        if not re.fullmatch(r"[0-9]+", size) or int(size) < 1:
            raise DeriveError(f"bad family {name!r}: expected mlp:W[:ACT] (depth sweep at "
                              "width W) or mlp-width:K[:ACT] (width sweep with K hidden "
                              "layers)")
        hidden = [int(size)] * depth if head == "mlp" else [depth] * int(size)
        return "mlp:" + "-".join(map(str, [1, *hidden, 1])) + (f":{act}" if act else "")

    def check(depth):
        parse_mlp(network(depth))

    return Sweep(name, lambda depth, seed: mlp(network(depth), seed), check,
                 "width" if head == "mlp-width" else "depth")


register(Family("toy", "toy", "toy (notebook 7.1, the default)", _toy, _toy_sweeps))
register(Family("chain", "chain:LIST, chain:LIST*K (LIST of primitives)",
                "chain:LIST or chain:LIST*K (e.g. chain:sin,exp,cos*4, chain:tanh*12)",
                _chain, _chain_sweeps, _chain_sweep,
                "a chain list cycled to each depth (e.g. sin,exp,cos or tanh)"))
register(Family("logistic", "logistic:N", "logistic:N", _logistic, _logistic_sweeps,
                _logistic_sweep, "logistic (depth = N)"))
register(Family("mlp", "mlp:D0-D1-...-DK[:ACT] or mlp:udl72",
                "mlp:D0-D1-...-DK[:ACT] (e.g. mlp:1-6-6-1:tanh) or mlp:udl72 (notebook 7.2)",
                _mlp, _mlp_sweeps, _mlp_sweep,
                "mlp:W[:ACT] (depth = hidden layers of width W) or mlp-width:K[:ACT] "
                "(depth = the width of K hidden layers)"))


# ---- members ---------------------------------------------------------------------


def _split(spec: str) -> tuple[str, str, Family]:
    spec = (spec or "").strip()
    if not spec:
        raise DeriveError(f"empty model name: expected {accepted()}")
    head, _, arg = spec.partition(":")
    if head not in FAMILIES:
        raise _bad(spec, f"expected {accepted()}")
    return spec, arg, FAMILIES[head]


def model(spec: str, seed: int = 0):
    """A family member from its name; a one-line :class:`DeriveError` if the name is bad.

    >>> round(float(model("toy").evaluate()), 3)
    0.139
    """
    from derive.models.model import check_seed
    spec, arg, family = _split(require_text(spec, "a model name"))
    return family.build(spec, arg, check_seed(seed))


def load(spec: str, seed: int = 0, allow_path=None):
    """A member by name, or the model a file ``FILE.toml`` describes."""
    require_text(spec, "a model name")
    if spec.endswith(".toml"):
        from derive.models.user import from_toml
        return from_toml(spec, allow_path)
    return model(spec, seed)


# ---- sweeps ------------------------------------------------------------------------


def sweep(name: str) -> Sweep | None:
    """The sweep family ``name`` reads as, or None if it names none."""
    for family in FAMILIES.values():
        found = family.sweep(name)
        if found is not None:
            return found
    return None


def sweeps(spec: str) -> list[str]:
    """The sweep families of a name: itself if it is one, else its member's families."""
    spec = (spec or "").strip()
    if sweep(spec) is not None:
        return [spec]
    spec, arg, family = _split(spec)
    return family.sweeps(spec, arg)


def _sweep(family: str) -> Sweep:
    found = sweep(family)
    if found is None:
        raise DeriveError(f"bad family {family!r}: expected {sweep_help()}")
    return found


def check_member(family: str, depth: int) -> None:
    """Whether the family's member at ``depth`` is within the limits, without building
    it: a one-line :class:`DeriveError` if not (cost: parsing a name)."""
    _sweep(family).check(depth)


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


def member(family: str, depth: int, seed: int = 0):
    """The sweep family's model at ``depth``.

    ``logistic``: l_depth.  A chain list: cycled to ``depth`` layers.
    ``mlp:W[:ACT]``: ``depth`` hidden layers of width W (input and output
    width 1).  ``mlp-width:K[:ACT]``: K hidden layers of width ``depth``.
    """
    return _sweep(family).member(depth, seed)


def expanded(family: str) -> None:
    """Whether ``family`` is the one whose members ``sizes --table1`` expands as
    polynomials (Table 1 of the logistic map's paper): a DeriveError if not."""
    found = sweep(family)
    if found is None or found.name != "logistic":
        raise DeriveError("--table1 is for the logistic family: derive sizes logistic "
                          "--depth 1:4 --table1")


def axis(family: str) -> str:
    """What a sweep's "depth" column counts: the width, for an mlp-width family."""
    return _sweep(family).axis


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
    head = (spec or "").partition(":")[0]
    if spec is not None and head in FAMILIES and FAMILIES[head].folder is not None:
        return FAMILIES[head].folder(spec)
    if spec is None:
        label = "expr-" + (title or hashlib.sha256((expression or "").encode()).hexdigest()[:8])
    elif spec.endswith(".toml"):
        label = "file-" + Path(spec).stem
    else:
        label = spec.strip()
    return "reports/" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("._") or "model")


def _bad(spec: str, why: str) -> DeriveError:
    return DeriveError(f"bad model {spec!r}: {why}")
