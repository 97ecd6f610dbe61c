"""Points and feedback for a graded notebook: a rubric of tests, each a group of the
notebook's quantities with its points, its credit rule and its visibility (issue 26).

The built-in rubrics give each TODO of a notebook an equal share: 7.1's forward pass,
backward pass and parameter gradients 10 points each; 7.2's forward and backward pass;
7.3's two experiments and its three functions.  A test scores its points when every
quantity in it passes (``credit = "all"``, the default) or its points times the share
of its quantities that pass (``credit = "each"``).  A rubric file (TOML) replaces the
built-in one for its notebook::

    notebook = "7.1"
    [[test]]
    name = "forward pass"
    points = 4
    quantities = ["f0", "h1", "f1", "h2", "f2", "h3", "f3", "l_i"]
    [[test]]
    name = "gradients"
    points = 6
    quantities = ["dld*"]        # shell-style patterns, as fnmatch reads them
    credit = "each"
    visibility = "after_due_date"

>>> [(t.name, t.points) for t in RUBRICS["7.1"]]
[('forward pass', 10.0), ('backward pass', 10.0), ('parameter gradients', 10.0)]
>>> score(RUBRICS["7.1"][0], [{"quantity": "f0", "status": "pass"},
...                           {"quantity": "h1", "status": "fail"}])
0.0

Cost: one pass over the notebook's quantities per test.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from derive.base.errors import DeriveError

VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
"""Gradescope's visibilities of a test: shown now, never, after the due date, after the
grades are published."""
CREDIT = ("all", "each")


@dataclass(frozen=True)
class Test:
    """One rubric item: ``quantities`` (patterns over the notebook's quantity names),
    ``points``, ``credit`` ("all" or "each") and ``visibility`` (one of
    :data:`VISIBILITY`)."""

    name: str
    quantities: tuple
    points: float = 10.0
    credit: str = "all"
    visibility: str = "visible"

    def rows(self, rows: list) -> list:
        """The notebook's rows this test holds."""
        return [r for r in rows if any(fnmatch.fnmatchcase(r["quantity"], p)
                                       for p in self.quantities)]


_TOY_FORWARD = ("f0", "h1", "f1", "h2", "f2", "h3", "f3", "l_i")
_TOY_BACKWARD = ("dldf3", "dldh3", "dldf2", "dldh2", "dldf1", "dldh1", "dldf0")
RUBRICS = {
    "7.1": (Test("forward pass", _TOY_FORWARD), Test("backward pass", _TOY_BACKWARD),
            Test("parameter gradients", ("dldbeta*", "dldomega*"))),
    "7.2": (Test("forward pass", ("all_f[[]*", "all_h[[]*")),
            Test("backward pass", ("all_dl_dweights[[]*", "all_dl_dbiases[[]*"))),
    "7.3": (Test("forward experiment", ("forward *",)),
            Test("backward experiment", ("backward *",)),
            Test("init_params", ("init_params*",)),
            Test("compute_network_output", ("compute_network_output*",)),
            Test("backward_pass", ("backward_pass*",))),
}
"""The built-in rubrics, by notebook."""


def score(test: Test, rows: list) -> float:
    """The points ``test`` earns on a notebook's ``rows``."""
    held = test.rows(rows)
    if not held:
        return 0.0
    passed = sum(r["status"] == "pass" for r in held)
    if test.credit == "each":
        return round(test.points * passed / len(held), 4)
    return test.points if passed == len(held) else 0.0


def read(text: str, shown: str) -> tuple[str, tuple]:
    """A rubric file's notebook and tests, checked; a bad file is one DeriveError line."""
    import tomllib

    from derive.base.files import MAX_NESTING, nesting
    if nesting(text) > MAX_NESTING:
        raise DeriveError(f"bad rubric {shown!r}: nested deeper than {MAX_NESTING}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DeriveError(f"bad rubric {shown!r}: {error}") from None
    unknown = set(data) - {"notebook", "test"}
    if unknown:
        raise DeriveError(f"bad rubric {shown!r}: unknown key {sorted(unknown)[0]!r} "
                          "(a rubric has notebook and [[test]] tables)")
    notebook = data.get("notebook")
    if notebook not in RUBRICS:
        raise DeriveError(f"bad rubric {shown!r}: notebook must be one of "
                          f"{', '.join(RUBRICS)}, not {notebook!r}")
    tests = data.get("test")
    if not isinstance(tests, list) or not tests:
        raise DeriveError(f"bad rubric {shown!r}: no [[test]] tables")
    return notebook, tuple(_test(t, shown) for t in tests)


def _test(table, shown: str) -> Test:
    if not isinstance(table, dict):
        raise DeriveError(f"bad rubric {shown!r}: each test is a [[test]] table")
    name = table.get("name")
    where = f"bad rubric {shown!r}: test {name!r}"
    unknown = set(table) - {"name", "points", "quantities", "credit", "visibility"}
    if unknown:
        raise DeriveError(f"{where}: unknown key {sorted(unknown)[0]!r} (name, points, "
                          "quantities, credit, visibility)")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise DeriveError(f"bad rubric {shown!r}: each test needs a name (1 to 200 characters)")
    points = table.get("points", 10)
    if isinstance(points, bool) or not isinstance(points, (int, float)) \
            or not 0 <= points <= 1e6:
        raise DeriveError(f"{where}: points must be a number from 0 to 1e6")
    quantities = table.get("quantities")
    if (not isinstance(quantities, list) or not quantities
            or not all(isinstance(q, str) and q for q in quantities)):
        raise DeriveError(f"{where}: quantities must be a list of names or patterns")
    credit = table.get("credit", "all")
    if credit not in CREDIT:
        raise DeriveError(f"{where}: credit must be 'all' or 'each', not {credit!r}")
    visibility = table.get("visibility", "visible")
    if visibility not in VISIBILITY:
        raise DeriveError(f"{where}: visibility must be one of {', '.join(VISIBILITY)}, "
                          f"not {visibility!r}")
    return Test(name, tuple(quantities), float(points), credit, visibility)
