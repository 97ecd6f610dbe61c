"""The ways ``check`` computes a gradient, named once: every table, JSON object, report,
tolerance and help text reads this list (light: ``derive --help`` counts it).

>>> GRADIENT[0], len(GRADIENT), STAGED
('backprop', 6, ('scalar_staged',))
"""

GRADIENT = ("backprop", "forward_mode", "symbolic", "symbolic_diff", "central_difference",
            "complex_step")
"""Backprop, then the methods compared with it, in the order every table shows them."""

STAGED = ("scalar_staged",)
"""Further staged programs compared with backprop, for models lowered more than once."""
