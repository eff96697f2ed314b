"""Render an Analysis as a table, JSON, Markdown or CSV. Formatting only: no arithmetic
beyond multiplying element counts by the dtype's size for bytes."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from archcalc.analysis import Analysis, LayerStats, OutputStats, ReceptiveField, Totals
from archcalc.errors import shape_text
from archcalc.expressions import to_json, to_text
from archcalc.timings import Timings
from archcalc.training import render as training_render

if TYPE_CHECKING:
    from archcalc.training.memory import Training

FORMATS = ("table", "json", "markdown", "csv")

CONVENTIONS = (
    "macs: multiply-accumulates of weight products, bias excluded; "
    "connections: (fan-in + bias) × output units (LeCun); "
    "RF: size / jump / start per axis, start = centre of the first output unit's field, in input pixels from 0"
)


def render(analysis: Analysis, fmt: str, timings: Timings | None = None, training: Training | None = None) -> str:
    """``timings`` (saved by ``archcalc run --save``) adds a measured column beside the static ones;
    ``training`` (archcalc.training) the training step's columns and totals."""
    return {"table": table, "json": to_json_text, "markdown": markdown, "csv": to_csv}[fmt](analysis, timings, training)


# --- JSON: the stable contract ---------------------------------------------------------
def to_dict(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> dict[str, Any]:
    result = {
        "name": analysis.name,
        "source": analysis.source,
        "input": [to_json(d) for d in analysis.input_shape],
        "symbols": list(analysis.symbols),
        "batch": to_json(analysis.batch),
        "dtype": analysis.dtype,
        "layers": [_layer_dict(s, analysis.dtype_bytes) for s in analysis.layers],
        # with a training-only branch that cannot exist at this input, there is no training network to total
        "totals": None if analysis.invalid_training else _totals_dict(analysis.totals, analysis.dtype_bytes),
        "inference_totals": _totals_dict(analysis.inference_totals, analysis.dtype_bytes),
        "outputs": [_output_dict(o, analysis.dtype_bytes) for o in analysis.outputs],
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
        result["training"] = training_render.totals_dict(training)
        for layer, step in zip(result["layers"], training.layers, strict=True):
            layer["training"] = training_render.layer_dict(step)
    return result


def _layer_dict(stats: LayerStats, dtype_bytes: int) -> dict[str, Any]:
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
        "activations": {"elements": to_json(stats.activations), "bytes": to_json(stats.activations * dtype_bytes)},
        "receptive_field": _rf_dict(stats.rf),
        "training_only": stats.training_only,
        "scopes": list(stats.scopes),
    }


def _output_dict(output: OutputStats, dtype_bytes: int) -> dict[str, Any]:
    """One declared output: its layer and shape, and the totals of the layers it needs."""
    return {
        "label": output.label,
        "layer": output.layer,
        "shape": [to_json(d) for d in output.shape],
        "training_only": output.training_only,
        "needs": _totals_dict(output.totals, dtype_bytes),
    }


def _rf_dict(rf: ReceptiveField | None) -> dict[str, list] | None:
    if rf is None:
        return None
    return {"size": [to_json(v) for v in rf.size], "jump": [to_json(v) for v in rf.jump], "start": [to_json(v) for v in rf.start]}


def _totals_dict(totals: Totals, dtype_bytes: int) -> dict[str, Any]:
    return {
        "params": to_json(totals.params),
        "buffers": to_json(totals.buffers),
        "macs": to_json(totals.macs),
        "connections": to_json(totals.connections),
        "flops": to_json(totals.flops),
        "flops_by_kind": {k: to_json(v) for k, v in totals.flops_by_kind.items()},
        "activations": {
            "elements": to_json(totals.activations),
            "bytes": to_json(totals.activations * dtype_bytes),
            "peak_elements": to_json(totals.peak_activations),
        },
        "param_bytes": to_json(totals.params * dtype_bytes),
        "layers": totals.layers,
    }


def to_json_text(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> str:
    return json.dumps(to_dict(analysis, timings, training), indent=2, ensure_ascii=False)


# --- rows shared by table, Markdown and CSV ---------------------------------------------
HEADER = ["Layer", "Op", "Output (C, H, W)", "Params", "MACs", "Connections", "RF size / jump / start"]
MEASURED = "Measured ms"
#: right-aligned columns (the training ones too)
NUMERIC = {"Params", "MACs", "Connections", MEASURED, "Saved B", "Grad-in MACs", "Grad-w MACs"}


def _header(timings: Timings | None, training: Training | None = None) -> list[str]:
    return HEADER + ([MEASURED] if timings else []) + (training_render.HEADER if training else [])


def _measured(name: str, timings: Timings | None) -> list[str]:
    if timings is None:
        return []
    ms = timings.layer_ms.get(name)
    return ["-" if ms is None else f"{ms:.4f}"]


def _axes(values: tuple) -> str:
    if values[0] == values[1]:
        return to_text(values[0], separators=False)
    return "×".join(to_text(v, separators=False) for v in values)


def _rf_text(rf: ReceptiveField | None) -> str:
    if rf is None:
        return "-"
    return f"{_axes(rf.size)} / {_axes(rf.jump)} / {_axes(rf.start)}"


def _rows(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> list[list[str]]:
    rows = []
    steps = training.layers if training else [None] * len(analysis.layers)
    for s, step in zip(analysis.layers, steps, strict=True):
        name = s.name + (" †" if s.training_only else "")
        rows.append([name, s.label, shape_text(s.output_shape), to_text(s.params), to_text(s.macs), to_text(s.connections), _rf_text(s.rf)])
        rows[-1] += _measured(s.name, timings) + (training_render.cells(step) if step else [])
    return rows


def _total_row(totals: Totals, label: str, timings: Timings | None = None, training: Training | None = None) -> list[str]:
    measured = [f"{timings.latency_ms['median']:.4f}"] if timings else []
    steps = training_render.total_cells(training) if training else []
    return [label, "", "", to_text(totals.params), to_text(totals.macs), to_text(totals.connections), "", *measured, *steps]


def _summary(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> list[str]:
    t, b = analysis.totals, analysis.dtype_bytes
    kinds = ", ".join(f"{k} {to_text(v)}" for k, v in t.flops_by_kind.items())
    lines = [
        f"buffers (non-trainable): {to_text(t.buffers)}",
        f"flops: {to_text(t.flops)} ({kinds})",
        f"activations: {to_text(t.activations)} elements, {to_text(t.activations * b)} bytes as {analysis.dtype}; "
        f"peak layer {to_text(t.peak_activations)} elements",
        f"parameter memory: {to_text(t.params * b)} bytes as {analysis.dtype}",
    ]
    lines += _validity_lines(analysis)
    for reason in analysis.invalid_training.values():
        lines.append(f"training-only branch invalid at this input, left out (totals are without it): {reason}")
    if any(s.training_only for s in analysis.layers):
        i = analysis.inference_totals
        lines.append(
            f"without training-only layers (†): params {to_text(i.params)}, macs {to_text(i.macs)}, connections {to_text(i.connections)}"
        )
    if len(analysis.outputs) > 1:
        for o in analysis.outputs:
            name = o.label if o.label == o.layer else f"{o.label} = {o.layer}"
            lines.append(
                f"output {name} {shape_text(o.shape)}{' †' if o.training_only else ''}: needs {o.totals.layers} layers, "
                f"params {to_text(o.totals.params)}, macs {to_text(o.totals.macs)}"
            )
    if timings is not None:
        lines.append(timings.describe())
    if training is not None:
        lines += training_render.summary(training)
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


def _title(analysis: Analysis) -> str:
    shape = shape_text(analysis.input_shape)
    batch = f", batch {analysis.batch}" if analysis.batch != 1 else ""
    return f"{analysis.name} — input {shape}{batch}"


# --- formats ---------------------------------------------------------------------------
WIDE_CELL = 40


def table(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> str:
    """Aligned columns; when formulas make a cell too wide, one block per layer instead."""
    rows = _rows(analysis, timings, training)
    totals = _total_row(analysis.totals, "Total", timings, training)
    header = _header(timings, training)
    if any(len(cell) > WIDE_CELL for row in [*rows, totals] for cell in row):
        return _long_table(analysis, rows, totals, timings, training)
    widths = [max(len(r[i]) for r in [header, totals, *rows]) for i in range(len(header))]
    numeric = {i for i, title in enumerate(header) if title in NUMERIC}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [_title(analysis), "", line(header), rule, *map(line, rows), rule, line(totals), ""]
    out += _summary(analysis, timings, training)
    out += ["", CONVENTIONS]
    return "\n".join(out)


def _long_table(analysis: Analysis, rows: list[list[str]], totals: list[str], timings: Timings | None = None, training=None) -> str:
    out = [_title(analysis), ""]
    keys = [h.lower() for h in _header(timings, training)[2:]]
    width = max(map(len, keys))
    for row in [*rows, totals]:
        out.append(f"{row[0]}  {row[1]}".rstrip())
        out += [f"    {key.ljust(width)}  {cell}" for key, cell in zip(keys, row[2:], strict=True) if cell and cell != "0"]
    out += ["", *_summary(analysis, timings, training), "", CONVENTIONS]
    return "\n".join(out)


def markdown(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> str:
    def md(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    header = _header(timings, training)
    align = ["---:" if title in NUMERIC else "---" for title in header]
    totals = [f"**{c}**" if c else "" for c in _total_row(analysis.totals, "Total", timings, training)]
    out = [f"# {analysis.name}", ""]
    if analysis.source:
        out += [f"Source: {analysis.source}", ""]
    out += [f"Input {shape_text(analysis.input_shape)}, batch {analysis.batch}, {analysis.dtype}.", ""]
    out += [md(header), "| " + " | ".join(align) + " |", *map(md, _rows(analysis, timings, training)), md(totals), ""]
    out += [f"- {line}" for line in _summary(analysis, timings, training)]
    out += ["", f"_{CONVENTIONS}._", ""]
    return "\n".join(out)


CSV_COUNTS = ("params", "buffers", "macs", "connections", "flops", "activations")


def to_csv(analysis: Analysis, timings: Timings | None = None, training: Training | None = None) -> str:
    buffer = io.StringIO()
    fields = ["name", "op", "label", "output_shape", *CSV_COUNTS, "rf_size", "rf_jump", "rf_start", "training_only"]
    fields += (["measured_ms"] if timings else []) + (training_render.CSV_FIELDS if training else [])
    writer = csv.DictWriter(buffer, fields, lineterminator="\n", restval="")
    writer.writeheader()
    steps = {step.name: step for step in training.layers} if training else {}
    for s in analysis.layers:
        row = {"name": s.name, "op": s.kind, "label": s.label, "output_shape": _csv_axes(s.output_shape), "training_only": s.training_only}
        row.update({field: to_json(getattr(s, field)) for field in CSV_COUNTS})
        if s.rf is not None:
            row.update({f"rf_{part}": _csv_axes(getattr(s.rf, part)) for part in ("size", "jump", "start")})
        if timings:
            row["measured_ms"] = _measured(s.name, timings)[0]
        if training:
            row.update({k: to_json(v) for k, v in training_render.csv_values(steps[s.name]).items()})
        writer.writerow(row)
    total = {"name": "TOTAL", **{field: to_json(getattr(analysis.totals, field)) for field in CSV_COUNTS}}
    if timings:
        total["measured_ms"] = f"{timings.latency_ms['median']:.4f}"
    if training:
        total.update({k: to_json(v) for k, v in training_render.csv_values(training).items()})
    writer.writerow(total)
    return buffer.getvalue()


def _csv_axes(values: tuple) -> str:
    return "x".join(str(to_json(v)) for v in values)
