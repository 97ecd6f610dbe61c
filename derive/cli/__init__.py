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
import os
import sys

from derive.models import families
from derive.readings.costs import check_budget
from derive.base.errors import DeriveError
from derive.base.limits import BACKENDS, BUDGET, FD_SAMPLE, MAX_HESSIAN_VARIABLES, MAX_NODES
from derive.base.limits import GRADE_FILE_MB as FILE_MB
from derive.base.limits import GRADE_MEMORY_MB as MEMORY_MB
from derive.base.limits import GRADE_PROCESSES as PROCESSES
from derive.base.limits import JAILS
from derive.base.errors import INSTALL
from derive.present.policy import WAYS, WORDS
from derive.version import __version__
from derive.cli.commands import (SUMMARY_ABOVE, _bench, _check, _code, _graph, _hessian, _init,
                                 _jacobian, _report, _serve, _sizes, _trace)
from derive.cli.grade import _grade

# Each command imports what it needs when it runs: --help and --version load no SymPy,
# numpy, Jinja2 or matplotlib, and trace loads nothing of reports or charts.


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

