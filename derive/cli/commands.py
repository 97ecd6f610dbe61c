"""The commands: what each of derive's subcommands does once its arguments are parsed.

Each ``_name(args)`` runs one subcommand (:mod:`derive.cli` holds the parser table and
``main``, which calls them) and returns its exit code: 0 success, 1 a disagreement found
by ``check`` (or a failed grade), 2 the user's error.  Heavy modules are imported inside
each command, so that ``derive --help`` stays quick.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

from derive.base.errors import DeriveError
from derive.base.limits import MAX_BATCH
from derive.models import families


DIFFERENTIATING = ("jacobian", "hessian")
"""Commands whose --wrt names the variables of a family model too."""


SUMMARY_ABOVE = 40
"""``check`` prints a summary instead of the full table above this many parameters."""


MAX_SIGMA2_RUNS = 12
"""init's --sigma2 values at most."""


def _printable(text: str, what: str) -> str:
    """Text that reaches a report: no control, format or exotic space characters."""
    if not text.isprintable() or text != text.strip():
        raise DeriveError(f"bad {what} {text!r}: it holds a control character, an invisible "
                          "character or surrounding space")
    return text


MAX_REPEAT = 1000
"""bench's --repeat at most (each repeat runs every evaluation once)."""


MAX_THREADS = 256
"""bench's --threads at most."""


def _load(args, batch: int | None = None):
    """The model the options describe, validated before any work."""
    from derive.models.families import load
    from derive.models.user import assignments, from_text, with_values
    cwd = Path(".")  # relative @FILE paths stay relative: no getcwd (the folder may be gone)
    params = assignments(args.param, "--param", cwd)
    inputs = assignments(args.input, "--input", cwd)
    target = assignments([args.target] if args.target else [], "--target", cwd)
    if args.expr is not None:
        if args.model is not None:
            raise DeriveError("give MODEL or --expr, not both")
        wrt = args.wrt.split(",") if args.wrt else None
        built = from_text(args.expr, params, inputs, target or None, wrt, args.loss, args.title)
    else:
        spec = _printable(args.model if args.model is not None else "toy", "model name")
        args.wrt_names, args.wrt = args.wrt, None if args.command in DIFFERENTIATING else args.wrt
        if args.wrt or args.title or args.loss != "least_squares":
            raise DeriveError("--wrt, --loss and --title go with --expr")
        built = load(spec, seed=args.seed, allow_path=args.allow_path)
        if params or inputs or target:
            built = with_values(built, {**params, **inputs, **target})
    if batch is None:
        return built
    if 1 <= batch <= MAX_BATCH:  # outside, batch() says the limit in its own words
        _check_memory(built, batch)
    return built.batch(batch, args.seed)


def _check_memory(built, batch: int) -> None:
    """Refuse, before work, a batch whose check is predicted to hold more than MEMORY
    bytes: the values one forward pass keeps per example, from passes over batches of 1
    and 2 (cheap), times the batch and MEMORY_FACTOR."""
    import numpy as np
    from derive.base.limits import MEMORY, MEMORY_FACTOR
    from derive.core.program import program
    kept = []
    for n in (1, 2):
        small = built.batch(n, 0)
        with np.errstate(all="ignore"):
            value = program(small).forward(small.values)
        kept.append(sum(int(np.size(v)) for v in value.values()))
    predicted = 8 * MEMORY_FACTOR * (kept[0] + (kept[1] - kept[0]) * (batch - 1))
    if predicted > MEMORY:
        raise DeriveError(f"--batch {batch:,} would need about {predicted / 1e9:,.1f} GB "
                          f"(predicted from {kept[1] - kept[0]:,} values kept per example), "
                          f"over the {MEMORY / 1e9:.1f} GB limit: use a smaller --batch")


def _progress(args):
    """Progress bars on stderr, only where it is a terminal and --quiet is not given."""
    from derive.present import terminal as text
    return text.progress_bars(sys.stderr.isatty() and not getattr(args, "quiet", False))


def _trace(args) -> int:
    from derive.present import terminal as text
    from derive.present.steps import trace
    from derive.base.table import json_text
    result = trace(_load(args))
    print(json_text(result.to_json(), indent=2) if args.json else text.format_trace(result))
    return 0


def _check(args) -> int:
    from derive.present import terminal as text
    from derive.checks.check import check
    from derive.base.table import json_text
    result = check(_load(args, args.batch), progress=_progress(args), fd_all=args.fd_all,
                   seed=args.seed, budget=args.budget)
    if args.json:
        print(json_text(result.to_json(), indent=2))
    elif len(result.rows) > SUMMARY_ABOVE and not args.all:
        print(text.format_check_summary(result))
    else:
        print(text.format_check(result))
    return 0 if result.agree else 1


def _sizes(args) -> int:
    from derive.checks import growth
    from derive.present import terminal as text
    from derive.base.table import json_text
    if args.table1:
        return _table1(args.family, growth.parse_depths(args.depth))
    result = growth.size_sweep(args.family, args.depth, args.seed, progress=_progress(args),
                               max_seconds=args.max_seconds, order=args.order,
                               budget=args.budget)
    if args.json:
        print(json_text(result.to_json(), indent=2))
    elif args.csv:
        keys = growth.ROW_KEYS + (growth.ORDER2_KEYS if args.order == 2 else [])
        print(",".join(keys))
        for row in result.rows:
            print(",".join("" if row[k] is None else str(row[k]) for k in keys))
    else:
        print(text.format_sweep(result))
    return 0


def _table1(family, depths) -> int:
    from derive.checks import growth
    families.expanded(family)
    if depths.stop - 1 > 6:
        raise DeriveError("--table1 expands polynomials of degree 2^(n-1): use depths up to 6")
    from derive.present.notation import ascending_text
    for row in growth.table1(depths):
        print(f"n = {row['n']}")
        for key in ("l_n", "derivative", "simplified"):
            print(f"  {key:<11} {ascending_text(row[key])}")
    return 0


def _variables(args, built):
    """The symbols --vars names (or the model's parameters)."""
    wrt = getattr(args, "wrt_names", None)
    if not wrt:
        return None
    by_name = {str(s): s for s in built.values}
    names = [n.strip() for n in wrt.split(",")]
    unknown = [n for n in names if n not in by_name]
    if unknown or len(set(names)) != len(names):
        raise DeriveError(f"bad --wrt {wrt!r}: " + (f"{built.name} has no symbol {unknown[0]!r}"
                                                    if unknown else "a name is repeated"))
    return [by_name[n] for n in names]


def _jacobian(args) -> int:
    from derive.readings import modes
    from derive.present import terminal as text
    from derive.base.table import json_text
    built = _load(args)
    result = modes.jacobian(built, _variables(args, built))
    print(json_text(result.to_json(), indent=2) if args.json else text.format_jacobian(result))
    return 0 if result.agree else 1


def _hessian(args) -> int:
    from derive.readings import hessian
    from derive.present import terminal as text
    from derive.base.table import json_text
    built = _load(args)
    result = hessian.hessian(built, _variables(args, built), progress=_progress(args),
                           budget=args.budget)
    print(json_text(result.to_json(), indent=2) if args.json else text.format_hessian(result))
    return 0 if result.agree else 1


def _written(path: str) -> None:
    """Say where a file went: its name, and a note where a link was written through."""
    if os.path.islink(path):
        print(f"derive: note: {path!r} is a symbolic link: wrote its target", file=sys.stderr)
    print(path)


def _code(args) -> int:
    from derive.readings.codegen import model_source
    from derive.base.writing import check_file, write_text
    if args.output is not None:
        check_file(args.output, args.force)
    source = model_source(_load(args), args.backend)
    if args.output is not None:
        write_text(args.output, source, args.force)
        _written(args.output)
    else:
        print(source)
    return 0


def _graph(args) -> int:
    from derive.base.writing import check_file, write_bytes
    from derive.present.picture import graph
    from derive.base.table import json_text
    suffix = Path(args.output).suffix.lower() if args.output else ".svg"
    if suffix not in (".svg", ".pdf"):
        raise DeriveError(f"bad --output {args.output!r}: the file must end in .svg or .pdf")
    if args.html is not None:
        return _graph_page(args)
    if args.output is not None and not args.json:
        check_file(args.output, args.force)
    picture = graph(_load(args), values=args.values, adjoints=args.adjoints)
    if args.json:
        print(json_text(picture.to_json(), indent=2))
    elif args.output:
        write_bytes(args.output, picture.pdf() if suffix == ".pdf" else picture.svg().encode(),
                    args.force)
        _written(args.output)
    else:
        print(picture.svg())
    return 0


def _serve(args) -> int:
    from derive.present.serve import serve
    if not 1 <= args.workers <= 64:
        raise DeriveError("--workers must be a whole number from 1 to 64")
    if not 0 <= args.port <= 65535:
        raise DeriveError("--port must be a whole number from 0 (a free one) to 65535")
    if not 0.1 <= args.timeout <= 3600:
        raise DeriveError("--timeout must be from 0.1 to 3600 seconds")
    if not 1000 <= args.memory <= 1_000_000:
        raise DeriveError("--memory must be from 1,000 to 1,000,000 MB")
    if args.measure:
        from derive.present.serve import measure
        print(measure())
        return 0
    return serve(args.host, args.port, args.workers, args.timeout, args.memory)


def _graph_page(args) -> int:
    """``graph --html FILE``: the step-through page (it shows values and adjoints)."""
    from derive.base.writing import check_file, write_text
    from derive.present.report import graph_page as page
    if args.output is not None or args.json:
        raise DeriveError("--html writes a page of its own: give it without -o and --json")
    _printable(args.html, "--html")
    if Path(args.html).suffix.lower() not in (".html", ".htm"):
        raise DeriveError(f"bad --html {args.html!r}: the file must end in .html")
    check_file(args.html, args.force, "--html")
    write_text(args.html, page(_load(args)), args.force, "--html")
    _written(args.html)
    return 0


def _bench(args) -> int:
    from derive.checks import frameworks
    from derive.present import terminal as text
    from derive.checks.bench import bench
    from derive.base.table import json_text
    if not 1 <= args.batch <= MAX_BATCH or not 1 <= args.repeat <= MAX_REPEAT:
        raise DeriveError(f"--batch must be a whole number from 1 to {MAX_BATCH:,} and "
                          f"--repeat one from 1 to {MAX_REPEAT:,}")
    if not 1 <= args.threads <= MAX_THREADS:
        raise DeriveError(f"--threads must be a whole number from 1 to {MAX_THREADS}")
    against = frameworks.parse(args.against) if args.against else []
    result = bench(_load(args), batch=args.batch, repeat=args.repeat, seed=args.seed,
                   progress=_progress(args), against=against, threads=args.threads,
                   budget=args.budget)
    print(json_text(result, indent=2) if args.json else text.format_bench(result))
    return 0


def _init(args) -> int:
    from derive.checks import initialization
    from derive.present import terminal as text
    from derive.base.table import json_text
    initialization.check_shape(args.K, args.D)
    words = args.sigma2.split(",")
    if not 1 <= len(words) <= MAX_SIGMA2_RUNS:
        raise DeriveError(f"bad --sigma2 {args.sigma2!r}: 1 to {MAX_SIGMA2_RUNS} values")
    variances = [initialization.sigma2_value(w, args.D) for w in words]
    suffix = Path(args.chart).suffix.lower() if args.chart else None
    if args.chart is not None:
        from derive.base.writing import check_file
        if suffix not in (".svg", ".pdf"):
            raise DeriveError(f"bad --chart {args.chart!r}: the file must end in .svg or .pdf")
        check_file(args.chart, args.force, "--chart")
    activation = args.activation or initialization.NOTEBOOK
    runs = [initialization.experiment(args.K, args.D, v, activation, args.seed)
            for v in variances]
    if args.json:
        objects = [r.to_json() for r in runs]
        print(json_text(objects[0] if len(objects) == 1 else objects, indent=2))
    else:
        print(text.format_init(runs))
    if args.chart is not None:
        from derive.present.charts import values_chart
        from derive.base.writing import write_bytes
        title = f"growth of values with depth (K = {args.K}, D = {args.D}, {activation})"
        picture = values_chart([r.to_json() for r in runs], suffix[1:], title)
        write_bytes(args.chart, picture.encode() if suffix == ".svg" else picture, args.force,
                    "--chart")
        print(f"derive: chart: {args.chart}", file=sys.stderr)
    return 0


def _report(args) -> int:
    from derive.models.families import output_name, sweeps
    from derive.present.report import formats_for, make_report
    formats, notes = formats_for(args.format)  # a missing pdflatex is said before any work
    if args.timestamp is not None and not re.fullmatch(r"[ -~]{1,64}", args.timestamp):
        raise DeriveError("bad --timestamp: use 1 to 64 printable ASCII characters")
    if args.out is not None:
        _printable(args.out, "--out")
    built = _load(args)
    spec = None if args.expr is not None else (args.model or "toy")
    family = None if spec is None or spec.endswith(".toml") else sweeps(spec)
    out = args.out or output_name(spec, args.expr, args.title)
    result = make_report(built, args.depth, out, formats, args.timestamp, args.seed,
                         shlex.join(["derive", *args.argv]), family=family,
                         max_seconds=args.max_seconds, force=args.force,
                         progress=_progress(args), budget=args.budget)
    stopped = [g["stopped"] for g in result.data["growth"] if g["stopped"]]
    for note in notes + result.notes + stopped:
        print(f"derive: note: {note}", file=sys.stderr)
    for path in result.paths:
        print(path)
    return 0
