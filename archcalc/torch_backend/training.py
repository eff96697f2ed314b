"""Prove the training predictions on the built module: one training step, observed.

- saved:     every tensor autograd packs during the forward pass
             (``torch.autograd.graph.saved_tensors_hooks``), one storage counted once, at the
             first layer to pack it; parameters' and buffers' storages left out (they are
             counted as parameters);
- backward:  FlopCounterMode over ``loss.backward()`` ÷ 2 in total, and per layer split into
             input and weight gradients: each autograd node is owned by the layer whose forward
             made it, a convolution's backward is counted once per gradient it computes, and a
             matrix product that reads a weight computes an input gradient (the other one, the
             weight gradient). Known deviation: torch 2.14's FlopCounterMode ignores ``groups``
             in a convolution's weight gradient, counting a depthwise conv's C× too many
             (pytorch/pytorch#183405 divides it out); the counts here apply that fix, and only
             where the installed torch lacks it;
- gradients: Σ bytes of every ``.grad`` after the backward;
- optimizer: Σ bytes of the tensors in ``optimizer.state`` after one step, the step counters
             (one 0-dim tensor per parameter tensor, on the host) apart.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, conv_backward_flop, flop_registry

from archcalc.analysis import Analysis
from archcalc.torch_backend.build import Built
from archcalc.torch_backend.checks import Check
from archcalc.training.memory import Training

CHECK_NAMES = ("saved", "backward input macs", "backward weight macs", "backward macs", "gradients", "optimizer state")


@dataclass
class Observed:
    saved: dict[str, int] = field(default_factory=dict)  # layer → bytes of the storages it first packed
    input_flops: dict[str, int] = field(default_factory=dict)
    weight_flops: dict[str, int] = field(default_factory=dict)
    backward_flops: int = 0  # FlopCounterMode's total over loss.backward()
    grad_bytes: int = 0
    state_bytes: int = 0
    steps: list[Any] = field(default_factory=list)  # optimizer.state's step counters


def make_optimizer(name: str, parameters):
    make = {
        "sgd": lambda p: torch.optim.SGD(p, lr=1e-3),
        "momentum": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9),
        "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
        "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3),
    }
    return make[name](list(parameters))


def loss_of(output):
    """Σ of each output's mean: every output (GoogLeNet's auxiliary heads too) gets a gradient.
    The built module returns one tensor, or a dict label → tensor when it has several."""
    outputs = tuple(output.values()) if isinstance(output, dict) else output if isinstance(output, tuple) else (output,)
    return sum(o.float().mean() for o in outputs)


def observe(built: Built, example, optimizer: str) -> Observed:
    """One training step of ``built.full`` (train mode) with every observer attached."""
    model = built.full.train()
    seen = Observed()
    weights = {t.untyped_storage()._cdata for t in [*model.parameters(), *model.buffers()]}
    owner = _NodeOwner(built.modules)
    packed: set[int] = set()

    def pack(tensor):
        storage = tensor.untyped_storage()
        key = storage._cdata
        if storage.nbytes() and key not in weights and key not in packed:
            packed.add(key)
            layer = owner.forward_layer or "outside every layer"
            seen.saved[layer] = seen.saved.get(layer, 0) + storage.nbytes()
        return tensor

    # a plain step first: with saved-tensor hooks autograd skips its check that no saved tensor
    # was overwritten in place, and the timed steps run without hooks
    loss_of(model(example)).backward()
    opt = make_optimizer(optimizer, model.parameters())
    opt.zero_grad(set_to_none=True)
    with owner, torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = model(example)
    loss = loss_of(output)
    counter = FlopCounterMode(display=False, custom_mapping={torch.ops.aten.convolution_backward: _conv_backward_flop})
    try:
        with counter, _GradSplit(owner, weights, seen):
            loss.backward()
    finally:
        owner.release()
    seen.backward_flops = counter.get_total_flops()
    seen.grad_bytes = sum(p.grad.untyped_storage().nbytes() for p in model.parameters() if p.grad is not None)
    opt.step()
    for state in opt.state.values():
        for key, value in state.items():
            if torch.is_tensor(value):
                if key == "step":
                    seen.steps.append(value)
                else:
                    seen.state_bytes += value.untyped_storage().nbytes()
    return seen


class _NodeOwner:
    """Which layer each autograd node belongs to (the one whose forward made it), and so which
    layer a backward op runs for: a pre-hook on every node sets ``backward_layer``."""

    def __init__(self, modules: dict[str, Any]):
        self.modules = modules
        self.forward_layer: str | None = None
        self.backward_layer: str | None = None
        self.nodes: dict[Any, str] = {}
        self.handles: list[Any] = []
        self.node_handles: list[Any] = []

    def __enter__(self):
        for name, module in self.modules.items():
            self.handles.append(module.register_forward_pre_hook(lambda m, i, name=name: setattr(self, "forward_layer", name)))
            self.handles.append(module.register_forward_hook(lambda m, i, out, name=name: self._claim(out, name)))
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
        self.forward_layer = None

    def release(self) -> None:
        """Remove the node pre-hooks. A pre-hook on a weight's AccumulateGrad node is kept by
        the weight itself (C++), so its closure (this owner, every module) would keep the whole
        model alive in a cycle the garbage collector cannot see: a model per observed step."""
        for handle in self.node_handles:
            handle.remove()
        self.node_handles.clear()
        self.nodes.clear()

    def _claim(self, output, name: str) -> None:
        self.forward_layer = None
        outputs = output if isinstance(output, tuple) else (output,)
        stack = [t.grad_fn for t in outputs if getattr(t, "grad_fn", None) is not None]
        while stack:
            node = stack.pop()
            if node is None or node in self.nodes:
                continue
            self.nodes[node] = name
            self.node_handles.append(node.register_prehook(lambda grads, name=name: setattr(self, "backward_layer", name)))
            stack += [next_node for next_node, _ in node.next_functions]


class _GradSplit(TorchDispatchMode):
    """Each counted backward op's flops, by layer, as input or weight gradient."""

    def __init__(self, owner: _NodeOwner, weights: set[int], seen: Observed):
        super().__init__()
        self.owner, self.weights, self.seen = owner, weights, seen

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        layer = self.owner.backward_layer or "outside every layer"
        if packet is torch.ops.aten.convolution_backward:
            shapes = [tuple(a.shape) if torch.is_tensor(a) else a for a in args]
            out_shapes = [None if o is None else tuple(o.shape) for o in out]
            grad_input, grad_weight = conv_backward_parts(*shapes, out_shape=out_shapes)
            self._add(self.seen.input_flops, layer, grad_input)
            self._add(self.seen.weight_flops, layer, grad_weight)
        elif packet in flop_registry:
            flops = flop_registry[packet](*args, **kwargs, out_val=out)
            reads_weight = any(torch.is_tensor(a) and a.untyped_storage()._cdata in self.weights for a in args)
            self._add(self.seen.input_flops if reads_weight else self.seen.weight_flops, layer, flops)
        return out

    @staticmethod
    def _add(table: dict[str, int], layer: str, flops: int) -> None:
        if flops:
            table[layer] = table.get(layer, 0) + flops


def conv_backward_parts(grad_out, x, w, bias, stride, padding, dilation, transposed, output_padding, groups, mask, out_shape):
    """FlopCounterMode's convolution-backward flops, (input gradient, weight gradient), with the
    weight gradient's ``groups`` divided out where the installed torch does not (see above)."""
    args = (grad_out, x, w, bias, stride, padding, dilation, transposed, output_padding, groups)
    grad_input = _raw_conv_backward_flop(*args, [mask[0], False, False], out_shape)
    grad_weight = _raw_conv_backward_flop(*args, [False, mask[1], False], out_shape)
    return grad_input, grad_weight if _counts_groups() else grad_weight // groups


_raw_conv_backward_flop = getattr(conv_backward_flop, "__wrapped__", conv_backward_flop)  # shapes in, not tensors


def _conv_backward_flop(*args, out_shape=None, **kwargs) -> int:
    return sum(conv_backward_parts(*args, out_shape=out_shape))


@functools.cache
def _counts_groups() -> bool:
    """Does FlopCounterMode divide a grouped convolution's weight gradient by its groups? A
    depthwise 1×1 conv of 2 channels on one 1×1 sample has 2 weight-gradient products: 4 flops."""
    shape = (1, 2, 1, 1)
    flops = _raw_conv_backward_flop(
        shape, shape, (2, 1, 1, 1), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 2, [False, True, False], [None, (2, 1, 1, 1), None]
    )
    return flops == 4


def measured_peak(step, device) -> int | None:
    """``torch.cuda.max_memory_allocated`` over one more step (after warm-up: the optimizer's
    state is made, and the caching allocator holds its blocks); None on the CPU."""
    if not device.is_cuda:
        return None
    torch.cuda.synchronize(device.spec)
    torch.cuda.reset_peak_memory_stats(device.spec)
    step()
    torch.cuda.synchronize(device.spec)
    return torch.cuda.max_memory_allocated(device.spec)


def training_checks(analysis: Analysis, training: Training, seen: Observed) -> list[Check]:
    """The static training numbers against what the step showed, per layer where they have one."""
    names = [layer.name for layer in training.layers]
    stray = [f"{name}: torch counted work outside every layer" for name in ("outside every layer",) if name in seen.saved]
    static = {layer.name: layer for layer in training.layers}
    checks = [
        _per_layer("saved", names, lambda n: static[n].saved_bytes, lambda n: seen.saved.get(n, 0), stray),
        _per_layer("backward input macs", names, lambda n: static[n].backward_input_macs, lambda n: _half(seen.input_flops.get(n, 0))),
        _per_layer("backward weight macs", names, lambda n: static[n].backward_weight_macs, lambda n: _half(seen.weight_flops.get(n, 0))),
        _total("backward macs", training.backward_macs, _half(seen.backward_flops)),
        _total("gradients", training.grad_bytes, seen.grad_bytes),
        _total("optimizer state", training.optimizer_state_bytes, seen.state_bytes, _steps(seen.steps)),
    ]
    return checks


def _half(flops: int) -> int | str:
    return flops // 2 if flops % 2 == 0 else f"{flops}/2"


def _per_layer(what: str, names: list[str], static, runtime, extra: list[str] | None = None) -> Check:
    mismatches = list(extra or [])
    expected = found = 0
    for name in names:
        want, got = static(name), runtime(name)
        expected, found = expected + want, found + (got if isinstance(got, int) else 0)
        if want != got:
            mismatches.append(
                f"{name}: static {want:,}, torch {got:,}" if isinstance(got, int) else f"{name}: static {want:,}, torch {got}"
            )
    return Check(what, not mismatches and expected == found, expected, found, mismatches)


def _total(what: str, expected, found, extra: list[str] | None = None) -> Check:
    mismatches = list(extra or [])
    if expected != found:
        mismatches.append(
            f"in total: static {expected:,}, torch {found:,}" if isinstance(found, int) else f"static {expected:,}, torch {found}"
        )
    return Check(what, not mismatches, expected, found, mismatches)


def _steps(steps: list) -> list[str]:
    """Adam's step counters must be what the README says archcalc leaves out: 0-dim, on the host."""
    return [
        f"a step counter of shape {tuple(s.shape)} on {s.device}, not a 0-dim host tensor"
        for s in steps
        if s.dim() != 0 or s.device.type != "cpu"
    ]


__all__ = ["CHECK_NAMES", "Observed", "loss_of", "make_optimizer", "measured_peak", "observe", "training_checks"]
