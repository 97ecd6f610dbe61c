"""The computational graph: derive graph, derive.graph, and its SVG and PDF."""

import json
import re
import xml.etree.ElementTree as ET

import pytest

import derive
from derive.present.picture import MAX_NODES, graph

SVG = "{http://www.w3.org/2000/svg}"
STEPS = ["f0", "h1", "f1", "h2", "f2", "h3", "f3", "l"]
# The notebook's Step 1 values and Step 2 adjoints (notebook 7.1, printed to 3 decimals)
VALUES = {"f0": "1.230", "h1": "0.942", "f1": "1.623", "h2": "5.068", "f2": "7.137",
          "h3": "0.657", "f3": "2.372", "l": "0.139"}
ADJOINTS = {"f3": "0.745", "h3": "2.234", "f2": "−1.683", "h2": "−3.366", "f1": "−17.060",
            "h1": "6.824", "f0": "2.281"}


def node_texts(svg_text: str) -> dict:
    """{node name: [its lines of text]}, read from the SVG's node groups."""
    root = ET.fromstring(svg_text)
    nodes = {}
    for group in root.iter(f"{SVG}g"):
        match = re.fullmatch(r"node-(.+)", group.get("id", ""))
        if match:
            nodes[match.group(1)] = [t.text for t in group.iter(f"{SVG}text")]
    return nodes


def test_derive_graph_writes_the_notebooks_graph_with_values_and_adjoints(run, tmp_path):
    out = tmp_path / "g.svg"
    code, stdout, err = run("graph", "toy", "--values", "--adjoints", "-o", str(out))
    assert code == 0, err
    text = out.read_text()
    nodes = node_texts(text)  # parses: a valid XML document
    assert set(STEPS) <= set(nodes)
    assert {"beta0", "omega0", "x", "y", "omega3"} <= set(nodes)
    for name in STEPS:
        assert f"<title>{name} |" in text  # the name as the program spells it
    assert nodes["f0"][0] == "f₀ = β₀ + ω₀·x"  # the book's notation: ω before its input
    assert nodes["h2"][0] == "h₂ = exp[f₁]" and nodes["l"][0] == "ℓ = (f₃ − y)²"
    for name, value in VALUES.items():
        assert nodes[name][1] == value, (name, nodes[name])
    for name, adjoint in ADJOINTS.items():
        assert nodes[name][2] == f"∂ℓ/∂{nodes[name][0].split(' ')[0]} = {adjoint}"
    assert nodes["omega0"] == ["ω₀", "0.100", "∂ℓ/∂ω₀ = 5.246"]  # Step 3 on the leaves


def test_edges_follow_the_forward_pass(run):
    code, stdout, _ = run("graph", "toy", "--json")
    picture = json.loads(stdout)
    edges = {tuple(e) for e in picture["edges"]}
    assert {("f0", "h1"), ("h1", "f1"), ("f3", "l"), ("omega0", "f0"), ("x", "f0"),
            ("y", "l")} <= edges
    assert not any(b in {"x", "omega0"} for _, b in edges)  # nothing flows into a leaf
    columns = {n["name"]: n["column"] for n in picture["nodes"]}
    assert [columns[s] for s in STEPS] == sorted(columns[s] for s in STEPS)


def test_without_values_the_boxes_hold_the_equations_only(run):
    code, stdout, _ = run("graph")
    nodes = node_texts(stdout)
    assert code == 0 and nodes["h1"] == ["h₁ = sin[f₀]"]


def test_a_network_is_drawn_a_box_per_vector_and_six_layers_for_udl72(run):
    code, stdout, _ = run("graph", "mlp:udl72", "--json")
    picture = json.loads(stdout)
    names = [n["name"] for n in picture["nodes"]]
    assert picture["layers"] == 6
    assert [n for n in names if re.fullmatch(r"f[0-9]", n)] == [f"f{k}" for k in range(6)]
    assert [n for n in names if n.startswith("Omega")] == [f"Omega{k}" for k in range(6)]
    label = {n["name"]: n["label"] for n in picture["nodes"]}
    assert label["Omega1"] == ["Ω₁   [6×6]"] and label["f1"][0] == "f₁ = β₁ + Ω₁·h₁   [6]"
    code, stdout, _ = run("graph", "mlp:udl72")
    assert code == 0 and len(node_texts(stdout)) == len(names)


def test_a_deep_chain_folds_its_middle_layers():
    picture = graph(derive.model("chain:tanh*30"))
    assert len(picture.nodes) <= MAX_NODES
    [fold] = [n for n in picture.nodes if n.kind == "fold"]
    assert fold.label[1] == "× 27 layers" and picture.folded > 80
    names = {n.name for n in picture.nodes}
    assert {"f0", "h1", "f1", "h29", "f29", "f30", "l"} <= names and "f15" not in names
    # the fold takes the place of the layers: the forward pass runs through it
    assert ("f1", fold.name) in picture.edges
    assert [b for a, b in picture.edges if a == fold.name] == ["h29"]
    assert fold.label[0] == "h₂ … f₂₈"


def test_the_graph_of_your_own_expression(run):
    code, stdout, err = run("graph", "--expr", "b1 + w1*tanh(b0 + w0*x)", "--param", "b0=0.1",
                            "--param", "w0=2", "--param", "b1=0", "--param", "w1=1",
                            "--input", "x=0.5", "--target", "y=1", "--values")
    assert code == 0, err
    nodes = node_texts(stdout)
    assert "l" in nodes and {"w0", "x", "y"} <= set(nodes)


def test_pdf_output_and_bad_names(run, tmp_path):
    code, out, err = run("graph", "toy", "-o", str(tmp_path / "g.pdf"))
    assert code == 0 and (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")
    code, out, err = run("graph", "toy", "-o", str(tmp_path / "g.png"))
    assert code == 2 and "must end in .svg or .pdf" in err and err.count("\n") == 1
    assert not (tmp_path / "g.png").exists()


def test_the_svg_is_deterministic_and_shows_in_jupyter():
    picture = derive.graph(derive.model("toy"), values=True)
    assert picture._repr_svg_() == picture.svg()
    assert picture.svg().startswith("<svg") and "Date" not in picture.svg()
    assert derive.graph(derive.model("toy"), values=True).svg() == picture.svg()


def test_your_own_l_is_not_the_loss(run):
    """ℓ is the loss only where the program names its loss l; a parameter of yours
    called l stays l."""
    code, stdout, _ = run("graph", "--expr", "f + l*sin(x)", "--param", "f=1", "--param",
                          "l=2", "--input", "x=0.5", "--target", "y=1")
    nodes = node_texts(stdout)
    assert code == 0 and nodes["l"] == ["l"]
    assert any(lines[0].endswith("f + l·h₁") for lines in nodes.values())
