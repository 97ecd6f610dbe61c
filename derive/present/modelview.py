"""derive.model's result for Jupyter: a :class:`derive.models.model.Model` with an HTML view.

Apart from :mod:`derive.present.notebook` so that ``derive.model`` stays quick to load: the view's
templates (Jinja2) load on first display, not with the model.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from derive.models import families
from derive.models import model as models


class Model(models.Model):
    """:class:`derive.models.model.Model`, displayable: its name, what it differentiates, the
    expression in the book's notation (its size where it is too large to print) and
    each symbol's value, the first :data:`SHOWN` in view and the rest folded."""

    def _repr_html_(self) -> str:
        from derive.present.notebook import fragment
        from derive.present.gather import formula
        rows = [{"symbol": symbol, "value": _value(value)} for symbol, value in self.values.items()]
        return fragment("model.html.j2", name=self.name, summary=self.summary(),
                        f=formula(self.output),
                        lhs="l" if self.loss else self.names.get(self.output, "f"),
                        shown=rows[:SHOWN], folded=rows[SHOWN:])


SHOWN = 12
"""Values a model's Jupyter view shows before it folds the rest."""


def _value(value):
    """A float as itself; an array (a batch) by how many values it holds."""
    if np.ndim(value) == 0:
        return float(value)
    return f"{np.size(value):,} values (a batch)"


def model(spec: str, seed: int = 0) -> Model:
    """:func:`derive.models.families.model`, displayable.

    >>> import derive
    >>> m = derive.model("toy")
    >>> "<math" in m._repr_html_() and "0.4" in m._repr_html_()
    True

    Cost: the family's build; the view prints the expression only below the report's cap.
    """
    built = families.model(spec, seed)
    return Model(**{f.name: getattr(built, f.name) for f in fields(built)})
