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
    ],
    "linear": [
        # 20·10 weights + 10 biases; (20 + 1)·10 links; one bias add per output
        Row({"out": 10}, [(20,)], (10,), params=210, macs=200, connections=210, flops={"mac": 400, "bias": 10}, rf=None),
        Row({"out": 10, "bias": False}, [(20,)], (10,), params=200, macs=200, connections=200, flops={"mac": 400}, rf=None),
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
    ],
    # a squeeze-and-excitation gate (4, 1, 1) broadcast over (4, 3, 5): one multiply per output; every unit
    # reads the gate's one unit (pixel 0) and its own pixel
    "mul": [
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
