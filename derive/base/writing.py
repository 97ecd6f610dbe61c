"""Writing files so that nothing is lost: not the user's files, not an earlier report.

* A file is written to a temporary sibling and renamed into place (atomic on
  POSIX), with the mode a plain ``open`` would give it (the umask's, or the
  existing file's).  Only a regular file or a new name is written: a folder,
  device, FIFO or socket is refused, and a symbolic link is written through
  (to its target) only with ``force`` (:func:`check_file`).
* A report folder carries a marker, :data:`MARKER`, listing the files derive
  wrote.  derive replaces a folder only if it is new, empty or marked; a folder
  holding the user's files is refused unless ``force``; the current folder,
  its parents, the home folder and ``/`` are never replaced.  A rerun into a
  marked folder replaces only the files the marker lists: files the user added
  are carried into the new folder (hard links, so nothing is copied twice).
* A folder is built beside its target and swapped in whole, under a lock
  (:func:`locked`), so two runs into one folder cannot mix: the second fails
  at once.  The lock file is also a journal naming, exactly, each staging
  folder and each previous report moved aside; the next run into the same
  target reads it and removes only those (no pattern is ever expanded), and
  if a kill fell between the two renames of a swap it puts the previous
  report back.  The previous report is deleted only once the new one is in
  place.
* Every path that cannot be written (a file in the way, a name too long, a
  read-only folder, a pseudo-filesystem) is one :class:`DeriveError` line.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "thesis.tex").write_text("mine")
4
>>> check_target(folder)
Traceback (most recent call last):
...
derive.base.errors.DeriveError: --out ... holds files derive did not write (no .derive-report marker): choose a new or empty folder, or add --force to replace it
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from derive.base.errors import DeriveError

MARKER = ".derive-report"
"""The file that marks a folder as a report derive wrote; it lists the files written."""

_MARKER_HEAD = "derive report wrote this folder; a rerun replaces the files below, keeps others"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _cannot(shown: str, error: OSError) -> DeriveError:
    reason = error.strerror or type(error).__name__
    try:
        os.getcwd()
    except OSError:
        reason = "the current folder no longer exists (it was deleted or moved)"
    return DeriveError(f"cannot write {shown}: {reason}")


def _check_names(path: Path, shown: str) -> None:
    """Refuse a path or a component longer than the system allows, before any work."""
    text = os.fsencode(str(path))
    if len(text) >= 4096:
        raise DeriveError(f"cannot write {shown[:60]}...: the path is {len(text)} bytes, "
                          "over the system's 4,095")
    for part in path.parts:
        if len(os.fsencode(part)) > 255:
            raise DeriveError(f"cannot write {shown[:60]}...: a name in the path is over 255 "
                              "bytes")


def _nearest_folder(path: Path, shown: str) -> Path:
    """The nearest existing ancestor of ``path``: it must be a folder we may write in."""
    parent = path.parent
    while True:
        try:
            mode = os.stat(parent).st_mode
        except FileNotFoundError:
            parent = parent.parent
            continue
        except OSError as error:
            raise _cannot(shown, error) from None
        if not stat.S_ISDIR(mode):
            raise DeriveError(f"cannot write {shown}: {str(parent)!r} is a file, not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise DeriveError(f"cannot write {shown}: the folder {str(parent)!r} is read-only")
        return parent


def check_file(path, force: bool = False, flag: str = "-o") -> Path:
    """The file to write for ``path``, checked before any work: a new name or a regular
    file, in a folder that can be written; a symbolic link only with ``force`` (its
    target is returned).  Anything else is one :class:`DeriveError` line.

    >>> check_file("/dev/null")
    Traceback (most recent call last):
    ...
    derive.base.errors.DeriveError: -o '/dev/null' is not a regular file (a device, FIFO or socket): derive writes only regular files
    """
    if str(path) == "":
        raise DeriveError(f"{flag} needs a file name; it was empty")
    path = Path(path)
    shown = f"{flag} {str(path)!r}"
    _check_names(path, shown)
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except OSError as error:
        raise _cannot(shown, error) from None
    if mode is not None and stat.S_ISLNK(mode):
        if not force:
            raise DeriveError(f"{shown} is a symbolic link (to {os.readlink(path)!r}): add "
                              "--force to write through it")
        path = Path(os.path.realpath(path))
        return check_file(path, False, flag)
    if mode is not None and stat.S_ISDIR(mode):
        raise DeriveError(f"{shown} is a folder: give the name of a file to write")
    if mode is not None and not stat.S_ISREG(mode):
        raise DeriveError(f"{shown} is not a regular file (a device, FIFO or socket): derive "
                          "writes only regular files")
    _nearest_folder(path, shown)
    return path


def write_text(path, text: str, force: bool = False, flag: str = "-o") -> Path:
    """Write ``text`` to ``path`` through a temporary sibling and an atomic rename."""
    return write_bytes(path, text.encode("utf-8"), force, flag)


def write_bytes(path, data: bytes, force: bool = False, flag: str = "-o") -> Path:
    """Write ``data`` to ``path`` (checked by :func:`check_file`) through a temporary
    sibling and an atomic rename; returns the path written (a link's target)."""
    path = check_file(path, force, flag)
    shown = f"{flag} {str(path)!r}"
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name[:200]}.", dir=path.parent)
    except OSError as error:
        raise _cannot(shown, error) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _cannot(shown, error) from None
        raise
    return path


def _protected() -> set[Path]:
    try:
        here = Path.cwd().resolve()
    except FileNotFoundError:
        here = Path("/")
    return {here, *here.parents, Path.home().resolve(), Path("/")}


def listed(folder) -> set[str] | None:
    """The files a report folder's marker lists (relative POSIX paths); None where the
    marker lists none (written by derive before 0.3: all its files are derive's)."""
    lines = (Path(folder) / MARKER).read_text(errors="replace").splitlines()
    if not lines or lines[0] != _MARKER_HEAD:
        return None
    return {line for line in lines[1:] if line}


def unlisted(folder, names: set[str]) -> list[str]:
    """The entries of ``folder`` that are not ``names`` nor on the way to one: what the
    user added (a whole added folder is one entry).  No recursion: a stack."""
    folder = Path(folder)
    on_the_way = {str(Path(n).parent) for n in names} | {
        str(p) for n in names for p in Path(n).parents}
    found, stack = [], [""]
    while stack:
        relative = stack.pop()
        for entry in sorted(os.scandir(folder / relative), key=lambda e: e.name):
            name = f"{relative}/{entry.name}" if relative else entry.name
            if name == MARKER or name in names:
                continue
            if entry.is_dir(follow_symlinks=False) and name in on_the_way:
                stack.append(name)
            else:
                found.append(name)
    return sorted(found)


def check_target(target, force: bool = False) -> Path:
    """The report folder ``target``, refused (one-line :class:`DeriveError`) where
    replacing it could lose what derive did not write, or where it cannot be written."""
    if str(target) == "":
        raise DeriveError("--out needs a folder name; it was empty")
    target = Path(target)
    shown = repr(str(target))
    _check_names(target, f"--out {shown}")
    try:
        exists, is_dir = target.exists(), target.is_dir()
        resolved = target.resolve()
    except OSError as error:
        raise _cannot(f"--out {shown}", error) from None
    if exists and not is_dir:
        raise DeriveError(f"--out {shown} is a file, not a folder: choose a folder")
    if resolved in _protected():
        raise DeriveError(f"--out {shown} is the current folder, one of its parents, the home "
                          "folder or /: derive never replaces it; choose a new folder")
    try:
        if is_dir and not (target / MARKER).is_file() and not force and any(target.iterdir()):
            raise DeriveError(f"--out {shown} holds files derive did not write (no {MARKER} "
                              "marker): choose a new or empty folder, or add --force to "
                              "replace it")
    except OSError as error:
        raise _cannot(f"--out {shown}", error) from None
    _nearest_folder(target, f"--out {shown}")
    return target


class Journal:
    """The lock file of a run, naming each folder it stages or moves aside (one line
    each, written before the folder exists) so that the next run can clear exactly
    those."""

    def __init__(self, target: Path, handle):
        self.target, self.handle = target, handle

    def note(self, kind: str, path: Path) -> None:
        self.handle.write(f"{kind} {path.name}\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def recover(self) -> str | None:
        """Clear what a killed run left; put back a previous report that a kill left
        aside with no report in its place.  Returns a note when it did."""
        self.handle.seek(0)
        restored, noted = None, {}
        for line in self.handle.read().splitlines():
            kind, _, name = line.partition(" ")
            if kind == "drop":
                noted.pop(name, None)
            elif kind in ("new", "old") and name and "/" not in name and name not in (".", ".."):
                noted[name] = kind
        for name, kind in noted.items():
            path = self.target.parent / name
            if not path.is_dir() or path.is_symlink():
                continue
            if kind == "old" and not os.path.lexists(self.target):
                os.replace(path, self.target)
                restored = (f"put back the previous report {str(self.target)!r}, which an "
                            "interrupted run had left aside")
            else:
                shutil.rmtree(path, ignore_errors=True)
        self.handle.seek(0)
        self.handle.truncate()
        return restored


@contextlib.contextmanager
def locked(target):
    """Hold the lock of ``target`` for a whole run; a second run fails at once.

    The lock is a hidden file beside the target, ``.NAME.lock``, removed when
    the run ends; it is the run's :class:`Journal`, which is yielded.
    """
    target = Path(target)
    shown = f"--out {str(target)!r}"
    path = target.parent / f".{target.name}.lock"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
    except OSError as error:
        raise _cannot(shown, error) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(handle.fileno()).st_ino != os.stat(path).st_ino:
                raise BlockingIOError  # the file was replaced by a run that just ended
        except (BlockingIOError, FileNotFoundError):
            raise DeriveError(f"another derive run is writing {str(target)!r}: wait for it "
                              "to finish, or choose another --out") from None
        try:
            journal = Journal(target, handle)
            note = journal.recover()
            if note:
                print(f"derive: note: {note}", file=sys.stderr)
            yield journal
        finally:
            path.unlink(missing_ok=True)


def _link_or_copy(source, destination, **_):
    try:
        os.link(source, destination, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, destination, follow_symlinks=False)
    return destination


def _carry(source: Path, destination: Path) -> None:
    """Put the user's ``source`` at ``destination`` too (hard links; the source stays)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), destination)
    elif source.is_dir():
        shutil.copytree(source, destination, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(source, destination)


def _files(folder: Path) -> list[str]:
    """Every file under ``folder`` but the marker, as relative POSIX paths."""
    found = []
    for root, _, names in os.walk(folder):
        relative = Path(root).relative_to(folder)
        found += [(relative / name).as_posix() for name in names]
    return sorted(name for name in found if name != MARKER)


def _new_folder(target: Path, journal: Journal | None) -> Path:
    """A new private staging folder ``.NAME.new.XXXXXXXX`` beside ``target``, its name
    journaled before it exists, so that a kill at any instant leaves nothing the next
    run cannot clear (``tempfile.mkdtemp`` would create it before the journal names it)."""
    while True:
        staging = target.parent / f".{target.name[:200]}.new.{secrets.token_hex(4)}"
        if os.path.lexists(staging):
            continue
        if journal is not None:
            journal.note("new", staging)
        try:
            os.mkdir(staging, 0o700)
            return staging
        except FileExistsError:  # made in between by someone else: not ours to clear
            if journal is not None:
                journal.note("drop", staging)


def replace_directory(target, build, journal: Journal | None = None,
                      kept: list | None = None) -> Path:
    """Build a folder with ``build(tmpdir)`` beside ``target``, mark it, then swap it in.

    Until the final renames the previous ``target`` is untouched; a failure
    removes the half-built folder and leaves ``target`` as it was.  Files in a
    marked ``target`` that its marker does not list (the user's) are carried
    into the new folder and appended to ``kept``.  Call it inside
    :func:`locked` (passing its journal) after :func:`check_target`.
    """
    target = Path(target)
    shown = f"--out {str(target)!r}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = _new_folder(target, journal)
    except OSError as error:
        raise _cannot(shown, error) from None
    try:
        staging.chmod(0o777 & ~_umask())  # made private; a report is for reading
        build(staging)
        written = _files(staging)
        (staging / MARKER).write_text("\n".join([_MARKER_HEAD, *written]) + "\n")
        theirs = []
        if target.is_dir() and (target / MARKER).is_file():
            names = listed(target)
            theirs = [] if names is None else unlisted(target, names)
        for name in theirs:
            if os.path.lexists(staging / name):
                raise DeriveError(f"--out {str(target)!r} holds {name!r}, which derive did "
                                  "not write but now writes: move it, then run again")
            _carry(target / name, staging / name)
        old = None
        if os.path.lexists(target):
            old = target.parent / f".{target.name[:200]}.old.{staging.name.rsplit('.', 1)[-1]}"
            while os.path.lexists(old):  # a name of the user's: never ours to move or remove
                old = old.with_name(old.name + "_")
            if journal is not None:
                journal.note("old", old)
            os.replace(target, old)
        os.replace(staging, target)  # the previous report is removed only after this
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):
            raise _cannot(shown, error) from None
        raise
    if kept is not None:
        kept.extend(theirs)
    return target
