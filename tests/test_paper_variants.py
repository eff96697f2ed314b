"""The paper-faithful specs of networks whose torchvision form differs from the authors' code,
against that code's structure rebuilt in PyTorch (the independent side): ShuffleNet V2
(megvii-model/ShuffleNet-Series, ShuffleV2Block) and RegNetX-400MF (pycls's width rounding,
fed to torchvision's own RegNet class). Params equal ``sum(p.numel())`` and macs
FlopCounterMode's total / 2, on the meta device.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.regnet import BlockParams, RegNet

from archcalc.analysis import analyse_file
from tests.conftest import ROOT

#: Ma et al. 2018, Table 5: output channels of conv1, stage2-4 and conv5 per width
SHUFFLENET = {
    "0_5": [24, 48, 96, 192, 1024],
    "1_0": [24, 116, 232, 464, 1024],
    "1_5": [24, 176, 352, 704, 1024],
    "2_0": [24, 244, 488, 976, 2048],
}


def conv_bn(inp: int, out: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = True) -> list[nn.Module]:
    layers = [nn.Conv2d(inp, out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(out)]
    return layers + [nn.ReLU()] if relu else layers


class AuthorsUnit(nn.Module):
    """ShuffleV2Block of the authors' code: the main branch gives out − inp channels from
    out/2 wide 1×1 and depthwise convs; with stride 2 the projection branch keeps inp."""

    def __init__(self, inp: int, out: int, stride: int):
        super().__init__()
        self.stride, mid = stride, out // 2
        inp_main = inp if stride == 2 else inp // 2
        self.main = nn.Sequential(
            *conv_bn(inp_main, mid, 1), *conv_bn(mid, mid, 3, stride, mid, relu=False), *conv_bn(mid, out - inp_main, 1)
        )
        if stride == 2:
            self.proj = nn.Sequential(*conv_bn(inp, inp, 3, stride, inp, relu=False), *conv_bn(inp, inp, 1))

    def forward(self, x):
        if self.stride == 2:
            return torch.cat((self.proj(x), self.main(x)), 1)
        n, c, h, w = x.shape
        pairs = x.reshape(n * c // 2, 2, h * w).permute(1, 0, 2).reshape(2, -1, c // 2, h, w)
        return torch.cat((pairs[0], self.main(pairs[1])), 1)


def authors_shufflenet(widths: list[int]) -> nn.Module:
    layers = [*conv_bn(3, widths[0], 3, 2), nn.MaxPool2d(3, 2, 1)]
    inp = widths[0]
    for repeats, out in zip([4, 8, 4], widths[1:4], strict=True):
        layers += [AuthorsUnit(inp, out, 2)] + [AuthorsUnit(out, out, 1) for _ in range(repeats - 1)]
        inp = out
    layers += [*conv_bn(inp, widths[4], 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[4], 1000, bias=False)]
    return nn.Sequential(*layers)


def pycls_regnet_x_400mf() -> nn.Module:
    """torchvision's RegNet class with the stages pycls computes (pycls/models/regnet.py:
    generate_regnet, then adjust_ws_gs_comp's quantize_float — Python's round, ties to even)
    for RegNetX-400MF's w_a = 24.48, w_0 = 24, w_m = 2.54, depth 22, group width 16."""
    blocks = [round(24 * 2.54 ** round(math.log((24 + 24.48 * j) / 24) / math.log(2.54)) / 8) * 8 for j in range(22)]
    stages = sorted(set(blocks))
    groups = [min(16, w) for w in stages]
    widths = [int(round(w / g) * g) for w, g in zip(stages, groups, strict=True)]
    assert (stages[-1], widths[-1]) == (392, 384)  # 24.5 groups of 16: torchvision rounds up, to 400
    params = BlockParams([blocks.count(w) for w in stages], widths, groups, [1.0] * len(stages), [2] * len(stages))
    return RegNet(params)


def torch_counts(model: nn.Module) -> tuple[int, int]:
    model = model.to("meta").eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 224, 224, device="meta"))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


@pytest.mark.parametrize("width", list(SHUFFLENET))
def test_shufflenet_v2_paper_spec_is_the_authors_network(width):
    static = analyse_file(ROOT / "specs" / f"shufflenet_v2_x{width}.yaml")
    assert (static.totals.params, static.totals.macs) == torch_counts(authors_shufflenet(SHUFFLENET[width]))


def test_regnet_x_400mf_paper_spec_is_pycls_network():
    static = analyse_file(ROOT / "specs" / "regnet_x_400mf.yaml")
    assert (static.totals.params, static.totals.macs) == torch_counts(pycls_regnet_x_400mf())
