"""Jupyter's view: the API's results display as HTML tables with MathML.

``derive.trace``, ``derive.check``, ``derive.size_sweep``, ``derive.jacobian``,
``derive.hessian``, ``derive.diff_gradient``, ``derive.dag_gradient`` and
``derive.make_report`` return these subclasses of the core results, which add
``_repr_html_`` (a small template: math as MathML, wide tables scrolling in their
own box) and a text ``__str__``; the core never imports this module.
``derive.graph`` returns a picture Jupyter shows as SVG.

>>> import derive
>>> "<math" in derive.trace(derive.model("toy"))._repr_html_()
True
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from derive.checks import check as compare
from derive.checks import growth
from derive.readings import hessian as second_order, modes
from derive.present import gather, report
from derive.present import steps
from derive.readings import symbolic
from derive.present import terminal

STYLE = ("<style>.derive-output math { font-size: 1.25em; } "
         ".derive-output td, .derive-output th { padding: 0.15em 0.6em; }</style>")
"""Math a size larger than the notebook's text, as the book sets it."""


def fragment(template: str, **context) -> str:
    """Render an HTML fragment template (autoescaped) with ``context``, in a box that
    scrolls sideways when a table is wider than the notebook."""
    body = report.html_environment().get_template(template).render(**context)
    return f'<div class="derive-output" style="overflow-x:auto;max-width:100%">{STYLE}{body}</div>'


class Gradient(list):
    """Derivatives, one per variable in ``wrt``, shown in Jupyter as ∂/∂w = … with
    long formulas wrapping and those above the report's cap summarised by size.

    >>> import derive
    >>> m = derive.model("toy")
    >>> g = derive.diff_gradient(m.output, m.wrt[:2])
    >>> len(g), "<math" in g._repr_html_()
    (2, True)
    """

    def __init__(self, derivatives, wrt):
        super().__init__(derivatives)
        self.wrt = list(wrt)

    def _repr_html_(self) -> str:
        return fragment("gradient.html.j2", rows=[
            {"symbol": w, **gather.formula(e)} for w, e in zip(self.wrt, self)])


@dataclass
class Trace(steps.Trace):
    def __str__(self) -> str:
        return terminal.format_trace(self)

    def _repr_html_(self) -> str:
        return fragment("trace.html.j2", t=self)


@dataclass
class Check(compare.Check):
    def __str__(self) -> str:
        return terminal.format_check(self)

    def _repr_html_(self) -> str:
        return fragment("check.html.j2", c=self)


@dataclass
class Sweep(growth.Sweep):
    def __str__(self) -> str:
        return terminal.format_sweep(self)

    def _repr_html_(self) -> str:
        return fragment("sizes.html.j2", s=self, keys=growth.ROW_KEYS)


@dataclass
class Jacobian(modes.Jacobian):
    def __str__(self) -> str:
        return terminal.format_jacobian(self)

    def _repr_html_(self) -> str:
        return fragment("jacobian.html.j2", j=self)


@dataclass
class Hessian(second_order.Hessian):
    def __str__(self) -> str:
        return terminal.format_hessian(self)

    def _repr_html_(self) -> str:
        return fragment("hessian.html.j2", h=self)


class Report(report.Report):
    def _repr_html_(self) -> str:
        # the whole document in a sandboxed frame, so its styles stay its own
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                'sandbox="" style="width:100%;height:720px;border:1px solid #ccc"></iframe>')


def trace(model) -> Trace:
    """:func:`derive.present.steps.trace`, displayable (see its docstring for the cost)."""
    return Trace(**vars(steps.trace(model)))


def check(model, tolerances: dict | None = None) -> Check:
    """:func:`derive.checks.check.check`, displayable (see its docstring for the cost)."""
    return Check(**vars(compare.check(model, tolerances)))


def size_sweep(family: str, depth: str = "1:12", seed: int = 0, progress=None,
               max_seconds: float | None = None) -> Sweep:
    """:func:`derive.checks.growth.size_sweep`, displayable."""
    return Sweep(**vars(growth.size_sweep(family, depth, seed, progress, max_seconds)))


def jacobian(model, wrt=None) -> Jacobian:
    """:func:`derive.readings.modes.jacobian`, displayable."""
    return Jacobian(**vars(modes.jacobian(model, wrt)))


def hessian(model, wrt=None) -> Hessian:
    """:func:`derive.readings.hessian.hessian`, displayable."""
    return Hessian(**vars(second_order.hessian(model, wrt)))


def diff_gradient(output, wrt) -> Gradient:
    """:func:`derive.readings.symbolic.diff_gradient`, displayable (a tree walk per variable)."""
    return Gradient(symbolic.diff_gradient(output, wrt), wrt)


def dag_gradient(output, wrt) -> Gradient:
    """:func:`derive.readings.symbolic.dag_gradient`, displayable (linear in the graph; the
    display measures each derivative and prints only those below the cap)."""
    return Gradient(symbolic.dag_gradient(output, wrt), wrt)


def make_report(*args, **kwargs) -> Report:
    """:func:`derive.present.report.make_report`, displayable (the whole report in a frame)."""
    made = report.make_report(*args, **kwargs)
    return Report(made.gathered, made.paths)
