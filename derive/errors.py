"""The one error type for mistakes a user made (bad model strings, bad options).

The CLI turns a :class:`DeriveError` into one line on stderr and exit code 2.
"""


class DeriveError(ValueError):
    """A user error: the message says what is wrong and what is accepted."""
