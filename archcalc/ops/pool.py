"""Pooling: max, average, global average, and LeNet-5's trainable subsampling."""

from typing import Literal

from pydantic import model_validator

from archcalc.derivation import shape_values, window_formulas, window_values
from archcalc.errors import OpError
from archcalc.expressions import Value, always, ceildiv, definitely, is_symbolic
from archcalc.ops.base import NonNegativePair, Op, PositivePair, Shape, Window, conv_out_size, kernel_text, numel, require_rank, spatial_out
from archcalc.training.rules import WEIGHTED, Saved, TrainingRules, elements, saves_input, saves_nothing


class _Pool(Op):
    kernel: PositivePair
    stride: PositivePair | None = None  # PyTorch's default: the kernel size
    padding: NonNegativePair = (0, 0)
    ceil_mode: bool = False
    flop_kind = "pool"

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str | tuple[str, str]]:
        # ceil_mode on a symbolic size is piecewise in the names: stated from the rule instead
        if self.ceil_mode and any(is_symbolic(size) for size in inputs[0][1:]):
            return {"C_out": "C"}
        return {"C_out": "C", **window_formulas(self.ceil_mode)}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        values = {**shape_values(inputs, out), **window_values(self.window(inputs))}
        if self.ceil_mode:
            for index, a in enumerate("hw"):
                size, stride, pad, kernel = inputs[0][1 + index], self.step[index], self.padding[index], self.kernel[index]
                steps = ceildiv(size + 2 * pad - values[f"d_{a}"] * (kernel - 1) - 1, stride)  # ⌈…/s⌉: the windows after the first
                values[f"e_{a}"] = int(definitely(steps * stride >= size + pad))
        return values

    @model_validator(mode="after")
    def _check_padding(self):
        for pad, kernel in zip(self.padding, self.kernel, strict=True):
            if 2 * pad > kernel:
                raise ValueError(f"padding may be at most half the kernel: expected ≤ {kernel // 2}, found {pad}")
        return self

    @property
    def step(self) -> tuple[int, int]:
        return self.stride or self.kernel

    def window(self, inputs: list[Shape]) -> Window:
        return Window(self.kernel, self.step, self.padding, getattr(self, "dilation", (1, 1)))

    def output_shape(self, inputs: list[Shape]) -> Shape:
        if self.ceil_mode:
            return self._ceil_out(inputs)
        return spatial_out(inputs, self, self.window(inputs), inputs[0][0], self.ceil_mode)

    def _ceil_out(self, inputs: list[Shape]) -> Shape:
        """Ceil mode, as PyTorch's pooling_output_shape: the window may be larger than the
        (padded) input — a 3×3/2 pool of a 2×2 map gives one output — as long as at least
        one window starts inside it: H + 2p − d(k−1) − 1 > −s, i.e. H ≥ d(k−1) + 2 − 2p − s."""
        shape = inputs[0]
        require_rank(shape, 3, self.kind)
        window, sizes = self.window(inputs), []
        for axis, index in (("height", 0), ("width", 1)):
            size, k, s, p, d = shape[1 + index], window.kernel[index], window.stride[index], window.padding[index], window.dilation[index]
            smallest = max(1, d * (k - 1) + 2 - 2 * p - s)
            if always(size, "<", smallest):
                no_window = f"no window starts inside the input along {axis}, even in ceil mode"
                raise OpError(f"{no_window}: expected at least {smallest}, found {size}")
            sizes.append(conv_out_size(size, k, s, p, d, True))
        return (shape[0], sizes[0], sizes[1])

    def label(self) -> str:
        return f"{self.kind} {kernel_text(self.kernel, self.step)}" + (", ceil" if self.ceil_mode else "")


class MaxPool(_Pool):
    """Max pooling.

    shape: H_out = ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1 (⌈⌉ with ceil_mode); channels unchanged
    flops: k_h·k_w − 1 comparisons per output element; no params, macs or connections
    """

    kind: Literal["maxpool"] = "maxpool"
    dilation: PositivePair = (1, 1)

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return (self.kernel[0] * self.kernel[1] - 1) * numel(out)

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.MaxPool2d(self.kernel, self.step, self.padding, self.dilation, ceil_mode=self.ceil_mode)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input and the argmax indices, int64, one per output element."""
        return TrainingRules((Saved("input"), Saved("indices", elements(out, output=True), "index")))


class AvgPool(_Pool):
    """Average pooling.

    shape: H_out = ⌊(H + 2p − k)/s⌋ + 1 (⌈⌉ with ceil_mode); channels unchanged
    flops: k_h·k_w per output element (k² − 1 additions and one division)
    """

    kind: Literal["avgpool"] = "avgpool"
    count_include_pad: bool = True

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return self.kernel[0] * self.kernel[1] * numel(out)

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.AvgPool2d(self.kernel, self.step, self.padding, self.ceil_mode, self.count_include_pad)

    training_rules = saves_input  # PyTorch's avg_pool2d keeps its input (its backward reads only the shape)


class GlobalAvgPool(Op):
    """Global average pooling (NIN, GoogLeNet, ResNet).

    shape: (C, H, W) → (C, 1, 1)
    flops: H·W per channel (H·W − 1 additions and one division)
    rf:    a window as large as the input
    """

    kind: Literal["globalavgpool"] = "globalavgpool"
    flop_kind = "pool"

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"C_out": "C", "H_out": "1", "W_out": "1"}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        require_rank(inputs[0], 3, self.kind)
        return (inputs[0][0], 1, 1)

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return numel(inputs[0])

    def window(self, inputs: list[Shape]) -> Window:
        _, h, w = inputs[0]
        return Window((h, w), (1, 1), (0, 0))

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.AdaptiveAvgPool2d(1)

    training_rules = saves_nothing  # a 1×1 adaptive pool is a mean over H, W in PyTorch: it keeps only sizes


class Subsample(_Pool):
    """LeNet-5's trainable subsampling (S2, S4): y = w_c · Σ_{k×k} x + b_c, one w and b per map.

    shape:  as average pooling (non-overlapping by default: stride = kernel)
    params: 2 per map (coefficient and bias)
    macs:   1 per output element (the coefficient); the window sum is "pool" flops
    connections: (k_h·k_w + 1) × output units — LeCun counts each summed input as a link
    """

    kind: Literal["subsample"] = "subsample"
    weighted = True

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {
            **super().derivation_formulas(inputs),
            "params": "2*C_out",
            "macs": "C_out*H_out*W_out",
            "connections": "(k_h*k_w + 1)*C_out*H_out*W_out",
        }

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        return 2 * out[0]

    def macs(self, inputs: list[Shape], out: Shape) -> Value:
        return numel(out)

    def connections(self, inputs: list[Shape], out: Shape) -> Value:
        return (self.kernel[0] * self.kernel[1] + 1) * numel(out)

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return (self.kernel[0] * self.kernel[1] - 1) * numel(out)  # the window sum

    def bias_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return numel(out)

    def to_torch(self, inputs: list[Shape], out: Shape):
        """Window sum (avg-pool, divisor 1) then a depthwise 1×1 conv: one counted mac per output."""
        from archcalc.torch_backend import modules

        return modules.Subsample(out[0], self.kernel, self.step, self.padding, self.ceil_mode)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the window sums (the coefficient's input) and, when the input needs a gradient,
        the input (kept by the summing pool). backward: N·macs for each gradient (1×1 depthwise)."""
        return TrainingRules((Saved("input", needs_input_grad=True), Saved("sums", elements(out, output=True))), **WEIGHTED)
