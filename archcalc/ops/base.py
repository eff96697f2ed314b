"""The contract every op unit fulfils, and the arithmetic they share.

An op is a pydantic model (its fields are the spec's fields, ``extra="forbid"``) plus
rules. Every rule receives the input shapes and the output shape and returns an exact
count (int or sympy expression); nothing here ever returns a float.

Shapes are tuples per sample: ``(C, H, W)`` for feature maps, ``(F,)`` for vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PositiveInt

from archcalc.errors import OpError, shape_text
from archcalc.expressions import Value, ceildiv, definitely, floordiv, is_symbolic

Shape = tuple  # tuple[Value, ...]


def _pair(value):
    """A scalar means the same on both axes; a list is (height, width)."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value, value)


def _names(value):
    return [value] if isinstance(value, str) else value


#: `from: a` or `from: [a, b]`
Names = Annotated[list[str], BeforeValidator(_names)]
PositivePair = Annotated[tuple[PositiveInt, PositiveInt], BeforeValidator(_pair)]
NonNegativePair = Annotated[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]], BeforeValidator(_pair)]


@dataclass(frozen=True)
class Window:
    """A sliding window per axis (height, width): what the receptive field steps through."""

    kernel: tuple[Value, Value]
    stride: tuple[Value, Value]
    padding: tuple[Value, Value]
    dilation: tuple[Value, Value] = (1, 1)


class Op(BaseModel):
    """Fields common to every layer entry, and default (zero-cost, pass-through) rules."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str | None = None
    inputs: Names | None = Field(default=None, alias="from")
    repeat: Annotated[int, Field(ge=0)] = 1
    training_only: bool = False

    #: how many inputs the op takes: 1, or None for "two or more" (merges)
    arity: ClassVar[int | None] = 1
    #: the elementwise-work kind its flops are filed under (see ``flops``)
    flop_kind: ClassVar[str] = "other"
    #: extra elementwise flops per output element (activations, norms …)
    flops_per_element: ClassVar[int] = 0

    #: each op unit declares ``kind: Literal["name"] = "name"``: the spec key and the tag
    #: of the discriminated union
    kind: ClassVar[str]

    # --- rules -------------------------------------------------------------------
    def output_shape(self, inputs: list[Shape]) -> Shape:
        """Pointwise by default: the output has the input's shape."""
        return inputs[0]

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        """Trainable weights and biases."""
        return 0

    def buffers(self, inputs: list[Shape], out: Shape) -> Value:
        """Non-trainable state (running statistics, fixed weights)."""
        return 0

    def macs(self, inputs: list[Shape], out: Shape) -> Value:
        """Multiply-accumulates of weight products, bias excluded."""
        return 0

    def connections(self, inputs: list[Shape], out: Shape) -> Value:
        """LeCun's count, (weighted fan-in + bias) × output units; 0 for weightless ops."""
        return 0

    def flops(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        """2 × macs under "mac", plus the op's elementwise work under its own kind."""
        result: dict[str, Value] = {}
        macs = self.macs(inputs, out)
        if macs != 0:
            result["mac"] = 2 * macs
        extra = self.elementwise_flops(inputs, out)
        if extra != 0:
            result[self.flop_kind] = extra
        return result

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return self.flops_per_element * numel(out)

    def window(self, inputs: list[Shape]) -> Window | None:
        """The sliding window for the receptive field; None for pointwise ops."""
        return None

    def label(self) -> str:
        """The field's shorthand for this layer, e.g. "conv 11×11/4, 96"."""
        return self.kind

    # --- torch backend -------------------------------------------------------------------
    def to_torch(self, inputs: list[Shape], out: Shape):
        """The ``torch.nn.Module`` computing this layer (``archcalc run``). No default: an op
        without its own PyTorch form must fail loudly rather than run as an identity."""
        raise OpError(f"op {self.kind!r} has no PyTorch form yet: its unit needs a `to_torch` method")


def numel(shape: Shape) -> Value:
    total = 1
    for dim in shape:
        total = total * dim
    return total


def require_rank(shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        expected = "a (C, H, W) feature map" if rank == 3 else "a flat (features,) vector"
        hint = "; add `flatten` before it" if rank == 1 else ""
        raise OpError(f"{what} expects {expected}, found {shape_text(shape)}{hint}")


def conv_out_size(size: Value, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool = False) -> Value:
    """H_out = ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1 (⌈…⌉ with ceil_mode, as PyTorch does).

    With ceil_mode, PyTorch drops a last window that would start inside the right
    padding, i.e. when (H_out − 1)·s ≥ H + p.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return floordiv(span, stride) + 1
    out = ceildiv(span, stride) + 1
    if is_symbolic(out):
        from archcalc.expressions import sp

        return sp().Piecewise((out - 1, (out - 1) * stride >= size + padding), (out, True))
    return out - 1 if (out - 1) * stride >= size + padding else out


def check_window_fits(size: Value, kernel: int, padding: int, dilation: int, axis: str) -> None:
    extent = dilation * (kernel - 1) + 1
    if definitely(size + 2 * padding < extent):
        raise OpError(
            f"kernel {extent} (dilated) is larger than the padded input along {axis}: "
            f"expected at most {size} + 2×{padding} = {size + 2 * padding}, found {extent}"
        )


def spatial_out(inputs: list[Shape], op: Op, window: Window, channels: Value, ceil_mode: bool = False) -> Shape:
    """Shared by conv and pooling: check the window fits, then slide it on H and W."""
    shape = inputs[0]
    require_rank(shape, 3, op.kind)
    sizes = []
    for axis, index in (("height", 0), ("width", 1)):
        size = shape[1 + index]
        k, s, p, d = (window.kernel[index], window.stride[index], window.padding[index], window.dilation[index])
        check_window_fits(size, k, p, d, axis)
        sizes.append(conv_out_size(size, k, s, p, d, ceil_mode))
    return (channels, sizes[0], sizes[1])


def kernel_text(kernel: tuple, stride: tuple | None = None) -> str:
    """3×3, 1×7, 11×11/4 — the notation the papers use."""
    text = f"{kernel[0]}×{kernel[1]}"
    if stride and stride != (1, 1):
        text += f"/{stride[0]}" if stride[0] == stride[1] else f"/{stride[0]}×{stride[1]}"
    return text
