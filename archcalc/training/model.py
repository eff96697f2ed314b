"""The op units' training rules evaluated over the analysed graph: per layer, what autograd
keeps (each storage counted once, at the first layer to keep it), the backward's
multiply-adds split into input and weight gradients, and the gradients' bytes.

The walk follows the analysis' order — the order the torch backend runs the layers in — and
tracks whose storage each output lives in: a view (flatten, identity) or an in-place op
(ReLU, Add, where archcalc.inplace allows it) shares its input's, anything else allocates its
own. A tensor needs a gradient when it depends on a parameter: the network input does not, so
the first layer computes no input gradient, and a layer fed only by the input that has no
parameters of its own is outside autograd and keeps nothing. An input that gives only its size
(``Op.data_inputs``: crop or upsample to match a reference) passes no gradient on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from archcalc import expressions
from archcalc.analysis import DTYPE_BYTES, Analysis, LayerStats
from archcalc.errors import ArchcalcError, SpecError
from archcalc.expressions import Value, vsum
from archcalc.graph import INPUT, Network
from archcalc.inplace import Storages
from archcalc.ops import Op
from archcalc.ops.base import numel
from archcalc.training import DEVICES
from archcalc.training.rules import INDEX_BYTES, MissingRules, Saved, TrainingRules, elements

FLOATING = ("float32", "float16", "bfloat16", "float64")


@dataclass(frozen=True)
class SavedTensor:
    """One tensor a layer's rule keeps, resolved to the storage it lives in."""

    tensor: str  # as the rule names it ("input", "output", "indices" …; "checkpoint" for a block's kept input)
    storage: str  # the layer whose output allocated it, "input", or "layer:tensor" for an op's own tensor
    elements: Value  # of the tensor, whole batch
    dtype: str  # torch's name: float32, int64, bool …
    bytes: Value  # of its storage
    kept: bool = True  # False: dropped, to be recomputed (the layer is in a checkpointed block)
    first: bool = False  # the first layer to keep this storage: its bytes count here
    formula: str = ""  # the elements' formula over the layer's derivation names (archcalc explain)


@dataclass(frozen=True)
class LayerTraining:
    name: str
    kind: str
    inputs: tuple[str, ...]
    requires_grad: bool  # its output depends on a parameter
    inputs_need_grad: tuple[bool, ...]
    saved: tuple[SavedTensor, ...]
    backward_input_macs: Value
    backward_weight_macs: Value
    grad_bytes: Value  # its parameters' gradients
    output_bytes: Value  # its output tensor (and so its gradient's size)
    output_storage: str
    forward_macs: Value  # whole batch: what recomputing it costs
    inplace: int | None = None  # the input it overwrites
    checkpoint: str | None = None  # the checkpointed block it is in
    backward: bool = True  # a gradient reaches its output (False: its values feed only sizes, of crop or upsample)

    @property
    def backward_macs(self) -> Value:
        return self.backward_input_macs + self.backward_weight_macs

    @property
    def saved_bytes(self) -> Value:
        """The bytes of the storages this layer is the first to keep."""
        return vsum(s.bytes for s in self.saved if s.first)


@dataclass(frozen=True)
class Storage:
    elements: Value
    dtype: str
    bytes: Value


@dataclass(frozen=True)
class Walk:
    """The rules over the graph, before checkpointing: per layer, and every storage's size."""

    layers: list[LayerTraining]
    storages: dict[str, Storage]
    rules: dict[str, TrainingRules] = field(default_factory=dict)
    values: dict[str, dict[str, Value]] = field(default_factory=dict)  # each layer's formula names, for explain


def check_settings(dtype: str, device: str) -> None:
    if dtype not in FLOATING:
        raise SpecError(f"--training needs a floating-point --dtype ({', '.join(FLOATING)}), found {dtype!r}")
    if device not in DEVICES:
        raise SpecError(f"--device: expected one of {', '.join(DEVICES)}, found {device!r}")


def dtype_of(kind: str, dtype: str, device: str) -> tuple[str, int]:
    """A dtype class (archcalc.training.rules) → torch's dtype name and its bytes per element."""
    if kind == "index":
        return "int64", INDEX_BYTES
    if kind == "mask" and device == "cuda":
        return "bool", 1
    if kind in ("activation", "mask"):
        return dtype, DTYPE_BYTES[dtype]
    raise ValueError(f"unknown dtype class {kind!r}")  # the rules are ours: a programming error


def require_rules(network: Network, analysis: Analysis) -> None:
    """Every op in the network states training rules, or one error names each that does not."""
    missing: dict[str, str] = {}
    for stats in analysis.layers:
        op = network.layers[stats.name].op
        if type(op).training_rules is Op.training_rules:
            missing.setdefault(stats.kind, stats.name)
    if missing:
        kinds = ", ".join(f"{kind!r} (first at {layer})" for kind, layer in missing.items())
        raise MissingRules(
            f"--training: no training rules yet for {kinds}; each op unit needs a `training_rules` method (archcalc/training/rules.py)",
            file=network.source.file,
        )


def walk(network: Network, analysis: Analysis, batch: Value, device: str) -> Walk:
    """Every layer's rules, evaluated in order, with storages tracked."""
    check_settings(analysis.dtype, device)
    require_rules(network, analysis)
    act = DTYPE_BYTES[analysis.dtype]
    shapes = {INPUT: network.input_shape} | {s.name: s.output_shape for s in analysis.layers}
    storages = Storages(analysis.layers)
    count = batch * numel(network.input_shape)
    sizes = {INPUT: Storage(count, analysis.dtype, count * act)}
    requires = {INPUT: False}
    saved: set[str] = set()
    result = Walk([], sizes)
    for stats in analysis.layers:
        layer = network.layers[stats.name]
        try:
            entry = _layer(layer.op, stats, shapes, requires, storages, saved, result, batch, device, analysis.dtype)
        except ArchcalcError as error:
            raise error.located(
                file=network.source.file_of(layer.loc), line=network.source.line(layer.loc), path=f"{stats.name} ({stats.kind})"
            ) from None
        requires[stats.name] = entry.requires_grad
        saved.update(s.storage for s in entry.saved)
        result.layers.append(entry)
    live = reached(result.layers, network, {output.layer for output in analysis.outputs})
    result.layers[:] = [
        layer if layer.name in live or not layer.requires_grad
        else replace(layer, backward_input_macs=0, backward_weight_macs=0, grad_bytes=0, backward=False)
        for layer in result.layers
    ]  # fmt: skip
    return result


def reached(layers: list[LayerTraining], network: Network, outputs: set[str]) -> set[str]:
    """The layers whose values reach a loss — a declared output, or a layer nothing reads (an
    auxiliary head) — through inputs that carry values. A layer read only as a size reference (crop or
    upsample to match it) has no backward: autograd keeps what it saved, but no gradient
    reaches it, nor its parameters."""
    read = {source for layer in layers for source in layer.inputs}
    live = outputs | {layer.name for layer in layers if layer.name not in read}
    for layer in reversed(layers):  # topological order: every reader comes after what it reads
        if layer.name in live:
            live.update(layer.inputs[: network.layers[layer.name].op.data_inputs(len(layer.inputs))])
    return live


def _layer(
    op: Op, stats: LayerStats, shapes, requires, storages: Storages, saved: set, result: Walk, batch, device, dtype
) -> LayerTraining:
    inputs = [shapes[source] for source in stats.inputs]
    out = stats.output_shape
    data = op.data_inputs(len(stats.inputs))  # a reference input (crop, upsample to match) gives its size only: no gradient
    needs = tuple(requires[source] and index < data for index, source in enumerate(stats.inputs))
    act = DTYPE_BYTES[dtype]
    count = batch * numel(out)
    output = Storage(count, dtype, count * act)
    rules = op.training_rules(inputs, out)
    if not any(needs) and stats.params == 0:  # outside autograd: a plain tensor op (a view still shares its input's storage)
        storages.record(stats.name, stats.inputs[rules.view_of] if rules.view_of is not None else None, rules.one_of_views)
        if rules.view_of is None:
            result.storages[stats.name] = output
        owner = storages.owner(stats.name)
        return LayerTraining(
            stats.name, stats.kind, stats.inputs, False, needs, (), 0, 0, 0, output.bytes, owner, batch * op.macs(inputs, out)
        )
    values = {**op.derivation_values(inputs, out), "N": batch, "macs": op.macs(inputs, out)}
    result.rules[stats.name], result.values[stats.name] = rules, values
    inplace = storages.overwritable(stats.inputs, saved) if op.may_overwrite else None
    if inplace is not None:
        rules = result.rules[stats.name] = op.training_rules_in_place(inputs, out)
    view = stats.inputs[inplace] if inplace is not None else stats.inputs[rules.view_of] if rules.view_of is not None else None
    storages.record(stats.name, view, rules.one_of_views)
    if view is None:
        result.storages[stats.name] = output
    kept = [_saved(item, stats, inputs, out, storages, result, values, device, dtype) for item in rules.saved if item.kept(needs)]
    return LayerTraining(
        name=stats.name,
        kind=stats.kind,
        inputs=stats.inputs,
        requires_grad=True,
        inputs_need_grad=needs,
        saved=tuple(kept),
        backward_input_macs=evaluate(rules.input_grad_macs, values) if any(needs) else 0,
        backward_weight_macs=evaluate(rules.weight_grad_macs, values),
        grad_bytes=stats.params * act,
        output_bytes=output.bytes,
        output_storage=storages.owner(stats.name),
        forward_macs=batch * values["macs"],
        inplace=inplace,
    )


def _saved(item: Saved, stats: LayerStats, inputs, out, storages: Storages, result: Walk, values, device, dtype) -> SavedTensor:
    name, size = dtype_of(item.dtype, dtype, device)
    index = item.input_index
    if item.own:
        formula = item.elements
        storage = f"{stats.name}:{item.tensor}"
        count = evaluate(formula, values)
        result.storages[storage] = Storage(count, name, count * size)
    elif index:  # a later input: the derivation names describe input 0 only
        formula, values = f"N*numel_{index}", {**values, f"numel_{index}": numel(inputs[index])}
        storage = storages.owner(stats.inputs[index])
    else:
        formula = elements(inputs[0] if index == 0 else out, output=index is None)
        storage = storages.owner(stats.inputs[index] if index is not None else stats.name)
    return SavedTensor(item.tensor, storage, evaluate(formula, values), name, result.storages[storage].bytes, formula=formula)


def evaluate(formula: str, values: dict[str, Value]) -> Value:
    """A rule's formula, by the safe parser, exactly."""
    return expressions.to_exact(expressions.parse(formula, values))


def attribute(layers: list[LayerTraining], segments: dict[str, list[str]], storages: dict[str, Storage]) -> list[LayerTraining]:
    """Mark what is kept (a checkpointed block keeps only its inputs, listed at its first layer)
    and which layer first keeps each storage."""
    block_of = {name: block for block, members in segments.items() for name in members}
    entries = {layer.name: list(layer.saved) for layer in layers}
    for members in segments.values():
        for storage in block_inputs(layers, members):
            kept = storages[storage]
            entries[members[0]].append(SavedTensor("checkpoint", storage, kept.elements, kept.dtype, kept.bytes))
    seen: set[str] = set()
    out = []
    for layer in layers:
        marked = []
        for item in entries[layer.name]:
            kept = item.tensor == "checkpoint" or layer.name not in block_of
            marked.append(replace(item, kept=kept, first=kept and item.storage not in seen))
            if kept:
                seen.add(item.storage)
        out.append(replace(layer, saved=tuple(marked), checkpoint=block_of.get(layer.name)))
    return out


def block_inputs(layers: list[LayerTraining], members: list[str]) -> list[str]:
    """The storages a checkpointed block reads from outside itself: what torch.utils.checkpoint keeps."""
    inside = set(members)
    by_name = {layer.name: layer for layer in layers}
    found: list[str] = []
    for name in members:
        for source in by_name[name].inputs:
            storage = INPUT if source == INPUT else by_name[source].output_storage
            if source not in inside and storage not in found:
                found.append(storage)
    return found
