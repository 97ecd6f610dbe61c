"""Reading the user's files within bounds (issue 28, part 4).

Model files, CSV and NPY batches and notebooks are opened without blocking (a FIFO
never hangs the command), checked to be regular files no larger than their limit
(a symbolic link to ``/dev/zero`` or a 3 GB file is refused before a byte is read),
and read with a bounded read.  Each refusal is one :class:`DeriveError` line.

>>> read_bytes("/dev/zero", "model file", MODEL_FILE_BYTES)
Traceback (most recent call last):
...
derive.base.errors.DeriveError: bad model file '/dev/zero': not a regular file (a device, FIFO, socket or folder)
"""

from __future__ import annotations

import os
import stat

from derive.base.errors import DeriveError

MODEL_FILE_BYTES = 1_000_000
"""A model file (TOML) holds at most this many bytes."""
BATCH_FILE_BYTES = 64_000_000
"""A CSV or NPY batch file holds at most this many bytes (a million numbers, written
out at up to 60 characters each)."""
NOTEBOOK_BYTES = 20_000_000
"""A notebook to grade holds at most this many bytes."""
MAX_NESTING = 32
"""Brackets and braces in a model file nest at most this deep (TOML's parser recurses)."""


def _open(path, what: str, limit: int) -> int:
    """A descriptor of ``path``, checked: a regular file of at most ``limit`` bytes."""
    shown = f"bad {what} {str(path)!r}"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DeriveError(f"{shown}: no such file") from None
    except OSError as error:
        raise DeriveError(f"{shown}: {error.strerror}") from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise DeriveError(f"{shown}: not a regular file (a device, FIFO, socket or folder)")
    if status.st_size > limit:
        os.close(descriptor)
        raise DeriveError(f"{shown}: {status.st_size:,} bytes, over the limit of {limit:,}")
    return descriptor


def check(path, what: str, limit: int) -> None:
    """Refuse ``path`` (one line) unless it is a regular file of at most ``limit`` bytes."""
    os.close(_open(path, what, limit))


def read_bytes(path, what: str, limit: int) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes (a file that
    grows past the limit while it is read is refused too)."""
    descriptor = _open(path, what, limit)
    try:
        with os.fdopen(descriptor, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as error:
        raise DeriveError(f"bad {what} {str(path)!r}: {error.strerror}") from None
    if len(data) > limit:
        raise DeriveError(f"bad {what} {str(path)!r}: over the limit of {limit:,} bytes")
    return data


def nesting(text: str) -> int:
    """The deepest nesting of brackets and braces in ``text`` outside quoted strings
    and comments (a bound checked before a recursive parser sees the text)."""
    deepest = depth = 0
    quote = None
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\" and quote == '"':
                i += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
        i += 1
    return deepest
