"""The vocabulary of an op's training rules (``Op.training_rules``), and the dtypes they name.

An op states, per layer, as formulas over its ``derivation_values`` plus ``N`` (the batch) and
``macs`` (its forward multiply-accumulates per sample):

- ``saved``: the tensors autograd keeps for its backward pass, each named by *which* tensor it
  is — ``"input"`` (input 0), ``"input1"`` …, ``"output"``, or a name of the op's own for a
  tensor it makes itself (max pooling's ``indices``, dropout's ``mask``). Inputs and outputs
  need no element count: they are storages other layers made, and a storage kept by several
  layers is counted once. Parameters and buffers that autograd also keeps (a conv's weight)
  are never listed: their memory is counted as parameters.
- ``input_grad_macs`` / ``weight_grad_macs``: the backward's multiply-accumulates for the
  gradient with respect to the inputs and to the weights (``"N*macs"`` for a conv: the
  transposed convolution and the weight correlation each make as many products as the
  forward). The model drops the input part where no input needs a gradient.
- ``view_of``: the input whose storage the output shares (flatten, identity): no new memory.

A tensor kept for one input's gradient only says so: ``needs_input_grad`` (kept only when
some input needs a gradient: a summing pool's input, which only the pool's own backward
reads), or ``for_grad_of`` (kept only when one of the inputs it names needs a gradient: a
product keeps each factor for the *other* factor's gradient, as PyTorch's ``mul`` does).

A layer whose inputs need no gradient and which has no parameters is outside autograd: it keeps
nothing whatever its rules say (the model knows this; rules need not).
"""

from __future__ import annotations

from dataclasses import dataclass

from archcalc.errors import OpError

#: dtype classes → bytes per element: ``activation`` at --dtype; ``index`` int64 (max-pool
#: indices); ``mask`` dropout's mask, bool from CUDA's fused kernel, a float tensor of
#: --dtype from the CPU's (PyTorch's ``_dropout_impl`` multiplies by a noise tensor)
INDEX_BYTES = 8


@dataclass(frozen=True)
class Saved:
    """One tensor autograd keeps for a layer's backward pass."""

    tensor: str  # "input", "input1", …, "output", or the op's own name for a tensor it makes
    elements: str | None = None  # a formula (for the op's own tensors; inputs and outputs have their shape)
    dtype: str = "activation"  # activation | index | mask
    needs_input_grad: bool = False  # kept only when the input needs a gradient
    for_grad_of: tuple[int, ...] = ()  # kept only when one of these inputs needs a gradient (a product's factors)

    def kept(self, needs: tuple[bool, ...]) -> bool:
        """Whether autograd keeps it, given which inputs need a gradient."""
        if self.needs_input_grad and not any(needs):
            return False
        return not self.for_grad_of or any(needs[index] for index in self.for_grad_of)

    @property
    def own(self) -> bool:
        return self.input_index is None and self.tensor != "output"

    @property
    def input_index(self) -> int | None:
        if self.tensor == "input":
            return 0
        if self.tensor.startswith("input") and self.tensor[5:].isdigit():
            return int(self.tensor[5:])
        return None


@dataclass(frozen=True)
class TrainingRules:
    """What a training step costs one layer: what it keeps, and its backward's products."""

    saved: tuple[Saved, ...] = ()
    input_grad_macs: str = "0"
    weight_grad_macs: str = "0"
    view_of: int | None = None  # the output is a view of this input
    #: the output is one of several views one PyTorch call returns (x.chunk): autograd refuses
    #: to let an in-place op overwrite it, so none does in training
    one_of_views: bool = False


#: the rules of a layer with weights: both gradients make as many products as the forward
WEIGHTED = {"input_grad_macs": "N*macs", "weight_grad_macs": "N*macs"}


def elements(shape: tuple, output: bool = False) -> str:
    """The element count of a whole batch of this shape, over the derivation names:
    N*C*H*W, N*F (inputs) or N*C_out*H_out*W_out, N*F_out (outputs)."""
    names = ("C", "H", "W") if len(shape) == 3 else ("F",)
    return "*".join(["N", *(name + "_out" if output else name for name in names)])


def channels(shape: tuple) -> str:
    """The per-channel count (batch norm's statistics): C, or F for a flat input."""
    return "C" if len(shape) == 3 else "F"


def saves_input(op, inputs: list, out: tuple) -> TrainingRules:
    """Keeps its input and nothing else (average pooling)."""
    return TrainingRules((Saved("input"),))


def saves_output(op, inputs: list, out: tuple) -> TrainingRules:
    """Keeps its output (ReLU, tanh, sigmoid and softmax differentiate from the result)."""
    return TrainingRules((Saved("output"),))


def saves_nothing(op, inputs: list, out: tuple) -> TrainingRules:
    """Keeps nothing (concat and add pass the gradient on; a scale by a constant needs only it)."""
    return TrainingRules()


def a_view(op, inputs: list, out: tuple) -> TrainingRules:
    """Keeps nothing; the output is a view of the input (flatten, identity)."""
    return TrainingRules(view_of=0)


class MissingRules(OpError):
    """An op in the network states no training rules (yet)."""


def missing(kind: str) -> OpError:
    return MissingRules(
        f"op {kind!r} has no training rules yet, so --training cannot count it: its unit needs a "
        "`training_rules` method (see archcalc/training/rules.py)"
    )
