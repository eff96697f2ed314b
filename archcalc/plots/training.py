"""``--kind training``: the memory of one training step by kind, as ``archcalc.training.memory``
adds it up into the peak.

The peak's six terms are parameters, buffers, gradients, optimizer state, what is live at the
end of the forward pass and the largest transient of the backward pass. The live term is drawn
as its two parts — the storages saved for the backward pass, and the rest (the input batch
and the outputs, where no layer keeps them) — so that the saved activations stand beside the
weights they are traded against. The seven bars add up to the peak exactly; every one is a
term of the training analysis, none recomputed. The model state (the first four) and the
activations (the rest, which grow with the batch) are coloured apart.

The axis is linear though the bars may span decades: the figure is a sum's parts, and a log
axis would make a sliver look like a share. Each bar carries its bytes and its share of the
peak (rounded; the exact numbers are in the report), so the small ones still read.
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.analysis import Analysis
from archcalc.errors import SpecError, shape_text
from archcalc.expressions import Value, is_symbolic, to_exact, to_text
from archcalc.plots.figures import Band, BarPanel, Bars
from archcalc.training.memory import Training

PREFIXES = ("", "k", "M", "G", "T", "P")


def parts(training: Training) -> tuple[tuple[str, Value], ...]:
    """The peak's terms by kind, in the order of the peak's sum, the live term split in two:
    (label, bytes). They add up to ``training.peak_bytes``."""
    t = training
    return (
        ("parameters", t.param_bytes),
        ("buffers", t.buffer_bytes),
        ("gradients", t.grad_bytes),
        (f"optimizer state\n({t.optimizer})", t.optimizer_state_bytes),
        ("saved for\nbackward", t.saved_bytes),
        ("input batch, outputs\n(live, not saved)", t.live_bytes - t.saved_bytes),
        ("backward\ntransient", t.transient_bytes),
    )


def figure(analysis: Analysis, training: Training) -> Bars:
    """``training``: the training analysis of ``analysis`` (its step's settings)."""
    need_numbers(analysis)
    kinds = parts(training)
    values = tuple(int(to_exact(value)) for _, value in kinds)
    peak = int(to_exact(training.peak_bytes))
    return Bars(
        title=f"{analysis.name}: the memory of a training step, {short_bytes(peak)} at its peak",
        categories=tuple(label for label, _ in kinds),
        panels=(BarPanel(f"bytes ({training.dtype})", values, log=False, labels=tuple(_label(v, peak) for v in values)),),
        groups=(Band("model state", 0, 3), Band("activations", 4, 6)),
        notes=_notes(analysis, training),
    )


def _label(value: int, peak: int) -> str:
    """``487.7 MB`` over ``49.5 %``: the bar's bytes with an SI prefix, and its share of the peak, each to a tenth."""
    return f"{short_bytes(value)}\n{percent(Fraction(value, peak))}" if value else "0"


def short_bytes(value: int) -> str:
    """``487.7 MB``: to a tenth, with the largest SI prefix that leaves at least 1 (and so under
    1,000; a value that rounds up to 1,000.0 takes the next prefix)."""
    exponent = 0
    while exponent < len(PREFIXES) - 1 and value >= 1000 ** (exponent + 1):
        exponent += 1
    if exponent == 0:
        return f"{value} B"
    tenths = round(Fraction(value, 1000**exponent) * 10)
    if tenths == 10_000 and exponent < len(PREFIXES) - 1:
        exponent, tenths = exponent + 1, 10
    return f"{tenths // 10}.{tenths % 10} {PREFIXES[exponent]}B"


def percent(share: Fraction) -> str:
    tenths = round(share * 1000)
    return f"{tenths // 10}.{tenths % 10} %" if tenths else "< 0.1 %"


def need_numbers(analysis: Analysis) -> None:
    if is_symbolic(to_exact(analysis.batch)):
        raise SpecError(f"a training plot needs a concrete batch, found {analysis.batch}")
    if analysis.symbols:
        raise SpecError(
            f"a training plot needs concrete sizes, but the input {shape_text(analysis.input_shape)} has names; give numbers with --input"
        )


def settings(analysis: Analysis, training: Training) -> str:
    t = training
    device = {"cuda": "CUDA", "cpu": "CPU"}.get(t.device, t.device)
    checkpoint = f", {len(t.checkpoint)} block(s) checkpointed" if t.checkpoint else ""
    batch = f"batch {to_text(t.batch)}, input {shape_text(analysis.input_shape)}"
    return f"one step of {t.optimizer}, {t.dtype}, {device}'s autograd, {batch}{checkpoint}"


def _notes(analysis: Analysis, training: Training) -> tuple[str, ...]:
    t = training
    notes = [
        settings(analysis, training),
        f"peak = the sum of the bars = {to_text(t.peak_bytes)} bytes, a bound on one steady-state step (README: Training cost)",
    ]
    if t.transient_layer:
        notes.append(f"the backward transient is at {t.transient_layer}: its output's gradient and its inputs'")
    if t.fit is not None:
        f = t.fit
        verdict = f"the largest batch is {f.batch:,}" if f.batch else "not even batch 1 fits"
        notes.append(f"in {f.memory_bytes:,} bytes: peak = {f.fixed_bytes:,} + {f.per_sample_bytes:,}·N, so {verdict}")
    return tuple(notes)
