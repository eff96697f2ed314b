"""Fully connected layers: linear, and LeNet-5's Euclidean RBF output."""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveInt

from archcalc.derivation import shape_values
from archcalc.expressions import Value
from archcalc.ops.base import Op, Shape, require_rank
from archcalc.training.rules import WEIGHTED, Saved, TrainingRules


class Linear(Op):
    """Fully connected layer on a flat vector.

    shape:  (F,) → (out,)
    params: F·out (+ out biases)
    macs:   F·out
    connections: (F + 1 if bias) · out
    """

    kind: Literal["linear"] = "linear"
    weighted = True
    out: PositiveInt
    bias: bool = True

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        if self.bias:
            return {"F_out": "n_out", "params": "F*F_out + F_out", "buffers": "0", "macs": "F*F_out", "connections": "(F + 1)*F_out"}
        return {"F_out": "n_out", "params": "F*F_out", "buffers": "0", "macs": "F*F_out", "connections": "F*F_out"}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        return {**shape_values(inputs, out), "n_out": self.out}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        require_rank(inputs[0], 1, self.kind)
        return (self.out,)

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] * self.out + (self.out if self.bias else 0)

    def macs(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] * self.out

    def connections(self, inputs: list[Shape], out: Shape) -> Value:
        return self.params(inputs, out)

    def bias_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return self.out if self.bias else 0

    def label(self) -> str:
        return f"linear {self.out}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Linear(inputs[0][0], self.out, self.bias)

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
