"""``--kind layers``: each layer's params, macs and activation memory, as bars in layer order.

Where the cost is: AlexNet's picture shows at once that the conv layers hold the compute and
the fully connected layers the parameters. The op kinds' shares of each total are stated
under the panel's label. Pointwise layers (activations, norms, merges, reshapes — the ops
that diagrams draw small) are left out unless ``all_layers``; a note says how many and what
they hold, so the bars and the notes together account for every total.
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.analysis import Analysis, LayerStats, total
from archcalc.errors import SpecError
from archcalc.expressions import to_text
from archcalc.ops import REGISTRY
from archcalc.plots.figures import Band, BarPanel, Bars

#: a log axis when the largest positive value is this many times the smallest or more
LOG_SPAN = 100


def figure(analysis: Analysis, all_layers: bool = False) -> Bars:
    if analysis.symbols:
        raise SpecError(f"a per-layer plot needs concrete sizes, but the input {_input(analysis)} has names; give numbers with --input")
    drawn = [s for s in analysis.layers if all_layers or not REGISTRY[s.kind].minor]
    memory = f"output activations, bytes ({analysis.dtype}{_batch(analysis)})"
    panels = (
        _panel("params", [s.params for s in drawn], shares(analysis.layers, lambda s: s.params)),
        _panel(f"MACs{_batch(analysis)}", [s.macs for s in drawn], shares(analysis.layers, lambda s: s.macs)),
        _panel(memory, [analysis.nbytes(s.activations) for s in drawn]),  # no shares: every layer's output counts, drawn or not
    )
    return Bars(
        title=f"{analysis.name}: where the cost is — input {_input(analysis)}",
        categories=tuple(_short(s) + (" †" if s.training_only else "") for s in drawn),
        panels=panels,
        bands=bands(drawn),
        highlighted=tuple(i for i, s in enumerate(drawn) if s.training_only),
        notes=_notes(analysis, drawn),
    )


def _panel(label: str, values: list[int], kinds: tuple[tuple[str, Fraction], ...] = ()) -> BarPanel:
    positive = [v for v in values if v > 0]
    log = bool(positive) and max(positive) >= LOG_SPAN * min(positive)
    return BarPanel(label, tuple(values), log, kinds)


def shares(layers: list[LayerStats], measure) -> tuple[tuple[str, Fraction], ...]:
    """Each op kind's share of the whole, largest first (kinds with none left out)."""
    whole = sum(measure(s) for s in layers)
    if whole == 0:
        return ()
    kinds: dict[str, int] = {}
    for s in layers:
        kinds[s.kind] = kinds.get(s.kind, 0) + measure(s)
    return tuple(sorted(((k, Fraction(v, whole)) for k, v in kinds.items() if v), key=lambda item: -item[1]))


def bands(layers: list[LayerStats]) -> tuple[Band, ...]:
    """Runs of consecutive bars inside the same top-level block or branch."""
    runs: list[Band] = []
    for index, s in enumerate(layers):
        scope = s.scopes[0] if s.scopes else None
        if scope is None:
            continue
        if runs and runs[-1].label == scope and runs[-1].last == index - 1:
            runs[-1] = Band(scope, runs[-1].first, index)
        else:
            runs.append(Band(scope, index, index))
    return tuple(runs)


def _short(stats: LayerStats) -> str:
    """The name inside its top-level block, which the band above the bars names."""
    return stats.name[len(stats.scopes[0]) + 1 :] if stats.scopes else stats.name


def _notes(analysis: Analysis, drawn: list[LayerStats]) -> tuple[str, ...]:
    notes = []
    names = {s.name for s in drawn}
    left = [s for s in analysis.layers if s.name not in names]
    if left:
        kinds = sorted({s.kind for s in left})
        rest = total(left)
        notes.append(
            f"not drawn: {len(left)} pointwise layers ({', '.join(kinds)}), holding params {to_text(rest.params)}, "
            f"MACs {to_text(rest.macs)}; every layer: --all-layers"
        )
    if any(s.training_only for s in drawn):
        notes.append("† hatched: training-only layers")
    notes.append("no bar: 0")
    return tuple(notes)


def _input(analysis: Analysis) -> str:
    from archcalc.errors import shape_text

    return shape_text(analysis.input_shape)


def _batch(analysis: Analysis) -> str:
    return f", batch {analysis.batch}" if analysis.batch != 1 else ""
