"""Scaling: a fixed residual factor (Inception-ResNet) and a learnt per-channel one (layer scale).

Inception-ResNet (Szegedy et al. 2016, section 3.3) scales each residual branch by a constant
between 0.1 and 0.3 before it is added, to keep very wide residual networks stable. The factor
is a fixed hyper-parameter, not a weight, so `scale` has no parameters. `layerscale` (Touvron
et al. 2021; ConvNeXt's layer_scale) learns one factor per channel. Neither has
multiply-accumulates of weight products: a per-channel factor times an activation is
element-wise work (FlopCounterMode does not count it either).
"""

from typing import Literal

from pydantic import Field

from archcalc.expressions import Value
from archcalc.ops.base import Op, Real, Shape
from archcalc.training.rules import saves_input, saves_nothing


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


class LayerScale(Op):
    """y = γ ⊙ x with γ learnt, one factor per channel (ConvNeXt's layer_scale, CaiT).

    params: C (γ: a `weight` of shape (C, 1, 1) as torchvision's ConvNeXt stores its
            `layer_scale`, or (F,) on a flat input; initialised to `init`)
    flops:  1 multiply per element under "scale"; no macs
    """

    kind: Literal["layerscale"] = "layerscale"
    minor = True
    init: Real = 1e-6
    flop_kind = "scale"
    flops_per_element = 1

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"params": "C" if len(inputs[0]) == 3 else "F"}

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0]

    def to_torch(self, inputs: list[Shape], out: Shape):
        from archcalc.torch_backend import modules

        return modules.LayerScale(tuple(out[:1]) + (1,) * (len(out) - 1), self.init)

    training_rules = saves_input  # γ · x keeps x for γ's gradient (and γ, a parameter, for x's)
