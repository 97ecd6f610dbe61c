"""Grade the book's notebooks 7.1, 7.2 and 7.3: run a completed copy, read its variables,
compare each with derive's numbers for the notebook's own values (7.3's checks are
:mod:`derive.usercode.grading73`).

:func:`grade` executes a copy of the notebook with nbclient in a fresh kernel (the
notebook's own code runs: that is what grading is; the file itself is never
modified), every cell even when an earlier one raises, each cell within a timeout.
A last cell of ours reads the graded variables as JSON.  Which notebook it is comes
from its code (the model it defines), not its file name.  The values are compared
with :func:`derive.usercode.backprop.compare` on the model built from the notebook's own
parameters (7.1) or weights (7.2), so a notebook with another seed is graded against
its own network.  A TODO cell that still holds the published stub is reported, and
the notebook is not completed (it never passes, whatever its own checks print).

Cost: a kernel start and the notebook's own run (about a second for 7.1), then one
derive comparison.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from derive.usercode import grading73
from derive.base.errors import DeriveError
from derive.models.families import model as family_model
from derive.models.network import build
from derive.core.rules import DEFAULT_ACTIVATION
from derive.usercode.rubric import RUBRICS
from derive.usercode.rubric import score as points_of
from derive.usercode.sandbox import Limits, Sandbox
from derive.models.user import with_values
from derive.usercode.backprop import compare
from derive.usercode.running import _KERNELS, _STOPPING, _ours, _reader, _run

TOY_PARAMETERS = ["beta0", "beta1", "beta2", "beta3", "omega0", "omega1", "omega2", "omega3"]
GRADED = {
    "7.1": ["f0", "h1", "f1", "h2", "f2", "h3", "f3", "l_i",
            "dldf3", "dldh3", "dldf2", "dldh2", "dldf1", "dldh1", "dldf0",
            "dldbeta3", "dldomega3", "dldbeta2", "dldomega2", "dldbeta1", "dldomega1",
            "dldbeta0", "dldomega0"],
    "7.2": ["all_f", "all_h", "all_dl_dweights", "all_dl_dbiases"],
}
"""The quantities graded in each notebook, as the notebook names them."""
READ = {"7.1": GRADED["7.1"] + TOY_PARAMETERS + ["x", "y"],
        "7.2": GRADED["7.2"] + ["all_weights", "all_biases", "net_input", "y"],
        "7.3": ["_derive_seen"]}
READ_FIRST = {"7.3": grading73.reader_code()}
"""Code our last cell runs before reading (7.3: the student's functions on a small net)."""
STUBS = {
    "7.1": {"f0 = 0", "h1 = 0", "f1 = 0", "h2 = 0", "f2 = 0", "h3 = 0", "f3 = 0",
            "l_i = 0", "dldf2 = 1", "dldh2 = 1", "dldf1 = 1", "dldh1 = 1", "dldf0 = 1",
            "dldbeta3 = 1", "dldomega3 = 1", "dldbeta2 = 1", "dldomega2 = 1",
            "dldbeta1 = 1", "dldomega1 = 1", "dldbeta0 = 1", "dldomega0 = 1"},
    "7.2": {"all_f[layer] = all_h[layer]", "all_h[layer+1] = all_f[layer]",
            "all_f[K] = np.zeros_like(all_biases[-1])",
            "all_dl_dbiases[layer] = np.zeros_like(all_biases[layer])",
            "all_dl_dweights[layer] = np.zeros_like(all_weights[layer])",
            "all_dl_dh[layer] = np.zeros_like(all_h[layer])",
            "all_dl_df[layer-1] = np.zeros_like(all_f[layer-1])"},
}
"""Lines of the published TODO cells' stubs: a TODO cell still holding one is not done."""
_DERIVE = threading.Lock()
TIMEOUT = 60
NOTEBOOK_TIMEOUT = 300
"""Seconds a whole notebook may run (``--notebook-timeout``): past it no further cell
starts and its kernel's process group (the kernel and every process it started that
stayed in its session) is killed, so a kernel that ignores SIGINT, or a background
process, outlives it by at most a cell's interrupt wait (about 4 s)."""

CELLS_COUNTED = ("cells are numbered as Jupyter numbers them in a run from the top, "
                 "In [1], In [2], ...: code cells only")
"""How a grade's cell numbers count, said in the text and the HTML wherever a grade
names a cell."""


@dataclass
class Graded:
    """One notebook's grade: ``rows`` (quantity, expected, found, status: pass, fail or
    missing), the first wrong step and what it implies, the cells that raised, the TODO
    cells still holding stubs, and whether the run timed out."""

    path: str
    notebook: str | None
    rows: list = field(default_factory=list)
    first_wrong: str = ""
    suspect: str = ""
    errors: list = field(default_factory=list)
    stubs: list = field(default_factory=list)
    timed_out: bool = False
    problem: str = ""
    seconds: float = 0.0
    protections: list = field(default_factory=list)
    stubbed: list = field(default_factory=list)
    rubric: tuple = ()

    @property
    def tests(self) -> list[dict]:
        """The rubric's tests on this notebook: name, score, max_score, status ("passed"
        or "failed"), output (the message) and visibility, as Gradescope names them."""
        rubric = self.rubric or RUBRICS.get(self.notebook or "", ())
        found = []
        for test in rubric:
            points = 0.0 if self.problem else points_of(test, self.rows)
            message = self._feedback(test)
            found.append({"name": test.name, "score": points, "max_score": test.points,
                          "status": "passed" if message.startswith("pass") else "failed",
                          "output": message, "visibility": test.visibility})
        return found

    @property
    def score(self) -> float:
        return round(sum(t["score"] for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t["max_score"] for t in self.tests), 4)

    def _feedback(self, test) -> str:
        """One test's message: pass; wrong (the first wrong step, its suspect rule);
        missing; not completed; timed out; stopped by a limit; or not graded."""
        if self.problem:
            return f"not graded: {self.problem}"
        held = test.rows(self.rows)
        failing = [r for r in held if r["status"] != "pass"]
        if held and not failing:
            return f"pass: {_names(held)} equal derive's"
        stub = [r for r in failing if re.match(r"\w+", r["quantity"])[0] in self.stubbed]
        if stub:
            return (f"not completed: {_names(stub)} still the published stub (TODO cell(s) "
                    f"{', '.join(map(str, self.stubs))})")
        said = []
        wrong = [r for r in failing if r["status"] == "fail"]
        if wrong:
            first = self.first_wrong.split(" (")[0]
            if any(r["quantity"] == first for r in wrong):
                said.append(f"wrong: {_names(wrong)}; first wrong step {self.first_wrong}"
                            + (f"; {self.suspect}" if self.suspect else ""))
            elif first:
                said.append(f"wrong: {_names(wrong)} (after the first wrong step, {first})")
            else:
                said.append(f"wrong: {_names(wrong)}")
        missing = [r for r in failing if r["status"] == "missing"] if held else []
        if missing or not held:
            what = _names(missing) if missing else "its quantities"
            said.append(f"missing: {what} {self._why_missing()}")
        return "; ".join(said)

    def _why_missing(self) -> str:
        limits = [e["limit"] for e in self.errors if e.get("limit")]
        if limits:
            return f"(stopped by {limits[0]})"
        if self.timed_out:
            return "(timed out)"
        return "(never computed)"

    @property
    def passed(self) -> bool:
        return (not self.problem and not self.stubs and bool(self.rows)
                and all(r["status"] == "pass" for r in self.rows))

    @property
    def summary(self) -> str:
        """One line: the file, the notebook, pass or why not."""
        if self.problem:
            return f"{self.path}: {self.problem}"
        counts = {s: sum(r["status"] == s for r in self.rows) for s in ("pass", "fail",
                                                                         "missing")}
        verdict = "PASS" if self.passed else "FAIL"
        text = (f"{self.path}: notebook {self.notebook}: {verdict} ({counts['pass']} pass, "
                f"{counts['fail']} wrong, {counts['missing']} missing)")
        if self.stubs:
            text += f"; not completed: TODO cell(s) {', '.join(map(str, self.stubs))}"
        if self.first_wrong:
            text += f"; first wrong step: {self.first_wrong}"
        if self.timed_out:
            text += "; stopped at the timeout"
        if self.errors:
            text += f"; {len(self.errors)} cell(s) raised"
        return text

    def report(self) -> str:
        """Every quantity (expected, found, pass/fail/missing), the diagnosis, the cells
        that raised: the text `derive grade` prints for one notebook."""
        from derive.base.table import Table, brief
        rows = [{"name": r["quantity"], "expected": brief(r["expected"]),
                 "found": r.get("problem") or brief(r["found"]), "status": r["status"]}
                for r in self.rows]
        lines = [self.summary, ""]
        if rows:
            lines += [str(Table(["name", "expected", "found", "status"], rows)), ""]
        if self.first_wrong:
            lines.append(f"first wrong step: {self.first_wrong}")
        if self.suspect:
            lines.append(f"  {self.suspect}")
        if self.stubs:
            lines.append(f"not completed: TODO cell(s) {', '.join(map(str, self.stubs))} "
                         "still hold the published stub")
        lines += [f"cell {e['cell'] or '?'} raised {e['error']}"
                  + (f" (stopped by {e['limit']})" if e.get("limit") else "")
                  for e in self.errors]
        if self.stubs or any(e["cell"] for e in self.errors):
            lines.append(f"({CELLS_COUNTED})")
        tests = self.tests
        if tests:
            lines += ["", f"score {self.score:g} of {self.max_score:g}"]
            lines += [f"  {t['name']}: {t['score']:g}/{t['max_score']:g}: {t['output']}"
                      for t in tests]
        lines += [f"note: {p}" for p in self.protections if p.startswith("no ")]
        return "\n".join(lines).rstrip()

    def to_json(self) -> dict:
        """The documented ``derive grade --json`` entry."""
        return {"path": self.path, "notebook": self.notebook, "passed": self.passed,
                "quantities": self.rows, "first_wrong": self.first_wrong or None,
                "suspect": self.suspect or None, "errors": self.errors,
                "not_completed": self.stubs, "timed_out": self.timed_out,
                "problem": self.problem or None, "seconds": self.seconds,
                "score": self.score, "max_score": self.max_score, "tests": self.tests,
                "protections": self.protections}

    @classmethod
    def from_json(cls, data: dict, path: str, rubric: tuple = ()) -> "Graded":
        """The grade :meth:`to_json` wrote (from the cache), for the notebook at ``path``."""
        return cls(path, data["notebook"], rows=data["quantities"],
                   first_wrong=data["first_wrong"] or "", suspect=data["suspect"] or "",
                   errors=data["errors"], stubs=data["not_completed"],
                   timed_out=data["timed_out"], problem=data["problem"] or "",
                   seconds=data["seconds"], protections=data["protections"],
                   stubbed=data.get("stubbed", []), rubric=rubric)


def _names(rows) -> str:
    """Quantities named in a message: all of a few, the first and last of many."""
    names = [r["quantity"] for r in rows]
    if len(names) <= 4:
        return ", ".join(names)
    return f"{names[0]} ... {names[-1]} ({len(names)} quantities)"


def which(nb) -> str | None:
    """'7.1', '7.2' or '7.3' from the code the notebook defines, None if none."""
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    squeezed = "".join(code.split())  # "def fn(x, beta0" as "deffn(x,beta0"
    if "definit_params(" in squeezed and "sigma_sq_omega" in code:
        return "7.3"
    if "defcompute_network_output(" in squeezed or "all_weights" in code:
        return "7.2"
    if "deffn(x,beta0" in squeezed and "omega3" in code:
        return "7.1"
    return None


def grade_all(paths, timeout: float = TIMEOUT, workers: int = 2,
              notebook_timeout: float = NOTEBOOK_TIMEOUT, limits: Limits | None = None,
              rubrics: dict | None = None, done=None) -> list[Graded]:
    """Grade several notebooks, ``workers`` at a time (each in its own kernel), in the
    order given.  One notebook's failure, however it fails, is its own grade: the
    others are graded all the same.  Ctrl-C (KeyboardInterrupt) stops them all: no
    further cell starts, every running kernel's process group is killed, and the
    interrupt is raised once the workers are done."""
    from concurrent.futures import ThreadPoolExecutor
    _STOPPING.clear()
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = [pool.submit(grade, path, timeout, notebook_timeout, limits, rubrics)
               for path in paths]
    if done is not None:  # each grade as it comes (a progress bar, a cache)
        for future in futures:
            future.add_done_callback(lambda f: f.cancelled() or f.exception() is not None
                                     or done(f.result()))
    try:
        return [future.result() for future in futures]
    except KeyboardInterrupt:
        _stop_every_kernel(futures)
        raise
    finally:
        pool.shutdown(wait=True)


def _stop_every_kernel(futures) -> None:
    """Ctrl-C while notebooks run side by side: the ones not started never start, no
    further cell starts, and each running kernel's process group is killed (with what
    it started), so that its worker returns at once."""
    _STOPPING.set()
    for future in futures:
        future.cancel()
    for group in list(_KERNELS.values()):
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:  # already gone
            pass


def grade(path, timeout: float = TIMEOUT, notebook_timeout: float = NOTEBOOK_TIMEOUT,
          limits: Limits | None = None, rubrics: dict | None = None) -> Graded:
    """Run a copy of the notebook at ``path`` and grade it (see the module docstring):
    in a :class:`~derive.usercode.sandbox.Sandbox` with ``limits`` (default: :class:`Limits` with
    the notebook's time as its CPU seconds), each cell within ``timeout`` seconds (then
    interrupted), the whole within ``notebook_timeout`` (then its kernel killed); scored
    by ``rubrics`` (notebook → tests; default :data:`derive.usercode.rubric.RUBRICS`).
    Whatever the notebook does, the answer is a :class:`Graded` (a failure of the run
    itself is its ``problem``), never an exception."""
    try:
        return _grade(path, timeout, notebook_timeout,
                      limits or Limits(cpu_seconds=int(notebook_timeout) + 5),
                      {**RUBRICS, **(rubrics or {})})
    except Exception as error:  # the notebook's doing (a kernel it broke, output it forged)
        return Graded(str(path), None, problem=f"could not be graded: {type(error).__name__}: "
                                               f"{str(error)[:200]}")


def _grade(path, timeout: float, notebook_timeout: float, limits: Limits,
           rubrics: dict) -> Graded:
    import nbformat

    from derive.base.files import NOTEBOOK_BYTES, read_bytes
    start = time.perf_counter()
    path = Path(path)
    shown = str(path)
    try:
        text = read_bytes(path, "notebook", NOTEBOOK_BYTES)  # a FIFO, /dev/zero, 3 GB
    except DeriveError as error:
        return Graded(shown, None, problem=str(error).split(": ", 1)[-1])
    try:
        nb = nbformat.reads(text.decode("utf-8"), as_version=4)
    except Exception as error:  # nbformat raises many kinds for a file that is not JSON
        return Graded(shown, None, problem=f"not a notebook ({type(error).__name__})")
    kind = which(nb)
    if kind is None:
        return Graded(shown, None, problem="none of notebooks 7.1, 7.2 and 7.3 (no toy "
                                           "model, network or initialization defined in "
                                           "its code)")
    stubs, stubbed = _stubs(nb, kind)
    result = Graded(shown, kind, stubs=stubs, stubbed=stubbed, rubric=rubrics.get(kind, ()))
    with Sandbox(limits, hide=[path.resolve().parent]) as sandbox:
        result.protections = sandbox.protections()
        copy = sandbox.folder / path.name
        copy.write_bytes(text)
        sandbox.give(copy)
        values = _run(nb, functools.partial(_add_our_cells, kind=kind), timeout, result,
                      notebook_timeout, sandbox)
    if not result.problem:
        with _DERIVE:  # kernels run side by side; SymPy's lambdify is not thread-safe
            if kind == "7.3":
                seen = values.get("_derive_seen")
                grading73.compare(seen if isinstance(seen, dict) else {}, result)
            else:
                _compare(kind, values, result)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _stubs(nb, kind) -> tuple[list[int], list[str]]:
    """Numbers (1-based, among code cells) of TODO cells still holding a published stub,
    and the names the stubs set (7.3: the experiments left at the published size)."""
    found, names, number = [], set(), 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        lines = {line.strip() for line in cell.source.splitlines()}
        if kind == "7.3":  # its TODOs are comments: the experiment cells hold the stubs
            experiment = grading73.experiment_cell(cell.source)
            if experiment and lines & grading73.STUBS:
                found.append(number)
                names.add(experiment)
        elif "TODO" in cell.source and lines & STUBS[kind]:
            found.append(number)
            names.update(re.match(r"\w+", line)[0] for line in lines & STUBS[kind])
    return found, sorted(names)


def _model(kind, values):
    """derive's model of the notebook, with the notebook's own values."""
    if kind == "7.1":
        given = {n: values[n] for n in TOY_PARAMETERS + ["x", "y"]
                 if isinstance(values.get(n), (int, float))}
        return with_values(family_model("toy"), given)
    weights = [np.asarray(w, float) for w in values["all_weights"]]
    biases = [np.asarray(b, float).reshape(-1) for b in values["all_biases"]]
    dims = tuple([weights[0].shape[1]] + [w.shape[0] for w in weights])
    x = np.asarray(values["net_input"], float).reshape(-1)
    y = np.asarray(values["y"], float).reshape(-1)
    return build(dims, DEFAULT_ACTIVATION, weights, biases, x, y, "notebook 7.2")


def _compare(kind, values, result: Graded):
    """Every graded quantity: pass, fail (with derive's value and the notebook's), or
    missing; and the first wrong step."""
    try:
        model = _model(kind, values)
    except (KeyError, ValueError, TypeError, IndexError, DeriveError):
        result.problem = ("the notebook's model could not be read (its parameters or "
                          "weights are missing or malformed)")
        return
    found = {n: values[n] for n in GRADED[kind] if n in values and values[n] != "unreadable"}
    verdict = compare(model, lambda: found, lenient=True) if found else None
    by_name = {}
    for q in (verdict.quantities if verdict else []):
        by_name[q.given_as] = q
    for name in _expected_names(kind, model):
        q = by_name.get(name)
        if q is None:
            result.rows.append({"quantity": name, "expected": None, "found": None,
                                "status": "missing", "problem": None})
        else:  # a value of the wrong shape is shown by its shape, never as NaNs
            result.rows.append({"quantity": name, "expected": q.expected.tolist(),
                                "found": None if q.problem else q.found.tolist(),
                                "status": "pass" if q.ok else "fail",
                                "problem": q.problem or None})
    if verdict is not None and verdict.first_wrong is not None:
        result.first_wrong = f"{verdict.first_wrong.given_as} ({verdict.equation})"
        # an untouched stub is "not completed"; its zeros or NaNs implicate no rule
        result.suspect = "" if result.stubs else verdict.suspect


def _expected_names(kind, model) -> list[str]:
    if kind == "7.1":
        return GRADED[kind]
    layers = len(model.lowerings[0].layers)
    names = [f"all_f[{k}]" for k in range(layers)]
    names += [f"all_h[{k}]" for k in range(1, layers)]
    names += [f"all_dl_dweights[{k}]" for k in range(layers)]
    names += [f"all_dl_dbiases[{k}]" for k in range(layers)]
    return names


def _add_our_cells(nb, mark: str, kind: str) -> None:
    """Our reading cell at the end, marked with this run's token (and for 7.3 a cell of
    ours after each experiment, reading what it computed)."""
    if kind == "7.3":
        cells = []
        for cell in nb.cells:
            cells.append(cell)
            experiment = cell.cell_type == "code" and grading73.experiment_cell(cell.source)
            if experiment:
                cells.append(_ours(grading73.after(experiment)))
        nb.cells = cells
    nb.cells.append(_ours(_reader(READ[kind], mark, READ_FIRST.get(kind, ""))))
