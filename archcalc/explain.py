"""`archcalc explain`: one layer's numbers, each derived step by step.

The op unit writes out its own rules (``Op.derivations``); the receptive field, which every
windowed op shares, is stepped here from the input's field. Nothing is recomputed beside the
Analysis: the tests check that each derivation's result is the Analysis's number.
"""

from __future__ import annotations

from pathlib import Path

from archcalc.analysis import INPUT_RF, Analysis, LayerStats, analyse, load_network, receptive_field
from archcalc.derivation import QUANTITIES, Derivation, rf_derivations
from archcalc.errors import ArchcalcError, GraphError, suggest
from archcalc.graph import INPUT, Network
from archcalc.units import shape as shape_text
from archcalc.units import text as to_text

COUNTS = ("params", "buffers", "macs", "connections")


def layer_derivations(network: Network, analysis: Analysis, name: str) -> list[Derivation]:
    """The op's derivations for ``name`` and its receptive-field steps."""
    stats = {s.name: s for s in analysis.layers}
    if name not in stats:
        raise GraphError(f"no layer {name!r} in {analysis.name}{suggest(name, stats)}")
    layer = network.layers[name]
    shapes = [analysis.input_shape if source == INPUT else stats[source].output_shape for source in layer.inputs]
    lines = layer.op.derivations(shapes, stats[name].output_shape)
    if stats[name].rf is None:  # a flat input has no field
        return lines
    data = layer.op.data_inputs(len(shapes))  # a reference input gives its size, not its values
    in_fields = [INPUT_RF if source == INPUT else stats[source].rf for source in layer.inputs[:data]]
    merged = receptive_field(in_fields, None, shapes[:data], stats[name].output_shape)
    return lines + rf_derivations(merged, layer.op.window(shapes), len(in_fields), stats[name].rf)


def layers_of(analysis: Analysis, name: str) -> list[LayerStats]:
    """``total`` (every layer), a layer, or a block instance or branch (``layer1.0``: all its layers)."""
    if name == "total":
        return list(analysis.layers)
    found = [s for s in analysis.layers if s.name == name or name in s.scopes]
    if not found:
        if name in analysis.left_out:  # a training-only branch the input is too small for
            raise GraphError(f"{name!r} is in a training-only branch left out at this input: {analysis.left_out[name]}")
        known = [s.name for s in analysis.layers] + sorted({scope for s in analysis.layers for scope in s.scopes})
        raise GraphError(f"no layer or block {name!r} in {analysis.name}{suggest(name, known)}")
    return found


def sum_work(network: Network, analysis: Analysis, layers: list[LayerStats], quantity: str) -> list[str]:
    """Each layer's derivation of a count (those that are not 0), then their sum."""
    parts = [s for s in layers if getattr(s, quantity) != 0]
    work = [f"{s.name}: {d.text()}" for s in parts for d in layer_derivations(network, analysis, s.name) if d.symbol == quantity]
    if len(parts) != 1:
        total = sum((getattr(s, quantity) for s in parts), 0)
        terms = " + ".join(to_text(getattr(s, quantity), separators=False) for s in parts) or "nothing"
        work.append(f"{quantity} = {terms} = {to_text(total, separators=False)}")
    return work


def explain_layer(
    path: str | Path,
    layer: str,
    quantities: tuple[str, ...] = QUANTITIES,
    input_shape: str | None = None,
    training: dict | None = None,
    batch=1,
    dtype: str = "float32",
) -> str:
    """A layer's derivations; for a block or ``total``, each count summed over its layers and
    the shape and field of its last layer. ``training`` (archcalc.training.memory.analyse_training's
    settings) adds the training step's derivations."""
    network = load_network(path, input_shape)  # the spec's line on a bad input, like every command
    analysis = analyse(network, batch=batch, dtype=dtype)
    try:
        group = layers_of(analysis, layer)
    except ArchcalcError as error:
        raise error.located(file=str(path)) from None
    last = group[-1]
    if last.name == layer:
        title = f"{layer} ({last.label}): from {', '.join(last.inputs)}, output {shape_text(last.output_shape)}"
    else:
        title = f"{layer}: {len(group)} layers, {group[0].name} … {last.name}, output {shape_text(last.output_shape)}"
    out = [f"{analysis.name} — {title}"]
    if analysis.symbols:
        out.append(f"symbolic in {', '.join(analysis.symbols)}: the results are formulas in these names")
    lines = layer_derivations(network, analysis, last.name)
    for quantity in quantities:
        if quantity in COUNTS and len(group) > 1:
            out += ["", quantity] + [f"  {line}" for line in sum_work(network, analysis, group, quantity)]
            continue
        chosen = [d.text() for d in lines if d.quantity == quantity]
        if chosen:
            where = f" (of {last.name})" if len(group) > 1 else ""
            out += ["", quantity + where] + [f"  {text}" for text in chosen]
    if training is not None:
        out += _training_section(network, analysis, training, layer, group)
    return "\n".join(out)


def _training_section(network: Network, analysis: Analysis, settings: dict, layer: str, group: list[LayerStats]) -> list[str]:
    from archcalc.training import explain
    from archcalc.training.memory import analyse_training

    step = analyse_training(network, analysis, **settings)
    title = f"training ({step.optimizer}, {step.dtype} on {step.device}, batch {to_text(step.batch)})"
    if layer == "total":
        lines = explain.total_lines(step)
    elif len(group) > 1:
        lines = explain.total_lines(step, [s.name for s in group])
    else:
        lines = explain.layer_lines(step, layer, group[0].params)
    return ["", title] + [f"  {line}" for line in lines]


__all__ = ["explain_layer", "layer_derivations", "layers_of", "sum_work"]
