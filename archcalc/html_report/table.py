"""The per-layer table of the HTML report: one row per layer, nested under one row per block
instance or branch carrying its subtotals, which fold open and shut; every column sorts.

Rows are static HTML (readable without script); ``page.js`` sorts and folds them. Each
sortable cell carries its exact value in ``data-v`` (an integer, ``p/q``, or a formula's
text), which the script compares exactly (BigInt), never as a float. A block's subtotals
are the analysis' own ``total`` over its layers, as the diagram's collapsed blocks are; with
a training step, its saved bytes and backward MACs are the sums of its layers' (each storage
counted at the first layer to keep it, so the blocks and layers add up to the step's totals).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from fractions import Fraction

from archcalc.analysis import Analysis, LayerStats, ReceptiveField, Totals, total
from archcalc.expressions import Value, is_symbolic, to_exact, vsum
from archcalc.timings import Timings
from archcalc.training.memory import Training
from archcalc.training.model import LayerTraining
from archcalc.tree import Node, scope_tree
from archcalc.typeset import to_html

COLUMNS = ("#", "Layer", "Op", "Output (C, H, W)", "Params", "MACs", "FLOPs", "Activations (bytes)")
TRAINING = ("Saved (bytes)", "Grad-in MACs", "Grad-w MACs")  # with a training step, after the activations
RF = "RF size / jump / start"
MEASURED = "Measured ms"
TITLES = {
    "Saved (bytes)": "bytes kept for the backward pass: each storage at the first layer to keep it",
    "Grad-in MACs": "the backward's multiply-adds for the gradient with respect to the layer's inputs",
    "Grad-w MACs": "the backward's multiply-adds for the gradient with respect to the layer's weights",
}


@dataclass(frozen=True)
class _Table:
    """What every row reads: the analysis, each layer's place, and the optional columns' data."""

    analysis: Analysis
    order: dict[str, int]
    timings: Timings | None
    training: dict[str, LayerTraining] | None  # by layer name

    def training_cells(self, layers: list[LayerStats]) -> list[str]:
        """Saved bytes and backward MACs, summed over ``layers`` (one layer, or a block's)."""
        if self.training is None:
            return []
        steps = [self.training[s.name] for s in layers]
        return [cell(vsum(measure(t) for t in steps)) for measure in TRAINING_MEASURES]


TRAINING_MEASURES = (lambda t: t.saved_bytes, lambda t: t.backward_input_macs, lambda t: t.backward_weight_macs)


def table(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> str:
    header = [*COLUMNS, *(TRAINING if training else ()), RF, *([MEASURED] if timings else [])]
    head = "".join(f'<th scope="col" data-col="{i}" tabindex="0"{_title(h)}>{html.escape(h)}</th>' for i, h in enumerate(header))
    by_name = {t.name: t for t in training.layers} if training else None
    context = _Table(analysis, {s.name: i for i, s in enumerate(analysis.layers)}, timings, by_name)
    rows = _rows(scope_tree(analysis), context)
    foot = _total_row("Total", analysis.totals, context, "totals", training)
    if any(s.training_only for s in analysis.layers):
        foot += _total_row("Without training-only (†)", analysis.inference_totals, context, "inference_totals", None)
    return f'<table id="layers" class="layers"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody><tfoot>{foot}</tfoot></table>'


def _title(heading: str) -> str:
    return f' title="{html.escape(TITLES[heading])}"' if heading in TITLES else ""


def _rows(scope: Node, context: _Table) -> list[str]:
    rows = []
    for child in scope.children:
        if child.stats is None:
            rows.append(_scope_row(child, context))
            rows += _rows(child, context)
        else:
            rows.append(_layer_row(child.stats, scope.path, context))
    return rows


def _short(path: str, parent: str) -> str:
    return path[len(parent) + 1 :] if parent and path.startswith(parent + ".") else path


def _layer_row(stats: LayerStats, parent: str, context: _Table) -> str:
    depth = len(stats.scopes)
    name = html.escape(_short(stats.name, parent)) + (" †" if stats.training_only else "")
    cells = [
        cell(context.order[stats.name] + 1),
        f'<td class="name" style="--depth:{depth}" title="{html.escape(stats.name)}" data-v="{html.escape(stats.name)}">{name}</td>',
        _text(stats.label),
        _markup(shape_html(stats.output_shape), key=stats.activations),
        *(cell(v) for v in (stats.params, stats.macs, stats.flops, context.analysis.nbytes(stats.activations))),
        *context.training_cells([stats]),
        _markup(rf_html(stats.rf), key=stats.rf.size[0] if stats.rf else None),
    ]
    if context.timings:
        ms = context.timings.layer_ms.get(stats.name)
        cells.append(_text("-", key="") if ms is None else _text(f"{ms:.4f}", key=Fraction(f"{ms:.4f}")))  # unmeasured sort last
    parent_attr = f' data-parent="{html.escape(parent)}"' if parent else ""
    training = " training" if stats.training_only else ""
    return f'<tr class="layer{training}" data-name="{html.escape(stats.name)}"{parent_attr}>{"".join(cells)}</tr>'


def _scope_row(scope: Node, context: _Table) -> str:
    info = context.analysis.scopes.get(scope.path)
    kind = info.kind if info else "block"
    sub = total(scope.layers)
    last = scope.layers[-1]
    depth = len(last.scopes[: last.scopes.index(scope.path)])
    label = html.escape(_short(scope.path, scope.parent))
    toggle = f'<button class="fold" aria-expanded="true" title="fold {html.escape(scope.path)}">{label}</button>'
    cells = [
        cell(context.order[scope.layers[0].name] + 1),
        f'<td class="name" style="--depth:{depth}" data-v="{html.escape(scope.path)}">{toggle}</td>',
        _text(f"{kind} · {len(scope.layers)} layers"),
        _markup(shape_html(last.output_shape), key=last.activations),
        *(cell(v) for v in (sub.params, sub.macs, sub.flops, context.analysis.nbytes(sub.activations))),
        *context.training_cells(scope.layers),
        "<td></td>",
        *(["<td></td>"] if context.timings else []),
    ]
    parent_attr = f' data-parent="{html.escape(scope.parent)}"' if scope.parent else ""
    return f'<tr class="scope" data-scope="{html.escape(scope.path)}"{parent_attr}>{"".join(cells)}</tr>'


def _total_row(label: str, totals: Totals, context: _Table, which: str, training: Training | None) -> str:
    """``training``: the step's totals for the training columns; None leaves them empty (the
    inference network's row: a training step runs the training-only branches too)."""
    steps = [cell(v) for v in (training.saved_bytes, training.backward_input_macs, training.backward_weight_macs)] if training else []
    cells = [
        "<td></td>",
        f'<th scope="row">{html.escape(label)}</th>',
        _text(f"{totals.layers} layers"),
        "<td></td>",
        *(cell(v) for v in (totals.params, totals.macs, totals.flops, context.analysis.nbytes(totals.activations))),
        *(steps or ["<td></td>"] * (len(TRAINING) if context.training is not None else 0)),
        "<td></td>",
    ]
    if context.timings:
        cells.append(_text(f"{context.timings.latency_ms['median']:.4f}"))
    return f'<tr class="total" data-totals="{which}">{"".join(cells)}</tr>'


def shape_html(shape: tuple) -> str:
    items = [to_html(d, separators=False) for d in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def rf_html(rf: ReceptiveField | None) -> str:
    """size / jump / start, one value when both axes agree (as the text report writes them),
    else height×width — each formula in parentheses, so the × and / cannot be misread."""
    if rf is None:
        return "-"
    return " / ".join(axes_html(values) for values in (rf.size, rf.jump, rf.start))


def axes_html(values: tuple) -> str:
    if values[0] == values[1]:
        return to_html(values[0], separators=False)
    items = [to_html(v, separators=False) for v in values]
    return "×".join(f"({item})" if is_symbolic(to_exact(v)) else item for item, v in zip(items, values, strict=True))


def key_text(value: Value) -> str:
    """The exact sort key: an integer, p/q, or the formula's text."""
    value = to_exact(value)
    return str(value)


def cell(value: Value) -> str:
    """A number (or formula), right-aligned, typeset, with its exact value as the key."""
    cls = "num formula" if is_symbolic(to_exact(value)) else "num"
    return f'<td class="{cls}" data-v="{html.escape(key_text(value))}">{to_html(value)}</td>'


def _text(text: str, key: Value | str | None = None) -> str:
    return _markup(html.escape(text), key)


def _markup(markup: str, key: Value | str | None = None) -> str:
    attr = f' data-v="{html.escape(key if isinstance(key, str) else key_text(key))}"' if key is not None else ""
    return f"<td{attr}>{markup}</td>"
