"""The terminal's view: traces, checks, sweeps and benchmarks as aligned text.

>>> from derive.models.families import model
>>> from derive.present.steps import trace
>>> print(format_trace(trace(model("toy"))).splitlines()[0])
model toy    loss 0.138581
"""

from __future__ import annotations

import math
import os
import shutil
import sys

from typing import TYPE_CHECKING

from derive.present.policy import HESSIAN_METHODS, METHOD_NAMES, SIZE_HEADERS, hessian_verdict
from derive.base.table import Table, cell

if TYPE_CHECKING:  # the types only: trace's text needs none of check, sizes or bench
    from derive.checks.check import Check
    from derive.checks.growth import Sweep
    from derive.present.steps import Trace


def _heading(result) -> str:
    """'model toy    loss 0.138581'; a model with no loss (the logistic map) differentiates
    its output, and says which: 'output l₄ = 0.994345'."""
    value = f"loss {result.loss:.6g}" if result.of == "ℓ" else \
        f"output {result.of} = {result.loss:.6g}"
    return f"model {result.model}    {value}"


def format_trace(t: Trace) -> str:
    """Step 1, Step 2 and Step 3 as tables, then any numeric faults."""
    grads = Table(["name", "gradient"], [{"name": k, "gradient": v}
                                         for k, v in t.gradients.items()],
                  headers={"gradient": f"∂{t.of}/∂param"})
    steps = Table(["name", "text", "value"], t.forward.rows, headers={"text": "equation"})
    return "\n\n".join([
        _heading(t),
        "Step 1: forward pass\n" + str(steps),
        "Step 2: backward pass\n" + str(t.backward),
        "Step 3: parameter gradients\n" + str(grads)]
        + [describe_faults(t.faults)] * bool(t.faults))


def format_check(c: Check) -> str:
    """The comparison table, its notes, the tolerances and the verdict."""
    table = Table(c.rows.columns, [_flagged(r) for r in c.rows], headers=METHOD_NAMES)
    lines = [_heading(c), "", str(table), ""]
    lines += [f"note: {n}" for n in c.notes]
    if c.faults:
        lines += [describe_faults(c.faults), "NaN and infinity never count as agreement."]
    tol = ", ".join(f"{METHOD_NAMES[k]} rtol={t.rtol:g} atol={t.atol:g}"
                    f"{'·max(1, |ℓ|)' if t.scaled else '·‖g‖∞'}" for k, t in c.tolerances.items())
    lines += [f"tolerances vs backprop: {tol}",
              "all agree" if c.agree else
              f"DISAGREE: {', '.join(r['name'] for r in c.disagreements())}"]
    return "\n".join(lines)


def _flagged(row: dict) -> dict:
    """A row whose central difference or complex step is not compared shows why beside
    the number: (kink), (domain), (unreliable) or (underflow)."""
    shown = dict(row)
    for method, flag in [("central_difference", "central_flag"),
                         ("complex_step", "complex_flag")]:
        if row.get(flag):
            shown[method] = f"{cell(row[method])} ({row[flag]})"
    return shown


def format_check_summary(c: Check) -> str:
    """A check of many parameters in brief: counts, the worst relative error of each
    method against backprop, every disagreement in full, the notes and the verdict."""
    rows = list(c.rows)
    methods = [m for m in c.rows.columns if m not in ("name", "backprop", "agree")]
    lines = [_heading(c),
             f"{len(rows)} parameters: {sum(r['agree'] for r in rows)} agree, "
             f"{sum(not r['agree'] for r in rows)} disagree, "
             f"{sum(bool(r['central_flag']) for r in rows)} central differences flagged "
             "(kink, domain or unreliable)", "",
             "worst relative error against backprop:"]
    for m in methods:
        errors = [(abs(r[m] - r["backprop"]) / max(abs(r["backprop"]), 1e-300), r["name"])
                  for r in rows if r[m] is not None and math.isfinite(r[m])]
        compared = len(errors)
        worst = max(errors, default=None)
        shown = f"{worst[0]:.2e} ({worst[1]})" if worst else "-"
        lines.append(f"  {METHOD_NAMES[m]:<14} {shown}   over {compared} parameters")
    bad = c.disagreements()
    if bad:
        lines += ["", "disagreements:",
                  str(Table(c.rows.columns, [_flagged(r) for r in bad], headers=METHOD_NAMES))]
    lines += ["", *[f"note: {n}" for n in c.notes]]
    if c.faults:
        lines += [describe_faults(c.faults), "NaN and infinity never count as agreement."]
    lines += ["(--all prints every parameter)",
              "all agree" if c.agree else f"DISAGREE: {', '.join(r['name'] for r in bad)}"]
    return "\n".join(lines)


def format_jacobian(j) -> str:
    """Both Jacobians' agreement and what each mode cost."""
    worst = max((abs(a - b) / max(1.0, abs(b)) for ra, rb in zip(j.forward_mode, j.reverse_mode)
                 for a, b in zip(ra, rb)), default=0.0)
    rows = [{"name": mode.replace("_", " "), "passes": j.passes[mode], "ops": j.ops[mode],
             "seconds": j.seconds[mode]} for mode in ("forward_mode", "reverse_mode")]
    cheaper = min(rows, key=lambda r: r["ops"])["name"]
    lines = [f"model {j.model}: the Jacobian of {len(j.outputs)} output(s) "
             f"({', '.join(j.outputs[:6])}{', ...' if len(j.outputs) > 6 else ''}) with "
             f"respect to {len(j.variables)} variable(s)", "",
             str(Table(["name", "passes", "ops", "seconds"], rows, headers={"name": "mode"})),
             "", f"{cheaper} is cheaper here: forward mode makes one pass per variable, "
             "reverse mode one per output.",
             f"largest difference between the two: {worst:.2e} (times max(1, |entry|))",
             "both agree" if j.agree else "DISAGREE"]
    return "\n".join(lines)


def format_hessian(h) -> str:
    """The Hessian by forward-over-reverse, and how far each other method is from it."""
    reference = h.matrices["forward_over_reverse"]
    names = h.parameters
    rows = [{"name": n, **{m: v for m, v in zip(names, row)}} for n, row in zip(names, reference)]
    lines = [f"model {h.model}: the Hessian by forward-over-reverse", ""]
    if len(names) <= 12:
        lines.append(str(Table(["name", *names], rows)))
    else:
        lines.append(f"({len(names)}x{len(names)}: --json prints it)")
    lines += ["", "largest difference from forward-over-reverse, times max(1, |entry|):"]
    differences = h.differences()
    for method, worst in differences.items():
        shown = "skipped" if worst is None else f"{worst:.2e}"
        lines.append(f"  {HESSIAN_METHODS.get(method, method):<36} {shown}")
    lines += [*[f"note: {n}" for n in h.notes],
              "tolerances: exact methods 1e-10*max(1,|H|); central differences "
              "1e-6*max(1,|H|) plus their error estimate",
              hessian_verdict(h.agree, differences)]
    return "\n".join(lines)


def progress_bars(enabled: bool):
    """A progress callable for the core (``progress(items, total=, desc=)``): tqdm bars
    on stderr that appear once work runs past a second (tqdm's own ``TQDM_DELAY``
    environment variable, in seconds, sets another wait) and clear themselves when
    done or interrupted; None (no bars) where not ``enabled``.

    tqdm, a well-kept library, rather than our own: it handles terminal widths,
    rates and clean-up on Ctrl-C.
    """
    if not enabled:
        return None
    from tqdm import tqdm
    delay = _seconds(os.environ.get("TQDM_DELAY"), default=1.0)

    def bar(items, total=None, desc=""):
        shown = tqdm(items, total=total, desc=desc, file=sys.stderr, leave=False, delay=delay,
                     mininterval=0.25, dynamic_ncols=True)
        _BARS.append(shown)
        return shown

    return bar


_BARS: list = []


def _seconds(text, default: float) -> float:
    """``text`` as a number of seconds ≥ 0, or ``default`` where it is not one."""
    try:
        seconds = float(text)
    except (TypeError, ValueError):
        return default
    return seconds if 0 <= seconds < float("inf") else default


def end_progress():
    """Clear every progress bar still on the screen (before a last line such as
    'interrupted'), so that line starts at the left margin."""
    while _BARS:
        _BARS.pop().close()
    if sys.stderr.isatty():  # a bar drawn as Ctrl-C arrived: blank its line whatever tqdm did
        width = shutil.get_terminal_size().columns
        sys.stderr.write("\r" + " " * max(width - 1, 0) + "\r")
        sys.stderr.flush()


def format_sweep(s: Sweep) -> str:
    """The sweep as an aligned table, then each fitted law in words."""
    from derive.checks.growth import ORDER2_KEYS, ROW_KEYS
    table = Table(ROW_KEYS + [k for k in ORDER2_KEYS if s.rows and k in s.rows[0]], s.rows,
                  key="depth", headers=SIZE_HEADERS)
    lines = [f"family {s.family}", "", str(table), "", "growth laws (fitted to the deeper half):"]
    # the sweep's own words: a timing law only at R² of at least growth.TIMING_R2
    lines += [f"  {SIZE_HEADERS[k]:<13} {words}" for k, words in s.words.items()]
    text = "\n".join(lines)
    return text + (f"\n\nstopped: {s.stopped}" if s.stopped else "")


def describe_faults(faults: list[dict]) -> str:
    """Numeric faults as lines of text: which step, which pass, which batch entries."""
    lines = ["numeric faults (values that stopped being finite):"]
    for f in faults:
        where = (f" at batch entries {f['entries']}" + (" ..." if f["count"] > 10 else "")
                 if f["entries"] else "")
        lines.append(f"  {f['pass']} pass, step {f['step']}: {f['kind']}{where}")
    return "\n".join(lines)


def format_bench(result: dict) -> str:
    """The bench result as aligned text."""
    from derive.checks.bench import THREAD_VARIABLES  # here: trace's text needs no bench
    env = result["environment"]
    budget = result.get("budget")
    lines = [f"model {result['model']}    batch {result['batch']:,}    budget " +
             (f"{budget:g} s a method" if budget is not None else "none"),
             f"numpy {env['numpy']}  sympy {env['sympy']}  cpus {env['cpus']}  threads: " +
             ", ".join(f"{k}={env[k]}" for k in THREAD_VARIABLES), ""]
    pinned = ", ".join(f"{k}={v}" for k, v in result["threads"].items())
    lines.insert(2, f"threads pinned: {pinned}")
    against = {k: v for k, v in result["against"].items()
               if v is not None or k in result["skipped"]}
    for section in ("derivation", "compile", "evaluation", "against"):
        shown = against if section == "against" else result[section]
        if not shown:
            continue
        lines.append(f"{section} (median seconds of a run; predicted)")
        predicted = result.get("predicted", {}).get(section, {})
        for name, value in shown.items():
            cell = f"{value:12.6f}" if value is not None else "     skipped"
            guess = f"   {predicted[name]:10.3f}" if name in predicted else ""
            lines.append(f"  {name:<16}{cell}{guess}")
        lines.append("")
    lines.append("peak memory of one evaluation (MB, tracemalloc)")
    lines += [f"  {name:<16}{size / 1e6:12.1f}" for name, size in result["peak_bytes"].items()]
    lines += ["", "relative error against backprop (max |g - b| / max |b|)"]
    lines += [f"  {name:<16}{error:12.1e}" for name, error in result["relative_error"].items()]
    lines += ["", "ratios"]
    for name, value in result["ratios"].items():
        lines.append(f"  {name:<34}{value:10.2f}" if value is not None
                     else f"  {name:<34}         -")
    for name, why in result["skipped"].items():
        lines.append(f"skipped {name}: {why}")
    return "\n".join(lines)


def format_init(runs) -> str:
    """``derive init``: per run, its settings, the notebook's printout, the fitted and
    predicted factors per layer."""
    blocks = []
    for run in runs:
        lines = [f"K = {run.K} hidden layers of width D = {run.D}, σ²_Ω = {run.sigma2:.6g}, "
                 f"{run.activation}, seed {run.seed} (notebook 7.3)"]
        lines += run.lines()
        laws = run.laws()
        lines += [f"forward (std of h_k):       {laws['forward']}",
                  f"backward (std of ∂ℓ/∂f_k):  {laws['backward']}", run.theory()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
