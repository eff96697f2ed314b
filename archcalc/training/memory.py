"""A training step's memory and work, in total: the entry point ``analyse_training``.

peak = parameters + buffers + gradients + optimizer state
       + what is live at the end of the forward pass (every saved storage once, the input
         batch and the network's outputs)
       + the largest transient of the backward pass (a layer's output gradient and its
         inputs' gradients; for a checkpointed block, also what its recomputation holds again).

It is a bound on one steady-state step (the optimizer's state already made by earlier steps),
every tensor in --dtype: all gradients are counted while all saved tensors are, though autograd
frees each saved tensor once its layer's backward is done. The README states the assumptions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from archcalc import expressions
from archcalc.analysis import DTYPE_BYTES, Analysis
from archcalc.errors import SpecError
from archcalc.expressions import Value, vsum
from archcalc.graph import INPUT, Network
from archcalc.largest import largest, largest_named
from archcalc.training import DEFAULT_OPTIMIZER, OPTIMIZERS
from archcalc.training.checkpoint import segments
from archcalc.training.model import LayerTraining, Walk, attribute, walk


@dataclass(frozen=True)
class Fit:
    memory_bytes: int
    batch: int  # the largest batch whose peak fits; 0 when not even one sample does
    peak_bytes: int  # at that batch (at batch 1 when none fits)
    fixed_bytes: int  # peak = fixed + per_sample · N
    per_sample_bytes: int


@dataclass(frozen=True)
class Training:
    """One training step of the analysed network: per layer, and in total (whole batch)."""

    optimizer: str
    device: str
    dtype: str
    batch: Value
    checkpoint: tuple[str, ...]  # the checkpointed block instances
    layers: list[LayerTraining]
    walk: Walk = field(repr=False)
    forward_macs: Value
    recompute_macs: Value
    saved_bytes: Value
    saved_bytes_without_checkpoint: Value
    live_bytes: Value
    param_bytes: Value
    buffer_bytes: Value
    grad_bytes: Value
    optimizer_state_bytes: Value
    transient_bytes: Value
    transient_layer: str | None = None
    fit: Fit | None = None

    @property
    def backward_input_macs(self) -> Value:
        return vsum(layer.backward_input_macs for layer in self.layers)

    @property
    def backward_weight_macs(self) -> Value:
        return vsum(layer.backward_weight_macs for layer in self.layers)

    @property
    def backward_macs(self) -> Value:
        return self.backward_input_macs + self.backward_weight_macs

    @property
    def step_macs(self) -> Value:
        """Forward, backward and any recomputation: the multiply-adds of one step."""
        return self.forward_macs + self.backward_macs + self.recompute_macs

    @property
    def peak_bytes(self) -> Value:
        return vsum(
            [self.param_bytes, self.buffer_bytes, self.grad_bytes, self.optimizer_state_bytes, self.live_bytes, self.transient_bytes]
        )

    @property
    def checkpoint_saves_bytes(self) -> Value:
        return self.saved_bytes_without_checkpoint - self.saved_bytes


def analyse_training(
    network: Network,
    analysis: Analysis,
    optimizer: str = DEFAULT_OPTIMIZER,
    device: str = "cuda",
    batch: Value | None = None,
    checkpoint: Sequence[str] = (),
    fit: str | None = None,
) -> Training:
    if optimizer not in OPTIMIZERS:
        raise SpecError(f"--optimizer: expected one of {', '.join(OPTIMIZERS)}, found {optimizer!r}")
    if analysis.invalid_training:  # a training step runs every training-only branch: one cannot exist here
        reason = next(iter(analysis.invalid_training.values()))
        raise SpecError(f"no training step at this input: a training-only branch cannot exist here: {reason}")
    batch = analysis.batch if batch is None else batch
    walked = walk(network, analysis, batch, device)
    blocks = segments(analysis, checkpoint)
    layers = attribute(walked.layers, blocks, walked.storages)
    act = DTYPE_BYTES[analysis.dtype]
    params = vsum(s.params for s in analysis.layers) * act
    transient, where = _transient(layers, blocks)
    result = Training(
        optimizer=optimizer,
        device=device,
        dtype=analysis.dtype,
        batch=batch,
        checkpoint=tuple(blocks),
        layers=layers,
        walk=walked,
        forward_macs=vsum(layer.forward_macs for layer in layers),
        recompute_macs=vsum(layer.forward_macs for layer in layers if layer.checkpoint is not None),
        saved_bytes=vsum(layer.saved_bytes for layer in layers),
        saved_bytes_without_checkpoint=vsum(layer.saved_bytes for layer in attribute(walked.layers, {}, walked.storages)),
        live_bytes=_live(layers, walked),
        param_bytes=params,
        buffer_bytes=vsum(s.buffers for s in analysis.layers) * act,
        grad_bytes=vsum(layer.grad_bytes for layer in layers),
        # a state per parameter that gets a gradient (torch.optim makes none for a .grad of None)
        optimizer_state_bytes=OPTIMIZERS[optimizer] * vsum(layer.grad_bytes for layer in layers),
        transient_bytes=transient,
        transient_layer=where,
    )
    if fit is None:
        return result
    return _with_fit(result, network, analysis, parse_bytes(fit), checkpoint)


def _live(layers: list[LayerTraining], walked: Walk) -> Value:
    """Every storage held at the end of the forward pass, once: the kept saved tensors, the
    input batch and the outputs (the layers nothing reads)."""
    read = {source for layer in layers for source in layer.inputs}
    held = {item.storage for layer in layers for item in layer.saved if item.kept}
    held |= {INPUT} | {layer.output_storage for layer in layers if layer.name not in read}
    return vsum(walked.storages[storage].bytes for storage in sorted(held))


def _transient(layers: list[LayerTraining], blocks: dict[str, list[str]]) -> tuple[Value, str | None]:
    """The largest working set of the backward pass: a layer's output gradient plus its
    inputs' gradients; inside a checkpointed block, plus the storages its recomputation
    makes again (each once)."""
    by_name = {layer.name: layer for layer in layers}
    own = {}
    for layer in layers:
        if layer.requires_grad and layer.backward:
            grads = [by_name[s].output_bytes for s, need in zip(layer.inputs, layer.inputs_need_grad, strict=True) if need]
            own[layer.name] = vsum([layer.output_bytes, *grads])
    candidates = {name: value for name, value in own.items() if by_name[name].checkpoint is None}
    for block, members in blocks.items():
        # the recomputation makes again what the block's layers make; what they read from before
        # the block (its checkpointed input) is the very storage kept, not a second copy
        made = {by_name[name].output_storage for name in members}
        saved = [item for name in members for item in by_name[name].saved if not item.kept and item.storage in made]
        recomputed = {item.storage: item.bytes for item in saved}
        working = [own[name] for name in members if name in own]
        if working:
            candidates[block] = vsum(recomputed.values()) + largest(working)
    if not candidates:
        return 0, None
    return largest_named(candidates)  # no name: formulas in the input size that cannot be ordered


# --- --fit -------------------------------------------------------------------------------
UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(text: str) -> int:
    """``80GiB``, ``80 GB``, ``1.5TiB``, ``24000000000`` → bytes (whole, rounded down)."""
    from archcalc.wording import shown

    # no memory has a size of 60 digits: a longer text is refused before it becomes a number
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text) if len(text) <= 60 else None
    unit = match.group(2).lower() if match else ""
    if not match or (unit and unit not in UNITS):
        raise SpecError(f"--fit: expected a memory size such as 80GiB, 24GB or 16000000000, found {shown(text)}")
    return int(Fraction(match.group(1)) * UNITS[unit or "b"])


def _with_fit(result: Training, network: Network, analysis: Analysis, memory: int, checkpoint: Sequence[str]) -> Training:
    from dataclasses import replace

    names = [s for s in analysis.symbols if not _is_batch(s, analysis)]
    if names:
        raise SpecError(f"--fit needs a concrete input, found the names {', '.join(names)}; pass e.g. --input 3,224,224")

    def peak(batch: int) -> int:
        if batch == result.batch:  # already walked
            return result.peak_bytes
        return analyse_training(network, analysis, result.optimizer, result.device, batch, checkpoint).peak_bytes

    return replace(result, fit=solve_fit(peak, memory))


def _is_batch(name: str, analysis: Analysis) -> bool:
    return expressions.is_symbolic(analysis.batch) and name in {str(s) for s in analysis.batch.free_symbols}


def solve_fit(peak: Callable[[int], int], memory: int) -> Fit:
    """The largest batch N with peak(N) ≤ memory, from peak(N) = fixed + per_sample·N: every
    term is a constant or N times one (saved tensors, gradients of activations), so two exact
    evaluations give the formula, and a third confirms it."""
    one, two = peak(1), peak(2)
    per_sample, fixed = two - one, 2 * one - two
    if peak(3) != fixed + 3 * per_sample or per_sample <= 0:
        raise SpecError(f"--fit: the peak is not affine in the batch ({one}, {two}, {peak(3)} bytes at 1, 2, 3); cannot solve")
    batch = max((memory - fixed) // per_sample, 0)
    return Fit(memory, batch, fixed + per_sample * max(batch, 1), fixed, per_sample)
