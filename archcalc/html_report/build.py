"""Everything an HTML report shows, gathered from one spec: the analysis at its own input,
the same network with names for the input size (its formulas and growth), the training step
when one is asked for, the figures' data and the diagram's DOT; then drawn (matplotlib,
Graphviz) into the page.

``gather`` does the analysing, ``render`` the drawing. ``render(..., drawn=False)`` puts in
each picture's place only the digest of what it would draw: the gallery compares that page
with the one on disk to tell whether it is current, without drawing anything (a drawing's
bytes depend on the matplotlib and Graphviz versions; its digest does not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from archcalc.analysis import Analysis, analyse_file
from archcalc.diagram import build as build_diagram
from archcalc.diagram import to_dot
from archcalc.errors import ArchcalcError
from archcalc.growth import Growth, SizeRange, growth
from archcalc.html_report.page import Picture, page
from archcalc.plots import layers, size
from archcalc.plots import training as training_plot
from archcalc.plots.command import SIZE_QUANTITIES
from archcalc.plots.figures import Bars, Lines, digest
from archcalc.timings import Timings
from archcalc.training.memory import Training

#: how a drawn picture is recognised in a page: any inline SVG, and the digest it carries
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_STAMP = re.compile(r"archcalc_(?:plot|dot)_sha256_[0-9a-f]{64}")


@dataclass(frozen=True)
class Parts:
    analysis: Analysis
    symbolic: Analysis | None  # the spec at (C, H, W): the analysis itself when already symbolic
    no_formulas: str | None  # why symbolic is None
    growth: Growth | None
    native: int | None  # the spec's own (square) size, marked on the size plot
    layers: Bars | None  # None for a symbolic analysis: bars need numbers
    dot: str  # the diagram
    timings: Timings | None = None
    training: Training | None = None  # one training step of the analysis, when asked for
    training_note: str | None = None  # why there is none (an op without training rules)

    @property
    def sizes(self) -> Lines | None:
        return size.figure(self.growth, self.native) if self.growth is not None else None

    @property
    def training_bars(self) -> Bars | None:
        """The step's memory by kind; None without a step, or with names in it (bars need numbers)."""
        if self.training is None or self.analysis.symbols:
            return None
        return training_plot.figure(self.analysis, self.training)


def gather(spec: str | Path, analysis: Analysis, depth: int | None, timings: Timings | None = None, step: int = 1,
           dot: str | None = None, training: Training | None = None, training_note: str | None = None) -> Parts:  # fmt: skip
    """``analysis``: the spec as the report shows it; ``depth``: the diagram's (``dot``: its
    DOT text, when already built); ``step``: between the size plot's sizes, which run up to
    twice the spec's own height (through it) or to 512; ``training``: the analysis' training
    step, already analysed (``training_note``: why there is none)."""
    symbolic, why = (analysis, None) if analysis.symbols else _symbolic(spec, analysis)
    native = native_size(analysis) if symbolic is not analysis else None
    result = None
    if symbolic is not None:
        stop = 2 * native if native else 512
        start = (native % step or step) if native else 1
        result = growth(symbolic, SizeRange(symbolic.symbols[0], start, stop, step), list(SIZE_QUANTITIES))
    if dot is None:
        dot = to_dot(build_diagram(analysis, depth, None if analysis.symbols else "macs", timings))
    bars = None if analysis.symbols else layers.figure(analysis)
    return Parts(analysis, symbolic, why, result, native, bars, dot, timings, training, training_note)


def native_size(analysis: Analysis) -> int | None:
    shape = analysis.input_shape
    return shape[1] if len(shape) == 3 and shape[1] == shape[2] else None


def _symbolic(spec: str | Path, analysis: Analysis) -> tuple[Analysis | None, str | None]:
    """The spec at (C, H, W), or None and why not: the input is no feature map, or the network
    does not analyse with names for its size."""
    if len(analysis.input_shape) != 3:
        return None, "the input is not a (C, H, W) feature map"
    try:
        # the size plot needs counts only; symbolic receptive fields after squeeze-and-excitation
        # gates cost minutes (issue 16), so a network with a gate (a mul) is analysed without them
        fields = not any(s.kind == "mul" for s in analysis.layers)
        return analyse_file(spec, f"{analysis.input_shape[0]},H,W", batch=analysis.batch, dtype=analysis.dtype, fields=fields), None
    except ArchcalcError as error:
        return None, f"with names for its input size the analysis stops: {error}"


def render(parts: Parts, drawn: bool = True) -> str:
    pictures: dict[str, Picture] = {}
    if parts.layers is not None:
        pictures["layers"] = Picture(
            "layers", "per-layer costs", _plot(parts.layers, drawn), "Each layer's params, MACs and output memory; blocks shaded."
        )
    if parts.sizes is not None:
        pictures["size"] = Picture(
            "size", "cost against input size", _plot(parts.sizes, drawn), "Each point is the formula above, evaluated exactly."
        )
    if parts.training_bars is not None:
        pictures["training"] = Picture(
            "training", "training memory", _plot(parts.training_bars, drawn), "The peak's terms by kind; the bars add up to the peak."
        )
    pictures["diagram"] = Picture("diagram", "diagram", _diagram(parts.dot, drawn))
    return page(
        parts.analysis, pictures, parts.growth, parts.symbolic, parts.timings, parts.no_formulas, parts.training, parts.training_note
    )


def _plot(figure, drawn: bool) -> str:
    if not drawn:
        return f"<svg><!-- {digest(figure)} --></svg>"
    from archcalc.plots.draw import svg_text

    return svg_text(figure)


def _diagram(dot: str, drawn: bool) -> str:
    from archcalc.gallery import _stamped as stamped
    from archcalc.gallery import digest as dot_digest

    if not drawn:
        return f"<svg><!-- {dot_digest(dot)} --></svg>"
    from archcalc.drawing import _pipe
    from archcalc.plots.draw import inline

    # Graphviz writes the DOT's comment (its digest) before the <svg> element: carry it inside
    return inline(_pipe(stamped(dot), "svg").decode("utf-8"), dot_digest(dot))


def normalised(text: str) -> str:
    """The page with each picture replaced by its digest: what freshness compares."""
    return _SVG.sub(lambda m: "<svg>" + ",".join(_STAMP.findall(m.group(0))) + "</svg>", text)


def report_page(spec: str | Path, analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> str:
    """``archcalc report --format html``: the page, its diagram collapsed as the gallery's is;
    with ``training`` (``--training``), its training step too."""
    from archcalc.gallery import gallery_depth
    from archcalc.plots.draw import matplotlib

    matplotlib()  # say what to install before any work
    return render(gather(spec, analysis, gallery_depth(analysis), timings, training=training))


def write_text(path: str | Path, text: str) -> Path:
    path = Path(path)
    try:
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as error:
        raise ArchcalcError(f"cannot write {path}: {error.strerror}") from None
    return path
