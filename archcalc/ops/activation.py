"""Pointwise and reshaping ops: activations, dropout, stochastic depth, flatten, identity.

Each activation counts one flop per element under "activation" whatever its real cost
(a convention, stated in the README: relu6, leakyrelu, prelu, elu, gelu, silu, hardswish,
hardsigmoid, mish and hardtanh included); softmax counts three (exp, sum, divide). Each maps
to the PyTorch module of the same function (nn.GELU(approximate=…), nn.Hardswish, …), never a
stand-in. Only prelu has parameters.
"""

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from archcalc.errors import OpError
from archcalc.expressions import Value
from archcalc.ops.base import Op, Probability, Real, Shape, Window, numel
from archcalc.training.rules import Saved, TrainingRules, a_view, elements, saves_input, saves_output


class ReLU(Op):
    """max(0, x): shape unchanged, 1 flop per element. ``inplace`` (true): it may overwrite
    its input where no other layer reads it, as torchvision's ReLU(inplace=True); false
    keeps it out of place (torchvision's SqueezeExcitation and DeepLab heads build ReLU())."""

    kind: Literal["relu"] = "relu"
    minor = True
    overwrites_input = True
    inplace: bool = True

    @property
    def may_overwrite(self) -> bool:
        return self.inplace

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


class _Activation(Op):
    """One flop per element under "activation"; no params, macs or connections."""

    minor = True
    flop_kind = "activation"
    flops_per_element = 1
    #: the torch.nn class computing it, and the names of its fields there
    torch_class: ClassVar[str] = ""

    def torch_args(self) -> dict:
        return {}

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return getattr(nn, self.torch_class)(**self.torch_args())

    #: saved: the input. PyTorch differentiates every one of these from its input, not its
    #: output as for relu (hardtanh, which relu6 is, leaky_relu, elu, gelu, silu, hardswish,
    #: hardsigmoid, mish; prelu keeps its weight too, a parameter). No backward macs: the
    #: gradients are element-wise (prelu's weight gradient a sum, not weight products)
    training_rules = saves_input


class _InPlaceActivation(_Activation):
    """An activation torchvision builds with ``inplace=True`` (Conv2dNormActivation's ReLU6,
    Hardswish, SiLU; MobileNetV3's classifier Hardswish): it overwrites an input no other layer
    reads (archcalc.inplace decides where). In training PyTorch's in-place kernel, whose
    derivative reads the original input, saves a copy of it before overwriting
    (``original_self``): the same bytes as the input kept out of place, in a storage of its own."""

    overwrites_input = True
    inplace: bool = True  # false: never in place (torchvision's SqueezeExcitation builds Hardsigmoid())

    @property
    def may_overwrite(self) -> bool:
        return self.inplace

    def training_rules_in_place(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        return TrainingRules((Saved("input_copy", elements=elements(inputs[0])),))


class ReLU6(_InPlaceActivation):
    """min(max(0, x), 6) (MobileNetV2): shape unchanged, 1 flop per element."""

    kind: Literal["relu6"] = "relu6"
    torch_class = "ReLU6"


class LeakyReLU(_Activation):
    """x for x ≥ 0, slope·x below (PyTorch's negative_slope, 0.01): 1 flop per element."""

    kind: Literal["leakyrelu"] = "leakyrelu"
    slope: Real = 0.01
    torch_class = "LeakyReLU"

    def torch_args(self) -> dict:
        return {"negative_slope": self.slope}

    def label(self) -> str:
        return f"leakyrelu {self.slope:g}"


class PReLU(_Activation):
    """x for x ≥ 0, a·x below, with a learnt (He et al. 2015): one a, or one per channel.

    params: 1, or C with `per_channel` (nn.PReLU's `weight`, initialised to `init`)
    flops:  1 per element under "activation"
    """

    kind: Literal["prelu"] = "prelu"
    per_channel: bool = False
    init: Real = 0.25
    torch_class = "PReLU"

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"params": ("C" if len(inputs[0]) == 3 else "F") if self.per_channel else "1"}

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        return inputs[0][0] if self.per_channel else 1

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.PReLU(inputs[0][0] if self.per_channel else 1, init=self.init)


class ELU(_Activation):
    """x for x > 0, alpha·(eˣ − 1) below (Clevert et al. 2015): 1 flop per element."""

    kind: Literal["elu"] = "elu"
    alpha: Real = 1.0
    torch_class = "ELU"

    def torch_args(self) -> dict:
        return {"alpha": self.alpha}


class GELU(_Activation):
    """x·Φ(x) (Hendrycks & Gimpel 2016); `approximate: tanh` for the tanh form: 1 flop per element."""

    kind: Literal["gelu"] = "gelu"
    approximate: Literal["none", "tanh"] = "none"
    torch_class = "GELU"

    def torch_args(self) -> dict:
        return {"approximate": self.approximate}

    def label(self) -> str:
        return "gelu" if self.approximate == "none" else "gelu (tanh)"


class SiLU(_InPlaceActivation):
    """x·σ(x), a.k.a. swish (EfficientNet): 1 flop per element."""

    kind: Literal["silu"] = "silu"
    torch_class = "SiLU"


class Hardswish(_InPlaceActivation):
    """x·relu6(x + 3)/6 (MobileNetV3): 1 flop per element."""

    kind: Literal["hardswish"] = "hardswish"
    torch_class = "Hardswish"


class Hardsigmoid(_InPlaceActivation):
    """relu6(x + 3)/6 (MobileNetV3's squeeze-and-excitation gate): 1 flop per element."""

    kind: Literal["hardsigmoid"] = "hardsigmoid"
    torch_class = "Hardsigmoid"


class Mish(_Activation):
    """x·tanh(softplus(x)) (Misra 2019): 1 flop per element."""

    kind: Literal["mish"] = "mish"
    torch_class = "Mish"


class Hardtanh(_Activation):
    """x clamped to [min, max] (−1, 1 by default; relu6 is min 0, max 6): 1 flop per element."""

    kind: Literal["hardtanh"] = "hardtanh"
    min: Real = -1.0
    max: Real = 1.0
    torch_class = "Hardtanh"

    @model_validator(mode="after")
    def _check_range(self):
        if not self.min < self.max:
            raise ValueError(f"hardtanh needs min < max, found min {self.min:g} and max {self.max:g}")
        return self

    def torch_args(self) -> dict:
        return {"min_val": self.min, "max_val": self.max}


class Dropout(Op):
    """Identity at inference; p is kept for the torch backend. No cost counted."""

    aliases_input = True

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


class StochasticDepth(Op):
    """Drops a residual branch at random in training (Huang et al. 2016): with `mode: row`,
    each sample's branch independently; with `batch`, the whole batch's at once — each kept
    branch scaled by 1/(1 − p). Identity at inference, so no cost is counted;
    torchvision.ops.StochasticDepth in the torch backend (ConvNeXt, EfficientNet)."""

    aliases_input = True

    kind: Literal["stochastic_depth"] = "stochastic_depth"
    minor = True
    p: Probability
    mode: Literal["row", "batch"] = "row"

    def label(self) -> str:
        return f"stochastic depth {self.p:g} ({self.mode})"

    def to_torch(self, inputs: list[Shape], out: Shape):
        try:
            from torchvision.ops import StochasticDepth as TorchStochasticDepth
        except ImportError:
            raise OpError("stochastic_depth runs as torchvision.ops.StochasticDepth: install torchvision") from None
        return TorchStochasticDepth(self.p, self.mode)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: torchvision's noise, the 0-or-1/(1 − p) factor the input is multiplied by, of
        --dtype: one per sample with `mode: row`, one for the batch with `batch` (p = 1 too: a
        zero factor); p = 0 returns the input itself."""
        if self.p == 0:
            return TrainingRules(view_of=0)
        return TrainingRules((Saved("noise", "N" if self.mode == "row" else "1"),))


class Identity(Op):
    """y = x; useful as a named junction in a DAG."""

    aliases_input = True

    kind: Literal["identity"] = "identity"
    minor = True

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.Identity()

    training_rules = a_view


class Flatten(Op):
    """(C, H, W) → (C·H·W,). Its receptive field is the whole input: every feature that
    follows may mix all positions."""

    aliases_input = True

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
