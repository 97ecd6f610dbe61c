"""Contain a student's notebook while it is graded (issue 26).

Each notebook runs in a fresh kernel started inside a :class:`Sandbox`:

* a private temporary folder holding only the copy of the notebook, with HOME and
  TMPDIR inside it, and an environment of its own (none of the teacher's variables);
* Linux resource limits on the kernel and every process it starts: memory (address
  space), CPU seconds, file size and processes;
* where derive runs as root, a user id of its own, picked at random for this notebook:
  the process limit then holds (root ignores it), the teacher's files are protected by
  their permissions, and every process left under that id afterwards is killed, so a
  process that left the kernel's session dies too;
* where bubblewrap's ``bwrap`` works (``.ci/run`` installs it), a jail: the system
  read-only, the home folders, the teacher's working folder and the notebooks' folder
  hidden behind empty folders, /tmp private, no network (only a loopback of its own),
  its own process namespace (everything in it dies with the kernel), and at most
  ``file_mb`` written in all.

:meth:`Sandbox.protections` says which of these applied; the grade carries it.  The
kernel talks to derive over Unix sockets in the private folder (Jupyter's ``ipc``
transport), which need no network.

>>> limits = Limits(memory_mb=1000)
>>> limits.memory_mb, limits.processes, limits.file_mb
(1000, 64, 200)

Cost: a bwrap probe once per process (a few milliseconds), then a folder, a user id
and two process starts' wrapping per notebook; nothing that grows with the notebook.
"""

from __future__ import annotations

import os
import secrets
import shutil
import site
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from derive.base.errors import DeriveError
from derive.base.limits import GRADE_FILE_MB as FILE_MB
from derive.base.limits import GRADE_MEMORY_MB as MEMORY_MB
from derive.base.limits import GRADE_PROCESSES as PROCESSES

UID_RANGE = (200_000, 2_000_000_000)
"""User ids picked for notebooks: above any account's, one per notebook."""

_LIMIT = """\
import os, resource, sys
a = sys.argv
for name, value in zip(("AS", "CPU", "FSIZE", "NPROC"), a[1:5]):
    value = int(value)
    resource.setrlimit(getattr(resource, "RLIMIT_" + name), (value, value))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
uid = int(a[5])
if uid >= 0:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
os.execv(a[6], a[6:])
"""
"""Run by the sandbox's Python before the kernel: set the limits, take the user id,
become the kernel (arguments: address space, CPU s, file size, processes, user id or
-1, then the kernel's command)."""


@dataclass(frozen=True)
class Limits:
    """What one notebook's kernel may use: ``memory_mb`` of address space per process,
    ``cpu_seconds`` of CPU per process, files of at most ``file_mb``, ``processes`` at
    once, and the jail (one of :data:`derive.base.limits.JAILS`)."""

    memory_mb: int = MEMORY_MB
    cpu_seconds: int = 300
    file_mb: int = FILE_MB
    processes: int = PROCESSES
    jail: str = "auto"


@lru_cache(maxsize=1)
def bwrap_works() -> str:
    """'' when ``bwrap`` is installed and can build a jail here, else why not."""
    program = shutil.which("bwrap")
    if program is None:
        return "bubblewrap is not installed"
    try:
        done = subprocess.run([program, "--ro-bind", "/", "/", "--unshare-net",
                               "--unshare-pid", "--die-with-parent", "true"],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not run ({error})"
    if done.returncode:
        return f"bwrap cannot build a jail here ({done.stderr.decode(errors='replace').strip()[:120]})"
    return ""


class Sandbox:
    """A private folder and the wrapping of one kernel (see the module docstring).
    Use as a context manager: leaving it kills what is left of the notebook's
    processes and removes the folder."""

    def __init__(self, limits: Limits, hide=()):
        self.limits = limits
        self.why_no_jail = bwrap_works() if limits.jail != "off" else "--jail off"
        if limits.jail == "bwrap" and self.why_no_jail:
            raise DeriveError(f"--jail bwrap: {self.why_no_jail}")
        self.jailed = not self.why_no_jail
        self.folder = Path(tempfile.mkdtemp(prefix="derive-grade-"))
        self.home = self.folder / "home"
        self.tmp = self.folder / "tmp"
        self.uid = (secrets.randbelow(UID_RANGE[1] - UID_RANGE[0]) + UID_RANGE[0]
                    if os.geteuid() == 0 and (self.jailed or not _python_private())
                    else -1)
        for made in (self.home, self.tmp):
            made.mkdir()
        if self.uid >= 0:
            for path in (self.folder, self.home, self.tmp):
                os.chown(path, self.uid, self.uid)
        self.hide = [Path(p) for p in hide]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def give(self, path: Path) -> None:
        """Make a file derive wrote in the folder the notebook's own."""
        if self.uid >= 0:
            os.chown(path, self.uid, self.uid)

    @property
    def env(self) -> dict:
        """The kernel's whole environment: nothing of the teacher's."""
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
                "TMPDIR": str(self.tmp), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
                "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                "PYTHONDONTWRITEBYTECODE": "1"}

    def wrap(self, command: list[str]) -> list[str]:
        """``command`` (the kernel's) run inside the jail, with the limits, as the
        notebook's user id."""
        limits = self.limits
        inner = [sys.executable, "-S", "-c", _LIMIT, str(limits.memory_mb << 20),
                 str(limits.cpu_seconds), str(limits.file_mb << 20), str(limits.processes),
                 str(self.uid), *command]
        return self._jail() + inner if self.jailed else inner

    def _jail(self) -> list[str]:
        size = str(self.limits.file_mb << 20)
        args = [shutil.which("bwrap"), "--ro-bind", "/", "/", "--dev", "/dev",
                "--proc", "/proc", "--unshare-net", "--unshare-pid", "--unshare-ipc",
                "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent"]
        hidden = [Path("/home"), Path("/root"), Path("/tmp"), Path("/var/tmp"), Path("/mnt"),
                  Path("/media"), Path("/srv"), Path("/run"), Path.home(), Path.cwd(),
                  *self.hide]
        covered = set()
        for path in hidden:
            path = path.resolve()
            if path.is_dir() and path != Path("/") and path not in covered:
                covered.add(path)
                args += ["--size", size, "--tmpfs", str(path)]
        args += ["--size", size, "--tmpfs", "/dev/shm"]
        made = set()
        for path in _python_folders():  # Python itself, where it sits in a hidden folder
            under = [h for h in covered if path.is_relative_to(h)]
            if under:
                for parent in reversed(path.parents):  # open to the notebook's user id
                    if parent.is_relative_to(under[0]) and parent != under[0] \
                            and parent not in made:
                        made.add(parent)
                        args += ["--perms", "0755", "--dir", str(parent)]
                args += ["--ro-bind", str(path), str(path)]
        args += ["--bind", str(self.folder), str(self.folder)]
        for inside in (self.home, self.tmp):  # written in RAM, at most file_mb each
            args += ["--size", size, "--perms", "1777", "--tmpfs", str(inside)]
        # its parent inside is the jail's init: the kernel would take it for an orphan's;
        # --die-with-parent ends it with derive instead
        return args + ["--unsetenv", "JPY_PARENT_PID", "--chdir", str(self.folder), "--"]

    def protections(self) -> list[str]:
        """What contained this notebook, one phrase each (the grade's ``protections``)."""
        limits = self.limits
        said = ["a private folder (HOME and TMPDIR in it, none of the teacher's "
                "environment)", f"memory {limits.memory_mb} MB per process",
                f"CPU {limits.cpu_seconds} s per process", f"files {limits.file_mb} MB"]
        if self.uid >= 0:
            said += [f"at most {limits.processes} processes", "a user id of its own (the "
                     "teacher's files protected by their permissions; its processes all "
                     "killed afterwards)"]
        elif os.geteuid() == 0:
            said.append("no process limit and no user id of its own (derive runs as root, "
                        "which the process limit does not bind, and this Python sits in a "
                        "folder other user ids may not enter)")
        else:
            said.append(f"at most {limits.processes} processes of the teacher's user id "
                        "(derive does not run as root: no user id of its own)")
        if self.jailed:
            said.append("a bwrap jail (system read-only, homes, /tmp and the teacher's "
                        "folders hidden, no network, its own process namespace)")
        else:
            said.append(f"no jail ({self.why_no_jail}): the notebook sees the network and "
                        "every file its user id may read")
        return said

    def close(self) -> None:
        """Kill every process left under the notebook's user id; remove the folder."""
        if self.uid >= 0:
            try:
                subprocess.run([shutil.which("kill") or "/bin/kill", "-KILL", "-1"],
                               user=self.uid, group=self.uid, extra_groups=[],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=30)
            except (OSError, subprocess.SubprocessError):
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


@lru_cache(maxsize=1)
def _python_private() -> bool:
    """Whether this Python cannot be run by another user id (it sits in a folder such as
    /root that only root may enter): then, outside a jail, the notebook keeps root's."""
    try:
        return subprocess.run([sys.executable, "-S", "-c", "0"], user=UID_RANGE[0] - 1,
                              group=UID_RANGE[0] - 1, extra_groups=[], timeout=30,
                              capture_output=True).returncode != 0
    except (OSError, subprocess.SubprocessError):
        return True


def _python_folders() -> list[Path]:
    """Where this Python and its packages live (shown read-only inside the jail)."""
    found = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
             Path(sys.executable).resolve().parent}
    for folder in [*site.getsitepackages(), site.getusersitepackages()]:
        found.add(Path(folder))
    return sorted(p.resolve() for p in found if p.exists())

