"""Receptive fields measured on PyTorch: the input pixels an output unit's value depends on.

With every parameter positive (and small, so that no sigmoid saturates) and a positive input,
no activation is dead and no sum cancels, so the input gradient of an output unit is non-zero
exactly where the unit can see (max
pooling would route the gradient to one pixel: the specs measured here average instead).
Fields are separable, so row r's field is read off the gradient of the sum over row r of the
output (all channels and columns), and likewise each column's.

PyTorch's gradient is clipped by the image and by units that no layer reads, so it is
compared with archcalc's unclipped field cut to the image: equal wherever no padded window
reads a unit beyond a layer's edge.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import yaml

from archcalc.analysis import analyse, load_network
from archcalc.torch_backend.build import build


def positive(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(0.05, 0.1)
    return model.double().eval()


def gradient_hulls(model, example: torch.Tensor, out_shape: tuple) -> tuple[list, list]:
    """Per output row, then per output column: (first, last) input index with a non-zero
    gradient, or None where the unit sees no pixel at all."""
    hulls = ([], [])
    for axis in (0, 1):
        for index in range(out_shape[1 + axis]):
            x = example.clone().requires_grad_(True)
            y = model(x)
            y = y[0] if isinstance(y, tuple) else y
            part = y.select(2 + axis, index).sum()
            (grad,) = torch.autograd.grad(part, x)
            seen = grad.abs().sum(dim=(0, 1)).sum(dim=1 - axis).nonzero().flatten().tolist()
            hulls[axis].append((seen[0], seen[-1]) if seen else None)
    return hulls


def static_hulls(rf, out_shape: tuple, input_shape: tuple) -> tuple[list, list]:
    """archcalc's per-unit fields, cut to the image (None where nothing is left)."""
    hulls = ([], [])
    for axis in (0, 1):
        for index in range(out_shape[1 + axis]):
            lo, hi = rf.unit(axis, index)
            lo, hi = max(lo, 0), min(hi, input_shape[1 + axis] - 1)
            hulls[axis].append((lo, hi) if lo <= hi else None)
    return hulls


def spec_hulls(spec: dict) -> tuple[tuple, tuple, object]:
    """Build ``spec`` (its last layer is measured) and return (torch's hulls, archcalc's, its field)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        network = load_network(path)
    analysis = analyse(network)
    last = analysis.layers[-1]
    model = positive(build(network, analysis).full)
    example = torch.rand(1, *network.input_shape, dtype=torch.float64) + 0.5
    measured = gradient_hulls(model, example, last.output_shape)
    return measured, static_hulls(last.rf, last.output_shape, network.input_shape), last.rf
