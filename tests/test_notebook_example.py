"""The example notebook runs top to bottom (nbclient); any error fails the test."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat not installed (pip install nbformat)")
nbclient = pytest.importorskip("nbclient", reason="nbclient not installed (pip install nbclient)")

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "notebook_7_1_with_derive.ipynb"


def test_example_notebook_executes_and_shows_html():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("derive-model" in h and "<math" in h for h in html)  # the model (issue 24)
    assert any("Step 1: the forward pass" in h for h in html)   # the trace
    assert any("derive-check" in h for h in html)               # the comparison
    assert any("derive-sizes" in h for h in html)               # the growth table
    assert any("<iframe" in h for h in html)                    # the whole report
