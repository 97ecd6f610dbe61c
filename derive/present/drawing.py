"""Drawing the computational graph: boxes, labels and arrows, as SVG or (by matplotlib) PDF.

A :class:`Picture` holds the nodes, edges and layout that :mod:`derive.present.picture`
built; :func:`draw` places them in rows at most :data:`WRAP` points wide and draws them.
Nothing here decides what is shown.  Cost: linear in the boxes and edges (one matplotlib
draw for a PDF).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from derive.present.charts import pyplot, save


FONT = 9.0
"""Label size in points."""


CHAR = 0.62 * FONT
"""A label character's width, for the column widths (DejaVu Sans averages under it)."""


WRAP = 760.0
"""Width in points past which the picture continues in a new row of columns."""


LINE = 1.3
"""Line spacing of a label, in font sizes."""


GAP = 2.5 * FONT
"""Space between columns, and the margin the arrows between rows run in."""


COLOURS = {"step": "#dbe9f6", "parameter": "#fde4c8", "input": "#e8e8e8", "target": "#e8e8e8",
           "fold": "#ffffff"}


@dataclass
class Node:
    """One box: ``name`` as the program names it (``l`` for ℓ; ``f2…h9`` for a fold),
    ``kind`` (step, parameter, input, target or fold), its label's lines, its place."""

    name: str
    kind: str
    label: list[str]
    column: int = 0
    row: int = 0


@dataclass
class Picture:
    """A computational graph: nodes, edges (from, to) by name, and the layout.

    ``svg()`` and ``pdf()`` draw it; Jupyter shows it by ``_repr_svg_``.
    """

    model: str
    nodes: list[Node]
    edges: list[tuple[str, str]]
    folded: int = 0
    layers: int = 0

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def to_json(self) -> dict:
        return {"model": self.model, "nodes": [asdict(n) for n in self.nodes],
                "edges": [list(e) for e in self.edges], "folded": self.folded,
                "layers": self.layers}

    @classmethod
    def from_json(cls, data: dict) -> "Picture":
        return cls(data["model"], [Node(**n) for n in data["nodes"]],
                   [tuple(e) for e in data["edges"]], data["folded"], data["layers"])

    def svg(self, wrap: float | None = None) -> str:
        """The picture as inline SVG text (deterministic), in rows of at most ``wrap``
        points (default :data:`WRAP`). Cost: one matplotlib draw."""
        return draw(self, "svg", wrap or WRAP)

    def pdf(self, wrap: float | None = None) -> bytes:
        return draw(self, "pdf", wrap or WRAP)

    def _repr_svg_(self) -> str:
        return self.svg()


def draw(picture: Picture, kind: str, wrap: float = WRAP):
    """SVG text, PDF bytes or the figure (``kind`` "svg", "pdf", "figure") of a laid-out
    picture: rows of columns at most ``wrap`` points wide, the forward pass continuing
    from the end of one row to the start of the next.  The SVG is written directly (a
    millisecond for the toy: `derive serve` draws one per answer); the PDF and the
    figure by matplotlib, from the same places."""
    if kind == "svg":
        return _svg(picture, wrap)
    plt = pyplot()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, PathPatch
    from matplotlib.path import Path as Route
    x, y, band, width, height = _places(picture, wrap)
    with plt.rc_context({"svg.hashsalt": "derive", "svg.fonttype": "none",
                         "pdf.fonttype": 42, "font.size": FONT}):
        fig = plt.figure(figsize=(width / 72, height / 72))
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.axis("off")
        for n in picture.nodes:
            w, h = _size(n)
            group = f"node-{n.name}"
            ax.add_patch(FancyBboxPatch(
                (x[n.name] - w / 2, y[n.name] - h / 2), w, h, gid=f"box-{n.name}",
                boxstyle="round,pad=0,rounding_size=4", fc=COLOURS[n.kind], ec="#555555",
                lw=0.8, ls="--" if n.kind == "fold" else "-", zorder=2))
            ax.text(x[n.name], y[n.name], "\n".join(n.label), ha="center", va="center",
                    multialignment="center", linespacing=LINE, zorder=3, gid=group)
        arrow = {"color": "#444444", "lw": 0.8, "zorder": 1}
        for a, b in picture.edges:
            if band[a] == band[b]:
                start = _border(picture.node(a), x, y, (x[b], y[b]))
                end = _border(picture.node(b), x, y, (x[a], y[a]))
                ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8,
                                             shrinkA=0, shrinkB=0, **arrow))
                continue
            route = _between_rows(picture.node(a), picture.node(b), x, y)
            ax.add_patch(PathPatch(Route(route[:-1]), fill=False, **arrow))
            ax.add_patch(FancyArrowPatch(route[-2], route[-1], arrowstyle="-|>",
                                         mutation_scale=8, shrinkA=0, shrinkB=0, **arrow))
        return save(fig, kind)


SVG_FONT = ("font-family: 'DejaVu Sans', 'Bitstream Vera Sans', Verdana, Arial, "
            "Helvetica, sans-serif")
"""The labels' fonts: matplotlib's own first, as the PDF has it."""


def _svg(picture: Picture, wrap: float) -> str:
    """The picture as SVG text, in points: a group per box (``box-<name>``), per label
    (``node-<name>``, with a <title>) and per arrow (``edge-<from>-<to>``)."""
    x, y, band, width, height = _places(picture, wrap)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.2f}pt" '
           f'height="{height:.2f}pt" viewBox="0 0 {width:.2f} {height:.2f}" version="1.1">',
           f' <g id="picture" style="{SVG_FONT}">']
    for a, b in picture.edges:
        if band[a] == band[b]:
            route = [_border(picture.node(a), x, y, (x[b], y[b])),
                     _border(picture.node(b), x, y, (x[a], y[a]))]
        else:
            route = _between_rows(picture.node(a), picture.node(b), x, y)
        out.append(_arrow(f"edge-{a}-{b}", route))
    for n in picture.nodes:
        w, h = _size(n)
        dash = ' stroke-dasharray="3 2"' if n.kind == "fold" else ""
        out.append(f'  <g id="box-{_escape(n.name)}"><rect x="{x[n.name] - w / 2:.2f}" '
                   f'y="{y[n.name] - h / 2:.2f}" width="{w:.2f}" height="{h:.2f}" rx="4" '
                   f'style="fill: {COLOURS[n.kind]}; stroke: #555555; stroke-width: 0.8"'
                   f'{dash}/></g>')
        out.append(f'  <g id="node-{_escape(n.name)}">')
        top = y[n.name] - (len(n.label) - 1) * LINE * FONT / 2 + 0.35 * FONT
        for k, line in enumerate(n.label):
            out.append(f'   <text x="{x[n.name]:.2f}" y="{top + k * LINE * FONT:.2f}" '
                       f'text-anchor="middle" style="font-size: {FONT:g}px">'
                       f'{_escape(line)}</text>')
        out.append("  </g>")
    out += [" </g>", "</svg>"]
    return _titled("\n".join(out), picture)


def _arrow(gid: str, route) -> str:
    """A line along ``route`` (points) with a filled head at its end."""
    (x0, y0), (x1, y1) = route[-2], route[-1]
    length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-9)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    back, half = 3.2, 1.6
    head = [(x1, y1), (x1 - back * ux - half * uy, y1 - back * uy + half * ux),
            (x1 - back * ux + half * uy, y1 - back * uy - half * ux)]
    line = " L ".join(f"{px:.2f} {py:.2f}" for px, py in route)
    tip = " L ".join(f"{px:.2f} {py:.2f}" for px, py in head)
    return (f'  <g id="{_escape(gid)}"><path d="M {line}" style="fill: none; stroke: #444444; '
            f'stroke-width: 0.8"/><path d="M {tip} Z" style="fill: #444444; stroke: #444444; '
            f'stroke-width: 0.8"/></g>')


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&quot;")


def _size(n: Node) -> tuple[float, float]:
    """A box's width and height in points, from its label."""
    return (CHAR * max(len(line) for line in n.label) + 1.6 * FONT,
            len(n.label) * LINE * FONT + 1.0 * FONT)


def _border(n: Node, x, y, toward) -> tuple[float, float]:
    """Where the line from a box's centre toward a point leaves the box."""
    w, h = _size(n)
    cx, cy = x[n.name], y[n.name]
    dx, dy = toward[0] - cx, toward[1] - cy
    scale = min(w / 2 / abs(dx) if dx else float("inf"), h / 2 / abs(dy) if dy else float("inf"))
    return cx + dx * scale, cy + dy * scale


def _between_rows(a: Node, b: Node, x, y) -> list[tuple[float, float]]:
    """An arrow from the end of one row to the start of the next: out of a's right
    side, down the gap under a's row, left along it to the margin, down and into b's
    left side."""
    (wa, ha), (wb, _) = _size(a), _size(b)
    right = x[a.name] + wa / 2
    below = y[a.name] + ha / 2 + GAP
    return [(right, y[a.name]), (right + GAP / 2, y[a.name]), (right + GAP / 2, below),
            (GAP / 2, below), (GAP / 2, y[b.name]), (x[b.name] - wb / 2, y[b.name])]


def _places(picture: Picture, wrap: float = WRAP):
    """Centres of the boxes in points, each node's row of columns (its band), and the
    picture's width and height.  A column is as wide as its widest step or its
    leaves side by side, whichever is wider; columns fill a band up to ``wrap``."""
    def width(n):
        return _size(n)[0]

    row_height = max(_size(n)[1] for n in picture.nodes) + 3.0 * FONT
    columns = []
    for c in sorted({n.column for n in picture.nodes}):
        steps = [n for n in picture.nodes if n.column == c and n.row >= 0]
        leaves = sorted((n for n in picture.nodes if n.column == c and n.row < 0),
                        key=lambda n: -n.row)
        band = sum(width(n) for n in leaves) + GAP * max(len(leaves) - 1, 0)
        columns.append((steps, leaves, band, max([band] + [width(n) for n in steps])))
    bands, current, used = [], [], 0.0
    for column in columns:
        if current and used + column[3] > wrap:
            bands.append(current)
            current, used = [], 0.0
        current.append(column)
        used += column[3] + GAP
    bands.append(current)
    x, y, band_of, top, right = {}, {}, {}, GAP * (len(bands) > 1), 0.0
    for k, members in enumerate(bands):
        has_leaves = any(leaves for _, leaves, _, _ in members)
        left = GAP if len(bands) > 1 else 0.0
        for steps, leaves, band, column in members:
            for n in steps:
                x[n.name] = left + column / 2
                y[n.name] = top + (n.row + 0.5 + has_leaves) * row_height
            start = left + (column - band) / 2
            for n in leaves:
                x[n.name], y[n.name] = start + width(n) / 2, top + 0.5 * row_height
                start += width(n) + GAP
            band_of.update({n.name: k for n in steps + leaves})
            left += column + GAP
        right = max(right, left)
        rows = 1 + max((n.row for steps, _, _, _ in members for n in steps), default=-1) \
            + has_leaves
        top += rows * row_height + GAP
    return x, y, band_of, right - GAP + GAP * (len(bands) > 1), top - GAP


def _titled(svg: str, picture: Picture) -> str:
    """Each node's group gets a <title> (its name as the program spells it, and its
    label), which browsers show on hover and tests and screen readers can read; its
    value and adjoint lines get the classes ``value`` and ``adjoint``, and each arrow
    ``edge`` with ``data-edge="FROM TO"``, for the step-through player to show and mark."""
    for n in picture.nodes:
        title = " | ".join([n.name] + n.label).replace("&", "&amp;").replace("<", "&lt;")
        start = svg.find(f'<g id="node-{n.name}">')
        if start < 0:
            continue
        end = svg.find("</g>", start)
        group = svg[start:end].replace(
            f'<g id="node-{n.name}">',
            f'<g id="node-{n.name}" class="node" data-node="{n.name}">\n   <title>{title}</title>', 1)
        lines = iter(_line_kinds(n))
        group = re.sub("<text ", lambda _: f'<text class="{next(lines, "label")}" ', group)
        svg = svg[:start] + group + svg[end:]
    for a, b in picture.edges:
        svg = svg.replace(f'<g id="edge-{a}-{b}">',
                          f'<g id="edge-{a}-{b}" class="edge" data-edge="{a} {b}">', 1)
    return svg


def _line_kinds(n: Node) -> list[str]:
    """What each line of a box's label holds: its name or equation ("label"), then its
    value and its adjoint ∂ℓ/∂v where it shows them (see :func:`_label`)."""
    kinds = ["label"] + ["value"] * (len(n.label) - 1)
    if n.kind != "fold" and len(n.label) > 1 and n.label[-1].startswith("∂"):
        kinds[-1] = "adjoint"
    return kinds
