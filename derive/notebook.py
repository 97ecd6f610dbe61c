"""Rendering for Jupyter: each result's ``_repr_html_`` is a small template.

>>> import derive
>>> "<math" in derive.trace(derive.model("toy"))._repr_html_()
True
"""

from __future__ import annotations


def fragment(template: str, **context) -> str:
    """Render an HTML fragment template (autoescaped) with ``context``."""
    from .report import html_environment
    return html_environment().get_template(template).render(**context)
