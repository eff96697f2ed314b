"""``--kind compare``: several networks as points of MACs against params, log–log, labelled —
the accuracy-free half of the papers' classic charts. Both are the inference network's
(training-only branches left out), as ``archcalc compare`` reports them."""

from __future__ import annotations

from archcalc.analysis import Analysis
from archcalc.compare import summarise
from archcalc.errors import SpecError, shape_text
from archcalc.plots.figures import Point, Scatter


def figure(analyses: list[Analysis]) -> Scatter:
    points = []
    for analysis in analyses:
        if analysis.symbols:
            raise SpecError(
                f"{analysis.name}: a comparison plot needs concrete sizes, but the input {shape_text(analysis.input_shape)} has names"
            )
        row = summarise(analysis)
        points.append(Point(analysis.name, row["params"], row["macs"]))
    inputs = sorted({shape_text(a.input_shape) for a in analyses})
    batches = sorted({a.batch for a in analyses})
    batch = f", batch {batches[0]}" if batches != [1] else ""
    return Scatter(
        title="Networks by size and cost",
        xlabel="params",
        ylabel="MACs per forward pass" + batch,
        points=tuple(points),
        notes=(f"input {', '.join(inputs)}; inference network (training-only branches left out); log–log",),
    )
