"""A family is one record (derive/models/families.py): a family registered here, in a fixture,
works in trace, check, sizes, graph, code and report, and in the help and the errors,
with no other module of derive touched."""

import json

import pytest
import sympy

from derive.models import families
from derive.models.families import Family, Sweep
from derive.models.model import from_expression


def nest(depth: int, seed: int = 0):
    """f_0 = x, f_k = ω_k·f_{k−1}² + sin[f_{k−1}]; ℓ = (f_K − y)²: a family derive does
    not have, whose trees grow like the toy's."""
    x, y = sympy.symbols("x y")
    omegas = sympy.symbols(f"omega1:{depth + 1}")
    f, names = x, {}
    for k, omega in enumerate(omegas, start=1):
        f = omega * f**2 + sympy.sin(f)
        names[f] = f"f{k}"
    return from_expression(f, {w: 0.3 + 0.01 * seed for w in omegas}, {x: 0.5}, {y: 1.0},
                           name=f"nest:{depth}", names=names)


def _build(spec, arg, seed):
    if not arg.isdigit() or not 1 <= int(arg) <= 20:
        raise families.DeriveError(f"bad model {spec!r}: nest:N needs N from 1 to 20")
    return nest(int(arg), seed)


def _check(depth):
    if depth > 20:
        raise families.DeriveError(f"bad model 'nest:{depth}': nest:N needs N from 1 to 20")


NEST = Family("nest", "nest:N", "nest:N (a test's family)", _build,
              lambda spec, arg: ["nest"],
              lambda name: Sweep(name, nest, _check) if name == "nest" else None,
              "nest (depth = N)")


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(families.FAMILIES, "nest", NEST)
    return NEST


def test_trace_check_graph_and_code_read_the_new_family(registered, run, tmp_path):
    code, out, err = run("trace", "nest:3")
    assert code == 0 and "f3" in out and "Step 3" in out, err
    code, out, err = run("check", "nest:3", "--json")
    assert code == 0, err
    assert json.loads(out)["agree"] is True
    code, out, err = run("graph", "nest:3", "-o", str(tmp_path / "nest.svg"))
    assert code == 0, err
    assert (tmp_path / "nest.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    code, out, err = run("code", "nest:2")
    assert code == 0 and "def " in out and "omega2" in out, err


def test_sizes_of_the_new_family_prints_a_growth_table(registered, run):
    code, out, err = run("sizes", "nest", "--depth", "1:6")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in
            [[str(d)] for d in range(1, 7)]]
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    trees = [int(row[2]) for row in rows]  # the loss's tree grows with depth
    assert trees == sorted(trees) and trees[-1] > trees[0]
    code, out, err = run("sizes", "nest:4", "--depth", "1:3", "--json")
    assert code == 0, err
    assert [row["depth"] for row in json.loads(out)["rows"]] == [1, 2, 3]


def test_report_of_the_new_family(registered, run, tmp_path):
    out_dir = tmp_path / "nest"
    code, out, err = run("report", "nest:3", "--out", str(out_dir), "--format", "html",
                         "--depth", "1:4", "--quiet")
    assert code == 0, err
    data = json.loads((out_dir / "data.json").read_text())
    assert data["model"]["name"] == "nest:3"
    assert [g["family"] for g in data["growth"]] == ["nest"]
    assert [row["depth"] for row in data["growth"][0]["rows"]] == [1, 2, 3, 4]
    assert "nest:3" in (out_dir / "index.html").read_text()


def test_the_help_and_the_errors_list_the_new_family(registered, run):
    code, out, _ = run("trace", "--help")
    assert code == 0 and "nest:N (a test's family)" in " ".join(out.split())
    code, out, _ = run("sizes", "--help")
    assert "nest (depth = N)" in " ".join(out.split())
    code, _, err = run("trace", "nest:0")
    assert code == 2 and "nest:N needs N from 1 to 20" in err
    code, _, err = run("trace", "nestle")
    assert code == 2 and "nest:N" in err  # the grammar is listed where a name is unknown


def test_a_family_unregistered_is_unknown(run):
    code, _, err = run("trace", "nest:3")
    assert code == 2 and "bad model 'nest:3'" in err and "nest:N" not in err


def grammar_forms(grammar: str) -> list[str]:
    """A grammar's name forms: "chain:LIST, chain:LIST*K (LIST of primitives)" ->
    ["chain:LIST", "chain:LIST*K"]."""
    forms = []
    for part in grammar.replace(" or ", ", ").split(", "):
        forms.append(part.split(" (")[0].strip())
    return forms


def test_the_readmes_model_table_is_the_registrys_grammar():
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme[readme.index("| model | what it is |"):]
    table = table[:table.index("\n\n")]
    rows = [line.split("|")[1] for line in table.splitlines()[2:]]
    listed = [form.strip().strip("`") for row in rows for form in row.split("`, `")]
    listed = [form.replace("` (default)", "").strip("`") for form in listed]
    assert listed == [form for family in families.FAMILIES.values()
                      for form in grammar_forms(family.grammar)]
