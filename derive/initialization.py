"""Notebook 7.3's experiment at its documented path: ``from derive.initialization import experiment``.

It lives in :mod:`derive.checks.initialization`.
"""

from derive.checks.initialization import Initialization, experiment

__all__ = ["Initialization", "experiment"]
