"""The package's modules form a stack: no import cycle, at module level or inside functions.

Also: no reading asks what kind of model it has (no comparison with a kind's or a
family's name, no regular expression or prefix test over a parameter's name outside the
family modules), and no primitive's name is a string literal outside the rule table
module.
"""

import ast
import re
from pathlib import Path

import pytest

from derive.core.rules import PRIMITIVES

PACKAGE = Path(__file__).resolve().parent.parent / "derive"


def modules(package: Path, name: str) -> dict[str, Path]:
    """{dotted name: path} for every module of the package, its sub-packages' too."""
    found = {}
    for path in package.rglob("*.py"):
        parts = [name, *path.relative_to(package).with_suffix("").parts]
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(package: Path, name: str) -> dict[str, set[str]]:
    """{module: modules of the same package it imports}, from every import statement
    anywhere in the module (functions included), resolved as Python would."""
    modules_ = modules(package, name)
    graph = {}
    for module, path in modules_.items():
        graph[module] = set()
        here = module if path.stem == "__init__" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.split(".")[:len(here.split(".")) - node.level + 1]
                    base = ".".join(filter(None, [*up, node.module]))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules_ else base
                           for alias in node.names]
            graph[module] |= {t for t in targets if t in modules_ and t != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated last), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for nxt in sorted(graph[module]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph(PACKAGE, "derive")
    assert len(graph) > 15
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_core_never_imports_presentation():
    graph = import_graph(PACKAGE, "derive")
    presentation = {"derive.present.terminal", "derive.present.notebook",
                    "derive.present.report", "derive.present.charts", "derive.cli",
                    "derive.present.policy"}
    core = {"derive.core.rules", "derive.core.graph", "derive.core.program",
            "derive.readings.symbolic", "derive.models.model", "derive.models.network",
            "derive.models.families", "derive.checks.check", "derive.readings.codegen",
            "derive.checks.growth", "derive.checks.bench", "derive.testing"}
    for module in core:
        assert not graph[module] & presentation, (module, graph[module] & presentation)


def test_a_planted_cycle_is_found(tmp_path):
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("import math\n\n\ndef f():\n"
                                    "    from .high import g  # dodging the cycle\n"
                                    "    return g()\n")
    (package / "high.py").write_text("from .low import f\n\n\ndef g():\n    return 1\n")
    (package / "alone.py").write_text("from . import low\n")
    cycle = find_cycle(import_graph(package, "planted"))
    assert cycle is not None and set(cycle) == {"planted.low", "planted.high"}


LAYERS = ["base", "core", "models", "readings", "checks", "usercode", "present", "cli"]
"""DESIGN.md's stack, bottom to top: each sub-package imports only those below it (and
itself).  The CLI is on top; beside it the public faces (``derive``, ``derive.testing``,
the pytest plugin, ``derive.initialization``)."""


def layer_violations(package: Path, name: str) -> list[tuple[str, str]]:
    """(module, what it imports) for each import of a layer above the module's own."""
    rank = {f"{name}.{layer}": i for i, layer in enumerate(LAYERS)}

    def layer(module):
        return rank.get(".".join(module.split(".")[:2]))

    return sorted((module, target) for module, targets in import_graph(package, name).items()
                  for target in targets
                  if layer(module) is not None and layer(target) is not None
                  and layer(target) > layer(module))


def test_each_layer_imports_only_the_layers_below_it():
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} \
        >= set(LAYERS)
    # Still open (issue 23): the verdict on a user's backprop writes its suspect rule in
    # the book's notation, so usercode reads two printers of the layer above.
    assert layer_violations(PACKAGE, "derive") == [
        ("derive.usercode.backprop", "derive.present.notation"),
        ("derive.usercode.backprop", "derive.present.steps")]


def test_a_planted_import_from_above_is_found(tmp_path):
    package = tmp_path / "planted"
    for folder in ["", "core", "present"]:
        (package / folder).mkdir(exist_ok=True)
        (package / folder / "__init__.py").write_text("")
    (package / "present" / "notation.py").write_text("X = 1\n")
    (package / "core" / "program.py").write_text(
        "def f():\n    from planted.present.notation import X\n    return X\n")
    (package / "core" / "graph.py").write_text("from ..present import notation\n")
    assert layer_violations(package, "planted") == [
        ("planted.core.graph", "planted.present.notation"),
        ("planted.core.program", "planted.present.notation")]


def test_no_reading_asks_whether_a_model_is_a_network():
    for path in PACKAGE.rglob("*.py"):
        assert not re.search(r"network is (not )?None", path.read_text()), path.name


def string_literals(path: Path):
    """Every string constant that is not a docstring, with its line."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings):
            yield node.lineno, node.value


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py")
                                         if p.name != "rules.py"), ids=lambda p: p.name)
def test_no_primitive_is_named_outside_the_rule_table(path):
    names = set(PRIMITIVES)
    glyphs = {"streams.py": {"sqrt"}}  # the ASCII spelling of the glyph √, not a row's use
    found = [(line, text) for line, text in string_literals(path)
             if text in names - glyphs.get(path.name, set())]
    assert not found, f"{path.name} names primitives: {found}"


# ---- no reading asks what kind of model it has ------------------------------------------

FAMILY_MODULES = {"models/families.py", "models/model.py", "models/network.py",
                  "models/user.py", "models/names.py"}
"""Where a family's names are written and read: everywhere else reads roles and shapes
from the program's rows and the family record."""

KIND_STRINGS = {"matrix", "scalar", "network", "toy", "chain", "logistic", "mlp",
                "mlp-width", "udl72"}
PARAMETER_STEMS = ("beta", "omega", "Omega", "f[0-9]", "h[0-9]", r"f\d", r"h\d")
REGEX_CALLS = {"compile", "match", "fullmatch", "search", "sub", "subn", "findall",
               "finditer", "split"}


def _strings(node) -> list[str]:
    """The string constants a node is (a tuple of them too)."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)]


def kind_questions(source: str) -> list[tuple[int, str]]:
    """(line, what) for each comparison with a model kind's or family's name, and each
    regular expression or prefix test over a parameter's name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, (ast.Constant, ast.Tuple, ast.List, ast.Set)):
                    named = set(_strings(side)) & KIND_STRINGS
                    if named:
                        found.append((node.lineno, f"compares with {sorted(named)}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr, owner = node.func.attr, node.func.value
            regex = (attr in REGEX_CALLS and isinstance(owner, ast.Name) and owner.id == "re"
                     and node.args and any(stem in text for text in _strings(node.args[0])
                                           for stem in PARAMETER_STEMS))
            prefix = (attr in ("startswith", "endswith") and node.args
                      and any(text.startswith(PARAMETER_STEMS[:3])
                              for text in _strings(node.args[0])))
            if regex or prefix:
                found.append((node.lineno, f"reads a parameter's name with {attr}"))
    return found


@pytest.mark.parametrize("path", sorted(
    p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).as_posix() not in FAMILY_MODULES),
    ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_reading_asks_what_kind_of_model_it_has(path):
    assert not kind_questions(path.read_text(encoding="utf-8")), path.name


@pytest.mark.parametrize("planted", [
    'def shown(p, a):\n    return a[:, 0] if p.kind == "matrix" else a\n',
    'def network(model):\n    return model.name.split(":")[0] in ("mlp", "chain")\n',
    'import re\ndef layer(name):\n    return re.fullmatch(r"(beta|Omega)([0-9]+)", name)\n',
    'def weights(leaves):\n    return [l for l in leaves if l.name.startswith("Omega")]\n',
    'import re\ndef steps(nodes):\n    return [n for n in nodes if re.match(r"f[0-9]+", n)]\n'],
    ids=["kind", "family", "regex", "prefix", "step"])
def test_a_planted_question_about_the_kind_is_found(planted):
    assert len(kind_questions(planted)) == 1


def long_functions(source: str, most: int = 60) -> list[str]:
    """Functions (methods and nested ones too) longer than ``most`` lines."""
    return [node.name for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > most]


def test_no_function_is_over_60_lines_but_the_clis_parser_table():
    found = {path.relative_to(PACKAGE).as_posix(): long_functions(path.read_text(encoding="utf-8"))
             for path in PACKAGE.rglob("*.py")}
    assert {name: f for name, f in found.items() if f} == {"cli/__init__.py": ["build_parser"]}
    assert long_functions("def f():\n" + "    x = 1\n" * 60) == ["f"]


def test_no_module_is_over_500_lines():
    lines = {path.relative_to(PACKAGE).as_posix(): len(path.read_text("utf-8").splitlines())
             for path in PACKAGE.rglob("*.py")}
    assert len(lines) > 60
    assert {name: n for name, n in lines.items() if n > 500} == {}
