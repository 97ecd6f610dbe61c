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
           "tests/test_conduct.py::test_an_implied_sweep",
           "tests/test_conduct.py::test_the_main_job_in_a_fresh_clone",
           "tests/test_user_models.py::test_a_report_killed_midway",
           "tests/test_packaging.py::", "tests/test_language.py::test_random_programs",
           "tests/test_serve.py::")
"""Tests of 15 to 50 s each (the suite's --durations): started first, so that neither of
xdist's two workers is left running one of them alone at the end of the run."""


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST))


@pytest.fixture(autouse=True)
def _own_grade_cache(tmp_path_factory, monkeypatch):
    """Each test keeps `derive grade`'s grades in a folder of its own (never the user's
    ~/.cache, and never a grade kept by another test)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
