"""Shared helpers: run the CLI in-process and capture its streams."""

import pytest

from derive.cli import main


@pytest.fixture
def run(capsys):
    """run(*argv) -> (exit code, stdout, stderr) of the derive command."""

    def _run(*argv):
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return _run
