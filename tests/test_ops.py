"""Every registered op against hand arithmetic, and the registry's refusals.

``CASES`` pins each rule of each op independently of the golden files: output shape, params,
buffers, macs, connections, every ``flops_by_kind`` entry and the receptive-field step (the
pixels each output unit sees when the input is the image itself), every number worked by
hand in the row's comment. ``test_op_rules_equal_pytorchs`` then checks the same rows'
shape, params, buffers and macs against the PyTorch module of each op: its output, its
``parameters()``, its state dict, and FlopCounterMode / 2. A kind registered without a row
fails ``test_every_registered_op_has_hand_worked_rows``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import pytest

from archcalc.errors import SpecError
from archcalc.ops import REGISTRY, lookup, register
from archcalc.ops.conv import Conv
from archcalc.receptive import INPUT_RF, Lattice, receptive_field, summarise

F = Fraction


class Row(NamedTuple):
    """One op instance on given inputs and everything archcalc says of it, by hand. ``rf``:
    per axis, the input pixels (lo, hi) each output unit sees, then the nominal jump per
    axis; None where the op has no field (a flat input); one unit for a flat output."""

    fields: dict
    inputs: list
    shape: tuple
    params: int = 0
    buffers: int = 0
    macs: int = 0
    connections: int = 0
    flops: dict = {}
    rf: tuple | None = "pointwise"


def pointwise(shape):
    """A pointwise op's field: unit i sees pixel i, jump 1."""
    return ([(i, i) for i in range(shape[1])], [(i, i) for i in range(shape[2])]), (1, 1)


def sliding(n_h, n_w, kernel, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Unit i of a sliding window reads s·i − p … s·i − p + d(k − 1); jump s."""
    axes = tuple(
        [(s * i - p, s * i - p + d * (k - 1)) for i in range(n)]
        for n, k, s, p, d in zip((n_h, n_w), kernel, stride, padding, dilation, strict=True)
    )
    return axes, stride


EVERY_ACTIVATION = ["relu", "tanh", "sigmoid", "relu6", "silu", "hardswish", "hardsigmoid", "mish"]

CASES = {
    "conv": [
        # groups 2: each of the 4 output maps sees 6/2 = 3 maps; ⌊(5 + 2 − 3)/2⌋ + 1 = 3
        Row(
            {"out": 4, "kernel": 3, "stride": 2, "padding": 1, "groups": 2},
            [(6, 5, 5)],
            (4, 3, 3),
            params=4 * 3 * 9 + 4,
            macs=4 * 3 * 9 * 9,
            connections=(27 + 1) * 36,
            flops={"mac": 2 * 108 * 9, "bias": 36},
            rf=sliding(3, 3, (3, 3), (2, 2), (1, 1)),
        ),
        # ⌊(10 + 2 − 3)/2⌋ + 1 = 5; params 4·3·3·8 + 8; macs 5·5·8·(4·9); bias one add per output
        Row(
            {"out": 8, "kernel": 3, "stride": 2, "padding": 1},
            [(4, 10, 10)],
            (8, 5, 5),
            params=4 * 9 * 8 + 8,
            macs=25 * 8 * 36,
            connections=(36 + 1) * 200,
            flops={"mac": 2 * 25 * 8 * 36, "bias": 8 * 25},
            rf=sliding(5, 5, (3, 3), (2, 2), (1, 1)),
        ),
        # 1×7 kernel, padding (0, 3): width kept; groups 4: each output map sees 8/4 = 2 maps; no bias
        Row(
            {"out": 12, "kernel": [1, 7], "padding": [0, 3], "groups": 4, "bias": False},
            [(8, 17, 17)],
            (12, 17, 17),
            params=12 * 2 * 7,
            macs=12 * 2 * 7 * 17 * 17,
            connections=12 * 2 * 7 * 17 * 17,
            flops={"mac": 2 * 12 * 14 * 289},
            rf=sliding(17, 17, (1, 7), padding=(0, 3)),
        ),
        # dilation 2 on 3×3: extent 5, ⌊(20 − 5)/1⌋ + 1 = 16; stride [1, 2]: ⌊(9 − 5)/2⌋ + 1 = 3
        Row(
            {"out": 1, "kernel": 3, "dilation": 2, "stride": [1, 2]},
            [(1, 20, 9)],
            (1, 16, 3),
            params=9 + 1,
            macs=9 * 48,
            connections=10 * 48,
            flops={"mac": 2 * 9 * 48, "bias": 48},
            rf=sliding(16, 3, (3, 3), (1, 2), dilation=(2, 2)),
        ),
        # a connection table (LeNet-5's C3): T = 2 + 2 + 3 = 7 input maps read, 2×2 kernels, ⌊(4 − 2)⌋ + 1 = 3
        Row(
            {"kernel": 2, "connection_table": [[0, 1], [1, 2], [0, 1, 2]]},
            [(3, 4, 4)],
            (3, 3, 3),
            params=7 * 4 + 3,
            macs=7 * 4 * 9,
            connections=(7 * 4 + 3) * 9,
            flops={"mac": 2 * 7 * 4 * 9, "bias": 27},
            rf=sliding(3, 3, (2, 2)),
        ),
    ],
    "maxpool": [
        # ⌊(9 − 3)/2⌋ + 1 = 4; 3·3 − 1 = 8 comparisons per output
        Row({"kernel": 3, "stride": 2}, [(5, 9, 9)], (5, 4, 4), flops={"pool": 8 * 80}, rf=sliding(4, 4, (3, 3), (2, 2))),
        # 2×3 kernel, stride [1, 2], dilation 2: ⌊(7 − 2 − 1)/1⌋ + 1 = 5, ⌊(8 − 4 − 1)/2⌋ + 1 = 2; 2·3 − 1 per output
        Row(
            {"kernel": [2, 3], "stride": [1, 2], "dilation": 2},
            [(2, 7, 8)],
            (2, 5, 2),
            flops={"pool": 5 * 20},
            rf=sliding(5, 2, (2, 3), (1, 2), dilation=(2, 2)),
        ),
        # ceil_mode with padding 1: ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but window 4 would start at 6 ≥ 5 + 1 (PyTorch drops it): 3
        Row(
            {"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True},
            [(1, 5, 5)],
            (1, 3, 3),
            flops={"pool": 3 * 9},
            rf=sliding(3, 3, (2, 2), (2, 2), (1, 1)),
        ),
        # the same on 5×6: rows drop their 4th window as above; columns ⌈(6 + 2 − 2)/2⌉ + 1 = 4, whose
        # last window starts at 6 < 6 + 1: kept
        Row(
            {"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True},
            [(1, 5, 6)],
            (1, 3, 4),
            flops={"pool": 3 * 12},
            rf=sliding(3, 4, (2, 2), (2, 2), (1, 1)),
        ),
    ],
    "avgpool": [
        # ceil_mode: ⌈(10 − 3)/2⌉ + 1 = 5 (the last window starts at 8 < 10); k² = 9 per output
        Row(
            {"kernel": 3, "stride": 2, "ceil_mode": True},
            [(2, 10, 10)],
            (2, 5, 5),
            flops={"pool": 9 * 50},
            rf=sliding(5, 5, (3, 3), (2, 2)),
        ),
        # no stride: PyTorch's default is the kernel, ⌊(6 − 2)/2⌋ + 1 = 3, ⌊(5 − 2)/2⌋ + 1 = 2; padding 1 → ⌊6/2⌋ + 1 = 4, ⌊5/2⌋ + 1 = 3
        Row({"kernel": 2}, [(3, 6, 5)], (3, 3, 2), flops={"pool": 4 * 18}, rf=sliding(3, 2, (2, 2), (2, 2))),
        Row({"kernel": 2, "padding": 1}, [(1, 6, 5)], (1, 4, 3), flops={"pool": 4 * 12}, rf=sliding(4, 3, (2, 2), (2, 2), (1, 1))),
        # a 2×3 window, stride [2, 1]: ⌊(5 − 2)/2⌋ + 1 = 2, ⌊(6 − 3)/1⌋ + 1 = 4; 2·3 = 6 per output
        Row({"kernel": [2, 3], "stride": [2, 1]}, [(1, 5, 6)], (1, 2, 4), flops={"pool": 6 * 8}, rf=sliding(2, 4, (2, 3), (2, 1))),
    ],
    "globalavgpool": [
        # H·W = 30 reads per channel; one window over the whole 6×5 map
        Row({}, [(7, 6, 5)], (7, 1, 1), flops={"pool": 7 * 30}, rf=(([(0, 5)], [(0, 4)]), (1, 1))),
    ],
    "adaptiveavgpool": [
        # 7 rows into 3 bins [⌊7i/3⌋, ⌈7(i+1)/3⌉) = [0,3) [2,5) [4,7), 5 columns into 2: [0,3) [2,5);
        # reads per channel (3 + 3 + 3)·(3 + 3) = 54; nominal jumps 7/3 and 5/2
        Row(
            {"out": [3, 2]},
            [(2, 7, 5)],
            (2, 3, 2),
            flops={"pool": 2 * 54},
            rf=(([(0, 2), (2, 4), (4, 6)], [(0, 2), (2, 4)]), (F(7, 3), F(5, 2))),
        ),
        # 8 → 2 and 6 → 2 divide: an ordinary 4×3/4×3 pooling, every pixel read once
        Row({"out": 2}, [(3, 8, 6)], (3, 2, 2), flops={"pool": 3 * 48}, rf=sliding(2, 2, (4, 3), (4, 3))),
        # out [1, 3] on 5×7: 3 does not divide 7, so both axes follow the bins: rows 0 … 4 in one cell (jump 5),
        # columns [0, 3) [2, 5) [4, 7) (jump 7/3); 5·(3 + 3 + 3) reads per channel
        Row({"out": [1, 3]}, [(2, 5, 7)], (2, 1, 3), flops={"pool": 2 * 5 * 9}, rf=(([(0, 4)], [(0, 2), (2, 4), (4, 6)]), (5, F(7, 3)))),
        # out 1: one window over everything
        Row({"out": 1}, [(1, 7, 5)], (1, 1, 1), flops={"pool": 35}, rf=(([(0, 6)], [(0, 4)]), (7, 5))),
    ],
    "adaptivemaxpool": [
        # adaptiveavgpool's bins, each cell area − 1 comparisons: 2·(54 − 3·2)
        Row(
            {"out": [3, 2]},
            [(2, 7, 5)],
            (2, 3, 2),
            flops={"pool": 2 * (54 - 6)},
            rf=(([(0, 2), (2, 4), (4, 6)], [(0, 2), (2, 4)]), (F(7, 3), F(5, 2))),
        ),
    ],
    "subsample": [
        # 2 params per map; 1 mac per output (the coefficient), 2·2 − 1 window additions, one bias; (4 + 1) links per output
        Row(
            {"kernel": 2},
            [(3, 8, 8)],
            (3, 4, 4),
            params=6,
            macs=48,
            connections=5 * 48,
            flops={"mac": 96, "pool": 3 * 48, "bias": 48},
            rf=sliding(4, 4, (2, 2), (2, 2)),
        ),
        # a 2×3 window (stride = kernel): 2 rows, 2 columns; (6 + 1) links and 6 − 1 window additions per output
        Row(
            {"kernel": [2, 3]},
            [(2, 4, 6)],
            (2, 2, 2),
            params=4,
            macs=8,
            connections=7 * 8,
            flops={"mac": 16, "pool": 5 * 8, "bias": 8},
            rf=sliding(2, 2, (2, 3), (2, 3)),
        ),
    ],
    "linear": [
        # 20·10 weights + 10 biases; (20 + 1)·10 links; one bias add per output
        Row({"out": 10}, [(20,)], (10,), params=210, macs=200, connections=210, flops={"mac": 400, "bias": 10}, rf=None),
        Row({"out": 10, "bias": False}, [(20,)], (10,), params=200, macs=200, connections=200, flops={"mac": 400}, rf=None),
        # no bias on a (2, 2, 2) map: 2·3 weights, 2·3·4 products and links
        Row(
            {"out": 3, "bias": False}, [(2, 2, 2)], (3, 2, 2), params=6, macs=24, connections=24, flops={"mac": 48}, rf=pointwise((3, 2, 2))
        ),
        # on each of the 3·2 positions of a (6, 3, 2) map, as a 1×1 conv: 6·4 + 4 params, 6·4·6 macs
        Row(
            {"out": 4},
            [(6, 3, 2)],
            (4, 3, 2),
            params=28,
            macs=144,
            connections=28 * 6,
            flops={"mac": 288, "bias": 24},
            rf=pointwise((4, 3, 2)),
        ),
    ],
    "rbf": [
        # fixed (buffer) weights 84·10; one squared difference accumulated per weight, plus its subtraction
        Row({"out": 10}, [(84,)], (10,), buffers=840, macs=840, connections=840, flops={"mac": 1680, "rbf": 840}, rf=None),
    ],
    "bn": [
        # γ, β and the running mean and variance, 16 each; one scale and one shift per element
        Row({}, [(16, 4, 4)], (16, 4, 4), params=32, buffers=32, flops={"norm": 2 * 256}),
        Row({"affine": False}, [(3, 2, 2)], (3, 2, 2), buffers=6, flops={"norm": 24}),
        Row({}, [(10,)], (10,), params=20, buffers=20, flops={"norm": 20}, rf=None),
    ],
    "lrn": [
        # n = 5: 2·5 + 3 = 13 per element; n = 3: 9
        Row({}, [(16, 4, 4)], (16, 4, 4), flops={"norm": 13 * 256}),
        Row({"size": 3}, [(4, 2, 2)], (4, 2, 2), flops={"norm": 9 * 16}),
    ],
    **{kind: [Row({}, [(3, 4, 4)], (3, 4, 4), flops={"activation": 48})] for kind in EVERY_ACTIVATION},
    # exp, sum and divide per feature
    "softmax": [Row({}, [(10,)], (10,), flops={"activation": 30}, rf=None)],
    "dropout": [Row({"p": 0.3}, [(10,)], (10,), rf=None), Row({}, [(2, 3, 3)], (2, 3, 3))],
    "identity": [Row({}, [(3, 4, 4)], (3, 4, 4))],
    # every feature may mix every position: one unit sees rows 0 … 3, columns 0 … 4
    "flatten": [Row({}, [(3, 4, 5)], (60,), rf=(([(0, 3)], [(0, 4)]), (1, 1))), Row({}, [(7,)], (7,), rf=None)],
    "concat": [Row({}, [(3, 4, 4), (5, 4, 4)], (8, 4, 4)), Row({}, [(1, 2, 3), (2, 2, 3), (4, 2, 3)], (7, 2, 3))],
    # n − 1 = 2 additions per element
    "add": [Row({}, [(3, 4, 4)] * 3, (3, 4, 4), flops={"add": 96}), Row({}, [(5,), (5,)], (5,), flops={"add": 5}, rf=None)],
    # a fixed factor, not a weight: nothing trainable, no weight products; one multiply per element
    "scale": [Row({"factor": 0.17}, [(3, 4, 4)], (3, 4, 4), flops={"scale": 48})],
    "convtranspose": [
        # kernel 3, stride 3, dilation 2, padding 1 (a stride that does not divide 2·padding): (2 − 1)·3 − 2 + 4 + 1 = 6;
        # o = 3i − 1 + 2t lands inside for (0, 1), (0, 2), (1, 0), (1, 1): N = 4; unit o reads i = (o + 1 − 2t)/3: −1, 0, 1, 0, 1, 2
        Row(
            {"out": 1, "kernel": 3, "stride": 3, "dilation": 2, "padding": 1, "bias": False},
            [(1, 2, 2)],
            (1, 6, 6),
            params=9,
            macs=36,
            connections=16,
            flops={"mac": 72},
            rf=(([(i, i) for i in (-1, 0, 1, 0, 1, 2)],) * 2, (F(1, 3), F(1, 3))),
        ),
        # kernel 2, stride 2, dilation 3, padding 1: (3 − 1)·2 − 2 + 3 + 1 = 6; o = 2i − 1 + 3t lands inside for
        # (0, 1), (1, 0), (1, 1), (2, 0): N = 4 per axis; unit o reads i = (o + 1 − 3t)/2: −1, 1, 0, 2, 1, 3
        Row(
            {"out": 1, "kernel": 2, "stride": 2, "dilation": 3, "padding": 1, "bias": False},
            [(1, 3, 3)],
            (1, 6, 6),
            params=4,
            macs=36,
            connections=16,
            flops={"mac": 72},
            rf=(([(i, i) for i in (-1, 1, 0, 2, 1, 3)],) * 2, (F(1, 2), F(1, 2))),
        ),
        # stride [1, 2], padding 1, no bias: rows (3 − 1) − 2 + 2 + 1 = 3, columns (3 − 1)·2 − 2 + 2 + 1 = 5; links per axis: of
        # the 3·3 (i, t) pairs, rows o = i − 1 + t miss (0, 0) and (2, 2), columns o = 2i − 1 + t miss (0, 0) and (2, 2): 7 each;
        # rows as a 3×3 window with padding 3 − 1 − 1 = 1, columns ⌈(o − 1)/2⌉ … ⌊(o + 1)/2⌋
        Row(
            {"out": 1, "kernel": 3, "stride": [1, 2], "padding": 1, "bias": False},
            [(1, 3, 3)],
            (1, 3, 5),
            params=9,
            macs=81,
            connections=7 * 7,
            flops={"mac": 162},
            rf=(([(o - 1, o + 1) for o in range(3)], [(0, 0), (0, 1), (1, 1), (1, 2), (2, 2)]), (1, F(1, 2))),
        ),
        # (5 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1 = 10; weight (4, 6, 3, 3) + 6 biases; macs 5·5 input units × 4·6·9;
        # links per axis: i = 0 reaches o = 0, 1 (o = −1 is cropped), i = 1…4 all 3 taps: N = 2 + 4·3 = 14;
        # output o reads i = (o + 1 − t)/2 for the taps t = 0, 1, 2 where that is whole: o = 2m → m, o = 2m + 1 → m, m + 1
        Row(
            {"out": 6, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1},
            [(4, 5, 5)],
            (6, 10, 10),
            params=4 * 6 * 9 + 6,
            macs=25 * 4 * 6 * 9,
            connections=6 * 4 * 14 * 14 + 6 * 10 * 10,
            flops={"mac": 2 * 25 * 216, "bias": 600},
            rf=(([(o // 2, (o + 1) // 2) for o in range(10)], [(o // 2, (o + 1) // 2) for o in range(10)]), (F(1, 2), F(1, 2))),
        ),
        # stride 1, padding 1: (4 − 1) − 2 + 2 + 1 = 4, an ordinary 3×3 window with padding 3 − 1 − 1 = 1;
        # links: of the 4·3 (i, t) pairs, o = i − 1 + t misses only (0, 0) and (3, 2): N = 10; groups 1
        Row(
            {"out": 3, "kernel": 3, "padding": 1},
            [(2, 4, 4)],
            (3, 4, 4),
            params=2 * 3 * 9 + 3,
            macs=16 * 54,
            connections=3 * 2 * 10 * 10 + 3 * 16,
            flops={"mac": 2 * 16 * 54, "bias": 48},
            rf=sliding(4, 4, (3, 3), padding=(1, 1)),
        ),
        # kernel 2, stride 2, dilation 3, no bias, groups 2: (3 − 1)·2 + 3·1 + 1 = 8; o = 2i + 3t reaches 0, 3, 2, 5, 4, 7
        # (N = 6, every pair); unit o reads i = (o − 3t)/2: 0, −1, 1, 0, 2, 1, 3, 2 (interleaved)
        Row(
            {"out": 2, "kernel": 2, "stride": 2, "dilation": 3, "groups": 2, "bias": False},
            [(4, 3, 3)],
            (2, 8, 8),
            params=4 * 1 * 4,
            macs=9 * 16,
            connections=2 * 2 * 6 * 6,
            flops={"mac": 2 * 9 * 16},
            rf=(([(i, i) for i in (0, -1, 1, 0, 2, 1, 3, 2)],) * 2, (F(1, 2), F(1, 2))),
        ),
    ],
    "upsample": [
        # nearest ×2: ⌊4·2⌋ = 8, ⌊5·2⌋ = 10; unit i reads row ⌊i·4/8⌋ = ⌊i/2⌋; a copy, no flops
        Row(
            {"scale": 2},
            [(3, 4, 5)],
            (3, 8, 10),
            rf=(([(i // 2, i // 2) for i in range(8)], [(i // 2, i // 2) for i in range(10)]), (F(1, 2), F(1, 2))),
        ),
        # bilinear to 3×4 from 5×2: 7 flops per output; rows σ = 5/3: x = (i + ½)·5/3 − ½ = 1/3, 2, 11/3 → rows 0…1, 2, 3…4;
        # columns σ = 1/2: x = max((i + ½)/2 − ½, 0) = 0, 1/4, 3/4, 5/4 → 0, 0…1, 0…1, 1…min(2, 1)
        Row(
            {"size": [3, 4], "mode": "bilinear"},
            [(2, 5, 2)],
            (2, 3, 4),
            flops={"resample": 7 * 24},
            rf=(([(0, 1), (2, 2), (3, 4)], [(0, 0), (0, 1), (0, 1), (1, 1)]), (F(5, 3), F(1, 2))),
        ),
        # align_corners ×2 from 3: x = i·2/5 = 0, 2/5, 4/5, 6/5, 8/5, 2; the jump is the step 2/5
        Row(
            {"scale": 2, "mode": "bilinear", "align_corners": True},
            [(1, 3, 3)],
            (1, 6, 6),
            flops={"resample": 7 * 36},
            rf=(([(0, 0), (0, 1), (0, 1), (1, 2), (1, 2), (2, 2)],) * 2, (F(2, 5), F(2, 5))),
        ),
        # to the reference's 7×6, nearest: rows ⌊3i/7⌋, columns ⌊3i/6⌋; a scale of 3/2: ⌊4·3/2⌋ = 6, ⌊5·3/2⌋ = 7
        Row(
            {},
            [(2, 3, 3), (5, 7, 6)],
            (2, 7, 6),
            rf=(([(3 * i // 7,) * 2 for i in range(7)], [(i // 2,) * 2 for i in range(6)]), (F(3, 7), F(1, 2))),
        ),
        Row(
            {"scale": "3/2"},
            [(1, 4, 5)],
            (1, 6, 7),
            rf=(([(2 * i // 3,) * 2 for i in range(6)], [(5 * i // 7,) * 2 for i in range(7)]), (F(2, 3), F(5, 7))),
        ),
        # a scale per axis, [2, 3/2] on 3×4: ⌊3·2⌋ = 6 rows, ⌊4·3/2⌋ = 6 columns (each axis its own factor);
        # rows ⌊i·3/6⌋ = ⌊i/2⌋, columns ⌊i·4/6⌋ = ⌊2i/3⌋
        Row(
            {"scale": [2, "3/2"]},
            [(1, 3, 4)],
            (1, 6, 6),
            rf=(([(i // 2,) * 2 for i in range(6)], [(2 * i // 3,) * 2 for i in range(6)]), (F(1, 2), F(2, 3))),
        ),
        # align_corners to one row and column: the step (H − 1)/(H_out − 1) is 0/0, so x = 0 (PyTorch's
        # scale is 0 there) and unit 0 reads row 0 alone; the nominal jump is σ = H/H_out = 4 and 3/1 = 3
        Row(
            {"size": [1, 1], "mode": "bilinear", "align_corners": True},
            [(2, 4, 3)],
            (2, 1, 1),
            flops={"resample": 7 * 2},
            rf=(([(0, 0)], [(0, 0)]), (4, 3)),
        ),
    ],
    # a squeeze-and-excitation gate (4, 1, 1) broadcast over (4, 3, 5): one multiply per output; every unit
    # reads the gate's one unit (pixel 0) and its own pixel
    "mul": [
        # every input 1 along H and W: the output is 1 there too (a gate times a gate)
        Row({}, [(4, 1, 1), (1, 1, 1)], (4, 1, 1), flops={"mul": 4}, rf=(([(0, 0)], [(0, 0)]), (1, 1))),
        # spatial attention: a (1, 3, 5) map broadcast over the channels; every unit reads its own pixel
        Row({}, [(4, 3, 5), (1, 3, 5)], (4, 3, 5), flops={"mul": 60}),
        Row(
            {}, [(4, 1, 1), (4, 3, 5)], (4, 3, 5), flops={"mul": 60}, rf=(([(0, i) for i in range(3)], [(0, i) for i in range(5)]), (1, 1))
        ),
        Row({}, [(2, 3, 3)] * 3, (2, 3, 3), flops={"mul": 2 * 18}),
    ],
    "leakyrelu": [Row({"slope": 0.1}, [(3, 4, 4)], (3, 4, 4), flops={"activation": 48})],
    "prelu": [
        # one learnt slope per channel, or one in all
        Row({"per_channel": True}, [(3, 4, 4)], (3, 4, 4), params=3, flops={"activation": 48}),
        Row({}, [(3, 4, 4)], (3, 4, 4), params=1, flops={"activation": 48}),
        # per channel on a flat vector: one per feature
        Row({"per_channel": True}, [(6,)], (6,), params=6, flops={"activation": 6}, rf=None),
    ],
    "elu": [Row({"alpha": 0.5}, [(3, 4, 4)], (3, 4, 4), flops={"activation": 48})],
    "gelu": [
        Row({"approximate": "tanh"}, [(3, 4, 4)], (3, 4, 4), flops={"activation": 48}),
        Row({}, [(6,)], (6,), flops={"activation": 6}, rf=None),
    ],
    "hardtanh": [Row({"min": 0, "max": 6}, [(3, 4, 4)], (3, 4, 4), flops={"activation": 48})],
    "layernorm": [
        # γ and β over the 8 channels at each position; 5 + 2 (affine) flops per element
        Row({}, [(8, 3, 3)], (8, 3, 3), params=2 * 8, flops={"norm": 7 * 72}),
        Row({"bias": False}, [(8, 3, 3)], (8, 3, 3), params=8, flops={"norm": 7 * 72}),
        Row({"affine": False}, [(8, 3, 3)], (8, 3, 3), flops={"norm": 5 * 72}),
        Row({}, [(10,)], (10,), params=20, flops={"norm": 70}, rf=None),
    ],
    "groupnorm": [
        # as layernorm; every unit depends on the whole 3×3 map (the group's statistics), jump 1
        Row({"groups": 4}, [(8, 3, 3)], (8, 3, 3), params=2 * 8, flops={"norm": 7 * 72}, rf=(([(0, 2)] * 3, [(0, 2)] * 3), (1, 1))),
        Row({"groups": 2, "affine": False}, [(2, 2, 3)], (2, 2, 3), flops={"norm": 5 * 12}, rf=(([(0, 1)] * 2, [(0, 2)] * 3), (1, 1))),
    ],
    # one learnt factor per channel (or feature), one multiply per element
    "layerscale": [
        Row({}, [(8, 3, 3)], (8, 3, 3), params=8, flops={"scale": 72}),
        Row({}, [(5,)], (5,), params=5, flops={"scale": 5}, rf=None),
    ],
    # channels 2, 3, 4; features 3 … 7 of 8
    "slice": [Row({"start": 2, "stop": 5}, [(8, 3, 3)], (3, 3, 3)), Row({"start": 3}, [(8,)], (5,), rf=None)],
    # 5 channels in chunks of ⌈5/4⌉ = 2: [0, 2) [2, 4) [4, 5) — chunk 2 has one; 7 in chunks of 3: chunk 1 has 3
    "chunk": [Row({"chunks": 4, "index": 2}, [(5, 3, 3)], (1, 3, 3)), Row({"chunks": 3, "index": 1}, [(7, 1, 2)], (3, 1, 2))],
    "channel_shuffle": [Row({"groups": 2}, [(6, 3, 3)], (6, 3, 3))],
    "pad": [
        # top 1, bottom 2, left 3, right 4: 5 + 3 = 8 rows, 5 + 7 = 12 columns; unit i is pixel i − top (i − left)
        Row({"padding": [1, 2, 3, 4]}, [(2, 5, 5)], (2, 8, 12), rf=sliding(8, 12, (1, 1), padding=(1, 3))),
        # one number: every side; 2 + 2 rows, 3 + 2 columns
        Row({"padding": 1}, [(1, 2, 3)], (1, 4, 5), rf=sliding(4, 5, (1, 1), padding=(1, 1))),
        # [h, w]: top = bottom = 1, left = right = 2
        Row({"padding": [1, 2]}, [(1, 4, 4)], (1, 6, 8), rf=sliding(6, 8, (1, 1), padding=(1, 2))),
    ],
    "crop": [
        # first row ⌊(9 − 4)/2⌋ = 2, first column ⌊(8 − 3)/2⌋ = 2: unit i is pixel i + 2
        Row({"size": [4, 3]}, [(2, 9, 8)], (2, 4, 3), rf=sliding(4, 3, (1, 1), padding=(-2, -2))),
        # to the reference's 5×7: offsets ⌊4/2⌋ = 2 and ⌊1/2⌋ = 0
        Row({}, [(2, 9, 8), (1, 5, 7)], (2, 5, 7), rf=sliding(5, 7, (1, 1), padding=(-2, 0))),
    ],
    "stochastic_depth": [Row({"p": 0.2}, [(3, 4, 4)], (3, 4, 4))],
}
CASE_IDS = [(kind, index) for kind in sorted(CASES) for index in range(len(CASES[kind]))]


def _case(kind: str, index: int):
    row = CASES[kind][index]
    return row, REGISTRY[kind](**row.fields)


def _field_units(op, row: Row, input_field):
    """The pixels (lo, hi) each output unit sees per axis, and the jumps, for inputs whose
    fields are ``input_field`` (a flat input has none)."""
    fields = [input_field if len(shape) == 3 else None for shape in row.inputs]
    rf = receptive_field(fields, op.window(row.inputs), row.inputs, row.shape)
    if rf is None:
        return None
    counts = row.shape[1:] if len(row.shape) == 3 else (1, 1)
    return tuple([rf.unit(axis, i) for i in range(n)] for axis, n in enumerate(counts)), rf.jump


def test_every_registered_op_has_hand_worked_rows():
    assert set(CASES) == set(REGISTRY)
    assert all(CASES[kind] for kind in CASES)


@pytest.mark.parametrize(("kind", "index"), CASE_IDS)
def test_op_rules_against_hand_arithmetic(kind, index):
    row, op = _case(kind, index)
    out = op.output_shape(row.inputs)
    assert out == row.shape
    assert op.params(row.inputs, out) == row.params
    assert op.buffers(row.inputs, out) == row.buffers
    assert op.macs(row.inputs, out) == row.macs
    assert op.connections(row.inputs, out) == row.connections
    flops = op.flops(row.inputs, out)
    assert flops == row.flops
    assert all(isinstance(v, int) for v in flops.values())


@pytest.mark.parametrize(("kind", "index"), CASE_IDS)
def test_op_receptive_field_step_against_hand_arithmetic(kind, index):
    """The field each output unit sees, on the image itself (unit i is pixel i) and on an
    input whose unit x already sees the pixels 2x − 1 … 2x + 2 (jump 2): there every (lo, hi)
    becomes (2·lo − 1, 2·hi + 2) and every jump doubles."""
    row, op = _case(kind, index)
    expected = pointwise(row.shape) if row.rf == "pointwise" else row.rf
    assert _field_units(op, row, INPUT_RF) == expected
    wide = summarise((Lattice(-1, 2, 2), Lattice(-1, 2, 2)))
    if expected is None:
        assert _field_units(op, row, wide) is None
        return
    axes, jumps = expected
    stretched = tuple([(2 * lo - 1, 2 * hi + 2) for lo, hi in units] for units in axes), tuple(2 * j for j in jumps)
    assert _field_units(op, row, wide) == stretched


#: the quantities an op's rule computes without a formula to substitute into (`explain` says so):
#: ops that check their shape themselves, and a product that broadcasts
STATED = {
    ("channel_shuffle", 0): {"C_out", "H_out", "W_out"},
    ("groupnorm", 0): {"C_out", "H_out", "W_out"},
    ("groupnorm", 1): {"C_out", "H_out", "W_out"},
    ("mul", 0): {"C_out", "H_out", "W_out"},
    ("mul", 1): {"C_out", "H_out", "W_out"},
    ("mul", 2): {"C_out", "H_out", "W_out"},
}


@pytest.mark.parametrize(("kind", "index"), CASE_IDS)
def test_op_derivations_give_the_hand_numbers(kind, index):
    """What `explain` prints: each quantity's formula, substituted, gives the row's number."""
    row, op = _case(kind, index)
    derivations = op.derivations(row.inputs, row.shape)
    symbols = ("C_out", "H_out", "W_out") if len(row.shape) == 3 else ("F_out",)
    expected = dict(zip(symbols, row.shape, strict=True))
    expected.update(params=row.params, buffers=row.buffers, macs=row.macs, connections=row.connections)
    assert {d.symbol: d.result for d in derivations} == expected
    assert {d.symbol for d in derivations if not d.substituted} == STATED.get((kind, index), set())


def _torch_counts(op, row: Row):
    """The PyTorch module's output shape, parameters, state (buffers but BatchNorm's step
    counter) and FlopCounterMode flops, on a small random input."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    module = op.to_torch(row.inputs, row.shape).eval()
    inputs = [torch.randn(1, *shape) for shape in row.inputs]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = module(*inputs)
    names = {name for name, _ in module.named_parameters()}
    state = module.state_dict()
    buffers = sum(t.numel() for name, t in state.items() if name not in names and not name.endswith("num_batches_tracked"))
    params = sum(p.numel() for p in module.parameters())
    return tuple(out.shape[1:]), params, buffers, counter.get_total_flops()


@pytest.mark.parametrize(("kind", "index"), CASE_IDS)
def test_op_rules_equal_pytorchs(kind, index):
    row, op = _case(kind, index)
    shape, params, buffers, flops = _torch_counts(op, row)
    assert (shape, params, buffers, flops) == (row.shape, row.params, row.buffers, 2 * row.macs)


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_op_documents_its_formula(kind):
    doc = REGISTRY[kind].__doc__ or ""
    assert len(doc.strip()) > 20, f"{kind} must state its rules in its docstring"


def test_unknown_op_is_an_error_with_a_suggestion():
    with pytest.raises(SpecError, match="did you mean 'conv'"):
        lookup("convv")


def test_registering_a_kind_twice_is_an_error():
    with pytest.raises(ValueError, match="registered twice"):
        register(Conv)


@pytest.mark.parametrize("symbolic_axis", [1, 2])
def test_ceil_mode_on_a_symbolic_size_is_stated_not_derived(symbolic_axis):
    """With ceil_mode, a symbolic height or width makes the size piecewise (the last window may
    start in the padding): `explain` states the rule's result instead of a formula. 2×2/2 with
    padding 1 on 5 gives 3 (PyTorch drops the window that would start at 6 ≥ 5 + 1)."""
    from archcalc.expressions import substitute, symbol

    op = REGISTRY["maxpool"](kernel=2, stride=2, padding=1, ceil_mode=True)
    shape = [1, 5, 5]
    shape[symbolic_axis] = symbol("H")
    out = op.output_shape([tuple(shape)])
    derivations = {d.symbol: d for d in op.derivations([tuple(shape)], out)}
    assert {s for s, d in derivations.items() if not d.substituted} == {"H_out", "W_out"}
    assert [substitute(derivations[s].result, {"H": 5}) for s in ("C_out", "H_out", "W_out")] == [1, 3, 3]


def test_pool_defaults_compute_pytorchs_function():
    """The defaults no count depends on but the torch module computes: average pooling counts
    the zero padding in its divisor (PyTorch's count_include_pad=True), and stride defaults to
    the kernel, as nn.AvgPool2d's and nn.MaxPool2d's do."""
    import torch

    x = torch.randn(1, 2, 5, 6)
    for kind, reference in (("avgpool", torch.nn.AvgPool2d(2, padding=1)), ("maxpool", torch.nn.MaxPool2d(2, padding=1))):
        op = REGISTRY[kind](kernel=2, padding=1)
        out = op.output_shape([(2, 5, 6)])
        assert torch.equal(op.to_torch([(2, 5, 6)], out)(x), reference(x)), kind


def test_a_mul_states_that_every_later_input_broadcasts_against_the_first():
    """What the size plots check (archcalc.growth): along every axis, channels included, each
    later input is input 0's size or 1, or input 0 is 1 there (a gate (C, 1, 1) on a map)."""
    from archcalc.expressions import symbol

    h, w, h2 = symbol("H"), symbol("W"), symbol("H2")
    inputs = [(2, h, w), (2, 1, 1), (1, h2, w)]
    expected = [(2, "broadcasts", 2), (1, "broadcasts", h), (1, "broadcasts", w)]  # input 1 against input 0
    expected += [(1, "broadcasts", 2), (h2, "broadcasts", h), (w, "broadcasts", w)]  # input 2 against input 0
    assert REGISTRY["mul"].size_conditions(inputs, (2, h, w)) == expected


def test_the_ops_flags():
    """The class flags that change what archcalc prints or plans. weighted: a layer the papers
    count in a network's depth (LeNet-5's 7 are C1, S2, C3, S4, C5, F6 and the RBF output);
    minor: no weights and no window of its own, drawn small and left out of block summaries;
    aliases_input: the output may be a view of the input (an in-place op must not overwrite
    it); overwrites_input: PyTorch may run it in place (ReLU(inplace=True), `out += identity`)."""
    flags = lambda name: {kind for kind, cls in REGISTRY.items() if getattr(cls, name)}  # noqa: E731
    assert flags("weighted") == {"conv", "convtranspose", "subsample", "linear", "rbf"}
    windows = {"maxpool", "avgpool", "globalavgpool", "adaptiveavgpool", "adaptivemaxpool"}
    assert set(REGISTRY) - flags("minor") == flags("weighted") | windows
    assert flags("aliases_input") == {"dropout", "stochastic_depth", "identity", "flatten", "slice", "chunk", "channel_shuffle", "crop"}
    # ReLU6, SiLU, Hardswish, Hardsigmoid too: torchvision builds them with inplace=True in
    # MobileNet, EfficientNet and RegNet (an `inplace: false` field where it does not)
    assert flags("overwrites_input") == {"relu", "relu6", "silu", "hardswish", "hardsigmoid", "add"}
    assert {kind for kind, cls in REGISTRY.items() if cls.input_rank == 3} == {"lrn", "groupnorm", "channel_shuffle", "pad"}
    assert {kind: cls.arity for kind, cls in REGISTRY.items() if cls.arity != 1} == {
        **{kind: None for kind in ("concat", "add", "mul")},  # two or more
        **{kind: 2 for kind in ("upsample", "crop")},  # one, or two with a reference input
    }


# --- refusals: every rule's limits, each by hand -------------------------------------------------
REFUSED_SHAPES = [
    # 4 output maps in 3 groups; 6 input maps in 4 groups
    ("conv", {"out": 4, "kernel": 1, "groups": 3}, [(6, 4, 4)], "groups must divide the output channels: expected a divisor of 4"),
    ("conv", {"out": 4, "kernel": 1, "groups": 4}, [(6, 4, 4)], "groups must divide the input channels: expected a divisor of 6"),
    ("conv", {"kernel": 1, "connection_table": [[0], [3]]}, [(3, 4, 4)], "reads input map 3, but the input has 3 maps"),
    # a 3×3 kernel dilated by 2 spans 5 rows; the input has 4 (its width, 9, would do)
    (
        "conv",
        {"out": 1, "kernel": 3, "dilation": 2},
        [(1, 4, 9)],
        r"larger than the padded input along height: expected at most 4 \+ 2×0 = 4, found 5",
    ),
    ("conv", {"out": 1, "kernel": 3}, [(1, 9, 2)], r"along width: expected at most 2 \+ 2×0 = 2, found 3"),
    ("avgpool", {"kernel": 5}, [(1, 9, 4)], "along width: expected at most 4"),
    # padding counts twice: 2 + 2·1 = 4 < 5
    ("conv", {"out": 1, "kernel": 5, "padding": 1}, [(1, 9, 2)], r"along width: expected at most 2 \+ 2×1 = 4, found 5"),
    ("conv", {"out": 1, "kernel": 1}, [(10,)], r"conv expects a \(C, H, W\) feature map, found \(10,\)"),
    ("globalavgpool", {}, [(10,)], "expects a"),
    ("adaptiveavgpool", {"out": 2}, [(10,)], "expects a"),
    ("subsample", {"kernel": 2}, [(10,)], "expects a"),
    ("linear", {"out": 2}, [(3, 4)], r"linear expects a flat \(features,\) vector, found \(3, 4\); add `flatten` before it"),
    ("rbf", {"out": 2}, [(3, 4, 4)], "rbf expects a flat"),
    ("lrn", {}, [(10,)], "lrn expects a"),
    ("groupnorm", {"groups": 3}, [(8, 2, 2)], "groups must divide the channels: expected a divisor of 8, found groups=3"),
    ("channel_shuffle", {"groups": 4}, [(6, 2, 2)], "groups must divide the channels: expected a divisor of 6"),
    ("pad", {"padding": 1}, [(10,)], "pad expects a"),
    ("slice", {"start": 2, "stop": 9}, [(8, 2, 2)], "slice 2:9 is outside the input's 8 channels"),
    ("slice", {"start": 8}, [(8, 2, 2)], "slice 8:8 is outside"),
    ("slice", {"start": 1}, [(2, 3)], r"expects a \(C, H, W\) feature map or a flat vector"),
    # 6 channels in chunks of 2 make chunks 0, 1, 2
    ("chunk", {"chunks": 4, "index": 3}, [(6, 2, 2)], "chunk 3 does not exist: 6 channels in chunks of 2 make 3 chunks"),
    ("crop", {"size": [5, 2]}, [(1, 4, 4)], "cannot grow the height: expected at most 4, found 5"),
    ("crop", {"size": [2, 5]}, [(1, 4, 4)], "cannot grow the width: expected at most 4, found 5"),
    ("crop", {}, [(1, 4, 4)], "found 1 input$"),
    ("crop", {"size": 2}, [(1, 4, 4), (1, 2, 2)], "one input when its size is given; found 2 inputs"),
    ("upsample", {}, [(1, 4, 4)], "found 1 input$"),
    ("upsample", {"scale": 2}, [(1, 4, 4), (1, 8, 8)], "found 2 inputs"),
    ("upsample", {}, [(1, 4, 4), (16,)], "expects a"),
    (
        "concat",
        {},
        [(1, 4, 4), (1, 4, 5)],
        r"concat needs matching spatial sizes: expected \(1, 4, 4\) \(input 0\), found \(1, 4, 5\) \(input 1\)",
    ),
    ("concat", {}, [(1, 4, 4), (4,)], "concat expects a"),
    ("add", {}, [(1, 4, 4), (2, 4, 4)], "add needs matching channels"),
    ("add", {}, [(1, 4, 4), (1, 4, 4), (1, 3, 4)], r"add needs matching spatial sizes: .* \(input 2\)"),
    ("add", {}, [(1, 4, 4), (16,)], "add inputs must have the same rank"),
    ("mul", {}, [(2, 4, 4), (3, 4, 4)], "mul inputs do not broadcast: along axis 0 each must be 2 or 1"),
    ("mul", {}, [(2, 1, 4), (2, 3, 4), (2, 5, 4)], "along axis 1 each must be 3 or 1"),
    ("mul", {}, [(2, 4, 4), (2, 4)], r"mul inputs must have the same rank: input 0 is \(2, 4, 4\), input 1 is \(2, 4\)"),
    ("concat", {}, [(1, 4, 4), (1, 5, 4)], r"concat needs matching spatial sizes: .* found \(1, 5, 4\) \(input 1\)"),
    ("convtranspose", {"out": 4, "kernel": 1, "groups": 3}, [(6, 4, 4)], "groups must divide the output channels"),
    ("convtranspose", {"out": 4, "kernel": 1, "groups": 4}, [(6, 4, 4)], "groups must divide the input channels"),
    # kernel 1, stride 2: odd outputs are reached by no tap; kernel 2, stride 2, dilation 2: nor are they
    ("convtranspose", {"out": 2, "kernel": 1, "stride": 2}, [(1, 4, 4)], r"no tap reaches output position 1 \(mod 2\) along axis 0"),
    ("convtranspose", {"out": 2, "kernel": 2, "stride": [1, 2], "dilation": 2}, [(1, 4, 4)], "along axis 1"),
]


@pytest.mark.parametrize(("kind", "fields", "inputs", "message"), REFUSED_SHAPES)
def test_ops_refuse_inputs_outside_their_rules(kind, fields, inputs, message):
    from archcalc.errors import OpError

    op = REGISTRY[kind](**fields)
    with pytest.raises(OpError, match=message):
        op.window(inputs) if op.output_shape(inputs) else None


REFUSED_FIELDS = [
    # PyTorch's limits: padding at most half the kernel, output_padding below stride or dilation
    ("maxpool", {"kernel": 3, "padding": 2}, "padding may be at most half the kernel: expected ≤ 1, found 2"),
    ("avgpool", {"kernel": [4, 2], "padding": [2, 2]}, "expected ≤ 1, found 2"),
    (
        "convtranspose",
        {"out": 1, "kernel": 2, "stride": 2, "output_padding": 2},
        "output_padding must be smaller than the stride or the dilation",
    ),
    ("convtranspose", {"out": 1, "kernel": 2, "stride": [3, 2], "output_padding": [2, 2]}, "found 2"),
    ("hardtanh", {"min": 1, "max": 1}, "hardtanh needs min < max"),
    # probabilities stay in [0, 1]; a fixed factor is positive
    ("dropout", {"p": 1.5}, "less than or equal to 1"),
    ("dropout", {"p": -0.5}, "greater than or equal to 0"),
    ("stochastic_depth", {"p": 1.1}, "less than or equal to 1"),
    ("stochastic_depth", {"p": -0.1}, "greater than or equal to 0"),
    ("scale", {"factor": 0}, "greater than 0"),
    # an upsampling scale is an exact positive rational
    ("upsample", {"scale": 0}, "expected a positive whole or rational number"),
    ("upsample", {"scale": [2, -1]}, "expected a positive whole or rational number"),
    ("upsample", {"scale": True}, "expected a positive number"),
    ("upsample", {"scale": 2, "size": 4}, "upsample takes `scale` or `size`, not both"),
    ("upsample", {"align_corners": True}, "align_corners applies to bilinear resizing only"),
    ("slice", {"start": 3, "stop": 3}, "slice needs start < stop"),
    ("chunk", {"chunks": 2, "index": 2}, r"chunk index must be below chunks \(2\)"),
    ("conv", {"kernel": 1}, "conv needs `out`"),
    ("conv", {"kernel": 1, "connection_table": []}, "needs at least one output map"),
    ("conv", {"kernel": 1, "connection_table": [[0, 0]]}, "must list distinct input maps"),
    ("conv", {"kernel": 1, "connection_table": [[0], []]}, r"connection_table\[1\] must list distinct input maps"),
    ("conv", {"kernel": 1, "connection_table": [[-1]]}, "must list distinct input maps"),
    ("conv", {"kernel": 1, "out": 3, "connection_table": [[0]]}, "out is 3 but the connection table lists 1 output maps"),
    ("conv", {"kernel": 1, "groups": 2, "connection_table": [[0]]}, "a connection table replaces groups"),
]


@pytest.mark.parametrize(("kind", "fields", "message"), REFUSED_FIELDS)
def test_ops_refuse_fields_outside_their_rules(kind, fields, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        REGISTRY[kind](**fields)


def test_the_limits_themselves_are_accepted():
    """Each refusal's boundary, on the accepted side: padding exactly half the kernel, an
    output_padding one below the stride, a window exactly as large as the padded input."""
    assert REGISTRY["maxpool"](kernel=2, padding=1).output_shape([(1, 1, 1)]) == (1, 1, 1)  # ⌊(1 + 2 − 2)/2⌋ + 1
    assert REGISTRY["convtranspose"](out=1, kernel=2, stride=2, output_padding=1).output_shape([(1, 2, 2)]) == (1, 5, 5)
    assert REGISTRY["conv"](out=1, kernel=3, padding=1).output_shape([(1, 1, 1)]) == (1, 1, 1)
    assert REGISTRY["slice"](start=7).output_shape([(8, 1, 1)]) == (1, 1, 1)
    assert REGISTRY["crop"](size=[4, 4]).output_shape([(1, 4, 4)]) == (1, 4, 4)
    assert REGISTRY["upsample"](scale=1).output_shape([(1, 4, 5)]) == (1, 4, 5)  # a scale of one is a copy
    assert REGISTRY["chunk"](chunks=4, index=2).output_shape([(6, 2, 2)]) == (2, 2, 2)
    assert [REGISTRY[kind](p=p).p for kind in ("dropout", "stochastic_depth") for p in (0, 1)] == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("fields", "channels", "formula"),
    [
        ({"out": 2, "kernel": 3}, 3, "C_out·C·k_h·k_w + C_out"),
        ({"out": 2, "kernel": 3, "bias": False}, 3, "C_out·C·k_h·k_w"),
        ({"out": 2, "kernel": 3, "groups": 2}, 4, "C_out·(C/g)·k_h·k_w + C_out"),
        ({"kernel": 3, "connection_table": [[0], [0, 1]]}, 2, "T·k_h·k_w + C_out"),
    ],
)
def test_conv_params_formula_reads_as_the_papers_write_it(fields, channels, formula):
    """`explain`'s params line: the grouped form only with groups, the table's T only with a table."""
    op = REGISTRY["conv"](**fields)
    out = op.output_shape([(channels, 5, 5)])
    assert {d.symbol: d.formula for d in op.derivations([(channels, 5, 5)], out)}["params"] == formula


def test_a_connection_table_with_its_out_is_accepted():
    assert REGISTRY["conv"](kernel=1, out=2, connection_table=[[0], [1]]).output_shape([(2, 3, 3)]) == (2, 3, 3)


def test_mul_partial_products_by_hand():
    """The sizes of the products a mul of three or more makes on the way (its training rule
    keeps them): (2, 1, 3)·(2, 4, 1) is (2, 4, 3), 24 elements; with a fourth input the first
    partial is (1, 1, 3)·(2, 1, 1) = (2, 1, 3), 6, then ·(1, 4, 1) = (2, 4, 3), 24."""

    def partials(inputs):
        op = REGISTRY["mul"]()
        values = op.derivation_values(inputs, op.output_shape(inputs))
        return {name: value for name, value in values.items() if name.startswith("P_")}

    assert partials([(2, 1, 3), (2, 4, 1), (2, 4, 3)]) == {"P_1": 24}
    assert partials([(1, 1, 3), (2, 1, 1), (1, 4, 1), (2, 4, 3)]) == {"P_1": 6, "P_2": 24}
    assert partials([(2, 3, 3), (2, 3, 3)]) == {}


def test_receptive_field_steps_on_symbolic_sizes():
    """An irregular rule on a symbolic input stays a formula: adaptive pooling to 3 cells reads
    rows ⌊iH/3⌋ … ⌈(i + 1)H/3⌉ − 1, at H = 7: 0 … 2, 2 … 4, 4 … 6 (a pixel's field is itself)."""
    from archcalc.expressions import substitute, symbol

    h = symbol("H")
    op = REGISTRY["adaptiveavgpool"](out=[3, 1])
    rf = receptive_field([INPUT_RF], op.window([(1, h, 4)]), [(1, h, 4)], (1, 3, 1))
    assert [tuple(substitute(v, {"H": 7}) for v in rf.unit(0, i)) for i in range(3)] == [(0, 2), (2, 4), (4, 6)]
    assert rf.unit(1, 0) == (0, 3) and substitute(rf.jump[0], {"H": 7}) == F(7, 3)


def test_a_broadcast_input_is_read_at_its_one_unit():
    """A (C, 1, 1) gate whose one unit sees pixels 0 … 9 (jump 4, say after strided layers)
    times a (C, 3, 5) map whose unit i sees pixel i: every output unit sees the gate's unit 0
    and its own pixel, (0, 9), and steps as the map does (jump 1): the gate adds no step."""
    gate = summarise((Lattice(0, 9, 4), Lattice(0, 9, 4)))
    rf = receptive_field([gate, INPUT_RF], None, [(4, 1, 1), (4, 3, 5)], (4, 3, 5))
    assert [rf.unit(0, i) for i in range(3)] == [(0, 9)] * 3
    assert [rf.unit(1, i) for i in range(5)] == [(0, 9)] * 5
    assert rf.jump == (1, 1)


def test_a_window_after_an_irregular_field():
    """A 3×3 conv (padding 1) after nearest ×2 upsampling of 4 rows: conv unit i reads upsampled
    units i − 1 … i + 1, each of them row ⌊j/2⌋: rows ⌊(i − 1)/2⌋ … ⌊(i + 1)/2⌋. And the rule
    text `explain` shows for such a window."""
    from archcalc.receptive import sliding as sliding_rule

    up = REGISTRY["upsample"](scale=2)
    first = receptive_field([INPUT_RF], up.window([(1, 4, 4)]), [(1, 4, 4)], (1, 8, 8))
    conv = REGISTRY["conv"](out=1, kernel=3, padding=1)
    rf = receptive_field([first], conv.window([(1, 8, 8)]), [(1, 8, 8)], (1, 8, 8))
    assert [rf.unit(0, i) for i in range(8)] == [((i - 1) // 2, (i + 1) // 2) for i in range(8)]
    assert rf.jump == (F(1, 2), F(1, 2))
    assert sliding_rule(3, 1, 1, 1).rule == "i − 1 … i + 1"
    assert sliding_rule(3, 2, 0, 2).rule == "2·i … 2·i + 4"
    assert sliding_rule(2, 1, 0, 1).rule == "i … i + 1"


@pytest.mark.parametrize(("kind", "index"), [case for case in CASE_IDS if CASES[case[0]][case[1]].rf not in (None,)])
def test_op_receptive_field_derivations_give_the_hand_numbers(kind, index):
    """`explain`'s rf lines for the first output unit, on the image itself: size hi − lo + 1,
    jump (the rule's ratio), start (lo + hi)/2 — from the row's hand-worked units."""
    from archcalc.derivation import rf_derivations

    row, op = _case(kind, index)
    if len(row.shape) != 3:
        return  # a flat output: its one unit is checked above
    (rows, columns), jumps = pointwise(row.shape) if row.rf == "pointwise" else row.rf
    rf = receptive_field([INPUT_RF] * len(row.inputs), op.window(row.inputs), row.inputs, row.shape)
    lines = {d.symbol: d.result for d in rf_derivations(INPUT_RF, op.window(row.inputs), len(row.inputs), rf)}
    for axis, (lo, hi) in (("h", rows[0]), ("w", columns[0])):
        assert lines[f"rf_size_{axis}"] == hi - lo + 1
        if op.window(row.inputs) is not None:  # a pointwise op states only that its size is unchanged
            assert lines[f"rf_start_{axis}"] == F(lo + hi, 2)
    if op.window(row.inputs) is not None:
        assert (lines["rf_jump_h"], lines["rf_jump_w"]) == jumps


def test_a_stride_1_axis_of_a_transposed_conv_reads_as_a_window():
    from archcalc.derivation import rf_derivations

    op = REGISTRY["convtranspose"](out=1, kernel=3, stride=[1, 2], padding=1, bias=False)
    rf = receptive_field([INPUT_RF], op.window([(1, 3, 3)]), [(1, 3, 3)], (1, 3, 5))
    notes = {d.symbol: d.note for d in rf_derivations(INPUT_RF, op.window([(1, 3, 3)]), 1, rf)}
    # output row o reads input rows o + 1 − 2 … o + 1; row 0 reads −1 … 1
    assert notes["rf_lo_h"] == "unit 0 reads input units -1 … 1; unit i reads o + 1 − 2 … o + 1"


@pytest.mark.parametrize(
    ("kind", "fields", "label"),
    [
        ("conv", {"out": 8, "kernel": 3}, "conv 3×3, 8"),
        ("conv", {"out": 8, "kernel": 3, "stride": 2}, "conv 3×3/2, 8"),
        ("conv", {"out": 8, "kernel": [1, 7], "stride": [2, 1]}, "conv 1×7/2×1, 8"),
        ("maxpool", {"kernel": 3, "stride": 2, "ceil_mode": True}, "maxpool 3×3/2, ceil"),
        ("avgpool", {"kernel": 2}, "avgpool 2×2/2"),
    ],
)
def test_labels_use_the_papers_notation(kind, fields, label):
    """The diagram's and the report's shorthand: k×k, /s only when the stride is not 1."""
    assert REGISTRY[kind](**fields).label() == label
