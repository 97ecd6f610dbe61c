"""Issue 23, "one program, truly" (in part): Step 1, the forward loop, and Step 2, the
reverse loop, are each written once (derive/core/sweep.py) and read in every arithmetic:
values and tangents forward; backprop on numbers, forward-over-reverse on dual numbers,
the symbolic gradient on SymPy expressions, the operation count in reverse."""

import ast
from pathlib import Path

import pytest
import sympy

import derive
from derive.core.arithmetic import SYMBOLIC
from derive.core.program import Program
from derive.readings.symbolic import adjoints, dag_gradient

PACKAGE = Path(derive.__file__).resolve().parent


@pytest.mark.parametrize("spec", ["toy", "chain:tanh*8", "logistic:12", "mlp:2-4-4-1"])
def test_the_symbolic_gradient_is_the_programs_reverse_sweep_on_symbols(spec):
    """The program's own backward pass, run on SymPy symbols (each node's value is the
    node itself), gives derive.readings.symbolic's adjoints, node for node, as the same trees."""
    m = derive.model(spec)
    p = Program.from_expression(m.output, m.wrt)
    symbols = {node: node for node in [*p.leaves, *p.nodes]}
    swept = p.backward(symbols, SYMBOLIC, seed=sympy.S.One)
    expected = adjoints(m.output, m.wrt)
    assert set(swept) == set(expected)
    assert all(swept[node] == expected[node] for node in expected)
    assert dag_gradient(m.output, m.wrt) == [swept.get(w, sympy.S.Zero) for w in m.wrt]


def adjoint_loops(source: str) -> list[str]:
    """Functions that run a reverse loop of their own: a ``reversed(...)`` and a call of
    a row's ``vjp_of`` or ``differentiable`` in one function."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            calls = [c.func for c in ast.walk(node) if isinstance(c, ast.Call)]
            names = {f.id for f in calls if isinstance(f, ast.Name)}
            methods = {f.attr for f in calls if isinstance(f, ast.Attribute)}
            if "reversed" in names and methods & {"vjp_of", "differentiable"}:
                found.append(node.name)
    return found


def test_one_reverse_loop_in_the_code_base():
    loops = {path.relative_to(PACKAGE).as_posix(): adjoint_loops(path.read_text(encoding="utf-8"))
             for path in PACKAGE.rglob("*.py")}
    assert {name: functions for name, functions in loops.items() if functions} == {
        "core/sweep.py": ["reverse"]}


def test_a_planted_second_reverse_loop_is_found():
    planted = ("def backward(p, value):\n"
               "    for node, rule, args in reversed(p.ops):\n"
               "        for i, arg in rule.differentiable(args):\n"
               "            value[arg] = rule.vjp_of(None, args, node, value[node], i)\n")
    assert adjoint_loops(planted) == ["backward"]


PROGRAM_ROWS = {"rows", "rules", "nodes", "ops", "leaves"}
"""What a program's rows are reached through (a program's attributes, or a list of rows
passed as ``ops`` or ``rows``; a SymPy node's ``args`` are a graph walk's, not rows).  The steps a reader sees (``steps``) are not rows: the
trace lists Step 2 in reverse for people, computing nothing."""


def reverse_row_loops(source: str) -> list[str]:
    """Functions that go over a program's rows in reverse order, whatever they compute:
    ``reversed(...)`` or a ``[::-1]`` slice of something reached through the rows."""
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "reversed" and node.args):
                target = node.args[0]
            elif (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)
                  and isinstance(node.slice.step, ast.UnaryOp)):
                target = node.value
            else:
                continue
            if any(isinstance(n, ast.Attribute) and n.attr in PROGRAM_ROWS
                   or isinstance(n, ast.Name) and n.id in {"ops", "rows"}
                   for n in ast.walk(target)):
                found.append(function.name)
                break
    return found


def test_every_reverse_loop_over_a_programs_rows_is_the_sweeps():
    loops = {path.relative_to(PACKAGE).as_posix(): reverse_row_loops(path.read_text("utf-8"))
             for path in PACKAGE.rglob("*.py")}
    assert {name: functions for name, functions in loops.items() if functions} == {
        "core/sweep.py": ["reverse"]}


@pytest.mark.parametrize("planted", [
    "def faults(p, adjoint):\n    for node in reversed([*p.leaves, *p.nodes]):\n"
    "        print(adjoint[node])\n",
    "def owners(self):\n    for node, args in zip(reversed(self.nodes), reversed(self.args)):\n"
    "        pass\n",
    "def last_first(rows):\n    return [r for r in rows[::-1]]\n"],
    ids=["a fault scan", "owners", "a slice"])
def test_a_planted_reverse_loop_over_rows_is_found(planted):
    assert len(reverse_row_loops(planted)) == 1


ROW_METHODS = {"forward", "jvp_of", "ops"}  # a row's value, tangent and count
ROWS = {"rows", "rules", "ops", "nodes"}  # what a program's rows are reached through


def row_loops(source: str) -> list[str]:
    """Functions with a forward loop over a program's rows that runs them: a ``for`` or
    a comprehension over rows (not ``reversed``) whose body calls a row's forward, jvp_of
    or ops, or a step the function was given."""
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        given = {a.arg for a in function.args.args}
        for loop in ast.walk(function):
            if isinstance(loop, ast.For):
                iterated, body = [loop.iter], loop.body
            elif isinstance(loop, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
                iterated, body = [g.iter for g in loop.generators], [loop.elt]
            else:
                continue
            over = {n.attr if isinstance(n, ast.Attribute) else n.id for i in iterated
                    for n in ast.walk(i) if isinstance(n, (ast.Attribute, ast.Name))}
            calls = [c.func for b in body for c in ast.walk(b) if isinstance(c, ast.Call)]
            runs = ({f.attr for f in calls if isinstance(f, ast.Attribute)} & ROW_METHODS
                    or {f.id for f in calls if isinstance(f, ast.Name)} & given)
            if over & ROWS and runs and "reversed" not in over:
                found.append(function.name)
                break
    return found


def test_one_forward_loop_in_the_code_base():
    loops = {path.relative_to(PACKAGE).as_posix(): row_loops(path.read_text(encoding="utf-8"))
             for path in PACKAGE.rglob("*.py")}
    assert {name: functions for name, functions in loops.items() if functions} == {
        "core/sweep.py": ["forward"]}


@pytest.mark.parametrize("planted", [
    "def run(p, value):\n"
    "    for node, rule, args in zip(p.nodes, p.rules, p.args):\n"
    "        value[node] = rule.forward(*[value[a] for a in args])\n",
    "def count(p):\n"
    "    return sum(rule.ops(len(args))[0] for rule, args in zip(p.rules, p.args))\n"],
    ids=["values", "counts"])
def test_a_planted_second_forward_loop_is_found(planted):
    assert row_loops(planted) == [planted[4:planted.index("(")]]


def test_forward_mode_runs_step_1_on_tangents():
    """Program.tangents (forward mode) and Program.run (values) are the one forward loop
    read twice: d/dw of the toy's loss by a tangent pass equals backprop's to 1e-12."""
    m = derive.model("toy")
    p = Program.from_expression(m.output, m.wrt)
    value = p.run(p.load(m.values))
    adjoint = p.backward(value)
    for w in m.wrt:
        dot = p.tangents(value, {w: 1.0})[p.output]
        assert abs(float(dot) - float(adjoint[w])) <= 1e-12 * max(1.0, abs(float(adjoint[w])))


def central_differences(source: str) -> list[int]:
    """Lines that divide a difference by a step's double: (… − …) / (2 * h)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
                and isinstance(node.right, ast.BinOp) and isinstance(node.right.op, ast.Mult)
                and any(isinstance(side, ast.Constant) and side.value in (2, 4)
                        for side in (node.right.left, node.right.right))
                and any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub)
                        for n in ast.walk(node.left))):
            found.append(node.lineno)
    return found


def test_one_central_difference_in_the_code_base():
    """check's central difference of the loss and the Hessian's of the gradient are
    derive.base.agreement.central, read twice."""
    found = {path.relative_to(PACKAGE).as_posix(): central_differences(path.read_text(encoding="utf-8"))
             for path in PACKAGE.rglob("*.py")}
    assert [name for name, lines in found.items() if lines] == ["base/agreement.py"]
    planted = "def d(f, h):\n    return (f(h) - f(-h)) / (2 * h)\n"
    assert central_differences(planted) == [2]
