"""ONNX operators → archcalc ops, one rule each (onnx_front.py walks the graph).

A rule gets the walker, the node and its inputs as refs — ``T`` (a feature tensor), ``C``
(a constant: an initializer or integer arithmetic on shapes), ``Shuffled`` (channel
shuffle's Reshape–Transpose–Reshape in progress) — and returns one ref per output.
"""

from __future__ import annotations

from archcalc.importers.onnx_constants import CONSTANT_OPS, _evaluate
from archcalc.importers.onnx_front import C, OnnxWalker, Shuffled, T, module_path

WEIGHTED = {"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "PRelu"}
__all__ = ["CONSTANT_OPS", "RULES", "WEIGHTED", "attrs", "convert"]


def attrs(node) -> dict:
    from onnx import helper

    out = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        out[attribute.name] = value.decode() if isinstance(value, bytes) else value
    return out


def pair(values) -> int | list[int]:
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def _sym_pads(pads) -> tuple[int, int] | None:
    """ONNX pads [top, left, bottom, right] → (h, w) when symmetric, else None."""
    if not pads:
        return (0, 0)
    top, left, bottom, right = (int(p) for p in pads)
    return (top, left) if (top, left) == (bottom, right) else None


def _name(w: OnnxWalker, node, weight: C | None) -> str | None:
    """The module that holds the weight (``layer1.0.conv1.weight`` → ``layer1.0.conv1``), else the node's scope."""
    if weight is not None and weight.initializer and weight.initializer.endswith(".weight"):
        return weight.initializer.removesuffix(".weight")
    return module_path(node.name) or None


def _use(w: OnnxWalker, *refs) -> None:
    w.used.update(r.initializer for r in refs if isinstance(r, C) and r.initializer)


def _held(w: OnnxWalker, layer: T, **tensors: C | None) -> T:
    """Record which initializer each of the layer's torch tensors is (``Graph.renames``:
    spec key → the file's name), so the spec-built module can take the file's weights."""
    for role, ref in tensors.items():
        if isinstance(ref, C) and ref.initializer:
            w.graph.renames[f"{layer.name}.{role}"] = ref.initializer
    return layer


def conv(w: OnnxWalker, node, args, a):
    x, weight, bias = (args + [None])[:3]
    if not isinstance(x, T) or not isinstance(weight, C) or a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return w.unknown(node, "Conv without a constant weight or with auto_pad", "a Conv with explicit pads and an initializer weight")
    pads = _sym_pads(a.get("pads"))
    if pads is None:
        return w.unknown(node, f"Conv with asymmetric pads {a.get('pads')}", "symmetric padding")
    kernel = weight.value.shape[2:]
    fields = {"out": int(weight.value.shape[0]), "kernel": pair(kernel), "stride": pair(a.get("strides", [1, 1])), "padding": pair(pads)}
    fields |= {"dilation": pair(a.get("dilations", [1, 1])), "groups": int(a.get("group", 1)), "bias": bias is not None}
    _use(w, weight, bias)
    return [_held(w, w.layer(node, "conv", fields, [x], _name(w, node, weight)), weight=weight, bias=bias)]


def conv_transpose(w: OnnxWalker, node, args, a):
    x, weight, bias = (args + [None])[:3]
    pads = _sym_pads(a.get("pads"))
    if not isinstance(x, T) or not isinstance(weight, C) or pads is None or "output_shape" in a:
        return w.unknown(node, "ConvTranspose with output_shape, asymmetric pads or no constant weight", "explicit symmetric pads")
    groups = int(a.get("group", 1))
    fields = {"out": int(weight.value.shape[1]) * groups, "kernel": pair(weight.value.shape[2:]), "stride": pair(a.get("strides", [1, 1]))}
    fields |= {"padding": pair(pads), "output_padding": pair(a.get("output_padding", [0, 0])), "dilation": pair(a.get("dilations", [1, 1]))}
    fields |= {"groups": groups, "bias": bias is not None}
    _use(w, weight, bias)
    return [_held(w, w.layer(node, "convtranspose", fields, [x], _name(w, node, weight)), weight=weight, bias=bias)]


def gemm(w: OnnxWalker, node, args, a):
    x, weight, bias = (args + [None])[:3]
    ok = isinstance(x, T) and isinstance(weight, C) and len(w.shape(node.input[0])) == 2 and not a.get("transA", 0)
    if not ok or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        return w.unknown(node, "Gemm other than x·Wᵀ + b on a flat input", "a Linear layer: transA=0, alpha=beta=1")
    out = weight.value.shape[0] if a.get("transB", 0) else weight.value.shape[1]
    _use(w, weight, bias)
    layer = w.layer(node, "linear", {"out": int(out), "bias": bias is not None}, [x], _name(w, node, weight))
    return [_held(w, layer, weight=weight, bias=bias)]


def matmul(w: OnnxWalker, node, args, a):
    x, weight = args
    if not isinstance(x, T) or not isinstance(weight, C) or weight.value.ndim != 2 or len(w.shape(node.input[0])) != 2:
        return w.unknown(node, "MatMul other than a flat input times a constant matrix", "a Linear layer on a flat input")
    _use(w, weight)
    return [
        _held(w, w.layer(node, "linear", {"out": int(weight.value.shape[1]), "bias": False}, [x], _name(w, node, weight)), weight=weight)
    ]


def batch_norm(w: OnnxWalker, node, args, a):
    x, scale, bias, mean, var = args[:5]
    if not isinstance(x, T) or not all(isinstance(c, C) for c in (scale, bias, mean, var)) or len(node.output) > 1:
        return w.unknown(node, "BatchNormalization in training mode or without constant statistics", "inference statistics")
    _use(w, scale, bias, mean, var)
    layer = w.layer(node, "bn", {"eps": float(a.get("epsilon", 1e-5))}, [x], _name(w, node, scale))
    return [_held(w, layer, weight=scale, bias=bias, running_mean=mean, running_var=var)]


def pool(kind: str):
    def rule(w: OnnxWalker, node, args, a):
        x = args[0]
        pads = _sym_pads(a.get("pads"))
        if not isinstance(x, T) or pads is None or a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or len(node.output) > 1:
            return w.unknown(node, f"{node.op_type} with asymmetric pads, auto_pad or indices", "explicit symmetric pads")
        kernel = a["kernel_shape"]
        fields = {
            "kernel": pair(kernel),
            "stride": pair(a.get("strides", kernel)),
            "padding": pair(pads),
            "ceil_mode": bool(a.get("ceil_mode", 0)),
        }
        if kind == "maxpool":
            fields["dilation"] = pair(a.get("dilations", [1, 1]))
        else:
            fields["count_include_pad"] = bool(a.get("count_include_pad", 0))
        return [w.layer(node, kind, fields, [x])]

    return rule


def global_pool(kind: str):
    def rule(w, node, args, a):
        fields = {} if kind == "globalavgpool" else {"out": 1}
        return [w.layer(node, kind, fields, [args[0]])]

    return rule


def reduce_mean(w: OnnxWalker, node, args, a):
    x = args[0]
    axes = a.get("axes") if "axes" in a else (args[1].value.tolist() if len(args) > 1 and isinstance(args[1], C) else None)
    if not isinstance(x, T) or axes is None or sorted(int(v) % 4 for v in axes) != [2, 3]:
        return w.unknown(node, f"ReduceMean over axes {axes}", "a mean over H and W")
    pooled = w.layer(node, "globalavgpool", {}, [x])
    return [pooled if a.get("keepdims", 1) else w.layer(node, "flatten", {}, [pooled])]


def activation(kind: str, fields=lambda a, args: {}):
    def rule(w, node, args, a):
        if not isinstance(args[0], T):
            return w.unknown(node, f"{node.op_type} of a constant", "a tensor input")
        return [w.layer(node, kind, fields(a, args), [args[0]])]

    return rule


def clip(w: OnnxWalker, node, args, a):
    low = float(args[1].value) if len(args) > 1 and isinstance(args[1], C) else a.get("min", float("-inf"))
    high = float(args[2].value) if len(args) > 2 and isinstance(args[2], C) else a.get("max", float("inf"))
    if (low, high) == (0.0, 6.0):
        return [w.layer(node, "relu6", {}, [args[0]])]
    if (low, high) == (0.0, float("inf")):
        return [w.layer(node, "relu", {}, [args[0]])]
    return [w.layer(node, "hardtanh", {"min": low, "max": high}, [args[0]])]


def hard_sigmoid(w: OnnxWalker, node, args, a):
    if abs(a.get("alpha", 0.2) - 1 / 6) > 1e-6 or a.get("beta", 0.5) != 0.5:
        return w.unknown(node, f"HardSigmoid alpha={a.get('alpha', 0.2)}", "PyTorch's hardsigmoid: alpha = 1/6, beta = 1/2")
    return [w.layer(node, "hardsigmoid", {}, [args[0]])]


def prelu(w: OnnxWalker, node, args, a):
    x, slope = args
    if not isinstance(slope, C):
        return w.unknown(node, "PRelu with a computed slope", "a constant slope")
    _use(w, slope)
    name = slope.initializer.removesuffix(".weight") if slope.initializer and slope.initializer.endswith(".weight") else None
    return [w.layer(node, "prelu", {"per_channel": slope.value.size > 1}, [x], name)]


def binary(kind: str):
    def rule(w: OnnxWalker, node, args, a):
        left, right = args
        if isinstance(left, T) and isinstance(right, T):
            return [w.layer(node, kind, {}, [left, right])]
        x, c = (left, right) if isinstance(left, T) else (right, left)
        if kind == "add" and isinstance(x, T) and isinstance(c, C):
            return _bias(w, node, x, c)
        if kind == "mul" and isinstance(x, T) and isinstance(c, C) and c.value.size == 1 and float(c.value) > 0:
            return [w.layer(node, "scale", {"factor": float(c.value)}, [x])]
        return w.unknown(node, f"{node.op_type} of a tensor and a constant", "two tensors, or a positive scalar factor")

    return rule


def _bias(w: OnnxWalker, node, x: T, c: C):
    """MatMul then Add of a constant vector: the Linear layer's bias."""
    last = w.graph.layers[-1] if w.graph.layers else None
    if last is not None and last.name == x.name and last.kind == "linear" and not last.fields.get("bias") and c.value.ndim == 1:
        last.fields["bias"] = True
        _use(w, c)
        _held(w, x, bias=c)
        return [x]
    return w.unknown(node, "Add of a tensor and a constant", "a bias after a MatMul, or two tensors")


def div(w: OnnxWalker, node, args, a):
    x, c = args
    if isinstance(x, T) and isinstance(c, C) and c.value.size == 1 and float(c.value) > 0:
        return [w.layer(node, "scale", {"factor": 1.0 / float(c.value)}, [x])]
    return w.unknown(node, "Div", "a tensor divided by a positive constant")


def concat(w: OnnxWalker, node, args, a):
    tensors = [t for t in args if t is not None]
    if not all(isinstance(t, T) for t in tensors) or int(a.get("axis", 0)) % len(w.shape(node.output[0])) != 1:
        return w.unknown(node, f"Concat along axis {a.get('axis')}", "a concatenation along the channels")
    return [tensors[0]] if len(tensors) == 1 else [w.layer(node, "concat", {}, tensors)]


def flatten(w: OnnxWalker, node, args, a):
    x, before = args[0], w.shape(node.input[0])
    if isinstance(x, T) and int(a.get("axis", 1)) == 1:
        return [x] if len(before) == 2 else [w.layer(node, "flatten", {}, [x])]
    return w.unknown(node, f"Flatten at axis {a.get('axis')}", "a flatten after the batch axis")


def reshape(w: OnnxWalker, node, args, a):
    x, before, out = args[0], w.shape(node.input[0]), w.shape(node.output[0])
    if isinstance(x, Shuffled) and x.transposed and len(out) == 4:
        return [w.layer(node, "channel_shuffle", {"groups": x.groups}, [x.of], name=f"{module_path(node.name)}.channel_shuffle")]
    if isinstance(x, T) and out == before:
        return [x]
    if isinstance(x, T) and len(before) == 4 and len(out) == 2 and out[1] == before[1] * before[2] * before[3]:
        return [w.layer(node, "flatten", {}, [x])]
    if isinstance(x, T) and len(before) == 4 and len(out) == 5 and out[3:] == before[2:] and out[1] * out[2] == before[1]:
        return [Shuffled(x, int(out[1]))]
    return w.unknown(node, f"Reshape {before} → {out}", "a flatten of a map, or channel shuffle's Reshape–Transpose–Reshape")


def transpose(w: OnnxWalker, node, args, a):
    x = args[0]
    if isinstance(x, Shuffled) and list(a.get("perm", [])) == [0, 2, 1, 3, 4]:
        return [Shuffled(x.of, x.groups, transposed=True)]
    return w.unknown(node, f"Transpose {a.get('perm')}", "channel shuffle's transpose of a grouped Reshape")


def resize(w: OnnxWalker, node, args, a):
    x = args[0]
    scales, sizes = (args[2] if len(args) > 2 else None), (args[3] if len(args) > 3 else None)
    mode = {"nearest": "nearest", "linear": "bilinear"}.get(a.get("mode", "nearest"))
    transform = a.get("coordinate_transformation_mode", "half_pixel")
    if mode is None or not isinstance(x, T):
        return w.unknown(node, f"Resize mode {a.get('mode')}", "nearest or linear")
    fields: dict = {"mode": mode}
    if mode == "bilinear" and transform == "align_corners":
        fields["align_corners"] = True
    elif mode == "bilinear" and transform not in ("half_pixel", "pytorch_half_pixel"):
        return w.unknown(node, f"Resize with coordinate_transformation_mode={transform}", "half_pixel or align_corners")
    out = w.shape(node.output[0])
    if isinstance(sizes, C) and sizes.value is not None and sizes.value.size:
        if sizes.of is not None and list(out[2:]) == list(w.shape_of(sizes.of)[2:]):
            return [w.layer(node, "upsample", fields, [x, sizes.of])]
        return [w.layer(node, "upsample", fields | {"size": pair(out[2:])}, [x])]
    if isinstance(scales, C) and scales.value.size == 4 and all(float(s).is_integer() for s in scales.value[2:]):
        return [w.layer(node, "upsample", fields | {"scale": pair(scales.value[2:])}, [x])]
    return w.unknown(node, "Resize by a scale that is not whole", "whole scales or sizes")


def pad(w: OnnxWalker, node, args, a):
    x = args[0]
    pads = args[1].value.tolist() if len(args) > 1 and isinstance(args[1], C) else a.get("pads")
    value = float(args[2].value) if len(args) > 2 and isinstance(args[2], C) else float(a.get("value", 0.0))
    if a.get("mode", "constant") != "constant" or value != 0.0 or pads is None or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)):
        return w.unknown(node, f"Pad mode={a.get('mode', 'constant')} {pads}", "zero padding of H and W")
    return [w.layer(node, "pad", {"padding": [int(pads[2]), int(pads[6]), int(pads[3]), int(pads[7])]}, [x])]


def split(w: OnnxWalker, node, args, a):
    x, channels = args[0], w.shape(node.input[0])[1]
    sizes = args[1].value.tolist() if len(args) > 1 and isinstance(args[1], C) else a.get("split")
    if sizes is None:
        count = len(node.output)
        sizes = [-(-channels // count)] * count
        sizes[-1] = channels - sum(sizes[:-1])
    if not isinstance(x, T) or int(a.get("axis", 0)) % 4 != 1:
        return w.unknown(node, f"Split along axis {a.get('axis', 0)}", "a split of the channels")
    out, start = [], 0
    for size in sizes:
        out.append(w.layer(node, "slice", {"start": int(start), "stop": int(start + size)}, [x]))
        start += size
    return out


def slice_(w: OnnxWalker, node, args, a):
    x = args[0]
    values = [arg.value.tolist() if isinstance(arg, C) else None for arg in args[1:5]] + [None] * 4
    starts, ends, axes, steps = values[:4]
    channels = w.shape(node.input[0])[1] if w.shape(node.input[0]) else 0
    if not isinstance(x, T) or starts is None or ends is None or len(starts) != 1 or (axes or [0])[0] % 4 != 1 or (steps or [1])[0] != 1:
        return w.unknown(node, "Slice other than along the channels", "a slice of the channels")
    start, stop, _ = slice(int(starts[0]), int(ends[0])).indices(channels)
    return [w.layer(node, "slice", {"start": start, "stop": stop}, [x])]


def passthrough(w, node, args, a):
    return [args[0]] + [None] * (len(node.output) - 1)


def constant(w: OnnxWalker, node, args, a):
    from onnx import numpy_helper

    origin = w.origin.get(node.output[0])  # folded from a tensor's Shape: remember which tensor
    of = w.refs.get(origin) if origin else None
    if "value" in a:
        return [C(numpy_helper.to_array(a["value"]), of if isinstance(of, T) else None)]
    for key in ("value_int", "value_float", "value_ints", "value_floats"):
        if key in a:
            return [C(w.np.array(a[key]))]
    return w.unknown(node, "Constant of an unknown form", "a tensor or number")


def shape(w: OnnxWalker, node, args, a):
    x = args[0]
    if not isinstance(x, T):
        return w.unknown(node, "Shape of a non-tensor", "a tensor")
    dims = w.shape(node.input[0])
    return [C(w.np.array(dims[a.get("start", 0) : a.get("end", len(dims))], dtype="int64"), of=x)]


RULES = {
    "Conv": conv, "ConvTranspose": conv_transpose, "Gemm": gemm, "MatMul": matmul, "BatchNormalization": batch_norm,
    "MaxPool": pool("maxpool"), "AveragePool": pool("avgpool"), "GlobalAveragePool": global_pool("globalavgpool"),
    "GlobalMaxPool": global_pool("adaptivemaxpool"), "ReduceMean": reduce_mean,
    "Relu": activation("relu"), "Sigmoid": activation("sigmoid"), "Tanh": activation("tanh"), "HardSwish": activation("hardswish"),
    "Mish": activation("mish"), "Elu": activation("elu", lambda a, args: {"alpha": float(a.get("alpha", 1.0))}),
    "LeakyRelu": activation("leakyrelu", lambda a, args: {"slope": float(a.get("alpha", 0.01))}),
    "Gelu": activation("gelu", lambda a, args: {"approximate": a.get("approximate", "none")}),
    "Softmax": activation("softmax"), "Clip": clip, "HardSigmoid": hard_sigmoid, "PRelu": prelu,
    "Add": binary("add"), "Mul": binary("mul"), "Div": div, "Concat": concat, "Flatten": flatten, "Reshape": reshape,
    "Transpose": transpose, "Resize": resize, "Pad": pad, "Split": split, "Slice": slice_, "Dropout": passthrough,
    "Identity": passthrough, "Constant": constant, "Shape": shape,
}  # fmt: skip


def convert(w: OnnxWalker, node, args: list) -> list:
    a = attrs(node)
    present = [arg for arg in args if arg is not None]
    if node.op_type in CONSTANT_OPS and present and all(isinstance(arg, C) for arg in present):
        return _evaluate(w, node, args, a)
    rule = RULES.get(node.op_type)
    if rule is None:
        return w.unknown(node, f"ONNX {node.op_type}")
    return rule(w, node, args, a)
