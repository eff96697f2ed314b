"""Residual scaling, y = s·x (Inception-ResNet, Szegedy et al. 2016, section 3.3).

The paper scales each residual branch by a constant between 0.1 and 0.3 before it is added,
to keep very wide residual networks stable. The factor is a fixed hyper-parameter, not a
weight, so the op has no parameters and no multiply-accumulates of weight products.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archcalc.ops.base import Op, Shape
from archcalc.training.rules import saves_nothing


class Scale(Op):
    """y = factor · x: shape unchanged, no params, no macs; 1 flop per element (kind "scale")."""

    kind: Literal["scale"] = "scale"
    minor = True
    factor: float = Field(gt=0)
    flop_kind = "scale"
    flops_per_element = 1

    def label(self) -> str:
        return f"scale ×{self.factor:g}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from archcalc.torch_backend import modules

        return modules.Scale(self.factor)

    training_rules = saves_nothing  # x · a Python float: autograd keeps the float, no tensor
