"""What `derive serve` answers: a model typed into its page, read with the CLI's limits,
and its three steps, graph step-through, symbolic gradient, check and sizes as HTML.

A query is a dict of text fields, as the page sends them: ``model`` (a model name the
CLI accepts, ``toy``, ``chain:tanh*12``, ``mlp:1-4-4-1``, or an expression with named
steps, ``f0 = b + w*x; h1 = sin(f0); h1``), and ``param``, ``input`` and ``target``
(``w=2 b=0.5``: NAME=VALUE separated by spaces or semicolons, as ``--param`` takes
them; files, ``@FILE``, are not read).  :func:`reply` never raises: it returns
``{"ok": True, "html": …}`` or ``{"ok": False, "status": 400, "error": one line,
"caret": the parser's caret lines or None}``.

>>> r = reply({"kind": "explore", "model": "sin(x)*w", "param": "w=2", "input": "x=1"})
>>> r["ok"], r["model"], r["frames"]
(True, 'expression', 4)
>>> r = reply({"kind": "explore", "model": "sin("})
>>> r["ok"], r["status"], r["error"]
(False, 400, 'expression ends too early at column 5')
"""

from __future__ import annotations

import functools
import json
import re

from derive.base.errors import DeriveError

FIELDS = ("model", "param", "input", "target")
FIELD_CHARS = 2000
"""The longest text a field takes (the parser's own limits apply within it)."""
SWEEP_DEPTHS = range(1, 13)
"""The depths `derive serve` sweeps for the sizes chart: the CLI's default 1:12."""
CACHED = 64
"""Answers each worker keeps, by query (a repeated query is answered at once)."""


def load(query: dict):
    """The model a query describes, every name and limit checked before any work."""
    from derive.models.families import model
    from derive.models.user import from_text, with_values
    fields = {k: _field(query, k) for k in FIELDS}
    spec = _spec(query)
    params, inputs, target = (_values(fields[k], f"--{k}") for k in ("param", "input", "target"))
    if _names_a_family(spec):
        built = model(spec)
        return with_values(built, {**params, **inputs, **target}) \
            if params or inputs or target else built
    return from_text(spec, params, inputs, target or None)


def _spec(query: dict) -> str:
    """The model box's text: a model name or an expression (empty: the toy)."""
    return _field(query, "model").strip() or "toy"


def _names_a_family(spec: str) -> bool:
    """Whether the model box names a family member (toy, chain:…, mlp:…), not an
    expression: a family's name comes before any colon."""
    from derive.models.families import FAMILIES
    return spec.partition(":")[0] in FAMILIES


def _field(query: dict, key: str) -> str:
    text = query.get(key) or ""
    if not isinstance(text, str):
        raise DeriveError(f"bad {key}: expected text")
    if len(text) > FIELD_CHARS:
        raise DeriveError(f"bad {key}: {len(text):,} characters, over the {FIELD_CHARS:,} "
                          "derive serve takes")
    if not text.replace("\n", " ").isprintable():
        raise DeriveError(f"bad {key}: it holds a control character")
    return text


def _values(text: str, what: str) -> dict:
    """'w=2 b=0.5' (or 'w=2; b=0.5') -> {'w': 2.0, 'b': 0.5}, as --param reads each item."""
    from pathlib import Path

    from derive.models.user import assignments
    items = [item for item in re.split(r"[\s;]+", text) if item]
    if any("@" in item for item in items):
        raise DeriveError(f"bad {what}: derive serve reads no files (@FILE): give the values")
    return assignments(items, what, Path("."))


def explore(query: dict) -> dict:
    """The page's answer for a model: its three steps, the graph's step-through, the
    closed form of one parameter's derivative (where small enough to print) and the
    check table.  Cost: one trace, one drawing of the graph (SVG text, a millisecond for
    the toy) and the check's methods, with the CLI's limits and budget; its symbolic
    gradients (sympy.diff and the DAG sweep, which grow with the expression) are kept
    by expression, so only a new model pays for them: the toy at new values takes
    about 0.06 s here."""
    from derive.checks import check
    from derive.present import policy
    from derive.models.families import sweeps
    from derive.present.picture import graph
    from derive.present.player import frames, width_px
    from derive.present.gather import _nightmare as nightmare
    from derive.present.report import html_environment
    from derive.present.steps import trace
    m = load(query)
    t = trace(m)
    picture = graph(m, values=True, adjoints=True, traced=t)
    shown = frames(m, t, picture)
    svg = picture.svg(policy.GRAPH_WRAP)
    derived = _derivatives(m)
    result = check.check(m, derived=derived)
    closed = nightmare(m, derived)
    spec = _spec(query)
    family = sweeps(spec)[0] if _names_a_family(spec) else None
    html = html_environment().get_template("explore.html.j2").render(
        t=t, svg=svg, width=width_px(svg), frames=shown, c=result, folded=picture.folded,
        gradient=closed, name=m.name)
    return {"ok": True, "model": m.name, "html": html, "frames": len(shown),
            "agree": result.agree, "sweeps": family}


_DERIVED: dict = {}


def _derivatives(m):
    """Both symbolic gradients, as the check computes them, kept by expression (at most
    :data:`CACHED`): they do not depend on the values, which the page changes most, so a
    model typed again at other values runs no sympy.diff."""
    from derive.checks.check import DIFF_WORK_CAP
    from derive.base.limits import BUDGET
    from derive.readings.symbolic import derivatives
    key = (m.output, tuple(m.wrt))
    if key not in _DERIVED:
        if len(_DERIVED) >= CACHED:
            _DERIVED.pop(next(iter(_DERIVED)))
        _DERIVED[key] = derivatives(m, DIFF_WORK_CAP, BUDGET)
    return _DERIVED[key]


def sizes_answer(query: dict) -> dict:
    """The sizes-against-depth chart and laws of the family the model sweeps (depths
    :data:`SWEEP_DEPTHS`, stopped at the CLI's budget), as the report's growth section
    measures them."""
    from derive.present.charts import sizes_chart
    from derive.models.families import sweeps
    from derive.present.gather import _growth_section as growth
    from derive.present.report import html_environment
    spec = _spec(query)
    if not _names_a_family(spec):
        return {"ok": True, "html": "", "family": None}
    section = growth(sweeps(spec)[0], SWEEP_DEPTHS, seed=0)
    html = html_environment().get_template("explore_sizes.html.j2").render(
        s=section, chart=sizes_chart(section["rows"], section["axis"], "svg"))
    return {"ok": True, "html": html, "family": section["family"]}


KINDS = {"explore": explore, "sizes": sizes_answer}


def reply(job: dict) -> dict:
    """The answer to one job ({"kind": "explore" or "sizes", and the query's fields}),
    from the cache where asked before; a user's mistake or a limit is an answer too."""
    kind = job.get("kind") if isinstance(job, dict) else None
    if kind not in KINDS:
        return {"ok": False, "status": 400, "error": "unknown request", "caret": None}
    key = json.dumps({k: job.get(k) for k in ("kind", *FIELDS)}, sort_keys=True)
    return dict(_cached(key))


@functools.lru_cache(maxsize=CACHED)
def _cached(key: str) -> dict:
    job = json.loads(key)
    try:
        return KINDS[job["kind"]](job)
    except DeriveError as error:
        caret = getattr(error, "caret", None)
        return {"ok": False, "status": 400, "error": str(error),
                "caret": caret() if caret else None}
    except MemoryError:
        return {"ok": False, "status": 503, "caret": None,
                "error": "over the memory limit of derive serve (--memory): try a smaller model"}
    except RecursionError:
        return {"ok": False, "status": 400, "caret": None,
                "error": "the expression is nested too deeply to print or differentiate"}
    except Exception as error:  # a bug of ours: said as the CLI says it, the worker kept
        return {"ok": False, "status": 500, "caret": None,
                "error": f"internal error: {type(error).__name__}: {str(error)[:200]}"}


def warm() -> None:
    """Import and compile what an answer uses (a worker does it once, before it is ready)."""
    reply({"kind": "explore", "model": "toy"})
    _cached.cache_clear()
