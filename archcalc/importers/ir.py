"""What a front end (PyTorch, ONNX) hands the emitter: archcalc layers named by the model's
own paths, wired by name, and every operation it could not represent.

A front end never drops an operation it does not know: it records it in ``Unsupported``
and carries on (so that one error lists all of them), and ``Unsupported.raise_if_any``
ends the import with exit status 2 before anything is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from archcalc.errors import ArchcalcError

INPUT = "input"
#: ops with parameters or buffers
WEIGHTED = {"conv", "convtranspose", "linear", "bn", "layernorm", "groupnorm", "prelu", "layerscale"}


class ModelImportError(ArchcalcError):
    """The model cannot become an archcalc spec (an unknown operation, a missing package)."""


@dataclass
class Layer:
    """One archcalc layer: ``kind`` is an op of archcalc/ops, ``fields`` its spec fields,
    ``inputs`` the names of the layers it reads (``INPUT`` for the network's input)."""

    name: str
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    training_only: bool = False


@dataclass
class Graph:
    """The imported network: layers in execution order, its input and its outputs."""

    input_shape: tuple
    layers: list[Layer] = field(default_factory=list)
    outputs: dict[str, str] | list[str] = field(default_factory=list)
    #: spec-built state_dict key → the model's key, where they differ (a bare parameter)
    renames: dict[str, str] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    #: "torch.export" where torch.fx could not trace: branches on shapes fixed at the traced input
    tracer: str = "torch.fx"

    def add(self, name: str, kind: str, fields: dict, inputs: list[str], training_only: bool = False) -> str:
        name = self.fresh(name)
        self.layers.append(Layer(name, kind, fields, list(inputs), training_only))
        return name

    def prune(self, label: str) -> None:
        """Drop what no output needs: a result forward() computes and never uses (timm's
        Res2Net takes ``spx[0]`` "for torchscript"). A dead layer with weights is an error:
        torch computes it, and archcalc counts only what reaches an output."""
        outputs = list(self.outputs.values()) if isinstance(self.outputs, dict) else list(self.outputs)
        inputs = {layer.name: layer.inputs for layer in self.layers}
        live, stack = set(), outputs + [layer.name for layer in self.layers if layer.training_only]
        while stack:
            name = stack.pop()
            if name not in live and name in inputs:
                live.add(name)
                stack.extend(inputs[name])
        weighted = [layer.name for layer in self.layers if layer.name not in live and layer.kind in WEIGHTED]
        if weighted:
            shown = ", ".join(weighted[:6]) + (f" and {len(weighted) - 6} more" if len(weighted) > 6 else "")
            raise ModelImportError(
                f"{label}: forward() computes layers with weights whose results it never uses ({shown}); "
                "archcalc counts what reaches an output: remove the dead computation"
            )
        self.layers = [layer for layer in self.layers if layer.name in live]

    def fresh(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2`` … when taken (a module called twice, two adds in one block)."""
        candidate, number = name, 0
        while candidate in self.names or candidate == INPUT:
            number += 1
            candidate = f"{name}_{number}"
        self.names.add(candidate)
        return candidate


@dataclass
class Unsupported:
    """Every operation that has no archcalc op, counted per (where, what)."""

    what_needed: dict[str, str] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)

    def add(self, where: str, what: str, needed: str) -> None:
        self.counts[(where or "(top level)", what)] += 1
        self.what_needed.setdefault(what, needed)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def raise_if_any(self, model: str) -> None:
        if not self.counts:
            return
        total = sum(self.counts.values())
        lines = [f"{model}: {total} operation{'s' if total != 1 else ''} archcalc cannot represent (nothing was written):"]
        for (where, what), count in sorted(self.counts.items()):
            lines.append(f"  {where}: {what}" + (f" ×{count}" if count > 1 else ""))
        lines.append("needed: " + "; ".join(f"{what}: {needed}" for what, needed in sorted(self.what_needed.items())))
        raise ModelImportError("\n".join(lines))
