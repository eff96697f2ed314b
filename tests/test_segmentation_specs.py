"""The torchvision segmentation specs' parts, against torchvision: the ResNet specs'
``dilate`` argument (torchvision's replace_stride_with_dilation, the segmentation
backbones'). The models themselves are in MODELS (tests/torchvision_zoo.py): parity and
transplant test them."""

from __future__ import annotations

import pytest
import torch
import torchvision

from archcalc.analysis import analyse, load_network
from tests.test_torchvision_parity import run
from tests.torchvision_zoo import SPECS, build, on_meta


def _yaml(flags: list[bool]) -> str:
    return "[" + ", ".join("true" if flag else "false" for flag in flags) + "]"


@pytest.mark.parametrize("dilate", [[False, True, True], [False, False, True], [True, True, True]])
@pytest.mark.parametrize("depth", [50, 101])
def test_dilated_resnet_is_torchvisions(depth, dilate, tmp_path):
    """Every convolution's stride, padding and dilation, every layer's shape, the params and
    the macs equal torchvision's resnet with replace_stride_with_dilation (a dilated stage
    strides 1, its first block dilates as the stage before, the others twice as much)."""
    spec = tmp_path / "dilated.yaml"
    spec.write_text(f"extends: {SPECS / f'resnet{depth}.yaml'}\nargs: {{dilate: {_yaml(dilate)}}}\n")
    network = load_network(spec, "3,160,96")
    static = analyse(network)
    with on_meta():
        model = torchvision.models.get_model(f"resnet{depth}", weights=None, replace_stride_with_dilation=dilate)
    record = run(model, (160, 96), train=False)
    modules = dict(model.named_modules())
    convs = [name for name, module in modules.items() if isinstance(module, torch.nn.Conv2d)]
    assert convs == [s.name for s in static.layers if s.kind == "conv"]
    for name in convs:
        op, module = network.layers[name].op, modules[name]
        assert (op.stride, op.padding, op.dilation) == (module.stride, module.padding, module.dilation), name
        assert {s.name: s for s in static.layers}[name].output_shape == record.outputs[name], name
    assert static.totals.params == sum(p.numel() for p in model.parameters())
    assert static.totals.macs == record.flops // 2
    assert static.layers[-1].output_shape == record.outputs["fc"]


@pytest.mark.parametrize("name", ["fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101"])
def test_every_convolution_has_torchvisions_fields(name):
    """Stride, padding and dilation of every convolution: the parity test's shapes and macs
    cannot tell ASPP's rate 24 from 36 (each pads as it dilates), nor can the transplant
    test's small input, where those taps fall in the padding."""
    network = load_network(SPECS / f"{name}.yaml")
    model = build(name)
    convs = {path: m for path, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}
    assert list(convs) == [layer for layer, spec in network.layers.items() if spec.op.kind == "conv"]
    for path, module in convs.items():
        op = network.layers[path].op
        assert (op.kernel, op.stride, op.padding, op.dilation) == (module.kernel_size, module.stride, module.padding, module.dilation)
