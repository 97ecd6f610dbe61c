"""Writing files so that nothing is lost: not the user's files, not an earlier report.

* A file is written to a temporary sibling and renamed into place (atomic on
  POSIX), with the mode a plain ``open`` would give it (the umask's, or the
  existing file's).
* A report folder carries a marker, :data:`MARKER`.  derive replaces a folder
  only if it is new, empty or marked; a folder holding the user's files is
  refused unless ``force``; the current folder, its parents, the home folder
  and ``/`` are never replaced.
* A folder is built beside its target and swapped in whole, under a lock
  (:func:`locked`), so two runs into one folder cannot mix: the second fails
  at once.  Staging folders that a killed run left are removed by the next run
  into the same target.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "thesis.tex").write_text("mine")
4
>>> check_target(folder)
Traceback (most recent call last):
...
derive.errors.DeriveError: --out ... holds files derive did not write (no .derive-report marker): choose a new or empty folder, or add --force to replace it
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from pathlib import Path

from .errors import DeriveError

MARKER = ".derive-report"
"""The file that marks a folder as a report derive wrote (and may replace)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary sibling and an atomic rename."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path, data: bytes) -> Path:
    path = Path(path)
    if path.is_dir():
        raise DeriveError(f"{str(path)!r} is a folder: give the name of a file to write")
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _protected() -> set[Path]:
    here = Path.cwd().resolve()
    return {here, *here.parents, Path.home().resolve(), Path("/")}


def check_target(target, force: bool = False) -> Path:
    """The report folder ``target``, refused (one-line :class:`DeriveError`) where
    replacing it could lose what derive did not write."""
    target = Path(target)
    shown = repr(str(target))
    if target.exists() and not target.is_dir():
        raise DeriveError(f"--out {shown} is a file, not a folder: choose a folder")
    if target.resolve() in _protected():
        raise DeriveError(f"--out {shown} is the current folder, one of its parents, the home "
                          "folder or /: derive never replaces it; choose a new folder")
    if (target.is_dir() and not (target / MARKER).is_file() and not force
            and any(target.iterdir())):
        raise DeriveError(f"--out {shown} holds files derive did not write (no {MARKER} "
                          "marker): choose a new or empty folder, or add --force to replace it")
    return target


@contextlib.contextmanager
def locked(target):
    """Hold the lock of ``target`` for a whole run; a second run fails at once.

    The lock is a hidden file beside the target, removed when the run ends;
    while it is held, staging folders left by killed runs are cleared.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    path = target.parent / f".{target.name}.lock"
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(handle.fileno()).st_ino != os.stat(path).st_ino:
                raise BlockingIOError  # the file was replaced by a run that just ended
        except (BlockingIOError, FileNotFoundError):
            raise DeriveError(f"another derive run is writing {str(target)!r}: wait for it "
                              "to finish, or choose another --out") from None
        try:
            for stale in [*target.parent.glob(f".{target.name}.new.*"),
                          *target.parent.glob(f".{target.name}.old.*")]:
                shutil.rmtree(stale, ignore_errors=True)
            yield target
        finally:
            path.unlink(missing_ok=True)


def replace_directory(target, build) -> Path:
    """Build a folder with ``build(tmpdir)`` beside ``target``, mark it, then swap it in.

    Until the final renames the previous ``target`` is untouched; a failure
    removes the half-built folder and leaves ``target`` as it was.  Call it
    inside :func:`locked` after :func:`check_target`.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new.", dir=target.parent))
    try:
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a report is for reading
        build(staging)
        (staging / MARKER).write_text("derive report wrote this folder and replaces it whole\n")
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            old.rmdir()
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
