"""Prove the static numbers on the built module before timing it.

One forward pass (eval, no grad) under ``FlopCounterMode``, with a hook on every layer:
- shapes:  each layer's runtime output shape is (batch, *its static shape);
- params:  Σ numel of the trainable parameters equals the static params;
- buffers: Σ numel of the persistent buffers equals the static buffers (BatchNorm's
           one-element ``num_batches_tracked`` left out, as the README's convention says);
- macs:    FlopCounterMode's total / 2 equals the static macs (batch included).

Params, buffers and macs are compared per layer as well, so a mismatch names its layer.
Every comparison is between ints: nothing is rounded and nothing is loosened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archcalc.analysis import Analysis
from archcalc.errors import shape_text
from archcalc.torch_backend import RunError, require_torch
from archcalc.torch_backend.build import CLASS_NAME, Built

UNCOUNTED_BUFFERS = ("num_batches_tracked",)


@dataclass(frozen=True)
class Check:
    name: str
    held: bool
    expected: int
    found: int | str  # text when torch's count is not a whole number: "not measured: …" and why
    mismatches: list[str] = field(default_factory=list)  # one line per layer that disagrees

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "held": self.held, "expected": self.expected, "found": self.found, "mismatches": self.mismatches}


def run_checks(built: Built, analysis: Analysis, example) -> list[Check]:
    """``example`` is the input batch, already on the device, dtype and memory format."""
    shapes, flops, total_macs = _observe(built, example)
    return [
        _shape_check(analysis, shapes, example.shape[0]),
        _count_check("params", analysis, lambda s: s.params, lambda name: _numel(built.modules[name], buffers=False)),
        _count_check("buffers", analysis, lambda s: s.buffers, lambda name: _numel(built.modules[name], buffers=True)),
        _count_check("macs", analysis, lambda s: s.macs, lambda name: flops.get(name, 0), total_macs),
    ]


def _observe(built: Built, example) -> tuple[dict[str, tuple], dict[str, int | str], int | str]:
    """Run the full graph once: each layer's output shape, its FlopCounterMode macs, and
    the whole pass's (which would also catch work done outside every layer)."""
    torch = require_torch()
    from torch.utils.flop_counter import FlopCounterMode

    shapes: dict[str, tuple] = {}
    current: list[str] = []
    handles = [module.register_forward_hook(_recorder(shapes, name)) for name, module in built.modules.items()]
    handles += [module.register_forward_pre_hook(lambda m, i, name=name: current.append(name)) for name, module in built.modules.items()]
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            built.full(example)
    except (RuntimeError, NotImplementedError) as error:
        where = current[-1] if current else "the model"
        raise RunError(f"{where}: PyTorch cannot run it as asked ({example.dtype}, {example.device}): {_first_line(error)}") from None
    finally:
        for handle in handles:
            handle.remove()
    prefix = CLASS_NAME + "."
    counts = counter.get_flop_counts()
    # FlopCounterMode counts a multiply-accumulate as 2 flops
    macs = {name: _exact_half(sum(counts.get(prefix + name, {}).values())) for name in built.modules}
    return shapes, macs, _exact_half(counter.get_total_flops())


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _recorder(shapes: dict, name: str):
    def hook(module, inputs, output):
        shapes[name] = tuple(output.shape)

    return hook


def _exact_half(flops: int) -> int | str:
    return flops // 2 if flops % 2 == 0 else f"{flops}/2"


def _numel(module, buffers: bool) -> int:
    if not buffers:
        return sum(p.numel() for p in module.parameters())
    total = 0
    for owner in module.modules():
        for name, buffer in owner.named_buffers(recurse=False):
            if name not in owner._non_persistent_buffers_set and name not in UNCOUNTED_BUFFERS:
                total += buffer.numel()
    return total


def _shape_check(analysis: Analysis, shapes: dict[str, tuple], batch: int) -> Check:
    mismatches = []
    for stats in analysis.layers:
        expected = (batch, *stats.output_shape)
        found = shapes.get(stats.name)
        if found is None:
            mismatches.append(f"{stats.name} ({stats.kind}): static {shape_text(stats.output_shape)}, but the layer did not run")
        elif found != expected:
            mismatches.append(f"{stats.name} ({stats.kind}): static {shape_text(expected)}, runtime {shape_text(found)}")
    layers = len(analysis.layers)
    return Check("shapes", not mismatches, layers, layers - len(mismatches), mismatches)


def _count_check(what: str, analysis: Analysis, static, runtime, total: int | str | None = None) -> Check:
    """Per layer, then in total (``total``: the runtime's own total, when it has one)."""
    mismatches = []
    expected = found = 0
    for stats in analysis.layers:
        want, got = static(stats), runtime(stats.name)
        expected, found = expected + want, found + (got if isinstance(got, int) else 0)
        if want != got:
            mismatches.append(f"{stats.name} ({stats.kind}): static {want:,}, torch {_text(got)}")
    if total is not None:
        found = total if isinstance(total, int) else f"not measured: FlopCounterMode's total is {total} macs, not a whole number"
        if total != expected and not mismatches:
            mismatches.append(f"outside every layer: the whole pass counts {_text(total)}, the layers {expected:,}")
    return Check(what, not mismatches and expected == found, expected, found, mismatches)


def _text(value: int | str) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def failed(checks: list[Check]) -> list[Check]:
    return [check for check in checks if not check.held]


__all__ = ["Check", "failed", "run_checks"]
