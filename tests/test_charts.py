"""Issue 24, "charts that fit and read": every chart of the browser tests' reports, drawn
by matplotlib from the report's own data.json, with no two tick labels overlapping (by
matplotlib's own text extents) and a title of its own."""

import itertools
import json

import pytest

from conftest import REPORTS, by_report
from derive.present.charts import STYLE, pyplot, render_all


def tick_labels(fig):
    """[(axes title, "x" or "y", [(text, its box in pixels)])] of every axes, drawn."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(ax.get_title(), name, [(t.get_text(), t.get_window_extent(renderer))
                                    for t in axis.get_ticklabels() + axis.get_ticklabels(minor=True)
                                    if t.get_visible() and t.get_text()])
            for ax in fig.axes for name, axis in (("x", ax.xaxis), ("y", ax.yaxis))]


def overlapping(fig) -> list:
    return [(title, name, a, b) for title, name, labels in tick_labels(fig)
            for (a, box_a), (b, box_b) in itertools.combinations(labels, 2)
            if box_a.overlaps(box_b)]


def title(fig) -> str:
    """What a reader takes for the chart's title: its suptitle and its axes' titles."""
    own = fig._suptitle.get_text() if fig._suptitle is not None else ""
    return " | ".join([own] + [ax.get_title() for ax in fig.axes if ax.get_title()])


@pytest.fixture
def figures():
    """figures(data) -> {name: figure} as the report draws them; closed afterwards."""
    plt, drawn = pyplot(), []

    def _figures(data):
        with plt.rc_context(STYLE):
            made = render_all(data, "figure")
        drawn.extend(made.values())
        return made

    yield _figures
    for fig in drawn:
        plt.close(fig)


@pytest.mark.parametrize("name", by_report(REPORTS))
def test_no_two_tick_labels_overlap_and_every_chart_has_its_own_title(report_folders, figures,
                                                                       name):
    data = json.loads((report_folders[name] / "data.json").read_text())
    charts = figures(data)
    assert {"steps"} < set(charts), sorted(charts)  # the step chart and at least one more
    for chart, fig in charts.items():
        with pyplot().rc_context(STYLE):
            assert overlapping(fig) == [], (name, chart)
    titles = [title(fig) for fig in charts.values()]
    assert all(titles) and len(set(titles)) == len(titles), titles


@pytest.mark.xdist_group("browser-toy")
def test_the_overlap_test_sees_crowded_labels(report_folders, figures):
    """A planted change: every 1 to 9 per decade labelled in long form on one log axis."""
    from matplotlib.ticker import FuncFormatter, LogLocator
    charts = figures(json.loads((report_folders["toy"] / "data.json").read_text()))
    ax = charts["sizes0"].axes[0]
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=range(1, 10), numticks=100))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.4e}"))
    ax.xaxis.set_ticks(range(1, 13), [f"depth {d:,}" for d in range(1, 13)])
    assert overlapping(charts["sizes0"])
