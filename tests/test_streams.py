"""Issue 28, "honest streams": a closed or full standard output, a terminal that cannot
encode the book's notation, and a deleted working folder, each answered with one line and
the documented exit code (never 3), in a real process with real file descriptors."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

DERIVE = [sys.executable, "-m", "derive.cli"]
ASCII_TERMINAL = {**os.environ, "LC_ALL": "C", "PYTHONIOENCODING": "ascii"}


def shell(command: str, **options) -> subprocess.CompletedProcess:
    """``derive ARGS`` run by bash, so that redirections such as ``>&-`` are real."""
    return subprocess.run(["bash", "-c", command.replace("derive", " ".join(DERIVE), 1)],
                          capture_output=True, **options)


def one_error(stderr: bytes) -> bool:
    text = stderr.decode()
    return text.count("\n") == 1 and text.startswith("derive: error: ")


@pytest.mark.parametrize("command", ["derive trace >&-", "derive check --json >&-",
                                     "derive report --out r --format html >&-"])
def test_a_closed_standard_output_is_one_line_exit_2_before_any_work(tmp_path, command):
    done = shell(command, cwd=tmp_path)
    assert done.returncode == 2 and one_error(done.stderr), done.stderr
    assert b"standard output is closed" in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing ran: no report, no lock file


@pytest.mark.parametrize("command", ["derive trace > /dev/full",
                                     "derive check --json > /dev/full",
                                     "derive graph > /dev/full"])
def test_a_full_standard_output_is_one_line_exit_2(command):
    done = shell(command)
    assert done.returncode == 2 and one_error(done.stderr), done.stderr
    assert b"No space left on device" in done.stderr


@pytest.mark.parametrize("command", ["trace", "check", "sizes sin,exp,cos --depth 1:3",
                                     "hessian"])
def test_an_ascii_terminal_gets_ascii_names_and_one_note(command):
    done = subprocess.run([*DERIVE, *command.split()], capture_output=True, env=ASCII_TERMINAL)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode("ascii")  # raises if anything is not ASCII
    notes = done.stderr.decode("ascii").splitlines()
    assert len(notes) == 1 and "spelled in ASCII" in notes[0]
    if command == "trace":
        assert "beta0 + omega0*x" in text and "dl/dparam" in text
        step1 = text.split("Step 2")[0]
        lines = [line for line in step1.splitlines() if line.startswith(("f0 ", "h1 "))]
        value_column = {line.rindex(" ") for line in lines}  # the table still aligns
        assert len(lines) == 2 and len(value_column) == 1


def test_an_ascii_terminal_gets_the_same_svg_with_character_references():
    done = subprocess.run([*DERIVE, "graph"], capture_output=True, env=ASCII_TERMINAL)
    assert done.returncode == 0, done.stderr
    ascii_svg = done.stdout.decode("ascii")
    utf8 = subprocess.run([*DERIVE, "graph"], capture_output=True, check=True).stdout.decode()
    assert "&#" in ascii_svg
    texts = [[t.text for t in ElementTree.fromstring(svg).iter() if t.text]
             for svg in (ascii_svg, utf8)]
    assert texts[0] == texts[1] and any("ω" in t for t in texts[1])


@pytest.fixture
def gone(tmp_path):
    """A working folder that is deleted under the process (bash cds in, then removes it)."""
    folder = tmp_path / "gone"
    folder.mkdir()
    return f"cd {folder} && rmdir {folder} && "


def test_trace_in_a_deleted_folder_still_runs(gone):
    done = shell(gone + "derive trace")
    assert done.returncode == 0, done.stderr
    assert b"Step 3" in done.stdout


@pytest.mark.parametrize("command", ["derive report --depth 1:2 --format html",
                                     "derive trace --input x=@x.csv",
                                     "derive code -o out.py"])
def test_paths_in_a_deleted_folder_are_one_line_exit_2(gone, command):
    done = shell(gone + command)
    assert done.returncode == 2 and one_error(done.stderr), done.stderr
