"""Normalisation: batch norm, AlexNet's local response normalisation, layer norm and group norm."""

from typing import Literal

from pydantic import PositiveFloat, PositiveInt

from archcalc.errors import OpError
from archcalc.expressions import Value, equal
from archcalc.ops.base import AxisMap, Op, Real, Resampling, Shape, numel
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
        c = "C" if len(inputs[0]) == 3 else "F"  # BatchNorm1d on a flat vector: its F features
        return {"params": f"2*{c}" if self.affine else "0", "buffers": f"2*{c}"}

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


def _affine_flops(affine: bool, count: Value) -> Value:
    """5 per element (Σx, x − μ, (x − μ)², Σ(x − μ)², × 1/σ), + 2 with affine (× γ, + β)."""
    return (7 if affine else 5) * count


class LayerNorm(Op):
    """Layer normalisation (Ba et al. 2016), over the features of one position of one sample:
    for a (C, H, W) input, over its C channels at each position (ConvNeXt's LayerNorm2d, and the
    nn.LayerNorm it applies channels-last after a Permute); for a flat (F,) input, over the F
    features. Statistics are computed at inference too (nothing folds away, unlike bn).

    params: 2·C (γ and β of shape (C,): nn.LayerNorm's `weight` and `bias`); C with
            `bias: false`; 0 with `affine: false`
    flops:  under "norm", 5 per element (Σx, x − μ, (x − μ)², Σ(x − μ)², × 1/σ) and 2 more with
            affine (× γ, + β); the per-position divisions by C and the square root are not counted
    rf:     pointwise (one position's channels)
    """

    kind: Literal["layernorm"] = "layernorm"
    minor = True
    eps: Real = 1e-5
    affine: bool = True
    bias: bool = True
    flop_kind = "norm"

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        c = "C" if len(inputs[0]) == 3 else "F"
        return {"params": f"2*{c}" if self.affine and self.bias else c if self.affine else "0"}

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        if not self.affine:
            return 0
        return inputs[0][0] * (2 if self.bias else 1)

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return _affine_flops(self.affine, numel(out))

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        from archcalc.torch_backend import modules

        cls = modules.LayerNorm2d if len(out) == 3 else nn.LayerNorm
        return cls(out[0], eps=self.eps, elementwise_affine=self.affine, bias=self.bias)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input (LayerNorm2d's channels-last view of it: the same storage) and the
        mean and inverse standard deviation of each position of each sample, N·H·W (N on a flat
        input), of --dtype; weight and bias are parameters."""
        positions = "N*H*W" if len(out) == 3 else "N"
        return TrainingRules((Saved("input"), Saved("mean", positions), Saved("rstd", positions)))


class GroupNorm(Op):
    """Group normalisation (Wu & He 2018): the C channels in `groups` groups, each normalised
    over its C/groups channels and every position of the sample.

    params: 2·C with affine (nn.GroupNorm's `weight` and `bias`, shape (C,))
    flops:  under "norm", 5 per element and 2 more with affine, as `layernorm`
    rf:     every output unit depends on every position of its input (the statistics span the
            whole map): each unit's field is the union of the input's fields, and the nominal
            jump is unchanged (unit i still sits at input unit i)
    """

    kind: Literal["groupnorm"] = "groupnorm"
    minor = True
    input_rank = 3
    groups: PositiveInt
    eps: Real = 1e-5
    affine: bool = True
    flop_kind = "norm"

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"params": "2*C" if self.affine else "0"}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape = super().output_shape(inputs)
        if equal(shape[0] % self.groups, 0) is False:
            raise OpError(f"groups must divide the channels: expected a divisor of {shape[0]}, found groups={self.groups}")
        return shape

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        return 2 * out[0] if self.affine else 0

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return _affine_flops(self.affine, numel(out))

    def window(self, inputs: list[Shape]) -> Resampling:
        return Resampling(tuple(whole_map(size) for size in inputs[0][1:]))

    def label(self) -> str:
        return f"groupnorm {self.groups}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        return nn.GroupNorm(self.groups, out[0], eps=self.eps, affine=self.affine)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input, and the mean and inverse standard deviation of each group of each
        sample, N·groups, of --dtype."""
        per_group = f"N*{self.groups}"
        return TrainingRules((Saved("input"), Saved("mean", per_group), Saved("rstd", per_group)))


def whole_map(size: Value) -> AxisMap:
    """Every unit reads every input unit 0 … size − 1 (statistics over the whole map)."""
    return AxisMap(first=lambda i: 0, last=lambda i: size - 1, ratio=1, rule="0 … H − 1 (the whole map)")
