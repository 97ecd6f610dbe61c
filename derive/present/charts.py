"""Charts with matplotlib (Agg), deterministic: no dates, no random ids.

SVG for the HTML report (text kept as text, ids salted with a constant),
PDF for the LaTeX report (no creation date).
"""

from __future__ import annotations

import functools
import io
import math

from derive.checks.measures import MEASURE
from derive.models.names import text_name

STYLE = {"svg.hashsalt": "derive", "svg.fonttype": "none", "pdf.fonttype": 42,
         "font.size": 9, "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
         "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 100}
"""Text at 8 pt or more (at least 10 px where the HTML shows a chart at its own size,
as it does, scrolling on a narrow screen); PDF fonts as TrueType, not Type 3."""
MARKERS = ["o", "s", "^", "D", "v"]
STYLES = ["-", "--", "-.", ":", "-"]
"""Series differ by marker and line as well as colour, so that two that coincide
(ops after sharing and backprop ops) both show."""
SIZE_SERIES = [(key, MEASURE[key].series) for key in
               ["gradient_tree_nodes", "gradient_dag_nodes", "gradient_cse_ops", "backprop_ops"]]
TIME_SERIES = [(key, MEASURE[key].series) for key in ["seconds_sympy_diff", "seconds_dag_gradient"]]


@functools.cache
def pyplot():
    """matplotlib's pyplot on the Agg backend, imported on first use (it is slow to
    import, and most commands draw nothing)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot
    return matplotlib.pyplot


def _tick(value, _position=None) -> str:
    """A log axis's label as plain text (no mathtext): 1, 20, 500 or 0.01 where short,
    1e5 or 2e-7 otherwise; only at 1, 2 and 5 times a power of ten."""
    if not value > 0:
        return ""
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = round(value / 10.0**exponent, 6)
    if mantissa not in (1.0, 2.0, 5.0):
        return ""
    if -2 <= exponent <= 3:
        return f"{value:.{max(0, -exponent)}f}"
    return f"{mantissa:g}e{exponent}"


def _plain_log_axes(fig) -> None:
    """Log axes labelled in plain text at 1, 2 and 5 per decade (only 1 where an axis
    spans more than two decades), ticked at those points alone: matplotlib's default
    (a mathtext label per tick, nine minor ticks a decade) drew each chart in about
    0.6 s here, this in about 0.25 s."""
    from matplotlib.scale import LogScale
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    for ax in fig.axes:
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if axis.get_scale() != LogScale.name:
                continue
            low, high = sorted(limits)
            narrow = low > 0 and math.log10(high / low) <= 2
            axis.set_major_locator(LogLocator(base=10, numticks=12))
            axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0) if narrow else (),
                                              numticks=12))
            axis.set_major_formatter(FuncFormatter(_tick))
            axis.set_minor_formatter(FuncFormatter(_tick) if narrow else NullFormatter())


def tight(fig, kind: str):
    """The box that ``bbox_inches="tight"`` would crop ``fig`` to, in ``kind``'s
    renderer, measured without drawing: matplotlib draws the whole figure once to find it
    and once more to save, and the first draw was a fifth of the charts' time.  The same
    bytes as "tight" (compared on every chart of the toy's and a network's report); on a
    matplotlib without these internals, "tight" itself."""
    import matplotlib
    try:
        from matplotlib.backend_bases import _get_renderer
        with fig.canvas._switch_canvas_and_return_print_method(kind) as print_method:
            renderer = _get_renderer(fig, functools.partial(print_method,
                                                            orientation="portrait"))
    except (ImportError, AttributeError, TypeError):
        return "tight"
    return fig.get_tightbbox(renderer).padded(matplotlib.rcParams["savefig.pad_inches"])


def save(fig, kind: str):
    """A figure as inline SVG text (no XML prolog) or PDF bytes, dated nowhere, closing
    it; or, for ``kind`` "figure", the figure itself, for :func:`pdf_pages`."""
    _plain_log_axes(fig)
    if kind == "figure":
        return fig
    buffer = io.BytesIO()
    metadata = {"Date": None} if kind == "svg" else {"CreationDate": None}
    fig.savefig(buffer, format=kind, metadata=metadata, bbox_inches=tight(fig, kind))
    pyplot().close(fig)
    data = buffer.getvalue()
    if kind == "svg":
        text = data.decode("utf-8")
        return text[text.index("<svg"):]  # inline: drop the XML prolog and doctype
    return data


def pdf_pages(figures: dict) -> tuple[bytes, dict]:
    """Figures (``kind`` "figure") as the pages of one PDF, dated nowhere, and {name:
    page number}; closes them.  Each font is subset and embedded once for all pages:
    a PDF per chart embedded DejaVu Sans in each, two thirds of the charts' time.

    Cost: one matplotlib draw per figure.
    """
    from matplotlib.backends.backend_pdf import PdfPages
    plt, buffer = pyplot(), io.BytesIO()
    with plt.rc_context(STYLE), PdfPages(buffer, metadata={"CreationDate": None}) as pdf:
        for fig in figures.values():
            pdf.savefig(fig, bbox_inches=tight(fig, "pdf"))
            plt.close(fig)
    return buffer.getvalue(), {name: page for page, name in enumerate(figures, start=1)}


def _series_chart(rows, series, ylabel, title, kind, axis="depth"):
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 3.4))
        for i, (key, label) in enumerate(series):
            points = [(r["depth"], float(r[key])) for r in rows if r[key]]
            if points:
                ax.semilogy(*zip(*points), marker=MARKERS[i], linestyle=STYLES[i],
                            markersize=4 if i % 2 else 3, markerfacecolor="none" if i % 2 else None,
                            label=label)
        ax.set_xlabel(axis)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        _legend_below(ax)
        return save(fig, kind)


def _legend_below(ax, columns: int = 2):
    """The legend under the axes, where it covers no data."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=columns, frameon=False)


def _step_chart(steps, kind):
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 3.4))
        floor = 1e-17
        ax.loglog(steps["h"], [max(e, floor) for e in steps["forward"]], marker="o",
                  markersize=3, label="forward difference")
        ax.loglog(steps["h"], [max(e, floor) for e in steps["central"]], marker="s",
                  linestyle="--", markersize=3, label="central difference")
        if steps["complex"] is not None:  # only where the check found it applies
            ax.axhline(max(steps["complex"], floor), color="k", linestyle="--",
                       label="complex step (any h)")
        ax.set_xlabel("step h")
        ax.set_ylabel("|error| vs backprop")
        ax.set_title(f"finite-difference error for {text_name(steps['parameter'])}")
        _legend_below(ax, 3)
        return save(fig, kind)


def sizes_chart(rows, axis: str, kind: str):
    """The size of the gradient by depth (or width): symbolic tree and DAG, after sharing,
    and backprop's operations, on a log axis."""
    return _series_chart(rows, SIZE_SERIES, "nodes / operations",
                         f"size of the gradient by {axis}", kind, axis)


def render_all(data: dict, kind: str) -> dict:
    """{'sizes': ..., 'times': ..., 'steps': ...} as SVG text, PDF bytes or figures
    (``kind`` "svg", "pdf" or "figure")."""
    charts = {"steps": _step_chart(data["steps"], kind)}
    for i, section in enumerate(data["growth"]):
        axis = section["axis"]
        charts[f"sizes{i}"] = sizes_chart(section["rows"], axis, kind)
        charts[f"times{i}"] = _series_chart(section["rows"], TIME_SERIES, "seconds",
                                            f"time to derive all derivatives, by {axis}",
                                            kind, axis)
        charts[f"modes{i}"] = _modes_chart(section["rows"], kind, axis)
    if data["layers"]:
        charts["heatmaps"] = _heatmaps(data["layers"], kind)
    if data["modes"]["jacobian"]:
        charts["jacobian"] = _jacobian_chart(data["modes"]["jacobian"], kind)
    if data["modes"]["hessian"]:
        charts["hessian"] = _hessian_chart(data["modes"]["hessian"], kind)
    if data.get("values"):
        v = data["values"]
        charts["values"] = values_chart(v["runs"], kind, "growth of values with depth: "
                                        f"{v['K']} hidden layers, {v['activation']}")
    return charts


MODE_SERIES = [("forward_mode_ops", "forward mode (one pass per parameter)"),
               ("reverse_mode_ops", "reverse mode (backprop: one pass)")]


def _modes_chart(rows, kind, axis="depth"):
    """Operations of the whole gradient by forward and by reverse mode, against the
    sweep's axis and against the number of parameters."""
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, panels = plt.subplots(1, 2, figsize=(7.5, 3.2))
        for ax, x, label in ((panels[0], "depth", axis), (panels[1], "parameters",
                                                          "parameters")):
            for key, name in MODE_SERIES:
                points = [(r[x], r[key]) for r in rows if r.get(key)]
                if points:
                    ax.loglog(*zip(*points), marker="o", markersize=3, label=name)
            ax.set_xlabel(label)
            ax.set_ylabel("operations")
        fig.legend(*panels[0].get_legend_handles_labels(), loc="lower center", ncol=2,
                   frameon=False)
        # fixed margins, not tight_layout (one more draw of the whole figure); the saved
        # picture is cropped to its contents anyway (bbox_inches="tight")
        fig.subplots_adjust(bottom=0.3, top=0.86, left=0.1, right=0.98, wspace=0.32)
        fig.suptitle(f"the whole gradient by {axis}: forward mode against reverse mode",
                     fontsize=9)  # a network's two sweeps: by depth, by width
        return save(fig, kind)


def _jacobian_chart(entries, kind):
    """Operations of a Jacobian by each mode, for the parameters and for the inputs."""
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 3.0))
        labels = [f"{e['count']} {e['variables']}" for e in entries]
        for offset, mode in ((-0.2, "forward_mode"), (0.2, "reverse_mode")):
            ax.bar([i + offset for i in range(len(entries))], [e["ops"][mode] for e in entries],
                   width=0.4, label=mode.replace("_", " "), log=True)
        ax.set_xticks(range(len(entries)), labels)
        ax.set_ylabel("operations")
        ax.set_title("the Jacobian of the outputs: which mode is cheaper")
        _legend_below(ax)
        return save(fig, kind)


def _hessian_chart(section, kind):
    """The Hessian by forward-over-reverse, on a symmetric colour scale."""
    plt = pyplot()
    with plt.rc_context(STYLE):
        n = len(section["parameters"])
        fig, ax = plt.subplots(figsize=(min(2.0 + 0.35 * n, 7.0), min(1.6 + 0.35 * n, 6.5)))
        limit = max(max(abs(v) for row in section["matrix"] for v in row), 1e-300)
        image = ax.imshow(section["matrix"], cmap="RdBu_r", vmin=-limit, vmax=limit)
        names = [text_name(p) for p in section["parameters"]]
        ax.set_xticks(range(n), names, rotation=90 if n > 12 else 0, fontsize=8)
        ax.set_yticks(range(n), names, fontsize=8)
        ax.set_title("the Hessian of the loss", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        fig.tight_layout()
        return save(fig, kind)


HEATMAP_COLUMNS = 3
"""Panels per row of the weights' heatmaps: six layers (udl72) in two rows of three,
about 8 inches wide with the colour bar, so the whole figure fits a 1280 px page's
column (it was one row, 10.8 inches, its colour bar scrolled out of view)."""


def _heatmaps(layers, kind):
    """The gradient of each layer's weights Ω_k, one panel each: rows the units of
    f_k, columns those of h_k, on one symmetric colour scale shared by the figure.
    Each matrix keeps its shape (square cells: Ω₀ of 6×1 is a column, Ω₅ of 1×6 a
    row), in a 2-inch box, at most :data:`HEATMAP_COLUMNS` to a row."""
    plt = pyplot()
    from matplotlib.colors import SymLogNorm
    with plt.rc_context(STYLE):
        chosen = [max(reversed(layer["variables"]), key=lambda v: v["shape"][0] * v["shape"][1])
                  for layer in layers]
        limit = max(max(abs(v) for v in row) for variable in chosen
                    for row in variable["gradient"])
        limit = max(limit, 1e-300)
        columns = min(HEATMAP_COLUMNS, len(layers))
        rows = -(-len(layers) // columns)
        height = 2.4 * rows + 0.6
        fig, axes = plt.subplots(rows, columns, figsize=(2.45 * columns + 1.0, height),
                                 squeeze=False)
        # margins in inches: 0.65 above for the two titles, 0.45 below for the labels
        fig.subplots_adjust(wspace=0.45, hspace=0.45, bottom=0.45 / height,
                            top=1 - 0.65 / height)
        scale = SymLogNorm(linthresh=limit / 1000, vmin=-limit, vmax=limit)
        panels = list(axes.flat)
        for ax, layer, variable in zip(panels, layers, chosen):
            image = ax.imshow(variable["gradient"], cmap="RdBu_r", norm=scale, aspect="equal")
            ax.set_title(f"∂ℓ/∂{text_name(variable['name'])}", fontsize=9)
            m, n = variable["shape"]
            ax.set_xticks(range(n), [str(j) for j in range(n)] if n <= 8 else None)
            ax.set_yticks(range(m), [str(i) for i in range(m)] if m <= 8 else None)
            if n > 8:
                ax.xaxis.set_major_locator(_integer_ticks())
            if m > 8:
                ax.yaxis.set_major_locator(_integer_ticks())
            k = layer["k"]
            ax.set_xlabel(f"unit of {'x' if k == 0 else text_name(f'h{k}')}", fontsize=8)
            ax.set_ylabel(f"unit of {text_name(f'f{k}')}", fontsize=8, labelpad=1)
            ax.grid(False)
        for ax in panels[len(layers):]:
            ax.set_visible(False)
        top = 10.0 ** math.floor(math.log10(limit))
        fig.colorbar(image, ax=panels[:len(layers)], fraction=0.04, pad=0.04, shrink=0.9,
                     ticks=[-top, -top / 100, 0, top / 100, top],
                     label="∂ℓ/∂Ω entry (symmetric log)")
        fig.suptitle("the weights' gradients: row i, column j is ∂ℓ/∂Ω[i,j], one colour scale",
                     fontsize=9)
        return save(fig, kind)


def _integer_ticks():
    """At most five whole-number ticks on a heatmap's axis of many units."""
    from matplotlib.ticker import MaxNLocator
    return MaxNLocator(nbins=5, integer=True)


def _run_label(run) -> str:
    """A run of 7.3's experiment in a legend: its σ²_Ω, and whose weights (the report's)."""
    if run.get("name") == "own":
        return ("its own weights" if run["sigma2"] is None else
                rf"its own weights ($\sigma^2_\Omega \approx$ {run['sigma2']:.3g})")
    if run.get("name") == "he":
        return rf"He: $\sigma^2_\Omega = 2/D$ = {run['sigma2']:.4g}"
    return rf"$\sigma^2_\Omega$ = {run['sigma2']:.4g}"


def values_chart(runs, kind, title: str):
    """Notebook 7.3's growth of values: the std of h_k (forward) and of ∂ℓ/∂f_k (backward)
    against the layer, one series per run (σ²_Ω), on log axes; where the theory predicts
    a factor per layer, its line dashed, through the run's first forward and last backward
    value.  ``runs`` are :meth:`derive.checks.initialization.Initialization.to_json` objects or
    the report's (each with its ``name``, own or he)."""
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, panels = plt.subplots(1, 2, figsize=(7.5, 3.3))
        for i, run in enumerate(runs):
            colour = f"C{i % 10}"
            label = _run_label(run)
            for ax, key in ((panels[0], "forward"), (panels[1], "backward")):
                points = [(k, s) for k, s in zip(run["layers"], run[f"{key}_std"])
                          if s is not None and math.isfinite(s) and s > 0]
                if not points:
                    continue
                ax.semilogy(*zip(*points), marker=MARKERS[i % len(MARKERS)], markersize=2.5,
                            color=colour, linestyle="none", label=label, alpha=0.8)
                factor = run["predicted_factor"][key]
                if factor:
                    k0, s0 = points[0] if key == "forward" else points[-1]
                    sign = 1 if key == "forward" else -1
                    ks = [k for k, _ in points]
                    ax.semilogy(ks, [s0 * factor ** (sign * (k - k0)) for k in ks],
                                color=colour, linestyle="--", linewidth=1, zorder=3)
        panels[0].set_title("forward: std of $h_k$", fontsize=9)
        panels[1].set_title(r"backward: std of $\partial\ell/\partial f_k$", fontsize=9)
        from matplotlib.ticker import MaxNLocator
        for ax in panels:
            ax.set_xlabel("layer k")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        panels[0].set_ylabel("standard deviation")
        handles, labels = panels[0].get_legend_handles_labels()
        if any(r["predicted_factor"]["forward"] for r in runs):  # one legend entry for all
            from matplotlib.lines import Line2D
            handles.append(Line2D([], [], color="k", linestyle="--", linewidth=1))
            labels.append(r"theory: $\times\sqrt{D\sigma^2_\Omega/2}$ per layer")
        fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), frameon=False)
        fig.subplots_adjust(bottom=0.3, top=0.84, left=0.1, right=0.98, wspace=0.3)
        fig.suptitle(title, fontsize=9)
        return save(fig, kind)
