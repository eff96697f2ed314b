"""``--kind size``: a quantity against the input size, from the symbolic analysis' formulas.

Each point is the formula evaluated exactly at that size (``archcalc.growth``); where the
network is not defined (an output would be empty, a merge's inputs would differ) there is no
point, the run is shaded, and a note says why.
"""

from __future__ import annotations

from archcalc.errors import shape_text
from archcalc.growth import QUANTITIES, Growth
from archcalc.plots.figures import Curve, Lines

LABELS = {
    "macs": "MACs",
    "params": "params",
    "flops": "flops",
    "peak": "largest layer output, bytes",
    "activations": "all layer outputs, bytes",
}
assert set(LABELS) == set(QUANTITIES)


def figure(growth: Growth, native: int | None = None) -> Lines:
    """``native``: the spec's own size on the axis, marked."""
    unit = f" ({growth.dtype})" if growth.dtype != "float32" else ""
    batch = f", batch {growth.batch}" if growth.batch != 1 else ""
    panels = tuple(Curve(LABELS[q] + (unit if q in ("peak", "activations") else "") + batch, v) for q, v in growth.values.items())
    return Lines(
        title=f"{growth.name}: how the cost grows with the input size",
        xlabel=xlabel(growth),
        x=growth.points,
        panels=panels,
        undefined=runs(growth.points, growth.invalid),
        marks=((native, f"{native}: the spec's size"),) if native in growth.points else (),
        notes=_notes(growth),
    )


def xlabel(growth: Growth) -> str:
    same = "".join(f" = {name}" for name in growth.followers)
    fixed = "".join(f", {name} = {value}" for name, value in growth.fixed.items())
    return f"{growth.axis}{same}{fixed} (input {shape_text(growth.input_shape)})"


def runs(points: tuple[int, ...], undefined: dict[int, str]) -> tuple[tuple[int, int], ...]:
    """The undefined sizes as (first, last) runs of consecutive points of the range."""
    out: list[tuple[int, int]] = []
    inside = False  # the previous point was undefined too
    for point in points:
        if point not in undefined:
            inside = False
            continue
        if inside:
            out[-1] = (out[-1][0], point)
        else:
            out.append((point, point))
        inside = True
    return tuple(out)


def _notes(growth: Growth) -> tuple[str, ...]:
    notes = []
    holes = sorted(growth.invalid)
    if holes:
        first = holes[0]
        notes.append(f"undefined at {len(holes)} of {len(growth.points)} sizes, from {growth.axis} = {first}: {growth.invalid[first]}")
    if growth.training_only_left_out:
        notes.append("inference network: training-only branches left out")
    return tuple(notes)
