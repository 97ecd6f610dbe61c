"""Issue 28, "never touch what is not ours" and "every path error answered": each data-loss
case of the adversarial round replayed with a planted user folder and checksums before and
after, and each unwritable output path answered with one line and exit 2."""

import hashlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import call
from derive.base import writing
from derive.base.writing import MARKER, locked

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["--depth", "1:2", "--format", "html", "--budget", "0.001"]
NOTEBOOK = ROOT / "tests" / "fixtures" / "notebooks" / "completed_7_1.ipynb"


def checksums(folder: Path) -> dict:
    """Every file and folder under ``folder`` (links not followed), with its bytes' hash."""
    found = {}
    for root, folders, files in os.walk(folder):
        for name in folders:
            found[os.path.relpath(os.path.join(root, name), folder)] = "folder"
        for name in files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = (
                "link " + os.readlink(path) if os.path.islink(path)
                else hashlib.sha256(Path(path).read_bytes()).hexdigest())
    return found


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("derive: error: ")


def plant(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name / "deep").mkdir(parents=True)
        (folder / name / "deep" / "precious.txt").write_text(f"the user's {name}\n")


# ---- user text is never a pattern ---------------------------------------------------


@pytest.mark.parametrize("out, planted", [
    ("*", [".important.new.backup", ".config.old.2023", ".other"]),
    ("m[i]ne", [".mine.old.keep", ".mine.new.x", ".m[i]ne.old.keep"]),
    ("toy", [".toy.old.keep", ".toy.new.keep", ".toy.lock.d"]),
])
def test_staging_and_clean_up_never_expand_the_users_path(tmp_path, out, planted):
    folder = tmp_path / "globdir"
    folder.mkdir()
    plant(folder, *planted)
    before = checksums(folder)
    for _ in range(2):  # the first run makes the folder, the second replaces it
        code, _, err = call("report", *QUICK, "--out", str(folder / out))
        assert code == 0, err
    after = checksums(folder)
    assert {k: v for k, v in after.items() if k.split("/")[0] != out} == before
    assert (folder / out / MARKER).is_file()


# ---- a rerun removes only what derive wrote --------------------------------------------


def test_a_rerun_keeps_the_files_the_user_added_and_says_so(tmp_path):
    out = tmp_path / "r"
    assert call("report", *QUICK, "--out", str(out))[0] == 0
    (out / "notes.txt").write_text("my notes\n")
    plant(out, "drafts")
    mine = {k: v for k, v in checksums(out).items() if k.startswith(("notes", "drafts"))}
    code, _, err = call("report", *QUICK, "--out", str(out), "--timestamp", "again")
    assert code == 0, err
    assert "kept 2 file(s)" in err and "notes.txt" in err and "drafts" in err
    after = checksums(out)
    assert {k: v for k, v in after.items() if k.startswith(("notes", "drafts"))} == mine
    assert '"timestamp": "again"' in (out / "data.json").read_text()
    listed = (out / MARKER).read_text().splitlines()
    assert "data.json" in listed and "notes.txt" not in listed


def test_a_user_file_that_derive_now_writes_is_refused_and_the_report_kept(tmp_path):
    out = tmp_path / "r"
    assert call("report", *QUICK, "--out", str(out))[0] == 0
    marker = out / MARKER
    marker.write_text("\n".join(line for line in marker.read_text().splitlines()
                                if line != "index.html") + "\n")  # as if the user added it
    before = checksums(out)
    code, _, err = call("report", *QUICK, "--out", str(out))
    assert code == 2 and one_line(err) and "index.html" in err
    assert checksums(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


# ---- a kill between the two renames of the swap ---------------------------------------------

KILL_AFTER_FIRST_RENAME = """
import os, signal, sys
import derive.base.writing
real = os.replace
def replace(source, destination):
    real(source, destination)
    if ".old." in str(destination):  # the previous report moved aside, the new not yet in
        os.kill(os.getpid(), signal.SIGKILL)
derive.base.writing.os.replace = replace
from derive.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_kill_between_the_renames_loses_neither_report(tmp_path):
    out = tmp_path / "toy"
    assert call("report", *QUICK, "--out", str(out), "--timestamp", "previous")[0] == 0
    previous = checksums(out)
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_RENAME, "report", *QUICK,
                             "--out", str(out)], capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    assert not out.exists()  # the window the kill was aimed at: the report is aside
    aside = [p for p in tmp_path.iterdir() if p.name.startswith(".toy.old.")]
    assert len(aside) == 1 and checksums(aside[0]) == previous
    with locked(out):  # what the next run does first
        assert checksums(out) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"]


def test_a_staging_folder_is_journaled_before_it_exists(tmp_path, monkeypatch):
    """A kill at the instant the staging folder is made (the race that once left
    ``.toy.new.XXXXXXXX`` behind): its name is in the journal already, so the next run
    clears it; a folder of that name made by someone else in between is left alone."""
    out, made = tmp_path / "toy", []
    real = os.mkdir

    def mkdir(path, mode=0o777, **kw):
        if ".new." not in str(path):
            return real(path, mode, **kw)
        journal = (tmp_path / ".toy.lock").read_text()
        if not made:  # someone else takes the first name in between
            real(path)
            (Path(path) / "theirs.txt").write_text("theirs")
        made.append((Path(path).name, journal))
        real(path, mode)

    monkeypatch.setattr(writing.os, "mkdir", mkdir)
    with locked(out) as journal:
        staging = writing._new_folder(out, journal)
        left = (tmp_path / ".toy.lock").read_text()  # what a kill here leaves
    monkeypatch.undo()
    (tmp_path / ".toy.lock").write_text(left)
    (theirs, first), (ours, second) = made
    assert f"new {theirs}\n" in first and f"new {ours}\n" in second
    assert f"drop {theirs}\n" in second and staging.name == ours
    with locked(out):  # what the next run does first, after a kill here
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [theirs]
    assert (tmp_path / theirs / "theirs.txt").read_text() == "theirs"


def test_the_run_after_such_a_kill_says_it_put_the_report_back(tmp_path):
    out = tmp_path / "toy"
    assert call("report", *QUICK, "--out", str(out))[0] == 0
    subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_RENAME, "report", *QUICK, "--out",
                    str(out)], capture_output=True)
    code, _, err = call("report", *QUICK, "--out", str(out), "--timestamp", "next")
    assert code == 0, err
    assert "put back the previous report" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"]


# ---- -o writes regular files only --------------------------------------------------------


def special_file(tmp_path: Path, kind: str) -> Path:
    """A ``kind`` of file named ``*.svg`` (so that graph's suffix check passes)."""
    path = tmp_path / f"{kind}.svg"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        socket.socket(socket.AF_UNIX).bind(str(path))
    elif kind == "device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # /dev/null's numbers
        except PermissionError:
            return Path("/dev/null")
    else:
        path.mkdir()
    return path


@pytest.mark.parametrize("kind", ["fifo", "socket", "device", "folder"])
@pytest.mark.parametrize("command", [["code", "-o"], ["graph", "-o"], ["grade", str(NOTEBOOK),
                                                                        "--html"]])
def test_o_refuses_anything_but_a_regular_file(tmp_path, kind, command):
    path = special_file(tmp_path, kind)
    code, out, err = call(*command, str(path), "--force")
    assert code == 2 and one_line(err), err
    assert ("folder" if kind == "folder" else "not a regular file") in err
    assert {"fifo": path.is_fifo, "socket": path.is_socket, "device": path.is_char_device,
            "folder": path.is_dir}[kind]()


def test_o_writes_through_a_link_only_with_force_and_says_so(tmp_path):
    target = tmp_path / "real.py"
    target.write_text("the user's file\n")
    link = tmp_path / "link.py"
    link.symlink_to(target)
    code, _, err = call("code", "-o", str(link))
    assert code == 2 and one_line(err) and "symbolic link" in err and "--force" in err
    assert target.read_text() == "the user's file\n" and link.is_symlink()
    code, out, err = call("code", "-o", str(link), "--force")
    assert code == 0 and "symbolic link" in err
    assert link.is_symlink() and "def loss_and_gradient" in target.read_text()


def test_grade_html_onto_a_notebook_is_refused_and_the_notebook_unchanged(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    shutil.copy(NOTEBOOK, notebook)
    before = notebook.read_bytes()
    for html in (notebook, tmp_path / "." / "nb.ipynb"):
        code, out, err = call("grade", str(notebook), "--html", str(html))
        assert code == 2 and one_line(err) and "notebooks being graded" in err
        assert notebook.read_bytes() == before


def test_code_o_empty_is_refused(tmp_path):
    code, out, err = call("code", "-o", "", cwd=tmp_path)
    assert code == 2 and one_line(err) and out == ""
    assert list(tmp_path.iterdir()) == []


# ---- every path error answered ----------------------------------------------------------


@pytest.fixture
def immutable(tmp_path):
    folder = tmp_path / "immutable"
    folder.mkdir()
    (folder / "inside").mkdir()
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {done.stderr.strip()}")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


def unwritable(tmp_path: Path, immutable: Path) -> dict:
    regular = tmp_path / "regular"
    regular.write_text("x")
    return {
        "under a regular file": regular / "sub",
        "a name over 255 bytes": tmp_path / ("n" * 300),
        "a 5,000-character path": tmp_path / "/".join(["d" * 99] * 50),
        "under /proc": Path("/proc/derive-report"),
        "in an immutable folder": immutable / "new",
        "under an immutable folder": immutable / "inside" / "new",  # inside is writable
        "the immutable folder itself": immutable,
    }


@pytest.mark.parametrize("case", ["under a regular file", "a name over 255 bytes",
                                  "a 5,000-character path", "under /proc",
                                  "in an immutable folder", "the immutable folder itself"])
def test_every_unwritable_out_is_one_line_and_exit_2(tmp_path, immutable, case):
    path = unwritable(tmp_path, immutable)[case]
    before = checksums(tmp_path)
    code, out, err = call("report", *QUICK, "--out", str(path), "--force")
    assert code == 2 and one_line(err), err
    assert checksums(tmp_path) == before


@pytest.mark.parametrize("case", ["under a regular file", "a name over 255 bytes",
                                  "a 5,000-character path", "under /proc",
                                  "in an immutable folder"])
@pytest.mark.parametrize("command", ["code", "graph"])
def test_every_unwritable_o_is_one_line_and_exit_2(tmp_path, immutable, case, command):
    path = unwritable(tmp_path, immutable)[case]
    path = Path(f"{path}.svg") if command == "graph" else path
    code, out, err = call(command, "-o", str(path))
    assert code == 2 and one_line(err), err
