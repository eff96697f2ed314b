"""Which layers overwrite an input in place, decided once for the torch backend and the
training model alike (so that what the model predicts autograd keeps is what the built
network keeps).

A layer whose op ``overwrites_input`` (ReLU, ReLU6, SiLU, Hardswish, Hardsigmoid, Add) works
in place on its first input that no other layer reads, directly or through a view — as
torchvision's ``inplace=True`` activations (Conv2dNormActivation's, MNASNet's, MobileNetV3's
classifier) and ``out += identity`` do. For training, an input that an earlier layer saved for its backward
pass is never overwritten either (autograd would refuse to differentiate through it), nor one
of the several views a single call returns (x.chunk: autograd refuses that too; inference runs
without autograd, where it may).
"""

from __future__ import annotations

from collections import Counter

from archcalc.graph import INPUT
from archcalc.ops import REGISTRY


class Storages:
    """Whose storage each layer's output lives in, as the layers are visited in order."""

    def __init__(self, layers):
        self.readers = Counter(source for stats in layers for source in stats.inputs)
        self.alias_of: dict[str, str | None] = {INPUT: None}
        self.frozen: set[str] = set()  # outputs autograd forbids overwriting (one of x.chunk's views)

    def exclusive(self, name: str) -> bool:
        """Read by one layer only, and so is every tensor it is a view of; and not frozen."""
        if name == INPUT or name in self.frozen or self.readers[name] != 1:
            return False
        return self.alias_of[name] is None or self.exclusive(self.alias_of[name])

    def owner(self, name: str) -> str:
        """The layer (or ``input``) whose output allocated this tensor's storage."""
        while self.alias_of[name] is not None:
            name = self.alias_of[name]
        return name

    def overwritable(self, inputs, saved: set[str] = frozenset()) -> int | None:
        """The first input that may be overwritten: exclusive, and its storage not in ``saved``."""
        for index, source in enumerate(inputs):
            if self.exclusive(source) and self.owner(source) not in saved:
                return index
        return None

    def record(self, name: str, view_of: str | None, frozen: bool = False) -> None:
        self.alias_of[name] = view_of
        if frozen:
            self.frozen.add(name)


def eval_plan(analysis, ops: dict | None = None) -> dict[str, int]:
    """Layer → the index of the input it overwrites, for inference (nothing is saved). ``ops``
    (layer → its op) lets a layer decline (``inplace: false``); without it, every layer of a
    kind that can overwrite may."""
    storages = Storages(analysis.layers)
    plan = {}
    for stats in analysis.layers:
        storages.record(stats.name, stats.inputs[0] if REGISTRY[stats.kind].aliases_input else None)
        may = ops[stats.name].may_overwrite if ops is not None else REGISTRY[stats.kind].overwrites_input
        index = storages.overwritable(stats.inputs) if may else None
        if index is not None:
            plan[stats.name] = index
            storages.record(stats.name, stats.inputs[index])
    return plan
