"""Receptive fields, exact per output unit, against PyTorch's input gradients: every new op,
the adaptive-pool fix at the issue's sizes, and the definitions of size, jump and start."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy
import torch

from archcalc.analysis import analyse_file
from archcalc.errors import OpError
from archcalc.expressions import symbol
from archcalc.ops.base import Window
from archcalc.receptive import BROADCAST, Lattice, Mapped, Merged, ReceptiveField, _bound, bound, sliding, step
from tests.conftest import ROOT, by_name
from tests.gradient_fields import positive, spec_hulls

CONV = {"conv": {"out": 3, "kernel": 3, "stride": 2}}  # a field of 3 pixels, 2 apart, before the op

CASES = {
    "convtranspose_3s2p1op1": [{"convtranspose": {"out": 2, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1}}],
    "convtranspose_4s2p1": [CONV, {"convtranspose": {"out": 2, "kernel": 4, "stride": 2, "padding": 1}}],
    "convtranspose_2s2_unet": [CONV, {"convtranspose": {"out": 2, "kernel": 2, "stride": 2}}, {"conv": {"out": 2, "kernel": 3}}],
    # taps (o − 3t)/4 interleave: unit 0 reads 0 and −3, unit 1 only −1 — the field after it is not monotone
    "convtranspose_dilated_interleaved": (
        [
            {"conv": {"out": 2, "kernel": 3, "stride": 3}},  # 4×3 units that read every pixel: a small output
            {"convtranspose": {"out": 2, "kernel": 5, "stride": 4, "dilation": 3}},
            {"conv": {"out": 2, "kernel": 3}},
        ],
        [2, 12, 9],
    ),
    # padding 2 makes every output read a real input unit (with less, the first ones read only units before the edge)
    "convtranspose_dilated": [CONV, {"convtranspose": {"out": 2, "kernel": 3, "stride": 3, "dilation": 2, "padding": 2}}],
    "convtranspose_mixed_strides": [{"convtranspose": {"out": 2, "kernel": [3, 2], "stride": [1, 2], "padding": [2, 0]}}],
    "upsample_nearest_2": [CONV, {"upsample": {"scale": 2}}, {"conv": {"out": 2, "kernel": 3}}],
    "upsample_nearest_3_2": [CONV, {"upsample": {"scale": "3/2"}}],
    "upsample_nearest_down": [{"upsample": {"size": [7, 5]}}],
    "upsample_bilinear_2": [CONV, {"upsample": {"scale": 2, "mode": "bilinear"}}, {"conv": {"out": 2, "kernel": 3}}],
    "upsample_bilinear_align": [CONV, {"upsample": {"size": [9, 7], "mode": "bilinear", "align_corners": True}}],
    "upsample_bilinear_down": [{"upsample": {"scale": "1/3", "mode": "bilinear"}}],
    # a segmentation head: back to the input's size
    "upsample_to_input": [CONV, CONV, {"upsample": {"from": ["conv2", "input"], "mode": "bilinear"}}],
    "adaptiveavgpool_uneven": [CONV, {"adaptiveavgpool": {"out": [4, 3]}}],
    "adaptiveavgpool_more_cells": [CONV, {"adaptiveavgpool": {"out": [8, 7]}}],
    "pad": [{"pad": {"padding": [1, 2, 0, 3]}}, {"conv": {"out": 2, "kernel": 3}}],
    "crop": [CONV, {"crop": {"size": [4, 3]}}],
    "crop_to_match": [
        {"conv": {"name": "a", "out": 2, "kernel": 5}},
        {"conv": {"out": 2, "kernel": 3}},
        {"crop": {"from": ["a", "conv1"]}},
    ],
    "slice": [CONV, {"slice": {"start": 1, "stop": 3}}],
    "chunk": [CONV, {"chunk": {"chunks": 2, "index": 1}}],
    "channel_shuffle": [{"conv": {"out": 4, "kernel": 3}}, {"channel_shuffle": {"groups": 2}}],
    "mul_squeeze_excitation": [CONV, {"mul": [[{"globalavgpool": None}, {"conv": {"out": 3, "kernel": 1}}, "sigmoid"], "identity"]}],
    "mul_spatial_attention": [CONV, {"mul": [[{"conv": {"out": 1, "kernel": 3, "padding": 1}}, "sigmoid"], "identity"]}],
    # a kernel-1 conv of row stride 13 on 13 rows is one row that reads pixel row 0 only, broadcast
    # over the 13 rows of the identity: output row i reads rows 0 (the gate) and i, a hull 0 … i
    # (were the gate's unit i read as row 13·i, row i would see i … 12, cut to the image)
    "mul_broadcast_row": [{"mul": [[{"conv": {"out": 2, "kernel": 1, "stride": [13, 1]}}], "identity"]}],
    # gates that read part of the map (rows 0 … 6 of 13; then row 0 and columns 0 … 2), each
    # broadcast over the map, with windows and a residual add between them: the field after a
    # gate is a hull, min(0, i) … max(6, i) on the rows, carried through each window and merge
    "hull_gates_and_windows": [
        {"mul": [[{"conv": {"out": 2, "kernel": [7, 1], "stride": [13, 1]}}], "identity"]},
        {"conv": {"out": 2, "kernel": 3, "stride": 2, "padding": 1}},
        {"add": {"branches": [[{"conv": {"out": 2, "kernel": 3, "padding": 1}}], "identity"]}},
        {"mul": [[{"conv": {"out": 2, "kernel": [1, 3], "stride": [7, 6]}}], "identity"]},
        {"conv": {"out": 2, "kernel": 3, "padding": [0, 1]}},
    ],
    # an upsampled map (an index rule, not a lattice) added to the identity: a general merge
    "add_upsampled": (
        [
            {"add": {"branches": [[{"conv": {"out": 2, "kernel": 3, "stride": 2, "padding": 1}}, {"upsample": {"scale": 2}}], "identity"]}},
            {"conv": {"out": 2, "kernel": 3}},
        ],
        [2, 12, 10],
    ),
    "groupnorm": [CONV, {"groupnorm": {"groups": 3}}],
    "layernorm": [CONV, "layernorm"],
    "linear_on_maps": [CONV, {"linear": {"out": 2}}],
    "layerscale": [CONV, "layerscale"],
    "stochastic_depth": [CONV, {"stochastic_depth": {"p": 0.5}}],
    "activations": [CONV, {"prelu": {"per_channel": True}}, "gelu", "silu", "mish", "elu", {"leakyrelu": {"slope": 0.2}}, "hardswish"],
}


@pytest.mark.parametrize("case", CASES)
def test_every_units_field_is_what_pytorch_sees(case):
    layers, shape = CASES[case] if isinstance(CASES[case], tuple) else (CASES[case], [2, 13, 11])
    measured, static, _ = spec_hulls({"name": case, "input": shape, "layers": layers})
    assert measured == static


def test_an_adaptive_max_pool_has_the_average_pools_bins(analyse_text):
    # max pooling routes a gradient to one pixel: its field is the average pool's, checked above
    spec = "name: t\ninput: [2, 13, 11]\nlayers: [conv: {{out: 3, kernel: 3, stride: 2}}, {kind}: {{out: [4, 3]}}]\n"
    average, maximum = (analyse_text(spec.format(kind=kind)).layers[-1].rf for kind in ("adaptiveavgpool", "adaptivemaxpool"))
    for axis, cells in ((0, 4), (1, 3)):
        assert [maximum.unit(axis, i) for i in range(cells)] == [average.unit(axis, i) for i in range(cells)]
    # 6 conv rows → 4 cells: cell 2 reads rows ⌊12/4⌋ = 3 … ⌈18/4⌉ − 1 = 4, i.e. pixels 2·3 … 2·4 + 2
    assert maximum.unit(0, 2) == (6, 10)


def test_size_jump_and_start_on_an_irregular_axis(analyse_text):
    analysis = analyse_text(
        """
        name: t
        input: [1, 14, 14]
        layers:
          - adaptiveavgpool: {name: pool, out: 4}
          - convtranspose: {name: up, out: 1, kernel: 3, stride: 2, padding: 1}
          - flatten
        """
    )
    pool, up, flat = (by_name(analysis)[name] for name in ("pool", "up", "flatten1"))
    # bins 14 → 4: rows [0, 3] [3, 6] [7, 10] [10, 13]; size and start are cell 0's, jump the nominal 14/4
    assert [pool.rf.unit(0, i) for i in range(4)] == [(0, 3), (3, 6), (7, 10), (10, 13)]
    assert (pool.rf.size[0], pool.rf.start[0], pool.rf.jump[0]) == (4, Fraction(3, 2), Fraction(7, 2))
    assert pool.rf.regular == (False, False)
    # up: o reads cells ⌈(o + 1 − 2)/2⌉ … ⌊(o + 1)/2⌋: o = 0 → cell 0; o = 1 → cells 0, 1; jump 7/2 · 1/2
    assert up.rf.unit(0, 0) == (0, 3) and up.rf.unit(0, 1) == (0, 6)
    assert up.rf.jump[0] == Fraction(7, 4)
    # flatten sees the union over the 7 units: rows 0 … 13
    assert (flat.rf.size[0], flat.rf.start[0]) == (14, Fraction(13, 2))


def test_size_and_start_where_the_first_unit_reads_padding_or_starts_inside(analyse_text):
    analysis = analyse_text(
        """
        name: t
        input: [1, 12, 12]
        layers:
          - conv: {name: a, out: 1, kernel: 3, padding: 1}
          - conv: {name: b, out: 1, kernel: 3, stride: 2, padding: 1}
          - crop: {name: c, size: 4}
        """
    )
    a, b, c = (by_name(analysis)[name] for name in "abc")
    # a's unit 0 reads pixels −1 … 1 (one of padding): size 1 − (−1) + 1 = 3, start 0
    assert (a.rf.unit(0, 0), a.rf.size, a.rf.start, a.rf.jump) == ((-1, 1), (3, 3), (0, 0), (1, 1))
    # b's unit 0 reads a's units −1 … 1, i.e. pixels −2 … 2: size 5, start 0, jump 2
    assert (b.rf.unit(1, 0), b.rf.size, b.rf.start, b.rf.jump) == ((-2, 2), (5, 5), (0, 0), (2, 2))
    # the centre crop 6 → 4 starts at b's unit 1: pixels 0 … 4, size 5, start 2
    assert (c.rf.unit(0, 0), c.rf.size, c.rf.start) == ((0, 4), (5, 5), (2, 2))


def test_a_merge_of_lattices_with_one_jump_is_a_lattice(analyse_text):
    """A residual add of a padded 3×3 conv's field (−1 … 1 + i) and the identity's (i … i):
    both jump 1, so the union is again a lattice, −1 … 1 + i, and the next conv's field is
    derived by the lattice formulas (explain shows them)."""
    analysis = analyse_text(
        """
        name: t
        input: [1, 8, 8]
        layers:
          - add: {name: s, branches: [[conv: {out: 1, kernel: 3, padding: 1}], identity]}
          - conv: {name: z, out: 1, kernel: 3, stride: 2}
        """
    )
    s, z = (by_name(analysis)[name] for name in "sz")
    assert s.rf.regular == (True, True) and (s.rf.unit(0, 0), s.rf.unit(0, 5)) == ((-1, 1), (4, 6))
    # z's unit 0 reads s's units 0 … 2: pixels −1 … 3, size 5, start 1, jump 2
    assert z.rf.regular == (True, True) and (z.rf.size, z.rf.start, z.rf.jump) == ((5, 5), (1, 1), (2, 2))


def test_bound_reduces_symbolic_terms_a_number_apart():
    h, w = symbol("H"), symbol("W")
    # H + 1 and H + 3 differ by 2: the max is H + 3, the min H + 1, written alone (no Max/Min)
    assert bound([h + 1, h + 3], larger=True) == h + 3 and bound([h + 3, h + 1], larger=False) == h + 1
    # a difference of exactly 1 is decided too
    assert bound([h, h + 1], larger=True) == h + 1 and bound([h + 1, h], larger=False) == h
    # numbers reduce to one; terms not a number apart stay, in a flat unevaluated Max
    kept = bound([h + 1, 4, w, 7, h + 2], larger=True)
    assert isinstance(kept, sympy.Max) and set(kept.args) == {7, w, h + 2}
    assert bound([3, 5], larger=True) == 5 and bound([3, 5], larger=False) == 3
    # nested Max/Min are spliced; floor(H/2) + 1 and floor(H/2) + 3 are 2 apart, 2·H and
    # 2·H − 1 are 1 apart, while floor(H/2) + 3 and 2·H are no number apart and neither is
    # always the larger (H = 1: 3 > 2; H = 4: 5 < 8): max → {floor(H/2) + 3, 2·H}
    half = sympy.floor(h / 2)
    nested = [sympy.Max(half + 1, 2 * h, evaluate=False), half + 3, 2 * h - 1]
    assert set(bound(nested, larger=True).args) == {half + 3, 2 * h}
    # min: floor(H/2) + 1 ≤ 2·H − 1 at every H ≥ 1 (H = 1: 1 ≤ 1; then ⌊H/2⌋ ≤ H/2 ≤ 2·H − 2),
    # so the min is floor(H/2) + 1 alone
    nested = [sympy.Min(half + 1, 2 * h, evaluate=False), half + 3, 2 * h - 1]
    assert bound(nested, larger=False) == half + 1


def test_bound_drops_terms_another_bounds_at_every_size():
    h, w = symbol("H"), symbol("W")
    quarter, half = sympy.floor((h - 1) / 4), sympy.floor((h - 1) / 2)
    # EfficientNet's fields after two gates: max(19, 4·⌊(H − 1)/4⌋ + 19, 2·⌊(H − 1)/2⌋ + 9).
    # 4·⌊x/4⌋ ≥ x − 3 and 2·⌊x/2⌋ ≤ x (x = H − 1 ≥ 0), so the second exceeds the third by
    # at least 7 and is at least 19: it is the max at every size
    assert bound([19, 4 * quarter + 19, 2 * half + 9], larger=True) == 4 * quarter + 19
    # the min of the same three: 2·⌊x/2⌋ + 9 ≤ x + 9 < 19 for x ≤ 9 only, so 19 and the third
    # stay (H = 1: 9 < 19; H = 21: 29 > 19); the second is ≥ 19 always, so it goes
    assert set(bound([19, 4 * quarter + 19, 2 * half + 9], larger=False).args) == {19, 2 * half + 9}
    # a number below every value of a term goes: H − 1 ≥ 0 at every H ≥ 1
    assert bound([0, h - 1], larger=True) == h - 1 and bound([0, h - 1], larger=False) == 0
    # 3 − H ≤ 2 everywhere: the number 5 is the max alone
    assert bound([5, 3 - h], larger=True) == 5
    # 2·⌊H/2⌋ + 1 − H = 1 − (H mod 2) is 0 or 1: H is never above 2·⌊H/2⌋ + 1, which is above H
    # at every even H — the min is H, written after it; and 2·⌊H/2⌋ − (H − 1) is 0 or 1 too,
    # so the max of H − 1 and 2·⌊H/2⌋ is 2·⌊H/2⌋
    assert bound([2 * sympy.floor(h / 2) + 1, h], larger=False) == h
    assert bound([2 * sympy.floor(h / 2), h - 1], larger=True) == 2 * sympy.floor(h / 2)
    # undecided: H − 5 against 0 (−4 at H = 1, 1 at H = 6); two names are never compared
    assert set(bound([0, h - 5], larger=True).args) == {0, h - 5}
    assert set(bound([h, w], larger=True).args) == {h, w}


def test_bounds_passed_between_merges_are_spliced_before_any_max_is_built():
    h, w = symbol("H"), symbol("W")
    # a merge's bound kept as its terms (max{H + 1, W, 2}) meets H + 3 and 5 at the next merge:
    # H + 3 beats H + 1 by 2, 5 beats 2, W stays — max{H + 3, W, 5}, one flat Max
    inner = _bound([h + 1, w, 2], larger=True)
    assert set(_bound([inner, h + 3, 5], larger=True).value.args) == {h + 3, w, 5}
    # a min kept as terms inside a max is one term of it, whole: max{min{H, W}, H + 1}
    low = _bound([h, w], larger=False)
    assert set(_bound([low, h + 1], larger=True).value.args) == {sympy.Min(h, w), h + 1}
    # two merges in a row, through the fields: hi(i) = max(H + i, 2 + 2i, H + 4 + 3i), so
    # hi(0) = max{2, H + 4} (H is dominated by H + 4) = H + 4, as H + 4 ≥ 5 > 2 at every H ≥ 1;
    # hi(1) = max{4, H + 7} = H + 7 (≥ 8); lo(0) = min(0, −1, 1) = −1. With a second name the
    # names stay apart: hi(0) of max(W + i, 2 + 2i, H + 4 + 3i) is max{W, 2, H + 4} = max{W, H + 4}: W against H
    # undecided, and 2 < H + 4 at every H
    parts = (Lattice(0, h, 1), Lattice(-1, 2, 2))
    outer = Merged((Merged(parts), Lattice(1, h + 4, 3)))
    assert outer.hi(0) == h + 4 and outer.hi(1) == h + 7 and outer.lo(0) == -1
    w_parts = (Lattice(0, w, 1), Lattice(-1, 2, 2))
    w_outer = Merged((Merged(w_parts), Lattice(1, h + 4, 3)))
    assert set(w_outer.hi(0).args) == {w, h + 4}


def test_windows_after_a_merge_compose_into_one_and_read_the_same_pixels():
    # a merge (not a lattice: its parts' jumps differ), then a 3/2 window padded 1 and a
    # dilated 3/1 one (dilation 2, padding 2): composed, unit i reads merge units
    # 2·(i − 2) − 1 … 2·(i − 2 + 4) − 1 + 2 = 2i − 5 … 2i + 5 — the same as stepping twice
    merge = Merged((Lattice(0, 1, 1), Lattice(-1, 3, 2)))
    window = Window(kernel=(3, 3), stride=(2, 2), padding=(1, 1))
    dilated = Window(kernel=(3, 3), stride=(1, 1), padding=(2, 2), dilation=(2, 2))
    composed = step(step(merge, window, 0), dilated, 0)
    stepwise = Mapped(Mapped(merge, sliding(3, 2, 1, 1)), sliding(3, 1, 2, 2))
    assert isinstance(composed, Mapped) and composed.inner is merge  # one rule deep
    assert composed.map.first(4) == 3 and composed.map.last(4) == 13 and composed.jump == stepwise.jump == 4
    for i in range(-3, 9):
        assert (composed.lo(i), composed.hi(i)) == (stepwise.lo(i), stepwise.hi(i))
    h = symbol("H")
    assert composed.hi(h) == stepwise.hi(h) and composed.lo(h - 1) == stepwise.lo(h - 1)


@pytest.mark.parametrize("last", ["adaptiveavgpool: {out: 2}", "groupnorm: {groups: 2}"])
def test_a_non_monotone_field_on_symbolic_sizes_is_refused(analyse_text, last):
    """After the interleaving dilated transposed conv the field is not monotone: a unit's
    bounds need every unit read, which cannot be listed when their number is symbolic — an
    adaptive pool's cell 0 reads units 0 … ⌈H'/2⌉ − 1, a group norm units 0 … H' − 1 (the
    first bound a plain 0, the last a formula) — a clear error, not a crash."""
    spec = f"""
        name: t
        input: [2, 12, 9]
        layers:
          - conv: {{out: 2, kernel: 3, stride: 3}}
          - convtranspose: {{out: 2, kernel: 5, stride: 4, dilation: 3}}
          - {last}
        """
    assert analyse_text(spec).layers[-1].rf is not None  # numeric sizes: every unit is listed
    with pytest.raises(OpError, match="interleave needs numeric sizes"):
        analyse_text(spec, input_shape="2,H,W")


def test_lattices_stay_lattices(analyse_text):
    analysis = analyse_text("name: t\ninput: [1, 16, 16]\nlayers: [conv: {out: 1, kernel: 3, stride: 2}, adaptiveavgpool: {out: 7}]\n")
    conv, pool = analysis.layers
    # 7 does not divide 7? it does: ⌊(16 − 3)/2⌋ + 1 = 7 rows → 7 cells of one row each, an ordinary window
    assert pool.rf.regular == (True, True) and pool.rf.size == conv.rf.size and pool.rf.jump == (2, 2)


def test_an_output_position_no_tap_reaches_is_refused(analyse_text):
    # kernel 1, stride 2: odd output rows are the bias alone
    with pytest.raises(OpError, match="no tap reaches output position 1"):
        analyse_text("name: t\ninput: [1, 5, 5]\nlayers: [convtranspose: {out: 1, kernel: 1, stride: 2}]\n")


# --- the adaptive-pool fix at the sizes, on torchvision's own models -----------------
def _torchvision(builder, **kwargs) -> torch.nn.Module:
    """The model built on the meta device (its own init is skipped: `positive` sets every weight),
    with average pooling for max."""
    with torch.device("meta"):
        model = builder(weights=None, **kwargs)
    model = model.to_empty(device="cpu")
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.MaxPool2d):
                setattr(parent, name, torch.nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
    return positive(model).float()


def test_googlenet_aux_pool_unit_2():
    analysis = analyse_file(ROOT / "specs/torchvision/googlenet.yaml")
    pool = next(s for s in analysis.layers if s.name.startswith("aux1.") and s.kind == "adaptiveavgpool")
    # the figure: cell 2 of 14 → 4 averages rows 7 … 10 of inception4a, which see [73, 227]
    # (the old window of 4 stepping 3 read rows 6 … 9: [57, 211])
    assert pool.rf.unit(0, 2) == (73, 227) and pool.rf.unit(1, 2) == (73, 227)
    from torchvision.models import googlenet

    model = _torchvision(googlenet, aux_logits=True, init_weights=False)
    stem = [model.conv1, model.maxpool1, model.conv2, model.conv3, model.maxpool2, model.inception3a, model.inception3b]
    to_4a = torch.nn.Sequential(*stem, model.maxpool3, model.inception4a)
    x = (torch.rand(1, 3, 224, 224) + 0.5).requires_grad_(True)
    # torchvision's InceptionAux pools inception4a's output functionally: the same call here
    cell = torch.nn.functional.adaptive_avg_pool2d(to_4a(x), (4, 4))[0, :, 2, 2].sum()
    (grad,) = torch.autograd.grad(cell, x)
    rows = grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
    cols = grad.abs().sum(dim=(0, 1, 2)).nonzero().flatten()
    # the image ends at 223: PyTorch's gradient is the field, clipped
    assert (rows.min().item(), rows.max().item(), cols.min().item(), cols.max().item()) == (73, 223, 73, 223)


def test_alexnet_first_fully_connected_layer_at_355_by_387():
    analysis = by_name(analyse_file(ROOT / "specs/torchvision/alexnet.yaml", input_shape="3,355,387"))
    fc = analysis["classifier.1"]
    # features: conv1 11/4 p2 → 88×96, pool 3/2 → 43×47, conv2 → 43×47, pool → 21×23, conv3–5 → 21×23, pool → 10×11;
    # field of features' unit r: size 195, jump 32, start 31, i.e. [32r − 66, 32r + 128].
    # The adaptive pool 10 → 6 and 11 → 6 reads every row and column, so fc1 sees rows
    # [−66, 32·9 + 128] and columns [−66, 32·10 + 128] (the old model stopped at 32·7 + 128 = 352 on both)
    assert fc.rf.unit(0, 0) == (-66, 32 * 9 + 128) == (-66, 416)
    assert fc.rf.unit(1, 0) == (-66, 32 * 10 + 128) == (-66, 448)
    from torchvision.models import alexnet

    model = _torchvision(alexnet)
    head = torch.nn.Sequential(model.features, model.avgpool, torch.nn.Flatten(), model.classifier[1])
    x = (torch.rand(1, 3, 355, 387) + 0.5).requires_grad_(True)
    (grad,) = torch.autograd.grad(head(x).sum(), x)
    rows = grad.abs().sum(dim=(0, 1, 3)).nonzero().flatten()
    cols = grad.abs().sum(dim=(0, 1, 2)).nonzero().flatten()
    # PyTorch's gradient, clipped by the image and by floor-mode pooling, reaches row 352 and column 384:
    # inside the field, and past the old field's column 352
    assert (rows.min().item(), rows.max().item(), cols.min().item(), cols.max().item()) == (0, 352, 0, 384)


def test_a_field_given_by_its_numbers_is_a_lattice():
    from archcalc.receptive import ReceptiveField

    # size 3, jump 2, start 1: unit i sees 2i … 2i + 2
    rf = ReceptiveField((3, 5), (2, 4), (1, 2))
    assert rf.unit(0, 2) == (4, 6) and rf.unit(1, 1) == (4, 8) and rf.regular == (True, True)


class _Counted(Lattice):
    """A lattice that counts how often its jump is asked for."""

    asked = 0

    @property
    def jump(self):
        _Counted.asked += 1
        return 2

    @jump.setter
    def jump(self, value):  # the dataclass's __init__ sets the field
        pass


def test_a_chain_of_gates_walks_each_field_once():
    """A squeeze-and-excitation gate merges two paths from one field (the broadcast gate and
    the map itself); 16 gates in a row walked per path would ask the first field 2¹⁶ times
    (EfficientNet-B0 has 16 gates, B7 55), memoised a few times (its own lo and hi ask too)."""
    first = _Counted(0, 2, 2)
    axis = first
    for _ in range(16):
        axis = Merged((Mapped(axis, BROADCAST), axis))
    assert axis.jump == 2 and axis.monotone
    assert (axis.lo(0), axis.hi(0)) == (0, 2)
    assert _Counted.asked <= 4


class _CountingField:
    """An input field that counts how often its jump is read."""

    monotone = True

    def __init__(self):
        self.reads = 0

    @property
    def jump(self):
        self.reads += 1
        return 1

    def lo(self, i):
        return i

    def hi(self, i):
        return i


def test_a_shared_field_is_walked_once_not_once_per_path():
    """A squeeze-and-excitation gate merges a broadcast (whole-map) field with the map's own,
    and every later block shares both: 16 such blocks are 2^16 paths to the input. Each
    field's jump and monotonicity are computed once (EfficientNet-B0 took minutes before)."""
    from archcalc.receptive import BROADCAST, Mapped, Merged

    base = field_ = _CountingField()
    for _ in range(16):
        field_ = Merged((Mapped(field_, BROADCAST), field_))
    assert field_.jump == 1 and field_.monotone
    assert base.reads == 2  # once by each of the two fields that hold it (2**16 uncached)


@pytest.mark.parametrize("size", [(224, 224), (33, 65)])
def test_symbolic_fields_after_gates_are_flat_and_exact(size):
    """EfficientNet-B0 at [3, H, W]: each squeeze-and-excitation gate merges a whole-map
    field into its block's, so a field's bound is a Max/Min over many candidates. Those left
    stay one flat Max (sympy's pairwise simplification took minutes) and, substituted, every
    layer's field is the numeric analysis's."""
    import sympy

    from archcalc.expressions import substitute

    spec = ROOT / "specs" / "torchvision" / "efficientnet_b0.yaml"
    symbolic = analyse_file(spec, input_shape="3,H,W")
    numeric = analyse_file(spec, input_shape=f"3,{size[0]},{size[1]}")
    bindings = {"H": size[0], "W": size[1]}
    for sym, num in zip(symbolic.layers, numeric.layers, strict=True):
        got = [substitute(v, bindings) for v in (*sym.rf.size, *sym.rf.start)]
        assert got == [*num.rf.size, *num.rf.start], sym.name
    fields = [sympy.sympify(value) for layer in symbolic.layers for value in (*layer.rf.size, *layer.rf.start)]
    maxima = [m for value in fields for m in value.atoms(sympy.Max)]
    assert maxima and all(not arg.has(sympy.Max) for m in maxima for arg in m.args)
    # the gates' candidates of one name are compared at every size (signs.extremes): by the
    # classifier one dominates them all, and the whole network's field is a formula, no max
    assert not fields[-4].has(sympy.Max, sympy.Min)


@pytest.mark.parametrize(
    ("window", "units", "text"),
    [
        # unit i reads s·i − p … s·i − p + d(k − 1): k 3, s 2, p 1, d 2 → 2i − 1 … 2i + 3, every 2nd
        ((3, 2, 1, 2), [(-1, 3), (1, 5), (3, 7)], "2·i − 1 … 2·i + 3"),
        ((3, 1, 0, 1), [(0, 2), (1, 3), (2, 4)], "i … i + 2"),  # offsets 0 and +2
        ((2, 1, 1, 1), [(-1, 0), (0, 1), (1, 2)], "i − 1 … i"),  # offsets −1 and 0
        ((2, 3, 0, 2), [(0, 2), (3, 5), (6, 8)], "3·i … 3·i + 2"),
    ],
)
def test_a_sliding_windows_rule_and_its_text(window, units, text):
    rule = sliding(*window)
    assert [(rule.first(i), rule.last(i)) for i in range(3)] == units
    assert rule.rule == text and rule.step == window[3] and rule.ratio == window[1]


def test_a_symbolic_paddings_rule_reads_minus_the_padding():
    padding = sympy.Symbol("P", integer=True, positive=True)
    rule = sliding(3, 1, padding, 1)
    assert rule.rule == "i − P … i − P + 2"
    assert sympy.expand(rule.last(4) - rule.first(4)) == 2
    assert sliding(3, 1, -padding, 1).rule == "i + P … i + P + 2"
    assert sliding(1, 2, 2 * padding, 1).rule == "2·i − 2·P … 2·i − 2·P"


def test_gates_on_one_map_size_keep_the_hull_at_two_terms_a_side(analyse_text):
    """Each squeeze-and-excitation gate adds a constant term to the field after it (every unit
    reads the gate's unit 0, which sees the whole map: rows lo(0) … hi(H − 1)). On one map
    size those terms are a number apart — hi(H − 1) is H + c for a padded 3×3 chain — and are
    reduced to one, so after 20 gates a bound is still max(H + c, i + c′): a query costs the
    same after the 20th gate as after the first, where walking every merge below it made
    gated networks quadratic in depth. Exact: every layer's field at 9×12 is the numeric
    analysis's."""
    from archcalc.expressions import substitute
    from archcalc.receptive import Hull

    block = "- mul: [[globalavgpool, {conv: {out: 2, kernel: 1}}, sigmoid], identity]\n  - conv: {out: 2, kernel: 3, padding: 1}"
    text = "name: t\ninput: [2, SIZE]\nlayers:\n  - conv: {out: 2, kernel: 3, padding: 1}\n  " + "\n  ".join([block] * 20)
    symbolic = analyse_text(text.replace("SIZE", "H, W"))
    numeric = analyse_text(text.replace("SIZE", "9, 12"))
    for sym, num in zip(symbolic.layers, numeric.layers, strict=True):
        got = [substitute(v, {"H": 9, "W": 12}) for v in (*sym.rf.size, *sym.rf.start)]
        assert got == [*num.rf.size, *num.rf.start], sym.name
    last = symbolic.layers[-1].rf.axes[0]
    # 21 padded 3×3 convs: unit i sees i − 21 … i + 21 (slope 1); the last gate, after 20 of
    # them, sees rows −20 … (H − 1) + 20 of the image (slope 0: the same for every unit)
    assert isinstance(last, Hull) and len(last.lows) == len(last.highs) == 2
    h = symbol("H")
    assert set(last.lows) == {(-21, 1), (-20, 0)} and set(last.highs) == {(21, 1), (h + 19, 0)}


def test_a_hulls_jump_is_the_strides_product():
    """hull_gates_and_windows (above): rows 1 (the first gate's merge, max(1, 0)), then ×2
    (the stride-2 conv), ×1 through the residual add, the second gate and the last conv;
    columns a lattice until the second gate, jump 2 from the stride-2 conv on."""
    from archcalc.receptive import Hull

    _, _, rf = spec_hulls({"name": "t", "input": [2, 13, 11], "layers": CASES["hull_gates_and_windows"]})
    assert all(isinstance(axis, Hull) for axis in rf.axes) and rf.jump == (2, 2)


def test_a_gates_bound_with_a_number_among_its_terms_is_a_constant():
    """A broadcast gate whose unit 0 sees up to max(10, H) gives every unit the same bound:
    after it, unit 3 of a lattice i … i is max(10, H, 3) = max(10, H) — the number 10 does
    not move with the unit."""
    from archcalc.receptive import Hull, _Extreme, _merge, summarise

    h = symbol("H")

    class Gate:
        jump = 0
        monotone = True

        def raw_lo(self, i):
            return 0

        def raw_hi(self, i):
            return _Extreme(True, 10, {h: 0})

    gate = ReceptiveField((1, 1), (0, 0), (0, 0), (Gate(), Gate()))
    merged = _merge([summarise((Lattice(0, 0, 1), Lattice(0, 0, 1))), gate], 0, [(1, 9, 9), (1, 1, 1)], (1, 9, 9))
    assert isinstance(merged, Hull) and merged.hi(3) == sympy.Max(10, h) and merged.lo(3) == 0
