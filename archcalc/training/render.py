"""The training numbers as the renderers show them: JSON (the stable ``training.*`` names),
CSV values and summary lines. Formatting only: every number comes from ``Training``; text
goes through ``archcalc.units`` (formulas typeset), as the rest of the report's does."""

from __future__ import annotations

from typing import Any

from archcalc.expressions import Value, to_json
from archcalc.training.memory import Training
from archcalc.training.model import LayerTraining
from archcalc.units import text as to_text

CSV_FIELDS = ["training_saved_bytes", "training_backward_input_macs", "training_backward_weight_macs"]
PEAK_TERMS = ("param_bytes", "buffer_bytes", "grad_bytes", "optimizer_state_bytes", "live_bytes", "transient_bytes")


def layer_dict(layer: LayerTraining) -> dict[str, Any]:
    """``layers[i].training``: what the layer keeps and its backward's multiply-adds."""
    return {
        "requires_grad": layer.requires_grad,
        "saved": [
            {
                "tensor": s.tensor,
                "storage": s.storage,
                "elements": to_json(s.elements),
                "dtype": s.dtype,
                "bytes": to_json(s.bytes),
                "kept": s.kept,
                "counted_here": s.first,
            }
            for s in layer.saved
        ],  # fmt: skip
        "saved_bytes": to_json(layer.saved_bytes),
        "backward_input_macs": to_json(layer.backward_input_macs),
        "backward_weight_macs": to_json(layer.backward_weight_macs),
        "backward_macs": to_json(layer.backward_macs),
        "grad_bytes": to_json(layer.grad_bytes),
        "inplace": layer.inplace is not None,
        "checkpoint": layer.checkpoint,
    }


def totals_dict(training: Training) -> dict[str, Any]:
    """The top-level ``training`` object: the settings, then every total of one step."""
    t = training
    result: dict[str, Any] = {
        "optimizer": t.optimizer,
        "device": t.device,
        "dtype": t.dtype,
        "batch": to_json(t.batch),
        "checkpoint": list(t.checkpoint),
        "forward_macs": to_json(t.forward_macs),
        "backward_input_macs": to_json(t.backward_input_macs),
        "backward_weight_macs": to_json(t.backward_weight_macs),
        "backward_macs": to_json(t.backward_macs),
        "recompute_macs": to_json(t.recompute_macs),
        "step_macs": to_json(t.step_macs),
        "saved_bytes": to_json(t.saved_bytes),
        "saved_bytes_without_checkpoint": to_json(t.saved_bytes_without_checkpoint),
        **{term: to_json(getattr(t, term)) for term in PEAK_TERMS},
        "transient_layer": t.transient_layer,
        "peak_bytes": to_json(t.peak_bytes),
    }
    if t.fit is not None:
        f = t.fit
        result["fit"] = {"memory_bytes": f.memory_bytes, "batch": f.batch, "peak_bytes": f.peak_bytes,
                         "fixed_bytes": f.fixed_bytes, "per_sample_bytes": f.per_sample_bytes}  # fmt: skip
    return result


def csv_values(layer: LayerTraining | Training) -> dict[str, Value]:
    return dict(zip(CSV_FIELDS, (layer.saved_bytes, layer.backward_input_macs, layer.backward_weight_macs), strict=True))


def summary(training: Training) -> list[str]:
    """The training step's totals, one fact a line."""
    t = training
    lines = [
        f"training step ({t.optimizer}, {t.dtype} on {t.device}, batch {to_text(t.batch)}): "
        f"backward macs {to_text(t.backward_macs)} (input gradients {to_text(t.backward_input_macs)}, "
        f"weight gradients {to_text(t.backward_weight_macs)}); forward + backward {to_text(t.step_macs)} macs",
        f"saved for the backward pass: {to_text(t.saved_bytes)} bytes (each storage once); live at the end of the forward pass "
        f"(saved, input batch, outputs): {to_text(t.live_bytes)} bytes",
        f"parameters {to_text(t.param_bytes)}, buffers {to_text(t.buffer_bytes)}, gradients {to_text(t.grad_bytes)}, "
        f"{t.optimizer} state {to_text(t.optimizer_state_bytes)} bytes",
        f"largest backward transient: {to_text(t.transient_bytes)} bytes" + (f" (at {t.transient_layer})" if t.transient_layer else ""),
        f"peak of a training step: {to_text(t.peak_bytes)} bytes (parameters + buffers + gradients + optimizer state + live + transient; "
        "a bound, see the README's Training section)",
    ]
    if t.checkpoint:
        lines.append(
            f"checkpointing {len(t.checkpoint)} block(s) ({', '.join(t.checkpoint)}): "
            f"{to_text(t.checkpoint_saves_bytes)} fewer saved bytes (from {to_text(t.saved_bytes_without_checkpoint)}), "
            f"{to_text(t.recompute_macs)} more forward macs"
        )
    if t.fit is not None:
        f = t.fit
        verdict = (
            f"the largest batch is {f.batch:,} (peak {f.peak_bytes:,} bytes)"
            if f.batch
            else f"not even batch 1 fits (peak {f.peak_bytes:,} bytes)"
        )
        lines.append(f"fit in {f.memory_bytes:,} bytes: peak = {f.fixed_bytes:,} + {f.per_sample_bytes:,}·N bytes, so {verdict}")
    return lines
