"""Pointwise and reshaping ops: activations, dropout, flatten, identity.

Each activation counts one flop per element under "activation" whatever its real cost
(a convention, stated in the README); softmax counts three (exp, sum, divide).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archcalc.ops.base import Op, Shape, Window, numel
from archcalc.training.rules import Saved, TrainingRules, a_view, elements, saves_output


class ReLU(Op):
    """max(0, x): shape unchanged, 1 flop per element."""

    kind: Literal["relu"] = "relu"
    minor = True
    overwrites_input = True
    flop_kind = "activation"
    flops_per_element = 1

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.ReLU()

    training_rules = saves_output


class Tanh(Op):
    """tanh(x); LeNet-5 uses the scaled form A·tanh(S·x), which has no parameters either."""

    kind: Literal["tanh"] = "tanh"
    minor = True
    flop_kind = "activation"
    flops_per_element = 1

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Tanh()

    training_rules = saves_output


class Sigmoid(Op):
    """1 / (1 + e^−x): shape unchanged, 1 flop per element."""

    kind: Literal["sigmoid"] = "sigmoid"
    minor = True
    flop_kind = "activation"
    flops_per_element = 1

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Sigmoid()

    training_rules = saves_output


class Softmax(Op):
    """e^x / Σ e^x over the features: 3 flops per element (exp, sum, divide)."""

    kind: Literal["softmax"] = "softmax"
    minor = True
    flop_kind = "activation"
    flops_per_element = 3

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Softmax(dim=1)

    training_rules = saves_output


class Dropout(Op):
    """Identity at inference; p is kept for the torch backend. No cost counted."""

    kind: Literal["dropout"] = "dropout"
    minor = True
    p: float = Field(default=0.5, ge=0, le=1)

    def label(self) -> str:
        return f"dropout {self.p:g}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Dropout(self.p)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the mask, one element per input element (bool on CUDA, --dtype on the CPU);
        p = 0 returns the input itself, and p = 1 multiplies by one zero."""
        if self.p == 0:
            return TrainingRules(view_of=0)
        if self.p == 1:
            return TrainingRules((Saved("zero", "1"),))
        return TrainingRules((Saved("mask", elements(inputs[0]), "mask"),))


class Identity(Op):
    """y = x; useful as a named junction in a DAG."""

    kind: Literal["identity"] = "identity"
    minor = True

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Identity()

    training_rules = a_view


class Flatten(Op):
    """(C, H, W) → (C·H·W,). Its receptive field is the whole input: every feature that
    follows may mix all positions."""

    kind: Literal["flatten"] = "flatten"
    minor = True

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"F_out": "C*H*W" if len(inputs[0]) == 3 else "F"}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return (numel(inputs[0]),)

    def window(self, inputs: list[Shape]) -> Window | None:
        if len(inputs[0]) != 3:
            return None
        _, h, w = inputs[0]
        return Window((h, w), (1, 1), (0, 0))

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Flatten(1)

    training_rules = a_view
