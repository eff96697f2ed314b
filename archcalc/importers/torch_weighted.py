"""Functional calls that apply a model's own tensors (get_attr nodes): F.batch_norm from
timm's BatchNormAct2d, F.layer_norm from torchvision's and timm's LayerNorm2d, F.conv2d and
F.linear from custom conv and linear modules. The layer is named after the module that
holds the tensors, and takes its fields from their shapes, so its state_dict keys
(``<module>.weight``, ``<module>.running_mean``) are the model's own.
"""

from __future__ import annotations

from archcalc.importers.fx_front import Walker
from archcalc.importers.refs import Param, Tensor


def _arg(args, kwargs, index, key, default=None):
    if key in kwargs:
        return kwargs[key]
    return args[index] if len(args) > index else default


def _owner(w: Walker, node, params: dict[str, Param | None], expected: dict[str, str]):
    """The module holding ``params`` as ``expected`` names them (weight, bias, running_mean …), or None."""
    present = {role: p for role, p in params.items() if p is not None}
    if not present or not all(isinstance(p, Param) for p in present.values()):
        return None
    owners = {p.key.rsplit(".", 1)[0] if "." in p.key else "" for p in present.values()}
    if len(owners) != 1 or any(p.key.rsplit(".", 1)[-1] != expected[role] for role, p in present.items()):
        return None
    w.use(*present.values())
    return owners.pop()


def batch_norm(w: Walker, node, args, kwargs):
    x = args[0]
    roles = {"running_mean": _arg(args, kwargs, 1, "running_mean"), "running_var": _arg(args, kwargs, 2, "running_var")}
    roles |= {"weight": _arg(args, kwargs, 3, "weight"), "bias": _arg(args, kwargs, 4, "bias")}
    if roles["running_mean"] is None or _arg(args, kwargs, 5, "training", False):
        return w.unknown(node, "F.batch_norm without running statistics", "a batch norm with running statistics")
    owner = _owner(w, node, roles, {k: k for k in roles})
    if owner is None or not isinstance(x, Tensor) or x.layout == "hwc" or (roles["weight"] is None) != (roles["bias"] is None):
        return w.unknown(node, "F.batch_norm with tensors of several modules", "one module's weight, bias and running statistics")
    fields = {"affine": roles["weight"] is not None, "eps": float(_arg(args, kwargs, 7, "eps", 1e-5))}
    return w.layer(owner, "bn", fields, [x])


def layer_norm(w: Walker, node, args, kwargs):
    x, shape = args[0], _arg(args, kwargs, 1, "normalized_shape")
    roles = {"weight": _arg(args, kwargs, 2, "weight"), "bias": _arg(args, kwargs, 3, "bias")}
    owner = _owner(w, node, roles, {"weight": "weight", "bias": "bias"})
    if owner is None or not isinstance(x, Tensor) or x.layout == "chw" or len(shape) != 1:
        return w.unknown(node, "F.layer_norm over a feature map's spatial axes or with foreign tensors", "a layer norm over the channels")
    fields = {"eps": float(_arg(args, kwargs, 4, "eps", 1e-5)), "affine": roles["weight"] is not None, "bias": roles["bias"] is not None}
    return w.layer(owner, "layernorm", fields, [x])


def linear(w: Walker, node, args, kwargs):
    x = args[0]
    roles = {"weight": _arg(args, kwargs, 1, "weight"), "bias": _arg(args, kwargs, 2, "bias")}
    owner = _owner(w, node, roles, {"weight": "weight", "bias": "bias"})
    if owner is None or not isinstance(x, Tensor) or x.layout == "chw":
        return w.unknown(node, "F.linear with foreign tensors", "a module's own weight and bias")
    out = w.module.get_parameter(roles["weight"].key).shape[0]
    return w.layer(owner, "linear", {"out": int(out), "bias": roles["bias"] is not None}, [x])


def conv2d(w: Walker, node, args, kwargs):
    x = args[0]
    roles = {"weight": _arg(args, kwargs, 1, "weight"), "bias": _arg(args, kwargs, 2, "bias")}
    owner = _owner(w, node, roles, {"weight": "weight", "bias": "bias"})
    padding = _arg(args, kwargs, 4, "padding", 0)
    if owner is None or not isinstance(x, Tensor) or x.layout != "chw" or isinstance(padding, str):
        return w.unknown(node, "F.conv2d with foreign tensors or string padding", "a module's own weight, numeric padding")
    from archcalc.importers.torch_map import pair

    weight = w.module.get_parameter(roles["weight"].key)
    fields = {"out": int(weight.shape[0]), "kernel": pair(tuple(weight.shape[2:])), "stride": pair(_arg(args, kwargs, 3, "stride", 1))}
    fields |= {
        "padding": pair(padding),
        "dilation": pair(_arg(args, kwargs, 5, "dilation", 1)),
        "groups": int(_arg(args, kwargs, 6, "groups", 1)),
    }
    fields["bias"] = roles["bias"] is not None
    return w.layer(owner, "conv", fields, [x])
