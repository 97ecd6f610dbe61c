"""Reports: content, golden files, escaping, templates shipped, real pdflatex."""

import json
import random
import re
import shutil
from html import unescape
import subprocess
from pathlib import Path

import importlib

import pytest

import golden

report_module = importlib.import_module("derive.present.report")
html_environment = report_module.html_environment
report = report_module.make_report
tex_escape = report_module.tex_escape

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "reports" / "sample" / "toy"
NOTEBOOK_VALUES = {
    "forward": {"f0": "1.230", "h1": "0.942", "f1": "1.623", "h2": "5.068", "f2": "7.137",
                "h3": "0.657", "f3": "2.372", "l": "0.139"},
    "backward": {"f3": "0.745", "h3": "2.234", "f2": "-1.683", "h2": "-3.366",
                 "f1": "-17.060", "h1": "6.824", "f0": "2.281"},
    "gradients": {"beta3": "0.745", "omega3": "0.489", "beta2": "-1.683", "omega2": "-8.530",
                  "beta1": "-17.060", "omega1": "-16.079", "beta0": "2.281", "omega0": "5.246"},
}
pytestmark = pytest.mark.xdist_group("report")  # one worker builds the toy report once
OVERFULL_LIMIT_PT = 1.0
"""Overfull boxes wider than this fail the pdflatex test."""


@pytest.fixture(scope="module")
def toy_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "toy"
    formats = ["html", "tex", "pdf"] if shutil.which("pdflatex") else ["html", "tex"]
    result = report("toy", "1:12", out, formats, timestamp="2026-01-01 00:00:00 UTC",
                    command="derive report --out reports/sample/toy",
                    budget=None)  # the same content however loaded the machine is
    return out, result


def table_rows(html: str, table_id: str) -> dict:
    """{data-name: [cell texts]}, minus signs as typed (the page prints true minus)."""
    body = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', html, re.S).group(1)
    rows = {}
    for name, row in re.findall(r'<tr data-name="([^"]+)">(.*?)</tr>', body, re.S):
        rows[name] = [re.sub(r"<[^>]+>", "", c).strip().replace("−", "-")
                      for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    return rows


def test_html_shows_the_notebook_values_in_its_step_tables(toy_report):
    html = (toy_report[0] / "index.html").read_text()
    for table, values in NOTEBOOK_VALUES.items():
        rows = table_rows(html, table)
        for name, value in values.items():
            assert rows[name][1] == value, (table, name, rows[name])


def test_html_has_the_growth_chart_and_fitted_laws(toy_report):
    html = (toy_report[0] / "index.html").read_text()
    # the graph, sizes, times, forward or reverse, the Hessian heatmap, the steps
    assert html.count("<svg") == 6
    assert "size of the gradient by depth" in html
    laws = unescape(re.search(r'<ul id="laws-0">(.*?)</ul>', html, re.S).group(1))
    assert re.search(r"the gradient's tree: polynomial: grows like n<sup>2\.\d\d</sup>", laws)
    assert "the loss's tree: linear: about 5.0 more per layer, 5.0·n + 11.0" in laws
    assert re.search(r"backprop's operations: linear: about 7\.0 more per layer", laws)


def test_html_is_self_contained_and_small(toy_report):
    html = (toy_report[0] / "index.html").read_text()
    assert len(html.encode()) < 2_000_000
    assert "@import" not in html and "@font-face" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    # the step-through's two scripts are inline: its frames (data) and its player (ours)
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts == [' type="application/json" class="frames"', ""]
    assert not re.search(r"\b(fetch|XMLHttpRequest|WebSocket|import)\s*\(", html)
    assert "<math" in html and "&InvisibleTimes;" not in html
    # one multiplication sign, the visible dot the terminal, graph and PDF write (ω₁·h₁):
    # never the invisible times that made "ω₂exp[…]" beside "ω₃·cos[…]"
    assert "&#8290;" not in html and html.count("<mo lspace=\"0.05em\" rspace=\"0.05em\">&#183;</mo>") > 10
    # a flowing formula's piece that starts with + or − joins two terms: spaced as infix
    # (β₂ + ω₂·exp[…]), never a bare <mo> the browser sets as a sign (β₂ +ω₂·exp[…])
    assert not re.search(r'<wbr><math display="inline"><mrow><mo>[+−]</mo>', html)
    assert '<mo form="infix">+</mo>' in html


def test_all_four_files_are_written(toy_report):
    out, result = toy_report
    names = {p.name for p in result.paths}
    expected = {"index.html", "report.tex", "data.json"}
    if shutil.which("pdflatex"):
        expected.add("report.pdf")
    assert expected <= names and all((out / n).exists() for n in expected)
    data = json.loads((out / "data.json").read_text())
    assert data["agree"] is True and round(data["loss"], 3) == 0.139


def normalise(text: str, kind: str):
    """Blank out what legitimately varies: timestamp, versions, measured seconds, and the
    step chart's picture (its small steps plot rounding error, by design; data.json's
    step errors are compared within their rounding bound instead)."""
    if kind == "json":
        data = json.loads(text)
        data["reproduce"] = {k: v for k, v in data["reproduce"].items() if k == "command"}
        for growth in data["growth"]:
            for row in growth["rows"]:
                for key in [k for k in row if k.startswith("seconds")]:
                    row[key] = None
            for part in ("fits", "words"):
                growth[part] = {k: v for k, v in growth[part].items()
                                if not k.startswith("seconds")}
        return data
    text = "\n".join(line for line in text.splitlines() if "seconds_" not in line
                     and "seconds\\_" not in line)
    if kind == "html":
        text = re.sub(r'<td class="num seconds">.*?</td>', "<td/>", text)
        text = re.sub(r'<li class="seconds">.*?</li>', "<li/>", text)
        text = re.sub(r'<figure class="seconds">.*?</figure>', "<figure/>", text, flags=re.S)
        text = re.sub(r'<figure id="steps">.*?</figure>', "<figure/>", text, flags=re.S)
        text = re.sub(r'<p class="note">derive .*?</p>', "<p/>", text, flags=re.S)
        text = renumbered_svg_ids(text)
    else:
        text = re.sub(r"\\seconds\{[^}]*\}", r"\\seconds{}", text)
        text = re.sub(r"derive [^\n]*generated [^\n]*", "", text)
    return text


def renumbered_svg_ids(text: str) -> str:
    """matplotlib names each clip path and marker by a hash of its coordinates' digits
    ("p" or "m" and ten hex digits), which differ in their last bits between CPUs: each
    such name becomes its order of first appearance, so that the comparison still sees
    which element refers to which."""
    order: dict[str, str] = {}
    return re.sub(r"\b([pm][0-9a-f]{10})\b",
                  lambda m: order.setdefault(m.group(1), f"{m.group(1)[0]}{len(order)}"), text)


EPS = 2.0 ** -52


def rounding_bound(data: dict):
    """atol(path) for data.json: a finite difference at step h carries rounding error up
    to about eps·max(1, |L|)/h, which differs between CPUs; allow 100 times that."""
    loss, steps = max(1.0, abs(data["loss"])), data["steps"]["h"]

    def atol(path) -> float:
        if path[:1] == ("steps",) and path[1:2] in (("forward",), ("central",)):
            return 100 * EPS * loss / steps[path[2]]
        return 0.0

    return atol


def golden_differences(folder: Path, name: str, kind: str) -> list[str]:
    """How ``folder/name`` differs from the committed sample beyond tolerance."""
    fresh = normalise((folder / name).read_text(), kind)
    committed = normalise((SAMPLE / name).read_text(), kind)
    if kind == "json":
        return golden.json_differences(fresh, committed, rounding_bound(committed))
    return golden.differences(fresh, committed)


REGENERATE = "run `derive report --out reports/sample/toy --timestamp '...'` (README)"


@pytest.mark.parametrize("name,kind", [("index.html", "html"), ("report.tex", "tex"),
                                       ("data.json", "json")])
def test_committed_sample_matches_a_fresh_run(toy_report, name, kind):
    found = golden_differences(toy_report[0], name, kind)
    assert not found, f"reports/sample/toy/{name} is stale ({REGENERATE}): {found}"


def perturbed(value, rel: float, rng):
    """``value`` with every float multiplied by 1 ± rel (seeded signs)."""
    if isinstance(value, float):
        return value * (1 + rel * rng.choice((-1.0, 1.0)))
    if isinstance(value, dict):
        return {k: perturbed(v, rel, rng) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(perturbed(v, rel, rng) for v in value)
    return value


@pytest.mark.parametrize("rel,passes", [(1e-12, True), (1e-3, False)])
def test_the_golden_comparison_allows_last_digit_differences_only(toy_report, tmp_path,
                                                                  rel, passes):
    """A sample regenerated on a CPU whose floats differ in their last digits (every float
    of the gathered data moved by a relative 1e-12) still matches; a real change (1e-3)
    does not, in any of the three files."""
    data = perturbed(toy_report[1].gathered, rel, random.Random(0))
    report_module.write_report(data, tmp_path / "toy", ["html", "tex"])
    for name, kind in [("index.html", "html"), ("report.tex", "tex"), ("data.json", "json")]:
        found = golden_differences(tmp_path / "toy", name, kind)
        assert (not found) == passes, (name, found)


def test_committed_sample_has_all_four_files():
    for name in ("index.html", "report.tex", "report.pdf", "data.json"):
        assert (SAMPLE / name).stat().st_size > 0


def test_templates_ship_inside_the_package():
    import importlib.resources
    shipped = {p.name for p in importlib.resources.files("derive.templates").iterdir()}
    assert {"report.html.j2", "report.tex.j2", "trace.html.j2", "check.html.j2",
            "sizes.html.j2"} <= shipped


def test_html_autoescapes_user_text():
    env = html_environment()
    assert env.from_string("{{ x }}").render(x="<script>") == "&lt;script&gt;"
    from types import SimpleNamespace
    t = SimpleNamespace(model="<img src=x onerror=alert(1)>", loss=1.0, forward=[],
                        backward=[], gradients={}, of="ℓ")
    assert "<img" not in env.get_template("trace.html.j2").render(t=t)


def test_tex_escape_neutralises_commands():
    assert tex_escape(r"\input{/etc/passwd} 50% $x$ a_b #1 ~ ^ {}") == (
        r"\textbackslash{}input\{/etc/passwd\} 50\% \$x\$ a\_b \#1 \textasciitilde{} "
        r"\textasciicircum{} \{\}")


def test_a_failed_report_leaves_the_previous_one_intact(tmp_path, monkeypatch):
    out = tmp_path / "toy"
    report("toy", "1:3", out, ["html"], timestamp="t")
    before = (out / "index.html").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(report_module, "render_html", broken)
    with pytest.raises(RuntimeError):
        report("toy", "1:3", out, ["html"], timestamp="t2")
    assert (out / "index.html").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]  # no half-built siblings left


NEEDS_PDFLATEX = pytest.mark.skipif(
    shutil.which("pdflatex") is None,
    reason="pdflatex not installed (apt-get install texlive-latex-base "
           "texlive-latex-recommended); .ci/run installs it")


def compile_log(folder: Path, tmp_path: Path) -> str:
    """pdflatex run once more on a written report's folder (copied); its log."""
    for f in folder.iterdir():
        shutil.copy(f, tmp_path)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "-no-shell-escape", "report.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    log = (tmp_path / "report.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:]
    assert not re.search(r"^! ", log, re.M)
    return log


def overfull(log: str) -> list[float]:
    return [float(w) for w in re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide\)", log)]


@NEEDS_PDFLATEX
def test_pdflatex_compiles_the_report_without_errors_or_wide_overfull_boxes(toy_report, tmp_path):
    log = compile_log(toy_report[0], tmp_path)
    assert all(w <= OVERFULL_LIMIT_PT for w in overfull(log)), overfull(log)
    assert (tmp_path / "report.pdf").stat().st_size > 10_000


@NEEDS_PDFLATEX
def test_a_networks_pdf_has_no_overfull_boxes_either(tmp_path):
    """udl72's growth tables hold ten-digit sizes and its short list long products."""
    report("mlp:udl72", "1:4", tmp_path / "net", ["tex", "pdf"], timestamp="t")
    log = compile_log(tmp_path / "net", tmp_path)
    assert all(w <= OVERFULL_LIMIT_PT for w in overfull(log)), overfull(log)


@pytest.mark.skipif(shutil.which("pdffonts") is None or shutil.which("pdflatex") is None,
                    reason="pdffonts or pdflatex not installed (apt-get install poppler-utils "
                           "texlive-latex-base texlive-latex-recommended); .ci/run installs them")
def test_the_pdf_uses_vector_fonts_only(toy_report):
    """lmodern for the text, TrueType in the charts and the graph: no Type 3 bitmaps."""
    listed = subprocess.run(["pdffonts", str(toy_report[0] / "report.pdf")], capture_output=True,
                            text=True, check=True).stdout
    fonts = listed.splitlines()[2:]
    assert len(fonts) > 5
    assert not [f for f in fonts if "Type 3" in f], listed
    assert any("LMRoman" in f for f in fonts) and any("DejaVuSans" in f for f in fonts)


@pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdflatex") is None,
                    reason="pdftotext or pdflatex not installed (apt-get install poppler-utils "
                           "texlive-latex-base texlive-latex-recommended); .ci/run installs them")
def test_the_pdfs_first_page_is_not_left_blank_by_the_graph(toy_report):
    """Issue 24: the tall graph floats to a page of its own, so the model, Step 1 and
    Step 2 fill the first page (it was the model alone, the rest of the page blank)."""
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout",
                            str(toy_report[0] / "report.pdf"), "-"],
                           capture_output=True, text=True, check=True).stdout
    assert "The model" in first and "Step 1: the forward pass" in first
    assert "Step 2: the backward pass" in first
