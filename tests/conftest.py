"""Shared helpers: run the CLI in-process and capture its streams."""

import pytest

from derive.cli import main

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
