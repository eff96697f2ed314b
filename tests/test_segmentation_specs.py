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
from tests.torchvision_zoo import SPECS, on_meta


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
