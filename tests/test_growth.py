"""Growth with the input size: the symbolic formulas evaluated exactly at each size, and the
sizes where the network is defined — each checked against the numeric analysis at that
size (a separate path: the spec compiled and evaluated with numbers), and against hand
arithmetic where it is short enough to write out."""

from __future__ import annotations

from functools import cache

import pytest

from archcalc.analysis import analyse_file
from archcalc.errors import ArchcalcError, SpecError
from archcalc.expressions import substitute, symbol
from archcalc.growth import MAX_POINTS, SizeRange, evaluate, growth, parse_fixed, parse_range
from tests.conftest import ROOT

SPECS = ROOT / "specs"
ALL = ["macs", "params", "flops", "peak", "activations"]


@cache
def symbolic(name: str, channels: int = 3, fields: bool = False):
    # the size plots need no receptive fields (and a gated network's cost minutes symbolically)
    return analyse_file(SPECS / f"{name}.yaml", f"{channels},H,W", fields=fields)


def numeric_or_none(name: str, h: int, w: int, channels: int = 3):
    try:
        return analyse_file(SPECS / f"{name}.yaml", f"{channels},{h},{w}")
    except ArchcalcError:
        return None


def expected(analysis, quantity: str):
    t, b = analysis.inference_totals, analysis.dtype_bytes
    return {"macs": t.macs, "params": t.params, "flops": t.flops, "peak": t.peak_activations * b, "activations": t.activations * b}[
        quantity
    ]


# (spec, channels, sizes): ceil-mode pooling (ZFNet, GoogLeNet), a flatten before FC (AlexNet, VGG:
# params grow with the input), global pooling (ResNet: params do not), a partial connection table
# (LeNet-5), adaptive pooling (torchvision's AlexNet)
CASES = [
    ("alexnet", 3, (67, 100, 227, 300)),
    ("zfnet", 3, (63, 225, 301)),
    ("googlenet", 3, (223, 224, 257)),
    ("resnet50", 3, (1, 33, 224)),
    ("lenet5", 1, (32, 33, 61)),
    ("vgg16", 3, (32, 224, 250)),
    ("torchvision/alexnet", 3, (63, 224, 300)),
    # squeeze-and-excitation: a (C, 1, 1) gate times the (C, H, W) map (mul broadcasts)
    ("torchvision/mobilenet_v3_small", 3, (1, 33, 224, 225)),
    # crop-and-concat: each skip connection is cropped to the smaller upsampled map
    ("unet", 1, (188, 204, 572)),
]


@pytest.mark.parametrize(("name", "channels", "sizes"), CASES, ids=[c[0] for c in CASES])
def test_values_equal_the_numeric_analysis_at_each_size(name, channels, sizes):
    result = growth(symbolic(name, channels), SizeRange("H", min(sizes), max(sizes)), ALL)
    for size in sizes:
        numeric = numeric_or_none(name, size, size, channels)
        assert numeric is not None, f"{name} at {size}"
        index = result.points.index(size)
        for quantity in ALL:
            assert result.values[quantity][index] == expected(numeric, quantity), (name, size, quantity)
            assert isinstance(result.values[quantity][index], int)


def test_alexnet_is_defined_from_67_pixels():
    # By hand: C1 11×11/4 gives h1 = ⌊(H − 11)/4⌋ + 1; pool1 3×3/2 gives ⌊(h1 − 3)/2⌋ + 1; C2 … C5
    # keep the size (padding); pool2 and pool5 are 3×3/2 again, so pool5 needs pool2's output
    # ≥ 3, i.e. pool1's ≥ 7, i.e. h1 ≥ 15, i.e. H ≥ 4·14 + 11 = 67.
    result = growth(symbolic("alexnet"), SizeRange("H", 1, 80), ["macs"])
    assert result.valid_points[0] == 67
    assert all(p in result.invalid for p in range(1, 67)) and result.valid_points == tuple(range(67, 81))
    assert result.invalid[66] == "pool5's output would be empty"
    assert result.values["macs"][65] is None  # size 66
    assert numeric_or_none("alexnet", 66, 66) is None and numeric_or_none("alexnet", 67, 67) is not None


def test_a_merge_whose_inputs_disagree_makes_a_hole():
    """BN-Inception's stride-2 modules pad their branches differently: at some sizes the
    branches' outputs differ by a pixel and the concat is undefined, above the lowest size."""
    result = growth(symbolic("inception_v2"), SizeRange("H", 223, 240), ["macs"])
    holes = [p for p in result.points if p in result.invalid]
    defined = [p for p in result.points if p not in result.invalid]
    assert holes and defined and min(defined) < max(holes)
    for size in (holes[0], defined[-1]):
        assert (numeric_or_none("inception_v2", size, size) is None) == (size in result.invalid), size
    assert "inputs would differ in size" in result.invalid[holes[0]]


@pytest.mark.parametrize(("name", "channels", "sizes"), [("unet", 1, range(186, 206)), ("torchvision/mobilenet_v3_small", 3, range(1, 12))])
def test_defined_exactly_where_the_numeric_analysis_is(name, channels, sizes):
    """Each op's own size conditions (a crop needs a larger map, a broadcast gate is never a
    mismatch, a concat needs equal maps) decide where the network is defined, as the numeric
    analysis at each size does."""
    result = growth(symbolic(name, channels), SizeRange("H", min(sizes), max(sizes)), ["macs"])
    for size in sizes:
        assert (size in result.invalid) == (numeric_or_none(name, size, size, channels) is None), (name, size)
    assert set(sizes) - set(result.invalid), name  # defined somewhere in the range


def test_other_names_follow_the_axis_or_stay_fixed():
    lenet = symbolic("lenet5", 1)
    square = growth(lenet, SizeRange("H", 40, 40), ["macs"])
    fixed = growth(lenet, SizeRange("H", 40, 40), ["macs"], {"W": 32})
    assert square.followers == ("W",) and fixed.followers == () and fixed.fixed == {"W": 32}
    assert square.values["macs"][0] == expected(numeric_or_none("lenet5", 40, 40, 1), "macs")
    assert fixed.values["macs"][0] == expected(numeric_or_none("lenet5", 40, 32, 1), "macs")


def test_steps_and_ranges():
    assert parse_range("H=32:1024") == SizeRange("H", 32, 1024, 1)
    assert parse_range("H=3:451:4").points[:3] == (3, 7, 11) and parse_range("H=3:451:4").points[-1] == 451
    for bad in ("H", "H=1", "H=a:b", "H=0:10", "H=10:5", "H=1:10:0", "1=1:2", "H=-1:4"):
        with pytest.raises(SpecError, match="--range"):
            parse_range(bad)
    with pytest.raises(SpecError, match="STEP"):
        parse_range(f"H=1:{MAX_POINTS + 1}")
    assert parse_fixed(["W=224"]) == {"W": 224}
    with pytest.raises(SpecError, match="--fix"):
        parse_fixed(["W=0"])


def test_errors_name_what_is_wrong():
    with pytest.raises(SpecError, match="not a name of the input"):
        growth(symbolic("alexnet"), SizeRange("X", 1, 2), ["macs"])
    with pytest.raises(SpecError, match="defined at no size"):
        growth(symbolic("alexnet"), SizeRange("H", 1, 10), ["macs"])
    with pytest.raises(SpecError, match="all numbers; give names with --input"):
        growth(analyse_file(SPECS / "alexnet.yaml"), SizeRange("H", 1, 2), ["macs"])


@pytest.mark.parametrize("name", ["googlenet", "zfnet", "inception_v3", "squeezenet1_0"])
def test_the_evaluator_agrees_with_sympy(name):
    """The memoised tree walk gives what sympy's own substitution gives, formula by formula
    (floor, ceiling, the Piecewise of ceil-mode pooling, Max of the peak)."""
    analysis = symbolic(name, fields=True)
    formulas = [analysis.totals.macs, analysis.totals.flops, analysis.totals.peak_activations, analysis.layers[-1].rf.start[0]]
    formulas += [d for s in analysis.layers[::7] for d in s.output_shape]
    for size in (299, 345):
        env = {symbol("H"): size, symbol("W"): size + 2}
        memo: dict = {}
        for formula in formulas:
            assert evaluate(formula, env, memo) == substitute(formula, {"H": size, "W": size + 2})
