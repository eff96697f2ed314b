"""PyTorch's functions and tensor methods → archcalc ops (torch_map.py does the modules).

Layers made by a function are named ``<module path>.<function>`` after the module whose
forward() calls it (``layer1.0.add``); one that applies a model's own tensors (timm's
BatchNormAct2d calls F.batch_norm with its running statistics) is named after the module
holding them, so the spec-built model's state_dict keys are the model's.
"""

from __future__ import annotations

import math
import operator

import torch
import torch.fx as fx
import torch.nn.functional as F

from archcalc.importers.fx_front import Walker, scope
from archcalc.importers.refs import Param, Parts, Shuffle, Size, Tensor

NEEDED = "an archcalc op for it (archcalc/ops)"


def _name(node: fx.Node, short: str) -> str:
    where = scope(node)
    stack = list((node.meta.get("nn_module_stack") or {}).values())
    cls = stack[-1][1] if stack and isinstance(stack[-1], tuple) and len(stack[-1]) > 1 else None
    module = getattr(cls, "__module__", "") or ""
    if module.startswith("torch.nn.modules") and not module.endswith("container"):  # an ATen op of a torch.nn module (torch.export)
        return where
    return f"{where}.{short}" if where else short


def _arg(node_args: tuple, kwargs: dict, index: int, key: str, default=None):
    if key in kwargs:
        return kwargs[key]
    return node_args[index] if len(node_args) > index else default


def _activation(kind: str, fields=lambda a, k: {}):
    def rule(w: Walker, node, args, kwargs):
        x = args[0]
        if not isinstance(x, Tensor):
            return w.unknown(node, f"{kind} of a {type(x).__name__}", "a tensor input")
        return w.layer(_name(node, kind), kind, fields(args, kwargs), [x])

    return rule


def _dropout(w, node, args, kwargs):
    return w.layer(_name(node, "dropout"), "dropout", {"p": float(_arg(args, kwargs, 1, "p", 0.5))}, [args[0]])


def flatten_like(w: Walker, node: fx.Node, x, name: str | None = None):
    """view, reshape, flatten: a flatten of a map, channel shuffle's views, or nothing at all."""
    out, before = w.shape(node), _shape_of(w, node)
    if isinstance(x, Shuffle):
        if x.transposed and len(out) == 4:
            return w.layer(_name(node, "channel_shuffle"), "channel_shuffle", {"groups": x.groups}, [x.of])
        return w.unknown(node, "a view of a 5-d tensor", "channel shuffle's view, transpose(1, 2), view")
    if isinstance(x, Param):  # timm's gamma.reshape(1, -1, 1, 1): still the model's tensor
        return x
    if not isinstance(x, Tensor):
        return w.unknown(node, f"a view of a {type(x).__name__}", "a tensor input")
    if out == before:
        return x
    if len(out) == 2 and len(before) == 4 and out[1] == math.prod(before[1:]):
        if x.layout == "chw" or before[1:3] == (1, 1):
            return w.layer(name or _name(node, "flatten"), "flatten", {}, [x], layout="flat")
    if x.layout == "chw" and len(before) == 4 and len(out) == 5 and out[3:] == before[2:] and out[1] * out[2] == before[1]:
        return Shuffle(x, out[1])
    return w.unknown(node, f"a reshape {tuple(before[1:])} → {tuple(out[1:])}", "a flatten of a map, or channel shuffle's views")


def _view(w, node, args, kwargs):
    return flatten_like(w, node, args[0])


def _shape_of(w: Walker, node: fx.Node) -> tuple:
    first = node.args[0] if node.args else None
    return w.shape(first) if isinstance(first, fx.Node) else ()


def _transpose(w, node, args, kwargs):
    x = args[0]
    dims = tuple(a % 5 for a in args[1:3]) if len(args) >= 3 else ()
    if isinstance(x, Shuffle) and not x.transposed and sorted(dims) == [1, 2]:
        return Shuffle(x.of, x.groups, transposed=True)
    return w.unknown(node, "a transpose", "channel shuffle's transpose(1, 2) of a grouped view")


def _permute(w, node, args, kwargs):
    x = args[0]
    dims = args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:]
    dims = tuple(int(d) % 4 for d in dims)
    if isinstance(x, Tensor) and x.layout == "chw" and dims == (0, 2, 3, 1):
        return Tensor(x.name, "hwc")
    if isinstance(x, Tensor) and x.layout == "hwc" and dims == (0, 3, 1, 2):
        return Tensor(x.name, "chw")
    return w.unknown(node, f"a permute {dims}", "channels-last and back (0, 2, 3, 1) / (0, 3, 1, 2)")


def _passthrough(w, node, args, kwargs):
    return args[0]


def _cat(w, node, args, kwargs):
    tensors, dim = _arg(args, kwargs, 0, "tensors"), _arg(args, kwargs, 1, "dim", 0)
    if not all(isinstance(t, Tensor) for t in tensors) or len({t.layout for t in tensors}) != 1:
        return w.unknown(node, "torch.cat of non-tensors or of mixed layouts", "tensors of one layout")
    if len(tensors) == 1:  # DenseNet's first layer concatenates a list of one: the tensor itself
        return tensors[0]
    layout, rank = tensors[0].layout, len(w.shape(node))
    if (layout == "chw" and dim % rank == 1) or (layout == "hwc" and dim % rank == 3) or (layout == "flat" and dim % rank == 1):
        return w.layer(_name(node, "cat"), "concat", {}, list(tensors))
    return w.unknown(node, f"torch.cat along dim {dim} of a {layout} tensor", "a concatenation along the channels")


def _binary(kind: str):
    def rule(w: Walker, node, args, kwargs):
        a, b = args[0], _arg(args, kwargs, 1, "other")
        if kwargs.get("alpha", 1) != 1:
            return w.unknown(node, f"{kind} with alpha", "a plain sum")
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            if a.layout != b.layout:
                return w.unknown(node, f"{kind} of a {a.layout} and a {b.layout} tensor", "tensors of one layout")
            return w.layer(_name(node, kind), kind, {}, [a, b])
        if kind == "mul":
            return _scaled(w, node, a, b)
        return w.unknown(node, f"{kind} of a tensor and a {type(b).__name__ if not isinstance(a, Tensor) else type(a).__name__}", NEEDED)

    return rule


def _scaled(w: Walker, node, a, b):
    """x * constant (a `scale` layer), or x * the model's own tensor of one value per channel
    (a layer scale: ConvNeXt's layer_scale, timm's gamma)."""
    x, other = (a, b) if isinstance(a, Tensor) else (b, a)
    if isinstance(other, (int, float)) and not isinstance(other, bool) and other > 0:
        return w.layer(_name(node, "mul"), "scale", {"factor": float(other)}, [x])
    if isinstance(other, Param) and isinstance(x, Tensor):
        return _layer_scale(w, node, x, other)
    return w.unknown(node, f"a product of a tensor and a {type(other).__name__}", "a positive constant or a per-channel tensor")


def _layer_scale(w: Walker, node, x: Tensor, p: Param):
    tensor = w.module.get_parameter(p.key) if p.key in dict(w.module.named_parameters()) else None
    channels = w.shape(node)[1 if x.layout != "hwc" else -1]
    if tensor is None or tensor.numel() != channels:
        return w.unknown(node, f"a product with the tensor {p.key}", "one learnt factor per channel (layerscale)")
    w.use(p)
    out = w.layer(p.key, "layerscale", {"init": 1.0}, [x])
    w.graph.renames[f"{out.name}.weight"] = p.key
    return out


def _truediv(w, node, args, kwargs):
    x, d = args[0], args[1]
    if isinstance(x, Tensor) and isinstance(d, (int, float)) and not isinstance(d, bool) and d > 0:
        return w.layer(_name(node, "div"), "scale", {"factor": 1.0 / d}, [x])
    return w.unknown(node, "a division", "a division of a tensor by a positive constant")


def resize_fields(size, scale, mode, align_corners) -> dict | str:
    if mode not in ("nearest", "bilinear"):
        return f"interpolation mode {mode!r}"
    fields: dict = {"mode": mode}
    if size is not None:
        fields["size"] = [int(s) for s in size] if isinstance(size, (tuple, list)) else int(size)
    elif scale is not None:
        scales = tuple(scale) if isinstance(scale, (tuple, list)) else (scale,)
        if not all(float(s).is_integer() for s in scales):
            return f"a scale factor {scale} that is not whole"
        fields["scale"] = int(scales[0]) if len(set(scales)) == 1 else [int(s) for s in scales]
    if mode == "bilinear" and align_corners is not None:
        fields["align_corners"] = bool(align_corners)
    return fields


def _interpolate(w, node, args, kwargs):
    x = args[0]
    size, scale = _arg(args, kwargs, 1, "size"), _arg(args, kwargs, 2, "scale_factor")
    mode, align = _arg(args, kwargs, 3, "mode", "nearest"), _arg(args, kwargs, 4, "align_corners")
    if isinstance(size, Size) or (isinstance(size, (tuple, list)) and any(isinstance(s, Size) for s in size)):
        source = size if isinstance(size, Size) else next(s for s in size if isinstance(s, Size))
        if w.shape(node)[2:] == _spatial(w, source.of):
            fields = resize_fields(None, None, mode, align)
            if isinstance(fields, str):
                return w.unknown(node, fields, "nearest or bilinear")
            return w.layer(_name(node, "interpolate"), "upsample", fields, [x, source.of])
        return w.unknown(node, "an interpolate to a size computed from a shape", "the size of another tensor")
    fields = resize_fields(size, scale, mode, align)
    if isinstance(fields, str):
        return w.unknown(node, fields, "nearest or bilinear, a whole scale or a size")
    return w.layer(_name(node, "interpolate"), "upsample", fields, [x])


def _spatial(w: Walker, t: Tensor) -> tuple:
    if t.name == "input":
        return tuple(w.graph.input_shape[1:])
    for node, ref in w.refs.items():
        if isinstance(ref, Tensor) and ref.name == t.name:
            return w.shape(node)[2:]
    return ()


def _mean(w, node, args, kwargs):
    x, dims = args[0], _arg(args, kwargs, 1, "dim")
    keep = _arg(args, kwargs, 2, "keepdim", False)
    dims = tuple(sorted(d % 4 for d in (dims if isinstance(dims, (tuple, list)) else (dims,)))) if dims is not None else ()
    if isinstance(x, Tensor) and x.layout == "chw" and dims == (2, 3):
        pooled = w.layer(_name(node, "mean"), "globalavgpool", {}, [x])
        return pooled if keep else w.layer(_name(node, "flatten"), "flatten", {}, [pooled], layout="flat")
    return w.unknown(node, f"a mean over {dims}", "a mean over H and W")


def _pool_function(kind: str):
    def rule(w, node, args, kwargs):
        x = args[0]
        if kind.startswith("adaptive"):
            size = _arg(args, kwargs, 1, "output_size")
            return w.layer(_name(node, kind), kind, {"out": _pair(size)}, [x])
        kernel = _arg(args, kwargs, 1, "kernel_size")
        stride = _arg(args, kwargs, 2, "stride") or kernel
        fields = {"kernel": _pair(kernel), "stride": _pair(stride), "padding": _pair(_arg(args, kwargs, 3, "padding", 0))}
        if kind == "maxpool":
            fields |= {
                "dilation": _pair(_arg(args, kwargs, 4, "dilation", 1)),
                "ceil_mode": bool(_arg(args, kwargs, 5, "ceil_mode", False)),
            }
        else:
            fields |= {"ceil_mode": bool(_arg(args, kwargs, 4, "ceil_mode", False))}
            fields["count_include_pad"] = bool(_arg(args, kwargs, 5, "count_include_pad", True))
        return w.layer(_name(node, kind), kind, fields, [x])

    return rule


def _pair(value):
    if isinstance(value, (tuple, list)):
        return int(value[0]) if len(set(value)) == 1 else [int(v) for v in value]
    return int(value)


def _chunk(w, node, args, kwargs):
    x, chunks, dim = args[0], _arg(args, kwargs, 1, "chunks"), _arg(args, kwargs, 2, "dim", 0)
    if isinstance(x, Tensor) and x.layout in ("chw", "flat") and dim % len(_shape_of(w, node)) == 1:
        return Parts(x, "chunk", int(chunks))
    return w.unknown(node, f"a chunk along dim {dim}", "a chunk along the channels")


def _split(w, node, args, kwargs):
    x, sizes, dim = args[0], _arg(args, kwargs, 1, "split_size_or_sections"), _arg(args, kwargs, 2, "dim", 0)
    channels = _shape_of(w, node)[1] if _shape_of(w, node) else 0
    if isinstance(x, Tensor) and x.layout in ("chw", "flat") and dim % len(_shape_of(w, node)) == 1:
        if isinstance(sizes, int):
            sizes = [min(sizes, channels - i) for i in range(0, channels, sizes)]
        return Parts(x, "split", [int(s) for s in sizes])
    return w.unknown(node, f"a split along dim {dim}", "a split along the channels")


def _getitem(w, node, args, kwargs):
    x, index = args
    if isinstance(x, Parts):
        if x.kind == "chunk":
            return w.layer(_name(node, "chunk"), "chunk", {"chunks": x.spec, "index": int(index)}, [x.of])
        start = sum(x.spec[:index])
        return w.layer(_name(node, "split"), "slice", {"start": start, "stop": start + x.spec[index]}, [x.of])
    if isinstance(x, (tuple, list)):
        return x[index]
    full = slice(None)
    if isinstance(x, Tensor) and isinstance(index, tuple) and len(index) >= 2 and index[0] == full and all(i == full for i in index[2:]):
        part = index[1]  # x[:, a:b] or x[:, a:b, :, :] (GhostNet)
        if isinstance(part, slice) and part.step in (None, 1):
            channels = _shape_of(w, node)[1]
            start, stop, _ = part.indices(channels)
            return w.layer(_name(node, "slice"), "slice", {"start": start, "stop": stop}, [x])
    return w.unknown(node, "an indexing of a tensor", "a slice of the channels x[:, a:b]")


def _pad(w, node, args, kwargs):
    x, pad = args[0], _arg(args, kwargs, 1, "pad")
    mode, value = _arg(args, kwargs, 2, "mode", "constant"), _arg(args, kwargs, 3, "value", None)
    if mode != "constant" or value not in (None, 0, 0.0) or len(pad) != 4 or any(isinstance(p, Size) or p < 0 for p in pad):
        return w.unknown(node, f"F.pad mode={mode!r} {pad}", "zero padding by constant, non-negative amounts")
    left, right, top, bottom = (int(p) for p in pad)
    return w.layer(_name(node, "pad"), "pad", {"padding": [top, bottom, left, right]}, [x])


from archcalc.importers import torch_weighted  # noqa: E402 — the rules with the model's own tensors

_ACT = {
    "relu": _activation("relu"),
    "relu6": _activation("relu6"),
    "silu": _activation("silu"),
    "gelu": _activation("gelu", lambda a, k: {"approximate": k.get("approximate", "none")}),
    "hardswish": _activation("hardswish"),
    "hardsigmoid": _activation("hardsigmoid"),
    "mish": _activation("mish"),
    "sigmoid": _activation("sigmoid"),
    "tanh": _activation("tanh"),
    "leakyrelu": _activation("leakyrelu", lambda a, k: {"slope": float(_arg(a, k, 1, "negative_slope", 0.01))}),
    "elu": _activation("elu", lambda a, k: {"alpha": float(_arg(a, k, 1, "alpha", 1.0))}),
    "hardtanh": _activation(
        "hardtanh", lambda a, k: {"min": float(_arg(a, k, 1, "min_val", -1.0)), "max": float(_arg(a, k, 2, "max_val", 1.0))}
    ),
}

FUNCTIONS = {
    F.relu: _ACT["relu"], torch.relu: _ACT["relu"], F.relu_: _ACT["relu"], torch.relu_: _ACT["relu"],
    F.relu6: _ACT["relu6"], F.silu: _ACT["silu"], F.gelu: _ACT["gelu"], F.hardswish: _ACT["hardswish"],
    F.hardsigmoid: _ACT["hardsigmoid"], F.mish: _ACT["mish"], torch.sigmoid: _ACT["sigmoid"], F.sigmoid: _ACT["sigmoid"],
    torch.tanh: _ACT["tanh"], F.tanh: _ACT["tanh"], F.leaky_relu: _ACT["leakyrelu"], F.elu: _ACT["elu"], F.hardtanh: _ACT["hardtanh"],
    F.dropout: _dropout, torch.flatten: _view, torch.reshape: _view,
    torch.cat: _cat, torch.concat: _cat, operator.add: _binary("add"), operator.iadd: _binary("add"), torch.add: _binary("add"),
    operator.mul: _binary("mul"), operator.imul: _binary("mul"), torch.mul: _binary("mul"), operator.truediv: _truediv,
    F.interpolate: _interpolate, torch.transpose: _transpose, torch.permute: _permute, torch.chunk: _chunk, torch.split: _split,
    operator.getitem: _getitem, F.pad: _pad, torch.mean: _mean,
    F.adaptive_avg_pool2d: _pool_function("adaptiveavgpool"), F.adaptive_max_pool2d: _pool_function("adaptivemaxpool"),
    F.avg_pool2d: _pool_function("avgpool"), F.max_pool2d: _pool_function("maxpool"),
    F.batch_norm: torch_weighted.batch_norm, F.layer_norm: torch_weighted.layer_norm,
    F.linear: torch_weighted.linear, F.conv2d: torch_weighted.conv2d,
}  # fmt: skip

METHODS = {
    "relu": _ACT["relu"], "relu_": _ACT["relu"], "sigmoid": _ACT["sigmoid"], "sigmoid_": _ACT["sigmoid"], "tanh": _ACT["tanh"],
    "flatten": _view, "view": _view, "reshape": _view, "add": _binary("add"), "add_": _binary("add"),
    "mul": _binary("mul"), "mul_": _binary("mul"), "div": _truediv, "transpose": _transpose, "permute": _permute,
    "contiguous": _passthrough, "clone": _passthrough, "chunk": _chunk, "split": _split, "mean": _mean,
}  # fmt: skip


TENSOR_FACTS = ("shape", "ndim", "dtype", "device", "is_cuda")


def _aten() -> dict:
    from archcalc.importers.torch_aten import ATEN

    return ATEN


def has_rule(node: fx.Node) -> bool:
    """Whether the call is mapped, or is Python arithmetic (x.ndim == 4, torch._assert) that
    follows whatever its inputs are: downstream of an unknown value, neither is reported again."""
    if node.op == "call_method":
        return node.target in METHODS or node.target in ("size", "dim")
    if (
        getattr(node.target, "__module__", None) in ("_operator", "operator", "builtins")
        or getattr(node.target, "__name__", "") == "_assert"
    ):
        return True
    return (
        node.target in FUNCTIONS
        or node.target in _aten()
        or node.target is getattr
        or (isinstance(node.target, type) and issubclass(node.target, tuple))
    )


def convert_call(w: Walker, node: fx.Node, args: tuple, kwargs: dict):
    if node.op == "call_method":
        if node.target in ("size", "dim"):
            return Size(args[0]) if isinstance(args[0], Tensor) else w.unknown(node, "the size of a non-tensor", "a tensor")
        rule = METHODS.get(node.target)
        what = f"method Tensor.{node.target}"
    else:
        if node.target is getattr and len(args) > 1 and args[1] in TENSOR_FACTS and isinstance(args[0], Tensor):
            return Size(args[0])  # x.shape, x.ndim (timm's asserts), x.dtype: facts, not layers
        if isinstance(node.target, type) and issubclass(node.target, tuple) and hasattr(node.target, "_fields"):
            return tuple(args) + tuple(kwargs[f] for f in node.target._fields[len(args) :])  # GoogLeNetOutputs(logits, aux2, aux1)
        rule = FUNCTIONS.get(node.target) or _aten().get(node.target)
        what = f"function {getattr(node.target, '__module__', None) or 'torch'}.{getattr(node.target, '__name__', node.target)}"
    if rule is None:
        return w.unknown(node, what, NEEDED)
    return rule(w, node, args, kwargs)
