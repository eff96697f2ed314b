"""Architectures side by side: one summary row per analysed network, and its renderers.

``summarise`` reduces an Analysis to plain data (exact ints or sympy expressions); the
renderers only format those rows. Every figure is the inference network's (training-only
branches such as GoogLeNet's auxiliary classifiers left out), except the ``*_training``
fields, which count them too.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from archcalc import tables, units
from archcalc.errors import SpecError
from archcalc.expressions import definitely, is_symbolic, to_json
from archcalc.ops import REGISTRY
from archcalc.tables import Table, aligned, shorten

if TYPE_CHECKING:  # the CLI imports SORT_KEYS at start-up; keep that import light
    from archcalc.analysis import Analysis, LayerStats
    from archcalc.training.memory import Training

#: layers that carry weights for "weighted depth" — how the papers count depth (LeNet-5's
#: 7 layers, AlexNet's 8, VGG-16's 16, GoogLeNet's 22, ResNet-152's 152); BN does not count

#: --sort keys → summary fields
SORT_KEYS = {
    "name": "name",
    "params": "params",
    "macs": "macs",
    "depth": "weighted_depth",
    "peak": "peak_activation_bytes",
    "activations": "total_activation_bytes",
    "rf": "receptive_field",
    "backward": "backward_macs",  # these three with --training
    "saved": "saved_bytes",
    "train-peak": "training_peak_bytes",
}
FORMATS = ("table", "json", "markdown", "csv")


def summarise(analysis: Analysis, training: Training | None = None) -> dict[str, Any]:
    """The comparison row of one network, as plain data (exact values, never floats); with
    ``training``, its training step's columns too (which count training-only branches: they train)."""
    inference = [s for s in analysis.layers if not s.training_only]
    totals = analysis.inference_totals
    last = inference[-1] if inference else None
    expensive = most_expensive(inference)
    return {
        "name": analysis.name,
        "source": analysis.source,
        "input": analysis.input_shape,
        "batch": analysis.batch,
        "dtype": analysis.dtype,
        "params": totals.params,
        "params_training": None if analysis.invalid_training else analysis.totals.params,  # no training network: unknown
        "macs": totals.macs,
        "macs_training": None if analysis.invalid_training else analysis.totals.macs,
        "flops": totals.flops,
        "weighted_depth": weighted_depth(inference),
        "layers": totals.layers,
        "peak_activations": totals.peak_activations,
        "peak_activation_bytes": analysis.nbytes(totals.peak_activations),
        "total_activations": totals.activations,
        "total_activation_bytes": analysis.nbytes(totals.activations),
        "receptive_field": last.rf.size if last is not None and last.rf is not None else None,
        "receptive_field_layer": last.name if last is not None else None,
        "most_expensive_layer": expensive.name if expensive else None,
        "most_expensive_macs": expensive.macs if expensive else None,
        **(_training_row(training) if training is not None else {}),
    }


def _training_row(training: Training) -> dict[str, Any]:
    return {
        "optimizer": training.optimizer,
        "backward_macs": training.backward_macs,
        "saved_bytes": training.saved_bytes,
        "training_peak_bytes": training.peak_bytes,
        **({"fit_memory_bytes": training.fit.memory_bytes, "fit_batch": training.fit.batch} if training.fit is not None else {}),
    }


def weighted_depth(layers: list[LayerStats]) -> int:
    """Layers with weights along the longest such path through the DAG."""
    return len(weighted_path(layers))


def weighted_path(layers: list[LayerStats]) -> list[str]:
    """The weighted layers (conv, linear, subsample, rbf) on the longest such path — what a
    network's name counts ("ResNet-34"); projection shortcuts and BN are not on it.

    ``layers`` are in topological order (as the analysis lists them), so one pass suffices:
    path(layer) = the longest of its inputs' paths, plus the layer itself if it has weights.
    """
    path: dict[str, tuple[str, ...]] = {}
    for stats in layers:
        before = max((path.get(source, ()) for source in stats.inputs), key=len, default=())
        path[stats.name] = before + ((stats.name,) if REGISTRY[stats.kind].weighted else ())
    return list(max(path.values(), key=len, default=()))


def most_expensive(layers: list[LayerStats]) -> LayerStats | None:
    """The layer with the most macs (the first, on a tie); None when formulas in the input
    size cannot be ordered."""
    if not layers:
        return None
    best = layers[0]
    for stats in layers[1:]:
        if definitely(stats.macs > best.macs):
            best = stats
        elif not definitely(stats.macs <= best.macs):
            return None
    return best


def sort_rows(rows: list[dict[str, Any]], key: str, reverse: bool = False) -> list[dict[str, Any]]:
    field = SORT_KEYS[key]
    if any(field not in row for row in rows):
        raise SpecError(f"cannot sort by {key}: it is a training column; add --training")

    def value(row):
        item = row[field]
        item = item[0] if isinstance(item, tuple) else item
        if isinstance(item, str):
            return (False, item.casefold())
        if is_symbolic(item):
            names = ", ".join(sorted(str(symbol) for symbol in item.free_symbols))
            raise SpecError(f"cannot sort by {key}: {row['name']}'s value is a formula in {names}; give a numeric --input")
        return (item is None, item if item is not None else 0)

    return sorted(rows, key=value, reverse=reverse)


# --- rendering --------------------------------------------------------------------------
COLUMNS = [
    ("Network", "name"),
    ("Params", "params"),
    ("MACs", "macs"),
    ("Depth", "weighted_depth"),
    ("Peak act.", "peak_activation_bytes"),
    ("Total act.", "total_activation_bytes"),
    ("RF", "receptive_field"),
    ("Most MACs in", "most_expensive_layer"),
]
TRAINING_COLUMNS = [("Bwd MACs", "backward_macs"), ("Saved", "saved_bytes"), ("Train peak", "training_peak_bytes")]
FIT_COLUMN = ("Max batch", "fit_batch")
TEXT_FIELDS = ("name", "most_expensive_layer")
NOTE = (
    "Inference network (training-only branches left out). MACs: multiply-accumulates, bias excluded. "
    "Depth: layers with weights (conv, linear, subsample, rbf) on the longest path. "
    "Act.: activation bytes, peak = the largest layer output, total = every layer output. "
    "RF: receptive field of the last layer, in input pixels."
)


def columns(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The columns these rows fill: the training ones when the rows carry a training step."""
    extra = TRAINING_COLUMNS if any("training_peak_bytes" in row for row in rows) else []
    return COLUMNS + extra + ([FIT_COLUMN] if any("fit_batch" in row for row in rows) else [])


def _note(rows: list[dict[str, Any]]) -> str:
    trained = [row for row in rows if "training_peak_bytes" in row]
    if not trained:
        return NOTE
    fitted = [row for row in trained if "fit_batch" in row]
    fit = f" Max batch: the largest whose peak fits in {fitted[0]['fit_memory_bytes']:,} bytes." if fitted else ""
    return (
        f"{NOTE} Training ({trained[0]['optimizer']}; training-only branches included): backward multiply-accumulates, bytes saved "
        f"for the backward pass, and the peak of a step (see the README's Training section).{fit}"
    )


def render(rows: list[dict[str, Any]], fmt: str, *, exact: bool = False) -> str:
    """``exact``: every digit in the table and Markdown (JSON and CSV are always exact)."""
    if fmt in ("table", "markdown"):
        return (table if fmt == "table" else markdown)(rows, exact=exact)
    return {"json": to_json_text, "csv": to_csv}[fmt](rows)


BYTE_FIELDS = {"peak_activation_bytes", "total_activation_bytes", "saved_bytes", "training_peak_bytes"}
#: the widest a layer's or network's name gets in the table: longer ones lose their middle to "…"
NAME_WIDTH = 32


def _cell(row: dict[str, Any], field: str, exact: bool = False, width: int | None = NAME_WIDTH) -> str:
    """``width``: the most a name may take (None: whole, as Markdown writes it, links intact)."""
    value = row.get(field)  # a training column a row lacks (no --fit for a symbolic input) shows "-"
    if value is None:
        return "-"
    if field == "receptive_field":
        return units.axes(value)
    if isinstance(value, str):
        name = value if width is None else shorten(value, width)
        return f"{name} ({units.count(row['most_expensive_macs'], exact)})" if field == "most_expensive_layer" else name
    if field in BYTE_FIELDS:
        return units.nbytes(value, exact)
    return units.count(value, exact) if field != "fit_batch" else units.text(value)


def _grid(rows: list[dict[str, Any]], exact: bool, width: int | None = NAME_WIDTH) -> Table:
    fields = columns(rows)
    right = frozenset(i for i, (_, field) in enumerate(fields) if field not in TEXT_FIELDS)
    cells = [[_cell(row, field, exact, width) for _, field in fields] for row in rows]
    return Table([title for title, _ in fields], cells, right)


def _conditions(rows: list[dict[str, Any]]) -> str:
    sizes = sorted({f"{units.shape(r['input'])}" for r in rows})
    first = rows[0] if rows else {"batch": 1, "dtype": "float32"}
    return f"input {', '.join(sizes)}; batch {units.text(first['batch'])}; {first['dtype']}"


def table(rows: list[dict[str, Any]], *, exact: bool = False) -> str:
    """One aligned table, whatever its cells hold (formulas too): names shortened, never a
    second layout."""
    return "\n".join([*aligned(_grid(rows, exact)), "", _conditions(rows), _note(rows)])


def markdown(rows: list[dict[str, Any]], *, exact: bool = False) -> str:
    return "\n".join([*tables.markdown(_grid(rows, exact, None)), "", f"_{_conditions(rows)}. {_note(rows)}_", ""])


def to_dict(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: exact ints stay ints, formulas become text."""
    out = {}
    for key, value in row.items():
        if isinstance(value, tuple):
            out[key] = [to_json(v) for v in value]
        elif value is None or isinstance(value, (str, bool)):
            out[key] = value
        else:
            out[key] = to_json(value)
    return out


def to_json_text(rows: list[dict[str, Any]]) -> str:
    return json.dumps({"networks": [to_dict(row) for row in rows]}, indent=2, ensure_ascii=False)


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    data = [to_dict(row) for row in rows]
    fields = [key for key in (data[0] if data else {}) if key != "source"]
    writer.writerow(fields)
    for row in data:
        writer.writerow(["x".join(map(str, row[k])) if isinstance(row[k], list) else row[k] for k in fields])
    return buffer.getvalue()
