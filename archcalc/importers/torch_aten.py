"""torch.export's ATen operators → the functional rules of torch_functions / torch_weighted.

Used when torch.fx cannot trace a model (control flow on a shape, as timm's VGG head has):
torch.export specialises such branches at the example input, and its graph (unlifted: the
model's tensors as get_attr) holds ATen calls instead of modules and F.* calls. Each entry
below names the functional rule with the same meaning, reordering arguments where ATen's
order differs.
"""

from __future__ import annotations

import torch

from archcalc.importers import torch_functions as tf
from archcalc.importers import torch_weighted as tw

aten = torch.ops.aten


def _batch_norm(w, node, args, kwargs):
    """aten.batch_norm(x, weight, bias, mean, var, training, momentum, eps, cudnn) → F.batch_norm's order."""
    x, weight, bias, mean, var, training, momentum, eps = args[:8]
    return tw.batch_norm(w, node, (x, mean, var, weight, bias, training, momentum, eps), {})


def _batch_norm_no_training(w, node, args, kwargs):
    """aten._native_batch_norm_legit_no_training(x, weight, bias, mean, var, momentum, eps) → (y, …)."""
    x, weight, bias, mean, var, momentum, eps = args[:7]
    return (tw.batch_norm(w, node, (x, mean, var, weight, bias, False, momentum, eps), {}), None, None)


def _slice(w, node, args, kwargs):
    x, dim, start, end = (list(args) + [0, None, None])[:4]
    if dim not in (1, -3) or (len(args) > 4 and args[4] != 1):
        return w.unknown(node, f"aten.slice along dim {dim}", "a slice of the channels")
    return tf._getitem(w, node, (x, (slice(None), slice(start, end))), {})


def _upsample(mode: str):
    def rule(w, node, args, kwargs):
        x, size = args[0], args[1]
        align = args[2] if mode == "bilinear" and len(args) > 2 else None
        scales = args[-1] if len(args) > (3 if mode == "bilinear" else 2) else None
        return tf._interpolate(w, node, (x, size, scales, mode, align), {})

    return rule


def _constant_pad(w, node, args, kwargs):
    """aten.constant_pad_nd(x, pad, value) → F.pad(x, pad, "constant", value)."""
    return tf._pad(w, node, (args[0], args[1], "constant", args[2] if len(args) > 2 else 0), {})


def _act(kind: str):
    return tf._ACT[kind]


ATEN = {
    aten.conv2d.default: tw.conv2d, aten.linear.default: tw.linear, aten.batch_norm.default: _batch_norm,
    aten._native_batch_norm_legit_no_training.default: _batch_norm_no_training, aten.layer_norm.default: tw.layer_norm,
    aten.relu.default: _act("relu"), aten.relu_.default: _act("relu"), aten.hardtanh.default: _act("hardtanh"),
    aten.hardtanh_.default: _act("hardtanh"), aten.sigmoid.default: _act("sigmoid"), aten.silu.default: _act("silu"),
    aten.silu_.default: _act("silu"), aten.hardswish.default: _act("hardswish"), aten.hardswish_.default: _act("hardswish"),
    aten.hardsigmoid.default: _act("hardsigmoid"), aten.gelu.default: _act("gelu"), aten.tanh.default: _act("tanh"),
    aten.add.Tensor: tf._binary("add"), aten.add_.Tensor: tf._binary("add"), aten.mul.Tensor: tf._binary("mul"),
    aten.mul_.Tensor: tf._binary("mul"), aten.div.Tensor: tf._truediv, aten.mean.dim: tf._mean,
    aten.flatten.using_ints: tf._view, aten.view.default: tf._view, aten.reshape.default: tf._view,
    aten.max_pool2d.default: tf._pool_function("maxpool"), aten.avg_pool2d.default: tf._pool_function("avgpool"),
    aten.adaptive_avg_pool2d.default: tf._pool_function("adaptiveavgpool"), aten.cat.default: tf._cat,
    aten.dropout.default: tf._dropout, aten.permute.default: tf._permute, aten.transpose.int: tf._transpose,
    aten.contiguous.default: tf._passthrough, aten.clone.default: tf._passthrough, aten.chunk.default: tf._chunk,
    aten.split.Tensor: tf._split, aten.split_with_sizes.default: tf._split, aten.slice.Tensor: _slice,
    aten.upsample_nearest2d.vec: _upsample("nearest"), aten.upsample_bilinear2d.vec: _upsample("bilinear"),
    aten.pad.default: tf._pad, aten.constant_pad_nd.default: _constant_pad,
}  # fmt: skip
