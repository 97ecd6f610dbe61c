"""The one error type for mistakes a user made (bad model strings, bad options).

The CLI turns a :class:`DeriveError` into one line on stderr and exit code 2.
"""


class DeriveError(ValueError):
    """A user error: the message says what is wrong and what is accepted."""


def require_model(value, what: str = "model"):
    """The value if it is a derive Model (read by its fields), else a DeriveError saying
    what was given: the Python API's guard against a wrong type."""
    if not all(hasattr(value, field) for field in ("output", "wrt", "values", "lowerings")):
        raise DeriveError(f"{what} must be a derive Model (from derive.model(...), "
                          f"derive.from_expression(...) or a model file), got "
                          f"{type(value).__name__} {str(value)[:40]!r}")
    return value


def require_text(value, what: str) -> str:
    """The value if it is a string, else a DeriveError."""
    if not isinstance(value, str):
        raise DeriveError(f"{what} must be a string, got {type(value).__name__}")
    return value


INSTALL = {"torch": "pip install 'torch==2.13.0'",
           "jax": "pip install 'jax[cpu]==0.10.2'"}
"""How to install each optional array library, the versions derive is tested with: in
every hint that names one.  PyTorch pinned, because an unpinned ``torch`` (and the
``derive[torch]`` extra) can pull a CUDA build of several GB."""
