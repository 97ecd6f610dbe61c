"""Issue 26: student code contained.  A hostile class (each notebook a completed 7.1 with
one hostile cell first) graded with the bwrap jail, and again without it, showing which
protections still hold there."""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from derive.usercode.sandbox import bwrap_works

NOTEBOOKS = Path(__file__).parent / "fixtures" / "notebooks"
MARKS = {"bwrap": "987.654", "off": "987.655"}
"""The sleeps the process fixture starts, found by their argument (one per test, so that
tests running side by side never count each other's)."""
HOSTILE = {
    "delete": "import os\nos.remove({planted!r})",
    "big_file": ("with open('big', 'wb') as f:\n"
                 "    for _ in range(5 * 1024):  # 5 GB, a MB at a time\n"
                 "        f.write(bytes(1 << 20))"),
    "memory": "import numpy as np\nwasted = np.ones(2**30)  # 8 GB of float64",
    "processes": ("import subprocess\n"
                  "subprocess.Popen(['sleep', '{mark}'], start_new_session=True)  # escapes\n"
                  "started = []\n"
                  "for _ in range(500):  # bounded here: root ignores RLIMIT_NPROC\n"
                  "    started.append(subprocess.Popen(['sleep', '{mark}']))"),
    "loop": "while True:\n    pass",
    "home": "print(open({secret!r}).read())",
    "socket": "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)",
}
IN_THE_JAIL = {
    # issue 28: a notebook could SIGKILL the grader; in the jail its parent is the
    # jail's, its user id not root's (outside it, as root, nothing would stop it)
    "grader": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
}
SECRET = "the teacher's secret answer key"


@pytest.fixture(scope="module")
def listener():
    """A server on the loopback address that counts the connections it is offered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    offered = []

    def accept():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            offered.append(1)
            connection.close()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], offered
    server.close()


def hostile_class(tmp_path: Path, port: int, mark: str, more=None) -> tuple[Path, Path, Path]:
    """The class folder, the teacher's planted file and the teacher's home."""
    import nbformat
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    planted = teacher / "keep.txt"
    planted.write_text("keep me")
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret.txt").write_text(SECRET)
    folder = tmp_path / "class"
    folder.mkdir()
    values = {"planted": str(planted), "secret": str(home / "secret.txt"), "port": port,
              "mark": mark}
    for name, cell in {**HOSTILE, **(more or {})}.items():
        nb = nbformat.read(NOTEBOOKS / "completed_7_1.ipynb", as_version=4)
        nb.cells.insert(0, nbformat.v4.new_code_cell(cell.format(**values)))
        nbformat.write(nb, folder / f"{name}.ipynb")
    (folder / "good.ipynb").write_bytes((NOTEBOOKS / "completed_7_1.ipynb").read_bytes())
    return folder, planted, home


def grade_class(folder: Path, home: Path, jail: str) -> dict:
    env = {**os.environ, "HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "derive.cli", "grade", str(folder), "--json",
                           "--jail", jail, "--timeout", "3", "--notebook-timeout", "40",
                           "--file-size", "50"],
                          capture_output=True, text=True, timeout=400, env=env,
                          cwd=folder.parent)
    assert done.returncode in (0, 1), done.stderr
    assert SECRET not in done.stdout and SECRET not in done.stderr
    return {Path(n["path"]).stem: n for n in json.loads(done.stdout)["notebooks"]}


def sleeps_left(mark: str, kill: bool = False) -> int:
    """The fixture's sleeps still running (read from /proc: jailed or not, they show);
    ``kill``: end them too."""
    left = 0
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if command[:2] == [b"sleep", mark.encode()] and state != "Z":
            left += 1
            if kill:
                os.kill(int(entry.name), 9)
    return left


def limit(graded: dict) -> list:
    return [e["limit"] for e in graded["errors"] if e.get("limit")]


def errors(graded: dict) -> str:
    return " ".join(e["error"] for e in graded["errors"])


@pytest.mark.skipif(bool(bwrap_works()), reason=f"no bwrap jail here: {bwrap_works()}")
def test_the_hostile_class_is_contained_in_the_jail(tmp_path, listener):
    port, offered = listener
    offered.clear()
    folder, planted, home = hostile_class(tmp_path, port, MARKS["bwrap"], IN_THE_JAIL)
    grades = grade_class(folder, home, "bwrap")
    assert planted.read_text() == "keep me"  # the file outside survives
    assert "FileNotFoundError" in errors(grades["delete"])  # the teacher's /tmp is not there
    assert limit(grades["big_file"]) == ["the file size limit (50 MB)"]
    assert not list(folder.rglob("big"))
    assert limit(grades["memory"]) == ["the memory limit (2048 MB)"]
    assert limit(grades["processes"]) == ["the process limit (64)"]
    assert limit(grades["loop"]) == ["the cell's time limit (3 s)"]
    assert grades["loop"]["timed_out"]
    assert "FileNotFoundError" in errors(grades["home"])
    assert "ConnectionRefusedError" in errors(grades["socket"]) and not offered
    assert "PermissionError" in errors(grades["grader"])  # and the run went on
    assert sleeps_left(MARKS["bwrap"]) == 0  # the one that left the kernel's session (setsid) too
    for name, graded in grades.items():  # the others are graded all the same
        assert graded["score"] == graded["max_score"] == 30, (name, graded)
        assert graded["seconds"] < 40 + 5, name  # within its notebook's time limit
        assert any(p.startswith("a bwrap jail") for p in graded["protections"])
    assert not grades["good"]["errors"]


def test_without_the_jail_the_grade_says_which_protections_hold(tmp_path, listener):
    """--jail off: limits and a private folder; the grade says no jail applied, and what
    the notebook could reach is what those protections leave."""
    port, offered = listener
    offered.clear()
    folder, planted, home = hostile_class(tmp_path, port, MARKS["off"])
    grades = grade_class(folder, home, "off")
    said = grades["good"]["protections"]
    assert any(p.startswith("no jail (--jail off)") for p in said)
    own_uid = any(p.startswith("a user id of its own") for p in said)
    # the limits hold with or without the jail
    assert limit(grades["big_file"]) == ["the file size limit (50 MB)"]
    assert limit(grades["memory"]) == ["the memory limit (2048 MB)"]
    assert limit(grades["loop"]) == ["the cell's time limit (3 s)"]
    if own_uid:  # root with a Python other ids may run: its permissions protect
        assert planted.read_text() == "keep me"
        assert limit(grades["processes"]) == ["the process limit (64)"]
    else:  # nothing stands between the notebook and the teacher's files: said so
        assert not planted.exists()
        assert not limit(grades["processes"])
    assert offered  # no network namespace: the loopback server was reached
    # the kernel's process group is killed all the same; the process that left it with
    # setsid dies only where the notebook had a user id of its own
    assert sleeps_left(MARKS["off"], kill=True) == (0 if own_uid else 1)
    for graded in grades.values():
        assert graded["score"] == graded["max_score"] == 30


def test_without_bwrap_installed_auto_says_so(tmp_path):
    """auto where bwrap is not on PATH: graded all the same, the grade says why no jail."""
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("kill", "sleep"):
        (bare / tool).symlink_to(subprocess.run(["which", tool], capture_output=True,
                                                text=True).stdout.strip())
    env = {**os.environ, "PATH": f"{bare}:{Path(sys.executable).parent}"}
    done = subprocess.run([sys.executable, "-m", "derive.cli", "grade", "--json",
                           str(NOTEBOOKS / "completed_7_1.ipynb")], capture_output=True,
                          text=True, timeout=120, env=env)
    graded = json.loads(done.stdout)["notebooks"][0]
    assert done.returncode == 0 and graded["passed"], done.stderr
    assert "no jail (bubblewrap is not installed): the notebook sees the network and " \
           "every file its user id may read" in graded["protections"]


def test_jail_bwrap_where_it_cannot_exits_2(tmp_path):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run([sys.executable, "-m", "derive.cli", "grade", "--jail", "bwrap",
                           str(NOTEBOOKS / "completed_7_1.ipynb")], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("derive: error: --jail bwrap: bubblewrap is not installed")
    assert done.stderr.count("\n") == 1
