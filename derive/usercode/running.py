"""Running a notebook to grade it: every cell in a Jupyter kernel, within its limits.

Each cell within its timeout and the whole notebook within its own, in the sandbox's
folder and jail (:mod:`derive.usercode.sandbox`); errors are recorded, not fatal; a kernel
that dies before its first reply is started again (:data:`KERNEL_STARTS`); Ctrl-C stops
every notebook's next cell.  Our own last cell prints the graded values on one line
marked with a fresh random token, and only that line is read.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from derive.usercode.sandbox import Limits, Sandbox


_STOPPING = threading.Event()  # set by Ctrl-C: no cell of any notebook starts after it


OURS = "derive_grader"
"""Metadata key of the cells the grader adds."""

MARK = "DERIVE-GRADE:"

_KERNELS: dict = {}  # the process group of each kernel running a notebook, by run


OVERRAN = "derive: the cell's timeout"


KERNEL_STARTS = 3
"""Kernels started for a notebook before it is given up: a kernel can die before its
first reply when another, started at the same moment, takes the port it chose
(jupyter_client picks free ports, then the kernel binds them); no cell has run then,
so starting again changes nothing but the luck."""


class _OverTime(Exception):
    """The notebook's own time limit reached: no further cell starts."""


class _Stopped(Exception):
    """Ctrl-C while notebooks run side by side: no further cell starts (an Exception, not
    KeyboardInterrupt, so that nbclient still shuts the kernel down on its way out)."""


def _run(nb, our_cells, timeout, result, notebook_timeout: float, sandbox: Sandbox) -> dict:
    """Execute every cell (errors recorded, not fatal; each cell within ``timeout`` and
    the whole within ``notebook_timeout``, then the kernel's process group killed: nbclient
    shuts the kernel down "immediately", which jupyter_client does by SIGKILL to the
    group), then read the graded variables: from our own last cell's output alone, on
    the one line that carries this run's fresh random token.  A line printed by the notebook's code (an IPython hook, a printed
    copy) cannot carry a token it never saw before our cell ran; a second marked line in
    our cell's output means something else printed there, and nothing is read."""
    import secrets

    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    mark = f"{MARK}{secrets.token_hex(16)}:"
    our_cells(nb, mark)  # the grader's cells, marked with this run's token
    deadline = time.monotonic() + notebook_timeout

    def cell_timeout(cell) -> float:  # a cell's own limit, or what is left of the whole's
        return max(0.5, min(timeout, deadline - time.monotonic()))

    def started(notebook):  # the kernel is up: its process group, for Ctrl-C
        group = getattr(getattr(client.km, "provisioner", None), "pgid", None)
        if group and group != os.getpgrp():
            _KERNELS[id(client)] = group

    began = []  # a cell has started: the kernel is up

    def before(cell, cell_index):
        if _STOPPING.is_set():
            raise _Stopped
        if time.monotonic() >= deadline:
            raise _OverTime
        began.append(cell_index)

    def after(cell, cell_index, execute_reply):
        if (execute_reply or {}).get("content", {}).get("ename") == OVERRAN:
            result.timed_out = True

    for start in range(KERNEL_STARTS):
        client = _client(nb, sandbox, cell_timeout, started, before, after)
        try:
            # cleanup_kc: shut the kernel down at the end, though the manager is ours
            client.execute(env=sandbox.env, cwd=str(sandbox.folder), cleanup_kc=True,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # the kernel's own chatter stays out
        except _Stopped:
            raise KeyboardInterrupt from None
        except _OverTime:
            result.timed_out = True
            result.errors.append(_over_time(notebook_timeout))
        except (CellTimeoutError, DeadKernelError, TimeoutError, RuntimeError) as error:
            if _STOPPING.is_set():
                raise KeyboardInterrupt from None
            if not began and start + 1 < KERNEL_STARTS:
                continue  # the kernel died starting (two kernels raced for a port): again
            result.timed_out = True
            result.errors.append(_stopped(error, client, sandbox.limits))
        finally:
            _KERNELS.pop(id(client), None)
        break
    _cell_errors(nb, result, sandbox.limits, timeout)
    return _marked_values(nb, mark, result)


def _over_time(notebook_timeout: float) -> dict:
    """The error entry of a notebook stopped at its time limit."""
    limit = f"the notebook's time limit ({notebook_timeout:g} s)"
    return {"cell": None, "error": f"{limit} reached: its other cells not run, its kernel "
            "and the processes it started killed", "limit": limit}


def _stopped(error, client, limits: Limits) -> dict:
    """The error entry of a run stopped by nbclient (a cell's timeout, a dead kernel: of
    which limit, where known)."""
    from nbclient.exceptions import DeadKernelError
    died = _died_of(client, limits) if isinstance(error, DeadKernelError) else None
    return {"cell": None, "error": f"{type(error).__name__}: stopped"
            + (f" ({died})" if died else ""), "limit": died}


def _client(nb, sandbox: Sandbox, cell_timeout, started, before, after):
    """nbclient's runner of the notebook in ``sandbox``'s kernel.  error_on_timeout: after
    a cell's timeout and its interrupt, nbclient takes this as the cell's reply and goes
    on; without it, it waits for the kernel's own reply again, interrupting it each
    timeout, for ever where the kernel ignores SIGINT."""
    from nbclient import NotebookClient
    return NotebookClient(nb, km=_kernel(sandbox), timeout_func=cell_timeout,
                          allow_errors=True, interrupt_on_timeout=True,
                          record_timing=False, on_notebook_start=started,
                          error_on_timeout={"ename": OVERRAN, "evalue": "", "traceback": []},
                          on_cell_start=before, on_cell_executed=after,
                          shutdown_kernel="immediate")


def _cell_errors(nb, result, limits: Limits, timeout: float) -> None:
    """Each error a cell of the student's raised, by the cell's number, into
    ``result.errors`` (an interrupted cell marks the run as timed out)."""
    number = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.metadata.get(OURS):
            continue
        number += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                if output.get("ename") == "KeyboardInterrupt":
                    result.timed_out = True
                result.errors.append({"cell": number, "error": f"{output.get('ename')}: "
                                      f"{str(output.get('evalue'))[:200]}",
                                      "limit": _limit(output, limits, timeout)})


def _marked_values(nb, mark: str, result) -> dict:
    """The graded variables from our last cell's one line marked with ``mark``; {} (and
    ``result.problem`` said) where anything else wrote a marked line."""
    ours = nb.cells[-1].get("outputs", [])
    text = "".join(o.get("text", "") for o in ours if o.get("output_type") == "stream")
    lines = [line for line in text.splitlines() if MARK in line]
    if len(lines) > 1 or (lines and not lines[0].startswith(mark)):
        result.problem = ("the grader's own output was written over (a hook or patched "
                          "print in the notebook): nothing read")
        return {}
    try:
        values = json.loads(lines[0][len(mark):]) if lines else {}
    except ValueError:
        values = {}
    return values if isinstance(values, dict) else {}


def _limit(error: dict, limits: Limits, timeout: float) -> str | None:
    """The sandbox's limit a cell's error shows it reached, in words, or None."""
    name, value = error.get("ename"), str(error.get("evalue"))
    if name == "MemoryError" or "Cannot allocate memory" in value:
        return f"the memory limit ({limits.memory_mb} MB)"
    if "[Errno 27]" in value or "[Errno 28]" in value:  # EFBIG, ENOSPC
        return f"the file size limit ({limits.file_mb} MB)"
    if "[Errno 11]" in value:  # EAGAIN from fork: the process limit
        return f"the process limit ({limits.processes})"
    if name in (OVERRAN, "KeyboardInterrupt"):
        return f"the cell's time limit ({timeout:g} s)"
    return None


def _died_of(client, limits: Limits) -> str | None:
    """The limit a dead kernel's exit status shows it reached (bwrap passes its kernel's
    on), or None where the status names none."""
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    code = process.poll() if process is not None else None
    signum = -code if code is not None and code < 0 else (
        code - 128 if code is not None and code > 128 else None)
    if signum == signal.SIGXCPU:
        return f"the CPU time limit ({limits.cpu_seconds} s)"
    if signum == signal.SIGXFSZ:
        return f"the file size limit ({limits.file_mb} MB)"
    if signum == signal.SIGKILL:
        return f"a kill (the memory limit, {limits.memory_mb} MB, or the notebook's own code)"
    return None


def _kernel(sandbox: Sandbox):
    """A kernel manager that starts its kernel inside ``sandbox``, talking over Unix
    sockets in the sandbox's folder (no network needed)."""
    from jupyter_client.manager import AsyncKernelManager  # nbclient's own kind: its waits

    class Sandboxed(AsyncKernelManager):  # never block the loop that runs the cell timeouts
        def format_kernel_cmd(self, extra_arguments=None):
            return sandbox.wrap(super().format_kernel_cmd(extra_arguments))

        def write_connection_file(self, **kw):
            super().write_connection_file(**kw)
            sandbox.give(Path(self.connection_file))

    manager = Sandboxed(kernel_name="python3", transport="ipc",
                        connection_file=str(sandbox.folder / "kernel.json"))
    # a cell's timeout interrupts by a message the kernel acts on itself: a signal to the
    # process group would reach the jail's own bwrap first, and end it
    manager.kernel_spec.interrupt_mode = "message"
    return manager


def _ours(source: str):
    """A cell of the grader's (numbered with no cell of the notebook's)."""
    import nbformat
    return nbformat.v4.new_code_cell(source, metadata={OURS: True})


def _reader(names, mark: str = MARK, first: str = "") -> str:
    """Our last cell: ``first``, then the graded variables as JSON on one line marked
    ``mark``."""
    return "\n".join([
        "import json as _derive_json, numpy as _derive_np",
        first,
        "def _derive_read(value):",
        "    if isinstance(value, dict):",
        "        return {str(k): _derive_read(v) for k, v in value.items()}",
        "    if isinstance(value, str):",
        "        return value",
        "    if isinstance(value, (list, tuple)):",
        "        return [None if v is None else _derive_read(v) for v in value]",
        "    return _derive_np.asarray(value, dtype=float).tolist()",
        "_derive_out = {}",
        f"for _derive_name in {list(names)!r}:",
        "    if _derive_name in globals():",
        "        try:",
        "            _derive_out[_derive_name] = _derive_read(globals()[_derive_name])",
        "        except Exception:",
        "            _derive_out[_derive_name] = 'unreadable'",
        f"print({mark!r} + _derive_json.dumps(_derive_out))"])
