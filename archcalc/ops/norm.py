"""Normalisation: batch norm and AlexNet's local response normalisation."""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveFloat, PositiveInt

from archcalc.expressions import Value
from archcalc.ops.base import Op, Shape, numel
from archcalc.training.rules import Saved, TrainingRules, channels, elements


class BatchNorm(Op):
    """Batch normalisation over channels.

    params:  2·C (γ, β) when affine
    buffers: 2·C (running mean and variance; PyTorch's one-element num_batches_tracked is not counted)
    flops:   2 per element under "norm" (inference: one scale and one shift after folding)
    eps is added to the variance (PyTorch's default 1e-5; GoogLeNet and Inception-v3 use
    1e-3): it changes no count, only the function the torch backend computes.
    """

    kind: Literal["bn"] = "bn"
    minor = True
    affine: bool = True
    eps: PositiveFloat = 1e-5
    flop_kind = "norm"
    flops_per_element = 2

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"params": "2*C" if self.affine else "0", "buffers": "2*C"}

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        return 2 * out[0] if self.affine else 0

    def buffers(self, inputs: list[Shape], out: Shape) -> Value:
        return 2 * out[0]

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        cls = nn.BatchNorm2d if len(out) == 3 else nn.BatchNorm1d
        return cls(out[0], eps=self.eps, affine=self.affine)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input, and the batch's mean and inverse standard deviation, one per channel."""
        return TrainingRules((Saved("input"), Saved("mean", channels(out)), Saved("invstd", channels(out))))


class LRN(Op):
    """Local response normalisation across channels (Krizhevsky et al. 2012, §3.3):
    b = a / (k + α/n · Σ_{n neighbouring maps} a²)^β  (PyTorch's α/n scaling).

    flops: 2n + 3 per element under "norm" — n squares, n − 1 additions, then one scale,
    one add of k, one power and one division
    """

    kind: Literal["lrn"] = "lrn"
    input_rank = 3  # it normalises across the maps of a (C, H, W) input
    minor = True
    size: PositiveInt = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0
    flop_kind = "norm"

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return (2 * self.size + 3) * numel(out)

    def label(self) -> str:
        return f"lrn n={self.size}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.LocalResponseNorm(self.size, self.alpha, self.beta, self.k)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """PyTorch composes LRN of five ops; saved: the input (squared, and divided), the padded
        squares N·(C + n − 1)·H·W (the window average's input), the scaled sum k + α·avg (the
        power's input) and the denominator (the division's)."""
        return TrainingRules(
            (
                Saved("input"),
                Saved("padded_squares", f"N*(C + {self.size - 1})*H*W"),
                Saved("base", elements(out)),
                Saved("denominator", elements(out)),
            )
        )
