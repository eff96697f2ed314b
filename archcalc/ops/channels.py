"""Channel plumbing: slicing and chunking channels, channel shuffle, zero padding, cropping.

These move data and do no arithmetic: no params, no macs, no flops. Slicing, chunking and
shuffling leave every position where it was (pointwise receptive fields); padding and
cropping shift the positions, as a window of kernel 1 with padding p (padding) or −offset
(cropping) does.
"""

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PositiveInt, model_validator

from archcalc.derivation import shape_values
from archcalc.errors import OpError, shape_text
from archcalc.expressions import Value, always, ceildiv, equal, floordiv, vmin
from archcalc.ops.base import Op, PositivePair, Shape, SizedByReference, Window
from archcalc.training.rules import TrainingRules, a_view, saves_nothing

NonNegative = Annotated[int, Field(ge=0)]


def _channels(shape: Shape, what: str) -> Value:
    if len(shape) not in (1, 3):
        raise OpError(f"{what} expects a (C, H, W) feature map or a flat vector, found {shape_text(shape)}")
    return shape[0]


class Slice(Op):
    """Channels start … stop − 1 (Python's x[:, start:stop]); stop defaults to all of them.
    Works on the features of a flat vector too.

    shape: C_out = stop − start; H, W unchanged
    """

    aliases_input = True

    kind: Literal["slice"] = "slice"
    minor = True
    start: NonNegative = 0
    stop: PositiveInt | None = None

    @model_validator(mode="after")
    def _check_range(self):
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"slice needs start < stop, found start {self.start} and stop {self.stop}")
        return self

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        spatial = {"H_out": "H", "W_out": "W"} if len(inputs[0]) == 3 else {}
        return {("C_out" if len(inputs[0]) == 3 else "F_out"): "b - a", **spatial}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        return {**shape_values(inputs, out), "a": self.start, "b": self._stop(inputs[0])}

    def _stop(self, shape: Shape) -> Value:
        return shape[0] if self.stop is None else self.stop

    def output_shape(self, inputs: list[Shape]) -> Shape:
        channels = _channels(inputs[0], self.kind)
        stop = self._stop(inputs[0])
        if always(stop, ">", channels) or always(self.start, ">=", channels):
            raise OpError(f"slice {self.start}:{stop} is outside the input's {channels} channels")
        return (stop - self.start, *inputs[0][1:])

    def label(self) -> str:
        return f"slice {self.start}:{'' if self.stop is None else self.stop}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from archcalc.torch_backend import modules

        return modules.Slice(self.start, self._stop(inputs[0]))

    training_rules = a_view  # x[:, start:stop] is a view: nothing kept


class Chunk(Op):
    """Chunk `index` of x.chunk(chunks, dim=1) (ShuffleNetV2's split): PyTorch's chunks are
    ⌈C/chunks⌉ channels each, the last one smaller — and fewer than `chunks` of them when
    C is not a multiple (C = 5, chunks = 4 gives 2, 2, 1).

    shape: C_out = min(⌈C/chunks⌉, C − index·⌈C/chunks⌉); H, W unchanged
    """

    aliases_input = True

    kind: Literal["chunk"] = "chunk"
    minor = True
    chunks: PositiveInt
    index: NonNegative

    @model_validator(mode="after")
    def _check_index(self):
        if self.index >= self.chunks:
            raise ValueError(f"chunk index must be below chunks ({self.chunks}), found {self.index}")
        return self

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        symbol = "C_out" if len(inputs[0]) == 3 else "F_out"
        return {symbol: "b - a", **({"H_out": "H", "W_out": "W"} if len(inputs[0]) == 3 else {})}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        start = self.index * ceildiv(inputs[0][0], self.chunks)
        return {**shape_values(inputs, out), "a": start, "b": start + out[0]}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        channels = _channels(inputs[0], self.kind)
        size = ceildiv(channels, self.chunks)
        if always(self.index * size, ">=", channels):
            count = ceildiv(channels, size)
            raise OpError(f"chunk {self.index} does not exist: {channels} channels in chunks of {size} make {count} chunks")
        return (vmin(size, channels - self.index * size), *inputs[0][1:])

    def label(self) -> str:
        return f"chunk {self.index} of {self.chunks}"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from archcalc.torch_backend import modules

        return modules.Chunk(self.chunks, self.index)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: nothing; the output is one of x.chunk(…)'s views, which autograd lets no
        in-place op overwrite."""
        return TrainingRules(view_of=0, one_of_views=True)


class ChannelShuffle(Op):
    """ShuffleNet's channel shuffle (Zhang et al. 2018): C channels as `groups` rows of C/groups,
    transposed — output channel j·groups + g is input channel g·C/groups + j (nn.ChannelShuffle,
    torchvision's channel_shuffle). Shape unchanged."""

    aliases_input = True

    kind: Literal["channel_shuffle"] = "channel_shuffle"
    minor = True
    input_rank = 3
    groups: PositiveInt

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape = super().output_shape(inputs)
        if equal(shape[0] % self.groups, 0) is False:
            raise OpError(f"groups must divide the channels: expected a divisor of {shape[0]}, found groups={self.groups}")
        return shape

    def label(self) -> str:
        return f"channel shuffle {self.groups}"

    def trivial(self, inputs: list[Shape]) -> bool:
        """One group, or one channel per group: the identity permutation."""
        return self.groups == 1 or equal(inputs[0][0], self.groups) is True

    def to_torch(self, inputs: list[Shape], out: Shape):
        """nn.ChannelShuffle; nn.Identity for a trivial shuffle, whose output PyTorch's CPU kernel
        copies but its CUDA (and meta) path returns as a view of the input — one form, the same
        storage on every device."""
        from torch import nn

        return nn.Identity() if self.trivial(inputs) else nn.ChannelShuffle(self.groups)

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: nothing (the backward is the inverse shuffle); a new tensor, or the input
        itself when the shuffle is trivial."""
        return TrainingRules(view_of=0) if self.trivial(inputs) else TrainingRules()


def _sides(value: Any) -> Any:
    """p (every side), [h, w] (top = bottom = h, left = right = w) or [top, bottom, left, right]."""
    if isinstance(value, (list, tuple)):
        if len(value) == 2:
            return (value[0], value[0], value[1], value[1])
        return tuple(value)
    return (value, value, value, value)


class Pad(Op):
    """Zero padding per side (nn.ZeroPad2d): `padding` p, [h, w] or [top, bottom, left, right].

    shape: H_out = H + top + bottom, W_out = W + left + right
    rf:    a window of kernel 1 with padding (top, left): output unit i is input unit i − top
    """

    kind: Literal["pad"] = "pad"
    minor = True
    input_rank = 3
    padding: Annotated[tuple[NonNegative, NonNegative, NonNegative, NonNegative], BeforeValidator(_sides)]

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"C_out": "C", "H_out": "H + t + b", "W_out": "W + l + r"}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        return {**shape_values(inputs, out), **dict(zip("tblr", self.padding, strict=True))}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        channels, h, w = super().output_shape(inputs)
        top, bottom, left, right = self.padding
        return (channels, h + top + bottom, w + left + right)

    def window(self, inputs: list[Shape]) -> Window:
        return Window((1, 1), (1, 1), (self.padding[0], self.padding[2]))

    def label(self) -> str:
        return "pad " + ", ".join(map(str, self.padding))

    def to_torch(self, inputs: list[Shape], out: Shape):
        from torch import nn

        top, bottom, left, right = self.padding
        return nn.ZeroPad2d((left, right, top, bottom))

    training_rules = saves_nothing  # a new, padded tensor; the backward crops the gradient


class Crop(SizedByReference):
    """A centred crop to `size` ([h, w]) or — with no size — to the spatial size of a second
    input, `from: [x, ref]` (U-Net's crop-and-concat). The first row kept is ⌊(H − h)/2⌋
    (an odd surplus leaves the extra row at the bottom), likewise the first column.

    shape: (C, H, W) → (C, h, w), h ≤ H and w ≤ W
    rf:    a window of kernel 1 with padding −⌊(H − h)/2⌋: output unit i is input unit i + offset
    """

    aliases_input = True

    kind: Literal["crop"] = "crop"
    minor = True
    size: PositivePair | None = None

    def takes_reference(self) -> bool:
        return self.size is None

    @classmethod
    def size_conditions(cls, inputs: list[Shape], out: Shape) -> list[tuple[Value, str, Value]]:
        return [(out[axis], "<=", inputs[0][axis]) for axis in (1, 2)]  # a crop cannot grow the map

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"C_out": "C", "H_out": "n_h", "W_out": "n_w"}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        return {**shape_values(inputs, out), "n_h": out[1], "n_w": out[2]}  # the size, or the reference's

    def output_shape(self, inputs: list[Shape]) -> Shape:
        reference = self.reference_size(inputs)
        channels, h, w = inputs[0]
        target = self.size if self.size is not None else reference
        for axis, size, wanted in (("height", h, target[0]), ("width", w, target[1])):
            if always(wanted, ">", size):
                raise OpError(f"crop cannot grow the {axis}: expected at most {size}, found {wanted}")
        return (channels, *target)

    def offsets(self, inputs: list[Shape]) -> tuple[Value, Value]:
        out = self.output_shape(inputs)
        return tuple(floordiv(inputs[0][1 + axis] - out[1 + axis], 2) for axis in (0, 1))

    def window(self, inputs: list[Shape]) -> Window:
        top, left = self.offsets(inputs)
        return Window((1, 1), (1, 1), (-top, -left))

    def label(self) -> str:
        return f"crop {self.size[0]}×{self.size[1]}" if self.size is not None else "crop to match"

    def to_torch(self, inputs: list[Shape], out: Shape):
        from archcalc.torch_backend import modules

        top, left = self.offsets(inputs)
        return modules.Crop(top, left, out[1], out[2])

    training_rules = a_view  # a view of the first input (a reference input gives its size only)
