"""Nothing lost, nothing surprising: output safety and command-line conduct, through the
CLI as a user runs it."""

import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from conftest import call, ctrl_c_reaches_children, fresh_venv
from derive.models import families
from derive.base.writing import MARKER

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["--depth", "1:2", "--format", "html", "--budget", "0.001"]
"""A quick report: these tests are about files and folders, so every method predicted
over a millisecond (sympy.diff, lambdify, most of the sweep) is skipped."""


cli = call
"""derive in this process (conftest.call); the process tests below start their own."""


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("derive: error: ")


# ---- the data-loss cases first ------------------------------------------------------


def test_a_folder_of_the_users_files_is_refused_and_kept_byte_for_byte(tmp_path):
    important = tmp_path / "important"
    (important / "sub").mkdir(parents=True)
    (important / "thesis.tex").write_text("\\chapter{Mine}")
    (important / "sub" / "data.csv").write_text("1,2,3\n")
    before = snapshot(important)
    code, out, err = cli("report", *QUICK, "--out", str(important))
    assert code == 2 and one_line(err) and out == ""
    assert str(important) in err and "--force" in err
    assert snapshot(important) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["important"]


@pytest.mark.parametrize("out", [".", "..", "$PWD", "/", "~"])
@pytest.mark.parametrize("force", [False, True])
def test_the_working_folder_its_parents_home_and_root_are_never_replaced(tmp_path, out, force):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    target = {"$PWD": str(work), "~": str(Path.home())}.get(out, out)
    code, _, err = cli("report", *QUICK, "--out", target, *(["--force"] * force), cwd=work)
    assert code == 2 and one_line(err), err
    assert (work / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt"]


def test_a_regular_file_named_by_out_is_untouched(tmp_path):
    target = tmp_path / "existing_file"
    target.write_text("keep me")
    code, _, err = cli("report", *QUICK, "--out", str(target))
    assert code == 2 and one_line(err) and "is a file" in err
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing_file"]


def test_force_replaces_a_folder_that_is_not_protected(tmp_path):
    target = tmp_path / "old"
    target.mkdir()
    (target / "stale.txt").write_text("x")
    code, _, err = cli("report", *QUICK, "--out", str(target), "--force")
    assert code == 0, err
    assert (target / MARKER).is_file() and not (target / "stale.txt").exists()


def test_a_report_folder_derive_wrote_is_replaced_without_force(tmp_path):
    target = tmp_path / "r"
    assert cli("report", *QUICK, "--out", str(target))[0] == 0
    code, _, err = cli("report", *QUICK, "--out", str(target), "--timestamp", "again")
    assert code == 0, err
    assert json.loads((target / "data.json").read_text())["reproduce"]["timestamp"] == "again"


def test_code_into_a_folder_is_refused(tmp_path):
    code, _, err = cli("code", "-o", str(tmp_path))
    assert code == 2 and one_line(err) and "is a folder" in err


def test_written_files_take_the_umask_and_an_existing_file_keeps_its_mode(tmp_path):
    def code_to(path, umask):
        return subprocess.run([sys.executable, "-c", f"import os, sys; os.umask({umask}); "
                               "from derive.cli import main; sys.exit(main(sys.argv[1:]))",
                               "code", "-o", str(path)], capture_output=True).returncode

    assert code_to(tmp_path / "new.py", 0o022) == 0
    assert stat.S_IMODE((tmp_path / "new.py").stat().st_mode) == 0o644
    assert code_to(tmp_path / "private.py", 0o077) == 0
    assert stat.S_IMODE((tmp_path / "private.py").stat().st_mode) == 0o600
    existing = tmp_path / "shared.py"
    existing.write_text("old")
    existing.chmod(0o640)
    assert code_to(existing, 0o022) == 0
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640 and "def loss_and_gradient" in \
        existing.read_text()


def test_default_folders_are_distinct_per_model(tmp_path):
    model_file = tmp_path / "toy.toml"
    shutil.copy(ROOT / "examples" / "toy.toml", model_file)
    runs = {
        "reports/toy": ["toy"],
        "reports/file-toy": [str(model_file)],
        "reports/logistic_3": ["logistic:3"],
        "reports/expr-mine": ["--expr", "w*x", "--param", "w=1", "--input", "x=2",
                              "--title", "mine"],
        "reports/" + families.output_name(None, "w*x").split("/")[1]:
            ["--expr", "w*x", "--param", "w=1", "--input", "x=2"],
    }
    for folder, argv in runs.items():
        code, out, err = cli("report", *argv, *QUICK, cwd=tmp_path)
        assert code == 0, err
        assert out.splitlines()[0].startswith(folder + "/"), (folder, out)
    assert len({p.name for p in (tmp_path / "reports").iterdir()}) == len(runs)


# ---- the README's commands leave the clone clean ------------------------------------


def test_the_main_job_in_a_fresh_clone_leaves_git_status_empty(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    venv = fresh_venv(tmp_path / "venv")
    readme = (clone / "README.md").read_text()
    command = re.search(r"^(pip install -e \. && derive report)\b", readme, re.M).group(1)
    done = subprocess.run(["bash", "-c", f". {venv}/bin/activate && {command}"], cwd=clone,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (clone / "reports" / "toy" / "index.html").is_file()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                            cwd=clone, capture_output=True, text=True, check=True).stdout
    assert status == ""


# ---- interrupted and concurrent runs ----------------------------------------------------


def test_a_killed_report_leaves_no_staging_folder_after_the_next_run(tmp_path):
    out = tmp_path / "toy"
    assert cli("report", "--out", str(out), *QUICK)[0] == 0
    process = subprocess.Popen([sys.executable, "-m", "derive.cli", "report", "--out", str(out),
                                "--depth", "1:2", "--format", "html,tex", "--budget", "0.001"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".toy.new.")
                                             for p in tmp_path.iterdir()):
        time.sleep(0.02)  # wait until it is writing its new report
    process.send_signal(signal.SIGKILL)
    process.wait()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert any(name.startswith(".toy.new.") for name in left), left  # the kill left its staging
    mine = tmp_path / ".toy.new.mine"  # named like a staging folder, but the user's
    mine.mkdir()
    (mine / "index.html").write_text("mine")
    code, _, err = cli("report", "--out", str(out), *QUICK)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".toy.new.mine", "toy"]
    assert (mine / "index.html").read_text() == "mine"


def test_two_reports_into_one_folder_give_one_whole_report_and_one_clear_failure(tmp_path):
    """A second run starts while the first is writing its report (its staging folder is
    there): the second fails at once with one line, the first writes a whole report."""
    out = tmp_path / "shared"
    first = subprocess.Popen([sys.executable, "-m", "derive.cli", "report", "--out", str(out),
                              *QUICK, "--timestamp", "first"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and first.poll() is None and \
            not any(p.name.startswith(".shared.new.") for p in tmp_path.iterdir()):
        time.sleep(0.02)  # until the first is writing
    code, out_text, failure = cli("report", "--out", str(out), *QUICK, "--timestamp", "second")
    assert first.wait() == 0, first.communicate()[1]
    assert code == 2 and out_text == "", failure
    assert one_line(failure) and "another derive run is writing" in failure
    data = json.loads((out / "data.json").read_text())
    assert data["reproduce"]["timestamp"] == "first"
    assert {"data.json", "index.html", MARKER} <= {p.name for p in out.iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared"]


# ---- missing tools, text reaching LaTeX ---------------------------------------------


def without_pdflatex() -> dict:
    return {**os.environ, "PATH": "/nonexistent"}


def test_pdf_without_pdflatex_is_refused_naming_the_packages(tmp_path):
    code, _, err = cli("report", "--format", "pdf", "--out", str(tmp_path / "r"),
                       env=without_pdflatex())
    assert code == 2 and one_line(err) and "texlive-latex-base" in err
    assert not (tmp_path / "r").exists()


def test_default_formats_without_pdflatex_skip_the_pdf_and_say_so(tmp_path):
    code, out, err = cli("report", "--depth", "1:2", "--out", str(tmp_path / "r"),
                         env=without_pdflatex())
    assert code == 0
    assert err.count("\n") == 1 and "PDF skipped" in err and "texlive-latex-base" in err
    names = {p.name for p in (tmp_path / "r").iterdir()}
    assert "report.tex" in names and "report.pdf" not in names


@pytest.mark.parametrize("argv", [
    ["--timestamp", "2026\x07"], ["toy\u3000"], ["toy\x01"], ["chain:tanh\u200b"],
    ["--expr", "w", "--param", "w=1", "--title", "title\x1b"],
], ids=["control in timestamp", "ideographic space", "control character", "zero-width space",
        "escape in title"])
def test_text_pdflatex_cannot_take_is_refused_before_any_work(tmp_path, argv):
    code, _, err = cli("report", *argv, "--out", str(tmp_path / "r"))
    assert code == 2 and one_line(err)
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(shutil.which("pdflatex") is None,
                    reason="pdflatex not installed (apt-get install texlive-latex-base "
                           "texlive-latex-recommended); .ci/run installs it")
def test_a_snowman_path_and_a_symbol_named_xscr_typeset(tmp_path):
    out = tmp_path / "r\u2603"
    code, _, err = cli("report", "--expr", "w*xscr + xhat", "--param", "w=1", "--input",
                       "xscr=2", "--input", "xhat=1", "--depth", "1:2", "--format", "tex,pdf",
                       "--out", str(out))
    assert code == 0, err
    tex = (out / "report.tex").read_text()
    assert r"\mathrm{xscr}" in tex and "[U+2603]" in tex and r"\mathscr" not in tex
    assert (out / "report.pdf").stat().st_size > 10_000


# ---- pipes and signals --------------------------------------------------------------


@pytest.mark.parametrize("command", ["trace chain:tanh*512", "trace chain:tanh*512 --json",
                                     "sizes tanh --depth 1:10 --csv"])
def test_a_closed_pipe_ends_quietly(command):
    done = subprocess.run(["bash", "-c", f"{sys.executable} -m derive.cli {command} | head -1;"
                           " echo status=${PIPESTATUS[0]}"], capture_output=True, text=True)
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert done.stderr == ""
    assert re.search(r"status=(0|141)$", done.stdout.strip())


def test_ctrl_c_prints_one_line_and_exits_130():
    with ctrl_c_reaches_children():
        process = subprocess.Popen([sys.executable, "-m", "derive.cli", "sizes", "sin,exp,cos",
                                    "--depth", "1:400"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err == "derive: interrupted\n"


# ---- reproducible commands ----------------------------------------------------------


def normalised(data: dict) -> dict:
    data = dict(data)
    data["reproduce"] = {}
    for growth in data["growth"]:
        for row in growth["rows"]:
            for key in [k for k in row if k.startswith("seconds")]:
                row[key] = None
        growth["fits"] = {k: v for k, v in growth["fits"].items() if not k.startswith("seconds")}
        growth["words"] = {k: v for k, v in growth["words"].items()
                           if not k.startswith("seconds")}
    return data


def test_the_reproduce_line_pasted_into_bash_reruns_the_report(tmp_path):
    argv = ["report", "--expr", "b1 + w1*tanh(b0 + w0*x)", "--param", "b0=0.5", "--param",
            "w0=-1", "--param", "b1=0.1", "--param", "w1=2", "--input", "x=2.3", "--target",
            "y=2.0", "--title", "it's mine", "--depth", "1:2", "--format", "html,tex",
            "--out", str(tmp_path / "first report")]
    code, _, err = cli(*argv)
    assert code == 0, err
    first = json.loads((tmp_path / "first report" / "data.json").read_text())
    command = first["reproduce"]["command"]
    assert command.startswith("derive report --expr 'b1 + w1*tanh(b0 + w0*x)'")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "derive").write_text(f"#!/bin/sh\nexec {sys.executable} -m derive.cli \"$@\"\n")
    (bindir / "derive").chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    again = json.loads((tmp_path / "first report" / "data.json").read_text())
    assert normalised(again) == normalised(first)
    tex = (tmp_path / "first report" / "report.tex").read_text()
    assert r"-{}-{}expr \textquotesingle{}b1 + w1*tanh" in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None or shutil.which("pdftotext") is None,
                    reason="pdflatex or pdftotext missing (apt-get install texlive-latex-base "
                           "texlive-latex-recommended poppler-utils); .ci/run installs them")
def test_the_pdf_prints_the_command_with_double_hyphens(tmp_path):
    code, _, err = cli("report", "--depth", "1:2", "--format", "pdf", "--out",
                       str(tmp_path / "r"))
    assert code == 0, err
    text = subprocess.run(["pdftotext", str(tmp_path / "r" / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "--depth 1:2 --format pdf --out" in text and "\u2013depth" not in text


# ---- arguments as people type them --------------------------------------------------


def test_values_that_start_with_a_minus(run):
    code, out, err = run("check", "--expr", "-x", "--param", "x=0.3", "--json")
    assert code == 0, err and json.loads(out)["agree"] is True
    code, out, err = run("trace", "--expr", "w*x", "--param", "w=-1e-3", "--input", "x=2",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["parameters"] == {"w": -0.001}


def test_version_and_debug_anywhere(run):
    from derive import __version__
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"derive {__version__}"
    code, _, err = run("trace", "toy", "--debug")
    assert code == 0 and err == ""


def test_the_internal_error_hint_says_how_to_use_debug(run, monkeypatch):
    import derive.present.steps  # the command imports trace from here when it runs
    monkeypatch.setattr(derive.present.steps, "trace", lambda m: 1 / 0)
    code, _, err = run("trace")
    assert code == 3 and "add --debug anywhere on the command line" in err
    with pytest.raises(ZeroDivisionError):
        run("trace", "--debug")


# ---- validate first, then work -------------------------------------------------------


def test_a_sweep_over_the_limits_exits_2_before_building_anything(run, monkeypatch):
    built = []
    monkeypatch.setattr(families, "mlp", lambda *a, **k: built.append(a) or 1 / 0)
    code, out, err = run("sizes", "mlp:8", "--depth", "1:64")
    assert code == 2 and out == "" and err.count("\n") == 1 and "at most 64 layers" in err
    assert built == []


def test_an_implied_sweep_stops_at_its_largest_member_and_says_so(tmp_path):
    code, out, err = cli("report", "mlp:1-1-1", "--depth", "61:66", "--format", "html",
                         "--out", str(tmp_path / "r"), "--budget", "10")
    assert code == 0, err
    data = json.loads((tmp_path / "r" / "data.json").read_text())
    depth = data["growth"][0]
    assert [r["depth"] for r in depth["rows"]] == [61, 62, 63]
    assert "stops at depth 63" in depth["stopped"] and "stops at depth 63" in err
    # the width sweep's 61-layer members: a 10 s budget affords one (a prediction from
    # sizes, the same on any machine: about 6.5 s, then 6.7 s; the depth sweep's three
    # about 3.3 s each), and says so
    width = data["growth"][1]
    assert [r["depth"] for r in width["rows"]] == [61]
    assert width["stopped"].startswith("depth 62: about ") and "10 s budget" in err


def test_batch_above_its_limit_is_refused_at_once(run):
    code, _, err = run("check", "--batch", "99999999999")
    assert code == 2 and err.count("\n") == 1 and "at most" in err


# ---- progress ------------------------------------------------------------------------


def on_a_terminal(*argv, env=None):
    """derive with stderr on a 24x100 pseudo-terminal: (process, the terminal's end)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with ctrl_c_reaches_children():
        process = subprocess.Popen([sys.executable, "-m", "derive.cli", *argv],
                                   stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    return process, master


def read_to_the_end(master, screen=b"") -> bytes:
    """Everything the terminal still receives, until the process closes it."""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        screen += data
    os.close(master)
    return screen


def run_on_a_terminal(*argv, env=None) -> tuple[int, str]:
    """Run derive with stderr on a pseudo-terminal; (exit code, what the terminal got)."""
    process, master = on_a_terminal(*argv, env=env)
    screen = read_to_the_end(master)
    process.wait()
    return process.returncode, screen.decode(errors="replace")


def test_progress_shows_on_a_terminal_and_nowhere_else():
    # the bar waits a second before it shows; tqdm's TQDM_DELAY=0 shows it at once,
    # so that the test does not depend on how quick this machine is
    argv, at_once = ["sizes", "sin,exp,cos", "--depth", "1:14"], {**os.environ, "TQDM_DELAY": "0"}
    code, screen = run_on_a_terminal(*argv, env=at_once)
    assert code == 0 and "sizes sin,exp,cos" in screen and "it/s" in screen
    code, screen = run_on_a_terminal(*argv, "--quiet", env=at_once)
    assert code == 0 and screen == ""
    code, out, err = cli(*argv)
    assert code == 0 and err == ""


def test_check_of_many_parameters_prints_a_summary_and_all_on_request(run):
    # a 5 s budget: the symbolic derivatives by generated code, not a 30 s lambdify
    code, out, _ = run("check", "mlp:1-8-8-1", "--budget", "5")
    assert code == 0
    assert "97 parameters: 97 agree, 0 disagree" in out and "worst relative error" in out
    assert "Omega1[3,5]" not in out
    code, out, _ = run("check", "mlp:1-8-8-1", "--all", "--budget", "5")
    assert code == 0 and "Omega1[3,5]" in out and len(out.splitlines()) > 97


def test_ctrl_c_on_a_terminal_clears_the_bar_before_its_line():
    process, master = on_a_terminal("sizes", "sin,exp,cos", "--depth", "1:400")
    screen, deadline = b"", time.time() + 60
    while b"it/s" not in screen and b"s/it" not in screen and time.time() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            screen += os.read(master, 4096)
    process.send_signal(signal.SIGINT)
    screen = read_to_the_end(master, screen)
    process.wait()
    assert process.returncode == 130
    last = screen.decode(errors="replace").replace("\r\n", "\n").split("\n")[-2]
    assert last.split("\r")[-1].lstrip("\x1b[A") == "derive: interrupted"


@pytest.mark.skipif(shutil.which("pdflatex") is None,
                    reason="pdflatex not installed (apt-get install texlive-latex-base "
                           "texlive-latex-recommended); .ci/run installs it")
def test_a_pdflatex_failure_is_one_line_with_its_log_and_exit_1(run, tmp_path, monkeypatch):
    import derive.present.report
    monkeypatch.setattr(derive.present.report, "render_tex",
                        lambda data, pages: "\\documentclass{article}\\begin{document}"
                                            "\\nosuchcommand\\end{document}\n")
    code, _, err = run("report", "--depth", "1:2", "--format", "pdf", "--out",
                       str(tmp_path / "r"))
    assert code == 1 and one_line(err) and "pdflatex failed" in err
    log = Path(re.search(r"\(log: (\S+)\)", err).group(1))
    assert "Undefined control sequence" in log.read_text()
    assert not (tmp_path / "r").exists()
