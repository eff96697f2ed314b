"""PyTorch's modules and functions → archcalc ops, one small rule each.

A rule gets the walker, the fx node and its arguments as refs (archcalc/importers/refs.py)
and returns the ref of the node's value, emitting layers on the way. Whatever has no rule,
or a rule whose conditions fail (a conv with reflect padding, a pool that returns indices),
is reported through ``Walker.unknown`` with what archcalc would need.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from archcalc.importers import torch_functions
from archcalc.importers.fx_front import Walker, scope
from archcalc.importers.refs import Tensor


def pair(value) -> int | list[int]:
    """A field value as archcalc writes it: one number when both axes agree."""
    if isinstance(value, (tuple, list)):
        if len(value) == 1 or all(v == value[0] for v in value):
            return int(value[0])
        return [int(v) for v in value]
    return int(value)


def _conv(w: Walker, node, m: nn.Conv2d, x: Tensor) -> dict | str:
    if m.padding_mode != "zeros":
        return f"padding_mode={m.padding_mode!r}"
    padding = m.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif any(d * (k - 1) % 2 for k, d in zip(m.kernel_size, m.dilation, strict=True)):
            return "padding='same' with an even kernel (asymmetric padding)"
        else:
            padding = tuple(d * (k - 1) // 2 for k, d in zip(m.kernel_size, m.dilation, strict=True))
    fields = {"out": m.out_channels, "kernel": pair(m.kernel_size), "stride": pair(m.stride), "padding": pair(padding)}
    fields |= {"dilation": pair(m.dilation), "groups": m.groups, "bias": m.bias is not None}
    return fields


def _convtranspose(w, node, m: nn.ConvTranspose2d, x):
    if m.padding_mode != "zeros":
        return f"padding_mode={m.padding_mode!r}"
    fields = {"out": m.out_channels, "kernel": pair(m.kernel_size), "stride": pair(m.stride), "padding": pair(m.padding)}
    fields |= {"output_padding": pair(m.output_padding), "dilation": pair(m.dilation), "groups": m.groups, "bias": m.bias is not None}
    return fields


def _batchnorm(w, node, m: nn.modules.batchnorm._BatchNorm, x):
    if not m.track_running_stats:
        return "BatchNorm without running statistics (track_running_stats=False)"
    return {"affine": m.affine, "eps": float(m.eps)}


def _pool(kind: str):
    def rule(w, node, m, x):
        if getattr(m, "return_indices", False):
            return f"{type(m).__name__} with return_indices=True"
        if getattr(m, "divisor_override", None):
            return "AvgPool2d with divisor_override"
        fields = {"kernel": pair(m.kernel_size), "stride": pair(m.stride or m.kernel_size), "padding": pair(m.padding)}
        fields["ceil_mode"] = bool(m.ceil_mode)
        if kind == "maxpool":
            fields["dilation"] = pair(m.dilation)
        else:
            fields["count_include_pad"] = bool(m.count_include_pad)
        return fields

    return rule


def _adaptive(w, node, m, x):
    size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size, m.output_size)
    if any(s is None for s in size):
        return "an adaptive pool that keeps one axis (output_size with None)"
    if getattr(m, "return_indices", False):
        return "AdaptiveMaxPool2d with return_indices=True"
    return {"out": pair(size)}


def _none(w, node, m, x):
    return {}


def _leaky(w, node, m, x):
    return {"slope": float(m.negative_slope)}


def _prelu(w, node, m, x):
    return {"per_channel": m.num_parameters > 1, "init": 0.25}


def _dropout(w, node, m, x):
    return {"p": float(m.p)}


def _layernorm(w, node, m: nn.LayerNorm, x: Tensor):
    if len(m.normalized_shape) != 1 or x.layout == "chw":
        return "LayerNorm over more than the last axis of a feature map"
    return {"eps": float(m.eps), "affine": m.elementwise_affine, "bias": m.bias is not None}


def _groupnorm(w, node, m: nn.GroupNorm, x):
    return {"groups": m.num_groups, "eps": float(m.eps), "affine": m.affine}


def _lrn(w, node, m: nn.LocalResponseNorm, x):
    return {"size": m.size, "alpha": float(m.alpha), "beta": float(m.beta), "k": float(m.k)}


def _upsample(w, node, m: nn.Upsample, x):
    return torch_functions.resize_fields(m.size, m.scale_factor, m.mode, m.align_corners)


def _stochastic_depth(w, node, m, x):
    return {"p": float(m.p), "mode": m.mode}


def _linear(w, node, m, x):
    return {"out": m.out_features, "bias": m.bias is not None}


def _hardtanh(w, node, m, x):
    return {"min": float(m.min_val), "max": float(m.max_val)}


def _softmax(w, node, m, x):
    return {} if m.dim in (1, -1) and x.layout == "flat" else f"Softmax over dim {m.dim} of a {x.layout} tensor"


#: (class, archcalc op, rule giving its fields or a reason it cannot be represented, the input layouts it accepts)
MAP = "chw"
MODULES: list[tuple[type, str, Callable, tuple[str, ...]]] = [
    (nn.Conv2d, "conv", _conv, (MAP,)),
    (nn.ConvTranspose2d, "convtranspose", _convtranspose, (MAP,)),
    (nn.Linear, "linear", _linear, ("flat", "hwc")),
    (nn.BatchNorm2d, "bn", _batchnorm, (MAP,)),
    (nn.BatchNorm1d, "bn", _batchnorm, ("flat",)),
    (nn.MaxPool2d, "maxpool", _pool("maxpool"), (MAP,)),
    (nn.AvgPool2d, "avgpool", _pool("avgpool"), (MAP,)),
    (nn.AdaptiveAvgPool2d, "adaptiveavgpool", _adaptive, (MAP,)),
    (nn.AdaptiveMaxPool2d, "adaptivemaxpool", _adaptive, (MAP,)),
    (nn.ReLU, "relu", _none, ()),
    (nn.ReLU6, "relu6", _none, ()),
    (nn.Hardtanh, "hardtanh", _hardtanh, ()),  # after ReLU6, its subclass
    (nn.LeakyReLU, "leakyrelu", _leaky, ()),
    (nn.PReLU, "prelu", _prelu, (MAP, "flat")),
    (nn.ELU, "elu", lambda w, n, m, x: {"alpha": float(m.alpha)}, ()),
    (nn.GELU, "gelu", lambda w, n, m, x: {"approximate": m.approximate}, ()),
    (nn.SiLU, "silu", _none, ()),
    (nn.Hardswish, "hardswish", _none, ()),
    (nn.Hardsigmoid, "hardsigmoid", _none, ()),
    (nn.Mish, "mish", _none, ()),
    (nn.Sigmoid, "sigmoid", _none, ()),
    (nn.Tanh, "tanh", _none, ()),
    (nn.Softmax, "softmax", _softmax, ("flat",)),
    (nn.Dropout, "dropout", _dropout, ()),
    (nn.Dropout2d, "dropout", _dropout, (MAP,)),
    (nn.Identity, "identity", _none, ()),
    (nn.LayerNorm, "layernorm", _layernorm, ("hwc", "flat")),
    (nn.GroupNorm, "groupnorm", _groupnorm, (MAP,)),
    (nn.LocalResponseNorm, "lrn", _lrn, (MAP,)),
    (nn.Upsample, "upsample", _upsample, (MAP,)),
    (nn.ChannelShuffle, "channel_shuffle", lambda w, n, m, x: {"groups": m.groups}, (MAP,)),
    (nn.ZeroPad2d, "pad", lambda w, n, m, x: {"padding": _pad_sides(m.padding)}, (MAP,)),
]


def _pad_sides(padding) -> list[int]:
    left, right, top, bottom = padding
    return [int(top), int(bottom), int(left), int(right)]


def _extra_modules() -> list:
    try:
        from torchvision.ops import StochasticDepth
    except ImportError:
        return []
    return [(StochasticDepth, "stochastic_depth", _stochastic_depth, ())]


def has_rule(w: Walker, node: fx.Node) -> bool:
    """Whether archcalc maps this node's module or function at all (whatever its inputs)."""
    if node.op == "call_module":
        module = w.module.get_submodule(str(node.target))
        return (
            isinstance(module, nn.Flatten)
            or type(module).__name__ == "GuardsFn"
            or any(isinstance(module, cls) for cls, *_ in MODULES + _extra_modules())
        )
    return torch_functions.has_rule(node)


def convert(w: Walker, node: fx.Node, args: tuple, kwargs: dict):
    if node.op == "call_module":
        return convert_module(w, node, args, kwargs)
    return torch_functions.convert_call(w, node, args, kwargs)


def convert_module(w: Walker, node: fx.Node, args: tuple, kwargs: dict):
    path = str(node.target)
    module = w.module.get_submodule(path)
    if isinstance(module, nn.Flatten):
        return torch_functions.flatten_like(w, node, args[0], path)
    if type(module).__name__ == "GuardsFn":  # torch.export's check of its specialisations: computes nothing
        return None
    if isinstance(module, nn.Linear) and args and isinstance(args[0], Tensor) and args[0].layout == "chw" and len(w.shape(node)) == 2:
        pass  # a Linear on a (N, C) tensor that was never flattened cannot happen: shapes say flat
    for cls, kind, rule, layouts in MODULES + _extra_modules():
        if type(module) is cls or (isinstance(module, cls) and type(module).__module__.startswith("torch.nn")):
            return _apply(w, node, module, kind, rule, layouts, args, kwargs)
    return w.unknown(node, f"module {type(module).__module__}.{type(module).__qualname__}", "an archcalc op for it (archcalc/ops)")


def _apply(w: Walker, node, module, kind, rule, layouts, args, kwargs):
    x = args[0] if args else None
    if len(args) != 1 or kwargs or not isinstance(x, Tensor):
        return w.unknown(node, f"{type(module).__name__} called with {len(args)} arguments", "one tensor argument")
    if layouts and x.layout not in layouts:
        return w.unknown(node, f"{type(module).__name__} on a {x.layout} tensor", f"a {' or '.join(layouts)} input")
    fields = rule(w, node, module, x)
    if isinstance(fields, str):
        return w.unknown(node, fields, "an archcalc op with that option")
    path = str(node.target)
    own = list(module.state_dict().keys())
    if own and path in w.called:
        return w.unknown(
            node, f"{type(module).__name__} called twice (shared weights)", "a spec layer per call: archcalc has no weight sharing"
        )
    w.called.add(path)
    w.used_params.update(f"{path}.{key}" for key in own)
    return w.layer(path, kind, fields, [x])


__all__ = ["F", "convert", "operator", "pair", "scope", "torch"]
