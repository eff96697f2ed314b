"""The contract every op unit fulfils, and the arithmetic they share.

An op is a pydantic model (its fields are the spec's fields, ``extra="forbid"``) plus
rules. Every rule receives the input shapes and the output shape and returns an exact
count (int or sympy expression); nothing here ever returns a float.

Shapes are tuples per sample: ``(C, H, W)`` for feature maps, ``(F,)`` for vectors.
"""

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, PositiveInt

from archcalc.derivation import SHAPE_SYMBOLS_3, Derivation, derive, passthrough_formulas, quantity_of, shape_values, stated
from archcalc.errors import OpError, shape_text
from archcalc.expressions import ExpressionError, Value, always, ceildiv, floordiv, is_symbolic, parse
from archcalc.training.rules import TrainingRules, missing

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


@dataclass(frozen=True)
class AxisMap:
    """Along one axis, output unit i reads the input units first(i) … last(i), every ``step``.

    The rules are plain functions of the unit index (an int, or a sympy expression when the
    index itself is symbolic, e.g. the last unit of a symbolic size), defined for every
    integer i: beyond the layer's own units they continue by the same formula, which is what
    a later padded window reads (archcalc's fields are unclipped). ``ratio`` is the nominal
    number of input units per output unit (a stride; 1/s for a transposed conv; H/out for
    resampling), the factor the reported jump takes. ``monotone``: first and last never
    decrease with i (every rule here but some dilated transposed convs); ``rule`` is the
    text `explain` shows.
    """

    first: Callable[[Value], Value]
    last: Callable[[Value], Value]
    ratio: Value
    rule: str
    step: int = 1
    monotone: bool = True
    #: (kernel, stride, padding, dilation) when the rule is an ordinary sliding window, so a
    #: lattice stays a lattice through it
    sliding: tuple | None = None


@dataclass(frozen=True)
class Resampling:
    """An irregular window (adaptive pools whose bins are uneven, upsampling, transposed
    convs, group norm's whole-map statistics): an explicit index rule per axis (height, width)
    in place of a kernel sliding with a whole stride."""

    axes: tuple[AxisMap, AxisMap]


class Op(BaseModel):
    """Fields common to every layer entry, and default (zero-cost, pass-through) rules."""

    #: defer_build: an op's validator is built the first time a spec uses the op, not when its
    #: class is defined (a report validates a handful of the registry's kinds; building every
    #: kind's schema at import was a quarter of a cold report: benchmarks/suite.py)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    name: str | None = None
    inputs: Names | None = Field(default=None, alias="from")
    repeat: Annotated[int, Field(ge=0)] = 1
    training_only: bool = False

    #: drawn small in diagrams and left out of block summaries: no weights and no window of
    #: its own (activations, norms, merges, reshapes)
    minor: ClassVar[bool] = False
    #: counts towards a network's depth as the papers count it (LeNet-5's 7, ResNet-50's 50)
    weighted: ClassVar[bool] = False
    #: the rank a pointwise op insists on (3: a (C, H, W) feature map), or None for any
    input_rank: ClassVar[int | None] = None
    #: its output is (or may be) a view of its first input in eval mode (flatten, slice, …), so
    #: an in-place op must not overwrite it while another layer still reads that input
    aliases_input: ClassVar[bool] = False
    #: how many inputs the op takes: 1, or None for "two or more" (merges); 2 for "one, or two
    #: with a reference input" (SizedByReference, which checks the count itself)
    arity: ClassVar[int | None] = 1
    #: the elementwise-work kind its flops are filed under (see ``flops``)
    flop_kind: ClassVar[str] = "other"
    #: extra elementwise flops per output element (activations, norms …)
    flops_per_element: ClassVar[int] = 0

    #: each op unit declares ``kind: Literal["name"] = "name"``: the spec key and the tag
    #: of the discriminated union
    kind: ClassVar[str]

    @classmethod
    def size_conditions(cls, inputs: list[Shape], out: Shape) -> list[tuple[Value, str, Value]]:
        """What the sizes must satisfy for the layer to exist, beyond a non-empty output, as
        (a, relation, b) with relation "==", "<=" or "broadcasts" (equal, or either is 1).
        Symbolic sizes can leave these undecided at compile time; the size plots
        (archcalc.growth) evaluate them at each size. By default the inputs of a layer with
        several agree in every spatial size (a concat or a sum)."""
        return [(shape[axis], "==", inputs[0][axis]) for shape in inputs[1:] for axis in range(1, min(len(shape), len(inputs[0])))]

    # --- derivations: each rule written out (archcalc.derivation) -------------------
    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str | tuple[str, str]]:
        """Symbol (C_out, H_out, W_out, F_out, params, buffers, macs, connections) → the
        rule as arithmetic over the names of ``derivation_values`` (or a (formula, note)
        pair). Ops override this; a rule they leave out is stated by ``derivations``, never
        given a made-up formula."""
        return {}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        """The names the formulas use, for these inputs: the input's C, H, W (or F), the
        output's C_out, H_out, W_out (or F_out), and the op's own fields."""
        return shape_values(inputs, out)

    def derivations(self, inputs: list[Shape], out: Shape) -> list[Derivation]:
        """Every quantity of this layer, derived: the op's formulas where it states them; the
        base rules' own formulas (pass-through shape, zero cost) where the op keeps them;
        otherwise the rule's result, marked as stated without a formula."""
        formulas = {**self._inherited_formulas(inputs), **self.derivation_formulas(inputs)}
        values = self.derivation_values(inputs, out)
        symbols = SHAPE_SYMBOLS_3 if len(out) == 3 else ("F_out",)
        results = {symbol: out[index] for index, symbol in enumerate(symbols)}
        results.update({q: getattr(self, q)(inputs, out) for q in ("params", "buffers", "macs", "connections")})
        lines = []
        for symbol, result in results.items():
            if symbol in formulas:
                formula, note = (formulas[symbol], None) if isinstance(formulas[symbol], str) else formulas[symbol]
                lines.append(derive(symbol, formula, values, note))
            else:
                note = f"the {self.kind} rule; no formula to substitute"
                lines.append(stated(quantity_of(symbol), symbol, self._rule_text(symbol), result, note))
        return lines

    def _inherited_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        """The base class's rules, as formulas, for each rule this op does not override."""
        formulas = {}
        if type(self).output_shape is Op.output_shape:
            formulas.update(passthrough_formulas(inputs[0]))
        for quantity in ("params", "buffers", "macs", "connections"):
            if getattr(type(self), quantity) is getattr(Op, quantity):
                formulas[quantity] = "0"
        return formulas

    def _rule_text(self, symbol: str) -> str:
        """The op's own docstring line for this quantity (``params: …``), else a pointer to it."""
        key = "shape" if symbol in SHAPE_SYMBOLS_3 + ("F_out",) else symbol
        for line in (type(self).__doc__ or "").splitlines():
            if line.strip().startswith(key + ":"):
                return line.strip()[len(key) + 1 :].strip().removeprefix(f"{symbol} =").strip()
        return f"{type(self).__name__}.{'output_shape' if key == 'shape' else key}"

    # --- rules -------------------------------------------------------------------
    def output_shape(self, inputs: list[Shape]) -> Shape:
        """Pointwise by default: the output has the input's shape."""
        if self.input_rank is not None:
            require_rank(inputs[0], self.input_rank, self.kind)
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
        bias = self.bias_flops(inputs, out)
        if bias != 0:
            result["bias"] = bias
        return result

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return self.flops_per_element * numel(out)

    def bias_flops(self, inputs: list[Shape], out: Shape) -> Value:
        """One addition per output element that gets a bias; none by default."""
        return 0

    def data_inputs(self, count: int) -> int:
        """How many of the ``count`` inputs carry values into the output (the first ones):
        all of them, but for an op that only reads a reference input's size."""
        return count

    def window(self, inputs: list[Shape]) -> Window | Resampling | None:
        """The window for the receptive field: a sliding Window, an irregular Resampling,
        or None for pointwise ops."""
        return None

    def label(self) -> str:
        """The field's shorthand for this layer, e.g. "conv 11×11/4, 96"."""
        return self.kind

    # --- torch backend -------------------------------------------------------------------
    def to_torch(self, inputs: list[Shape], out: Shape):
        """The ``torch.nn.Module`` computing this layer (``archcalc run``). No default: an op
        without its own PyTorch form must fail loudly rather than run as an identity."""
        raise OpError(f"op {self.kind!r} has no PyTorch form yet: its unit needs a `to_torch` method")

    # --- training rules (archcalc.training) ---------------------------------------------
    #: its torch module may overwrite an input no other layer reads (ReLU(inplace=True), Add's
    #: ``+=``); archcalc.inplace decides where, for the torch backend and the training model alike
    overwrites_input: ClassVar[bool] = False

    @property
    def may_overwrite(self) -> bool:
        """This layer may work in place (an activation with ``inplace: false`` may not)."""
        return type(self).overwrites_input

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """What autograd keeps for this layer's backward pass and the backward's multiply-adds,
        as formulas (archcalc.training.rules). No default: an op without its own rules is an
        error under --training, never a silent zero."""
        raise missing(self.kind)

    def training_rules_in_place(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """The rules where the layer overwrites its input (archcalc.inplace's plan): the same
        as out of place unless the op says otherwise (an activation differentiated from its
        input keeps a copy of it, the storage itself being overwritten)."""
        return self.training_rules(inputs, out)


class SizedByReference(Op):
    """An op whose output size is given by its fields or, when they give none, by a second
    input's spatial size: `from: [x, ref]` (a segmentation head resizing to its input, U-Net
    cropping a skip connection to the upsampled map). Two inputs exactly in that case, one
    otherwise; the graph checks ``arity`` 1, the op itself the pair."""

    arity: ClassVar[int | None] = 2  # one or two: decided per instance by `takes_reference`

    def takes_reference(self) -> bool:
        """True when no field gives the size, so the second input must."""
        raise NotImplementedError

    @classmethod
    def size_conditions(cls, inputs: list[Shape], out: Shape) -> list[tuple[Value, str, Value]]:
        return []  # the reference gives the size: the two inputs need not agree

    def data_inputs(self, count: int) -> int:
        return 1  # the reference gives its size only: no value of it reaches the output

    def reference_size(self, inputs: list[Shape]) -> tuple[Value, Value]:
        """The reference input's (H, W), after checking the number and ranks of the inputs."""
        expected = 2 if self.takes_reference() else 1
        if len(inputs) != expected:
            what = "a size or scale, or `from: [x, ref]` to match ref's size" if expected == 2 else "one input when its size is given"
            raise OpError(f"{self.kind} takes {what}; found {len(inputs)} input{'s' if len(inputs) != 1 else ''}")
        for shape in inputs:
            require_rank(shape, 3, self.kind)
        return tuple(inputs[1][1:]) if expected == 2 else (None, None)


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
    padding, i.e. when (H_out − 1)·s ≥ H + p. Since (H_out − 1)·s < span + s, that can
    only happen when s + p > d(k−1) + 1; otherwise (3×3/2 pooling with padding 0 or 1,
    as in GoogLeNet) no Piecewise is built, which keeps deep symbolic nets tractable.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return floordiv(span, stride) + 1
    out = ceildiv(span, stride) + 1
    if stride + padding <= dilation * (kernel - 1) + 1:
        return out
    if is_symbolic(out):
        from archcalc.expressions import sp

        return sp().Piecewise((out - 1, (out - 1) * stride >= size + padding), (out, True))
    return out - 1 if (out - 1) * stride >= size + padding else out


def check_window_fits(size: Value, kernel: int, padding: int, dilation: int, axis: str) -> None:
    extent = dilation * (kernel - 1) + 1
    if always(size + 2 * padding, "<", extent):
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
        sizes.append((_slide_symbolic if is_symbolic(size) else _slide)(size, k, s, p, d, ceil_mode, axis))
    return (channels, sizes[0], sizes[1])


def _slide(size: Value, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool, axis: str) -> Value:
    check_window_fits(size, kernel, padding, dilation, axis)
    return conv_out_size(size, kernel, stride, padding, dilation, ceil_mode)


#: a symbolic size meets the same window at every block of a stage: its sympy arithmetic (the
#: floor, the fit's inequality) done once per distinct (size, window); errors are not cached
_slide_symbolic = functools.lru_cache(maxsize=4096)(_slide)


def kernel_text(kernel: tuple, stride: tuple | None = None) -> str:
    """3×3, 1×7, 11×11/4 — the notation the papers use."""
    text = f"{kernel[0]}×{kernel[1]}"
    if stride and stride != (1, 1):
        text += f"/{stride[0]}" if stride[0] == stride[1] else f"/{stride[0]}×{stride[1]}"
    return text


# --- shared field types of the op families ---------------------------------------------------
def _rational(value: Any) -> int | Fraction:
    """An exact positive rational: 2, 1.5 (read as the decimal 3/2, never a binary float) or "3/2"."""
    if isinstance(value, bool):
        raise ValueError(f"expected a positive number, found {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a positive number, found {value!r}")
        value = Fraction(str(value))
    elif isinstance(value, str):
        try:
            value = parse(value)
        except ExpressionError as error:
            raise ValueError(str(error)) from None
    if not isinstance(value, (int, Fraction)) or value <= 0:
        raise ValueError(f"expected a positive whole or rational number (2, 1.5, 3/2), found {value!r}")
    return int(value) if value == int(value) else Fraction(value)


def _rational_pair(value: Any) -> tuple:
    pair = _pair(value)
    if len(pair) != 2:
        raise ValueError(f"expected one number or [height, width], found {value!r}")
    return tuple(_rational(item) for item in pair)


#: an exact positive rational per axis: `2`, `1.5` or `[2, 3/2]`
RationalPair = Annotated[tuple[Any, Any], PlainValidator(_rational_pair)]


#: a probability, 0 … 1
Probability = Annotated[float, Field(ge=0, le=1)]
#: a real-valued hyper-parameter (a slope, an epsilon) that no count depends on
Real = float
