"""The zoo: layer shapes against the papers' tables, symbolic analysis of every zoo spec,
and `archcalc compare`. Paper totals are in test_paper_checks.py."""

from __future__ import annotations

import csv
import io
import json
from functools import cache

import pytest

from archcalc import expressions
from archcalc.analysis import analyse_file
from archcalc.compare import most_expensive, summarise, weighted_depth
from archcalc.ops.base import conv_out_size
from tests.conftest import ROOT, by_name

ZOO = [
    "zfnet", "vgg11", "vgg13", "vgg16", "vgg19", "googlenet", "inception_v2", "inception_v3", "inception_v4",
    "inception_resnet_v2", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "squeezenet1_0", "squeezenet1_1",
]  # fmt: skip


@cache
def analysis(spec: str, input_shape: str | None = None):
    return analyse_file(ROOT / "specs" / f"{spec}.yaml", input_shape=input_shape)


def output(spec: str, name: str):
    """A layer, or a block instance's last layer (its output)."""
    inside = [s for s in analysis(spec).layers if s.name == name or s.name.startswith(name + ".")]
    return inside[-1]


def shapes(spec: str, expected: dict[str, tuple]) -> dict[str, tuple]:
    return {name: output(spec, name).output_shape for name in expected}


# --- shapes as the papers print them ---------------------------------------------------
ZFNET_FIGURE3 = {
    "conv1": (96, 110, 110), "pool1": (96, 55, 55), "conv2": (256, 26, 26), "pool2": (256, 13, 13),
    "conv3": (384, 13, 13), "conv4": (384, 13, 13), "conv5": (256, 13, 13), "pool5": (256, 6, 6), "fc6": (4096,),
}  # fmt: skip
SQUEEZENET_TABLE1 = {
    "conv1": (96, 111, 111), "maxpool1": (96, 55, 55), "fire2": (128, 55, 55), "fire3": (128, 55, 55),
    "fire4": (256, 55, 55), "maxpool4": (256, 27, 27), "fire5": (256, 27, 27), "fire6": (384, 27, 27),
    "fire7": (384, 27, 27), "fire8": (512, 27, 27), "maxpool8": (512, 13, 13), "fire9": (512, 13, 13),
    "conv10": (1000, 13, 13), "avgpool10": (1000, 1, 1),
}  # fmt: skip
GOOGLENET_TABLE1 = {
    "conv1": (64, 112, 112), "pool1": (64, 56, 56), "conv2": (192, 56, 56), "pool2": (192, 28, 28),
    "inception_3a": (256, 28, 28), "inception_3b": (480, 28, 28), "pool3": (480, 14, 14),
    "inception_4a": (512, 14, 14), "inception_4b": (512, 14, 14), "inception_4c": (512, 14, 14),
    "inception_4d": (528, 14, 14), "inception_4e": (832, 14, 14), "pool4": (832, 7, 7),
    "inception_5a": (832, 7, 7), "inception_5b": (1024, 7, 7), "pool5": (1024, 1, 1), "fc": (1000,),
}  # fmt: skip
INCEPTION_V3_TABLE1 = {"mixed_5d": (288, 35, 35), "mixed_6e": (768, 17, 17), "mixed_7c": (2048, 8, 8)}
# Szegedy et al. 2016: Figure 3 (stem 35×35×384), Figures 7 and 8 (17×17×1024, 8×8×1536)
INCEPTION_V4_FIGURES = {"stem": (384, 35, 35), "reduction_a": (1024, 17, 17), "reduction_b": (1536, 8, 8), "inception_c": (1536, 8, 8)}
# Reduction-A: 384 (pool) + n + m = 384 + 384 + 384; Reduction-B: 1152 + 384 + 288 + 320 = 2144
INCEPTION_RESNET_V2_FIGURES = {
    "stem": (384, 35, 35),
    "inception_resnet_a": (384, 35, 35),
    "reduction_a": (1152, 17, 17),
    "inception_resnet_b": (1152, 17, 17),
    "reduction_b": (2144, 8, 8),
    "inception_resnet_c": (2144, 8, 8),
}
# Ioffe & Szegedy 2015, Figure 5: each module's channels are the sum of its columns
# (#1×1 + #3×3 + double #3×3 + pool proj; the stride-2 rows pass the pooled input through)
INCEPTION_V2_FIGURE5 = {
    "conv1": (64, 112, 112), "pool1": (64, 56, 56), "conv2": (192, 56, 56), "pool2": (192, 28, 28),
    "inception_3a": (64 + 64 + 96 + 32, 28, 28), "inception_3b": (64 + 96 + 96 + 64, 28, 28),
    "inception_3c": (160 + 96 + 320, 14, 14), "inception_4a": (224 + 96 + 128 + 128, 14, 14),
    "inception_4d": (96 + 192 + 192 + 96, 14, 14), "inception_4e": (192 + 256 + 576, 7, 7),
    "inception_5b": (352 + 320 + 224 + 128, 7, 7), "pool5": (1024, 1, 1),
}  # fmt: skip


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("zfnet", ZFNET_FIGURE3),
        ("squeezenet1_0", SQUEEZENET_TABLE1),
        ("googlenet", GOOGLENET_TABLE1),
        ("inception_v2", INCEPTION_V2_FIGURE5),
        ("inception_v3", INCEPTION_V3_TABLE1),
        ("inception_v4", INCEPTION_V4_FIGURES),
        ("inception_resnet_v2", INCEPTION_RESNET_V2_FIGURES),
    ],
)
def test_output_sizes_match_the_papers(spec, expected):
    assert shapes(spec, expected) == expected


def test_resnet_stage_outputs_match_table1():
    # Table 1: conv2_x 56×56, conv3_x 28×28, conv4_x 14×14, conv5_x 7×7; ×4 channels for bottlenecks
    for spec, widths in (("resnet34", (64, 128, 256, 512)), ("resnet152", (256, 512, 1024, 2048))):
        sizes = [output(spec, f"conv{i}_x").output_shape for i in (2, 3, 4, 5)]
        assert sizes == [(w, s, s) for w, s in zip(widths, (56, 28, 14, 7), strict=True)]


def test_inception_resnet_v2_scales_every_residual():
    layers = analysis("inception_resnet_v2").layers
    adds = [s for s in layers if s.kind == "add"]
    assert len(adds) == 5 + 10 + 5  # Figure 15: 5 × A, 10 × B, 5 × C
    scales = {s.name: s for s in layers if s.kind == "scale"}
    for add in adds:
        residual, shortcut = add.inputs
        assert residual in scales and scales[residual].params == 0
        assert shortcut.endswith("relu1") or shortcut.startswith(("reduction", "stem"))


def test_inception_v4_size():
    v4 = analysis("inception_v4")
    # timm's model card for inception_v4.tf_in1k (https://huggingface.co/timm/inception_v4.tf_in1k):
    # "Params (M): 42.7", "GMACs: 12.3" at 299 × 299
    assert round(v4.totals.params / 10**5) == 427
    assert round(v4.totals.macs / 10**8) == 123
    # the last Inception-C module's first branch: 3×3 average pooling, then 1536 → 256 1×1 at 8×8
    assert by_name(analysis("inception_v4"))["inception_c.2.branch1.cbr1.conv"].macs == 8 * 8 * 256 * 1536


# --- ceil mode -----------------------------------------------------------------------
@pytest.mark.parametrize("size", range(5, 40))
@pytest.mark.parametrize("kernel, stride, padding", [(3, 2, 0), (3, 2, 1), (2, 2, 0), (3, 1, 1), (2, 3, 1), (1, 2, 0)])
def test_ceil_mode_sizes_symbolic_and_numeric_follow_pytorch(size, kernel, stride, padding):
    # PyTorch's rule, written out: ⌈(H + 2p − k)/s⌉ + 1, less one if that window starts in the padding
    out = -(-(size + 2 * padding - kernel) // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    assert conv_out_size(size, kernel, stride, padding, 1, ceil_mode=True) == out
    h = expressions.symbol("H")
    assert expressions.substitute(conv_out_size(h, kernel, stride, padding, 1, ceil_mode=True), {"H": size}) == out


# --- compare ----------------------------------------------------------------------------
def test_summarise_lenet5_by_hand():
    row = summarise(analysis("lenet5"))
    assert row["weighted_depth"] == 7  # C1, S2, C3, S4, C5, F6, output
    assert row["receptive_field"] == (32, 32)  # C5 already sees the whole 32×32 input
    assert row["most_expensive_layer"] == "C3"
    assert row["most_expensive_macs"] == (6 * 3 + 9 * 4 + 6) * 25 * 10 * 10  # Table I's 60 links × 25 × 10×10
    # C1's 6×28×28 output is the largest; float32
    assert row["peak_activations"] == 6 * 28 * 28
    assert row["peak_activation_bytes"] == 4 * 6 * 28 * 28


def test_summarise_keeps_training_only_branches_apart():
    row = summarise(analysis("googlenet"))
    a = analysis("googlenet")
    assert (row["params"], row["params_training"]) == (a.inference_totals.params, a.totals.params)
    assert row["params"] < row["params_training"]
    assert not row["receptive_field_layer"].startswith("aux")  # the last inference layer


def test_weighted_depth_takes_the_longest_weighted_path(analyse_text):
    # branch 1 has three convs, branch 2 one; then a linear: 1 + 3 + 1 = 5
    a = analyse_text("""
        name: t
        input: [3, 8, 8]
        layers:
          - conv: {out: 4, kernel: 1}
          - add:
              - [conv: {out: 4, kernel: 1}, relu, conv: {out: 4, kernel: 1}, bn, conv: {out: 4, kernel: 1}]
              - [conv: {out: 4, kernel: 1}]
          - globalavgpool
          - flatten
          - linear: {out: 2}
          - linear: {name: side, out: 2, from: flatten1, training_only: true}
    """)
    assert weighted_depth([s for s in a.layers if not s.training_only]) == 5


def test_most_expensive_is_undecided_for_formulas_it_cannot_order():
    symbolic = analysis("resnet18", "3,H,W")
    assert most_expensive(symbolic.layers) is None
    assert most_expensive(analysis("resnet18").layers).name == "conv1"  # 112·112·64·147 > 56·56·64·576


def test_compare_cli_table_sorted(cli):
    result = cli("compare", ROOT / "specs/vgg16.yaml", ROOT / "specs/lenet5.yaml", ROOT / "specs/resnet18.yaml", "--sort", "params")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()[2:5]]
    assert names == ["LeNet-5", "ResNet-18", "VGG-16"]
    # 60,000 and 138,357,544 to three significant digits; --exact writes every digit
    assert "60.0 k" in result.output and "138 M" in result.output
    exact = cli("compare", ROOT / "specs/vgg16.yaml", ROOT / "specs/lenet5.yaml", "--exact").output
    assert "60,000" in exact and "138,357,544" in exact


def test_compare_sorts_by_name_and_puts_missing_values_last(cli, write_spec):
    mlp = write_spec("name: an MLP\ninput: [10]\nlayers: [linear: {out: 4}]\n", "mlp.yaml")
    specs = [ROOT / "specs/vgg16.yaml", mlp, ROOT / "specs/lenet5.yaml"]
    by_name = json.loads(cli("compare", *specs, "--sort", "name", "--format", "json").output)
    assert [n["name"] for n in by_name["networks"]] == ["an MLP", "LeNet-5", "VGG-16"]  # case-insensitive
    by_rf = json.loads(cli("compare", *specs, "--sort", "rf", "--format", "json").output)
    # an MLP has no receptive field (its input is a vector): last, after 32 (LeNet-5) and VGG-16's
    assert [n["name"] for n in by_rf["networks"]] == ["LeNet-5", "VGG-16", "an MLP"]


def test_compare_cli_json_and_csv(cli):
    specs = [ROOT / "specs/alexnet.yaml", ROOT / "specs/squeezenet1_0.yaml"]
    data = json.loads(cli("compare", *specs, "--format", "json", "--sort", "macs", "--reverse").output)
    assert [n["name"] for n in data["networks"]] == ["SqueezeNet 1.0", "AlexNet"]
    assert data["networks"][0]["params"] == 1_248_424
    assert data["networks"][1]["weighted_depth"] == 8  # AlexNet: 5 conv + 3 fully connected
    rows = list(csv.DictReader(io.StringIO(cli("compare", *specs, "--format", "csv").output)))
    # AlexNet's pool5 sees 195 pixels with jump 32; the flatten that feeds FC6 spans its 6×6 map
    field = 195 + (6 - 1) * 32
    assert rows[0]["name"] == "AlexNet" and rows[0]["receptive_field"] == f"{field}x{field}"


def test_compare_cli_markdown(cli):
    out = cli("compare", ROOT / "specs/lenet5.yaml", "--format", "markdown").output
    assert out.splitlines()[0].startswith("| Network | Params | MACs | Depth")
    assert "| LeNet-5 | 60.0 k |" in out


def test_compare_cannot_sort_formulas(cli):
    result = cli("compare", ROOT / "specs/alexnet.yaml", "--input", "3,H,W", "--sort", "macs")
    assert result.exit_code == 2
    assert "cannot sort by macs" in result.output and "Traceback" not in result.output


def test_compare_symbolic_prints_formulas(cli):
    result = cli("compare", ROOT / "specs/lenet5.yaml", "--input", "1,H,W")
    assert result.exit_code == 0
    header, rule, row = result.output.splitlines()[:3]  # one table, formulas and all
    assert header.split()[:2] == ["Network", "Params"] and set(rule) == {"-", " "} and row.startswith("LeNet-5")
    # F6's 84·(120·(⌊H/4⌋ − 7)·(⌊W/4⌋ − 7) + 1) weights: C5's output is 1×1 at 32×32 (⌊32/4⌋ − 7 = 1)
    assert "10,080·(⌊H/4⌋ − 7)·(⌊W/4⌋ − 7)" in row and "floor" not in row
