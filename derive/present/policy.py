"""What every output shows and calls it: the one place for presentation policy.

The text tables, the Jupyter display and both report templates read these;
no template or formatter keeps its own list of columns, caps or names.
"""

from derive.checks.measures import MEASURE, MEASURES
from derive.checks.methods import GRADIENT, STAGED

METHODS = [*GRADIENT[1:], *STAGED]
"""The methods compared with backprop, in the order every table shows them."""

WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
WAYS = len(METHODS)
"""The ways a check computes the gradient: backprop and the methods above but the scalar
staged program, which only a network adds (WAYS + 1 ways).  --help says it in words."""

METHOD_NAMES = {"backprop": "backprop", "forward_mode": "forward mode", "symbolic": "symbolic",
                "symbolic_diff": "sympy.diff",
                "central_difference": "central", "complex_step": "complex",
                "scalar_staged": "scalar staged"}
"""Each method's display name, the same in the CLI, Jupyter, HTML and PDF."""


CHECK_HEADERS = {"name": "parameter", "central_estimate": "central's error estimate",
                 "central_flag": "central not compared", "kink": "at a kink", "agree": "agree"}
"""The check table's other columns, as Jupyter heads them."""

def columns(keys: list[str]) -> list[tuple[str, str]]:
    """(row key, its report header) for a report table's columns, in this order."""
    return [(key, MEASURE[key].column) for key in keys]


GROWTH_COLUMNS = columns(["parameters", "gradient_tree_nodes", "backprop_ops",
                          "gradient_dag_nodes", "sympy_diff_tree_nodes", "gradient_ops",
                          "gradient_cse_ops", "seconds_sympy_diff", "seconds_dag_gradient"])
"""The growth table of a report, after the depth column: (row key, header); the
columns read first (what backprop costs beside the tree) come first, so that they stay
in view on a narrow screen."""

SIZE_HEADERS = {m.key: m.short for m in MEASURES if m.short}
"""Short headers of ``derive sizes``'s text table."""

PARAMETER_CAP = 40
"""Models with more parameters list their values in data.json only."""

EXPRESSION_CAP = 400
"""Tree nodes above which a formula is shown as its measures and a preview."""

PRINT_DEPTH_CAP = 100
"""Nesting (in operations) above which a formula is shown as its measures too: SymPy's
printers recurse several Python frames per level, and a named chain 250 steps deep
would pass Python's recursion limit (RecursionError) though it has few nodes."""

PREVIEW_CHARS = 600
"""Characters of a summarised formula's preview."""


def method_names(methods) -> dict:
    """{method: display name} for the methods a check compared."""
    return {m: METHOD_NAMES[m] for m in methods}

ORDER2_COLUMNS = columns(["parameters", "gradient_tree_nodes", "hessian_tree_nodes",
                          "sympy_diff_hessian_tree_nodes", "hessian_dag_nodes",
                          "forward_over_reverse_ops"])
"""The second-order growth table, after the depth column."""

HESSIAN_METHODS = {"symbolic": "DAG sweep twice", "sympy_diff": "sympy.diff twice",
                   "central_difference": "central differences of the gradient"}
"""The Hessian's methods compared with forward-over-reverse, and their names."""


def hessian_verdict(agree: bool, differences: dict) -> str:
    """The Hessian's verdict in the same words in the terminal, the report and Jupyter:
    forward-over-reverse and the ``differences`` ({method: worst or None if skipped}).

    >>> hessian_verdict(True, {"symbolic": 0.0, "sympy_diff": None})
    'the 2 ways that ran agree (1 skipped)'
    """
    ran = 1 + sum(d is not None for d in differences.values())
    total = 1 + len(differences)
    if not agree:
        return "the ways DISAGREE"
    return f"all {total} ways agree" if ran == total else \
        f"the {ran} ways that ran agree ({total - ran} skipped)"

MEASURE_WORDS = {m.key: m.words for m in MEASURES if m.words}
"""Each measure of a size sweep in words, for the fitted laws of the reports."""

GRAPH_WRAP = 560
"""Width in points at which a report's computational graph continues in a new row
(it then fits the PDF's text width and a phone's screen at one scroll)."""
