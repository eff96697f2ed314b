"""The analysed graph → a ``torch.fx.GraphModule``.

Each layer becomes the submodule its op unit's ``to_torch`` returns, registered under the
layer's dotted name (``layer1.0.conv1``), so parameter names read like torchvision's and
fx's generated ``forward`` calls the layers one after the other with no interpreter in
between — the same per-layer cost as a hand-written ``nn.Module``.

Two graphs share the same submodules: ``full`` runs every layer (the checks use it: the
static totals count training-only branches too), ``inference`` leaves training-only
branches out (timing; torchvision's GoogLeNet skips its auxiliary classifiers in eval).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from archcalc.analysis import Analysis
from archcalc.errors import ArchcalcError
from archcalc.graph import INPUT, Network
from archcalc.torch_backend import RunError, require_torch

#: the class name fx gives the generated module; FlopCounterMode names layers "SpecNet.<layer>"
CLASS_NAME = "SpecNet"
#: ops whose output is (or may be) a view of their input in eval mode
ALIASING = {"identity", "dropout", "flatten", "stochastic_depth", "slice", "chunk", "crop", "channel_shuffle"}


@dataclass
class Built:
    full: Any  # torch.fx.GraphModule running every layer
    inference: Any  # the same submodules, training-only branches left out
    modules: dict[str, Any]  # layer name → its nn.Module


def build(network: Network, analysis: Analysis) -> Built:
    require_torch()
    if analysis.symbols:
        names = ", ".join(analysis.symbols)
        raise RunError(f"archcalc run needs a concrete input, found the names {names}; pass e.g. --input 3,224,224")
    modules = layer_modules(network, analysis)
    _allow_inplace(modules, analysis)
    full = graph_module(modules, analysis, training=True)
    inference = graph_module(modules, analysis, training=False)
    return Built(full, inference, modules)


def layer_modules(network: Network, analysis: Analysis) -> dict[str, Any]:
    shapes = {INPUT: network.input_shape} | {s.name: s.output_shape for s in analysis.layers}
    modules = {}
    for stats in analysis.layers:
        op = network.layers[stats.name].op
        try:
            modules[stats.name] = op.to_torch([shapes[source] for source in stats.inputs], stats.output_shape)
        except ArchcalcError as error:
            raise error.located(file=network.source.file, path=f"{stats.name} ({stats.kind})") from None
    return modules


def graph_module(modules: dict[str, Any], analysis: Analysis, training: bool):
    """One ``call_module`` node per layer, in the analysis' topological order; the output is
    every layer nothing else reads (a tuple when there are several)."""
    torch = require_torch()
    layers = [s for s in analysis.layers if training or not s.training_only]
    _check_names(layers, set(dir(torch.nn.Module())))
    graph = torch.fx.Graph()
    values = {INPUT: graph.placeholder("x")}
    read = set()
    for stats in layers:
        node = graph.call_module(stats.name, tuple(values[source] for source in stats.inputs))
        node.meta["layer"] = stats.name
        values[stats.name] = node
        read.update(stats.inputs)
    sinks = [values[s.name] for s in layers if s.name not in read]
    graph.output(sinks[0] if len(sinks) == 1 else tuple(sinks))
    used = {s.name: modules[s.name] for s in layers}
    try:
        module = torch.fx.GraphModule(used, graph, class_name=CLASS_NAME)
    except (KeyError, AttributeError, RuntimeError) as error:
        raise RunError(f"a layer name cannot be a PyTorch module name: {error}") from None
    return module.eval()


def _check_names(layers: list, reserved: set[str]) -> None:
    """A layer path part that is an nn.Module attribute (``training``, ``eval``) would
    replace that attribute of the generated module."""
    for stats in layers:
        clash = [part for part in stats.name.split(".") if part in reserved]
        if clash:
            raise RunError(
                f"layer {stats.name!r}: {clash[0]!r} is a torch.nn.Module attribute and cannot name a layer in PyTorch; rename it"
            )


def _allow_inplace(modules: dict[str, Any], analysis: Analysis) -> None:
    """Let ReLU and Add work in place (as torchvision's ReLU(inplace=True) and ``out +=
    identity`` do) on a tensor that no other layer reads, directly or through an alias."""
    torch = require_torch()
    from archcalc.torch_backend.modules import Add

    readers = Counter(source for stats in analysis.layers for source in stats.inputs)
    alias_of: dict[str, str | None] = {INPUT: None}

    def exclusive(name: str) -> bool:
        if name == INPUT or readers[name] != 1:
            return False
        return alias_of[name] is None or exclusive(alias_of[name])

    for stats in analysis.layers:
        module, inputs = modules[stats.name], stats.inputs
        alias_of[stats.name] = inputs[0] if stats.kind in ALIASING else None
        if isinstance(module, torch.nn.ReLU) and exclusive(inputs[0]):
            module.inplace = True
            alias_of[stats.name] = inputs[0]
        elif isinstance(module, Add):
            owned = [i for i, source in enumerate(inputs) if exclusive(source)]
            if owned:
                module.inplace = owned[0]
                alias_of[stats.name] = inputs[owned[0]]
