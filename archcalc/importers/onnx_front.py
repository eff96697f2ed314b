"""The ONNX front end: an .onnx file's graph → archcalc layers (the same Graph the PyTorch
front end builds, so the same emitter writes the spec).

Tensor shapes come from ONNX's own shape inference (with data propagation); the integer
arithmetic exporters emit around shapes (Shape → Gather → Concat for ``x.view(x.size(0),
-1)``, the ends of a chunk's Slices) is evaluated here with numpy on the exported sizes —
those values never become layers. A shape computed from a tensor remembers which one, so
a Resize to the input's size stays a resize to the input's size. Initializers become the
parameters (Conv, Gemm, BatchNormalization …) and buffers (running statistics) of the
layer that uses them; layers are named after the exporter's module scopes where it
recorded them (torch.onnx.export's ``/layer1/layer1.0/conv1/Conv`` is ``layer1.0.conv1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archcalc.importers.ir import INPUT, Graph, ModelImportError, Unsupported
from archcalc.importers.models import Reference, need

NEEDED = "an archcalc op for it (archcalc/ops)"


@dataclass(frozen=True)
class T:
    """A feature tensor: the output of layer ``name``."""

    name: str


@dataclass(frozen=True)
class C:
    """An integer or float constant (an initializer or computed from shapes); ``of``: the tensor whose shape it came from."""

    value: Any
    of: T | None = None
    initializer: str | None = None


@dataclass(frozen=True)
class Shuffled:
    of: T
    groups: int
    transposed: bool = False


class _Unknown:
    pass


UNKNOWN = _Unknown()


def module_path(node_name: str) -> str:
    """``/stage4/stage4.3/branch2/branch2.0/Conv`` → ``stage4.3.branch2.0`` (each scope names
    a module relative to its parent, and a child's name extends its container's)."""
    parts: list[str] = []
    for component in node_name.strip("/").split("/")[:-1]:
        if parts and component.startswith(parts[-1] + "."):
            parts[-1] = component
        else:
            parts.append(component)
    return ".".join(parts)


class OnnxWalker:
    def __init__(self, model, label: str):
        self.np = need("numpy", extra="import")
        numpy_helper = need("onnx.numpy_helper", extra="import")
        self.label = label
        self.model = model
        self.initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.shapes, self.origin = _shapes(model)
        self.refs: dict[str, Any] = {name: C(value, initializer=name) for name, value in self.initializers.items()}
        self.unsupported = Unsupported()
        self.used: set[str] = set()
        inputs = [i for i in model.graph.input if i.name not in self.initializers]
        if len(inputs) != 1:
            raise ModelImportError(f"{label}: {len(inputs)} graph inputs; archcalc needs a network with one input")
        shape = self.shapes.get(inputs[0].name)
        if not shape or len(shape) != 4 or any(not isinstance(d, int) or d < 1 for d in shape):
            raise ModelImportError(f"{label}: input {inputs[0].name} has shape {shape}; archcalc needs a fixed (N, C, H, W)")
        self.graph = Graph(input_shape=tuple(shape[1:]))
        self.refs[inputs[0].name] = T(INPUT)
        self.value_of = {INPUT: inputs[0].name}  # layer → the ONNX value it produces (for its shape)

    def run(self) -> Graph:
        from archcalc.importers import onnx_ops

        for node in self.model.graph.node:
            args = [self.refs.get(name, UNKNOWN) if name else None for name in node.input]
            if any(a is UNKNOWN for a in args):  # downstream of an unknown: reported only if unknown itself
                known = node.op_type in onnx_ops.RULES or node.op_type in onnx_ops.CONSTANT_OPS
                results = [UNKNOWN] * len(node.output) if known else self.unknown(node, f"ONNX {node.op_type}")
            else:
                results = onnx_ops.convert(self, node, args)
            for name, result in zip(node.output, results, strict=False):
                self.refs[name] = result
                if isinstance(result, T):
                    self.value_of.setdefault(result.name, name)
        outputs = [self.refs.get(o.name) for o in self.model.graph.output]
        if not self.unsupported:
            if not all(isinstance(o, T) for o in outputs):
                self.unsupported.add("(output)", "an output that is not a feature tensor", "tensor outputs")
            self.graph.outputs = [o.name for o in outputs if isinstance(o, T)]
        self.unsupported.raise_if_any(self.label)
        return self.graph

    def shape(self, name: str) -> tuple:
        return tuple(self.shapes.get(name) or ())

    def shape_of(self, t: T) -> tuple:
        return self.shape(self.value_of.get(t.name, ""))

    def layer(self, node, kind: str, fields: dict, inputs: list[T], name: str | None = None) -> T:
        where = module_path(node.name) if node.name.startswith("/") else ""
        base = name or (f"{where}.{node.op_type.lower()}" if where else (node.name or node.op_type.lower()))
        return T(self.graph.add(base.replace("/", "."), kind, fields, [t.name for t in inputs]))

    def unknown(self, node, what: str, needed: str = NEEDED) -> list:
        self.unsupported.add(module_path(node.name) if node.name.startswith("/") else node.name, what, needed)
        return [UNKNOWN] * len(node.output)


def _infer(model) -> dict[str, list]:
    onnx = need("onnx", extra="import")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as error:  # noqa: BLE001 — ONNX's own checker's words, in one line
        raise ModelImportError(f"ONNX shape inference fails: {str(error).splitlines()[0]}") from None
    out = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = value.type.tensor_type.shape.dim
        out[value.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]
    return out


def _shapes(model) -> tuple[dict[str, list], dict[str, str]]:
    """Every value's shape, and for each value computed from a tensor's Shape, that tensor.

    ONNX's inference stops at a Reshape or Slice whose target is computed (ShuffleNet's
    chunk: Shape → Gather → Div → Mul → Slice): here such arithmetic is folded into
    Constants, with numpy, and inference runs again, until nothing more folds."""
    import copy

    from onnx import numpy_helper

    from archcalc.importers.onnx_constants import CONSTANT_OPS, _numpy
    from archcalc.importers.onnx_ops import attrs

    np = need("numpy", extra="import")
    model, origin = copy.deepcopy(model), {}
    small = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if np.prod(i.dims) <= 64}
    for _ in range(len(model.graph.node) + 1):
        shapes, known, folded = _infer(model), dict(small), False
        for index, node in enumerate(model.graph.node):
            value, source = _fold(np, node, known, shapes, origin, CONSTANT_OPS, _numpy, attrs)
            if value is None:
                continue
            known[node.output[0]] = value
            if source:
                origin[node.output[0]] = source
            if node.op_type != "Constant":
                model.graph.node[index].CopyFrom(_constant(node, value))
                folded = True
        if not folded:
            return shapes, origin
    return shapes, origin


def _fold(np, node, known, shapes, origin, constant_ops, evaluate, attrs):
    """The constant value of ``node``'s single output, and the tensor whose shape it derives from."""
    from onnx import numpy_helper

    if node.op_type == "Constant" and "value" in attrs(node):
        return numpy_helper.to_array(attrs(node)["value"]), None
    if node.op_type == "Shape":
        dims = shapes.get(node.input[0]) or []
        if dims and all(isinstance(d, int) and d > 0 for d in dims):
            a = attrs(node)
            return np.array(dims[a.get("start", 0) : a.get("end", len(dims))], dtype="int64"), node.input[0]
        return None, None
    inputs = [name for name in node.input if name]
    if node.op_type not in constant_ops or len(node.output) != 1 or not inputs or not all(n in known for n in inputs):
        return None, None
    try:
        value = evaluate(np, node.op_type, [known[n] if n else None for n in node.input], attrs(node))
    except (ValueError, IndexError, TypeError, KeyError):
        return None, None
    source = next((origin[n] for n in inputs if n in origin), None)
    return (None, None) if value is None else (np.asarray(value), source)


def _set_input(model, shape: tuple[int, ...], label: str) -> None:
    """``--input C,H,W`` on an ONNX file: each of the input's dims that the file leaves
    symbolic (exported with dynamic axes) takes the given size — a symbolic batch takes 1 —
    and shape inference then runs from there. A dim the file fixes cannot change: the
    exporter baked the sizes after it into the graph (a Reshape's target), so a different
    one is an error, not a guess."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    dims = inputs[0].type.tensor_type.shape.dim if len(inputs) == 1 else []
    if len(dims) != 1 + len(shape):  # never ignored: the size asked for would not be the one counted
        found = f"{len(inputs)} inputs" if len(inputs) != 1 else f"an input of {len(dims)} dims"
        asked = ",".join(map(str, shape))
        raise ModelImportError(f"{label}: --input {asked}: expected one input of {1 + len(shape)} dims (N, then these), found {found}")
    fixed = []
    for dim, size, axis in zip(dims, (None, *shape), "NCHW"[: len(dims)], strict=True):
        if dim.HasField("dim_value"):
            if size is not None and dim.dim_value != size:
                fixed.append(f"{axis} = {dim.dim_value}")
        else:
            dim.dim_value = 1 if size is None else size  # clears dim_param: the two are a oneof
    if fixed:
        raise ModelImportError(
            f"{label}: --input {','.join(map(str, shape))}: the file fixes its input's {', '.join(fixed)} "
            "(export it with dynamic axes, e.g. torch.onnx.export(..., dynamic_axes={'input': {2: 'H', 3: 'W'}}), to change them)"
        )
    del model.graph.value_info[:]  # inferred at the file's own size: inference starts afresh


def _constant(node, value):
    from onnx import helper, numpy_helper

    return helper.make_node("Constant", [], [node.output[0]], name=node.name, value=numpy_helper.from_array(value))


def import_onnx(ref: Reference, input_shape, flat: bool):
    onnx = need("onnx", extra="import")
    path = Path(ref.target)
    if not path.is_file():
        raise ModelImportError(f"{ref.text}: no such file")
    try:
        model = onnx.load(str(path))
    except Exception as error:  # noqa: BLE001 — a corrupt file: onnx's own words
        raise ModelImportError(
            f"{ref.text}: not a readable ONNX file ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
        ) from None
    if input_shape is not None:
        _set_input(model, tuple(input_shape), ref.text)
    graph = OnnxWalker(model, ref.text).run()
    from archcalc.importers import Imported, _source
    from archcalc.importers.emit import spec_text

    text = spec_text(graph, f"{path.name} (imported)", _source(ref), {}, flat)
    return Imported(text, graph, ref.text)
