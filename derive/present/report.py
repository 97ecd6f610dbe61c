"""Reports in three layers: gather, filters, render.

* :func:`gather` computes every number once, into plain data: numbers, names
  and formulas (SymPy expressions, written to ``data.json`` as LaTeX);
* the filters format: numbers (:func:`number`, :func:`tex_number`), formulas
  through SymPy's printers (``mathml`` for HTML, ``latex`` for TeX), text
  escaping (:func:`tex_escape`);
* :func:`write_report` renders the templates in ``templates/`` (which only
  loop, branch and format, reading :mod:`derive.present.policy` for columns, caps
  and names), draws the charts, runs pdflatex, and swaps the directory in
  whole, so a failed run leaves an earlier report intact.

The timestamp is passed in by the caller, so two runs on the same inputs give
identical files apart from it.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import importlib.resources
import json
import warnings
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import jinja2
import numpy as np
import sympy

from derive.present import policy
from derive.present.charts import pdf_pages, render_all
from derive.readings.costs import BUDGET
from derive.base.errors import DeriveError
from derive.models.families import load, output_name, sweeps
from derive.checks.growth import SIMPLER_BY, TIMING_R2, parse_depths
from derive.base.writing import check_target, locked, replace_directory
from derive.present.picture import graph
from derive.present.drawing import Picture, draw
from derive.present.player import frames, width_px
from derive.present.notation import Adjoint, to_latex
from derive.present.mathml import mathml, mathml_flow
from derive.present.steps import trace
from derive.base.table import brief
from derive.present.gather import gather, to_json

FORMATS = ("html", "tex", "pdf")
CRITERION = {"simpler_by": SIMPLER_BY, "timing_r2": TIMING_R2}
"""How a growth law is chosen, as both templates state it."""


# ---- gathering ---------------------------------------------------------------


# ---- filters -------------------------------------------------------------------


def math_html(expr) -> str:
    """A formula as inline presentation MathML (a tree walk; small formulas only)."""
    return "" if expr is None else mathml(expr)


_POWER = re.compile(r"n\^(−?[0-9.]+)")


def law_html(words: str):
    """A law's words for HTML: n^2.44 as n<sup>2.44</sup>."""
    escaped = jinja2.filters.escape(words)
    return jinja2.filters.Markup(_POWER.sub(r"n<sup>\1</sup>", str(escaped)))


def law_tex(words: str) -> str:
    """A law's words for LaTeX: n^2.44 as $n^{2.44}$, R² as $R^2$, the rest escaped."""
    parts = _POWER.split(words)
    text = "".join(tex_escape(p) if i % 2 == 0 else f"$n^{{{p}}}$" for i, p in enumerate(parts))
    return text.replace("R²", "$R^2$").replace("−", "$-$").replace("·", "$\\cdot$")


def math_tex(expr) -> str:
    return "" if expr is None else to_latex(expr)


# ---- rendering -----------------------------------------------------------------


def _templates():
    return importlib.resources.files("derive.templates")


@functools.cache
def html_environment() -> jinja2.Environment:
    """HTML: autoescape switched on explicitly for the extensions in use.  One per
    process: it keeps each template compiled (0.3 s for the report's) for the next
    report, notebook page or grade."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2", "j2"),
                                            default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda value, digits=3: number(value, digits).replace("-", "−")
    env.filters["short"] = brief
    env.filters["mathml"] = lambda expr: jinja2.filters.Markup(math_html(expr))
    env.filters["flow"] = lambda expr, lhs=None: jinja2.filters.Markup(
        mathml_flow(expr, lhs=sympy.Symbol(lhs) if isinstance(lhs, str) else lhs))
    env.filters["derivative"] = lambda symbol: Adjoint(str(symbol))
    env.filters["symbol"] = sympy.Symbol
    env.filters["law"] = law_html
    env.globals["policy"] = policy
    env.globals["criterion"] = CRITERION
    return env


@functools.cache
def tex_environment() -> jinja2.Environment:
    """LaTeX: delimiters that never clash with TeX braces, and an escaping filter; one
    per process, as :func:`html_environment`."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        line_statement_prefix="%%", line_comment_prefix="%#",
        autoescape=False, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)
    env.filters["tex"] = tex_escape
    env.filters["verbatim"] = tex_verbatim
    env.filters["num"] = tex_number
    env.filters["latex"] = math_tex
    env.filters["breakable"] = breakable
    env.filters["law"] = law_tex
    env.globals["policy"] = policy
    env.globals["criterion"] = CRITERION
    return env


def tex_number(value, digits: int = 3) -> str:
    """A number for LaTeX, with a true minus sign; a vector as a column (pmatrix), at
    most 12 entries."""
    if not isinstance(value, list):
        return number(value, digits).replace("-", "−")
    rows = [number(v, digits) for v in value[:12]] + [r"\vdots"] * (len(value) > 12)
    return r"$\begin{pmatrix}" + r" \\ ".join(rows) + r"\end{pmatrix}$"


def breakable(latex: str) -> str:
    r"""Inline LaTeX that may break across lines: no \left/\right groups (the printer
    already writes its dot between factors)."""
    return re.sub(r"\\(left|right)(?![a-zA-Z])", "", latex)


def _load_template(name: str) -> str:
    return _templates().joinpath(name).read_text(encoding="utf-8")


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                "#": r"\#", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}"}


def tex_escape(text) -> str:
    """Text safe to put into LaTeX as text: every special character escaped, and
    every character pdflatex cannot typeset (☃, a control character) shown as
    its code point, [U+2603]."""
    return "".join(_TEX_SPECIAL.get(c, c) if _typesets(c) else f"[U+{ord(c):04X}]"
                   for c in str(text))


def _typesets(char: str) -> bool:
    """Whether pdflatex (utf8 input, T1 fonts) typesets the character as it is."""
    return " " <= char <= "~" or "\u00a1" <= char <= "\u00ff" or char in "–—‘’“”…•−"


_VERBATIM = {"-": "-{}", "'": r"\textquotesingle{}", "`": r"\textasciigrave{}",
             '"': r"\textquotedbl{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def tex_verbatim(text) -> str:
    """A command line for \\texttt: escaped as :func:`tex_escape`, and with no
    ligatures or curly quotes (-- stays two hyphens, ' stays straight), so that
    what the PDF shows can be typed back into a shell."""
    return "".join(_VERBATIM.get(c) or tex_escape(c) for c in str(text))


def number(value, digits: int = 3) -> str:
    """A number as reports show it: fixed for ordinary sizes, scientific beyond.

    A vector (a network layer) shows as [a, b, ...], at most 12 entries.
    """
    if value is None:
        return "–"
    if isinstance(value, list):
        shown = ", ".join(number(v, digits) for v in value[:12])
        return f"[{shown}{', …' if len(value) > 12 else ''}]"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) < 10**15 else f"{float(value):.3e}"
    value = float(value) + 0.0  # no "-0.000"
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}e}"


def render_html(data: dict, charts: dict) -> str:
    return html_environment().get_template("report.html.j2").render(d=data, charts=charts)


def graph_page(model) -> str:
    """``derive graph --html``: the step-through as a page of its own (HTML text).

    Cost: one trace, the graph's SVG (written directly, no matplotlib) and the frames.
    """
    t = trace(model)
    picture = graph(model, values=True, adjoints=True, traced=t)
    return html_environment().get_template("graph.html.j2").render(
        model=model.name, svg=(svg := picture.svg()), width=width_px(svg),
        frames=frames(model, t, picture), folded=picture.folded)


def render_grades(results) -> str:
    """`derive grade --html`: for several notebooks a class table first (a row per
    notebook, a column per quantity), then a table per notebook (the template only
    formats)."""
    from derive.usercode.grading import CELLS_COUNTED
    return html_environment().get_template("grade.html.j2").render(
        results=results, cells_counted=CELLS_COUNTED, **class_table(results))


def class_table(results) -> dict:
    """The class table's columns (every rubric test, every quantity graded, in first-seen
    order) and its rows: each notebook's path, score, verdict, counts, first wrong step,
    points by test and status by quantity.

    Cost: linear in the quantities graded.
    """
    columns = list(dict.fromkeys(r["quantity"] for g in results for r in g.rows))
    tests = list(dict.fromkeys(t["name"] for g in results for t in g.tests))
    rows = [{"path": g.path, "passed": g.passed, "notebook": g.notebook or "-",
             "score": f"{g.score:g}", "max_score": f"{g.max_score:g}",
             "tests": {t["name"]: f"{t['score']:g}" for t in g.tests},
             "wrong": sum(r["status"] != "pass" for r in g.rows),
             "first_wrong": g.first_wrong or g.problem or "",
             "status": {r["quantity"]: r["status"] for r in g.rows}} for g in results]
    return {"columns": columns, "test_columns": tests, "students": rows}


def render_tex(data: dict, pages: dict) -> str:
    """The LaTeX report; ``pages``: each chart's page in charts.pdf."""
    return tex_environment().get_template("report.tex.j2").render(d=data, pages=pages)


# ---- charts ------------------------------------------------------------------


def charts(data: dict, kind: str) -> dict:
    """The growth, timing and step-size charts and the graph as SVG text or matplotlib
    figures (``kind`` "svg" or "figure", for :func:`derive.present.charts.pdf_pages`), drawn
    deterministically.
    Infinite or huge values are drawn as matplotlib can; its warnings stay quiet."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        drawn = render_all(data, kind)
    picture = Picture.from_json(data["graph"])
    drawn["graph"] = draw(picture, kind, policy.GRAPH_WRAP)
    return drawn


# ---- writing -----------------------------------------------------------------


def write_report(data: dict, out_dir, formats=FORMATS, journal=None,
                 kept: list | None = None) -> list[Path]:
    """Render and write; the folder is marked and swapped in whole at the end.

    Call it inside :func:`derive.base.writing.locked`, passing its journal (as
    :func:`make_report` does); files the user added to an earlier report are
    kept and named in ``kept``.
    """
    written: list[str] = []

    def build(staging: Path):
        (staging / "data.json").write_text(to_json(data))
        written.append("data.json")
        if "html" in formats:
            (staging / "index.html").write_text(render_html(data, charts(data, "svg")))
            written.append("index.html")
        if "tex" in formats or "pdf" in formats:
            content, pages = pdf_pages(charts(data, "figure"))
            (staging / "charts.pdf").write_bytes(content)
            (staging / "report.tex").write_text(render_tex(data, pages))
            written.append("report.tex")
        if "pdf" in formats:
            compile_pdf(staging / "report.tex")
            written.append("report.pdf")

    target = replace_directory(out_dir, build, journal, kept)
    return [target / name for name in written]


PDFLATEX_PACKAGES = "apt-get install texlive-latex-base texlive-latex-recommended"


class ToolFailed(DeriveError):
    """A real tool (pdflatex) failed on what derive gave it: exit 1, with the log kept."""

    exit_code = 1


def compile_pdf(tex: Path) -> Path:
    """pdflatex twice (for references), in the file's folder.

    A failure raises :class:`ToolFailed` naming pdflatex's first errors and the
    path of its log, copied out of the staging folder (which is removed).
    """
    for _ in range(2):
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                               "-no-shell-escape", tex.name], cwd=tex.parent,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            errors = [line for line in done.stdout.splitlines() if line.startswith("!")]
            handle, log = tempfile.mkstemp(prefix="derive-pdflatex-", suffix=".log")
            with os.fdopen(handle, "w") as copy:
                copy.write(done.stdout)
            raise ToolFailed(f"pdflatex failed on {tex.name}: {' '.join(errors[:2])[:200]} "
                             f"(log: {log})")
    for suffix in (".aux", ".out", ".log"):
        tex.with_suffix(suffix).unlink(missing_ok=True)
    return tex.with_suffix(".pdf")


def formats_for(text: str | None) -> tuple[list[str], list[str]]:
    """The formats to write and the notes to say: ``--format`` as given (a PDF then
    needs pdflatex: exit 2 naming its packages where it is missing), or by default
    all of them, the PDF skipped with a note where pdflatex is missing."""
    if text is None:
        if shutil.which("pdflatex"):
            return list(FORMATS), []
        return ["html", "tex"], [f"PDF skipped: pdflatex is not installed ({PDFLATEX_PACKAGES})"]
    formats = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise DeriveError(f"bad --format {text!r}: choose from html, tex, pdf")
    if "pdf" in formats and not shutil.which("pdflatex"):
        raise DeriveError(f"--format pdf needs pdflatex, which is not installed: "
                          f"{PDFLATEX_PACKAGES}")
    return formats, []


# ---- the API -------------------------------------------------------------------


class Report:
    """A gathered report: ``data`` (data.json as Python reads it), ``paths`` written,
    ``notes`` (what was skipped and why)."""

    def __init__(self, data: dict, paths: list[Path], notes: list[str] | None = None):
        self.gathered, self.paths, self.notes = data, paths, notes or []
        self.data = json.loads(to_json(data))

    def html(self) -> str:
        return render_html(self.gathered, charts(self.gathered, "svg"))


def make_report(spec="toy", depth: str = "1:12", out=None, formats=None,
                timestamp: str | None = None, seed: int = 0, command: str | None = None,
                write: bool = True, family=None, max_seconds: float | None = None,
                force: bool = False, progress=None, budget: float | None = BUDGET) -> Report:
    """Gather a report and (unless ``write=False``) write it.

    ``spec`` is a model name (its families are swept over ``depth``, see
    :func:`derive.models.families.sweeps`) or a :class:`derive.models.model.Model` (swept
    only if ``family`` is given).  ``formats``: a list or "html,tex"; None for
    all, the PDF only where pdflatex is installed.  ``out`` is checked before
    any work (:func:`derive.base.writing.check_target`: a folder of the user's files
    is refused unless ``force``) and locked for the whole run.  Cost: one
    trace and check of the model, a size sweep per family (linear per depth,
    plus sympy.diff below its cap), and pdflatex; methods predicted over ``budget``
    seconds are skipped or sampled, saying so (:mod:`derive.readings.costs`).
    """
    if isinstance(formats, (list, tuple)):
        formats = ",".join(formats)
    formats, notes = formats_for(formats)
    depths = parse_depths(depth)
    if max_seconds is not None and not max_seconds > 0:
        raise DeriveError("--max-seconds must be a positive number of seconds")
    if isinstance(spec, str):
        built, family = load(spec, seed=seed), family or sweeps(spec)
    else:
        built = spec
    families = [] if family is None else [family] if isinstance(family, str) else list(family)
    target = Path(out or output_name(built.name))
    if write:
        check_target(target, force)
    stamp = timestamp or datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")
    kept: list[str] = []
    with locked(target) if write else contextlib.nullcontext() as journal:
        data = gather(built, families, depths, stamp,
                      command or f"derive report {built.name} --depth {depth}", seed,
                      max_seconds, progress, budget)
        paths = write_report(data, target, formats, journal, kept) if write else []
    if kept:
        notes.append(f"kept {len(kept)} file(s) in {str(target)!r} that derive did not "
                     f"write: {', '.join(kept[:5])}{' ...' if len(kept) > 5 else ''}")
    return Report(data, paths, notes)
