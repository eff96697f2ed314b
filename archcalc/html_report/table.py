"""The per-layer table of the HTML report: one row per layer, nested under one row per block
instance or branch carrying its subtotals, which fold open and shut; every column sorts.

Rows are static HTML (readable without script); ``page.js`` sorts and folds them. Each
sortable cell carries its exact value in ``data-v`` (an integer, ``p/q``, or a formula's
text), which the script compares exactly (BigInt), never as a float. A block's subtotals
are the analysis' own ``total`` over its layers, as the diagram's collapsed blocks are.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from fractions import Fraction

from archcalc.analysis import Analysis, LayerStats, ReceptiveField, Totals, total
from archcalc.expressions import Value, is_symbolic, to_exact
from archcalc.timings import Timings
from archcalc.typeset import to_html

COLUMNS = ("#", "Layer", "Op", "Output (C, H, W)", "Params", "MACs", "FLOPs", "Activations (bytes)", "RF size / jump / start")
MEASURED = "Measured ms"


@dataclass
class _Scope:
    path: str
    parent: str
    children: list = field(default_factory=list)  # _Scope or LayerStats, in order of first appearance
    layers: list[LayerStats] = field(default_factory=list)  # every layer inside, nested ones too


def table(analysis: Analysis, timings: Timings | None = None) -> str:
    header = [*COLUMNS, *([MEASURED] if timings else [])]
    head = "".join(f'<th scope="col" data-col="{i}" tabindex="0">{html.escape(h)}</th>' for i, h in enumerate(header))
    root = _tree(analysis)
    order = {s.name: i for i, s in enumerate(analysis.layers)}
    rows = _rows(root, analysis, order, timings)
    foot = _total_row("Total", analysis.totals, analysis, "totals", timings)
    if any(s.training_only for s in analysis.layers):
        foot += _total_row("Without training-only (†)", analysis.inference_totals, analysis, "inference_totals", None)
    return f'<table id="layers" class="layers"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody><tfoot>{foot}</tfoot></table>'


def _tree(analysis: Analysis) -> _Scope:
    root = _Scope("", "")
    scopes = {"": root}
    for stats in analysis.layers:
        parent = root
        for path in stats.scopes:
            if path not in scopes:
                scopes[path] = _Scope(path, parent.path)
                parent.children.append(scopes[path])
            parent = scopes[path]
            parent.layers.append(stats)
        parent.children.append(stats)
    return root


def _rows(scope: _Scope, analysis: Analysis, order: dict, timings: Timings | None) -> list[str]:
    rows = []
    for child in scope.children:
        if isinstance(child, _Scope):
            rows.append(_scope_row(child, analysis, order, timings))
            rows += _rows(child, analysis, order, timings)
        else:
            rows.append(_layer_row(child, scope.path, analysis, order, timings))
    return rows


def _short(path: str, parent: str) -> str:
    return path[len(parent) + 1 :] if parent and path.startswith(parent + ".") else path


def _layer_row(stats: LayerStats, parent: str, analysis: Analysis, order: dict, timings: Timings | None) -> str:
    depth = len(stats.scopes)
    name = html.escape(_short(stats.name, parent)) + (" †" if stats.training_only else "")
    cells = [
        _cell(order[stats.name] + 1),
        f'<td class="name" style="--depth:{depth}" title="{html.escape(stats.name)}" data-v="{html.escape(stats.name)}">{name}</td>',
        _text(stats.label),
        _markup(shape_html(stats.output_shape), key=stats.activations),
        *(_cell(v) for v in (stats.params, stats.macs, stats.flops, stats.activations * analysis.dtype_bytes)),
        _markup(rf_html(stats.rf), key=stats.rf.size[0] if stats.rf else None),
    ]
    if timings:
        ms = timings.layer_ms.get(stats.name)
        cells.append(_text("-", key="") if ms is None else _text(f"{ms:.4f}", key=Fraction(f"{ms:.4f}")))  # unmeasured sort last
    parent_attr = f' data-parent="{html.escape(parent)}"' if parent else ""
    training = " training" if stats.training_only else ""
    return f'<tr class="layer{training}" data-name="{html.escape(stats.name)}"{parent_attr}>{"".join(cells)}</tr>'


def _scope_row(scope: _Scope, analysis: Analysis, order: dict, timings: Timings | None) -> str:
    info = analysis.scopes.get(scope.path)
    kind = info.kind if info else "block"
    sub = total(scope.layers)
    last = scope.layers[-1]
    depth = len(last.scopes[: last.scopes.index(scope.path)])
    label = html.escape(_short(scope.path, scope.parent))
    toggle = f'<button class="fold" aria-expanded="true" title="fold {html.escape(scope.path)}">{label}</button>'
    cells = [
        _cell(order[scope.layers[0].name] + 1),
        f'<td class="name" style="--depth:{depth}" data-v="{html.escape(scope.path)}">{toggle}</td>',
        _text(f"{kind} · {len(scope.layers)} layers"),
        _markup(shape_html(last.output_shape), key=last.activations),
        *(_cell(v) for v in (sub.params, sub.macs, sub.flops, sub.activations * analysis.dtype_bytes)),
        "<td></td>",
        *(["<td></td>"] if timings else []),
    ]
    parent_attr = f' data-parent="{html.escape(scope.parent)}"' if scope.parent else ""
    return f'<tr class="scope" data-scope="{html.escape(scope.path)}"{parent_attr}>{"".join(cells)}</tr>'


def _total_row(label: str, totals: Totals, analysis: Analysis, which: str, timings: Timings | None) -> str:
    cells = [
        "<td></td>",
        f'<th scope="row">{html.escape(label)}</th>',
        _text(f"{totals.layers} layers"),
        "<td></td>",
        *(_cell(v) for v in (totals.params, totals.macs, totals.flops, totals.activations * analysis.dtype_bytes)),
        "<td></td>",
    ]
    if timings:
        cells.append(_text(f"{timings.latency_ms['median']:.4f}"))
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


def _cell(value: Value) -> str:
    """A number (or formula), right-aligned, typeset, with its exact value as the key."""
    cls = "num formula" if is_symbolic(to_exact(value)) else "num"
    return f'<td class="{cls}" data-v="{html.escape(key_text(value))}">{to_html(value)}</td>'


def _text(text: str, key: Value | str | None = None) -> str:
    return _markup(html.escape(text), key)


def _markup(markup: str, key: Value | str | None = None) -> str:
    attr = f' data-v="{html.escape(key if isinstance(key, str) else key_text(key))}"' if key is not None else ""
    return f"<td{attr}>{markup}</td>"
