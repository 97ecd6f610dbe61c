"""Jupyter's view: the API's results display as HTML tables with MathML.

``derive.trace``, ``derive.check``, ``derive.size_sweep``, ``derive.jacobian``,
``derive.hessian`` and ``derive.make_report`` return these subclasses of the core results, which add
``_repr_html_`` (a small template) and a text ``__str__``; the core never
imports this module.

>>> import derive
>>> "<math" in derive.trace(derive.model("toy"))._repr_html_()
True
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from . import compare, growth, modes, report, staged, text


def fragment(template: str, **context) -> str:
    """Render an HTML fragment template (autoescaped) with ``context``."""
    return report.html_environment().get_template(template).render(**context)


@dataclass
class Trace(staged.Trace):
    def __str__(self) -> str:
        return text.format_trace(self)

    def _repr_html_(self) -> str:
        return fragment("trace.html.j2", t=self)


@dataclass
class Check(compare.Check):
    def __str__(self) -> str:
        return text.format_check(self)

    def _repr_html_(self) -> str:
        return fragment("check.html.j2", c=self)


@dataclass
class Sweep(growth.Sweep):
    def __str__(self) -> str:
        return text.format_sweep(self)

    def _repr_html_(self) -> str:
        return fragment("sizes.html.j2", s=self, keys=growth.ROW_KEYS)


@dataclass
class Jacobian(modes.Jacobian):
    def __str__(self) -> str:
        return text.format_jacobian(self)

    def _repr_html_(self) -> str:
        return fragment("jacobian.html.j2", j=self)


@dataclass
class Hessian(modes.Hessian):
    def __str__(self) -> str:
        return text.format_hessian(self)

    def _repr_html_(self) -> str:
        return fragment("hessian.html.j2", h=self)


class Report(report.Report):
    def _repr_html_(self) -> str:
        # the whole document in a sandboxed frame, so its styles stay its own
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                'sandbox="" style="width:100%;height:720px;border:1px solid #ccc"></iframe>')


def trace(model) -> Trace:
    """:func:`derive.staged.trace`, displayable (see its docstring for the cost)."""
    return Trace(**vars(staged.trace(model)))


def check(model, tolerances: dict | None = None) -> Check:
    """:func:`derive.compare.check`, displayable (see its docstring for the cost)."""
    return Check(**vars(compare.check(model, tolerances)))


def size_sweep(family: str, depth: str = "1:12", seed: int = 0, progress=None,
               max_seconds: float | None = None) -> Sweep:
    """:func:`derive.growth.size_sweep`, displayable."""
    return Sweep(**vars(growth.size_sweep(family, depth, seed, progress, max_seconds)))


def jacobian(model, wrt=None) -> Jacobian:
    """:func:`derive.modes.jacobian`, displayable."""
    return Jacobian(**vars(modes.jacobian(model, wrt)))


def hessian(model, wrt=None) -> Hessian:
    """:func:`derive.modes.hessian`, displayable."""
    return Hessian(**vars(modes.hessian(model, wrt)))


def make_report(*args, **kwargs) -> Report:
    """:func:`derive.report.make_report`, displayable (the whole report in a frame)."""
    made = report.make_report(*args, **kwargs)
    return Report(made.gathered, made.paths)
