"""Adaptive pooling: PyTorch's ``AdaptiveAvgPool2d`` / ``AdaptiveMaxPool2d``, a fixed output size whatever the input.

Output cell i along an axis of input size H pools input rows
start_i = ⌊i·H/out⌋ … end_i = ⌈(i+1)·H/out⌉ (exclusive), PyTorch's integer rule. When out
divides H this is an ordinary H/out × H/out pooling; otherwise the bins differ in size by one
and may overlap, and when H < out several cells read the same rows.

The receptive field follows the bins exactly (an index rule, archcalc.receptive): cell i sees
the fields of rows start_i … end_i − 1. (archcalc used to model an uneven pool as a window of
the largest bin stepping ⌊H/out⌋, which drifts: GoogLeNet's auxiliary 14 → 4 pool put cell 2
at rows 6 … 9 instead of 7 … 10.)
"""

from typing import Literal

from archcalc.derivation import shape_values
from archcalc.expressions import Value, ceildiv, equal, exact_div, floordiv
from archcalc.ops.base import AxisMap, Op, PositivePair, Resampling, Shape, Window, require_rank
from archcalc.training.rules import Saved, TrainingRules, elements, saves_input, saves_nothing


def bins(size: Value, out: int) -> list[Value]:
    """The number of input rows each of the ``out`` cells pools: end_i − start_i."""
    return [ceildiv((i + 1) * size, out) - floordiv(i * size, out) for i in range(out)]


def bin_rule(size: Value, out: int, axis: str = "H") -> AxisMap:
    """Cell i reads rows ⌊i·H/out⌋ … ⌈(i+1)·H/out⌉ − 1; nominally H/out rows per cell."""
    return AxisMap(
        first=lambda i: floordiv(i * size, out),
        last=lambda i: ceildiv((i + 1) * size, out) - 1,
        ratio=exact_div(size, out),
        rule=f"⌊i·{axis}/{out}⌋ … ⌈(i+1)·{axis}/{out}⌉ − 1",
    )


class _Adaptive(Op):
    out: PositivePair

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"C_out": "C", "H_out": "n_h", "W_out": "n_w"}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        return {**shape_values(inputs, out), "n_h": self.out[0], "n_w": self.out[1]}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        require_rank(inputs[0], 3, self.kind)
        return (inputs[0][0], self.out[0], self.out[1])

    def _areas(self, inputs: list[Shape]) -> Value:
        """Σ_i bin_h(i) · Σ_j bin_w(j): the input elements read per channel."""
        _, h, w = inputs[0]
        return sum(bins(h, self.out[0]), 0) * sum(bins(w, self.out[1]), 0)

    def window(self, inputs: list[Shape]) -> Window | Resampling:
        """An ordinary H/out window where out divides H on both axes (so one output cell is the
        whole input when out = 1); otherwise the exact bins."""
        sizes = inputs[0][1:]
        if all(out == 1 or equal(size % out, 0) is True for size, out in zip(sizes, self.out, strict=True)):
            kernel = tuple(size if out == 1 else floordiv(size, out) for size, out in zip(sizes, self.out, strict=True))
            return Window(kernel, kernel, (0, 0))
        return Resampling(tuple(bin_rule(size, out, axis) for size, out, axis in zip(sizes, self.out, "HW", strict=True)))


class AdaptiveAvgPool(_Adaptive):
    """Adaptive average pooling to a fixed `out` (an int, or [h, w]).

    shape: (C, H, W) → (C, out_h, out_w), for any H, W ≥ 1
    flops: under "pool", one per input element read per output cell (its bin area: the
           additions and one division, as `avgpool` counts k²): C · Σ_i bin_h(i) · Σ_j bin_w(j)
    rf:    cell i reads rows ⌊i·H/out⌋ … ⌈(i+1)·H/out⌉ − 1 (and likewise columns): an ordinary
           H/out window when out divides H, else an irregular rule whose nominal jump is H/out
    no params, buffers, macs or connections
    """

    kind: Literal["adaptiveavgpool"] = "adaptiveavgpool"
    flop_kind = "pool"

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] * self._areas(inputs)

    def label(self) -> str:
        return f"adaptive avgpool → {self.out[0]}×{self.out[1]}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.AdaptiveAvgPool2d(self.out)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input; nothing for a 1×1 output, which PyTorch computes as a mean."""
        return (saves_nothing if self.out == (1, 1) else saves_input)(self, inputs, out)


class AdaptiveMaxPool(_Adaptive):
    """Adaptive max pooling to a fixed `out` (an int, or [h, w]): the bins of `adaptiveavgpool`.

    shape: (C, H, W) → (C, out_h, out_w)
    flops: under "pool", bin area − 1 comparisons per output cell: C · (Σ_i bin_h(i) · Σ_j bin_w(j) − out_h·out_w)
    rf:    as `adaptiveavgpool`
    no params, buffers, macs or connections
    """

    kind: Literal["adaptivemaxpool"] = "adaptivemaxpool"
    flop_kind = "pool"

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] * (self._areas(inputs) - self.out[0] * self.out[1])

    def label(self) -> str:
        return f"adaptive maxpool → {self.out[0]}×{self.out[1]}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.AdaptiveMaxPool2d(self.out)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input and the argmax indices, int64, one per output element (a 1×1 output
        too: unlike the average, the maximum is no mean)."""
        return TrainingRules((Saved("input"), Saved("indices", elements(out, output=True), "index")))
