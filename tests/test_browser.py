"""The HTML reports in a real browser: headless Chromium driven by Playwright, at a
desktop's 1280 px and a phone's 400 px.

Skips where Playwright or Chromium is missing on a user's machine; .ci/run
installs both (pip playwright, apt-get chromium), so in CI it runs.  Screenshots
are kept in test-output/browser/ as artefacts.
"""

import json
from pathlib import Path

import pytest

from derive.cli import main
from conftest import REPORTS, by_report

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update"]
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "browser"
WIDTHS = [1280, 400]
MIN_CHART_TEXT_PX = 10

playwright = pytest.importorskip("playwright.sync_api",
                                 reason="Playwright not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing (apt-get install chromium)")

# Each in JS: elements wider than the viewport outside any horizontal scroll box; the
# rendered size of chart text; the agree cells' boxes; the nightmare's box.
OVERFLOWING = """() => [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || (r.right <= innerWidth + 0.5 && r.left >= -0.5)) return false;
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
        const o = getComputedStyle(a).overflowX; if (o === 'auto' || o === 'scroll') return false; }
    return true; }).map(e => `${e.tagName}#${e.id}.${e.className.baseVal ?? e.className}`)"""
CHART_TEXT = """() => [...document.querySelectorAll('figure svg text')].map(t => {
    const m = t.getScreenCTM();  // rotated labels too: the scale is the column's length
    return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.c, m.d); })"""
AGREE_CELLS = """() => [...document.querySelectorAll('table.check td.agree')].map(c => {
    const r = c.getBoundingClientRect(); return [r.left, r.right, c.textContent.trim()]; })"""
FIGURES = """() => [...document.querySelectorAll('figure svg')].map(svg => {
    let box = svg.parentElement;  // the nearest box that scrolls sideways, or the figure
    while (box.tagName !== 'FIGURE' && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX))
        box = box.parentElement;
    const r = svg.getBoundingClientRect(), b = box.getBoundingClientRect();
    return {id: box.closest('figure').id, width: r.width, box: b.width, left: b.left, right: b.right,
            reach: box.scrollWidth, scrolls: ['auto', 'scroll'].includes(getComputedStyle(box).overflowX)}; })"""
NIGHTMARE = """() => { const box = document.querySelector('#nightmare'); if (!box) return null;
    const maths = [...box.querySelectorAll('math')].map(m => m.getBoundingClientRect().right);
    return {scroll: box.scrollWidth, client: box.clientWidth, right: Math.max(...maths),
            pieces: maths.length}; }"""


@pytest.fixture(scope="session")
def reports(report_folders):
    """{name: the file URI of its index.html}, each report built on first use."""

    class URIs(dict):
        def __missing__(self, name):
            self[name] = (report_folders[name] / "index.html").as_uri()
            return self[name]

    return URIs()


@pytest.fixture(scope="session")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shown(browser):
    """shown(url, width): one page per report and width, opened on first use and read by
    every test that only reads it (a page of MathML takes a second or two to lay out)."""
    pages = {}

    def _shown(url: str, width: int):
        if (url, width) not in pages:
            pages[url, width] = opened(browser, url, width)
        return pages[url, width]

    yield _shown
    for page in pages.values():
        page.close()


def opened(browser, url: str, width: int):
    """A page at ``width`` px, with its requests and console errors recorded."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.requests, page.errors = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url, wait_until="load")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    return page


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", by_report(REPORTS))
def test_report_reads_at_any_width(shown, reports, name, width):
    page = shown(reports[name], width)
    assert page.requests == [reports[name]], f"network requests besides the page: {page.requests}"
    assert page.errors == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate(OVERFLOWING) == []
    # Every check table's agree column is on screen, and every row agrees
    agree = page.evaluate(AGREE_CELLS)
    assert agree, "no check table"
    assert all(left >= 0 and right <= width for left, right, _ in agree), agree
    assert {text for _, _, text in agree} == {"yes"}
    # Charts at their own size: text no smaller than MIN_CHART_TEXT_PX
    sizes = page.evaluate(CHART_TEXT)
    assert sizes and min(sizes) >= MIN_CHART_TEXT_PX, min(sizes)
    assert page.locator("#graph svg").count() == 1
    # every chart and the graph: whole in view, or in a box of its own that scrolls to
    # all of it; the box itself within the page
    for figure in page.evaluate(FIGURES):
        assert figure["left"] >= -0.5 and figure["right"] <= width + 0.5, figure
        assert figure["width"] <= figure["box"] + 0.5 or (
            figure["scrolls"] and figure["reach"] >= figure["width"] - 0.5), figure
    if width >= 1280 and page.locator("#heatmaps svg").count():
        heatmaps = [f for f in page.evaluate(FIGURES) if f["id"] == "heatmaps"]
        assert heatmaps[0]["width"] <= heatmaps[0]["box"] + 0.5, heatmaps  # colour bar in view
    # a number with its unit (atol 1e-10·‖g‖∞) is never split across lines
    assert page.evaluate("[...document.querySelectorAll('.nobreak')].map(e => "
                         "e.getClientRects().length)") == [1] * page.locator(".nobreak").count()
    assert page.locator(".nobreak").count() >= 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", by_report(["toy", "expr"]))
def test_the_nightmare_is_shown_whole(shown, reports, name, width):
    """Long formulas break at top-level operators and wrap: at 1280 px the whole of
    ∂ℓ/∂ω0 is in view, no scrolling; at 400 px too, for these formulas."""
    box = shown(reports[name], width).evaluate(NIGHTMARE)
    assert box is not None and box["pieces"] > 1
    assert box["scroll"] <= box["client"] + 1, box
    assert box["right"] <= width, box


@pytest.mark.xdist_group("browser-toy")
def test_the_toy_graph_has_a_box_for_each_step(shown, reports):
    page = shown(reports["toy"], 1280)
    for step in ["f0", "h1", "f1", "h2", "f2", "h3", "f3", "l"]:
        node = page.locator(f'#graph g[id="node-{step}"]')
        assert node.count() == 1, step
        assert node.bounding_box()["width"] > 0
    assert "ℓ = (f₃ − y)²" in page.locator('#graph g[id="node-l"]').text_content()


@pytest.mark.xdist_group("browser-udl72")
def test_a_networks_report_folds_its_gradients_under_a_summary(browser, reports):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(reports["udl72"], wait_until="load")
    assert page.locator("#layers tr").count() == 7  # a header and six layers
    assert not page.locator("#gradients").is_visible()  # folded until asked for
    page.locator("#all-gradients summary").click()
    assert page.locator("#gradients").is_visible()
    height = page.evaluate("document.documentElement.scrollHeight")
    page.close()
    assert height > 0


VALUES = """() => { const s = document.querySelector('#growth-of-values'); if (!s) return null;
    const rows = [...document.querySelectorAll('#values tr')].slice(1).map(
        r => [...r.querySelectorAll('td')].map(c => c.textContent.trim()));
    const chart = document.querySelector('#values-chart svg');
    const box = chart.getBoundingClientRect();
    return {rows, chart: [box.width, box.height],
            heading: s.getBoundingClientRect().width}; }"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.xdist_group("browser-udl72")
def test_a_networks_growth_of_values_reads_at_any_width(shown, reports, width):
    """Issue 25: the section's table holds data.json's numbers, a row per layer, and its
    chart is drawn at its own size (scrolling in its box on a phone, as every chart)."""
    page = shown(reports["udl72"], width)
    found = page.evaluate(VALUES)
    data = json.loads(Path(reports["udl72"].replace("file://", "")).with_name("data.json")
                      .read_text())["values"]
    assert found is not None and len(found["rows"]) == data["K"] == 5
    for row, k in zip(found["rows"], data["runs"][0]["layers"]):
        assert row[0] == str(k)
        shown = [float(c.replace("−", "-")) for c in row[1:] if c != "–"]
        wanted = [v for r in data["runs"] for v in (r["forward_std"][k - 1],
                                                     r["backward_std"][k - 1]) if v is not None]
        assert shown == pytest.approx(wanted, rel=1e-3, abs=1e-4)
    assert found["chart"][0] > 500 and found["chart"][1] > 200
    assert found["heading"] <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#values-chart").screenshot(path=str(SHOTS / f"values-{width}.png"))


CLASS = ["completed_7_1.ipynb", "bug_7_1.ipynb", "completed_7_2.ipynb"]
CLASS_ROWS = """() => [...document.querySelectorAll('#class-table tbody tr')].map(
    row => [...row.cells].slice(0, 7).map(c => c.textContent.trim()))"""


@pytest.fixture(scope="module")
def class_page(tmp_path_factory) -> Path:
    """`derive grade --html` of a class of three (one with a planted bug), graded once."""
    notebooks = Path(__file__).resolve().parent / "fixtures" / "notebooks"
    page = tmp_path_factory.mktemp("class") / "class.html"
    assert main(["grade", *[str(notebooks / n) for n in CLASS], "--html", str(page)]) == 1
    return page


@pytest.mark.xdist_group("grade-class")
@pytest.mark.parametrize("width", WIDTHS)
def test_the_class_table_of_a_grade_sorts_by_a_click_without_a_network(browser, class_page,
                                                                       width):
    """Issue 24: `derive grade --html` of several notebooks opens with a class table (a
    row per notebook, its score, verdict, count and first wrong step, a column per test
    and per quantity),
    sortable by a click on a column's head, with no request beyond the file itself."""
    page = opened(browser, class_page.as_uri(), width)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"grade-class-{width}.png"), full_page=True)
    rows = page.evaluate(CLASS_ROWS)
    assert [Path(r[0]).name for r in rows] == CLASS
    assert [r[2] for r in rows] == ["30", "10", "20"]  # score (issue 26), of r[3]
    assert [r[4] for r in rows] == ["pass", "fail", "pass"]
    assert "dldf1" in rows[1][6]  # the buggy notebook's first wrong step
    page.click("#class-table th:nth-child(6)")  # "not passed": fewest first
    assert [int(r[5]) for r in page.evaluate(CLASS_ROWS)] == sorted(int(r[5]) for r in rows)
    page.click("#class-table th:nth-child(6)")  # again: most first
    assert Path(page.evaluate(CLASS_ROWS)[0][0]).name == "bug_7_1.ipynb"
    assert page.evaluate(OVERFLOWING) == []  # the wide table scrolls in its own box
    assert all(url.startswith("file:") for url in page.requests) and not page.errors
    page.close()


# ---- the step-through (issue: see backprop move) ------------------------------------

FRAME = """() => { const c = document.querySelector('.player .caption'), d = c.dataset;
    const g = d.box ? document.querySelector(`.player g.node[data-node="${CSS.escape(d.box)}"]`) : null;
    const line = g && d.shows ? g.querySelector('text.' + d.shows) : null;
    const shown = [...document.querySelectorAll('.player text.value, .player text.adjoint')]
        .filter(t => getComputedStyle(t).visibility !== 'hidden').length;
    return {frame: +d.frame, node: d.node, box: d.box, shows: d.shows, number: d.number,
            line: line ? line.textContent : null,
            lineShown: line ? getComputedStyle(line).visibility !== 'hidden' : null,
            lit: document.querySelectorAll('.player g.lit').length,
            marked: document.querySelectorAll('.player g.edge.forward, .player g.edge.backward').length,
            shown: shown, caption: c.innerText}; }"""


def traced(*argv) -> dict:
    """`derive trace ARGV --json`, as a user's script reads it."""
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["trace", *argv, "--json"]) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="session")
def graph_pages(tmp_path_factory):
    """`derive graph MODEL --html FILE` for the networks' step-through, written once."""
    root = tmp_path_factory.mktemp("graph-pages")

    class Built(dict):
        def __missing__(self, name):
            out = root / f"{name.replace(':', '-')}.html"
            assert main(["graph", name, "--html", str(out)]) == 0
            self[name] = out.as_uri()
            return self[name]

    return Built()


STEP_THROUGH = [pytest.param("toy", "report", marks=pytest.mark.xdist_group("browser-toy")),
                pytest.param("mlp:udl72", "graph", marks=pytest.mark.xdist_group("browser-udl72"))]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name, where", STEP_THROUGH)
def test_stepping_through_every_frame_shows_the_traces_numbers(browser, reports, graph_pages,
                                                               name, where, width):
    """Home, then → through every frame: each frame's value or adjoint, in the caption
    and in its box, is `derive trace --json`'s to the printed digits; the lit box and
    marked arrows follow; values appear one frame at a time; no network, no errors."""
    from test_player import agrees_to_printed, expected
    url = reports[name] if where == "report" else graph_pages[name]
    page = opened(browser, url, width)
    data = traced(name)
    frames = page.evaluate("() => JSON.parse(document.querySelector('.player script.frames').textContent)")
    page.focus(".player")
    page.keyboard.press("Home")
    seen, shown = [], []
    for k in range(len(frames)):
        now = page.evaluate(FRAME)
        assert now["frame"] == k, now
        frame = frames[k]
        assert now["node"] == (frame["node"] or "") and now["number"] == frame["number"]
        shown.append(now["shown"])
        if k == 0:
            assert now["lit"] == 0 and "The model" in now["caption"]
        else:
            assert agrees_to_printed(now["number"], expected(frame, data)), (k, now)
            assert now["lineShown"] and now["line"].endswith(now["number"]), now
            assert now["lit"] == 1 and now["marked"] >= 1, now
            assert now["number"] in now["caption"]
        seen.append(frame["step"])
        page.keyboard.press("ArrowRight")
    assert page.evaluate(FRAME)["frame"] == len(frames) - 1  # → at the end stays there
    assert seen == sorted(seen) and set(seen) == {0, 1, 2, 3}
    assert shown == sorted(shown) and shown[0] < shown[-1]  # revealed, never hidden again
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(FRAME)["frame"] == len(frames) - 2
    assert page.requests == [url], f"network requests besides the page: {page.requests}"
    assert page.errors == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"step-through-{name.replace(':', '-')}-{width}.png"))
    page.close()


@pytest.mark.xdist_group("browser-toy")
def test_the_players_buttons_slider_and_play(browser, reports):
    page = opened(browser, reports["toy"], 1280)
    last = page.evaluate(FRAME)["frame"]
    assert last > 20  # the report opens on the whole picture
    page.click(".player [data-go=first]")
    assert page.evaluate(FRAME)["frame"] == 0
    page.click(".player [data-go=next]")
    page.click(".player [data-go=next]")
    assert page.evaluate(FRAME)["node"] == "h1"
    page.locator(".player input[type=range]").fill("9")
    assert page.evaluate(FRAME)["node"] == "f3" and page.evaluate(FRAME)["shows"] == "adjoint"
    page.click(".player [data-go=play]")
    page.wait_for_function("+document.querySelector('.player .caption').dataset.frame >= 11")
    page.click(".player [data-go=play]")  # pause
    paused = page.evaluate(FRAME)["frame"]
    page.click(".player [data-go=last]")
    assert page.evaluate(FRAME)["frame"] == last and paused < last
    assert page.errors == []
    page.close()
