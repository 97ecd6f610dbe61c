"""`derive grade`: notebooks graded, one or a class, with their limits, rubric and outputs.

Bad input (a FIFO, a folder with no notebook, a rubric that does not parse, an output
that would overwrite a notebook) is refused in one line before any notebook runs; the
grades are written as text, JSON, CSV, HTML or Gradescope's results.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from derive.base.errors import DeriveError
from derive.cli.commands import _printable, _progress
from derive.version import __version__


def _check_grade_limits(args) -> None:
    """A one-line DeriveError for a grading limit out of its range, or a jail asked for
    that cannot start."""
    from derive.usercode.sandbox import bwrap_works
    if not 0 < args.timeout <= 3600:
        raise DeriveError("--timeout must be a number of seconds from 0 to 3600")
    if not 0 < args.notebook_timeout <= 86400:
        raise DeriveError("--notebook-timeout must be a number of seconds from 0 to 86400")
    if not 256 <= args.memory <= 1 << 20:
        raise DeriveError("--memory must be a number of MB from 256 to 1048576")
    if not 16 <= args.processes <= 100_000:
        raise DeriveError("--processes must be a number from 16 to 100000")
    if not 1 <= args.file_size <= 1 << 20:
        raise DeriveError("--file-size must be a number of MB from 1 to 1048576")
    if not 1 <= args.workers <= 64:
        raise DeriveError("--workers must be a number from 1 to 64")
    if args.jail == "bwrap" and bwrap_works():
        raise DeriveError(f"--jail bwrap: {bwrap_works()} (install the Debian package "
                          "bubblewrap, or use --jail auto)")


def _grade_outputs(args, notebooks) -> dict:
    """{flag: path} of the files grade writes (-o, --csv, --html), each checked before
    any notebook runs; none may be a notebook being graded."""
    from derive.base.writing import check_file
    outputs = {}
    for flag, name in (("-o", args.output), ("--csv", args.csv), ("--html", args.html)):
        if name is not None:
            _printable(name, flag)
            outputs[flag] = check_file(name, args.force, flag)
            for notebook in notebooks:
                if _same_file(outputs[flag], notebook):
                    raise DeriveError(f"{flag} {name!r} is one of the notebooks being "
                                      "graded: choose another file")
    return outputs


def _grades_text(results, form: str, seconds: float) -> str:
    """What grade prints (or writes to -o): JSON, Gradescope's results.json, one
    notebook's report, or a line per notebook and the class's totals."""
    from derive.usercode import gradebook
    from derive.base.table import json_text
    if form == "json":
        return json_text({"notebooks": [r.to_json() for r in results],
                          "passed": sum(r.passed for r in results),
                          "failed": sum(not r.passed for r in results)}, indent=2)
    if form == "gradescope":
        return json_text(gradebook.gradescope(results, seconds), indent=2)
    if len(results) == 1:
        return results[0].report()
    return "\n".join(r.summary for r in results) + (
        f"\n{len(results)} notebooks: {sum(r.passed for r in results)} passed, "
        f"{sum(not r.passed for r in results)} failed; "
        f"{sum(r.score for r in results):g} of {sum(r.max_score for r in results):g} points")


def _grade(args) -> int:
    import time

    from derive.usercode import gradebook
    from derive.usercode.grading import Graded, grade_all
    from derive.base.writing import write_text
    from derive.present.report import render_grades
    from derive.usercode.sandbox import Limits
    started = time.perf_counter()
    _check_grade_limits(args)
    form = "json" if args.json else args.format
    rubrics = dict(_rubric(path) for path in args.rubric)
    paths, refused = _notebooks(args.notebooks)
    if form == "gradescope" and not paths and not refused:
        raise DeriveError("--format gradescope: no notebook to grade")
    outputs = _grade_outputs(args, [*paths, *(p for p, _ in refused)])
    limits = Limits(args.memory, int(args.notebook_timeout) + 5, args.file_size,
                    args.processes, args.jail)
    settings = {"timeout": args.timeout, "notebook_timeout": args.notebook_timeout,
                "limits": limits, "rubrics": sorted(rubrics.items()), "derive": __version__}
    names = {str(p): gradebook.name(p, settings) for p in paths}
    kept = {} if args.regrade else {p: gradebook.recall(names[str(p)]) for p in paths}
    todo = [p for p in paths if kept.get(p) is None]
    if len(paths) > len(todo):
        print(f"derive: {len(paths) - len(todo)} notebook(s) graded before and unchanged: "
              "kept grades used (--regrade grades them again)", file=sys.stderr)
    bar = _progress(args) if len(todo) > 1 else None
    shown = bar(None, total=len(todo), desc="grading") if bar else None

    def done(graded):
        gradebook.keep(names[graded.path], graded)
        if shown is not None:
            shown.update(1)

    fresh = dict(zip(todo, grade_all([str(p) for p in todo], args.timeout,
                                     workers=args.workers,
                                     notebook_timeout=args.notebook_timeout, limits=limits,
                                     rubrics=rubrics, done=done)))
    if shown is not None:
        shown.close()
    results = [fresh[p] if p in fresh else Graded.from_json(
        kept[p], str(p), rubrics.get(kept[p]["notebook"], ())) for p in paths]
    results += [Graded(str(p), None, problem=why) for p, why in refused]
    text = _grades_text(results, form, time.perf_counter() - started)
    if "-o" in outputs:
        write_text(outputs["-o"], text + "\n", args.force, "-o")
    else:
        print(text)
    if "--csv" in outputs:
        write_text(outputs["--csv"], gradebook.csv_text(results), args.force, "--csv")
    if "--html" in outputs:
        write_text(outputs["--html"], render_grades(results), args.force, "--html")
    return 0 if all(r.passed for r in results) else 1


def _notebooks(names) -> tuple[list[Path], list]:
    """The notebooks named (each checked now: a bad one exits 2 before any runs) and those
    in the folders named (a bad entry there is that entry's grade)."""
    from derive.usercode.gradebook import notebooks_in
    paths, refused = [], []
    for name in names:
        path = Path(_printable(name, "notebook path"))
        if path.is_dir() and not path.is_symlink():
            found, bad = notebooks_in(path)
            if not found and not bad:
                raise DeriveError(f"bad notebook folder {name!r}: no notebooks (*.ipynb) in it")
            paths += found
            refused += bad
        else:
            _parse_notebook(path)  # read within bounds: a FIFO, a device, 3 GB refused
            paths.append(path)
    return list(dict.fromkeys(paths)), refused


def _parse_notebook(path: Path) -> None:
    """Refuse (one line) a file that is not a Jupyter notebook: not UTF-8, not JSON, or
    JSON without a notebook's cells."""
    from derive.base.files import NOTEBOOK_BYTES, read_bytes
    try:
        data = json.loads(read_bytes(path, "notebook", NOTEBOOK_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DeriveError(f"bad notebook {str(path)!r}: not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise DeriveError(f"bad notebook {str(path)!r}: JSON, but not a notebook (no cells)")


def _rubric(path: str) -> tuple:
    from derive.base.files import MODEL_FILE_BYTES, read_bytes
    from derive.usercode.rubric import read
    data = read_bytes(_printable(path, "--rubric"), "rubric", MODEL_FILE_BYTES)
    try:
        return read(data.decode("utf-8"), path)
    except UnicodeDecodeError:
        raise DeriveError(f"bad rubric {path!r}: not UTF-8 text") from None


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)
