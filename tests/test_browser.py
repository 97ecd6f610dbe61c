"""The HTML report in a real browser: headless Chromium driven by Playwright.

Skips where Playwright or Chromium is missing on a user's machine; .ci/run
installs both (pip playwright, apt-get chromium), so in CI it runs.
"""

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update"]
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "browser"

playwright = pytest.importorskip("playwright.sync_api",
                                 reason="Playwright not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing (apt-get install chromium)")


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    import importlib
    report = importlib.import_module("derive.report")
    out = tmp_path_factory.mktemp("browser") / "toy"
    report.make_report("toy", "1:12", out, ["html"], timestamp="t")
    return (out / "index.html").as_uri()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.mark.parametrize("width", [1280, 400])
def test_report_renders_offline_without_errors_or_overflow(browser, page_url, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_url, wait_until="load")
    assert requests == [page_url], f"network requests besides the page: {requests}"
    assert errors == []
    boxes = page.eval_on_selector_all(
        "math", "els => els.map(e => { const r = e.getBoundingClientRect();"
                " return [r.width, r.height]; })")
    assert len(boxes) > 20
    assert all(w > 0 and h > 0 for w, h in boxes), boxes
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page overflows horizontally: {scroll_width} > {width}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"report-{width}.png"), full_page=True)
    assert (SHOTS / f"report-{width}.png").stat().st_size > 10_000
    page.close()
