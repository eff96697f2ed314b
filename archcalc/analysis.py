"""Evaluate a compiled network: every layer's shape, costs and receptive field.

The result is plain data (dataclasses of ints, Fractions and sympy expressions). Every
renderer — tables, JSON, diagrams, claims — reads it; none recomputes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archcalc import expressions
from archcalc.collector import paused
from archcalc.errors import ArchcalcError, GraphError, OpError, SpecError
from archcalc.expressions import Value, vsum
from archcalc.graph import INPUT, Layer, Network, ScopeInfo, compile_spec
from archcalc.largest import largest
from archcalc.ops.base import numel
from archcalc.receptive import INPUT_RF, ReceptiveField, receptive_field
from archcalc.spec import load_spec
from archcalc.wording import digits, shown

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}


@dataclass(frozen=True)
class LayerStats:
    name: str
    kind: str
    label: str
    inputs: tuple[str, ...]
    output_shape: tuple
    params: Value
    buffers: Value
    macs: Value
    connections: Value
    flops_by_kind: dict[str, Value]
    activations: Value  # output elements for the whole batch
    rf: ReceptiveField | None
    training_only: bool
    scopes: tuple[str, ...]

    @property
    def flops(self) -> Value:
        return vsum(self.flops_by_kind.values())


@dataclass(frozen=True)
class Totals:
    params: Value
    buffers: Value
    macs: Value
    connections: Value
    flops: Value
    flops_by_kind: dict[str, Value]
    activations: Value
    peak_activations: Value
    layers: int


@dataclass(frozen=True)
class OutputStats:
    """One output of the network: its layer, shape, and the totals of the layers it needs
    (itself and everything it reads, directly or not)."""

    label: str
    layer: str
    shape: tuple
    training_only: bool
    totals: Totals


@dataclass(frozen=True)
class Analysis:
    name: str
    source: str | None
    input_shape: tuple
    batch: Value  # an int, or a name (sympy symbol) that makes every count a formula in it
    dtype: str
    layers: list[LayerStats]
    totals: Totals
    inference_totals: Totals  # training-only branches left out
    symbols: tuple[str, ...] = field(default=())
    scopes: dict[str, ScopeInfo] = field(default_factory=dict)  # the LayerStats.scopes paths: block kind, repeat group
    outputs: tuple[OutputStats, ...] = ()  # in declared order; one unless the spec lists several
    #: training-only branches the input is too small for, left out of the network (their first
    #: layer → why); ``totals`` then counts no training network (the JSON gives null)
    invalid_training: dict[str, str] = field(default_factory=dict)
    #: every layer (and block path) of those branches → the reason its branch is left out
    left_out: dict[str, str] = field(default_factory=dict)
    #: symbolic input: () → the smallest sizes (H, W …) every layer accepts, for the inference
    #: network and with the training-only branches (archcalc.validity); derived when asked
    validity: Any = field(default=None, repr=False, compare=False)

    def valid_for(self, training: bool = False) -> dict[str, int | None] | None:
        """Where the formulas hold: each size name → its smallest accepted value (None: concrete input)."""
        if self.validity is None:
            return None
        return self.validity(training)

    @property
    def dtype_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def nbytes(self, elements: Value) -> Value:
        """``elements`` values (a layer's activations, a total's params or peak) in bytes at this
        analysis' dtype: every renderer's "activation bytes" and "parameter memory" come from here."""
        return elements * self.dtype_bytes


def parse_input(dims: list | str) -> tuple:
    """`[3, 224, 224]`, `[3, H, W]` or the CLI's "3,H,W" → a shape of ints and symbols."""
    items = dims.split(",") if isinstance(dims, str) else dims
    shape = []
    for item in items:
        text = str(item).strip()
        try:
            value = expressions.parse(text, free_symbols=True)
        except expressions.ExpressionError as error:
            raise SpecError(f"input: {error}") from None
        if not expressions.is_symbolic(value) and (not isinstance(value, int) or value <= 0):
            raise SpecError(f"input: expected positive integers or names, found {shown(text)}")
        shape.append(value)
    if len(shape) not in (1, 3):
        raise SpecError(f"input: expected C,H,W or a feature count, found {len(shape)} dimensions")
    return tuple(shape)


def analyse_file(
    path: str | Path, input_shape: str | None = None, batch: Value = 1, dtype: str = "float32", fields: bool = True
) -> Analysis:
    return analyse(load_network(path, input_shape), batch=batch, dtype=dtype, fields=fields)


@paused
def load_network(path: str | Path, input_shape: str | None = None) -> Network:
    """Load and compile a spec file, or a bundled network by name (archcalc.locate), into the
    graph of op instances the torch backend builds from."""
    from archcalc.locate import resolve_spec

    path = resolve_spec(path)
    spec, source = load_spec(path)
    try:
        shape = parse_input(input_shape if input_shape is not None else spec.input)
    except ArchcalcError as error:
        if input_shape is not None:  # the command line's --input: no line of the spec
            raise error.located(file=str(path)) from None
        raise source.blame(error.located(file=source.file_of(("input",)), line=source.line(("input",)))) from None
    try:
        return compile_spec(spec, source, shape)
    except ArchcalcError as error:
        raise source.blame(error) from None


@paused
def analyse(network: Network, batch: Value = 1, dtype: str = "float32", fields: bool = True) -> Analysis:
    """``fields=False`` leaves every receptive field out (None): what needs only the counts
    (the size plots) skips their cost, which with symbolic sizes after squeeze-and-excitation
    gates is nearly all of it (nested sympy Max/Min; issue 16 leaves it open)."""
    if not expressions.is_symbolic(batch) and batch < 1:
        raise SpecError(f"batch must be a positive integer, found {batch}")
    if dtype not in DTYPE_BYTES:
        raise SpecError(f"unknown dtype {shown(dtype)}; expected one of {', '.join(DTYPE_BYTES)}")
    fields = {INPUT: INPUT_RF if fields and len(network.input_shape) == 3 else None}  # a None field propagates
    training: dict[str, bool] = {INPUT: False}
    results = []
    for name in network.order:
        layer = network.layers[name]
        try:
            stats = _evaluate(layer, network.shapes, fields, training, batch)
        except ArchcalcError as error:
            where = network.source.line(layer.loc)
            located = error.located(file=network.source.file_of(layer.loc), line=where, path=f"{layer.name} ({layer.op.kind})")
            raise network.source.blame(located) from None
        fields[name], training[name] = stats.rf, stats.training_only
        results.append(stats)
    dims = [*network.input_shape, batch]
    symbols = tuple(sorted({str(s) for d in dims if expressions.is_symbolic(d) for s in d.free_symbols}))
    inference = [s for s in results if not s.training_only]
    totals = total(results)
    # the same layers give the same sums: summed once (a third of the analysis of a long chain)
    inference_totals = totals if len(inference) == len(results) else total(inference)
    return Analysis(
        name=network.spec.name,
        source=network.spec.source,
        input_shape=network.input_shape,
        batch=batch,
        dtype=dtype,
        layers=results,
        totals=totals,
        inference_totals=inference_totals,
        symbols=symbols,
        scopes=dict(network.scopes),
        outputs=_outputs(network, results, inference_totals),
        invalid_training=dict(network.invalid),
        left_out=dict(network.left_out),
        validity=_validity(network) if symbols else None,
    )


def _validity(network: Network):
    """valid_for of the network, computed once per question (a few replays of every layer)."""
    from functools import cache

    from archcalc.validity import valid_for

    return cache(lambda training: valid_for(network, training))


def _outputs(network: Network, results: list[LayerStats], inference_totals: Totals) -> tuple[OutputStats, ...]:
    by_name = {stats.name: stats for stats in results}
    outputs = []
    for label, layer in network.outputs.items():
        if layer == INPUT:  # the top-level sequence ends where it starts: no layer continues the chain
            raise _no_layer(network)
        last = by_name[layer]
        if len(network.outputs) == 1 and not last.training_only:  # it needs every inference layer (none dangles)
            totals = inference_totals
        else:
            needs = network.needs(label)
            totals = total([s for s in results if s.name in needs])
        outputs.append(OutputStats(label, layer, last.output_shape, last.training_only, totals))
    return tuple(outputs)


def _no_layer(network: Network) -> GraphError:
    """A network whose output would be its input (each top-level layer training-only, a side
    branch, or repeated 0 times): nothing to count, and no output to report."""
    error = GraphError(
        "the network has no inference layer: its output would be its input (every top-level layer is "
        "training-only or repeated 0 times); add a layer that continues the chain, or name one in `outputs:`"
    )
    where = ("layers",)
    return network.source.blame(error.located(file=network.source.file_of(where), line=network.source.line(where), path="layers"))


#: Python writes out no integer of more than 4,300 digits (about this many bits): a count
#: past it could be derived but never shown, so the layer that makes it is the error
MAX_COUNT_BITS = 14_000


def _writable(stats: LayerStats) -> LayerStats:
    counts = (stats.params, stats.macs, stats.connections, stats.activations, *stats.flops_by_kind.values(), *stats.output_shape)
    if all(not isinstance(count, int) or count.bit_length() <= MAX_COUNT_BITS for count in counts):
        return stats  # nearly always: naming the count too large is for the rare layer that has one
    counts = {"params": stats.params, "MACs": stats.macs, "connections": stats.connections, "activations": stats.activations}
    counts.update({f"{kind} flops": count for kind, count in stats.flops_by_kind.items()})
    counts.update({f"output size {index}": dim for index, dim in enumerate(stats.output_shape)})
    for what, count in counts.items():
        if isinstance(count, int) and count.bit_length() > MAX_COUNT_BITS:
            too_many = f"its {what} have about {digits(count):,} digits, more than can be written out (4,300)"
            raise OpError(f"{too_many}: a size or count in the spec is too large")
    return stats


def _evaluate(layer: Layer, shapes: dict, fields: dict, training: dict, batch: int) -> LayerStats:
    return _writable(_evaluation(layer, shapes, fields, training, batch))


def _evaluation(layer: Layer, shapes: dict, fields: dict, training: dict, batch: int) -> LayerStats:
    op = layer.op
    inputs = [shapes[source] for source in layer.inputs]
    out = shapes[layer.name]
    data = op.data_inputs(len(inputs))  # a reference input gives its size, not its values
    in_fields = [fields[source] for source in layer.inputs[:data]]
    flops = {kind: count * batch for kind, count in op.flops(inputs, out).items()}
    return LayerStats(
        name=layer.name,
        kind=op.kind,
        label=op.label(),
        inputs=tuple(layer.inputs),
        output_shape=out,
        params=op.params(inputs, out),
        buffers=op.buffers(inputs, out),
        macs=op.macs(inputs, out) * batch,
        connections=op.connections(inputs, out),
        flops_by_kind=flops,
        activations=numel(out) * batch,
        rf=receptive_field(in_fields, op.window(inputs), inputs[:data], out),
        training_only=layer.training_only or any(training[source] for source in layer.inputs),
        scopes=layer.scopes,
    )


def total(layers: list[LayerStats]) -> Totals:
    kinds: dict[str, list[Value]] = {}
    for stats in layers:
        for kind, count in stats.flops_by_kind.items():
            kinds.setdefault(kind, []).append(count)
    by_kind = {kind: vsum(counts) for kind, counts in kinds.items()}
    activations = [s.activations for s in layers]
    return Totals(
        params=vsum(s.params for s in layers),
        buffers=vsum(s.buffers for s in layers),
        macs=vsum(s.macs for s in layers),
        connections=vsum(s.connections for s in layers),
        flops=vsum(by_kind.values()),
        flops_by_kind=by_kind,
        activations=vsum(activations),
        peak_activations=largest(activations) if activations else 0,
        layers=len(layers),
    )


__all__ = [
    "INPUT_RF",
    "Analysis",
    "GraphError",
    "LayerStats",
    "OutputStats",
    "ReceptiveField",
    "receptive_field",
    "Totals",
    "analyse",
    "analyse_file",
    "load_network",
    "parse_input",
]
