"""specs/claims/papers.yaml, verified: the papers' printed numbers are the independent side
(the file quotes them), torchvision's own counters the other (what archcalc derives for a
torchvision spec must be its model's parameter count and FlopCounterMode's total ÷ 2)."""

from __future__ import annotations

import functools
from fractions import Fraction

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from archcalc.analysis import analyse_file, load_network
from archcalc.checking import rounded, verify_file
from archcalc.claims import load_claims
from tests.conftest import ROOT
from tests.torchvision_zoo import build

PAPERS = ROOT / "specs/claims/papers.yaml"


@pytest.fixture(scope="module")
def verdicts():
    return {v.claim.id: v for v in verify_file(PAPERS)}


#: EfficientNet and EfficientNetV2 cells that are not the released networks' counts (see
#: test_the_released_efficientnets_are_torchvisions); ConvNeXt-T's parameters cut, not rounded
EFFICIENTNET_CONVNEXT_FALSE = {
    "efficientnet-b1-flops", "efficientnet-b2-params", "efficientnet-b4-flops", "efficientnet-b5-flops",
    "efficientnet-b7-flops", "efficientnetv2-s-params", "efficientnetv2-s-flops", "efficientnetv2-m-flops",
    "efficientnetv2-l-flops", "convnext-t-params",
}  # fmt: skip


def test_exactly_these_claims_are_false(verdicts):
    # Xie et al.'s Table 1 prints ResNet-50's 25.56×10⁶ parameters as 25.5×10⁶: cut, not rounded
    false = {"resnext-table1-resnet50-params"}
    # the MobileNet papers cut their counts too (V1's 290.7 M at 160, V2's 300.8 M and 3.50 M,
    # V3-Small's 56.5 M, V3-Large's 5.48 M); V3-Large's 219 M is 2.4 M above its Table 1's network
    false |= {"mobilenet-v1-160-mult-adds", "mobilenet-v2-mult-adds", "mobilenet-v2-params"}
    false |= {"mobilenet-v3-large-mult-adds", "mobilenet-v3-large-params", "mobilenet-v3-small-mult-adds"}
    # ShuffleNet V2 0.5×'s 40.48 M multiply-adds printed as 41 M (rounded up); torchvision's
    # RegNetX-400MF rounds its last stage's 24.5 groups up, the paper's (pycls) to the even 24
    false |= {"shufflenet-v2-0-5x-flops", "regnetx-400mf-params-torchvision"}
    false |= EFFICIENTNET_CONVNEXT_FALSE
    assert {i for i, v in verdicts.items() if not v.holds} == false


@functools.cache  # a model's params and macs claims share one build
def _torch_model(name: str) -> torch.nn.Module:
    return build(name)


def _torch_count(name: str, quantity: str, size: tuple[int, int] = (224, 224)) -> int:
    return _counts(_torch_model(name), quantity, size)


def _counts(model: torch.nn.Module, quantity: str, size: tuple[int, int]) -> int:
    model.eval()  # on the meta device: shapes only
    if quantity == "params":
        return sum(p.numel() for p in model.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, *size, device="meta"))
    return counter.get_total_flops() // 2


def _size(claim) -> tuple[int, int]:
    """The input a claim is checked at: its own `input`, else its spec's."""
    if claim.of.input:
        return tuple(int(v) for v in claim.of.input.split(",")[1:])
    return tuple(load_network(ROOT / claim.of.spec).input_shape[1:])


def test_archcalcs_side_is_torchvisions_count(verdicts):
    claims, _ = load_claims(PAPERS)
    checked = 0
    for claim in claims.claims:
        spec = claim.of.spec if claim.of else None
        if spec and spec.startswith("specs/torchvision/") and claim.of.quantity in ("params", "macs"):
            name = spec.removeprefix("specs/torchvision/").removesuffix(".yaml")
            assert verdicts[claim.id].derived == _torch_count(name, claim.of.quantity, _size(claim)), claim.id
            checked += 1
    # ResNeXt/ResNet-50; MobileNetV2, V3-Large, V3-Small; DenseNet-201, ResNet-101 (Huang et al.),
    # RegNetX/Y-400MF; EfficientNet, EfficientNetV2, ConvNeXt
    assert checked == 4 + 6 + 5 + 30


#: the authors' released networks, as timm builds them from the block strings of their
#: TensorFlow checkpoints (the `tf_` models), for the claims of Table 2 and Table 7 that do not hold
RELEASED = {
    "efficientnet_b1": ("tf_efficientnet_b1", (240, 240)),
    "efficientnet_b2": ("tf_efficientnet_b2", (260, 260)),
    "efficientnet_b4": ("tf_efficientnet_b4", (380, 380)),
    "efficientnet_b5": ("tf_efficientnet_b5", (456, 456)),
    "efficientnet_b7": ("tf_efficientnet_b7", (600, 600)),
    "efficientnet_v2_s": ("tf_efficientnetv2_s", (384, 384)),
    "efficientnet_v2_m": ("tf_efficientnetv2_m", (480, 480)),
    "efficientnet_v2_l": ("tf_efficientnetv2_l", (480, 480)),
}


@pytest.mark.parametrize("name", list(RELEASED))
def test_the_released_efficientnets_are_torchvisions(name):
    """Where Tan & Le's tables and archcalc disagree, the spec is not the cause: the authors'
    released network has the spec's parameters and multiply-adds to the unit."""
    timm = pytest.importorskip("timm", reason="timm (optional) builds the authors' released EfficientNets")
    released, size = RELEASED[name]
    with torch.device("meta"):
        model = timm.create_model(released, pretrained=False)
    static = analyse_file(ROOT / f"specs/torchvision/{name}.yaml", input_shape=f"3,{size[0]},{size[1]}")
    assert static.totals.params == _counts(model, "params", size)
    assert static.inference_totals.macs == _counts(model, "macs", size)


def test_rounding_to_tens_of_powers_is_exact_and_half_up():
    # 4.2×10⁹ is printed to the nearest 10⁸: 4,249,999,999 rounds down, 4,250,000,000 up
    assert rounded(4_249_999_999, -8) == 4_200_000_000
    assert rounded(4_250_000_000, -8) == 4_300_000_000
    assert rounded(25_028_904, -5) == 25_000_000
    assert isinstance(rounded(25_028_904, -5), Fraction)
    assert rounded(Fraction(41, 10), 0) == 4  # the decimals side is unchanged


def test_verify_cli_words_the_rounding_and_exits_1(cli):
    result = cli("verify", PAPERS)
    assert result.exit_code == 1  # one claim of Table 1 does not hold as rounded
    assert "✓ resnext50-32x4d-flops" in result.output
    macs = _torch_count("resnext50_32x4d", "macs")
    assert f"derived {macs}, rounded to the nearest 100,000,000; claimed {42 * 10**8}" in result.output
    assert "✗ resnext-table1-resnet50-params" in result.output


def test_mnasnet_a1_is_the_authors_network():
    """specs/mnasnet_a1.yaml against an independent implementation of Fig. 7(a): timm's
    semnasnet_100 (its port of the authors' mnasnet-a1), sum(p.numel()) and FlopCounterMode / 2.
    timm is optional here (not an archcalc dependency): without it the test is skipped."""
    timm = pytest.importorskip("timm", reason="timm is not installed: no second implementation of MnasNet-A1 to compare with")
    from archcalc.analysis import analyse_file

    with torch.device("meta"):
        model = timm.create_model("semnasnet_100", pretrained=False).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 224, 224, device="meta"))
    static = analyse_file(ROOT / "specs/mnasnet_a1.yaml")
    assert static.totals.params == sum(p.numel() for p in model.parameters())
    assert static.totals.buffers == sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    assert static.inference_totals.macs == counter.get_total_flops() // 2
