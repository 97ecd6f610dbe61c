"""Issue 23, "one program, truly" (in part): Step 2, the reverse loop, is written once
(derive/sweep.py) and read in every arithmetic: backprop on numbers, forward-over-reverse
on dual numbers, the symbolic gradient on SymPy expressions, the operation count."""

import ast
from pathlib import Path

import pytest
import sympy

import derive
from derive.primitives import SYMBOLIC
from derive.staged import Program
from derive.symbolic import adjoints, dag_gradient

PACKAGE = Path(derive.__file__).resolve().parent


@pytest.mark.parametrize("spec", ["toy", "chain:tanh*8", "logistic:12", "mlp:2-4-4-1"])
def test_the_symbolic_gradient_is_the_programs_reverse_sweep_on_symbols(spec):
    """The program's own backward pass, run on SymPy symbols (each node's value is the
    node itself), gives derive.symbolic's adjoints, node for node, as the same trees."""
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
    loops = {path.name: adjoint_loops(path.read_text(encoding="utf-8"))
             for path in PACKAGE.rglob("*.py")}
    assert {name: functions for name, functions in loops.items() if functions} == {
        "sweep.py": ["reverse"]}


def test_a_planted_second_reverse_loop_is_found():
    planted = ("def backward(p, value):\n"
               "    for node, rule, args in reversed(p.ops):\n"
               "        for i, arg in rule.differentiable(args):\n"
               "            value[arg] = rule.vjp_of(None, args, node, value[node], i)\n")
    assert adjoint_loops(planted) == ["backward"]
