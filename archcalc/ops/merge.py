"""Merges of several branches: channel concatenation, element-wise addition and product.

Each can be written with `from: [a, b]`, or with inline branches:
``concat: [[conv: …], [maxpool: …, conv: …]]`` (an empty branch or ``identity`` passes
the input through, as a residual shortcut does; a squeeze-and-excitation gate is
``mul: [[globalavgpool, conv: …, relu, conv: …, sigmoid], identity]``).
"""

from typing import Any, Literal

from archcalc.derivation import passthrough_formulas, shape_values
from archcalc.errors import OpError, shape_text
from archcalc.expressions import Value, equal
from archcalc.ops.base import Op, Shape, numel, require_rank
from archcalc.training.rules import Saved, TrainingRules, saves_nothing


class _Merge(Op):
    arity = None
    #: inline branches, each a list of layer entries; compiled away by the graph builder
    branches: list[Any] | None = None

    def _check_spatial(self, inputs: list[Shape], first_axis: int) -> None:
        reference = inputs[0]
        for index, shape in enumerate(inputs[1:], start=1):
            if len(shape) != len(reference):
                raise OpError(
                    f"{self.kind} inputs must have the same rank: input 0 is {shape_text(reference)}, input {index} is {shape_text(shape)}"
                )
            for axis in range(first_axis, len(reference)):
                if equal(shape[axis], reference[axis]) is False:
                    what = "channels" if axis == 0 else "spatial sizes"
                    raise OpError(
                        f"{self.kind} needs matching {what}: expected {shape_text(reference)} "
                        f"(input 0), found {shape_text(shape)} (input {index})"
                    )


class Concat(_Merge):
    """Channel concatenation (Inception): C_out = Σ C_i; H and W must agree. No cost."""

    kind: Literal["concat"] = "concat"
    minor = True

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return {"C_out": " + ".join(f"C_{i}" for i in range(1, len(inputs) + 1)), "H_out": "H", "W_out": "W"}

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        return {**shape_values(inputs, out), **{f"C_{i}": shape[0] for i, shape in enumerate(inputs, start=1)}}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        for shape in inputs:
            require_rank(shape, 3, self.kind)
        self._check_spatial(inputs, first_axis=1)
        channels: Value = 0
        for shape in inputs:
            channels = channels + shape[0]
        return (channels, *inputs[0][1:])

    def to_torch(self, inputs: list[Shape], out: Shape):
        from archcalc.torch_backend import modules

        return modules.Concat()

    training_rules = saves_nothing


class Add(_Merge):
    """Element-wise sum (residual connections): all shapes must agree.

    flops: (n − 1) additions per element under "add"
    """

    kind: Literal["add"] = "add"
    minor = True
    overwrites_input = True
    flop_kind = "add"

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return passthrough_formulas(inputs[0])  # every input has this shape (output_shape checks it)

    def output_shape(self, inputs: list[Shape]) -> Shape:
        self._check_spatial(inputs, first_axis=0)
        return inputs[0]

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return (len(inputs) - 1) * numel(out)

    def to_torch(self, inputs: list[Shape], out: Shape):
        from archcalc.torch_backend import modules

        return modules.Add()

    training_rules = saves_nothing


class Mul(_Merge):
    """Element-wise product of two or more inputs, broadcasting as PyTorch does: along each
    axis every input has the same size or 1, and the output takes the size that is not 1 —
    (C, 1, 1) × (C, H, W) for a squeeze-and-excitation gate, (1, H, W) × (C, H, W) for spatial
    attention. Inputs must have the same rank.

    shape: per axis, the common size (a size-1 input axis is broadcast)
    flops: (n − 1) multiplies per output element under "mul"; no macs (no weights:
           FlopCounterMode counts none either)
    rf:    the union of the inputs' fields, as for add; a broadcast input's single unit is read
           by every output unit
    """

    kind: Literal["mul"] = "mul"
    minor = True
    flop_kind = "mul"

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        return passthrough_formulas(inputs[0]) if all(shape == inputs[0] for shape in inputs) else {}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        reference = inputs[0]
        for index, shape in enumerate(inputs[1:], start=1):
            if len(shape) != len(reference):
                raise OpError(
                    f"mul inputs must have the same rank: input 0 is {shape_text(reference)}, input {index} is {shape_text(shape)}"
                )
        return tuple(self._broadcast(inputs, axis) for axis in range(len(reference)))

    @classmethod
    def size_conditions(cls, inputs: list[Shape], out: Shape) -> list[tuple[Value, str, Value]]:
        return [(shape[axis], "broadcasts", inputs[0][axis]) for shape in inputs[1:] for axis in range(len(shape))]

    def _broadcast(self, inputs: list[Shape], axis: int) -> Value:
        sizes = [shape[axis] for shape in inputs]
        wide = [size for size in sizes if not (isinstance(size, int) and size == 1)]
        for size in wide[1:]:
            if equal(size, wide[0]) is False:
                found = ", ".join(shape_text(shape) for shape in inputs)
                raise OpError(f"mul inputs do not broadcast: along axis {axis} each must be {wide[0]} or 1, found {found}")
        return wide[0] if wide else 1

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        """The shape names, and P_k: the elements per sample of the partial product of inputs
        0 … k (k = 1 … n − 2), the tensors a product of three or more makes on the way."""
        partial = {f"P_{k}": numel(self.output_shape(inputs[: k + 1])) for k in range(1, len(inputs) - 1)}
        return {**shape_values(inputs, out), **partial}

    def elementwise_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return (len(inputs) - 1) * numel(out)

    def to_torch(self, inputs: list[Shape], out: Shape):
        from archcalc.torch_backend import modules

        return modules.Mul()

    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """PyTorch multiplies left to right, t_k = t_(k−1) · x_k (t_0 = x_0), and each product
        keeps each factor for the other's gradient — so only when the other needs one. saved: x_k
        (input k, as it is: a broadcast (C, 1, 1) gate keeps its C values per sample, not the
        expanded map) when one of x_0 … x_(k−1) needs a gradient, and t_(k−1) when x_k does —
        input 0 for k = 1, else the partial product, N·P_(k−1) elements of --dtype."""
        saved = []
        for k in range(1, len(inputs)):
            saved.append(Saved(f"input{k}", for_grad_of=tuple(range(k))))
            left = Saved("input", for_grad_of=(k,)) if k == 1 else Saved(f"product{k - 1}", f"N*P_{k - 1}", for_grad_of=(k,))
            saved.append(left)
        return TrainingRules(tuple(saved))
