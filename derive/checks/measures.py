"""The measures of a size sweep, each defined once: its key, order, fit and names.

A row of ``derive sizes`` (and a report's growth section) holds the depth, the number
of parameters and these measures; ``--order 2`` adds the second-order ones.  Every list
of measures (the row's keys, those fitted with a growth law, the terminal's headers, a
report's words and columns, the charts' series) is read from :data:`MEASURES`.

>>> [m.key for m in MEASURES if m.order == 2]
['hessian_tree_nodes', 'hessian_dag_nodes', 'sympy_diff_hessian_tree_nodes', 'forward_over_reverse_ops']
>>> MEASURE["backprop_ops"].short, MEASURE["backprop_ops"].fitted
('backprop ops', True)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    """One measure: ``key`` in a row and in JSON; ``order`` 1 (every row) or 2 (added by
    ``--order 2``); whether a growth law is ``fitted`` to it; its ``short`` header in
    ``derive sizes``'s table, its ``words`` in a report's fitted laws, its ``column``
    header in a report's growth table and its ``series`` label in a chart, where it has
    them."""

    key: str
    order: int = 1
    fitted: bool = True
    short: str | None = None
    words: str | None = None
    column: str | None = None
    series: str | None = None


MEASURES = [
    Measure("parameters", fitted=False, column="params"),
    Measure("loss_tree_nodes", short="loss tree", words="the loss's tree"),
    Measure("loss_dag_nodes", short="loss dag", words="the loss's graph"),
    Measure("gradient_tree_nodes", short="grad tree", words="the gradient's tree",
            column="gradient tree", series="symbolic gradient, tree"),
    Measure("sympy_diff_tree_nodes", short="diff tree", words="sympy.diff's tree",
            column="sympy.diff tree"),
    Measure("gradient_dag_nodes", short="grad dag", words="the gradient's graph",
            column="gradient DAG", series="symbolic gradient, DAG nodes"),
    Measure("gradient_ops", short="grad ops", words="the gradient's operations", column="ops"),
    Measure("gradient_cse_ops", short="cse ops", words="its operations after sharing",
            column="ops after sharing", series="ops after sharing"),
    Measure("backprop_ops", short="backprop ops", words="backprop's operations",
            column="backprop ops", series="backprop ops"),
    Measure("forward_mode_ops", short="fwd-mode ops",
            words="forward mode's operations (whole gradient)"),
    Measure("reverse_mode_ops", short="rev-mode ops",
            words="reverse mode's operations (whole gradient)"),
    Measure("seconds_sympy_diff", short="s diff", words="sympy.diff's time",
            column="s sympy.diff", series="per-parameter sympy.diff"),
    Measure("seconds_dag_gradient", fitted=False, short="s dag", column="s DAG sweep",
            series="DAG sweep"),
    Measure("hessian_tree_nodes", order=2, short="hess tree", words="the Hessian's tree",
            column="Hessian tree"),
    Measure("hessian_dag_nodes", order=2, short="hess dag", words="the Hessian's graph",
            column="Hessian DAG"),
    Measure("sympy_diff_hessian_tree_nodes", order=2, short="diff hess tree",
            words="sympy.diff twice, its tree", column="sympy.diff twice tree"),
    Measure("forward_over_reverse_ops", order=2, short="FoR ops",
            words="forward-over-reverse's operations", column="forward-over-reverse ops"),
]
"""Every measure, in the order a row holds them."""

MEASURE = {m.key: m for m in MEASURES}
"""The measures by key."""
