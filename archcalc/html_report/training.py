"""The HTML report's training step (``report --training --format html``, and every gallery
page): the peak of one step and its terms, the backward's multiply-adds split into input and
weight gradients, the ``--fit`` answer, and the plot of the memory by kind.

Markup only: every number is a field of ``archcalc.training.memory.Training``. Each row names
its JSON key (``training.*``) and carries it as ``data-term``, with the exact value as
``data-v``, as the layer table's cells do.
"""

from __future__ import annotations

import html

from archcalc.expressions import Value
from archcalc.html_report.table import cell
from archcalc.training import OPTIMIZERS
from archcalc.training.memory import Fit, Training
from archcalc.typeset import to_html

DEVICES = {"cuda": "CUDA", "cpu": "the CPU"}
LIVE_REST = "live_bytes − saved_bytes"  # no JSON key of its own: the live storages no layer keeps


def section(training: Training | None, figure: str, note: str | None = None) -> str:
    """``figure``: the plot's ``<figure>`` markup ("" when there is none); ``note``: why there
    is no training step (shown instead)."""
    if training is None:
        body = f"<p>Training step not shown: {html.escape(note)}</p>" if note else ""
        return f'<section id="training"><h2>Training step</h2>{body}</section>' if body else ""
    t = training
    body = _settings(t) + '<div class="training-tables">' + _peak(t) + _macs(t) + "</div>" + _fit(t.fit) + _checkpoint(t) + figure
    foot = (
        "The peak is a bound on one steady-state step (the optimizer's state made by earlier steps), every tensor in "
        f"{t.dtype}: all the gradients are counted while all the saved tensors are, though autograd frees each saved "
        "tensor once its layer's backward is done. The README's Training cost section states the assumptions."
    )
    return f'<section id="training"><h2>Training step</h2>{body}<p class="note">{html.escape(foot)}</p></section>'


def _settings(t: Training) -> str:
    copies = OPTIMIZERS[t.optimizer]
    state = {0: "no copy", 1: "one copy", 2: "two copies"}.get(copies, f"{copies} copies")
    return (
        f"<p>One step with {html.escape(t.optimizer)} ({state} of the parameters as its state), in {html.escape(t.dtype)}, "
        f"as {DEVICES.get(t.device, html.escape(t.device))}'s autograd keeps it, at batch {to_html(t.batch)}.</p>"
    )


def _peak(t: Training) -> str:
    where = f" (at {html.escape(t.transient_layer)}: its output's gradient and its inputs')" if t.transient_layer else ""
    rows = [
        _row("parameters", "param_bytes", t.param_bytes),
        _row("buffers", "buffer_bytes", t.buffer_bytes),
        _row("gradients, one per parameter", "grad_bytes", t.grad_bytes),
        _row(f"{html.escape(t.optimizer)} state", "optimizer_state_bytes", t.optimizer_state_bytes),
        _row("live at the end of the forward pass", "live_bytes", t.live_bytes),
        _row("of which saved for the backward pass (each storage once)", "saved_bytes", t.saved_bytes, part=True),
        _row("of which the input batch and outputs no layer keeps", LIVE_REST, t.live_bytes - t.saved_bytes, part=True),
        _row(f"largest transient of the backward pass{where}", "transient_bytes", t.transient_bytes),
        _row("peak of the step: the sum of the six terms", "peak_bytes", t.peak_bytes, cls="sum"),
    ]
    return _table("training-peak", "Memory", "bytes", rows)


def _macs(t: Training) -> str:
    rows = [
        _row("backward: gradients with respect to the inputs", "backward_input_macs", t.backward_input_macs),
        _row("backward: gradients with respect to the weights", "backward_weight_macs", t.backward_weight_macs),
        _row("backward", "backward_macs", t.backward_macs, cls="sum"),
        _row("forward", "forward_macs", t.forward_macs),
    ]
    if t.checkpoint:
        rows.append(_row("the checkpointed blocks' forward again", "recompute_macs", t.recompute_macs))
    rows.append(_row("the step: forward + backward" + (" + again" if t.checkpoint else ""), "step_macs", t.step_macs, cls="sum"))
    return _table("training-macs", "Work", "MACs", rows)


def _table(key: str, heading: str, unit: str, rows: list[str]) -> str:
    head = f'<thead><tr><th scope="col">{heading}</th><th scope="col" class="num">{unit}</th><th scope="col">JSON</th></tr></thead>'
    return f'<table class="summary {key}">{head}<tbody>{"".join(rows)}</tbody></table>'


def _row(label: str, term: str, value: Value, part: bool = False, cls: str = "") -> str:
    """``label``: markup; ``term``: the JSON key under ``training``."""
    classes = " ".join(c for c in (cls, "part" if part else "") if c)
    attr = f' class="{classes}"' if classes else ""
    # the layer table's cell: typeset, its exact value as the key, and a formula left-aligned and wrapping
    name = html.escape(term)
    return f'<tr{attr} data-term="{name}"><th scope="row">{label}</th>{cell(value)}<td><code>{name}</code></td></tr>'


def _fit(fit: Fit | None) -> str:
    if fit is None:
        return ""
    formula = f"{to_html(fit.fixed_bytes)} + {to_html(fit.per_sample_bytes)}·<var>N</var>"
    verdict = (
        f'the largest batch is <strong data-term="fit.batch" data-v="{fit.batch}">{fit.batch:,}</strong> (peak {fit.peak_bytes:,} bytes)'
        if fit.batch
        else f'not even batch 1 fits (<span data-term="fit.batch" data-v="0">0</span>; peak {fit.peak_bytes:,} bytes at batch 1)'
    )
    return f'<p class="fit">In {fit.memory_bytes:,} bytes: the peak is {formula} bytes at batch <var>N</var>, so {verdict}.</p>'


def _checkpoint(t: Training) -> str:
    if not t.checkpoint:
        return ""
    blocks = ", ".join(html.escape(b) for b in t.checkpoint)
    return (
        f'<p class="checkpoint">Checkpointing {len(t.checkpoint)} block(s) ({blocks}) saves {to_html(t.checkpoint_saves_bytes)} '
        f"bytes (from {to_html(t.saved_bytes_without_checkpoint)}) and costs {to_html(t.recompute_macs)} more forward MACs.</p>"
    )
