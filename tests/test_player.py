"""The step-through's frames (derive.present.player) and `derive graph --html`.

Each frame's number is checked against `derive trace --json` to the digits printed;
the browser tests (test_browser.py) step through the same frames in Chromium.
"""

import json
import re

import pytest

from derive.models.families import model
from derive.present.picture import graph
from derive.present.player import frames
from derive.present.steps import trace


def printed_entries(text: str) -> list[tuple[float, float]]:
    """'[−4.486, 4.947, …]' or '−5.209e−05' -> [(value, half a unit of its last digit)]."""
    out = []
    for entry in text.replace("−", "-").strip("[]").split(", "):
        if entry == "…":
            continue
        mantissa, _, exponent = entry.partition("e")
        digits = len(mantissa.partition(".")[2])
        out.append((float(entry), 0.5 * 10.0 ** (-digits) * 10.0 ** int(exponent or 0)))
    return out


def agrees_to_printed(text: str, value) -> bool:
    """Whether ``text`` is ``value`` (a number or list) printed to the digits shown."""
    values = value if isinstance(value, list) else [value]
    entries = printed_entries(text)
    return len(entries) == min(len(values), 3) and all(
        abs(v - p) <= half * 1.000001 for (p, half), v in zip(entries, values))


def expected(frame: dict, traced: dict):
    """The value or adjoint a frame shows, read from `derive trace --json`."""
    name = frame["node"]
    if frame["step"] == 1:
        return next(r["value"] for r in traced["forward"] if r["name"] == name)
    if frame["step"] == 2:
        return next(r["adjoint"] for r in traced["backward"] if r["name"] == name)
    if name in traced["gradients"]:
        return traced["gradients"][name]
    entries = [([int(i) for i in k[len(name) + 1:-1].split(",")], v)
               for k, v in traced["gradients"].items() if k.startswith(name + "[")]
    return [v for _, v in sorted(entries)]  # a matrix, row by row


def trace_json(run, *argv) -> dict:
    code, out, _ = run("trace", *argv, "--json")
    assert code == 0
    return json.loads(out)


@pytest.mark.parametrize("name", ["toy", "mlp:udl72", "chain:tanh*80", "logistic:4"])
def test_every_frame_shows_the_traces_number(run, name):
    traced = trace_json(run, name)
    f = frames(model(name))
    steps = [x["step"] for x in f]
    assert steps == sorted(steps) and steps[0] == 0 and steps.count(0) == 1
    assert steps.count(1) == len(traced["forward"])
    assert steps.count(2) == len(traced["backward"])
    for frame in f[1:]:
        assert agrees_to_printed(frame["number"], expected(frame, traced)), frame
        assert frame["result"].endswith(" = " + frame["number"])


def test_step_3_has_a_frame_per_parameter_or_per_matrix(run):
    assert [x["node"] for x in frames(model("toy")) if x["step"] == 3] == \
        ["beta0", "omega0", "beta1", "omega1", "beta2", "omega2", "beta3", "omega3"]
    net = [x["node"] for x in frames(model("mlp:udl72")) if x["step"] == 3]
    assert sorted(net) == sorted([f"{m}{k}" for k in range(6) for m in ("Omega", "beta")])


def test_frames_say_the_chain_rule_used_and_mark_its_arrows():
    f = {(x["step"], x["node"]): x for x in frames(model("toy"))}
    assert f[2, "h3"]["equation"] == "∂ℓ/∂h₃ = ω₃·∂ℓ/∂f₃"
    given, used = f[2, "h3"]["reads"].split(", ")
    adjoint = next(r["adjoint"] for r in trace(model("toy")).backward if r["name"] == "f3")
    assert given == "ω₃ = 3.000" and used.startswith("∂ℓ/∂f₃ = ")
    assert agrees_to_printed(used.removeprefix("∂ℓ/∂f₃ = "), adjoint)  # the trace's, as printed
    assert f[2, "h3"]["edges"] == [["h3", "f3"]]  # ∂ℓ/∂h₃ flowed back along h₃ → f₃
    assert sorted(map(tuple, f[1, "f0"]["edges"])) == [("beta0", "f0"), ("omega0", "f0"),
                                                        ("x", "f0")]
    assert f[3, "omega0"]["equation"] == "∂ℓ/∂ω₀ = x·∂ℓ/∂f₀"
    edges = set(map(tuple, graph(model("toy")).edges))
    assert all(tuple(e) in edges for x in f.values() for e in x["edges"])


def test_a_folded_graphs_hidden_steps_light_the_fold():
    m = model("chain:tanh*80")
    picture = graph(m, values=True, adjoints=True)
    fold = next(n.name for n in picture.nodes if n.kind == "fold")
    boxes = {n.name for n in picture.nodes}
    f = frames(m, picture=picture)
    hidden = [x for x in f if x["node"] and x["node"] not in boxes]
    assert hidden and all(x["box"] == fold for x in hidden)
    assert all(x["box"] == x["node"] for x in f if x["node"] in boxes)


def test_a_model_without_a_loss_differentiates_its_output():
    f = frames(model("logistic:4"))
    assert f[-1]["equation"].startswith("∂l₄/∂x = ") and "∂ℓ" not in json.dumps(f)


def test_the_svg_marks_each_value_adjoint_and_arrow_for_the_player():
    svg = graph(model("mlp:udl72"), values=True, adjoints=True).svg()
    assert len(re.findall(r'<text class="adjoint"', svg)) == 23  # 12 steps − ℓ + 12 matrices
    assert '<g id="node-Omega1" class="node" data-node="Omega1">' in svg
    assert '<g id="edge-f0-h1" class="edge" data-edge="f0 h1">' in svg


def test_graph_html_writes_the_step_through(run, tmp_path):
    out = tmp_path / "toy.html"
    code, stdout, err = run("graph", "toy", "--html", str(out))
    assert code == 0 and stdout.strip() == str(out) and err == ""
    html = out.read_text()
    shown = json.loads(re.search(r'<script type="application/json" class="frames">(.*?)</script>',
                                 html, re.S).group(1))
    assert shown == frames(model("toy"))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)


@pytest.mark.parametrize("argv, message", [
    (["--html", "{}/page.txt"], "must end in .html"),
    (["--html", "{}"], "must end in .html"),
    (["--html", "{}/folder.html"], "is a folder"),
    (["--html", "{}/link.html"], "is a symbolic link"),
    (["--html", "{}/new.html", "-o", "{}/g.svg"], "without -o and --json"),
    (["--html", "{}/new.html", "--param", "nope=1"], "nope"),
])
def test_graph_html_refuses_bad_input_and_loses_nothing(run, tmp_path, argv, message):
    kept = tmp_path / "kept.html"
    kept.write_text("mine")
    (tmp_path / "folder.html").mkdir()
    (tmp_path / "link.html").symlink_to(kept)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run("graph", "toy", *[a.format(tmp_path) for a in argv])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert message in err
    assert kept.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_networks_chain_rules_read_as_the_book_writes_them():
    """Ω₅ᵀ, not transpose(Ω₅); the notebook's indicator 𝕀[f₄ > 0], not indicator(f₄):
    in the frames' captions, the terminal and the HTML's MathML alike."""
    from derive.present.mathml import mathml
    f = {(x["step"], x["node"]): x["equation"] for x in frames(model("mlp:udl72"))}
    assert f[2, "h5"] == "∂ℓ/∂h₅ = Ω₅ᵀ·∂ℓ/∂f₅"
    assert f[2, "f4"] == "∂ℓ/∂f₄ = 𝕀[f₄ > 0]·∂ℓ/∂h₅"
    assert f[3, "Omega1"] == "∂ℓ/∂Ω₁ = ∂ℓ/∂f₁·h₁ᵀ"
    rule = {r["name"]: r["rule"] for r in trace(model("mlp:udl72")).backward}
    shown = mathml(rule["f4"])
    assert "<mi>&#120128;</mi><mo>[</mo>" in shown and "<mo>&#62;</mo><mn>0</mn><mo>]</mo>" in shown
    assert "indicator" not in shown and "transpose" not in mathml(rule["h5"])
