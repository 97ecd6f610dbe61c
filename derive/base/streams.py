"""The command's standard streams, made safe before any work (issue 28, part 7).

* A closed standard output (``derive trace >&-``) is refused at once: one line,
  exit 2 (a file opened later would otherwise take its descriptor).
* A write that fails (``> /dev/full``) is one line, exit 2, not a traceback.
* A terminal that cannot encode the book's notation (``LC_ALL=C
  PYTHONIOENCODING=ascii``) gets ASCII names: ω0 is printed ``omega0``, ∂ is
  ``d``; derive says so once on stderr.  An SVG is written with XML character
  references instead (the same picture); JSON is ASCII already.

>>> "∂ℓ/∂ω0 = −2·β1".encode("ascii", "derive-ascii")
b'dl/domega0 = -2*beta1'
"""

from __future__ import annotations

import codecs
import os
import sys

from derive.base.errors import DeriveError

ASCII = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "eps", "ζ": "zeta",
    "η": "eta", "θ": "theta", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi",
    "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
    "Ω": "Omega", "Σ": "Sigma", "Δ": "Delta", "Φ": "Phi", "Γ": "Gamma", "Λ": "Lambda",
    "∂": "d", "ℓ": "l", "·": "*", "×": "x", "−": "-", "–": "-", "—": "--", "…": "...",
    "≤": "<=", "≥": ">=", "≠": "!=", "≈": "~", "→": "->", "←": "<-", "√": "sqrt", "∑": "sum",
    "∞": "inf", "±": "+-", "‖": "||", "’": "'", "‘": "'", "“": '"', "”": '"', "•": "*",
    "⁰": "^0", "¹": "^1", "²": "^2", "³": "^3", "⁴": "^4", "⁵": "^5", "⁶": "^6", "⁷": "^7",
    "⁸": "^8", "⁹": "^9", "⁻": "^-", "₀": "0", "₁": "1", "₂": "2", "₃": "3", "₄": "4",
    "₅": "5", "₆": "6", "₇": "7", "₈": "8", "₉": "9", "ᵀ": "^T", "✓": "ok", "✗": "x",
    "█": "#", "░": ".", "▏": "|", "│": "|", "─": "-", "\u2009": " ", "\u00a0": " ",
}
"""Each character of the book's notation (and derive's tables) spelled in ASCII."""


def _spell(error: UnicodeEncodeError):
    text = error.object[error.start:error.end]
    return "".join(ASCII.get(c, f"[U+{ord(c):04X}]") for c in text), error.end


codecs.register_error("derive-ascii", _spell)

NOTATION = "∂ℓ/∂ω₀ = −β·ω²"
"""A sample of what derive prints; a stream that cannot encode it gets ASCII."""


SPELL = False
"""True once :func:`prepare` found that standard output cannot show the notation."""


def spelled(text: str) -> str:
    """``text`` as it will print: in ASCII where the terminal needs it (so that a table
    can align what it will really show), else as it is."""
    return text.encode("ascii", "derive-ascii").decode("ascii") if SPELL else text


class OutputFailed(DeriveError):
    """Writing to standard output failed (a full device, an I/O error)."""


def _encodes(stream) -> bool:
    try:
        NOTATION.encode(getattr(stream, "encoding", None) or "utf-8")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


class _Guarded:
    """Standard output whose write errors are one :class:`OutputFailed` line."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._guarded(self._stream.write, text)

    def flush(self):
        return self._guarded(self._stream.flush)

    @staticmethod
    def _guarded(call, *args):
        try:
            return call(*args)
        except BrokenPipeError:  # the CLI's own answer: quietly, exit 141
            raise
        except OSError as error:
            raise _failed(error) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _failed(error: OSError) -> OutputFailed:
    try:  # what is still buffered can never be written: let the exit's flush succeed
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
    except (OSError, AttributeError, ValueError):
        pass
    return OutputFailed(f"cannot write to standard output: {error.strerror or error}")


def prepare(svg: bool = False) -> None:
    """Check and set up the standard streams before any work (see the module)."""
    if sys.stdout is None:
        raise DeriveError("standard output is closed (>&-): give derive somewhere to write, "
                          "such as >/dev/null")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")
    global SPELL
    for stream in (sys.stdout, sys.stderr):
        if not _encodes(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="xmlcharrefreplace" if svg and stream is sys.stdout
                               else "derive-ascii")
            if stream is sys.stdout:
                SPELL = not svg
                print(f"derive: note: this terminal's encoding ({stream.encoding}) cannot show "
                      "the book's notation: it is spelled in ASCII (omega0, dl/dw)",
                      file=sys.stderr)
    if not isinstance(sys.stdout, _Guarded):
        sys.stdout = _Guarded(sys.stdout)


def restore() -> None:
    """Undo :func:`prepare`'s guard (for callers that run :func:`derive.cli.main` in
    their own process)."""
    global SPELL
    SPELL = False
    if isinstance(sys.stdout, _Guarded):
        sys.stdout = sys.stdout._stream
