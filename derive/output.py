"""Writing files so that a failed or interrupted run loses nothing.

Each file is written to a temporary sibling and renamed into place (atomic
on POSIX); a directory of files is built beside its target and swapped in.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary sibling and an atomic rename."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def replace_directory(target, build) -> Path:
    """Build a directory with ``build(tmpdir)`` beside ``target``, then swap it in.

    Until the final renames the previous ``target`` is untouched; a failure
    removes the half-built directory and leaves ``target`` as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new.", dir=target.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; a report is for reading
        build(staging)
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
