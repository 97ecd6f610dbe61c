"""Shared helpers: run the CLI in-process and capture its streams; a quick fresh venv."""

import contextlib
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from derive.cli import main


def call(*argv, cwd=None, env=None) -> tuple[int, str, str]:
    """derive in this process, as a separate one would run it: (exit code, stdout,
    stderr), in folder ``cwd`` and environment ``env`` (both restored after).

    A new process costs about a second of imports; tests that are about the process
    itself (signals, pipes, umask, an installed command) start one instead.
    """
    out, err = io.StringIO(), io.StringIO()
    folder, environment = os.getcwd(), dict(os.environ)
    try:
        if cwd is not None:
            os.chdir(cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in argv])
    finally:
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(environment)
    return code, out.getvalue(), err.getvalue()


def fresh_venv(where: Path) -> Path:
    """A virtual environment that sees this interpreter's packages (so a test measures
    derive's install, not downloads of SymPy and matplotlib), with a ``pip`` that
    is this interpreter's pip run by the venv's Python, so it installs into the venv.
    (``venv``'s own ensurepip would copy the same pip in for 12 s.)"""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(where)], check=True)
    pip = where / "bin" / "pip"
    pip.write_text(f"#!{where / 'bin' / 'python'}\nimport sys\n"
                   "from pip._internal.cli.main import main\nsys.exit(main())\n")
    pip.chmod(0o755)
    return where


@contextlib.contextmanager
def ctrl_c_reaches_children():
    """Children start with SIGINT at its default, as a command in a terminal's foreground
    does; a suite started as a shell's background job (``pytest &``) ignores SIGINT, and
    its children would inherit that and never see the Ctrl-C these tests send."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


REPORTS = {
    "toy": ["toy", "--depth", "1:8"],
    "tanh12": ["chain:tanh*12", "--depth", "1:8"],
    "udl72": ["mlp:udl72", "--depth", "1:5"],
    "logistic5": ["logistic:5", "--depth", "1:8"],
    "expr": ["--expr", "b1 + w1*tanh(b0 + w0*sin(b2 + w2*x))", "--param", "b0=0.1",
             "--param", "w0=1.5", "--param", "b1=-0.2", "--param", "w1=2",
             "--param", "b2=0.3", "--param", "w2=0.7", "--input", "x=1.2",
             "--target", "y=0.5", "--title", "tanh of sin"],
}
"""The reports the browser and chart tests read (issue 24: the toy, chain:tanh*12,
mlp:udl72, logistic:5 and an --expr)."""


@pytest.fixture(scope="session")
def report_folders(tmp_path_factory):
    """{name: its report's folder}, each written on first use as a user writes it (HTML
    and data.json; a 5 s budget, as the layout, not the sweep's length, is tested).
    Each report's tests form one xdist group (:func:`by_report`), so each report is
    built once, on one worker, while the other worker builds the rest."""
    root = tmp_path_factory.mktemp("reports")

    class Built(dict):
        def __missing__(self, name):
            out = root / name
            code = main(["report", *REPORTS[name], "--out", str(out), "--format", "html",
                         "--timestamp", "t", "--quiet", "--budget", "5"])
            assert code == 0, name
            self[name] = out
            return out

    return Built()


def by_report(names):
    """Parameters, one per report, each in that report's xdist group (the browser's)."""
    return [pytest.param(n, marks=pytest.mark.xdist_group(f"browser-{n}")) for n in names]


pytest_plugins = ["pytester"]  # the derive_check fixture is tested in a temporary project


@pytest.fixture
def run(capsys):
    """run(*argv) -> (exit code, stdout, stderr) of the derive command."""

    def _run(*argv):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


# Every random draw is seeded: Hypothesis derives its examples from each test's
# name instead of a fresh random seed, so a run is repeatable.
from hypothesis import settings  # noqa: E402

settings.register_profile("derive", derandomize=True, print_blob=True)
settings.load_profile("derive")


LONGEST = ("tests/test_names.py::",
           "tests/test_output_safety.py::test_an_implied_sweep",
           "tests/test_output_safety.py::test_the_main_job_in_a_fresh_clone",
           "tests/test_user_models.py::test_a_report_killed_midway",
           "tests/test_packaging.py::", "tests/test_language.py::test_random_programs",
           "tests/test_serve.py::", "tests/test_sandbox.py::",
           "tests/test_grade.py::test_a_notebook_past", "tests/test_grade.py::test_ctrl_c",
           "tests/test_grade.py::test_a_syntax_error", "tests/test_gradebook.py::test_a_folder",
           "tests/test_bounds.py::test_the_documented_limits",
           "tests/test_notebook_example.py::")
"""Tests of 5 to 50 s each (the suite's --durations): started first, so that neither of
xdist's two workers is left running one of them alone at the end of the run."""


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST))


@pytest.fixture(autouse=True)
def _own_grade_cache(tmp_path_factory, monkeypatch):
    """Each test keeps `derive grade`'s grades in a folder of its own (never the user's
    ~/.cache, and never a grade kept by another test)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
