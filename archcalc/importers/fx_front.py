"""The PyTorch front end: torch.fx symbolic tracing, one pass on the meta device for every
value's shape, then a walk over the graph that turns each node into archcalc layers
(archcalc/importers/torch_map.py says how, per module class and per function).

Leaf modules are torch.nn's (fx's rule) plus torchvision's StochasticDepth (an op of
archcalc's own); everything else — torchvision's Conv2dNormActivation, timm's BatchNormAct2d,
a user's block — is traced through, so its functional calls and its parameters are seen.
"""

from __future__ import annotations

import copy
import operator
from typing import Any

import torch
import torch.fx as fx

from archcalc.importers.ir import INPUT, Graph, ModelImportError, Unsupported
from archcalc.importers.refs import UNKNOWN, Param, Parts, Shuffle, Size, Tensor, Unknown


def _extra_leaves() -> tuple[type, ...]:
    try:
        from torchvision.ops import StochasticDepth
    except ImportError:
        return ()
    return (StochasticDepth,)


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: torch.nn.Module, qualname: str) -> bool:
        return isinstance(m, _extra_leaves()) or super().is_leaf_module(m, qualname)


def trace(model: torch.nn.Module, training: bool = False, input_shape: tuple = ()) -> fx.GraphModule:
    """fx's graph of ``model`` in eval mode (what the spec describes: inference), or train
    mode; where fx cannot trace (control flow on a shape), torch.export's, at ``input_shape``."""
    model.train(training)
    try:
        graph = _Tracer().trace(model)
    except Exception as error:  # noqa: BLE001 — any tracing failure: try torch.export, else say why, in one line
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        exported = _export(model, input_shape)
        if exported is not None:
            return exported
        raise ModelImportError(
            f"neither torch.fx nor torch.export can trace {type(model).__name__}: {message} "
            "(data-dependent control flow in forward(); archcalc needs a traceable forward)"
        ) from None
    return fx.GraphModule(model, graph, type(model).__name__)


def _export(model: torch.nn.Module, input_shape: tuple) -> fx.GraphModule | None:
    """torch.export's graph, its tensors as get_attr (``unlifted``), or None where it fails too."""
    if not input_shape or not hasattr(torch, "export"):
        return None
    try:
        example = torch.empty(2 if model.training else 1, *input_shape, device="meta")
        module = torch.export.export(model, (example,)).module()
        module.archcalc_tracer = "torch.export"
        return module
    except Exception:  # noqa: BLE001 — the caller reports fx's reason
        return None


def on_meta(model: torch.nn.Module) -> torch.nn.Module:
    """The model with every tensor on the meta device (shapes only): the model itself when
    it is there already, else a copy, so a caller's weights are never touched."""
    if all(t.is_meta for t in list(model.parameters()) + list(model.buffers())):
        return model
    return copy.deepcopy(model).to("meta")


class _Recorder(fx.Interpreter):
    """Runs the graph once on meta tensors and keeps every node's value (shape, not data)."""

    def __init__(self, module: fx.GraphModule):
        super().__init__(module)
        self.values: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        value = super().run_node(n)
        self.values[n] = value
        return value


def shapes(module: fx.GraphModule, input_shape: tuple[int, ...], batch: int = 1) -> dict[fx.Node, Any]:
    recorder = _Recorder(module)
    try:
        with torch.no_grad():
            recorder.run(torch.empty(batch, *input_shape, device="meta"))
    except Exception as error:  # noqa: BLE001 — the model's own error at this input, in one line
        text = str(error).strip().splitlines()
        raise ModelImportError(
            f"the model fails on an input of shape {tuple(input_shape)}: {text[0] if text else type(error).__name__} (try another --input)"
        ) from None
    return recorder.values


def scope(node: fx.Node) -> str:
    """The module path whose forward() made this node ('' at the top)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = list(stack.values())[-1]
    return path[0] if isinstance(path, tuple) else str(path)


class Walker:
    """One pass over the traced graph: ``refs[node]`` is what each node stands for."""

    def __init__(self, module: fx.GraphModule, values: dict, input_shape: tuple):
        self.module = module
        self.values = values
        self.graph = Graph(input_shape=tuple(input_shape))
        self.unsupported = Unsupported()
        self.refs: dict[fx.Node, Any] = {}
        self.used_params: set[str] = set()
        self.called: set[str] = set()  # modules with weights already applied once (a second call would share them)
        self.placeholders = 0

    # --- values --------------------------------------------------------------------------
    def ref(self, arg: Any) -> Any:
        """The ref of an fx argument; literals (ints, tuples, None) stand for themselves."""
        return fx.node.map_aggregate(arg, lambda a: self.refs[a] if isinstance(a, fx.Node) else a)

    def value(self, arg: Any) -> Any:
        """The concrete value of an fx argument at the traced input."""
        return fx.node.map_aggregate(arg, lambda a: self.values.get(a) if isinstance(a, fx.Node) else a)

    def shape(self, node_or_value: Any) -> tuple:
        value = self.values.get(node_or_value) if isinstance(node_or_value, fx.Node) else node_or_value
        return tuple(value.shape) if isinstance(value, torch.Tensor) else ()

    # --- emitting ------------------------------------------------------------------------
    def layer(self, name: str, kind: str, fields: dict, inputs: list[Tensor], layout: str | None = None) -> Tensor:
        final = self.graph.add(name, kind, fields, [t.name for t in inputs])
        return Tensor(final, layout or inputs[0].layout)

    def unknown(self, node: fx.Node, what: str, needed: str) -> Unknown:
        self.unsupported.add(scope(node) if node.op != "call_module" else str(node.target), what, needed)
        return UNKNOWN

    def use(self, *params: Param) -> None:
        self.used_params.update(p.key for p in params)

    # --- the walk ------------------------------------------------------------------------
    def run(self) -> Graph:
        from archcalc.importers import torch_map

        for node in self.module.graph.nodes:
            self.refs[node] = self.visit(node, torch_map)
        return self.graph

    def visit(self, node: fx.Node, torch_map) -> Any:
        if node.op == "placeholder":
            self.placeholders += 1
            if self.placeholders > 1:
                return self.unknown(node, f"a second input ({node.target})", "a network with one input")
            return Tensor(INPUT)
        if node.op == "get_attr":
            return Param(str(node.target))
        if node.op == "output":
            self._outputs(node)
            return None
        args, kwargs = self.ref(node.args), self.ref(node.kwargs)
        flat = fx.node.map_aggregate((args, kwargs), lambda a: a)
        leaves: list = []
        fx.node.map_aggregate(flat, lambda a: leaves.append(a))
        if any(isinstance(a, Unknown) for a in leaves):  # downstream of an unknown: reported only if unknown itself
            return UNKNOWN if torch_map.has_rule(self, node) else torch_map.convert(self, node, args, kwargs)
        if not any(isinstance(a, (Tensor, Param, Shuffle, Parts)) for a in leaves):
            return self._arithmetic(node, leaves)
        return torch_map.convert(self, node, args, kwargs)

    def _arithmetic(self, node: fx.Node, leaves: list) -> Any:
        """Python arithmetic on sizes (x.size(0) // 2): a Size of the same tensor, or a constant."""
        sources = [a for a in leaves if isinstance(a, Size)]
        return sources[0] if sources else self.values.get(node)

    def _outputs(self, node: fx.Node) -> None:
        result = self.ref(node.args[0])
        if isinstance(result, Tensor):
            self.graph.outputs = [result.name]
        elif isinstance(result, dict) and all(isinstance(v, Tensor) for v in result.values()):
            self.graph.outputs = {str(k): v.name for k, v in result.items()}
        elif isinstance(result, (tuple, list)) and result and all(isinstance(v, Tensor) for v in result):
            self.graph.outputs = [v.name for v in result]
        elif not self.unsupported:
            self.unsupported.add("(output)", f"an output of type {type(result).__name__}", "tensors, a tuple or a dict of tensors")


def is_size_call(node: fx.Node) -> bool:
    return (node.op == "call_method" and node.target in ("size", "dim")) or (
        node.op == "call_function" and node.target is getattr and len(node.args) > 1 and node.args[1] in ("shape",)
    )


def import_module(model: torch.nn.Module, input_shape: tuple[int, ...], label: str) -> Graph:
    """The archcalc graph of ``model`` at ``input_shape`` (C, H, W), or one error listing
    every operation that has no archcalc op.

    Traced in eval mode — the network a spec describes. A model whose eval forward leaves
    parameters unused (GoogLeNet's and Inception-v3's auxiliary heads run in training only)
    is traced again in train mode, where its forward returns (logits, aux …): the layers
    only the auxiliary outputs need become `training_only` (counted in the totals, not in
    the inference totals, as archcalc's own torchvision specs have them)."""
    model = on_meta(model)
    walker = _walk(model, input_shape, label, training=False)
    if _unused(model, walker):
        trained = _walk(model, input_shape, label, training=True)
        if not _unused(model, trained) and isinstance(trained.graph.outputs, list) and len(trained.graph.outputs) > 1:
            _mark_training_only(trained.graph)
            walker = trained
    _check_all_used(model, walker, label)
    walker.graph.prune(label)
    return walker.graph


def _walk(model: torch.nn.Module, input_shape: tuple, label: str, training: bool) -> Walker:
    module = trace(model, training, tuple(input_shape))
    values = shapes(module, input_shape, batch=2 if training else 1)  # train-mode batch norm needs two values per channel
    walker = Walker(module, values, input_shape)
    walker.graph.tracer = getattr(module, "archcalc_tracer", "torch.fx")
    walker.run()
    walker.unsupported.raise_if_any(label)
    model.eval()
    return walker


def _mark_training_only(graph: Graph) -> None:
    """Every layer the first output does not need is training-only; the first output is the network's."""
    needed, stack = set(), [graph.outputs[0]]
    inputs = {layer.name: layer.inputs for layer in graph.layers}
    while stack:
        name = stack.pop()
        if name in needed or name not in inputs:
            continue
        needed.add(name)
        stack.extend(inputs[name])
    for layer in graph.layers:
        layer.training_only = layer.name not in needed
    graph.outputs = [graph.outputs[0]]


def _unused(model: torch.nn.Module, walker: Walker) -> dict[str, int]:
    unused: dict[str, int] = {}
    for key, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if key in walker.used_params or key.endswith("num_batches_tracked"):
            continue
        owner = key.rsplit(".", 1)[0]
        unused[owner] = unused.get(owner, 0) + tensor.numel()
    return unused


def _check_all_used(model: torch.nn.Module, walker: Walker, label: str) -> None:
    """Every parameter and buffer of the model belongs to a layer: one the traced forward
    never touches (a dead module) would make the counts short."""
    unused = _unused(model, walker)
    if unused:
        owners = sorted(unused)
        shown = ", ".join(owners[:6]) + (f" and {len(owners) - 6} more" if len(owners) > 6 else "")
        raise ModelImportError(
            f"{label}: {sum(unused.values()):,} parameter and buffer elements that forward() never uses, "
            f"in eval or train mode ({shown}): a dead module; build the model without it"
        )


__all__ = ["import_module", "is_size_call", "operator", "scope"]
