"""The ``derive`` command.

Exit codes: 0 success; 1 ``check`` found a disagreement; 2 a user error (one
line on stderr, nothing run, nothing written); 3 an internal error (a short
message; ``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import DeriveError

MODEL_HELP = ("toy (notebook 7.1, the default), chain:LIST or chain:LIST*K "
              "(e.g. chain:sin,exp,cos*4, chain:tanh*12), logistic:N")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit 2."""

    def error(self, message):
        raise DeriveError(f"{message} (see 'derive {self.prog.split()[-1]} --help')"
                          if " " in self.prog else f"{message} (see 'derive --help')")


def _model_argument(parser):
    parser.add_argument("model", nargs="?", default="toy", metavar="MODEL", help=MODEL_HELP)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for chain parameters and batch draws (default 0)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="derive", description=(
        "Symbolic versus numeric derivatives of composed models: notebook 7.1's "
        "forward pass, backward pass and parameter gradients for any chain, "
        "checked against SymPy and finite differences."))
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    trace = sub.add_parser("trace", help="the notebook's Step 1, 2 and 3 as tables",
                           description="Step 1 (forward pass: each intermediate, its "
                           "equation and value), Step 2 (each adjoint dl/dv) and Step 3 "
                           "(parameter gradients) for MODEL.")
    _model_argument(trace)
    trace.add_argument("--json", action="store_true", help="print the documented JSON object")
    trace.set_defaults(run=_trace)

    check = sub.add_parser("check", help="compare backprop, symbolic, finite differences",
                           description="Compare each parameter's gradient four ways: staged "
                           "backprop, the symbolic derivative (DAG sweep, and sympy.diff "
                           "below its size cap), the central difference and the complex "
                           "step. Exit 0 when all agree, 1 when any disagree, 2 on bad input.")
    _model_argument(check)
    check.add_argument("--json", action="store_true", help="print the documented JSON object")
    check.add_argument("--batch", type=int, metavar="N",
                       help="check on a seeded batch of N inputs (loss and gradients summed)")
    check.set_defaults(run=_check)
    return parser


def _load(args):
    from .models import model
    built = model(args.model, seed=args.seed)
    if getattr(args, "batch", None) is not None:
        built = built.batch(args.batch, args.seed)
    return built


def _trace(args) -> int:
    from .staged import trace
    result = trace(_load(args))
    print(json.dumps(result.to_json(), indent=2) if args.json else result)
    return 0


def _check(args) -> int:
    from .compare import check
    result = check(_load(args))
    print(json.dumps(result.to_json(), indent=2) if args.json else result)
    return 0 if result.agree else 1


def main(argv=None) -> int:
    parser = build_parser()
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        return args.run(args)
    except DeriveError as error:
        print(f"derive: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("derive: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # an internal error: short, with the way to see more
        if debug:
            raise
        print(f"derive: internal error: {type(error).__name__}: {error} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
