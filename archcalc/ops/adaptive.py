"""Adaptive average pooling: PyTorch's ``AdaptiveAvgPool2d``, a fixed output size whatever the input.

Output cell i along an axis of input size H averages input rows
start_i = ⌊i·H/out⌋ … end_i = ⌈(i+1)·H/out⌉ (exclusive). When out divides H this is an
ordinary H/out × H/out pooling; otherwise the bins differ in size by one and may overlap,
and when H < out several cells read the same rows.
"""

from __future__ import annotations

from typing import Literal

from archcalc.expressions import Value, ceildiv, floordiv, vmax
from archcalc.ops.base import Op, PositivePair, Shape, Window, require_rank
from archcalc.training.rules import TrainingRules, saves_input, saves_nothing


def bins(size: Value, out: int) -> list[Value]:
    """The number of input rows each of the ``out`` cells averages: end_i − start_i."""
    return [ceildiv((i + 1) * size, out) - floordiv(i * size, out) for i in range(out)]


class AdaptiveAvgPool(Op):
    """Adaptive average pooling to a fixed `out` (an int, or [h, w]).

    shape: (C, H, W) → (C, out_h, out_w), for any H, W ≥ 1
    flops: under "pool", one per input element read per output cell (its bin area: the
           additions and one division, as `avgpool` counts k²): C · Σ_i bin_h(i) · Σ_j bin_w(j)
    rf:    a window of the largest bin, kernel = max_i bin(i), stride = max(⌊H/out⌋, 1), no
           padding — exact when out divides H (then the bins are H/out apart and H/out wide);
           otherwise the field covers every bin and the jump is the smaller bin spacing
    no params, buffers, macs or connections
    """

    kind: Literal["adaptiveavgpool"] = "adaptiveavgpool"
    out: PositivePair
    flop_kind = "pool"

    def output_shape(self, inputs: list[Shape]) -> Shape:
        require_rank(inputs[0], 3, self.kind)
        return (inputs[0][0], self.out[0], self.out[1])

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        channels, h, w = inputs[0]
        return channels * sum(bins(h, self.out[0]), 0) * sum(bins(w, self.out[1]), 0)

    def window(self, inputs: list[Shape]) -> Window:
        sizes = inputs[0][1:]
        kernel = tuple(vmax(*bins(size, out)) for size, out in zip(sizes, self.out, strict=True))
        stride = tuple(vmax(floordiv(size, out), 1) for size, out in zip(sizes, self.out, strict=True))
        return Window(kernel, stride, (0, 0))

    def label(self) -> str:
        return f"adaptive avgpool → {self.out[0]}×{self.out[1]}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.AdaptiveAvgPool2d(self.out)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input; nothing for a 1×1 output, which PyTorch computes as a mean."""
        return (saves_nothing if self.out == (1, 1) else saves_input)(self, inputs, out)
