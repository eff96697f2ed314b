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

from dataclasses import dataclass
from typing import Any

from archcalc.analysis import Analysis
from archcalc.errors import ArchcalcError
from archcalc.graph import INPUT, Network
from archcalc.inplace import eval_plan
from archcalc.torch_backend import RunError, require_torch

#: the class name fx gives the generated module; FlopCounterMode names layers "SpecNet.<layer>"
CLASS_NAME = "SpecNet"


@dataclass
class Built:
    full: Any  # torch.fx.GraphModule running every layer
    inference: Any  # the same submodules, training-only branches left out
    modules: dict[str, Any]  # layer name → its nn.Module


def build(network: Network, analysis: Analysis, inplace: dict[str, int] | None = None) -> Built:
    """``inplace``: layer → the input it overwrites (the training model's plan); by default
    the inference plan."""
    require_torch()
    if analysis.symbols:
        names = ", ".join(analysis.symbols)
        raise RunError(f"archcalc run needs a concrete input, found the names {names}; pass e.g. --input 3,224,224")
    modules = layer_modules(network, analysis)
    _allow_inplace(modules, analysis, inplace if inplace is not None else eval_plan(analysis, {n: s.op for n, s in network.layers.items()}))
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
    the network's output, or a dict label → tensor when the spec declares several (as
    torchvision's segmentation models return {"out": …, "aux": …})."""
    torch = require_torch()
    layers = [s for s in analysis.layers if training or not s.training_only]
    _check_names(layers, set(dir(torch.nn.Module())))
    graph = torch.fx.Graph()
    values = {INPUT: graph.placeholder("x")}
    for stats in layers:
        node = graph.call_module(stats.name, tuple(values[source] for source in stats.inputs))
        node.meta["layer"] = stats.name
        values[stats.name] = node
    returned = _returned(analysis, layers, training)
    graph.output(values[next(iter(returned.values()))] if len(returned) == 1 else {k: values[v] for k, v in returned.items()})
    used = {s.name: modules[s.name] for s in layers}
    try:
        module = torch.fx.GraphModule(used, graph, class_name=CLASS_NAME)
    except (KeyError, AttributeError, RuntimeError) as error:
        raise RunError(f"a layer name cannot be a PyTorch module name: {error}") from None
    return module.eval()


def _returned(analysis: Analysis, layers: list, training: bool) -> dict[str, str]:
    """Label → layer of what the module returns: the declared outputs of the mode; in
    training, also each training-only layer nothing reads (an auxiliary head's logits)."""
    returned = {o.label: o.layer for o in analysis.outputs if training or not o.training_only}
    if training:
        read = {source for stats in layers for source in stats.inputs} | set(returned.values())
        returned.update({s.name: s.name for s in layers if s.training_only and s.name not in read})
    if not returned:
        raise RunError("every output of the network is training-only: the inference module would return nothing")
    return returned


def _check_names(layers: list, reserved: set[str]) -> None:
    """A layer path part that is an nn.Module attribute (``training``, ``eval``) would
    replace that attribute of the generated module."""
    for stats in layers:
        clash = [part for part in stats.name.split(".") if part in reserved]
        if clash:
            raise RunError(
                f"layer {stats.name!r}: {clash[0]!r} is a torch.nn.Module attribute and cannot name a layer in PyTorch; rename it"
            )


def _allow_inplace(modules: dict[str, Any], analysis: Analysis, plan: dict[str, int] | None = None) -> None:
    """Let ReLU, ReLU6, SiLU, Hardswish, Hardsigmoid and Add work in place (as torchvision's
    ``inplace=True`` activations and ``out += identity`` do) on a tensor that no other layer
    reads, directly or through an alias, and whose layer does not say ``inplace: false`` —
    archcalc.inplace's plan (for training, the one the training model made)."""
    from archcalc.torch_backend.modules import Add

    for name, index in (eval_plan(analysis) if plan is None else plan).items():
        module = modules[name]
        module.inplace = index if isinstance(module, Add) else True
