"""`derive serve`: its answers, its refusals, its limits, a load over loopback, and its
page in a real browser.

One server is started as a user starts it (`python -m derive serve`, a process of its
own, on a free port) and shared by this module's tests, which form one xdist group.
Skips where Starlette or uvicorn is missing (pip install 'derive[serve]'); .ci/run
installs them, so in CI it runs.
"""

import os
import re
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="Starlette not installed (pip install 'derive[serve]')")
pytest.importorskip("uvicorn", reason="uvicorn not installed (pip install 'derive[serve]')")

from derive.present import explore  # noqa: E402
from derive.present.steps import trace as derive_trace  # noqa: E402
from derive.present.serve import load, percentile, request, start  # noqa: E402

pytestmark = pytest.mark.xdist_group("serve")
TIMEOUT = 60
"""The shared server's --timeout, far above any answer asked of it, even with the rest of
the suite running; the time limit is tested on a server of its own with SHORT."""
SHORT = 1
HEAVY = "mlp:1-256-256-1"
"""An answer far over SHORT: its check alone took 29 s here."""
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(address, its folder): a server started in an empty folder with its own TMPDIR,
    so that a file it wrote would show; stopped by Ctrl-C (SIGINT) at the end."""
    folder = tmp_path_factory.mktemp("serve")
    (folder / "tmp").mkdir()
    cwd, tmp = os.getcwd(), os.environ.get("TMPDIR")
    os.chdir(folder)
    os.environ["TMPDIR"] = str(folder / "tmp")
    try:
        process, base, _ = start("--timeout", str(TIMEOUT), "--workers", "2")
    finally:
        os.chdir(cwd)
        if tmp is None:
            os.environ.pop("TMPDIR")
        else:
            os.environ["TMPDIR"] = tmp
    yield base, folder, process
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 130  # Ctrl-C: "derive: interrupted", as every command


def explore_url(base, **query) -> str:
    return base + "api/explore?" + urllib.parse.urlencode(query)


def test_it_listens_on_loopback_and_answers_the_toy(server):
    base, _, _ = server
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", base)
    status, answer, _ = request(explore_url(base, model="toy"))
    assert status == 200 and answer["ok"] and answer["model"] == "toy"
    assert answer["frames"] == 24 and answer["agree"] is True and answer["sweeps"] == "sin,exp,cos"
    html = answer["html"]
    assert 'class="player"' in html and "<math" in html and 'id="check"' in html
    assert explore.reply({"kind": "explore", "model": "toy"})["html"] == html  # the CLI's own
    status, text, _ = request(base)
    assert status == 200 and "derive serve" in text and "<script src" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)


@pytest.mark.parametrize("query, words", [
    ({"model": "sin("}, "expression ends too early at column 5"),
    ({"model": "chain:tanh*100000"}, "must be a whole number from 1 to 512"),
    ({"model": "mlp:1-256-256-256-1"}, "at most 100,000"),
    ({"model": "sin(x)*w", "param": "w=@/etc/passwd", "input": "x=1"}, "reads no files"),
    ({"model": "__import__('os').system('touch owned')"}, ""),
    ({"model": "x" * 2001}, "over the 2,000"),
    ({"model": "toy\x00"}, "control character"),
    ({"model": "sin(x)*w", "param": "w=abc", "input": "x=1"}, "w"),
    ({"model": "toy", "bogus": "1"}, "unknown field 'bogus'"),
])
def test_bad_input_is_refused_with_one_line_and_nothing_runs(server, query, words):
    base, folder, _ = server
    status, answer, _ = request(explore_url(base, **query))
    assert status == 400 and answer["ok"] is False and words in answer["error"]
    assert "\n" not in answer["error"] and "Traceback" not in str(answer)
    assert not (folder / "owned").exists()


def test_the_caret_message_comes_with_the_parsers_error(server):
    status, answer, _ = request(explore_url(server[0], model="sin("))
    assert status == 400 and answer["caret"] == "  sin(\n      ^"


def test_an_answer_over_the_time_limit_stops_its_worker_and_the_server_stays_up(run):
    process, base, _ = start("--timeout", str(SHORT), "--workers", "1")
    try:
        status, answer, seconds = request(explore_url(base, model=HEAVY))
        assert status == 503 and f"stopped after {SHORT} s" in answer["error"]
        assert seconds < SHORT + 5
        status, answer, _ = request(explore_url(base, model="toy", param="omega0=0.11"))
        assert status == 200 and answer["ok"]  # a new worker, started in its place
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)


def test_workers_run_under_the_memory_limit(server):
    """Each worker's address space is limited to --memory (default 3000 MB), from before
    it imports anything of derive's (a worker replaced after a time limit, too)."""
    base, _, process = server
    for _ in range(60):  # a replaced worker may still be starting: it is ready when both
        load(base, [{"model": "toy", "param": f"omega0={0.3 + k / 100}"} for k in range(4)], 4)
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True,
                                  text=True).stdout.split()
        limits = [address_space(pid) for pid in children
                  if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
        if len(limits) == 2 and "unlimited" not in limits:
            break
    assert limits == [str(3000 * 1024 * 1024)] * 2, limits


def address_space(pid: str) -> str:
    text = Path(f"/proc/{pid}/limits").read_text()
    return next(x for x in text.splitlines() if x.startswith("Max address space")).split()[3]


def test_an_answer_over_the_memory_limit_is_a_message(monkeypatch):
    """What a worker replies when an answer runs out of its address space (measured on
    a server: --memory 1000 and mlp:1-256-256-1, 503 after 24 s, the server up)."""
    def hungry(query):
        raise MemoryError
    monkeypatch.setitem(explore.KINDS, "explore", hungry)
    explore._cached.cache_clear()
    answer = explore.reply({"kind": "explore", "model": "toy", "param": "omega0=0.123"})
    explore._cached.cache_clear()
    assert answer == {"ok": False, "status": 503, "caret": None,
                      "error": "over the memory limit of derive serve (--memory): try a "
                               "smaller model"}


def test_a_bug_of_ours_is_an_answer_and_keeps_the_worker(monkeypatch):
    def broken(query):
        raise ZeroDivisionError("planted")
    monkeypatch.setitem(explore.KINDS, "explore", broken)
    explore._cached.cache_clear()
    answer = explore.reply({"kind": "explore", "model": "toy", "param": "omega0=0.321"})
    explore._cached.cache_clear()
    assert answer == {"ok": False, "status": 500, "caret": None,
                      "error": "internal error: ZeroDivisionError: planted"}


def test_the_sizes_chart_of_a_family(server):
    status, answer, _ = request(server[0] + "api/sizes?model=chain%3Atanh%2A12")
    assert status == 200 and answer["family"] == "tanh"
    assert "<svg" in answer["html"] and "size of the gradient by depth" in answer["html"]
    status, answer, _ = request(server[0] + "api/sizes?model=sin(x)")
    assert status == 200 and answer["family"] is None and answer["html"] == ""


def load_queries() -> list[tuple[dict, int]]:
    """400 requests and the status each must get: valid models at many values, some asked
    again (200), hostile text and models over the CLI's limits (400, refused before any
    work), interleaved by a fixed stride (an answer over the time limit is
    test_an_answer_over_the_time_limit_…'s)."""
    valid = ([{"model": "toy", "param": f"omega0={0.1 + 0.002 * (k % 40)}"} for k in range(150)]
             + [{"model": "sin(x)*w", "param": f"w={1 + 0.01 * (k % 30)}", "input": "x=1"}
                for k in range(60)]
             + [{"model": "mlp:1-4-4-1", "target": f"y={0.1 * (k % 10)}"} for k in range(40)]
             + [{"model": "logistic:4", "input": f"x={0.2 + 0.01 * k}"} for k in range(30)]
             + [{"path": "health"}] * 40)
    hostile = [{"model": text} for text in ("sin(", ")", "w**", "exec('1')", "a" * 2001,
                                            "toy\x07", "f0 = ; f0", "1/0 +", "__class__")] * 6
    hostile += [{"model": "toy", "param": "omega0=@/etc/passwd"}, {"model": "toy", "x": "1"}] * 4
    limited = [{"model": "chain:tanh*100000"}, {"model": "mlp:1-256-256-256-1"},
               {"model": "logistic:100000"}] * 6
    pairs = [(q, 200) for q in valid] + [(q, 400) for q in hostile + limited]
    return [pairs[(k * 7) % len(pairs)] for k in range(len(pairs))]  # 7 is prime to 400


def test_a_load_of_400_requests_from_8_clients(server, capsys):
    base, folder, process = server
    pairs = load_queries()
    assert len(pairs) == 400 and len({str(q) for q, _ in pairs}) > 100
    results = load(base, [q for q, _ in pairs], clients=8)
    for (query, expected), (_, status, answer, _) in zip(pairs, results):
        assert status == expected, (query, status, answer)
    toy = [seconds for (query, expected), (_, _, _, seconds) in zip(pairs, results)
           if query.get("model") == "toy" and expected == 200]
    with capsys.disabled():
        print(f"\nderive serve load: 400 requests, 8 clients: toy p50 "
              f"{percentile(toy, 0.5) * 1000:.0f} ms, p95 {percentile(toy, 0.95) * 1000:.0f} ms")
    assert process.poll() is None
    assert request(base + "health")[:2] == (200, "ok")
    assert request(explore_url(base, model="toy"))[0] == 200


def test_the_server_writes_no_files(server):
    _, folder, _ = server
    request(explore_url(server[0], model="mlp:1-4-4-1"))
    assert [p.name for p in folder.rglob("*")] == ["tmp"]


@pytest.mark.parametrize("argv, words", [
    (["--port", "70000"], "--port must be"), (["--workers", "0"], "--workers must be"),
    (["--timeout", "0"], "--timeout must be"), (["--memory", "10"], "--memory must be"),
])
def test_bad_options_exit_2(run, argv, words):
    code, out, err = run("serve", *argv)
    assert code == 2 and out == "" and words in err and err.count("\n") == 1


def test_a_port_in_use_is_one_line(server, run):
    port = urllib.parse.urlsplit(server[0]).port
    code, out, err = run("serve", "--port", str(port))
    assert code == 2 and "cannot listen on 127.0.0.1" in err and err.count("\n") == 1


# ---- the page, in Chromium ----------------------------------------------------------------


@pytest.fixture(scope="module")
def page(server):
    playwright = pytest.importorskip("playwright.sync_api",
                                     reason="Playwright not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.requests, page.errors = [], []
        page.on("request", lambda r: page.requests.append(r.url))
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        yield page
        browser.close()


def test_the_page_answers_as_one_types(server, page):
    base = server[0]
    page.goto(base)
    page.locator("#status", has_text="toy: 24 frames").wait_for(timeout=30_000)
    page.fill("#model", "sin(x)*w")
    page.fill("#param", "w=2")
    page.fill("#input", "x=1")
    page.locator("#status", has_text="expression: 4 frames").wait_for(timeout=30_000)
    steps = page.inner_text("#steps")
    from derive.present.report import number
    from derive.models.user import from_text
    output = derive_trace(from_text("sin(x)*w", {"w": 2.0}, {"x": 1.0})).loss
    assert "Step 1" in steps and number(output) in steps  # its output, 2·sin(1) (no loss)
    assert page.locator("#answer .player g.node").count() == 4  # w, x, sin[x], the product
    page.focus("#answer .player")
    page.keyboard.press("Home")
    assert page.locator("#answer .player .caption").get_attribute("data-frame") == "0"
    page.keyboard.press("ArrowRight")
    assert page.locator("#answer .player .caption").get_attribute("data-frame") == "1"
    page.fill("#model", "sin(")
    page.locator("#error", has_text="expression ends too early").wait_for(timeout=30_000)
    assert page.inner_text("#error").splitlines()[1:] == ["  sin(", "      ^"]
    assert "stale" in page.get_attribute("#answer", "class")  # the last answer stays, dimmed
    page.fill("#model", "chain:tanh*12")
    page.fill("#param", "")
    page.fill("#input", "")
    page.locator("#status", has_text="chain:tanh*12: 78 frames").wait_for(timeout=60_000)
    page.locator("#sizes svg").wait_for(timeout=60_000)
    assert "size of the gradient by depth" in page.inner_text("#sizes")
    assert all(url.startswith(base) for url in page.requests), page.requests
    # the only console errors are the browser's notes of the refused query's status 400
    assert all("status of 400" in e for e in page.errors), page.errors
    shots = Path(__file__).resolve().parent.parent / "test-output" / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "serve-1280.png"))
