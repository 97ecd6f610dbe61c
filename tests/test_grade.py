"""derive grade (issue 14): the book's notebooks 7.1 and 7.2 run in a fresh kernel and
graded against derive.  The fixtures are the published notebooks (MIT, LICENSE beside
them) and copies completed, or completed with one planted bug, by
tests/fixtures/notebooks/make.py."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import call, ctrl_c_reaches_children

pytest.importorskip("nbclient", reason="nbclient not installed: pip install -e '.[test]'")

NOTEBOOKS = Path(__file__).parent / "fixtures" / "notebooks"
PUBLISHED_71 = NOTEBOOKS / "7_1_Backpropagation_in_Toy_Model.ipynb"
PUBLISHED_72 = NOTEBOOKS / "7_2_Backpropagation.ipynb"


def grade(run, *paths, options=()):
    code, out, err = run("grade", *map(str, paths), *options)
    assert "internal error" not in err, err
    return code, out


@pytest.mark.parametrize("name,rows", [("completed_7_1.ipynb", 23), ("completed_7_2.ipynb", 23)])
def test_a_completed_notebook_passes_and_shows_every_quantity(run, name, rows):
    before = hashlib.sha256((NOTEBOOKS / name).read_bytes()).hexdigest()
    code, out = grade(run, NOTEBOOKS / name)
    assert code == 0, out
    assert f"PASS ({rows} pass, 0 wrong, 0 missing)" in out
    assert out.count(" pass\n") + out.rstrip().endswith("pass") >= rows
    assert hashlib.sha256((NOTEBOOKS / name).read_bytes()).hexdigest() == before


def test_notebook_72_as_published_raises_in_a_cell_yet_is_graded(run):
    # its print("y = %3.3f ..." % (y, loss)) raises TypeError on numpy 2: reported, not fatal
    code, out = grade(run, NOTEBOOKS / "completed_7_2.ipynb")
    assert code == 0 and "cell 7 raised TypeError" in out


def test_a_planted_bug_in_71_is_named_as_the_first_wrong_step(run):
    code, out = grade(run, NOTEBOOKS / "bug_7_1.ipynb")
    assert code == 1
    assert "first wrong step: dldf1 (∂ℓ/∂f₁ = h₂·∂ℓ/∂h₂)" in out
    assert "dldf1 is wrong although dldh2 is right: the rule for h₂ = exp[f₁] is the suspect" \
        in out


def test_a_planted_bug_in_72_is_named_as_the_first_wrong_step(run):
    code, out = grade(run, NOTEBOOKS / "bug_7_2.ipynb")
    assert code == 1
    assert "first wrong step: all_dl_dbiases[4] (∂ℓ/∂f₄ = 𝕀[f₄ > 0]·∂ℓ/∂h₅)" in out
    assert "the rule for h₅ = ReLU[f₄] is the suspect" in out


@pytest.mark.parametrize("path,cells", [(PUBLISHED_71, "6, 8, 10"), (PUBLISHED_72, "4, 8")])
def test_the_published_stubs_are_not_completed_though_their_checks_succeed(run, path, cells):
    code, out = grade(run, path)
    assert code == 1
    assert f"not completed: TODO cell(s) {cells}" in out and "PASS" not in out
    assert "is the suspect" not in out  # an untouched stub implicates no rule (issue 24)
    assert "In [1], In [2]" in out  # how the cells are counted


def test_a_value_of_the_wrong_shape_is_shown_by_its_shape_never_as_nans(run, tmp_path):
    """Issue 24: the published 7.2 leaves all_f[0] a 1x1 array; the grade showed it as
    [nan, nan, ...] ("nan" strings in JSON), as if the student had computed NaNs."""
    code, out, _ = run("grade", str(PUBLISHED_72), "--json")
    rows = {r["quantity"]: r for r in json.loads(out)["notebooks"][0]["quantities"]}
    assert rows["all_f[0]"]["problem"] == "shape (1, 1) holds 1 value, expected 6"
    assert rows["all_f[0]"]["found"] is None and rows["all_f[0]"]["status"] == "fail"
    assert "nan" not in out.lower()
    assert all(r["problem"] is None for r in rows.values() if r["status"] == "pass")
    code, text = grade(run, PUBLISHED_72)
    assert "shape (1, 1) holds 1 value, expected 6" in text and "nan" not in text


def test_a_syntax_error_and_an_infinite_loop_are_reported_not_hung(run):
    code, out = grade(run, NOTEBOOKS / "syntax_7_1.ipynb", NOTEBOOKS / "loop_7_1.ipynb",
                      options=["--timeout", "3"])
    assert code == 1
    lines = out.splitlines()
    assert "syntax_7_1.ipynb: notebook 7.1: FAIL (8 pass, 0 wrong, 15 missing)" in lines[0]
    assert "loop_7_1.ipynb" in lines[1] and "stopped at the timeout" in lines[1]
    assert lines[-1].startswith("2 notebooks: 0 passed, 2 failed; ")
    code, out = run("grade", str(NOTEBOOKS / "loop_7_1.ipynb"), "--timeout", "3", "--json")[:2]
    data = json.loads(out)["notebooks"][0]
    assert data["timed_out"] is True
    assert {"cell": 8, "error": "KeyboardInterrupt: ",
            "limit": "the cell's time limit (3 s)"} in data["errors"]


def test_which_notebook_comes_from_its_content_not_its_name(run, tmp_path):
    copy = tmp_path / "homework.ipynb"
    shutil.copy(NOTEBOOKS / "completed_7_1.ipynb", copy)
    code, out = grade(run, copy)
    assert code == 0 and "notebook 7.1: PASS" in out
    (tmp_path / "other.ipynb").write_text(json.dumps(
        {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    code, out = grade(run, tmp_path / "other.ipynb")
    assert code == 1 and "none of notebooks 7.1, 7.2 and 7.3" in out


def test_grade_json_and_html(run, tmp_path):
    code, out = grade(run, NOTEBOOKS / "completed_7_1.ipynb", NOTEBOOKS / "bug_7_2.ipynb",
                      options=["--json", "--html", str(tmp_path / "grades.html")])
    assert code == 1
    data = json.loads(out)
    assert (data["passed"], data["failed"]) == (1, 1)
    first, second = data["notebooks"]
    assert first["notebook"] == "7.1" and first["passed"] is True
    assert len(first["quantities"]) == 23
    assert second["first_wrong"].startswith("all_dl_dbiases[4]")
    page = (tmp_path / "grades.html").read_text()
    assert "all_dl_dbiases[4]" in page and 'class="fail"' in page


def test_bad_options_exit_2(run):
    code, _, err = run("grade", str(NOTEBOOKS / "completed_7_1.ipynb"), "--timeout", "0")
    assert code == 2 and "--timeout" in err


# ---- issue 28: a grade comes only from the grader ---------------------------------------

HOSTILE = {
    "forged by a hook": (
        "from IPython import get_ipython\n"
        "def _forge(result):\n"
        "    print('DERIVE-GRADE:' + '{\"f0\": 1.23}')\n"
        "get_ipython().events.register('post_run_cell', _forge)"),
    "a malformed grade line": "print('DERIVE-GRADE:{not json')",
    "json.dumps patched": "import json\njson.dumps = lambda *a, **k: 1 / 0",
}


def _with_cell(source: Path, target: Path, code: str) -> Path:
    import nbformat
    nb = nbformat.read(source, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(code))
    nbformat.write(nb, target)
    return target


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    """One class run: the good 7.1, each hostile notebook, the good 7.2 (each notebook in
    a fresh kernel, as always); the hostile ones are the buggy 7.1 (its backprop wrong)
    with a cell that tries to forge or break the grade line."""
    folder = tmp_path_factory.mktemp("hostile")
    hostile = [_with_cell(NOTEBOOKS / "bug_7_1.ipynb", folder / f"{name}.ipynb", HOSTILE[name])
               for name in sorted(HOSTILE)]
    code, out, err = call("grade", NOTEBOOKS / "completed_7_1.ipynb", *hostile,
                          NOTEBOOKS / "completed_7_2.ipynb", "--json")
    assert "internal error" not in err, err
    return code, {Path(n["path"]).stem: n["passed"] for n in json.loads(out)["notebooks"]}


@pytest.mark.xdist_group("grade-hostile")
@pytest.mark.parametrize("hostility", sorted(HOSTILE))
def test_a_hostile_notebook_between_two_good_ones_fails_alone(hostile_class, hostility):
    code, verdicts = hostile_class
    assert code == 1
    assert verdicts[hostility] is False
    assert verdicts["completed_7_1"] and verdicts["completed_7_2"]  # the good ones pass


def test_a_hook_printing_a_perfect_grade_line_does_not_pass(run, tmp_path):
    """A stub notebook (nothing computed) whose hook prints every expected value."""
    import derive
    trace = derive.trace(derive.model("toy"))
    forged = {**{r["name"]: r["value"] for r in trace.forward}, "l_i": trace.loss,
              **{f"dld{r['name']}": r["adjoint"] for r in trace.backward},
              **{f"dld{name}": value for name, value in trace.gradients.items()},
              **trace.parameters, **trace.inputs, "y": trace.target}
    forged = {k: v for k, v in forged.items() if k != "l"}
    hook = ("from IPython import get_ipython\n"
            f"_values = {json.dumps(forged)!r}\n"
            "get_ipython().events.register('post_run_cell', "
            "lambda result: print('DERIVE-GRADE:' + _values))")
    notebook = _with_cell(NOTEBOOKS / "bug_7_1.ipynb", tmp_path / "forged.ipynb", hook)
    code, out = grade(run, notebook)
    assert code == 1 and "PASS" not in out


STUBBORN = """import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # the cell's interrupt will not stop it
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open({pids!r}, "w").write(str(child.pid))
while True:
    time.sleep(0.05)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (killed, not yet reaped by its parent) is not running
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_notebook_past_its_time_limit_is_killed_with_its_processes(tmp_path):
    """Issue 28: a kernel that ignores SIGINT and a process it started in the background
    are killed at the notebook's time limit; the notebook is graded as stopped.  Without
    the jail (--jail off), so that the notebook can write its child's pid where the test
    reads it: the kill of the kernel's process group holds there too (in the jail, its
    process namespace ends everything: tests/test_sandbox.py)."""
    pids = tmp_path / "child.pid"
    import nbformat
    nb = nbformat.read(NOTEBOOKS / "completed_7_1.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(STUBBORN.format(pids=str(pids))))
    stubborn = tmp_path / "stubborn.ipynb"
    nbformat.write(nb, stubborn)
    # the first cell: interrupted at 3 s, ignores it; nbclient waits 4 s more for its
    # output, and by then (7 s) the notebook's 5 s are spent: no other cell starts
    done = subprocess.run([sys.executable, "-m", "derive.cli", "grade", str(stubborn),
                           "--timeout", "3", "--notebook-timeout", "5", "--json",
                           "--jail", "off"],
                          capture_output=True, text=True, timeout=120)  # never hangs
    assert done.returncode == 1, done.stderr
    graded = json.loads(done.stdout)["notebooks"][0]
    assert graded["timed_out"] is True and not graded["passed"]
    assert any("time limit (5 s) reached" in e["error"] for e in graded["errors"]), graded
    child = int(pids.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the notebook's background process outlived its grading"


SLEEPER = """import os, time
open({pid!r}, "w").write(str(os.getpid()))
time.sleep(600)
"""


def test_ctrl_c_while_grading_stops_every_kernel_and_exits_130(tmp_path):
    """Issue 28: Ctrl-C during a class run exits 130 with one line (it was a traceback and
    exit 1 or 3), at once, and no kernel is left running, started or waiting (--jail off,
    so that the kernels' pids reach the test)."""
    import nbformat
    paths, pids = [], []
    for k in range(3):  # two run side by side, the third waits for a worker
        nb = nbformat.read(NOTEBOOKS / "completed_7_1.ipynb", as_version=4)
        pids.append(tmp_path / f"kernel{k}.pid")
        nb.cells.insert(0, nbformat.v4.new_code_cell(SLEEPER.format(pid=str(pids[-1]))))
        paths.append(tmp_path / f"sleeper{k}.ipynb")
        nbformat.write(nb, paths[-1])
    with ctrl_c_reaches_children():
        process = subprocess.Popen([sys.executable, "-m", "derive.cli", "grade", *map(str, paths),
                                    "--jail", "off"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not all(p.exists() for p in pids[:2]) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err == "derive: interrupted\n" and out == "", err
    assert not pids[2].exists()  # the third notebook never started
    for pid in pids[:2]:
        kernel = int(pid.read_text())
        deadline = time.monotonic() + 10
        while _alive(kernel) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(kernel), "a kernel outlived the Ctrl-C"


def test_bad_notebook_timeouts_exit_2(run):
    for bad in ("0", "-1", "1e9", "nan"):
        code, out, err = run("grade", str(NOTEBOOKS / "completed_7_1.ipynb"),
                             "--notebook-timeout", bad)
        assert code == 2 and out == "" and err.count("\n") == 1, (bad, err)


def test_a_kernel_that_dies_starting_is_started_again(monkeypatch):
    """A kernel can die before its first reply when another started at the same moment
    takes its port (seen once in CI: "Kernel died before replying to kernel_info"); no
    cell has run, so the grader starts one again, up to KERNEL_STARTS in all."""
    from nbclient import NotebookClient

    from derive.usercode import grading, running
    real, starts = NotebookClient.execute, []

    def dies_at_first(self, **kwargs):
        starts.append(1)
        if len(starts) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(self, **kwargs)

    monkeypatch.setattr(NotebookClient, "execute", dies_at_first)
    graded = grading.grade(NOTEBOOKS / "completed_7_1.ipynb")
    assert graded.passed and len(starts) == 2 and not graded.errors

    def always_dies(self, **kwargs):
        starts.append(1)
        raise RuntimeError("Kernel died before replying to kernel_info")

    starts.clear()
    monkeypatch.setattr(NotebookClient, "execute", always_dies)
    graded = grading.grade(NOTEBOOKS / "completed_7_1.ipynb")
    assert not graded.passed and len(starts) == running.KERNEL_STARTS
    assert graded.errors == [{"cell": None, "error": "RuntimeError: stopped", "limit": None}]
