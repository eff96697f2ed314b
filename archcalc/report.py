"""Render an Analysis as a table, JSON, Markdown or CSV. Formatting only: bytes are the
analysis' own (``Analysis.nbytes``), numbers are written by ``archcalc.units``, tables drawn
by ``archcalc.tables``."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from archcalc import tables, units
from archcalc.analysis import Analysis, LayerStats, OutputStats, ReceptiveField, Totals
from archcalc.expressions import Value, to_exact, to_json, vsum
from archcalc.tables import Table, aligned
from archcalc.tree import Node, scope_tree, to_depth

if TYPE_CHECKING:
    from archcalc.timings import Timings
    from archcalc.training.memory import Training

FORMATS = ("table", "json", "markdown", "csv")


def _training_render():
    """archcalc.training.render, imported only for a report with a training step (a plain
    report does without it: a cold report is mostly imports, benchmarks/suite.py)."""
    from archcalc.training import render

    return render


CONVENTIONS = (
    "macs: multiply-accumulates of weight products, bias excluded; "
    "connections: (fan-in + bias) × output units (LeCun); "
    "RF: size / jump / start per axis, start = centre of the first output unit's field, in input pixels from 0"
)


def render(
    analysis: Analysis, fmt: str, timings: Timings | None = None, training: Training | None = None, *, exact=False, depth=None
) -> str:
    """``timings`` (saved by ``archcalc run --save``) adds a measured column beside the static ones;
    ``training`` (archcalc.training) the training step's columns and totals. The table and
    Markdown write counts as ``61.0 M`` (``exact``: every digit) and, with ``depth``, the block
    tree to that many levels (0: the totals alone); JSON and CSV are always exact, per layer."""
    if fmt in ("table", "markdown"):
        return (table if fmt == "table" else markdown)(analysis, timings, training, exact=exact, depth=depth)
    return {"json": to_json_text, "csv": to_csv}[fmt](analysis, timings, training)


# --- JSON: the stable contract ---------------------------------------------------------
def to_dict(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> dict[str, Any]:
    result = {
        "name": analysis.name,
        "source": analysis.source,
        "input": [to_json(d) for d in analysis.input_shape],
        "symbols": list(analysis.symbols),
        "batch": to_json(analysis.batch),
        "dtype": analysis.dtype,
        "layers": [_layer_dict(s, analysis) for s in analysis.layers],
        # with a training-only branch that cannot exist at this input, there is no training network to total
        "totals": None if analysis.invalid_training else _totals_dict(analysis.totals, analysis),
        "inference_totals": _totals_dict(analysis.inference_totals, analysis),
        "outputs": [_output_dict(o, analysis) for o in analysis.outputs],
    }
    if analysis.valid_for() is not None:  # symbolic: where the formulas hold
        result["valid_for"] = analysis.valid_for()
        if any(s.training_only for s in analysis.layers):
            result["valid_for_training"] = analysis.valid_for(training=True)
    if analysis.invalid_training:
        result["invalid_training"] = [{"layer": layer, "reason": reason} for layer, reason in analysis.invalid_training.items()]
    if timings is not None:
        result["measured"] = {"file": timings.file, "device": timings.device, "device_name": timings.device_name,
                              "dtype": timings.dtype, "batch": timings.batch, "latency_ms": timings.latency_ms}  # fmt: skip
        for layer in result["layers"]:
            layer["measured_ms"] = timings.layer_ms.get(layer["name"])
    if training is not None:
        result["training"] = _training_render().totals_dict(training)
        for layer, step in zip(result["layers"], training.layers, strict=True):
            layer["training"] = _training_render().layer_dict(step)
    return result


def _layer_dict(stats: LayerStats, analysis: Analysis) -> dict[str, Any]:
    return {
        "name": stats.name,
        "op": stats.kind,
        "label": stats.label,
        "inputs": list(stats.inputs),
        "output_shape": [to_json(d) for d in stats.output_shape],
        "params": to_json(stats.params),
        "buffers": to_json(stats.buffers),
        "macs": to_json(stats.macs),
        "connections": to_json(stats.connections),
        "flops": {"total": to_json(stats.flops), "by_kind": {k: to_json(v) for k, v in stats.flops_by_kind.items()}},
        "activations": {"elements": to_json(stats.activations), "bytes": to_json(analysis.nbytes(stats.activations))},
        "receptive_field": _rf_dict(stats.rf),
        "training_only": stats.training_only,
        "scopes": list(stats.scopes),
    }


def _output_dict(output: OutputStats, analysis: Analysis) -> dict[str, Any]:
    """One declared output: its layer and shape, and the totals of the layers it needs."""
    return {
        "label": output.label,
        "layer": output.layer,
        "shape": [to_json(d) for d in output.shape],
        "training_only": output.training_only,
        "needs": _totals_dict(output.totals, analysis),
    }


def _rf_dict(rf: ReceptiveField | None) -> dict[str, list] | None:
    if rf is None:
        return None
    return {"size": [to_json(v) for v in rf.size], "jump": [to_json(v) for v in rf.jump], "start": [to_json(v) for v in rf.start]}


def _totals_dict(totals: Totals, analysis: Analysis) -> dict[str, Any]:
    return {
        "params": to_json(totals.params),
        "buffers": to_json(totals.buffers),
        "macs": to_json(totals.macs),
        "connections": to_json(totals.connections),
        "flops": to_json(totals.flops),
        "flops_by_kind": {k: to_json(v) for k, v in totals.flops_by_kind.items()},
        "activations": {
            "elements": to_json(totals.activations),
            "bytes": to_json(analysis.nbytes(totals.activations)),
            "peak_elements": to_json(totals.peak_activations),
        },
        "param_bytes": to_json(analysis.nbytes(totals.params)),
        "layers": totals.layers,
    }


def to_json_text(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> str:
    return json.dumps(to_dict(analysis, timings, training), indent=2, ensure_ascii=False)


# --- rows shared by table and Markdown -------------------------------------------------
#: a trailing * marks a column that counts the whole batch (it scales with --batch)
HEADER = ["Layer", "Op", "Output (C, H, W)", "Params", "MACs*", "Connections", "RF size / jump / start"]
MEASURED = "Measured ms"
TRAINING_HEADER = ["Saved*", "Grad-in MACs*", "Grad-w MACs*"]
#: right-aligned columns (the training ones too)
NUMERIC = {"Params", "MACs*", "Connections", MEASURED, *TRAINING_HEADER}
BATCH_NOTE = "*: for the whole batch (scales with --batch)"


@dataclass(frozen=True)
class _View:
    """What every row reads: the analysis and the optional columns' data, and how to write numbers."""

    analysis: Analysis
    timings: Timings | None = None
    training: Training | None = None
    exact: bool = False

    @property
    def header(self) -> list[str]:
        return HEADER + ([MEASURED] if self.timings else []) + (TRAINING_HEADER if self.training else [])

    def counts(self, params: Value, macs: Value, connections: Value) -> list[str]:
        return [units.count(params, self.exact), units.count(macs, self.exact), units.count(connections, self.exact)]

    def measured(self, name: str | None) -> list[str]:
        if self.timings is None:
            return []
        ms = self.timings.latency_ms["median"] if name is None else self.timings.layer_ms.get(name)
        return ["-" if ms is None else f"{ms:.4f}"]

    def training_cells(self, layers: list[LayerStats] | None) -> list[str]:
        """Saved bytes and backward macs of ``layers`` (None: the whole step's)."""
        if self.training is None:
            return []
        if layers is None:
            values = _training_render().csv_values(self.training)
        else:
            steps = [self._steps[s.name] for s in layers]
            values = {k: vsum(_training_render().csv_values(t)[k] for t in steps) for k in _training_render().CSV_FIELDS}
        saved, grad_in, grad_w = values.values()
        return [units.nbytes(saved, self.exact), units.count(grad_in, self.exact), units.count(grad_w, self.exact)]

    @cached_property
    def _steps(self) -> dict:
        return {step.name: step for step in self.training.layers} if self.training else {}


def _rf_text(rf: ReceptiveField | None) -> str:
    if rf is None:
        return "-"
    return f"{units.axes(rf.size)} / {units.axes(rf.jump)} / {units.axes(rf.start)}"


def _layer_row(view: _View, s: LayerStats, name: str) -> list[str]:
    name += " †" if s.training_only else ""
    cells = [name, s.label, units.shape(s.output_shape), *view.counts(s.params, s.macs, s.connections), _rf_text(s.rf)]
    return cells + view.measured(s.name) + view.training_cells([s])


def _scope_row(view: _View, node: Node, name: str) -> list[str]:
    info = view.analysis.scopes.get(node.path)
    sub, last = node.totals, node.layers[-1]
    label = f"{info.kind if info else 'block'} · {len(node.layers)} layers"
    cells = [name, label, units.shape(last.output_shape), *view.counts(sub.params, sub.macs, sub.connections), ""]
    return cells + ([""] if view.timings else []) + view.training_cells(node.layers)


def _rows(view: _View, depth: int | None) -> list[list[str]]:
    """Every layer (``depth`` None), or the block tree to ``depth`` levels, indented."""
    if depth is None:
        return [_layer_row(view, s, s.name) for s in view.analysis.layers]
    rows = []
    for level, node in to_depth(scope_tree(view.analysis), depth):
        name = "  " * (level - 1) + node.short
        rows.append(_layer_row(view, node.stats, name) if node.stats else _scope_row(view, node, name))
    return rows


def _total_row(view: _View, totals: Totals, label: str) -> list[str]:
    return [
        label,
        "",
        "",
        *view.counts(totals.params, totals.macs, totals.connections),
        "",
        *view.measured(None),
        *view.training_cells(None),
    ]


def _summary(view: _View) -> list[str]:
    a = view.analysis
    t = a.totals
    kinds = ", ".join(f"{k} {units.text(v)}" for k, v in t.flops_by_kind.items())
    lines = [
        f"buffers (non-trainable): {units.text(t.buffers)}",
        f"flops: {units.text(t.flops)}{_human(t.flops, units.count)}; by kind: {kinds}",
        f"activations: {units.text(t.activations)} elements, {units.text(a.nbytes(t.activations))} bytes"
        f"{_human(a.nbytes(t.activations), units.nbytes)} as {a.dtype}; peak layer {units.text(t.peak_activations)} elements",
        f"parameter memory: {units.text(a.nbytes(t.params))} bytes{_human(a.nbytes(t.params), units.nbytes)} as {a.dtype}",
    ]
    lines += _validity_lines(a)
    for reason in a.invalid_training.values():
        lines.append(f"training-only branch invalid at this input, left out (totals are without it): {reason}")
    if any(s.training_only for s in a.layers):
        i = a.inference_totals
        lines.append(
            f"without training-only layers (†): params {units.text(i.params)}, macs {units.text(i.macs)}, "
            f"connections {units.text(i.connections)}"
        )
    if len(a.outputs) > 1:
        for o in a.outputs:
            name = o.label if o.label == o.layer else f"{o.label} = {o.layer}"
            lines.append(
                f"output {name} {units.shape(o.shape)}{' †' if o.training_only else ''}: needs {o.totals.layers} layers, "
                f"params {units.text(o.totals.params)}, macs {units.text(o.totals.macs)}"
            )
    if view.timings is not None:
        lines.append(view.timings.describe())
    if view.training is not None:
        lines += _training_render().summary(view.training)
    return lines


def _validity_lines(analysis: Analysis) -> list[str]:
    """Symbolic input: the sizes the formulas hold for (the smallest each layer accepts)."""
    valid = analysis.valid_for()
    if valid is None:
        return []
    lines = [f"the formulas hold for {_sizes(valid)} (the smallest input every layer accepts)"]
    if any(s.training_only for s in analysis.layers):
        training = analysis.valid_for(training=True)
        if training != valid:
            lines.append(f"training-only layers (†), and the totals with them, exist only for {_sizes(training)}")
    return lines


def _sizes(valid: dict) -> str:
    return ", ".join(f"{name} ≥ {value}" if value is not None else f"no {name} up to 16,384" for name, value in valid.items())


def _human(value: Value, unit) -> str:
    """`` (58.1 MiB)`` beside an exact count that has a shorter form; nothing for a formula."""
    short = unit(value)
    return f" ({short})" if isinstance(to_exact(value), int) and abs(to_exact(value)) >= 1000 else ""


def _title(analysis: Analysis) -> str:
    shape = units.shape(analysis.input_shape)
    batch = f", batch {units.text(analysis.batch)}" if analysis.batch != 1 else ""
    return f"{analysis.name} — input {shape}{batch}"


def _table(view: _View, depth: int | None) -> Table:
    header = view.header
    right = frozenset(i for i, title in enumerate(header) if title in NUMERIC)
    rows = [] if depth == 0 else _rows(view, depth)
    return Table(header, rows, right, [_total_row(view, view.analysis.totals, "Total")])


# --- formats ---------------------------------------------------------------------------
WIDE_CELL = 40


def table(analysis: Analysis, timings: Timings | None = None, training: Training | None = None, *, exact=False, depth=None) -> str:
    """Aligned columns; when formulas make a cell too wide, one block per layer instead."""
    view = _View(analysis, timings, training, exact)
    grid = _table(view, depth)
    if any(len(cell) > WIDE_CELL for row in [*grid.rows, *grid.footer] for cell in row):
        body = _long_table(grid)
    else:
        body = aligned(grid)
    notes = [*CONVENTIONS.split("; "), BATCH_NOTE]  # one convention a line: a terminal need not wrap them
    return "\n".join([_title(analysis), "", *body, "", *_summary(view), "", *notes])


def _long_table(grid: Table) -> list[str]:
    keys = [h.lower() for h in grid.header[2:]]
    width = max(map(len, keys))
    out = []
    for row in [*grid.rows, *grid.footer]:
        out.append(f"{row[0]}  {row[1]}".rstrip())
        out += [f"    {key.ljust(width)}  {cell}" for key, cell in zip(keys, row[2:], strict=True) if cell and cell != "0"]
    return out


def markdown(analysis: Analysis, timings: Timings | None = None, training: Training | None = None, *, exact=False, depth=None) -> str:
    view = _View(analysis, timings, training, exact)
    out = [f"# {analysis.name}", ""]
    if analysis.source:
        out += [f"Source: {analysis.source}", ""]
    out += [f"Input {units.shape(analysis.input_shape)}, batch {units.text(analysis.batch)}, {analysis.dtype}.", ""]
    out += [*tables.markdown(_table(view, depth)), ""]
    out += [f"- {line}" for line in _summary(view)]
    out += ["", f"_{CONVENTIONS}; {BATCH_NOTE}._", ""]
    return "\n".join(out)


CSV_COUNTS = ("params", "buffers", "macs", "connections", "flops", "activations")


def to_csv(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> str:
    buffer = io.StringIO()
    fields = ["name", "op", "label", "output_shape", *CSV_COUNTS, "rf_size", "rf_jump", "rf_start", "training_only"]
    fields += (["measured_ms"] if timings else []) + (_training_render().CSV_FIELDS if training else [])
    writer = csv.DictWriter(buffer, fields, lineterminator="\n", restval="")
    writer.writeheader()
    steps = {step.name: step for step in training.layers} if training else {}
    for s in analysis.layers:
        row = {"name": s.name, "op": s.kind, "label": s.label, "output_shape": _csv_axes(s.output_shape), "training_only": s.training_only}
        row.update({field: to_json(getattr(s, field)) for field in CSV_COUNTS})
        if s.rf is not None:
            row.update({f"rf_{part}": _csv_axes(getattr(s.rf, part)) for part in ("size", "jump", "start")})
        if timings:
            row["measured_ms"] = _View(analysis, timings).measured(s.name)[0]
        if training:
            row.update({k: to_json(v) for k, v in _training_render().csv_values(steps[s.name]).items()})
        writer.writerow(row)
    total = {"name": "TOTAL", **{field: to_json(getattr(analysis.totals, field)) for field in CSV_COUNTS}}
    if timings:
        total["measured_ms"] = f"{timings.latency_ms['median']:.4f}"
    if training:
        total.update({k: to_json(v) for k, v in _training_render().csv_values(training).items()})
    writer.writerow(total)
    return buffer.getvalue()


def _csv_axes(values: tuple) -> str:
    return "x".join(str(to_json(v)) for v in values)
