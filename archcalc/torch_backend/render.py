"""Format a RunResult: text, or the JSON document that ``--save`` writes and
``archcalc report --timings`` reads. Formatting only: every number comes from the result.
"""

from __future__ import annotations

import json
from typing import Any

from archcalc.timings import TIMINGS_FORMAT
from archcalc.torch_backend.checks import Check
from archcalc.torch_backend.runner import RunResult


def to_dict(result: RunResult) -> dict[str, Any]:
    """The stable contract: ``latency_ms`` (median, p10, p90), ``throughput``, ``checks``…"""
    a, o, t = result.analysis, result.options, result.timing
    return {
        "format": TIMINGS_FORMAT,
        "name": a.name,
        "spec": result.spec,
        "device": result.device.spec,
        "device_name": result.device.name,
        "dtype": o.dtype,
        "batch": a.batch,
        "input": list(a.input_shape),
        "channels_last": o.channels_last,
        "compile": o.compile,
        "threads": result.threads,
        "torch": result.torch_version,
        "checks": [check.to_dict() for check in result.checks],
        "checks_held": result.held,
        "macs": result.macs,
        "latency_ms": t.to_dict() if t else None,
        "iterations": len(t.samples_ms) if t else 0,
        "warmup": t.warmup if t else 0,
        "throughput": result.throughput,
        "tflops": result.tflops,
        "peak_tflops": result.peak_tflops,
        "peak_fraction": result.peak_fraction,
        "per_layer": result.per_layer_rows(),
        "training": _training_dict(result),
    }


def _training_dict(result: RunResult) -> dict[str, Any] | None:
    """With --training: what was timed (a whole step) and, on CUDA, the measured peak beside the predicted one."""
    step = result.training
    if step is None:
        return None
    return {
        "optimizer": step.optimizer,
        "step_macs": step.step_macs,
        "backward_macs": step.backward_macs,
        "saved_bytes": step.saved_bytes,
        "predicted_peak_bytes": step.peak_bytes,
        "max_memory_allocated": result.max_memory_allocated,
    }


def to_json_text(result: RunResult) -> str:
    return json.dumps(to_dict(result), indent=2, ensure_ascii=False)


def text(result: RunResult) -> str:
    a, o = result.analysis, result.options
    flags = "".join([", channels-last" if o.channels_last else "", ", compiled" if o.compile else ""])
    flags += f", training step with {o.optimizer}" if o.training else ""
    lines = [f"{a.name} on {result.device.spec} ({result.device.name}), {o.dtype}, batch {a.batch}{flags}", ""]
    lines[-1:-1] = [f"torch {result.torch_version}, {result.threads} CPU threads"]
    held = sum(check.held for check in result.checks)
    lines.append(f"checks: {held} of {len(result.checks)} held")
    lines += [_check_line(check) for check in result.checks]
    if result.timing is None:
        lines += ["", "timing skipped: the model does not match its static analysis"]
        return "\n".join(lines)
    lines += ["", *_timing_lines(result)]
    if result.layer_ms:
        lines += ["", *_layer_table(result)]
    return "\n".join(lines)


CHECK_WORDS = {
    "shapes": "{found} of {expected} layers have their static output shape",
    "params": "{found:,} trainable parameters in torch, {expected:,} static",
    "buffers": "{found:,} buffer elements in torch, {expected:,} static",
    "macs": "{found:,} macs by FlopCounterMode / 2, {expected:,} static",
    "saved": "{found:,} bytes packed by saved_tensors_hooks (each storage once), {expected:,} static",
    "backward input macs": "{found:,} input-gradient macs in loss.backward(), {expected:,} static",
    "backward weight macs": "{found:,} weight-gradient macs in loss.backward(), {expected:,} static",
    "backward macs": "{found:,} macs by FlopCounterMode / 2 over loss.backward(), {expected:,} static",
    "gradients": "{found:,} bytes of parameter .grad, {expected:,} static",
    "optimizer state": "{found:,} bytes in optimizer.state after one step, {expected:,} static",
}


def _check_line(check: Check) -> str:
    mark = "ok  " if check.held else "FAIL"
    if isinstance(check.found, str):  # torch gave no count to compare: say so, with the static one
        return f"  {mark} {check.name:<8} {check.found}; {check.expected:,} static"
    return f"  {mark} {check.name:<8} " + CHECK_WORDS[check.name].format(found=check.found, expected=check.expected)


def _count_text(value: int | str) -> str:
    return f"{value:,}" if isinstance(value, int) else value


def mismatch_lines(result: RunResult) -> list[str]:
    """Every failed check, layer by layer: what the CLI prints to stderr."""
    lines = []
    for check in result.checks:
        if not check.held:
            lines.append(f"check failed: {check.name} (static {check.expected:,}, torch {_count_text(check.found)})")
            lines += [f"  {line}" for line in check.mismatches]
    return lines


def _timing_lines(result: RunResult) -> list[str]:
    t = result.timing
    what = "step:      " if result.training is not None else "latency:   "
    lines = [
        f"{what} median {t.median:.3f} ms, p10 {t.p10:.3f} ms, p90 {t.p90:.3f} ms "
        f"({len(t.samples_ms)} iterations after {t.warmup} warm-up)",
        f"throughput: {result.throughput:,.1f} samples/s",
        f"achieved:   {result.tflops:.4g} TFLOP/s (2 × {result.macs:,} macs / median latency)",
    ]
    if result.peak_fraction is not None:
        lines[-1] += (
            f"; {100 * result.peak_fraction:.1f} % of the {result.device.name}'s {result.peak_tflops:g} TFLOP/s {result.options.dtype} peak"
        )
    if result.training is not None:
        lines.append(_memory_line(result))
    return lines


def _memory_line(result: RunResult) -> str:
    predicted = f"memory:     predicted peak {result.training.peak_bytes:,} bytes (a bound: see the README's Training section)"
    if result.max_memory_allocated is None:
        return predicted + "; measured only on CUDA"
    share = result.max_memory_allocated / result.training.peak_bytes
    return predicted + f"; torch.cuda.max_memory_allocated {result.max_memory_allocated:,} bytes ({100 * share:.1f} % of it)"


def _layer_table(result: RunResult) -> list[str]:
    rows = [["Layer", "Op", "ms", "time %", "macs %"]]
    for row in result.per_layer_rows():
        share = row["time_share"]
        rows.append(
            [
                row["name"],
                row["op"],
                f"{row['ms']:.4f}",
                f"{100 * share:.1f}" if share is not None else "-",
                f"{100 * row['macs_share']:.1f}" if row["macs_share"] is not None else "-",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    out = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return ["per layer (median over hooked passes; the hooks add their own overhead):", *out]
