"""Draw a figure's data with matplotlib, into SVG, PNG or PDF bytes. Layout only: every value
drawn comes from the figure (``archcalc.plots.figures``), converted to floats for the axes.

matplotlib is an optional extra; without it the error says in one line what to install.
Output is deterministic: a fixed ``svg.hashsalt`` (element ids), no date, no creator naming
the matplotlib version, so the same data drawn twice gives the same bytes. An SVG also
carries the figure's digest as a comment (the gallery's freshness check reads it).
"""

from __future__ import annotations

import io
import math
from fractions import Fraction
from pathlib import Path

from archcalc.errors import ArchcalcError, SpecError
from archcalc.plots.figures import BarPanel, Bars, Figure, Lines, Scatter, digest

FORMATS = ("svg", "png", "pdf")
INSTALL_HINT = "pip install -e '.[plot]' in a checkout of archcalc (or pip install matplotlib)"
COLOURS = ("#3b6ea8", "#d9822b", "#5a9e4b", "#8e6bb0", "#b5523b")  # one per panel
BAND_FILLS = ("#f1f3f8", "#ffffff")
UNDEFINED_FILL = "#eeeeee"
PNG_DPI = 120
STYLE = {
    "svg.hashsalt": "archcalc",
    "svg.fonttype": "none",  # text as text: a third of the size, selectable; the viewer supplies a sans-serif font
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # bundled with matplotlib: the layout is the same everywhere
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "axes.titlelocation": "left",
}
METADATA = {
    "svg": {"Date": None, "Creator": None},
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


class PlotMissing(ArchcalcError):
    """matplotlib is not installed."""


def matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise PlotMissing(f"plots need matplotlib, which is not installed: {INSTALL_HINT}") from None
    return matplotlib


def write(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise SpecError(f"{path}: expected a file ending in .{', .'.join(FORMATS)}, found {path.suffix or 'no extension'!r}")
    data = draw(figure, fmt)
    try:
        path.write_bytes(data)
    except OSError as error:
        raise ArchcalcError(f"cannot write {path}: {error.strerror}") from None
    return path


def draw(figure: Figure, fmt: str = "svg") -> bytes:
    mpl = matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    with mpl.rc_context(STYLE):
        canvas = FigureCanvasAgg(MplFigure())
        {Bars: _bars, Lines: _lines, Scatter: _scatter}[type(figure)](canvas.figure, figure)
        buffer = io.BytesIO()
        canvas.figure.savefig(buffer, format=fmt, dpi=PNG_DPI, metadata=METADATA[fmt])
    data = buffer.getvalue()
    return _stamped(data, digest(figure)) if fmt == "svg" else data


def svg_text(figure: Figure) -> str:
    """The SVG element alone, ready to inline in HTML."""
    return inline(draw(figure, "svg").decode("utf-8"))


def inline(svg: str, stamp: str | None = None) -> str:
    """An SVG document as an element for HTML: no XML prolog or DOCTYPE, with ``stamp`` (a
    digest) as a comment inside it when given."""
    text = svg[svg.index("<svg") :].rstrip()
    return _stamped(text.encode("utf-8"), stamp).decode("utf-8") if stamp else text


def _stamped(svg: bytes, stamp: str) -> bytes:
    text = svg.decode("utf-8")
    end = text.index(">", text.index("<svg")) + 1
    return (text[:end] + f"\n<!-- {stamp} -->" + text[end:]).encode("utf-8")


# --- helpers ---------------------------------------------------------------------------
def _floats(values) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _engineering(axis) -> None:
    from matplotlib.ticker import EngFormatter

    axis.set_major_formatter(EngFormatter(sep="\N{THIN SPACE}"))


def _notes(fig, notes: tuple[str, ...], height: float) -> None:
    """Small lines at the foot of the figure, the first on top."""
    for index, note in enumerate(notes):
        fig.text(0.01, (0.1 + 0.16 * (len(notes) - 1 - index)) / height, note, fontsize=7, color="#555555")


def _share_text(shares: tuple[tuple[str, Fraction], ...]) -> str:
    if not shares:
        return ""
    parts = [f"{kind} {_percent(share)}" for kind, share in shares[:4]]
    return " · ".join(parts) + (" · …" if len(shares) > 4 else "")


def _percent(share: Fraction) -> str:
    value = float(share) * 100
    return f"{value:.1f} %" if value >= 0.1 else "< 0.1 %"


# --- bars: per-layer costs ---------------------------------------------------------------
def _bars(fig, bars: Bars) -> None:
    n = len(bars.categories)
    width = min(max(8.0, 0.22 * n + 2.5), 40.0)
    rotate = n > 10
    font = max(5.0, 8.0 - n / 40)
    labels_height = (0.6 * font / 72 * max(map(len, bars.categories), default=1) if rotate else 0.2) + 0.15
    notes_height = 0.25 + 0.16 * len(bars.notes)
    height = 2.3 * len(bars.panels) + 0.8 + labels_height + notes_height
    fig.set_size_inches(width, height)
    bottom = (labels_height + notes_height) / height
    axes = fig.subplots(len(bars.panels), 1, sharex=True, gridspec_kw={"hspace": 0.35})
    axes = list(axes) if len(bars.panels) > 1 else [axes]
    fig.subplots_adjust(left=0.9 / width, right=1 - 0.3 / width, top=1 - 0.75 / height, bottom=bottom)
    fig.suptitle(bars.title, x=0.9 / width, ha="left", fontsize=11, fontweight="bold")
    x = list(range(n))
    for index, (ax, panel) in enumerate(zip(axes, bars.panels, strict=True)):
        _bands(ax, bars, label=index == 0)
        drawn = ax.bar(x, _floats(panel.values), width=0.75, color=_colours(bars, index), zorder=2)
        for position in bars.highlighted:
            drawn[position].set_hatch("////")
            drawn[position].set_edgecolor("#ffffff")
        if panel.log:
            ax.set_yscale("log")
        _engineering(ax.yaxis)
        if panel.labels:
            _labels_over(ax, x, panel)
        ax.set_ylabel(panel.label, fontsize=8)
        ax.set_title(_share_text(panel.shares), fontsize=8, color="#333333")
        ax.grid(axis="y", color="#dddddd", linewidth=0.5, zorder=0)
        ax.set_xlim(-0.6, n - 0.4)
    if bars.groups:
        _legend(axes[0], bars)
    labels = axes[-1]
    labels.set_xticks(x)
    labels.set_xticklabels(bars.categories, rotation=90 if rotate else 0, fontsize=font)
    _notes(fig, bars.notes, height)


def _colours(bars: Bars, panel: int) -> list[str]:
    """The panel's colour for every bar, or each group's own."""
    colours = [COLOURS[panel % len(COLOURS)]] * len(bars.categories)
    for number, group in enumerate(bars.groups):
        colours[group.first : group.last + 1] = [COLOURS[number % len(COLOURS)]] * (group.last - group.first + 1)
    return colours


def _legend(ax, bars: Bars) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=COLOURS[number % len(COLOURS)], label=group.label) for number, group in enumerate(bars.groups)]
    ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(handles), fontsize=8, frameon=False)


def _labels_over(ax, x: list[int], panel: BarPanel) -> None:
    for position, value, text in zip(x, panel.values, panel.labels, strict=True):
        ax.annotate(text, (position, float(value)), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=7)
    ax.margins(y=0.15)  # room for the tallest bar's text


def _bands(ax, bars: Bars, label: bool) -> None:
    for index, band in enumerate(bars.bands):
        ax.axvspan(band.first - 0.5, band.last + 0.5, color=BAND_FILLS[index % 2] if index % 2 else "#e9edf5", zorder=0, linewidth=0)
        if label:
            narrow = band.last - band.first < len(band.label) * 0.35
            ax.text((band.first + band.last) / 2, 1.02, band.label, transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                    fontsize=6, color="#445577", rotation=90 if narrow else 0)  # fmt: skip


# --- lines: growth with the input size ---------------------------------------------------
def _lines(fig, lines: Lines) -> None:
    height = 2.2 * len(lines.panels) + 1.2 + 0.16 * len(lines.notes)
    fig.set_size_inches(8.0, height)
    axes = fig.subplots(len(lines.panels), 1, sharex=True, gridspec_kw={"hspace": 0.3})
    axes = list(axes) if len(lines.panels) > 1 else [axes]
    fig.subplots_adjust(left=0.11, right=0.97, top=1 - 0.6 / height, bottom=(0.65 + 0.16 * len(lines.notes)) / height)
    fig.suptitle(lines.title, x=0.11, ha="left", fontsize=11, fontweight="bold")
    step = lines.x[1] - lines.x[0] if len(lines.x) > 1 else 1
    marker = "o" if len(lines.x) <= 60 else None
    for index, (ax, curve) in enumerate(zip(axes, lines.panels, strict=True)):
        for first, last in lines.undefined:
            ax.axvspan(first - step / 2, last + step / 2, color=UNDEFINED_FILL, linewidth=0, zorder=0)
        ax.plot(lines.x, _floats(curve.values), color=COLOURS[index % len(COLOURS)], linewidth=1.2, marker=marker, markersize=2.5, zorder=2)
        for x, text in lines.marks:
            ax.axvline(x, color="#888888", linestyle=":", linewidth=1, zorder=1)
            if index == 0:
                ax.text(x, 1.01, text, transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7, color="#555555")
        _engineering(ax.yaxis)
        ax.set_ylabel(curve.label, fontsize=8)
        ax.grid(color="#dddddd", linewidth=0.5, zorder=0)
        ax.set_xlim(lines.x[0] - step / 2, lines.x[-1] + step / 2)
        ax.set_ylim(bottom=0)  # costs start at nothing: a flat line is flat, growth is seen to scale
    if lines.undefined:
        axes[0].text(0.0, 1.01, "grey: not defined at that size", transform=axes[0].transAxes, fontsize=7, color="#777777", va="bottom")
    axes[-1].set_xlabel(lines.xlabel)
    _notes(fig, lines.notes, height)


# --- scatter: networks compared --------------------------------------------------------------
#: directions tried in turn for a label (right, left, above, below, then the diagonals), at
#: growing distances in points; beyond the first, a thin line leads from the label to its point
DIRECTIONS = ((1, 0.4), (1, -0.4), (-1, 0.4), (-1, -0.4), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))
DISTANCES = (5, 14, 26)
RATIOS = (1, 10, 100, 1000)  # guide lines: MACs per parameter


def _scatter(fig, scatter: Scatter) -> None:
    height = 7.0 + 0.16 * len(scatter.notes)
    fig.set_size_inches(10.0, height)
    ax = fig.subplots()
    fig.subplots_adjust(left=0.09, right=0.97, top=1 - 0.55 / height, bottom=(0.75 + 0.16 * len(scatter.notes)) / height)
    fig.suptitle(scatter.title, x=0.09, ha="left", fontsize=11, fontweight="bold")
    xs, ys = _floats(p.x for p in scatter.points), _floats(p.y for p in scatter.points)
    ax.scatter(xs, ys, s=22, color=COLOURS[0], zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    low_x, high_x = min(xs) / 1.6, max(xs) * 1.6
    low_y, high_y = min(ys) / 1.6, max(ys) * 1.6
    ax.set_xlim(low_x, high_x)
    ax.set_ylim(low_y, high_y)
    guides = []
    for ratio in RATIOS:  # y = ratio · x
        ax.plot([low_x, high_x], [ratio * low_x, ratio * high_x], color="#cccccc", linewidth=0.7, linestyle="--", zorder=1)
        end = min(high_x, high_y / ratio)
        if end > low_x and ratio * end > low_y:
            guides.append(ax.text(end, ratio * end, f" {ratio} MAC/param", fontsize=6, color="#999999", ha="right", va="bottom"))
    ax.set_xlim(low_x, high_x)
    ax.set_ylim(low_y, high_y)
    _engineering(ax.xaxis)
    _engineering(ax.yaxis)
    ax.set_xlabel(scatter.xlabel)
    ax.set_ylabel(scatter.ylabel)
    ax.grid(color="#eeeeee", linewidth=0.5, zorder=0)
    _labels(fig, ax, scatter, xs, ys, guides)
    _notes(fig, scatter.notes, height)


def _labels(fig, ax, scatter: Scatter, xs: list[float], ys: list[float], guides: list) -> None:
    """Each point's name beside it, at the first place that overlaps no label or point drawn
    before; the last place tried when none is free."""
    renderer = fig.canvas.get_renderer()
    taken = [_dot(ax, x, y) for x, y in zip(xs, ys, strict=True)] + [guide.get_window_extent(renderer) for guide in guides]
    for i in sorted(range(len(xs)), key=lambda i: (ys[i], xs[i])):
        places = [(d * dx, d * dy, d) for d in DISTANCES for dx, dy in DIRECTIONS]
        for number, (dx, dy, distance) in enumerate(places):
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
            leader = {"arrowprops": {"arrowstyle": "-", "color": "#999999", "linewidth": 0.5}} if distance > DISTANCES[0] else {}
            text = ax.annotate(scatter.points[i].label, (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points",
                               ha=ha, va=va, fontsize=7, zorder=4, **leader)  # fmt: skip
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in taken) or number == len(places) - 1:
                break
            text.remove()
        taken.append(box)


def _dot(ax, x: float, y: float):
    """The window area a point's marker covers."""
    from matplotlib.transforms import Bbox

    cx, cy = ax.transData.transform((x, y))
    return Bbox.from_extents(cx - 4, cy - 4, cx + 4, cy + 4)
