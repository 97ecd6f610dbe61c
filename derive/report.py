"""Reports: gather every number once, render HTML and LaTeX from templates, write.

:func:`gather` computes the report's data (what ``data.json`` holds) in
Python; the templates in ``templates/`` only loop, branch and format.
:func:`write_report` renders, builds the directory beside its target and
swaps it in, so a failed run leaves an earlier report intact.

The timestamp is passed in by the caller, so two runs on the same inputs give
identical files apart from it.
"""

from __future__ import annotations

import html
import importlib.resources
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import numpy as np
import sympy

from . import __version__
from .compare import METHODS, TOLERANCES, check
from .graph import sizes
from .growth import run_sweep
from .models import LOSSES
from .primitives import PRIMITIVES
from .printing import mathml, to_latex
from .staged import program, trace
from .table import plain
from .symbolic import diff_gradient

FORMATS = ("html", "tex", "pdf")
EXPRESSION_CAP = 400
"""Tree nodes above which a formula is shown as its measures and a preview."""
PREVIEW_CHARS = 600


# ---- math as MathML and LaTeX ------------------------------------------------


def formula(expr, cap: int = EXPRESSION_CAP) -> dict:
    """An expression for a report: LaTeX and MathML below ``cap``, else measures.

    Cost: the size check is linear in distinct nodes; printing walks the tree,
    so it happens only below the cap.
    """
    s = sizes(expr)
    entry = {"tree_nodes": s.tree_nodes, "dag_nodes": s.dag_nodes, "ops": s.ops}
    if s.tree_nodes <= cap:
        latex = to_latex(expr)
        return {**entry, "latex": latex, "latex_chars": len(latex), "mathml": mathml(expr),
                "preview": None}
    preview = sympy.sstr(expr)[:PREVIEW_CHARS] if s.tree_nodes <= 50 * cap else None
    return {**entry, "latex": None, "latex_chars": None, "mathml": None, "preview": preview}


# ---- gathering ---------------------------------------------------------------


def gather(model, family, depths, timestamp: str, command: str, seed: int = 0,
           max_seconds: float | None = None) -> dict:
    """Every number the report shows, computed once (the content of data.json)."""
    t = trace(model)
    result = check(model)
    p = program(model)
    return {
        "title": f"derive report: {model.name}",
        "model": _model_section(model, p),
        "forward": [{"name": r["name"], "symbol": to_latex(sympy.Symbol(r["name"])),
                     "latex": r["equation"], "mathml": r["mathml"],
                     "value": r["value"]} for r in t.forward],
        "backward": (_network_backward(t, model.network) if model.network is not None
                     else _backward_section(t, p)),
        "loss": t.loss,
        "gradients": _gradient_section(result),
        "agree": result.agree,
        "notes": result.notes,
        "tolerances": {k: {"rtol": v.rtol, "atol": v.atol, "scaled": v.scaled}
                       for k, v in TOLERANCES.items()},
        "nightmare": _nightmare(model),
        "growth": [_growth_section(f, depths, seed, max_seconds) for f in _families(family)],
        "layers": _layers_section(model),
        "faults": t.faults,
        "steps": _step_chart_data(model, p),
        "reproduce": {"command": command, "timestamp": timestamp, "derive": __version__,
                      "python": sys.version.split()[0], "sympy": sympy.__version__,
                      "numpy": np.__version__, "jinja2": jinja2.__version__},
    }


def _families(family) -> list[str]:
    if family is None:
        return []
    return [family] if isinstance(family, str) else list(family)


def _growth_section(family, depths, seed, max_seconds=None) -> dict:
    result = run_sweep(family, depths, seed, max_seconds=max_seconds)
    return {"family": family, "axis": result.axis, "rows": result.rows, "fits": result.fits,
            "stopped": result.stopped, "words": result.words}


def _layers_section(model) -> list[dict]:
    """Per-layer gradients of a network: ∂ℓ/∂Ω_k as a matrix and ∂ℓ/∂β_k as a vector."""
    net = model.network
    if net is None:
        return []
    _, _, dW, db = net.backward(model.values)
    return [{"k": k, "omega": dW[k].tolist(), "beta": db[k].tolist(),
             "shape": list(dW[k].shape)} for k in range(net.K + 1)]


LOSS_WORDS = {"least_squares": "least squares", "binary_cross_entropy": "binary cross-entropy",
              None: "none: f itself is differentiated"}


def _model_section(model, p) -> dict:
    """The model: its prediction, loss, and every value (a list for a batch)."""
    f = model.prediction if model.prediction is not None else model.output
    loss = None
    if model.loss is not None and model.target is not None:
        loss = LOSSES[model.loss](sympy.Symbol("f"), model.target)

    def entries(symbols):
        return [{"name": str(s), "symbol": to_latex(s), "value": plain(model.values[s])}
                for s in symbols]

    return {"name": model.name, "prediction": formula(f), "program": p.counts(),
            "loss": LOSS_WORDS[model.loss],
            "loss_latex": to_latex(loss) if loss is not None else None,
            "loss_mathml": mathml(loss) if loss is not None else None,
            "parameters": entries(model.parameters), "inputs": entries(model.inputs),
            "target": (entries([model.target])[0] if model.target is not None else None)}


def _backward_section(t, p) -> list[dict]:
    """Each adjoint with its chain-rule equation in the step names."""
    symbols = {s.name: sympy.Symbol(s.name) for s in p.steps}
    users = {name: [s for s in p.steps if symbols[name] in s.equation.free_symbols]
             for name in symbols}
    rows = []
    last = p.steps[-1].name
    for r in t.backward:
        v = symbols[r["name"]]
        terms, marks = [], []
        for u in users[r["name"]]:
            local = sympy.factor(sympy.diff(u.equation, v))
            if u.name == last:  # ∂ℓ/∂ℓ = 1
                terms.append(to_latex(local))
                marks.append(_body(mathml(local)))
                continue
            terms.append(rf"{_paren(to_latex(local))}\,\frac{{\partial \ell}}"
                         rf"{{\partial {to_latex(symbols[u.name])}}}")
            marks.append(_factor(mathml(local)) + "<mo>&#8290;</mo><mfrac><mrow><mi>&#8706;</mi>"
                         "<mi>&#8467;</mi></mrow><mrow><mi>&#8706;</mi>"
                         f"{_body(mathml(symbols[u.name]))}</mrow></mfrac>")
        rows.append({"name": r["name"], "symbol": to_latex(v), "chain": " + ".join(terms),
                     "chain_mathml": '<math display="inline"><mrow>'
                     + "<mo>+</mo>".join(marks) + "</mrow></math>",
                     "value": r["adjoint"]})
    return rows


def _network_backward(t, net) -> list[dict]:
    """The book's matrix equations for each adjoint vector."""
    act = PRIMITIVES[net.act].latex
    rows = []
    for r in t.backward:
        kind, k = r["name"][0], int(r["name"][1:])
        if kind == "f" and k == net.K:
            chain = rf"2\left(f_{{{k}}} - y\right)"
            marks = f"<mn>2</mn><mo>(</mo>{_sub('f', k)}<mo>&#8722;</mo><mi>y</mi><mo>)</mo>"
        elif kind == "h":
            chain = rf"\Omega_{{{k}}}^{{T}} \frac{{\partial \ell}}{{\partial f_{{{k}}}}}"
            marks = (f"<msubsup><mi>&#937;</mi><mn>{k}</mn><mi>T</mi></msubsup>"
                     f"{_partial(_sub('f', k))}")
        else:
            derivative = act.format(f"f_{{{k}}}").replace(r"\left[", r"'\left[", 1)
            chain = rf"{derivative} \odot \frac{{\partial \ell}}{{\partial h_{{{k + 1}}}}}"
            marks = (f"<msup><mi>{PRIMITIVES[net.act].name}</mi><mo>&#8242;</mo></msup>"
                     f"<mo>[</mo>{_sub('f', k)}<mo>]</mo><mo>&#8857;</mo>"
                     f"{_partial(_sub('h', k + 1))}")
        rows.append({"name": r["name"], "symbol": to_latex(sympy.Symbol(r["name"])),
                     "chain": chain, "value": r["adjoint"],
                     "chain_mathml": f'<math display="inline"><mrow>{marks}</mrow></math>'})
    return rows


def _sub(letter: str, k: int) -> str:
    return f"<msub><mi>{letter}</mi><mn>{k}</mn></msub>"


def _partial(denominator: str) -> str:
    return (f"<mfrac><mrow><mi>&#8706;</mi><mi>&#8467;</mi></mrow>"
            f"<mrow><mi>&#8706;</mi>{denominator}</mrow></mfrac>")


def _body(math: str) -> str:
    """The content of a <math> element."""
    return math[math.index(">") + 1:-len("</math>")]


def _factor(math: str) -> str:
    """A <math> element's content, parenthesised unless it is a single token."""
    body = _body(math)
    if re.fullmatch(r"<(mi|mn)>[^<]*</\1>|<msub>(<mi>[^<]*</mi>|<mn>[^<]*</mn>){2}</msub>", body):
        return body
    return f"<mrow><mo>(</mo>{body}<mo>)</mo></mrow>"


def _paren(tex: str) -> str:
    return tex if re.fullmatch(r"[\\\w{}\[\]^ ]*", tex) and "+" not in tex else rf"\left({tex}\right)"


def _gradient_section(result) -> list[dict]:
    rows = []
    names = METHODS[1:] + ["scalar_staged"] * any(r["scalar_staged"] is not None
                                                  for r in result.rows)
    for r in result.rows:
        b = r["backprop"]
        methods = []
        for m in names:
            value = r[m]
            error = None if value is None else abs(value - b)
            methods.append({"method": m, "value": value, "abs_error": error,
                            "rel_error": None if value is None else error / max(abs(b), 1e-300)})
        layer = re.match(r"(?:Omega|beta)([0-9]+)\[", r["name"])
        rows.append({"name": r["name"], "symbol": to_latex(sympy.Symbol(r["name"])),
                     "layer": int(layer.group(1)) if layer else 0, "kink": r["kink"],
                     "backprop": b, "methods": methods, "agree": r["agree"]})
    return rows


def _nightmare(model) -> dict:
    """One parameter's closed form as sympy.diff prints it, and as shared intermediates."""
    w = model.wrt[1] if len(model.wrt) > 1 else model.wrt[0]  # omega0 for toy
    if sizes(model.output).tree_nodes > EXPRESSION_CAP:
        return {"parameter": str(w), "symbol": to_latex(w), "closed": None, "cse": []}
    [closed] = diff_gradient(model.output, [w])
    replacements, [reduced] = sympy.cse(closed, symbols=sympy.numbered_symbols("t_"))
    return {"parameter": str(w), "symbol": to_latex(w), "closed": formula(closed),
            "cse": [{"name": to_latex(s), "latex": to_latex(e), "mathml": mathml(e),
                     "symbol_mathml": mathml(s)} for s, e in replacements]
            + [{"name": rf"\partial \ell / \partial {to_latex(w)}",
                "latex": to_latex(reduced), "mathml": mathml(reduced),
                "symbol_mathml": '<math display="inline"><mfrac><mrow><mi>&#8706;</mi>'
                                 '<mi>&#8467;</mi></mrow><mrow><mi>&#8706;</mi>'
                                 f"{_body(mathml(w))}</mrow></mfrac></math>"}]}


def _step_chart_data(model, p) -> dict:
    """Finite-difference error against step h for one parameter; the complex step as floor."""
    w = model.wrt[1] if len(model.wrt) > 1 else model.wrt[0]
    _, grads = p.gradients(model.values)
    exact = grads[w]
    base = float(np.sum(p.forward(model.values)[model.output]))
    hs = [float(h) for h in np.logspace(-1, -13, 25)]

    def loss_at(delta):
        values = dict(model.values)
        values[w] = values[w] + delta
        return np.sum(p.forward(values)[model.output])

    forward = [abs(float((loss_at(h) - base) / h) - exact) for h in hs]
    central = [abs(float((loss_at(h) - loss_at(-h)) / (2 * h)) - exact) for h in hs]
    complex_value = float(np.imag(loss_at(1e-20j))) / 1e-20
    return {"parameter": str(w), "h": hs, "forward": forward, "central": central,
            "complex": abs(complex_value - exact), "exact": exact}


# ---- rendering -----------------------------------------------------------------


def _templates():
    return importlib.resources.files("derive.templates")


def html_environment() -> jinja2.Environment:
    """HTML: autoescape switched on explicitly for the extensions in use."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2", "j2"),
                                            default_for_string=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = number
    return env


def tex_environment() -> jinja2.Environment:
    """LaTeX: delimiters that never clash with TeX braces, and an escaping filter."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        line_statement_prefix="%%", line_comment_prefix="%#",
        autoescape=False, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)
    env.filters["tex"] = tex_escape
    env.filters["num"] = tex_number
    env.filters["breakable"] = breakable
    return env


def tex_number(value, digits: int = 3) -> str:
    """A number for LaTeX; a vector as a column (pmatrix), at most 12 entries."""
    if not isinstance(value, list):
        return number(value, digits)
    rows = [number(v, digits) for v in value[:12]] + [r"\vdots"] * (len(value) > 12)
    return r"$\begin{pmatrix}" + r" \\ ".join(rows) + r"\end{pmatrix}$"


def breakable(latex: str) -> str:
    r"""Inline LaTeX that may break across lines: no \left/\right groups, dots for products."""
    latex = re.sub(r"\\(left|right)(?![a-zA-Z])", "", latex)
    return re.sub(r"(?<=[}\])]) (?=[\\a-zA-Z(])", r" \\cdot ", latex)


def _load_template(name: str) -> str:
    return _templates().joinpath(name).read_text(encoding="utf-8")


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                "#": r"\#", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}"}


def tex_escape(text) -> str:
    """Text safe to put into LaTeX as text: every special character escaped."""
    return "".join(_TEX_SPECIAL.get(c, c) for c in str(text))


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


def render_tex(data: dict) -> str:
    return tex_environment().get_template("report.tex.j2").render(d=data)


# ---- charts ------------------------------------------------------------------


def charts(data: dict, kind: str) -> dict:
    """The growth, timing and step-size charts as SVG text or PDF bytes (deterministic)."""
    from . import charts as c
    return c.render_all(data, kind)


# ---- writing -----------------------------------------------------------------


def write_report(data: dict, out_dir, formats=FORMATS) -> list[Path]:
    """Render and write; the directory is swapped in whole at the end."""
    from .output import replace_directory
    written: list[str] = []

    def build(staging: Path):
        (staging / "data.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        written.append("data.json")
        if "html" in formats:
            (staging / "index.html").write_text(render_html(data, charts(data, "svg")))
            written.append("index.html")
        if "tex" in formats or "pdf" in formats:
            for name, content in charts(data, "pdf").items():
                (staging / f"{name}.pdf").write_bytes(content)
            (staging / "report.tex").write_text(render_tex(data))
            written.append("report.tex")
        if "pdf" in formats and shutil.which("pdflatex"):
            compile_pdf(staging / "report.tex")
            written.append("report.pdf")

    target = replace_directory(out_dir, build)
    return [target / name for name in written]


def compile_pdf(tex: Path) -> Path:
    """pdflatex twice (for references), in the file's directory; logs kept beside it."""
    for _ in range(2):
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                               "-no-shell-escape", tex.name], cwd=tex.parent,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            errors = [line for line in done.stdout.splitlines() if line.startswith("!")]
            raise RuntimeError(f"pdflatex failed on {tex.name}: {' '.join(errors[:3])}")
    for suffix in (".aux", ".out", ".log"):
        tex.with_suffix(suffix).unlink(missing_ok=True)
    return tex.with_suffix(".pdf")


# ---- the API -------------------------------------------------------------------


class Report:
    """A gathered report: ``data`` (data.json), ``paths`` written, HTML for Jupyter."""

    def __init__(self, data: dict, paths: list[Path]):
        self.data, self.paths = data, paths

    def html(self) -> str:
        return render_html(self.data, charts(self.data, "svg"))

    def _repr_html_(self) -> str:
        # the whole document in a sandboxed frame, so its styles stay its own
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                'sandbox="" style="width:100%;height:720px;border:1px solid #ccc"></iframe>')


def family_of(spec: str) -> list[str]:
    """The growth families of a model name: toy -> sin,exp,cos; chain:L*K -> L;
    logistic:N -> logistic; an mlp -> a depth sweep at its hidden width and a
    width sweep at its number of hidden layers."""
    family, _, arg = spec.strip().partition(":")
    if family == "toy":
        return ["sin,exp,cos"]
    if family == "logistic":
        return ["logistic"]
    if family == "mlp":
        from .network import UDL72, parse_mlp
        dims, act = (UDL72["dims"], UDL72["act"]) if arg == "udl72" else parse_mlp(spec.strip())
        hidden = dims[1:-1] or (1,)
        return [f"mlp:{hidden[0]}:{act}", f"mlp-width:{len(dims) - 2 or 1}:{act}"]
    return [arg.partition("*")[0]]


def default_out(spec: str) -> str:
    """reports/<model name made safe for a path>, e.g. reports/toy."""
    return "reports/" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", spec.strip()).strip("._") or "model")


def make_report(spec="toy", depth: str = "1:12", out=None, formats=FORMATS,
                timestamp: str | None = None, seed: int = 0, command: str | None = None,
                write: bool = True, family: str | None = None,
                max_seconds: float | None = None) -> Report:
    """Gather a report and (unless ``write=False``) write it.

    ``spec`` is a family name (its family is swept over ``depth``) or a
    :class:`derive.models.Model` (swept only if ``family`` is given).
    Cost: one trace and check of the model, a size sweep (linear per depth,
    plus sympy.diff below its cap), and pdflatex.
    """
    import datetime

    from .errors import DeriveError
    from .growth import parse_depths
    from .models import model
    formats = [formats] if isinstance(formats, str) else list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise DeriveError(f"bad --format {','.join(formats)!r}: choose from html, tex, pdf")
    depths = parse_depths(depth)
    if isinstance(spec, str):
        built, family = model(spec, seed=seed), family or family_of(spec)
    else:
        built = spec
    stamp = timestamp or datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC")
    data = gather(built, family, depths, stamp,
                  command or f"derive report {built.name} --depth {depth}", seed, max_seconds)
    paths = write_report(data, out or default_out(built.name), formats) if write else []
    return Report(data, paths)
