"""Resampling: transposed convolution and upsampling (nearest, bilinear).

Both map output units onto input positions by a rule that is not a sliding window with a
whole stride, so their receptive fields are index rules (``AxisMap``, archcalc.receptive):
output unit i reads input units first(i) … last(i), and sees the union of their fields.
"""

from fractions import Fraction
from math import gcd
from typing import Literal

from pydantic import PositiveInt, model_validator

from archcalc.derivation import shape_values
from archcalc.errors import OpError
from archcalc.expressions import Value, ceildiv, equal, exact_div, floordiv, is_symbolic, to_exact, vmax, vmin
from archcalc.ops.base import (
    AxisMap,
    NonNegativePair,
    Op,
    PositivePair,
    RationalPair,
    Resampling,
    Shape,
    SizedByReference,
    Window,
    kernel_text,
    numel,
    require_rank,
)
from archcalc.signs import sign
from archcalc.training.rules import WEIGHTED, Saved, TrainingRules, saves_nothing


class ConvTranspose(Op):
    """2-D transposed convolution (PyTorch's ConvTranspose2d): each input unit scatters a k×k
    kernel into the output, s apart.

    shape:   C_out = out;  H_out = (H − 1)·s − 2p + d(k − 1) + output_padding + 1, per axis
    params:  C_in · (out/groups) · k_h·k_w (+ out biases) — the weight is (C_in, out/groups, k_h, k_w)
    macs:    H·W · C_in · (out/groups) · k_h·k_w: every input unit times every tap, as
             FlopCounterMode counts it (products that land in the cropped padding included)
    connections: links that exist, + 1 per biased output: C_out·(C_in/groups)·N_h·N_w
             (+ C_out·H_out·W_out), N_h = #{(i, k): 0 ≤ i < H, 0 ≤ k < k_h, 0 ≤ i·s − p + k·d < H_out}
    rf:      output o reads input units i = (o + p − k·d)/s for every tap k where that is whole:
             with d = 1, i from ⌈(o + p − (k − 1))/s⌉ to ⌊(o + p)/s⌋; nominal jump 1/s of the
             input's (a fraction, kept exact); with s = 1 an ordinary window (padding d(k−1) − p).
             With d > 1 the taps reached step by d/gcd(d, s) input units and may interleave (the
             first unit read can go down as o goes up): the fields after such a layer are then
             unions over every unit read. A layer where some output position is reached by no tap
             (kernel < stride, or d and s sharing a factor) is refused: those outputs are the bias
             alone and have no field
    """

    kind: Literal["convtranspose"] = "convtranspose"
    weighted = True
    out: PositiveInt
    kernel: PositivePair
    stride: PositivePair = (1, 1)
    padding: NonNegativePair = (0, 0)
    output_padding: NonNegativePair = (0, 0)
    dilation: PositivePair = (1, 1)
    groups: PositiveInt = 1
    bias: bool = True

    @model_validator(mode="after")
    def _check_output_padding(self):
        for extra, stride, dilation in zip(self.output_padding, self.stride, self.dilation, strict=True):
            if extra >= max(stride, dilation):
                raise ValueError(f"output_padding must be smaller than the stride or the dilation (PyTorch's rule): found {extra}")
        return self

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        weights = "C*(C_out/g)*k_h*k_w"
        bias = " + C_out" if self.bias else ""
        formulas = {"C_out": "n_out", "params": weights + bias, "buffers": "0", "macs": f"{weights}*H*W"}
        formulas["connections"] = "C_out*(C/g)*N_h*N_w" + (" + C_out*H_out*W_out" if self.bias else "")
        for axis, a in (("H", "h"), ("W", "w")):
            formulas[f"{axis}_out"] = f"({axis} - 1)*s_{a} - 2*p_{a} + d_{a}*(k_{a} - 1) + a_{a} + 1"
        return formulas

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        values = {**shape_values(inputs, out), "n_out": self.out, "g": self.groups}
        for index, a in enumerate("hw"):
            values.update({f"k_{a}": self.kernel[index], f"s_{a}": self.stride[index], f"p_{a}": self.padding[index]})
            values.update({f"d_{a}": self.dilation[index], f"a_{a}": self.output_padding[index]})
            values[f"N_{a}"] = self._links(inputs[0][1 + index], index)
        return values

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape = inputs[0]
        require_rank(shape, 3, self.kind)
        for what, count in (("input", shape[0]), ("output", self.out)):
            if equal(count % self.groups, 0) is False:
                raise OpError(f"groups must divide the {what} channels: expected a divisor of {count}, found groups={self.groups}")
        sizes = []
        for index in (0, 1):
            k, s, p, d, extra = (
                self.kernel[index],
                self.stride[index],
                self.padding[index],
                self.dilation[index],
                self.output_padding[index],
            )
            sizes.append((shape[1 + index] - 1) * s - 2 * p + d * (k - 1) + extra + 1)
        return (self.out, *sizes)

    def _weights(self, inputs: list[Shape]) -> Value:
        return inputs[0][0] * exact_div(self.out, self.groups) * self.kernel[0] * self.kernel[1]

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        return self._weights(inputs) + (self.out if self.bias else 0)

    def macs(self, inputs: list[Shape], out: Shape) -> Value:
        return self._weights(inputs) * inputs[0][1] * inputs[0][2]

    def _links(self, size: Value, axis: int) -> Value:
        """N: the (input unit, tap) pairs along one axis whose product lands inside the output:
        all size·k of them but those before output row 0 and those past the last row."""
        k, s, p, d, extra = self.kernel[axis], self.stride[axis], self.padding[axis], self.dilation[axis], self.output_padding[axis]
        before = sum((vmin(size, max(0, -((tap * d - p) // s))) for tap in range(k)), 0)  # i·s + tap·d < p
        after = sum((vmin(size, max(0, (p - extra - 1 - tap * d) // s + 1)) for tap in range(k)), 0)  # by symmetry from the end
        return size * k - before - after

    def connections(self, inputs: list[Shape], out: Shape) -> Value:
        links = self._links(inputs[0][1], 0) * self._links(inputs[0][2], 1)
        return self.out * exact_div(inputs[0][0], self.groups) * links + (numel(out) if self.bias else 0)

    def bias_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return numel(out) if self.bias else 0

    def window(self, inputs: list[Shape]) -> Window | Resampling:
        if self.stride == (1, 1):
            padding = tuple(d * (k - 1) - p for k, p, d in zip(self.kernel, self.padding, self.dilation, strict=True))
            return Window(self.kernel, (1, 1), padding, self.dilation)
        return Resampling(tuple(self._rule(axis) for axis in (0, 1)))

    def _rule(self, axis: int) -> AxisMap:
        k, s, p, d = self.kernel[axis], self.stride[axis], self.padding[axis], self.dilation[axis]
        if s == 1:
            return AxisMap(
                lambda o: o + p - d * (k - 1), lambda o: o + p, 1, f"o + {p} − {d * (k - 1)} … o + {p}", d, True, (k, 1, d * (k - 1) - p, d)
            )
        taps = [[(o + p - t * d) // s for t in range(k) if (o + p - t * d) % s == 0] for o in range(s + 1)]  # one period, and one more
        if any(not hits for hits in taps):
            missed = next(o for o, hits in enumerate(taps) if not hits)
            raise OpError(
                f"transposed conv: no tap reaches output position {missed} (mod {s}) along axis {axis} (kernel {k}, stride {s}, "
                f"dilation {d}): such outputs are the bias alone and have no receptive field; archcalc does not model them"
            )
        monotone = all(min(a) <= min(b) and max(a) <= max(b) for a, b in zip(taps, taps[1:], strict=False))
        if d == 1:  # every unit between the first and the last tap is read: closed forms, symbolic-safe
            return AxisMap(lambda o: ceildiv(o + p - (k - 1), s), lambda o: floordiv(o + p, s), Fraction(1, s),
                           f"⌈(o + {p} − {k - 1})/{s}⌉ … ⌊(o + {p})/{s}⌋")  # fmt: skip

        def hits(o: Value) -> list[int]:
            if is_symbolic(o):
                raise OpError("the receptive field of a dilated transposed conv with stride > 1 needs numeric sizes")
            return [(o + p - t * d) // s for t in range(k) if (o + p - t * d) % s == 0]

        rule = f"(o + {p} − t·{d})/{s} for every tap t where it is whole"
        return AxisMap(lambda o: min(hits(o)), lambda o: max(hits(o)), Fraction(1, s), rule, d // gcd(d, s), monotone)

    def label(self) -> str:
        text = f"convtranspose {kernel_text(self.kernel, self.stride)}, {self.out}"
        return text + (f", groups {self.groups}" if self.groups != 1 else "")

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.ConvTranspose2d(
            inputs[0][0], self.out, self.kernel, self.stride, self.padding, self.output_padding, self.groups, self.bias, self.dilation
        )

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input (for the weight gradient). backward: N·macs for each gradient — the
        input's is an ordinary convolution of the output's gradient, which makes the forward's
        products again, and the weight's correlates that gradient with the input."""
        return TrainingRules((Saved("input"),), **WEIGHTED)


_ROWS = "min(⌊x⌋, H − 1) … min(⌈x⌉, H − 1)"


def _bilinear(position, size: Value) -> tuple:
    """Rows i0 = min(⌊x⌋, H − 1) and i1 = min(i0 + 1, H − 1), i1 weighted x − i0: read exactly
    when x is not whole, i.e. the last row read is min(⌈x⌉, H − 1) (no case split, so a
    symbolic x stays a plain floor/ceiling formula)."""
    return (lambda i: _clamped(floordiv(position(i), 1), size)), (lambda i: _clamped(ceildiv(position(i), 1), size))


def _clamped(row: Value, size: Value) -> Value:
    """min(row, H − 1) for a row ≥ 0: row 0 is in every map (H ≥ 1), so it needs no sympy Min."""
    return 0 if row == 0 else vmin(row, size - 1)


def _half_pixel(i: Value, size: Value, out: Value) -> Value:
    """x = max((i + ½)·H/H_out − ½, 0), PyTorch's source position without align_corners. Its
    sign is that of (2i + 1)·H − H_out: decided by ``signs`` where it can (0 at unit 0 of every
    upsampling, which sympy's Max spent seconds failing to see), left to sympy elsewhere."""
    x = exact_div((2 * i + 1) * size, 2 * out) - Fraction(1, 2)
    decided = sign(to_exact((2 * i + 1) * size - out)) if is_symbolic(x) else None
    if decided is not None and decided != (False, False):
        return x if decided[0] else 0
    return vmax(x, 0)


class Upsample(SizedByReference):
    """Resizing by interpolation (F.interpolate): to ⌊H·scale⌋ × ⌊W·scale⌋, to a `size`, or —
    with neither — to the spatial size of a second input, `from: [x, ref]` (what a segmentation
    head does with F.interpolate(x, size=input.shape[-2:]), and what keeps a spec symbolic).

    The source position of output unit i is PyTorch's, in exact arithmetic, with σ = H/H_out
    (a `scale` resizes as F.interpolate(scale_factor=…, recompute_scale_factor=True) does, and
    as plain scale_factor does whenever the scale is a whole number):
      nearest:  row ⌊i·σ⌋
      bilinear: x = max((i + ½)·σ − ½, 0), or x = i·(H − 1)/(H_out − 1) with `align_corners`;
                rows i0 = min(⌊x⌋, H − 1) and i1 = min(i0 + 1, H − 1), i1 weighted x − i0 (so
                not read where x is whole: the rows read are min(⌊x⌋, H − 1) … min(⌈x⌉, H − 1))
    PyTorch computes σ and x in float32, which at a few sizes rounds a whole i·σ just below
    (nearest 26 → 22: output row 11 reads row 12, where ⌊11·26/22⌋ = 13): archcalc keeps the
    exact rule there.

    shape: (C, H, W) → (C, H_out, W_out)
    flops: nearest none (a copy); bilinear 7 per output element under "resample" (4 weighted
           products, 3 additions; the per-row and per-column weights are not counted)
    rf:    unit i sees the fields of its source rows: nearest ⌊i·σ⌋, bilinear i0 … i1 (i0 alone
           where x is whole); nominal jump σ (the align_corners step (H − 1)/(H_out − 1))
    """

    kind: Literal["upsample"] = "upsample"
    minor = True
    scale: RationalPair | None = None
    size: PositivePair | None = None
    mode: Literal["nearest", "bilinear"] = "nearest"
    align_corners: bool | None = None
    flop_kind = "resample"

    @model_validator(mode="after")
    def _check_fields(self):
        if self.scale is not None and self.size is not None:
            raise ValueError("upsample takes `scale` or `size`, not both")
        if self.align_corners is not None and self.mode == "nearest":
            raise ValueError("align_corners applies to bilinear resizing only (PyTorch refuses it with nearest)")
        return self

    def takes_reference(self) -> bool:
        return self.scale is None and self.size is None

    def output_shape(self, inputs: list[Shape]) -> Shape:
        reference = self.reference_size(inputs)
        channels, h, w = inputs[0]
        if self.size is not None:
            return (channels, *self.size)
        if self.scale is not None:
            return (channels, floordiv(h * self.scale[0], 1), floordiv(w * self.scale[1], 1))
        return (channels, *reference)

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        if self.scale is not None:
            return {"C_out": "C", "H_out": "(H*r_h)//1", "W_out": "(W*r_w)//1"}
        return {"C_out": "C", "H_out": "n_h", "W_out": "n_w"}  # the size, or the reference's

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        values = {**shape_values(inputs, out), "n_h": out[1], "n_w": out[2]}
        if self.scale is not None:
            values.update({"r_h": self.scale[0], "r_w": self.scale[1]})
        return values

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return 7 * numel(out) if self.mode == "bilinear" else 0

    def window(self, inputs: list[Shape]) -> Resampling:
        out = self.output_shape(inputs)
        return Resampling(tuple(self._rule(inputs[0][1 + axis], out[1 + axis], "HW"[axis]) for axis in (0, 1)))

    def _rule(self, size: Value, out: Value, a: str) -> AxisMap:
        sigma = exact_div(size, out)
        if self.mode == "nearest":
            return AxisMap(lambda i: floordiv(i * size, out), lambda i: floordiv(i * size, out), sigma, f"⌊i·{a}/{a}_out⌋")
        if self.align_corners:
            step = exact_div(size - 1, out - 1) if not equal(out, 1) else 0
            first, last = _bilinear(lambda i: i * step, size)
            return AxisMap(first, last, step if step != 0 else sigma, f"x = i·({a} − 1)/({a}_out − 1): {_ROWS}")
        first, last = _bilinear(lambda i: _half_pixel(i, size, out), size)
        return AxisMap(first, last, sigma, f"x = max((i + ½)·{a}/{a}_out − ½, 0): {_ROWS}")

    def label(self) -> str:
        if self.scale is not None:
            factor = str(self.scale[0]) if self.scale[0] == self.scale[1] else f"{self.scale[0]}×{self.scale[1]}"
            target = f"×{factor}"
        else:
            target = f"→ {self.size[0]}×{self.size[1]}" if self.size is not None else "to match"
        return f"upsample {self.mode} {target}" + (", align corners" if self.align_corners else "")

    def to_torch(self, inputs: list[Shape], out: Shape):
        from archcalc.torch_backend import modules

        size = None if self.takes_reference() else tuple(out[1:])
        return modules.Resize(size, self.mode, bool(self.align_corners) if self.mode == "bilinear" else None)

    #: nearest and bilinear alike: PyTorch's backward needs only the sizes (and, for bilinear,
    #: weights it recomputes from them); a reference input gives its size only
    training_rules = saves_nothing
