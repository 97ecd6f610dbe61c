"""The version of derive, one place."""

__version__ = "0.1.0"
