"""Issue 24, "one set of display rules, tested across outputs": each model's step
equations and chain rules, and its whole prediction, printed by every printer (plain
text for the terminal and the graph, LaTeX for the PDF, MathML whole and in flowing
pieces for the HTML and Jupyter) read as the same tokens: the same names, factors in the
same order, the same dots, brackets and signs.  Only layout is normalised (a fraction's
bar as /, where's cases as where(c, a, b)), so a printer that drifts fails."""

import re
from xml.dom import minidom

import pytest
import sympy

import derive
from derive import parse
from derive.models.model import from_expression
from derive.core.graph import sizes
from derive.present.picture import graph
from derive.present.notation import BookLatexPrinter, to_latex, to_text
from derive.present.mathml import mathml, mathml_flow

SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
GREEK = {"beta": "β", "omega": "ω", "Omega": "Ω", "sigma": "σ", "ell": "ℓ", "partial": "∂"}
TOKEN = re.compile(r"[A-Za-zα-ωΑ-Ωℓ𝕀][A-Za-z_]*[₀-₉]*|[0-9]+(?:\.[0-9]+)?|[⁰-⁹⁻]+|\S")
CASES = re.compile(r"\\begin\{cases\}\s*(.*?)\s*&\s*\\text\{if\s*\}\s*(.*?)\s*\\\\\s*(.*?)\s*&\s*"
                   r"\\text\{otherwise\}\s*\\end\{cases\}")


def text_tokens(text: str) -> list[str]:
    """Names with their subscripts, numbers, superscripts, and each other sign."""
    return TOKEN.findall(text.replace("-", "−"))


def _group_end(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    raise ValueError(text)


def latex_tokens(latex: str) -> list[str]:
    """LaTeX read as the text printer writes: \\omega_{3} as ω₃, \\cdot as ·,
    \\frac{a}{b} as a / b, ^{2} as ², \\left[ as [."""
    while (i := latex.rfind(r"\frac")) >= 0:
        a = i + len(r"\frac")
        b = _group_end(latex, a)
        c = _group_end(latex, b)
        latex = latex[:i] + latex[a:b] + " / " + latex[b:c] + latex[c:]
    while CASES.search(latex):
        latex = CASES.sub(lambda m: f"where({m[2]}, {m[1]}, {m[3]})", latex)
    latex = re.sub(r"\\(left|right)\s*", "", latex)
    latex = latex.replace(r"\mathbb{I}", "𝕀")
    latex = re.sub(r"\\operatorname\{\{?(\w+)\}?\}", r"\1", latex)
    latex = re.sub(r"\\mathrm\{(\w+)\}", r"\1", latex)
    latex = re.sub(r"\\(" + "|".join(GREEK) + r")(?![A-Za-z])", lambda m: GREEK[m[1]], latex)
    latex = re.sub(r"\\(sin|cos|tan|exp|log|tanh|max|min)\b", r"\1", latex)
    latex = re.sub(r"_\{([0-9]+)\}", lambda m: m[1].translate(SUB), latex)
    latex = re.sub(r"\^\{T\}", "ᵀ", latex)
    latex = re.sub(r"\^\{([0-9]+)\}", lambda m: m[1].translate(SUP), latex)
    latex = latex.replace(r"\cdot", "·").replace("{", " ").replace("}", " ")
    return text_tokens(latex)


def _walk(node, out: list):
    kids = [k for k in node.childNodes if k.nodeType == k.ELEMENT_NODE]
    tag = node.tagName
    if tag in ("mi", "mn", "mo", "mtext"):
        text = "".join(k.data for k in node.childNodes if k.nodeType == k.TEXT_NODE)
        out.extend([text] if tag == "mi" else text_tokens(text))
    elif tag in ("msub", "msup", "mfrac"):
        base, script = [], []
        _walk(kids[0], base)
        _walk(kids[1], script)
        if tag == "mfrac":
            out.extend(base + ["/"] + script)
        elif tag == "msub" and len(base) == 1 and all(t.isdigit() for t in script):
            out.append(base[0] + "".join(script).translate(SUB))
        elif tag == "msup" and all(t.isdigit() for t in script):
            out.extend(base + ["".join(script).translate(SUP)])
        else:
            out.extend(base + (["ᵀ"] if script == ["T"] else ["^"] + script))
    elif tag == "mtable":  # where's cases, {a if c; b otherwise}, as where(c, a, b)
        (a, c), (b, _) = [[k for k in row.childNodes if k.nodeType == k.ELEMENT_NODE]
                          for row in kids]
        parts = [[], [], []]
        for part, cell in zip(parts, (c, a, b)):
            _walk(cell, part)
        if out and out[-1] == "{":
            out.pop()
        out.extend(["where", "(", *[t for t in parts[0] if t != "if"], ",", *parts[1], ",",
                    *parts[2], ")"])
    else:
        for kid in kids:
            _walk(kid, out)


def mathml_tokens(markup: str) -> list[str]:
    out: list[str] = []
    _walk(minidom.parseString(f"<root>{markup.replace('<wbr>', '')}</root>").documentElement,
          out)
    return out


def _expression_model():
    """An --expr with where and max, as the issue names."""
    f = parse("z = w*x + b; q = where(z > 0, z, 0.1*z) + max(z, c); f = q*w")
    return from_expression(f, {sympy.Symbol(n): 0.5 for n in "wbc"}, {sympy.Symbol("x"): 1.2})


MODELS = ["toy", "chain:tanh*12", "logistic:5", "mlp:udl72", "expression"]


def formulas(spec: str):
    """[(what, SymPy expression)]: every step's equation and chain rule, and the whole
    prediction and the closed form of ∂/∂ω₀ (sympy.diff's) where a report prints them
    whole (at most 400 tree nodes)."""
    m = _expression_model() if spec == "expression" else derive.model(spec)
    t = derive.trace(m)
    found = [(f"step {r['name']}", r["expr"]) for r in t.forward]
    found += [(f"rule for {r['name']}", r["rule"]) for r in t.backward]
    if sizes(m.output).tree_nodes <= 400:
        found.append(("prediction", m.output))
        closed = sympy.diff(m.output, m.wrt[len(m.wrt) > 1])  # the report's nightmare
        if sizes(closed).tree_nodes <= 400:
            found.append(("closed form", closed))
    return m, t, found


def disagreements(spec: str) -> list:
    """Every formula whose printers' tokens differ, with each printer's tokens."""
    m, t, found = formulas(spec)
    bad = []
    for what, expr in found:
        read = {"text": text_tokens(to_text(expr)), "latex": latex_tokens(to_latex(expr)),
                "mathml": mathml_tokens(mathml(expr)),
                "mathml pieces": mathml_tokens(mathml_flow(expr, limit=6))}
        if len({tuple(tokens) for tokens in read.values()}) > 1:
            bad.append((what, read))
    steps = {f"step {r['name']}": r["expr"] for r in t.forward}
    for node in graph(m).to_json()["nodes"]:
        line = node["label"][0]
        what = f"step {node['name']}"
        if what in steps and " = " in line:
            drawn = text_tokens(line.split(" = ", 1)[1].split("   ")[0])  # not its [shape]
            if drawn != text_tokens(to_text(steps[what])):
                bad.append((f"graph box {node['name']}", {"graph": drawn}))
    return bad


@pytest.mark.parametrize("spec", MODELS)
def test_every_printer_writes_the_same_tokens(spec):
    assert disagreements(spec) == []


def test_the_token_test_catches_a_printer_that_drops_a_dot(monkeypatch):
    """A planted change: the LaTeX printer's products back to SymPy's juxtaposition."""
    from sympy.printing.latex import LatexPrinter
    monkeypatch.setattr(BookLatexPrinter, "_print_Mul",
                        lambda self, expr: LatexPrinter._print_Mul(self, expr))
    monkeypatch.setitem(BookLatexPrinter._default_settings, "mul_symbol", None)
    import derive.present.notation
    monkeypatch.setattr(derive.present.notation, "LATEX", {"order": "none"})
    bad = disagreements("toy")
    assert "step f0" in {what for what, _ in bad}  # β₀ + ω₀ x against β₀ + ω₀·x


def test_the_tokens_read_the_book_notation():
    omega1, h1 = sympy.symbols("omega1 h1")
    assert text_tokens(to_text(omega1 * h1)) == ["ω₁", "·", "h₁"]
    assert latex_tokens(to_latex(omega1 * h1)) == ["ω₁", "·", "h₁"]
    assert mathml_tokens(mathml(omega1 * h1)) == ["ω₁", "·", "h₁"]
