"""adaptiveavgpool against PyTorch's AdaptiveAvgPool2d and hand-worked bins."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from archcalc.analysis import analyse_file
from archcalc.errors import ArchcalcError
from archcalc.expressions import substitute, symbol
from archcalc.ops import REGISTRY
from archcalc.ops.adaptive import bins
from archcalc.ops.base import Window
from tests.conftest import ROOT, by_name

Adaptive = REGISTRY["adaptiveavgpool"]


def test_bins_by_hand():
    # H = 7, out = 3: start ⌊0⌋, ⌊7/3⌋ = 2, ⌊14/3⌋ = 4; end ⌈7/3⌉ = 3, ⌈14/3⌉ = 5, 7
    assert bins(7, 3) == [3, 3, 3]
    # H = 7, out = 6 (AlexNet at 256): starts 0,1,2,3,4,5; ends 2,3,4,5,6,7 — every bin 2 wide
    assert bins(7, 6) == [2, 2, 2, 2, 2, 2]
    # H = 6, out = 7 (VGG at 192): more cells than rows; starts ⌊6i/7⌋ = 0,0,1,2,3,4,5, ends ⌈6(i+1)/7⌉ = 1,2,3,4,5,6,6
    assert bins(6, 7) == [1, 2, 2, 2, 2, 2, 1]
    assert bins(12, 4) == [3, 3, 3, 3]


@pytest.mark.parametrize("size", [1, 5, 6, 7, 8, 13, 17])
@pytest.mark.parametrize("out", [1, 3, 4, 6, 7])
def test_bins_equal_pytorchs(size, out):
    # averaging a one-hot row at position j gives 1/|bin| in every cell whose bin holds j;
    # a bin's first row is start_i, and it belongs to that bin, so 1/value is its size
    for i, width in enumerate(bins(size, out)):
        start = (i * size) // out
        onehot = torch.zeros(1, 1, size, 1, dtype=torch.float64)
        onehot[0, 0, start, 0] = 1
        value = torch.nn.functional.adaptive_avg_pool2d(onehot, (out, 1))[0, 0, i, 0].item()
        assert round(1 / value) == width


def test_flops_and_shape_by_hand():
    op = Adaptive(out=[3, 2])
    out = op.output_shape([(2, 7, 5)])
    assert out == (2, 3, 2)
    # per channel (Σ row bins)(Σ column bins) = (3 + 3 + 3)(3 + 3) = 54 input reads
    assert op.flops([(2, 7, 5)], out) == {"pool": 2 * 9 * 6}
    assert op.params([(2, 7, 5)], out) == 0 and op.macs([(2, 7, 5)], out) == 0


def test_window_follows_the_bins():
    # 14 → 7 divides: an ordinary 2×2/2 pooling, and 7 → 1 one window over everything
    assert Adaptive(out=7).window([(1, 14, 14)]) == Window((2, 2), (2, 2), (0, 0))
    assert Adaptive(out=1).window([(1, 7, 5)]) == Window((7, 5), (7, 5), (0, 0))
    # 7 → 6: cell i reads rows ⌊7i/6⌋ … ⌈7(i+1)/6⌉ − 1 = [0,1] [1,2] [2,3] [3,4] [4,5] [5,6]
    rule = Adaptive(out=6).window([(1, 7, 7)]).axes[0]
    assert [(rule.first(i), rule.last(i)) for i in range(6)] == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
    # 14 → 4 (GoogLeNet's aux pool): ⌊14i/4⌋ = 0, 3, 7, 10 and ⌈14(i+1)/4⌉ − 1 = 3, 6, 10, 13 —
    # the old model (a 4-wide window stepping ⌊14/4⌋ = 3) put cell 2 at rows 6 … 9
    rule = Adaptive(out=4).window([(1, 14, 14)]).axes[0]
    assert [(rule.first(i), rule.last(i)) for i in range(4)] == [(0, 3), (3, 6), (7, 10), (10, 13)]
    assert rule.ratio == Fraction(14, 4)
    # more cells than rows (6 → 7): starts ⌊6i/7⌋ = 0,0,1,2,3,4,5, ends ⌈6(i+1)/7⌉ − 1 = 0,1,2,3,4,5,5
    rule = Adaptive(out=7).window([(1, 6, 6)]).axes[0]
    assert [(rule.first(i), rule.last(i)) for i in range(7)] == [(0, 0), (0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 5)]


def test_symbolic_counts_substitute_to_the_concrete_ones():
    h, w = symbol("H"), symbol("W")
    op = Adaptive(out=[6, 7])
    symbolic = op.flops([(3, h, w)], (3, 6, 7))["pool"]
    rules = op.window([(3, h, w)]).axes
    for size in [(6, 7), (7, 6), (13, 15), (224, 100)]:
        binding = {"H": size[0], "W": size[1]}
        concrete = Adaptive(out=[6, 7])
        assert substitute(symbolic, binding) == concrete.flops([(3, *size)], (3, 6, 7))["pool"]
        for axis, (size_, out) in enumerate(zip(size, (6, 7), strict=True)):
            for i in range(out):  # PyTorch's integer rule, written out: start ⌊i·H/out⌋, end ⌈(i+1)·H/out⌉
                assert substitute(rules[axis].first(i), binding) == (i * size_) // out
                assert substitute(rules[axis].last(i), binding) == -(-((i + 1) * size_) // out) - 1


def _jacobian(size: tuple[int, int], out: tuple[int, int]):
    """PyTorch's own dependence of each output cell on each input pixel: the Jacobian of
    adaptive_avg_pool2d, (out_h·out_w) × (H·W); a cell reads exactly the pixels of its nonzero row."""
    pool = lambda x: torch.nn.functional.adaptive_avg_pool2d(x.view(1, 1, *size), out).flatten()  # noqa: E731
    return torch.autograd.functional.jacobian(pool, torch.zeros(size[0] * size[1], dtype=torch.float64))


@pytest.mark.parametrize("seed", range(4))
def test_symbolic_counts_equal_pytorchs_bins_at_random_sizes(seed):
    """The independent side of the test above: the formulas substituted at random odd and
    non-square sizes against PyTorch's adaptive_avg_pool2d itself — its input reads per channel
    (the nonzero entries of its Jacobian) and, per axis, the first and last row each cell reads."""
    import random

    rng = random.Random(seed)
    h, w = symbol("H"), symbol("W")
    out = (rng.randrange(1, 9), rng.randrange(1, 9))
    height = 2 * rng.randrange(1, 12) + 1  # odd
    size = (height, rng.choice([w for w in range(1, 24) if w != height]))  # non-square
    op = Adaptive(out=list(out))
    binding = {"H": size[0], "W": size[1]}
    jacobian = _jacobian(size, out)
    assert substitute(op.flops([(3, h, w)], (3, *out))["pool"], binding) == 3 * int((jacobian != 0).sum())
    reads = (jacobian != 0).view(out[0], out[1], size[0], size[1])
    rules = op.window([(3, h, w)]).axes
    for i in range(out[0]):
        rows = reads[i, 0].any(dim=1).nonzero().flatten().tolist()
        assert (substitute(rules[0].first(i), binding), substitute(rules[0].last(i), binding)) == (rows[0], rows[-1])
    for j in range(out[1]):
        columns = reads[0, j].any(dim=0).nonzero().flatten().tolist()
        assert (substitute(rules[1].first(j), binding), substitute(rules[1].last(j), binding)) == (columns[0], columns[-1])


SPEC = """
name: adaptive
input: [3, {h}, {w}]
layers:
  - conv: {{out: 4, kernel: 3, stride: 2}}
  - adaptiveavgpool: {{name: pool, out: [2, 3]}}
  - flatten
  - linear: {{name: fc, out: 5}}
"""


def test_in_a_spec_with_a_symbolic_input(analyse_text):
    symbolic = by_name(analyse_text(SPEC.format(h="H", w="W")))
    concrete = by_name(analyse_text(SPEC.format(h=21, w=30)))
    assert symbolic["pool"].output_shape == concrete["pool"].output_shape == (4, 2, 3)
    assert symbolic["fc"].params == 4 * 2 * 3 * 5 + 5  # independent of H and W
    # conv: ⌊(21 − 3)/2⌋ + 1 = 10 rows, ⌊(30 − 3)/2⌋ + 1 = 14 columns;
    # bins 10 → 2: 5, 5; 14 → 3: ⌈14/3⌉ − 0 = 5, ⌈28/3⌉ − ⌊14/3⌋ = 6, 14 − ⌊28/3⌋ = 5
    assert concrete["pool"].flops_by_kind == {"pool": 4 * (5 + 5) * (5 + 6 + 5)}
    assert substitute(symbolic["pool"].flops_by_kind["pool"], {"H": 21, "W": 30}) == 4 * 10 * 16


@pytest.mark.parametrize("spec", ["alexnet", "squeezenet1_1"])
def test_torchvision_spec_formulas_substitute_to_concrete_counts(spec):
    path = ROOT / "specs" / "torchvision" / f"{spec}.yaml"
    symbolic = analyse_file(path, input_shape="3,H,W").inference_totals
    for h, w in [(224, 224), (256, 200), (237, 301)]:
        concrete = analyse_file(path, input_shape=f"3,{h},{w}").inference_totals
        for field in ("params", "macs", "flops", "activations"):
            assert substitute(getattr(symbolic, field), {"H": h, "W": w}) == getattr(concrete, field), field
        # and independently: torchvision's own model at that size (meta device), its
        # parameters and FlopCounterMode's flops / 2
        from torch.utils.flop_counter import FlopCounterMode

        from tests.torchvision_zoo import build

        model = build(spec).eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, 3, h, w, device="meta"))
        assert 2 * substitute(symbolic.macs, {"H": h, "W": w}) == counter.get_total_flops()
        assert substitute(symbolic.params, {"H": h, "W": w}) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ("  - flatten\n  - adaptiveavgpool: {out: 2}\n", r"expects a \(C, H, W\) feature map, found \(192,\)"),
        ("  - adaptiveavgpool: {out: 0}\n", "greater than 0"),
        ("  - adaptiveavgpool: {}\n", "missing required field 'out'"),
    ],
)
def test_bad_adaptive_pools_are_located_errors(analyse_text, layers, message):
    with pytest.raises(ArchcalcError, match=message) as error:
        analyse_text("name: bad\ninput: [3, 8, 8]\nlayers:\n" + layers)
    assert "net.yaml" in str(error.value)
