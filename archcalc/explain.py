"""`archcalc explain`: one layer's numbers, each derived step by step.

The op unit writes out its own rules (``Op.derivations``); the receptive field, which every
windowed op shares, is stepped here from the input's field. Nothing is recomputed beside the
Analysis: the tests check that each derivation's result is the Analysis's number.
"""

from __future__ import annotations

from pathlib import Path

from archcalc.analysis import INPUT_RF, Analysis, analyse, parse_input, receptive_field
from archcalc.derivation import QUANTITIES, Derivation, rf_derivations
from archcalc.errors import ArchcalcError, GraphError, shape_text, suggest
from archcalc.graph import INPUT, Network, compile_spec
from archcalc.spec import load_spec


def load_network(path: str | Path, input_shape: str | None = None) -> tuple[Network, Analysis]:
    """Compile and analyse a spec file, keeping the graph (its ops) beside the Analysis."""
    spec, source = load_spec(path)
    try:
        shape = parse_input(input_shape if input_shape is not None else spec.input)
    except ArchcalcError as error:
        raise error.located(file=str(path)) from None
    network = compile_spec(spec, source, shape)
    return network, analyse(network)


def layer_derivations(network: Network, analysis: Analysis, name: str) -> list[Derivation]:
    """The op's derivations for ``name`` and its receptive-field steps."""
    stats = {s.name: s for s in analysis.layers}
    if name not in stats:
        raise GraphError(f"no layer {name!r} in {analysis.name}{suggest(name, stats)}")
    layer = network.layers[name]
    shapes = [analysis.input_shape if source == INPUT else stats[source].output_shape for source in layer.inputs]
    lines = layer.op.derivations(shapes, stats[name].output_shape)
    in_fields = [_input_field(analysis) if source == INPUT else stats[source].rf for source in layer.inputs]
    if stats[name].rf is None:
        return lines + rf_derivations(None, None, len(in_fields), None)
    window = layer.op.window(shapes)
    return lines + rf_derivations(receptive_field(in_fields, None), window, len(in_fields), stats[name].rf)


def _input_field(analysis: Analysis):
    return INPUT_RF if len(analysis.input_shape) == 3 else None


def explain_layer(path: str | Path, layer: str, quantities: tuple[str, ...] = QUANTITIES, input_shape: str | None = None) -> str:
    network, analysis = load_network(path, input_shape)
    try:
        lines = layer_derivations(network, analysis, layer)
    except ArchcalcError as error:
        raise error.located(file=str(path)) from None
    stats = next(s for s in analysis.layers if s.name == layer)
    sources = ", ".join(stats.inputs)
    out = [f"{analysis.name} — {layer} ({stats.label}): from {sources}, output {shape_text(stats.output_shape)}"]
    if analysis.symbols:
        out.append(f"symbolic in {', '.join(analysis.symbols)}: the results are formulas in these names")
    for quantity in quantities:
        chosen = [d for d in lines if d.quantity == quantity]
        if chosen:
            out += ["", quantity] + [f"  {d.text()}" for d in chosen]
    return "\n".join(out)


__all__ = ["explain_layer", "layer_derivations", "load_network"]
