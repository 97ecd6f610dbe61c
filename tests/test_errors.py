"""Bad input: one line on stderr naming what is wrong, exit 2, never a traceback."""

import subprocess
import sys

import pytest

BAD = {
    "chain:foo": "unknown primitive 'foo'",
    "chain:": "at least one layer",
    "chain:tanh*0": "repeat count",
    "chain:tanh*": "repeat count",
    "logistic:-3": "whole number N",
    "logistic:abc": "whole number N",
    "logistic:": "whole number N",
    "": "empty model name",
    "garbage": "expected toy, chain:LIST",
    "toy:3": "expected toy",
    "chain:sin,,cos": "unknown primitive ''",
}


@pytest.mark.parametrize("command", ["trace", "check"])
@pytest.mark.parametrize("spec,message", BAD.items())
def test_bad_model_strings_exit_2_with_one_line(run, command, spec, message):
    code, out, err = run(command, spec)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err
    assert "Traceback" not in err


def test_bad_options_exit_2(run):
    code, _, err = run("check", "--batch", "0")
    assert code == 2 and err.count("\n") == 1
    code, _, err = run("check", "--batch", "many")
    assert code == 2 and err.count("\n") == 1
    code, _, err = run("trace", "--nope")
    assert code == 2 and err.count("\n") == 1


def test_installed_console_command_reports_errors_without_traceback():
    done = subprocess.run([sys.executable, "-m", "derive.cli", "check", "chain:tanh*0"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("derive: error: bad model 'chain:tanh*0'")
    assert "Traceback" not in done.stderr
