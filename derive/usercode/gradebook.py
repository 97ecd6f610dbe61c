"""A class at once: the notebooks in a folder, the grades kept between runs, and the
formats courses read (Gradescope's ``results.json``, a CSV gradebook).

:func:`notebooks_in` lists a folder's notebooks (a link out of the folder is refused
as that entry's problem, never followed).  Grades are kept in
``$XDG_CACHE_HOME/derive/grades/`` (``~/.cache/derive/grades/`` by default), one file
per notebook content and grading settings, so a re-run skips every notebook whose file
has not changed and an interrupted run resumes where it stopped.

>>> key(b"{}", {"timeout": 60}) == key(b"{}", {"timeout": 60})
True
>>> key(b"{}", {"timeout": 60}) == key(b"{}", {"timeout": 30})
False

Cost: a hash of each notebook's bytes (at most 20 MB) per run; nothing per cell.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

from derive.base.errors import DeriveError
from derive.base.files import NOTEBOOK_BYTES, check, read_bytes

def notebooks_in(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The notebooks (``*.ipynb``) under ``folder``, sorted, and the entries refused with
    why (a link out of the folder, a file that is not a regular one or is too large).
    Hidden folders and ``.ipynb_checkpoints`` are skipped."""
    root = folder.resolve()
    found, refused = [], []
    for base, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            if not name.endswith(".ipynb") or name.startswith("."):
                continue
            path = Path(base) / name
            if not path.resolve().is_relative_to(root):
                refused.append((path, "a link out of the folder (not followed)"))
                continue
            try:
                check(path, "notebook", NOTEBOOK_BYTES)
            except DeriveError as error:
                refused.append((path, str(error).split(": ", 1)[-1]))
                continue
            found.append(path)
    return found, refused


def folder() -> Path:
    """Where grades are kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "derive" / "grades"


def key(data: bytes, settings: dict) -> str:
    """The name a grade is kept under: the notebook's bytes and the grading settings."""
    digest = hashlib.sha256(data)
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def name(path: Path, settings: dict) -> str | None:
    """The file the grade of the notebook at ``path``, graded with ``settings``, is kept
    in (named by the notebook's bytes as read now, before grading: a file changed while it
    is graded is graded again next time), or None where it cannot be read."""
    try:
        data = read_bytes(path, "notebook", NOTEBOOK_BYTES)
    except DeriveError:
        return None
    return str(folder() / f"{key(data, settings)}.json")


def recall(kept: str | None) -> dict | None:
    """The grade kept in the file :func:`name` gave, or None."""
    try:
        return json.loads(Path(kept).read_text("utf-8")) if kept else None
    except (OSError, ValueError):
        return None


def keep(kept: str | None, graded) -> None:
    """Keep ``graded`` (a :class:`derive.usercode.grading.Graded`) in the file :func:`name` gave; a
    grade that failed for reasons of the run's own (an interrupted kernel start) is not
    kept.  A cache that cannot be written is skipped silently: it only saves time."""
    if kept is None or graded.problem.startswith("could not be graded"):
        return
    try:
        target = Path(kept)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({**graded.to_json(), "stubbed": graded.stubbed}),
                             "utf-8")
        os.replace(temporary, target)
    except OSError:
        pass


def gradescope(results: list, seconds: float) -> dict:
    """Gradescope's ``results.json`` for one submission: its tests (prefixed with the
    notebook's file name where the submission holds several notebooks), their total."""
    tests = []
    for graded in results:
        prefix = f"{Path(graded.path).name}: " if len(results) > 1 else ""
        for test in graded.tests:
            tests.append({"name": prefix + test["name"], "score": test["score"],
                          "max_score": test["max_score"], "status": test["status"],
                          "output": test["output"], "visibility": test["visibility"]})
    output = "\n".join(graded.summary for graded in results)
    return {"score": round(sum(t["score"] for t in tests), 4),
            "execution_time": round(seconds, 3), "output": output,
            "stdout_visibility": "hidden", "tests": tests}


def csv_text(results: list) -> str:
    """A gradebook: a row per notebook (path, notebook, score, max_score, passed, a
    column per test, problem)."""
    names = []
    for graded in results:
        names += [t["name"] for t in graded.tests if t["name"] not in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "notebook", "score", "max_score", "passed", *names, "problem"])
    for graded in results:
        scores = {t["name"]: t["score"] for t in graded.tests}
        writer.writerow([graded.path, graded.notebook or "", graded.score, graded.max_score,
                         "yes" if graded.passed else "no",
                         *[scores.get(name, "") for name in names], graded.problem])
    return out.getvalue()
