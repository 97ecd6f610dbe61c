"""`derive report` from a wheel installed in a fresh virtual environment."""

import subprocess
import sys
from pathlib import Path

from conftest import fresh_venv

ROOT = Path(__file__).resolve().parent.parent


def test_report_runs_from_a_wheel_in_a_fresh_venv(tmp_path):
    """The wheel carries everything a report needs (templates, package data). Its
    dependencies come from this interpreter's packages (a venv that sees them), so the
    test measures the wheel, not a download of SymPy and matplotlib."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(ROOT)], check=True, capture_output=True)
    [wheel] = dist.glob("derive-*.whl")
    env_dir = fresh_venv(tmp_path / "venv")
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps",
                              "--ignore-installed", str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    done = subprocess.run([str(env_dir / "bin" / "derive"), "report", "--format", "html,tex",
                           "--depth", "1:4"], cwd=work, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in ("index.html", "report.tex", "data.json"):
        assert (work / "reports" / "toy" / name).stat().st_size > 1000
    where = subprocess.run([str(python), "-c", "import derive; print(derive.__file__)"],
                           cwd=work, capture_output=True, text=True).stdout
    assert str(env_dir) in where  # the wheel's copy, not the checkout
