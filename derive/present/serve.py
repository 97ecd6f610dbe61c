"""`derive serve`: a local web page for exploring models as one types.

A Starlette application served by uvicorn (the optional extra ``derive[serve]``),
listening on 127.0.0.1 by default on a free port that it prints.  The page and its
script come from the package (templates/serve.html.j2); nothing is fetched from the
network.  Every answer is computed by :func:`derive.present.explore.reply` in one of a few
worker processes, each started once and kept warm, each with an address-space limit
(``--memory``); an answer that takes longer than ``--timeout`` seconds has its worker
killed and replaced, and gets a message saying so.  The server writes no files.

Routes: ``GET /`` the page; ``GET /api/explore?model=…&param=…&input=…&target=…``
and ``GET /api/sizes?model=…`` JSON answers (see :mod:`derive.present.explore`); ``GET
/health`` "ok".  A refused query is status 400 with ``{"ok": false, "error": …,
"caret": …}``; a limit (time, memory, too many waiting) is 503 with the same keys, and
a bug of ours 500.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
import socket
import sys
import time

from derive.base.errors import DeriveError

HOST = "127.0.0.1"
WORKERS = 2
"""Worker processes computing answers (this machine has 2 cores)."""
TIMEOUT = 20.0
"""Seconds one answer may take before its worker is killed and replaced."""
MEMORY_MB = 3000
"""Each worker's address-space limit (RLIMIT_AS), in MB."""
WAITING = 32
"""Requests that may wait for a worker; past it a request is refused at once (503)."""
START_SECONDS = 120.0
"""The longest a worker may take to start (import, and one toy answer to warm it)."""


# ---- the workers --------------------------------------------------------------------


def _work(conn, memory_mb: int) -> None:
    """A worker: limit its memory, warm up, then answer jobs until the pipe closes."""
    import resource
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from derive.present import explore
    explore.warm()
    conn.send({"ready": True})
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(explore.reply(job))


class Worker:
    """One worker process and our end of its pipe."""

    def __init__(self, memory_mb: int):
        context = multiprocessing.get_context("spawn")  # a fresh interpreter, no event loop
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_work, args=(child, memory_mb), daemon=True)
        self.process.start()
        child.close()

    def ready(self) -> None:
        """Wait until the worker has warmed up (blocking; run in a thread)."""
        if not self.conn.poll(START_SECONDS) or not self.conn.recv().get("ready"):
            raise RuntimeError("a derive serve worker did not start")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.join(5)
            self.conn.close()


class Pool:
    """The workers, each answering one job at a time."""

    def __init__(self, workers: int = WORKERS, timeout: float = TIMEOUT,
                 memory_mb: int = MEMORY_MB):
        self.size, self.timeout, self.memory_mb = workers, timeout, memory_mb
        self.threads = concurrent.futures.ThreadPoolExecutor(2 * workers + 2)
        self.idle: asyncio.Queue = asyncio.Queue()
        self.all: set = set()
        self.waiting = 0
        self.replaced = 0

    async def start(self) -> None:
        await asyncio.gather(*[self._spawn() for _ in range(self.size)])

    async def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        worker = await loop.run_in_executor(self.threads, Worker, self.memory_mb)
        self.all.add(worker)
        try:
            await loop.run_in_executor(self.threads, worker.ready)
        except Exception:
            self.all.discard(worker)
            worker.stop()
            raise
        self.idle.put_nowait(worker)

    def _replace(self, worker: Worker) -> None:
        self.all.discard(worker)
        worker.stop()
        self.replaced += 1
        asyncio.get_running_loop().create_task(self._spawn())

    async def ask(self, job: dict) -> dict:
        """The worker's reply to ``job``, or a limit's message."""
        if self.waiting >= WAITING:
            return _refused(503, f"derive serve is busy ({WAITING} requests waiting): "
                                 "try again in a moment")
        self.waiting += 1
        try:
            worker = await self.idle.get()
        finally:
            self.waiting -= 1
        loop = asyncio.get_running_loop()
        try:
            worker.conn.send(job)
            reply = await asyncio.wait_for(
                loop.run_in_executor(self.threads, worker.conn.recv), self.timeout)
        except asyncio.TimeoutError:
            self._replace(worker)
            return _refused(503, f"stopped after {self.timeout:g} s, the time limit of "
                                 "derive serve (--timeout): try a smaller model")
        except (EOFError, OSError, BrokenPipeError):
            self._replace(worker)
            return _refused(503, "the worker computing this stopped (over the memory "
                                 "limit of derive serve, --memory?): try a smaller model")
        self.idle.put_nowait(worker)
        return reply

    def stop(self) -> None:
        for worker in list(self.all):
            worker.stop()
        self.threads.shutdown(wait=False, cancel_futures=True)


def _refused(status: int, error: str) -> dict:
    return {"ok": False, "status": status, "error": error, "caret": None}


# ---- the web application ----------------------------------------------------------------


def page() -> str:
    """The explorer's page: the form, the player's style and script, our own script."""
    from derive.present.report import html_environment
    return html_environment().get_template("serve.html.j2").render()


def application(workers: int = WORKERS, timeout: float = TIMEOUT,
                memory_mb: int = MEMORY_MB, announce=None):
    """The Starlette application; ``announce()`` is called once the workers are warm."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
    from starlette.routing import Route

    text = page()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        app.state.pool = Pool(workers, timeout, memory_mb)
        try:
            await app.state.pool.start()
            if announce:
                announce()
            yield
        finally:
            app.state.pool.stop()

    async def home(request):
        return HTMLResponse(text, headers=HEADERS)

    async def health(request):
        return PlainTextResponse("ok")

    def answering(kind):
        async def endpoint(request):
            query = dict(request.query_params)
            unknown = sorted(set(query) - {"model", "param", "input", "target"})
            if unknown:
                reply = _refused(400, f"unknown field {unknown[0][:40]!r}: derive serve takes "
                                      "model, param, input and target")
            else:
                reply = await request.app.state.pool.ask({"kind": kind, **query})
            status = 200 if reply.get("ok") else reply.get("status", 400)
            return JSONResponse(reply, status_code=status, headers=HEADERS)
        return endpoint

    return Starlette(routes=[Route("/", home), Route("/health", health),
                             Route("/api/explore", answering("explore")),
                             Route("/api/sizes", answering("sizes"))], lifespan=lifespan)


HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
                                      "style-src 'unsafe-inline'; img-src data:; "
                                      "connect-src 'self'; base-uri 'none'; form-action 'none'"}
"""Every response: nothing cached; the page may run its inline script and talk only to
this server (the browser itself refuses any other request)."""


def serve(host: str = HOST, port: int = 0, workers: int = WORKERS, timeout: float = TIMEOUT,
          memory_mb: int = MEMORY_MB) -> int:
    """Run the explorer until Ctrl-C; prints its address once the workers are warm."""
    try:
        import uvicorn
    except ImportError:
        raise DeriveError("derive serve needs Starlette and uvicorn: "
                          "pip install 'derive[serve]'") from None
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the workers' numpy: one thread each
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(128)  # connections wait from now, even before uvicorn accepts
    except OSError as error:
        raise DeriveError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    address = f"http://{host}:{listening.getsockname()[1]}/"
    if not host.startswith("127.") and host not in ("localhost", "::1"):
        print(f"derive: note: listening on {host}: anyone who can reach this machine can "
              "use the explorer (its limits still apply)", file=sys.stderr, flush=True)
    started = time.perf_counter()

    def announce():
        print(f"derive serve: {address} ({workers} worker{'s' * (workers != 1)} ready in "
              f"{time.perf_counter() - started:.1f} s; Ctrl-C stops it)", flush=True)

    print(f"derive serve: starting {workers} worker{'s' * (workers != 1)} …", file=sys.stderr,
          flush=True)
    config = uvicorn.Config(application(workers, timeout, memory_mb, announce),
                            log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[listening])
    return 0


# ---- measuring: start-up, warm answers, and a load over loopback ------------------------


def request(url: str, timeout: float = 120.0) -> tuple[int, dict | str, float]:
    """GET ``url``: (status, its JSON or text, seconds)."""
    import json
    import urllib.error
    import urllib.request
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    seconds = time.perf_counter() - started
    try:
        return status, json.loads(body), seconds
    except ValueError:
        return status, body.decode("utf-8", "replace"), seconds


def load(base: str, queries: list[dict], clients: int = 8) -> list[tuple[dict, int, object, float]]:
    """Send every query in ``queries`` to ``base``/api/explore (``{"path": …}`` for another
    route), ``clients`` at a time over loopback: (query, status, answer, seconds) each."""
    import urllib.parse
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        def one(query):
            path = query.get("path") or "api/explore?" + urllib.parse.urlencode(query)
            return (query, *request(base + path))
        return list(pool.map(one, queries))


def start(*options: str, timeout: float = START_SECONDS):
    """Start `derive serve` OPTIONS as a user does (a process of its own): (the process,
    its address, seconds from start to its line)."""
    import subprocess
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "derive", "serve", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    line = process.stdout.readline()
    if not line.startswith("derive serve: http"):
        process.kill()
        raise RuntimeError(f"derive serve did not start: {line!r} {process.stderr.read()!r}")
    return process, line.split()[2], time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0 to 1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def measure(models=("toy", "chain:tanh*12", "mlp:udl72"), repeat: int = 5,
            requests: int = 400, clients: int = 8) -> str:
    """`derive serve --measure`: start a server, time its first answer, warm answers
    (each at values not asked before, so not from a cache), and a load of ``requests``
    toy queries from ``clients`` clients; the report as text."""
    import urllib.parse
    process, base, up = start()
    try:
        lines = [f"start to ready: {up:.2f} s"]
        status, _, first = request(base + "api/explore?model=toy")
        lines.append(f"first answer (toy): {first * 1000:.0f} ms (status {status})")
        for name in models:
            times = []
            for k in range(repeat):
                query = {"model": name, "target": f"y={0.5 + 0.01 * k}"}
                status, answer, seconds = request(base + "api/explore?"
                                                  + urllib.parse.urlencode(query))
                if status != 200:
                    raise RuntimeError(f"{name}: {answer}")
                times.append(seconds)
            lines.append(f"warm answer, {name}: median {percentile(times, 0.5) * 1000:.0f} ms "
                         f"over {repeat} values")
        queries = [{"model": "toy", "param": f"omega0={0.1 + 0.001 * (k % 50)}"}
                   for k in range(requests)]
        started = time.perf_counter()
        results = load(base, queries, clients)
        wall = time.perf_counter() - started
        seconds = [r[3] for r in results]
        failed = sum(r[1] != 200 for r in results)
        lines.append(f"load: {requests} toy requests ({len({q['param'] for q in queries})} "
                     f"distinct), {clients} clients: p50 {percentile(seconds, 0.5) * 1000:.0f} "
                     f"ms, p95 {percentile(seconds, 0.95) * 1000:.0f} ms, {requests / wall:.0f} "
                     f"requests/s, {failed} failed")
        return "\n".join(lines)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except Exception:
            process.kill()
