"""The ``derive`` command.

Exit codes: 0 success; 1 ``check`` found a disagreement (or a tool such as
pdflatex failed on a report); 2 a user error (one line on stderr, nothing run,
nothing written); 3 an internal error (a short message; ``--debug`` anywhere on
the command line shows the traceback); 130 interrupted (Ctrl-C); 141 stdout
closed early (``derive trace | head``), as for SIGPIPE.  A standard output that
is closed (``>&-``) or cannot be written (``>/dev/full``), or a deleted current
folder, is one line and exit 2 (:mod:`derive.base.streams`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from pathlib import Path

from derive.models import families
from derive.readings.costs import check_budget
from derive.base.errors import DeriveError
from derive.base.limits import BACKENDS, BUDGET, FD_SAMPLE, MAX_BATCH, MAX_HESSIAN_VARIABLES, MAX_NODES
from derive.base.limits import GRADE_FILE_MB as FILE_MB
from derive.base.limits import GRADE_MEMORY_MB as MEMORY_MB
from derive.base.limits import GRADE_PROCESSES as PROCESSES
from derive.base.limits import JAILS
from derive.base.errors import INSTALL
from derive.present.policy import WAYS, WORDS
from derive.version import __version__

# Each command imports what it needs when it runs: --help and --version load no SymPy,
# numpy, Jinja2 or matplotlib, and trace loads nothing of reports or charts.

DIFFERENTIATING = ("jacobian", "hessian")
"""Commands whose --wrt names the variables of a family model too."""

SUMMARY_ABOVE = 40
"""``check`` prints a summary instead of the full table above this many parameters."""

class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit 2."""

    def error(self, message):
        raise DeriveError(f"{message} (see 'derive {self.prog.split()[-1]} --help')"
                          if " " in self.prog else f"{message} (see 'derive --help')")


VALUE_OPTIONS = {"--expr", "--param", "--input", "--target", "--wrt", "--title", "--loss",
                 "--depth", "--out", "--format", "--timestamp", "--output", "--seed", "--allow-path",
                 "--batch", "--repeat", "--max-seconds"}
"""Options whose value may itself start with '-' (``--expr "-x"``, ``--param x=-1e-3``)."""


def _attach_values(argv: list[str]) -> list[str]:
    """``--expr -x`` as ``--expr=-x``, so argparse does not read -x as an option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _printable(text: str, what: str) -> str:
    """Text that reaches a report: no control, format or exotic space characters."""
    if not text.isprintable() or text != text.strip():
        raise DeriveError(f"bad {what} {text!r}: it holds a control character, an invisible "
                          "character or surrounding space")
    return text


def _model_argument(parser):
    parser.add_argument("model", nargs="?", default=None, metavar="MODEL",
                        help=families.model_help() + ", or a model file FILE.toml (default toy)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (one is shown on a terminal for work past a second)")
    parser.add_argument("--seed", type=_seed, default=0,
                        help="seed for chain parameters and batch draws (default 0)")
    parser.add_argument("--allow-path", metavar="DIR",
                        help="let a model file's @FILE values come from DIR too (by default "
                        "only from the model file's own folder)")
    own = parser.add_argument_group(
        "your own model", "Instead of MODEL: an expression in the documented grammar "
        "(numbers, names, + - * / ** ^, parentheses, the primitives). With a family MODEL, "
        "--param/--input/--target replace its values.")
    own.add_argument("--expr", metavar="TEXT", help='the prediction f, e.g. "b1 + w1*tanh(b0 + w0*x)"')
    own.add_argument("--param", action="append", metavar="NAME=VALUE",
                     help="a parameter and its value (repeatable)")
    own.add_argument("--input", action="append", metavar="NAME=VALUE",
                     help="an input: a number, or @FILE.csv / @FILE.npy for a batch (repeatable)")
    own.add_argument("--target", metavar="NAME=VALUE",
                     help="the target and its value (or @FILE); without it f is differentiated")
    own.add_argument("--wrt", metavar="NAMES", help="comma-separated names to differentiate "
                     "(default: every --param)")
    own.add_argument("--loss", default="least_squares",
                     choices=["least_squares", "binary_cross_entropy"],
                     help="(f-y)^2 (default) or -[y log f + (1-y) log(1-f)]")
    own.add_argument("--title", metavar="TEXT", help="a title for the model (plain text)")


FORCE_HELP = ("write through FILE where it is a symbolic link (to the link's target); "
              "without it a link is refused")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="derive", description=(
        "Symbolic versus numeric derivatives of composed models: notebook 7.1's "
        "forward pass, backward pass and parameter gradients for any chain, "
        "checked against SymPy and finite differences."))
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors "
                        "(anywhere on the command line)")
    parser.add_argument("--version", action="version", version=f"derive {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    _command(sub, "trace", _trace, "the notebook's Step 1, 2 and 3 as tables",
             "Step 1 (forward pass: each intermediate, its equation and value), Step 2 "
             "(each adjoint dl/dv) and Step 3 (parameter gradients) for MODEL.")

    check = _command(sub, "check", _check, "compare backprop, symbolic, finite differences",
                     "Compare each parameter's gradient by staged backprop (reverse mode) with "
                     "forward mode (one tangent pass per parameter), the symbolic derivative "
                     "(DAG sweep, and sympy.diff below its size cap), the central difference, "
                     "the complex step and, for a network, its scalar staged program: "
                     f"{WORDS[WAYS]} ways in all, {WORDS[WAYS + 1]} for a network. Exit 0 when "
                     "all agree, 1 when any disagree, 2 on bad input.")
    check.add_argument("--batch", type=int, metavar="N",
                       help="check on a seeded batch of N inputs (loss and gradients summed)")
    check.add_argument("--all", action="store_true",
                       help=f"the full table even above {SUMMARY_ABOVE} parameters (otherwise "
                       "a summary: counts, the worst error per method, every disagreement)")
    _budget_argument(check)
    check.add_argument("--fd-all", action="store_true",
                       help=f"forward mode and finite differences for every parameter (by "
                       f"default a seeded sample of {FD_SAMPLE:,} above that many)")

    sizes = _command(sub, "sizes", _sizes, "exact expression sizes by depth, with growth laws",
                     "One row per depth of FAMILY: tree and DAG sizes of the loss and of its "
                     "symbolic gradient, operation counts before and after sharing, "
                     "backprop's operations, and derivation times; then a fitted growth law "
                     "per measure in words: linear a + b*n, power a*n^k or exponential a*b^n, "
                     "fitted to the deeper half of the sweep; the best R^2 of the logarithms "
                     "wins, the simpler law while within 1e-4; timings only at R^2 >= 0.9.",
                     model=False, json=False)
    sizes.add_argument("family", metavar="FAMILY",
                       help=families.sweep_help())
    sizes.add_argument("--depth", default="1:12", metavar="A:B",
                       help="depths to sweep, inclusive (default 1:12)")
    sizes.add_argument("--seed", type=_seed, default=0, help="seed for chain parameters "
                       "(default 0)")
    sizes.add_argument("--max-seconds", type=float, metavar="S",
                       help="start no new depth after S seconds; keep the rows finished")
    sizes.add_argument("--quiet", action="store_true", help="no progress bar")
    _budget_argument(sizes, "; no depth starts that is predicted to end the sweep past it")
    sizes.add_argument("--order", type=int, default=1, choices=[1, 2],
                       help="2 adds the Hessian's sizes: its tree and DAG by the sweep over "
                       "the gradient, sympy.diff twice (capped), forward-over-reverse's ops")
    form = sizes.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="rows and fits as JSON")
    form.add_argument("--csv", action="store_true", help="rows as CSV")
    form.add_argument("--table1", action="store_true",
                      help="logistic only: Baydin et al. 2018 Table 1 (l_n, its "
                      "product-rule derivative, simplified)")

    code = _command(sub, "code", _code, "generated code for the loss and gradient",
                    "Write MODEL's loss and gradient as straight-line code read off the "
                    "expression graph: the forward pass, then the backward pass, one "
                    "assignment per step (arithmetic used once is written inside its user; "
                    "each array is deleted after its last use). The file needs only its "
                    "array library; running it prints the values.", json=False)
    code.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout); "
                      "a regular file or a new name, never a folder, device or FIFO")
    code.add_argument("--force", action="store_true", help=FORCE_HELP)
    code.add_argument("--backend", choices=list(BACKENDS), default="numpy",
                      help="; ".join(f"{k}: {v}" for k, v in BACKENDS.items()))

    bench = _command(sub, "bench", _bench, "time derivation, compile and evaluation",
                     "Median times of repeated runs, in one process: symbolic derivation "
                     "(sympy.diff vs the DAG sweep), compile (lambdify, lambdify cse=True, "
                     "generated code), evaluation over a batch (forward, backprop, "
                     "lambdified, generated), ratios, each gradient's relative error against "
                     "backprop and the peak memory of each numpy evaluation. With --against, "
                     "PyTorch autograd and jax.jit(jax.grad) of the same model, and derive's "
                     "generated code for those libraries, beside.")
    bench.add_argument("--batch", type=int, default=100_000, metavar="N",
                       help="evaluation batch size (default 100000)")
    bench.add_argument("--repeat", type=int, default=5, metavar="R",
                       help="timed runs per measurement (default 5)")
    bench.add_argument("--against", metavar="LIBS", default="",
                       help="frameworks to time beside, comma-separated: torch, jax (each "
                       f"optional: {INSTALL['torch']}, {INSTALL['jax']})")
    _budget_argument(bench)
    bench.add_argument("--threads", type=int, default=1, metavar="N",
                       help="threads for PyTorch and JAX (default 1, as numpy's elementwise "
                       "operations use)")

    graph = _command(sub, "graph", _graph, "draw the computational graph (SVG or PDF)",
                     "Draw MODEL's staged program as the book draws a computational graph: "
                     "a box per named step (f0, h1, ..., l) and per parameter and input, "
                     "arrows in the direction of the forward pass, each step labelled with "
                     "its equation in the book's notation. A network is drawn a box per "
                     f"vector or matrix, with its shape; past {MAX_NODES} boxes the middle "
                     "layers fold into one ('x 17 layers'). The layout is derive's own; no "
                     "Graphviz is needed.")
    graph.add_argument("-o", "--output", metavar="FILE",
                       help="write FILE.svg or FILE.pdf (default: the SVG on stdout)")
    graph.add_argument("--html", metavar="FILE",
                       help="write FILE (.html) as a page that steps through the three steps "
                       "on the graph: frame 0 the model, then a frame per forward step "
                       "(Step 1), per adjoint (Step 2) and per parameter or matrix (Step 3); "
                       "arrow keys step, Home and End jump, space plays; no network needed")
    graph.add_argument("--force", action="store_true", help=FORCE_HELP)
    graph.add_argument("--values", action="store_true",
                       help="each box also shows its forward value (Step 1)")
    graph.add_argument("--adjoints", action="store_true",
                       help="each box also shows its adjoint dl/dv (Step 2; for a parameter, "
                       "its gradient)")

    serve = _command(sub, "serve", _serve, "explore models in the browser, as you type",
                     "A local web page: type a model (toy, chain:tanh*12, mlp:1-4-4-1, or an "
                     "expression with its --param, --input and --target values) and see, as "
                     "you type, the three steps' tables, the graph with its step-through, the "
                     "symbolic gradient, the check table and, for a family, its sizes by "
                     "depth. Listens on 127.0.0.1 (this machine only) by default, on a free port "
                     "that it prints; the "
                     "page needs no network. Answers are computed in worker processes with a "
                     "time and a memory limit, with the CLI's limits on models. Needs the "
                     "extra: pip install 'derive[serve]' (Starlette and uvicorn).",
                     model=False, json=False)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=0,
                       help="port to listen on (default 0: a free one, printed)")
    serve.add_argument("--workers", type=int, default=2, metavar="N",
                       help="worker processes computing answers (default 2)")
    serve.add_argument("--timeout", type=float, default=20.0, metavar="SECONDS",
                       help="seconds one answer may take before its worker is stopped and "
                       "replaced (default 20)")
    serve.add_argument("--memory", type=int, default=3000, metavar="MB",
                       help="each worker's memory (address space) limit in MB (default 3000)")
    serve.add_argument("--measure", action="store_true",
                       help="instead of serving: start a server on a free port, time its "
                       "start, its first answer, warm answers for toy, chain:tanh*12 and "
                       "mlp:udl72, and 400 toy requests from 8 clients (p50, p95), print "
                       "the figures and stop it")

    _command(sub, "jacobian", _jacobian, "the Jacobian by forward and reverse mode",
                   "The Jacobian of MODEL's outputs before the loss (a network's f_K, or f) "
                   "with respect to its parameters or the --wrt names (e.g. --wrt x0,x1), by forward mode (one pass "
                   "per variable) and by reverse mode (one pass per output), with passes, "
                   "operations and seconds: forward mode wins when the variables are fewer "
                   "than the outputs. Exit 0 when both agree within 1e-10, 1 when not.")

    hessian = _command(sub, "hessian", _hessian, "the Hessian four ways",
                    "The Hessian of MODEL's loss (with respect to its parameters or the --wrt names) by forward-over-reverse (the backward pass on "
                    "dual numbers), the DAG sweep applied twice, sympy.diff twice (below its "
                    "cap) and central differences of the backprop gradient. Exit 0 when they "
                    "agree (exact methods within 1e-10*max(1,|H|), central differences within "
                    "1e-6*max(1,|H|) plus their error estimate), 1 when not, 2 on bad input. "
                    f"At most {MAX_HESSIAN_VARIABLES:,} variables.")

    _budget_argument(hessian, "; forward-over-reverse predicted over it is refused before "
                     "work (exit 2)")

    report = _command(sub, "report", _report, "write the HTML, LaTeX and PDF report",
                      "Write a report for MODEL: the model, the forward and backward passes, "
                      f"the gradient checked {WORDS[WAYS]} ways ({WORDS[WAYS + 1]} for a "
                      "network), the closed form "
                      "beside its shared intermediates, a growth sweep of the model's family with charts and "
                      "fitted laws, and a finite-difference step chart. Files: index.html, "
                      "report.tex, charts.pdf (its charts and graph, a page each), report.pdf "
                      "(when pdflatex is present) and data.json. The directory is replaced "
                      "whole at the end, so a failed run leaves an earlier report intact.",
                      json=False)
    report.add_argument("--depth", default="1:12", metavar="A:B",
                        help="depths of the family sweep (default 1:12)")
    report.add_argument("--out", metavar="DIR",
                        help="output folder (default reports/<model name>, e.g. reports/toy, "
                        "reports/file-<stem> for a model file, reports/expr-<title or hash> "
                        "for --expr); a folder holding files derive did not write is refused")
    report.add_argument("--force", action="store_true",
                        help="replace --out even if it holds files derive did not write (never "
                        "the current folder, its parents, the home folder or /)")
    report.add_argument("--format", default=None, metavar="LIST",
                        help="comma-separated formats among html, tex, pdf (default all, the PDF "
                        "where pdflatex is installed; data.json is always written)")
    report.add_argument("--max-seconds", type=float, metavar="S",
                        help="start no new depth of the sweep after S seconds")
    _budget_argument(report)
    report.add_argument("--timestamp", metavar="TEXT",
                        help="the timestamp printed in the report (default: now, UTC)")

    init = _command(sub, "init", _init, "notebook 7.3: growth of values at initialization",
                    "Notebook 7.3's experiment for K hidden ReLU layers of width D, weights "
                    "drawn N(0, sigma2) with legacy np.random.seed(SEED), zero biases: the std "
                    "of the hidden units h_k layer by layer on 1000 inputs (forward), and of "
                    "dl/df_k on 100 inputs with y = 0 (backward), printed as the notebook "
                    "prints them; then each std's factor per layer, fitted, beside the "
                    "theory's sqrt(D*sigma2/2) (ReLU) and the sigma2 that makes it 1 (He's "
                    "2/D). Several --sigma2 values run one after another (a sweep); --chart "
                    "draws them with the theory as lines.", model=False)
    init.add_argument("--K", type=int, default=5, metavar="K",
                      help="hidden layers (default 5, the notebook's; its TODO asks for 50)")
    init.add_argument("--D", type=int, default=8, metavar="D",
                      help="units per hidden layer (default 8; the TODO asks for 80)")
    init.add_argument("--sigma2", default="1", metavar="LIST",
                      help="comma-separated weight variances: numbers, he (2/D) or glorot "
                      "(1/D) (default 1, the notebook's)")
    init.add_argument("--activation", metavar="ACT",
                      help="the hidden layers' activation, any of the rule table's (default "
                      "relu, with the notebook's derivative 1[f >= 0]); only ReLU has a "
                      "one-line theory")
    init.add_argument("--seed", type=_seed, default=0,
                      help="np.random.seed of the draws (default 0, the notebook's)")
    init.add_argument("--chart", metavar="FILE", help="also draw FILE.svg or FILE.pdf: the "
                      "stds against the layer, one series per --sigma2, theory dashed")
    init.add_argument("--force", action="store_true", help=FORCE_HELP)

    grade = _command(sub, "grade", _grade, "grade completed notebooks 7.1, 7.2 and 7.3",
                     "Run a copy of each notebook (the file is never modified) in a fresh "
                     "Jupyter kernel inside a sandbox (a private folder, limits on memory, "
                     "CPU, files and processes, and a bubblewrap jail where it works: see "
                     "--jail), every cell even when one raises, and grade the values "
                     "it computed (7.1: f0 ... l_i, dldf3 ... dldf0, dldbeta0 ... dldomega3; "
                     "7.2: all_f, all_h, all_dl_dweights, all_dl_dbiases) against derive's "
                     "for the notebook's own parameters or weights; 7.3: both experiments at "
                     "K = 50, D = 80, their stds as derive computes them for the notebook's "
                     "sigma_sq_omega, each std within 10x of its first layer's at every layer "
                     "(the exploding layer named), and init_params, compute_network_output "
                     "and backward_pass against derive's program. Names the first wrong "
                     "step and its suspect rule; a TODO cell still holding the published "
                     "stub is 'not completed'. Scores each notebook by a rubric (each TODO "
                     "10 points by default) with a message per test. Exit 0 when every "
                     "notebook passes, 1 when any quantity is wrong or missing, 2 on bad "
                     "input (a bad notebook named here included: nothing runs).", model=False)
    grade.add_argument("notebooks", nargs="+", metavar="NOTEBOOK.ipynb|FOLDER",
                       help="notebooks, or folders whose notebooks (*.ipynb, in subfolders "
                       "too) are all graded: a teacher's folder of submissions")
    grade.add_argument("--timeout", type=float, default=60.0, metavar="S",
                       help="seconds each cell may run before it is interrupted (default 60)")
    grade.add_argument("--notebook-timeout", type=float, default=300.0, metavar="S",
                       help="seconds a whole notebook may run (default 300; also its CPU "
                       "seconds); then no other cell starts and its kernel is killed with "
                       "every process it started (a kernel that ignores the interrupt too)")
    grade.add_argument("--memory", type=int, default=MEMORY_MB, metavar="MB",
                       help=f"address space of the kernel and of each process it starts "
                       f"(default {MEMORY_MB})")
    grade.add_argument("--processes", type=int, default=PROCESSES, metavar="N",
                       help=f"processes and threads the notebook may run at once (default "
                       f"{PROCESSES}; it needs about 10)")
    grade.add_argument("--file-size", type=int, default=FILE_MB, metavar="MB",
                       help=f"largest file the notebook may write; in a jail, all it may "
                       f"write (default {FILE_MB})")
    grade.add_argument("--jail", choices=JAILS, default="auto",
                       help="bwrap: run each kernel in a bubblewrap jail (read-only system, "
                       "no network, the teacher's files hidden) or exit 2 where it cannot; "
                       "auto (default): where bwrap works, saying so where it does not; off: "
                       "limits and a private folder only")
    grade.add_argument("--workers", type=int, default=2, metavar="N",
                       help="notebooks graded at once, each in its own kernel (default 2)")
    grade.add_argument("--rubric", action="append", default=[], metavar="FILE.toml",
                       help="points per test for one notebook (7.1, 7.2 or 7.3), replacing "
                       "the built-in rubric (each TODO an equal share); may be repeated")
    grade.add_argument("--regrade", action="store_true",
                       help="grade every notebook again (by default a notebook graded "
                       "before, whose file has not changed, is skipped: its kept grade is "
                       "used)")
    grade.add_argument("--format", choices=("text", "json", "gradescope"), default="text",
                       help="what is printed: text (default); json (the documented object); "
                       "gradescope (Gradescope's results.json for one submission)")
    grade.add_argument("-o", "--output", metavar="FILE",
                       help="write what --format prints to FILE instead")
    grade.add_argument("--csv", metavar="FILE",
                       help="also write a gradebook: a row per notebook, a column per test")
    grade.add_argument("--html", metavar="FILE", help="also write the grades as an HTML page: "
                       "a class table first, then a section per notebook (never one of the "
                       "notebooks: that is refused)")
    grade.add_argument("--quiet", action="store_true",
                       help="no progress bar (one is shown on a terminal)")
    grade.add_argument("--force", action="store_true", help=FORCE_HELP)
    return parser


def _seed(text: str) -> int:
    """--seed's value: a whole number from 0 to MAX_SEED (argparse says so in one line)."""
    from derive.models.model import check_seed
    try:
        return check_seed(int(text))
    except (ValueError, DeriveError) as error:
        raise argparse.ArgumentTypeError(str(error) if isinstance(error, DeriveError) else
                                         f"--seed must be a whole number, got {text!r}")


def _seconds(text: str) -> float:
    """--budget's value: a positive number of seconds (argparse says so in one line)."""
    try:
        return check_budget(float(text))
    except ValueError as error:  # float()'s, or check_budget's DeriveError
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds, got {text!r}") from error


def _budget_argument(parser, more: str = ""):
    parser.add_argument("--budget", type=_seconds, default=BUDGET, metavar="SECONDS",
                        help="skip, saying why and what was predicted, any method predicted "
                        f"to take longer than this (all its runs together; default {BUDGET:g})"
                        f"{more}; predictions come from exact sizes, before the method runs")


def _command(sub, name, run, summary, description, model=True, json=True):
    """A subcommand: its help, the model options and --json where it has them."""
    parser = sub.add_parser(name, help=summary, description=description)
    if model:
        _model_argument(parser)
    if json:
        parser.add_argument("--json", action="store_true",
                            help="print the documented JSON object")
    parser.set_defaults(run=run)
    return parser


MAX_REPEAT = 1000
"""bench's --repeat at most (each repeat runs every evaluation once)."""
MAX_THREADS = 256
"""bench's --threads at most."""


def _load(args, batch: int | None = None):
    """The model the options describe, validated before any work."""
    from derive.models.families import load
    from derive.models.user import assignments, from_text, with_values
    cwd = Path(".")  # relative @FILE paths stay relative: no getcwd (the folder may be gone)
    params = assignments(args.param, "--param", cwd)
    inputs = assignments(args.input, "--input", cwd)
    target = assignments([args.target] if args.target else [], "--target", cwd)
    if args.expr is not None:
        if args.model is not None:
            raise DeriveError("give MODEL or --expr, not both")
        wrt = args.wrt.split(",") if args.wrt else None
        built = from_text(args.expr, params, inputs, target or None, wrt, args.loss, args.title)
    else:
        spec = _printable(args.model if args.model is not None else "toy", "model name")
        args.wrt_names, args.wrt = args.wrt, None if args.command in DIFFERENTIATING else args.wrt
        if args.wrt or args.title or args.loss != "least_squares":
            raise DeriveError("--wrt, --loss and --title go with --expr")
        built = load(spec, seed=args.seed, allow_path=args.allow_path)
        if params or inputs or target:
            built = with_values(built, {**params, **inputs, **target})
    if batch is None:
        return built
    if 1 <= batch <= MAX_BATCH:  # outside, batch() says the limit in its own words
        _check_memory(built, batch)
    return built.batch(batch, args.seed)


def _check_memory(built, batch: int) -> None:
    """Refuse, before work, a batch whose check is predicted to hold more than MEMORY
    bytes: the values one forward pass keeps per example, from passes over batches of 1
    and 2 (cheap), times the batch and MEMORY_FACTOR."""
    import numpy as np
    from derive.base.limits import MEMORY, MEMORY_FACTOR
    from derive.core.program import program
    kept = []
    for n in (1, 2):
        small = built.batch(n, 0)
        with np.errstate(all="ignore"):
            value = program(small).forward(small.values)
        kept.append(sum(int(np.size(v)) for v in value.values()))
    predicted = 8 * MEMORY_FACTOR * (kept[0] + (kept[1] - kept[0]) * (batch - 1))
    if predicted > MEMORY:
        raise DeriveError(f"--batch {batch:,} would need about {predicted / 1e9:,.1f} GB "
                          f"(predicted from {kept[1] - kept[0]:,} values kept per example), "
                          f"over the {MEMORY / 1e9:.1f} GB limit: use a smaller --batch")


def _progress(args):
    """Progress bars on stderr, only where it is a terminal and --quiet is not given."""
    from derive.present import terminal as text
    return text.progress_bars(sys.stderr.isatty() and not getattr(args, "quiet", False))


def _trace(args) -> int:
    from derive.present import terminal as text
    from derive.present.steps import trace
    from derive.base.table import json_text
    result = trace(_load(args))
    print(json_text(result.to_json(), indent=2) if args.json else text.format_trace(result))
    return 0


def _check(args) -> int:
    from derive.present import terminal as text
    from derive.checks.check import check
    from derive.base.table import json_text
    result = check(_load(args, args.batch), progress=_progress(args), fd_all=args.fd_all,
                   seed=args.seed, budget=args.budget)
    if args.json:
        print(json_text(result.to_json(), indent=2))
    elif len(result.rows) > SUMMARY_ABOVE and not args.all:
        print(text.format_check_summary(result))
    else:
        print(text.format_check(result))
    return 0 if result.agree else 1


def _sizes(args) -> int:
    from derive.checks import growth
    from derive.present import terminal as text
    from derive.base.table import json_text
    if args.table1:
        return _table1(args.family, growth.parse_depths(args.depth))
    result = growth.size_sweep(args.family, args.depth, args.seed, progress=_progress(args),
                               max_seconds=args.max_seconds, order=args.order,
                               budget=args.budget)
    if args.json:
        print(json_text(result.to_json(), indent=2))
    elif args.csv:
        keys = growth.ROW_KEYS + (growth.ORDER2_KEYS if args.order == 2 else [])
        print(",".join(keys))
        for row in result.rows:
            print(",".join("" if row[k] is None else str(row[k]) for k in keys))
    else:
        print(text.format_sweep(result))
    return 0


def _table1(family, depths) -> int:
    from derive.checks import growth
    families.expanded(family)
    if depths.stop - 1 > 6:
        raise DeriveError("--table1 expands polynomials of degree 2^(n-1): use depths up to 6")
    from derive.present.notation import ascending_text
    for row in growth.table1(depths):
        print(f"n = {row['n']}")
        for key in ("l_n", "derivative", "simplified"):
            print(f"  {key:<11} {ascending_text(row[key])}")
    return 0


def _variables(args, built):
    """The symbols --vars names (or the model's parameters)."""
    wrt = getattr(args, "wrt_names", None)
    if not wrt:
        return None
    by_name = {str(s): s for s in built.values}
    names = [n.strip() for n in wrt.split(",")]
    unknown = [n for n in names if n not in by_name]
    if unknown or len(set(names)) != len(names):
        raise DeriveError(f"bad --wrt {wrt!r}: " + (f"{built.name} has no symbol {unknown[0]!r}"
                                                    if unknown else "a name is repeated"))
    return [by_name[n] for n in names]


def _jacobian(args) -> int:
    from derive.readings import modes
    from derive.present import terminal as text
    from derive.base.table import json_text
    built = _load(args)
    result = modes.jacobian(built, _variables(args, built))
    print(json_text(result.to_json(), indent=2) if args.json else text.format_jacobian(result))
    return 0 if result.agree else 1


def _hessian(args) -> int:
    from derive.readings import hessian
    from derive.present import terminal as text
    from derive.base.table import json_text
    built = _load(args)
    result = hessian.hessian(built, _variables(args, built), progress=_progress(args),
                           budget=args.budget)
    print(json_text(result.to_json(), indent=2) if args.json else text.format_hessian(result))
    return 0 if result.agree else 1


def _written(path: str) -> None:
    """Say where a file went: its name, and a note where a link was written through."""
    if os.path.islink(path):
        print(f"derive: note: {path!r} is a symbolic link: wrote its target", file=sys.stderr)
    print(path)


def _code(args) -> int:
    from derive.readings.codegen import model_source
    from derive.base.writing import check_file, write_text
    if args.output is not None:
        check_file(args.output, args.force)
    source = model_source(_load(args), args.backend)
    if args.output is not None:
        write_text(args.output, source, args.force)
        _written(args.output)
    else:
        print(source)
    return 0


def _graph(args) -> int:
    from derive.base.writing import check_file, write_bytes
    from derive.present.picture import graph
    from derive.base.table import json_text
    suffix = Path(args.output).suffix.lower() if args.output else ".svg"
    if suffix not in (".svg", ".pdf"):
        raise DeriveError(f"bad --output {args.output!r}: the file must end in .svg or .pdf")
    if args.html is not None:
        return _graph_page(args)
    if args.output is not None and not args.json:
        check_file(args.output, args.force)
    picture = graph(_load(args), values=args.values, adjoints=args.adjoints)
    if args.json:
        print(json_text(picture.to_json(), indent=2))
    elif args.output:
        write_bytes(args.output, picture.pdf() if suffix == ".pdf" else picture.svg().encode(),
                    args.force)
        _written(args.output)
    else:
        print(picture.svg())
    return 0


def _serve(args) -> int:
    from derive.present.serve import serve
    if not 1 <= args.workers <= 64:
        raise DeriveError("--workers must be a whole number from 1 to 64")
    if not 0 <= args.port <= 65535:
        raise DeriveError("--port must be a whole number from 0 (a free one) to 65535")
    if not 0.1 <= args.timeout <= 3600:
        raise DeriveError("--timeout must be from 0.1 to 3600 seconds")
    if not 1000 <= args.memory <= 1_000_000:
        raise DeriveError("--memory must be from 1,000 to 1,000,000 MB")
    if args.measure:
        from derive.present.serve import measure
        print(measure())
        return 0
    return serve(args.host, args.port, args.workers, args.timeout, args.memory)


def _graph_page(args) -> int:
    """``graph --html FILE``: the step-through page (it shows values and adjoints)."""
    from derive.base.writing import check_file, write_text
    from derive.present.report import graph_page as page
    if args.output is not None or args.json:
        raise DeriveError("--html writes a page of its own: give it without -o and --json")
    _printable(args.html, "--html")
    if Path(args.html).suffix.lower() not in (".html", ".htm"):
        raise DeriveError(f"bad --html {args.html!r}: the file must end in .html")
    check_file(args.html, args.force, "--html")
    write_text(args.html, page(_load(args)), args.force, "--html")
    _written(args.html)
    return 0


def _bench(args) -> int:
    from derive.checks import frameworks
    from derive.present import terminal as text
    from derive.checks.bench import bench
    from derive.base.table import json_text
    if not 1 <= args.batch <= MAX_BATCH or not 1 <= args.repeat <= MAX_REPEAT:
        raise DeriveError(f"--batch must be a whole number from 1 to {MAX_BATCH:,} and "
                          f"--repeat one from 1 to {MAX_REPEAT:,}")
    if not 1 <= args.threads <= MAX_THREADS:
        raise DeriveError(f"--threads must be a whole number from 1 to {MAX_THREADS}")
    against = frameworks.parse(args.against) if args.against else []
    result = bench(_load(args), batch=args.batch, repeat=args.repeat, seed=args.seed,
                   progress=_progress(args), against=against, threads=args.threads,
                   budget=args.budget)
    print(json_text(result, indent=2) if args.json else text.format_bench(result))
    return 0


MAX_SIGMA2_RUNS = 12
"""init's --sigma2 values at most."""


def _init(args) -> int:
    from derive.checks import initialization
    from derive.present import terminal as text
    from derive.base.table import json_text
    initialization.check_shape(args.K, args.D)
    words = args.sigma2.split(",")
    if not 1 <= len(words) <= MAX_SIGMA2_RUNS:
        raise DeriveError(f"bad --sigma2 {args.sigma2!r}: 1 to {MAX_SIGMA2_RUNS} values")
    variances = [initialization.sigma2_value(w, args.D) for w in words]
    suffix = Path(args.chart).suffix.lower() if args.chart else None
    if args.chart is not None:
        from derive.base.writing import check_file
        if suffix not in (".svg", ".pdf"):
            raise DeriveError(f"bad --chart {args.chart!r}: the file must end in .svg or .pdf")
        check_file(args.chart, args.force, "--chart")
    activation = args.activation or initialization.NOTEBOOK
    runs = [initialization.experiment(args.K, args.D, v, activation, args.seed)
            for v in variances]
    if args.json:
        objects = [r.to_json() for r in runs]
        print(json_text(objects[0] if len(objects) == 1 else objects, indent=2))
    else:
        print(text.format_init(runs))
    if args.chart is not None:
        from derive.present.charts import values_chart
        from derive.base.writing import write_bytes
        title = f"growth of values with depth (K = {args.K}, D = {args.D}, {activation})"
        picture = values_chart([r.to_json() for r in runs], suffix[1:], title)
        write_bytes(args.chart, picture.encode() if suffix == ".svg" else picture, args.force,
                    "--chart")
        print(f"derive: chart: {args.chart}", file=sys.stderr)
    return 0


def _check_grade_limits(args) -> None:
    """A one-line DeriveError for a grading limit out of its range, or a jail asked for
    that cannot start."""
    from derive.usercode.sandbox import bwrap_works
    if not 0 < args.timeout <= 3600:
        raise DeriveError("--timeout must be a number of seconds from 0 to 3600")
    if not 0 < args.notebook_timeout <= 86400:
        raise DeriveError("--notebook-timeout must be a number of seconds from 0 to 86400")
    if not 256 <= args.memory <= 1 << 20:
        raise DeriveError("--memory must be a number of MB from 256 to 1048576")
    if not 16 <= args.processes <= 100_000:
        raise DeriveError("--processes must be a number from 16 to 100000")
    if not 1 <= args.file_size <= 1 << 20:
        raise DeriveError("--file-size must be a number of MB from 1 to 1048576")
    if not 1 <= args.workers <= 64:
        raise DeriveError("--workers must be a number from 1 to 64")
    if args.jail == "bwrap" and bwrap_works():
        raise DeriveError(f"--jail bwrap: {bwrap_works()} (install the Debian package "
                          "bubblewrap, or use --jail auto)")


def _grade_outputs(args, notebooks) -> dict:
    """{flag: path} of the files grade writes (-o, --csv, --html), each checked before
    any notebook runs; none may be a notebook being graded."""
    from derive.base.writing import check_file
    outputs = {}
    for flag, name in (("-o", args.output), ("--csv", args.csv), ("--html", args.html)):
        if name is not None:
            _printable(name, flag)
            outputs[flag] = check_file(name, args.force, flag)
            for notebook in notebooks:
                if _same_file(outputs[flag], notebook):
                    raise DeriveError(f"{flag} {name!r} is one of the notebooks being "
                                      "graded: choose another file")
    return outputs


def _grades_text(results, form: str, seconds: float) -> str:
    """What grade prints (or writes to -o): JSON, Gradescope's results.json, one
    notebook's report, or a line per notebook and the class's totals."""
    from derive.usercode import gradebook
    from derive.base.table import json_text
    if form == "json":
        return json_text({"notebooks": [r.to_json() for r in results],
                          "passed": sum(r.passed for r in results),
                          "failed": sum(not r.passed for r in results)}, indent=2)
    if form == "gradescope":
        return json_text(gradebook.gradescope(results, seconds), indent=2)
    if len(results) == 1:
        return results[0].report()
    return "\n".join(r.summary for r in results) + (
        f"\n{len(results)} notebooks: {sum(r.passed for r in results)} passed, "
        f"{sum(not r.passed for r in results)} failed; "
        f"{sum(r.score for r in results):g} of {sum(r.max_score for r in results):g} points")


def _grade(args) -> int:
    import time

    from derive.usercode import gradebook
    from derive.usercode.grading import Graded, grade_all
    from derive.base.writing import write_text
    from derive.present.report import render_grades
    from derive.usercode.sandbox import Limits
    started = time.perf_counter()
    _check_grade_limits(args)
    form = "json" if args.json else args.format
    rubrics = dict(_rubric(path) for path in args.rubric)
    paths, refused = _notebooks(args.notebooks)
    if form == "gradescope" and not paths and not refused:
        raise DeriveError("--format gradescope: no notebook to grade")
    outputs = _grade_outputs(args, [*paths, *(p for p, _ in refused)])
    limits = Limits(args.memory, int(args.notebook_timeout) + 5, args.file_size,
                    args.processes, args.jail)
    settings = {"timeout": args.timeout, "notebook_timeout": args.notebook_timeout,
                "limits": limits, "rubrics": sorted(rubrics.items()), "derive": __version__}
    names = {str(p): gradebook.name(p, settings) for p in paths}
    kept = {} if args.regrade else {p: gradebook.recall(names[str(p)]) for p in paths}
    todo = [p for p in paths if kept.get(p) is None]
    if len(paths) > len(todo):
        print(f"derive: {len(paths) - len(todo)} notebook(s) graded before and unchanged: "
              "kept grades used (--regrade grades them again)", file=sys.stderr)
    bar = _progress(args) if len(todo) > 1 else None
    shown = bar(None, total=len(todo), desc="grading") if bar else None

    def done(graded):
        gradebook.keep(names[graded.path], graded)
        if shown is not None:
            shown.update(1)

    fresh = dict(zip(todo, grade_all([str(p) for p in todo], args.timeout,
                                     workers=args.workers,
                                     notebook_timeout=args.notebook_timeout, limits=limits,
                                     rubrics=rubrics, done=done)))
    if shown is not None:
        shown.close()
    results = [fresh[p] if p in fresh else Graded.from_json(
        kept[p], str(p), rubrics.get(kept[p]["notebook"], ())) for p in paths]
    results += [Graded(str(p), None, problem=why) for p, why in refused]
    text = _grades_text(results, form, time.perf_counter() - started)
    if "-o" in outputs:
        write_text(outputs["-o"], text + "\n", args.force, "-o")
    else:
        print(text)
    if "--csv" in outputs:
        write_text(outputs["--csv"], gradebook.csv_text(results), args.force, "--csv")
    if "--html" in outputs:
        write_text(outputs["--html"], render_grades(results), args.force, "--html")
    return 0 if all(r.passed for r in results) else 1


def _notebooks(names) -> tuple[list[Path], list]:
    """The notebooks named (each checked now: a bad one exits 2 before any runs) and those
    in the folders named (a bad entry there is that entry's grade)."""
    from derive.usercode.gradebook import notebooks_in
    paths, refused = [], []
    for name in names:
        path = Path(_printable(name, "notebook path"))
        if path.is_dir() and not path.is_symlink():
            found, bad = notebooks_in(path)
            if not found and not bad:
                raise DeriveError(f"bad notebook folder {name!r}: no notebooks (*.ipynb) in it")
            paths += found
            refused += bad
        else:
            _parse_notebook(path)  # read within bounds: a FIFO, a device, 3 GB refused
            paths.append(path)
    return list(dict.fromkeys(paths)), refused


def _parse_notebook(path: Path) -> None:
    """Refuse (one line) a file that is not a Jupyter notebook: not UTF-8, not JSON, or
    JSON without a notebook's cells."""
    from derive.base.files import NOTEBOOK_BYTES, read_bytes
    try:
        data = json.loads(read_bytes(path, "notebook", NOTEBOOK_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DeriveError(f"bad notebook {str(path)!r}: not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise DeriveError(f"bad notebook {str(path)!r}: JSON, but not a notebook (no cells)")


def _rubric(path: str) -> tuple:
    from derive.base.files import MODEL_FILE_BYTES, read_bytes
    from derive.usercode.rubric import read
    data = read_bytes(_printable(path, "--rubric"), "rubric", MODEL_FILE_BYTES)
    try:
        return read(data.decode("utf-8"), path)
    except UnicodeDecodeError:
        raise DeriveError(f"bad rubric {path!r}: not UTF-8 text") from None


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _report(args) -> int:
    from derive.models.families import output_name, sweeps
    from derive.present.report import formats_for, make_report
    formats, notes = formats_for(args.format)  # a missing pdflatex is said before any work
    if args.timestamp is not None and not re.fullmatch(r"[ -~]{1,64}", args.timestamp):
        raise DeriveError("bad --timestamp: use 1 to 64 printable ASCII characters")
    if args.out is not None:
        _printable(args.out, "--out")
    built = _load(args)
    spec = None if args.expr is not None else (args.model or "toy")
    family = None if spec is None or spec.endswith(".toml") else sweeps(spec)
    out = args.out or output_name(spec, args.expr, args.title)
    result = make_report(built, args.depth, out, formats, args.timestamp, args.seed,
                         shlex.join(["derive", *args.argv]), family=family,
                         max_seconds=args.max_seconds, force=args.force,
                         progress=_progress(args), budget=args.budget)
    stopped = [g["stopped"] for g in result.data["growth"] if g["stopped"]]
    for note in notes + result.notes + stopped:
        print(f"derive: note: {note}", file=sys.stderr)
    for path in result.paths:
        print(path)
    return 0


def main(argv=None) -> int:
    """Run the command; returns the exit code (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = _attach_values([a for a in argv if a != "--debug"])
    parser = build_parser()
    from derive.base import streams
    try:
        streams.prepare(svg=argv[:1] == ["graph"])
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # --help and --version
            return done.code or 0
        args.argv = argv
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        code = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except DeriveError as error:
        print(f"derive: error: {error}", file=sys.stderr)
        caret = getattr(error, "caret", None)
        if caret and caret():
            print(caret(), file=sys.stderr)
        return getattr(error, "exit_code", 2)
    except FileNotFoundError as error:
        if _cwd_exists():
            return _internal(error, debug)
        print("derive: error: the current folder no longer exists (it was deleted or moved): "
              "cd to a folder that exists", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if "derive.present.terminal" in sys.modules:
            sys.modules["derive.present.terminal"].end_progress()
        print("derive: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # an internal error: short, with the way to see more
        return _internal(error, debug)
    finally:
        streams.restore()


def _internal(error: Exception, debug: bool) -> int:
    if debug:
        raise error
    print(f"derive: internal error: {type(error).__name__}: {error} "
          "(add --debug anywhere on the command line for the traceback)", file=sys.stderr)
    return 3


def _cwd_exists() -> bool:
    try:
        os.getcwd()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
