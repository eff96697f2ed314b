"""Fully connected layers: linear, and LeNet-5's Euclidean RBF output."""

from typing import Literal

from pydantic import PositiveInt

from archcalc.derivation import shape_values
from archcalc.expressions import Value
from archcalc.ops.base import Op, Shape, require_rank
from archcalc.training.rules import WEIGHTED, Saved, TrainingRules


class Linear(Op):
    """Fully connected layer on a flat vector, or on the channels at each position of a
    (C, H, W) input — as nn.Linear acts on a channels-last tensor (torchvision's ConvNeXt
    block: Permute → LayerNorm → Linear → GELU → Linear → Permute), i.e. a 1×1 convolution.

    shape:  (F,) → (out,);  (C, H, W) → (out, H, W)
    params: F·out (+ out biases), F = C on a feature map (nn.Linear's weight (out, F), bias (out,))
    macs:   F·out, × H·W on a feature map
    connections: (F + 1 if bias) · out, × H·W on a feature map
    rf:     pointwise on a feature map
    """

    kind: Literal["linear"] = "linear"
    weighted = True
    out: PositiveInt
    bias: bool = True

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        if len(inputs[0]) == 3:
            weights, bias = "C*C_out", " + C_out" if self.bias else ""
            fan = "(C + 1)*C_out" if self.bias else "C*C_out"
            return {"C_out": "n_out", "H_out": "H", "W_out": "W", "params": weights + bias, "buffers": "0",
                    "macs": f"{weights}*H*W", "connections": f"{fan}*H*W"}  # fmt: skip
        if self.bias:
            return {"F_out": "n_out", "params": "F*F_out + F_out", "buffers": "0", "macs": "F*F_out", "connections": "(F + 1)*F_out"}
        return {"F_out": "n_out", "params": "F*F_out", "buffers": "0", "macs": "F*F_out", "connections": "F*F_out"}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        return {**shape_values(inputs, out), "n_out": self.out}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        if len(inputs[0]) == 3:
            return (self.out, *inputs[0][1:])
        require_rank(inputs[0], 1, self.kind)
        return (self.out,)

    def _positions(self, out: Shape) -> Value:
        return out[1] * out[2] if len(out) == 3 else 1

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] * self.out + (self.out if self.bias else 0)

    def macs(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] * self.out * self._positions(out)

    def connections(self, inputs: list[Shape], out: Shape) -> Value:
        return self.params(inputs, out) * self._positions(out)

    def bias_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return self.out * self._positions(out) if self.bias else 0

    def label(self) -> str:
        return f"linear {self.out}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        """nn.Linear; on a feature map, its subclass applied to the channels at each position."""
        from torch import nn

        from archcalc.torch_backend import modules

        cls = modules.ChannelLinear if len(out) == 3 else nn.Linear
        return cls(inputs[0][0], self.out, self.bias)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input (for the weight gradient). backward: N·macs for each gradient."""
        return TrainingRules((Saved("input"),), **WEIGHTED)


class RBF(Op):
    """LeNet-5's output layer: y_j = Σ_i (x_i − w_ij)², one Euclidean RBF unit per class.

    The w_ij were chosen by hand and kept fixed, so they are buffers, not params.
    shape:   (F,) → (out,)
    buffers: F·out
    macs:    F·out (one squared difference accumulated per weight)
    connections: F·out (no bias) — this is how LeNet-5 reaches 340,908
    flops:   2·F·out under "mac" plus F·out subtractions under "rbf"
    """

    kind: Literal["rbf"] = "rbf"
    weighted = True
    out: PositiveInt
    flop_kind = "rbf"

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"F_out": "n_out", "params": "0", "buffers": "F*F_out", "macs": "F*F_out", "connections": "F*F_out"}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        return {**shape_values(inputs, out), "n_out": self.out}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        require_rank(inputs[0], 1, self.kind)
        return (self.out,)

    def buffers(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] * self.out

    def macs(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] * self.out

    def connections(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] * self.out

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] * self.out

    def label(self) -> str:
        return f"rbf {self.out}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        """‖x‖² − 2·x·w + ‖w‖², the products as one matmul (F·out counted macs), w a buffer."""
        from archcalc.torch_backend import modules

        return modules.RBF(inputs[0][0], self.out)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input (x² differentiates from x; the product keeps the fixed weights, a
        buffer). backward: N·macs for the input gradient; none for the fixed weights."""
        return TrainingRules((Saved("input"),), input_grad_macs="N*macs")
