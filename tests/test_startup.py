"""A quick start: what each command imports (the clock is for `derive bench`, not tests)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("sympy", "numpy", "matplotlib", "jinja2")


def imported_after(code: str) -> dict:
    """Which heavy modules a fresh interpreter holds after running ``code``."""
    probe = (f"import sys, io, contextlib\n{code}\n"
             f"print(__import__('json').dumps({{m: m in sys.modules for m in {HEAVY!r}}}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


QUIET = "with contextlib.redirect_stdout(io.StringIO()):\n    code = main({argv!r})\n"


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["check", "--help"]])
def test_version_and_help_import_nothing_heavy(argv):
    loaded = imported_after("from derive.cli import main\n" + QUIET.format(argv=argv))
    assert not any(loaded.values()), loaded


def test_import_derive_is_cheap_and_names_load_on_use():
    assert not any(imported_after("import derive").values())
    loaded = imported_after("import derive\nassert derive.model('toy').name == 'toy'")
    assert loaded["sympy"] and not loaded["matplotlib"] and not loaded["jinja2"]


def test_trace_imports_nothing_of_reports_or_charts():
    loaded = imported_after("from derive.cli import main\n" + QUIET.format(argv=["trace"]))
    assert loaded == {"sympy": True, "numpy": True, "matplotlib": False, "jinja2": False}


def test_every_public_name_resolves():
    import derive
    for name in derive.__all__:
        assert getattr(derive, name) is not None, name
    with pytest.raises(AttributeError):
        derive.no_such_name
