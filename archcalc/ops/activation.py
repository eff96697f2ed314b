"""Pointwise and reshaping ops: activations, dropout, flatten, identity.

Each activation counts one flop per element under "activation" whatever its real cost
(a convention, stated in the README); softmax counts three (exp, sum, divide).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archcalc.ops.base import Op, Shape, Window, numel


class ReLU(Op):
    """max(0, x): shape unchanged, 1 flop per element."""

    kind: Literal["relu"] = "relu"
    minor = True
    flop_kind = "activation"
    flops_per_element = 1

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.ReLU()


class Tanh(Op):
    """tanh(x); LeNet-5 uses the scaled form A·tanh(S·x), which has no parameters either."""

    kind: Literal["tanh"] = "tanh"
    minor = True
    flop_kind = "activation"
    flops_per_element = 1

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Tanh()


class Sigmoid(Op):
    """1 / (1 + e^−x): shape unchanged, 1 flop per element."""

    kind: Literal["sigmoid"] = "sigmoid"
    minor = True
    flop_kind = "activation"
    flops_per_element = 1

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Sigmoid()


class Softmax(Op):
    """e^x / Σ e^x over the features: 3 flops per element (exp, sum, divide)."""

    kind: Literal["softmax"] = "softmax"
    minor = True
    flop_kind = "activation"
    flops_per_element = 3

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Softmax(dim=1)


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


class Identity(Op):
    """y = x; useful as a named junction in a DAG."""

    kind: Literal["identity"] = "identity"
    minor = True

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Identity()


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
