"""Every registered op against hand arithmetic, and the registry's refusals."""

from __future__ import annotations

import pytest

from archcalc.errors import SpecError
from archcalc.ops import REGISTRY, lookup, register
from archcalc.ops.conv import Conv

# kind: (fields, input shapes, output shape, params, macs, connections) — worked by hand
SAMPLES = {
    # ⌊(10 + 2 − 3)/2⌋ + 1 = 5; params 4·3·3·8 + 8; macs 5·5·8·(4·9)
    "conv": ({"out": 8, "kernel": 3, "stride": 2, "padding": 1}, [(4, 10, 10)], (8, 5, 5), 4 * 9 * 8 + 8, 25 * 8 * 36, (36 + 1) * 200),
    # ⌊(9 − 3)/2⌋ + 1 = 4
    "maxpool": ({"kernel": 3, "stride": 2}, [(5, 9, 9)], (5, 4, 4), 0, 0, 0),
    # ceil_mode: ⌈(10 − 3)/2⌉ + 1 = 5
    "avgpool": ({"kernel": 3, "stride": 2, "ceil_mode": True}, [(2, 10, 10)], (2, 5, 5), 0, 0, 0),
    "globalavgpool": ({}, [(7, 6, 5)], (7, 1, 1), 0, 0, 0),
    # any input → out; 7 rows into 3 bins [0,3) [2,5) [4,7), 5 columns into 2 bins [0,3) [2,5)
    "adaptiveavgpool": ({"out": [3, 2]}, [(2, 7, 5)], (2, 3, 2), 0, 0, 0),
    # 2 params per map; 1 mac per output; (4 + 1) links per output
    "subsample": ({"kernel": 2}, [(3, 8, 8)], (3, 4, 4), 6, 48, 5 * 48),
    "linear": ({"out": 10}, [(20,)], (10,), 20 * 10 + 10, 200, 210),
    "rbf": ({"out": 10}, [(84,)], (10,), 0, 840, 840),
    "bn": ({}, [(16, 4, 4)], (16, 4, 4), 32, 0, 0),
    "lrn": ({}, [(16, 4, 4)], (16, 4, 4), 0, 0, 0),
    "relu": ({}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "tanh": ({}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "sigmoid": ({}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "softmax": ({}, [(10,)], (10,), 0, 0, 0),
    "dropout": ({"p": 0.3}, [(10,)], (10,), 0, 0, 0),
    "identity": ({}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "flatten": ({}, [(3, 4, 5)], (60,), 0, 0, 0),
    "concat": ({}, [(3, 4, 4), (5, 4, 4)], (8, 4, 4), 0, 0, 0),
    "add": ({}, [(3, 4, 4), (3, 4, 4), (3, 4, 4)], (3, 4, 4), 0, 0, 0),
    # a fixed factor, not a weight: nothing trainable, no weight products
    "scale": ({"factor": 0.17}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    # --- issue 11 ---
    # the bins of adaptiveavgpool, taken by max
    "adaptivemaxpool": ({"out": [3, 2]}, [(2, 7, 5)], (2, 3, 2), 0, 0, 0),
    # (5 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1 = 10; weight (4, 6, 3, 3) + 6 biases; macs 5·5 input units × 4·6·9;
    # links per axis: i = 0 reaches o = 0, 1 (o = −1 is cropped), i = 1…4 all 3 taps: N = 2 + 4·3 = 14
    "convtranspose": (
        {"out": 6, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1},
        [(4, 5, 5)],
        (6, 10, 10),
        4 * 6 * 9 + 6,
        25 * 4 * 6 * 9,
        6 * 4 * 14 * 14 + 6 * 10 * 10,
    ),  # fmt: skip
    # ⌊4·2⌋ = 8, ⌊5·2⌋ = 10
    "upsample": ({"scale": 2}, [(3, 4, 5)], (3, 8, 10), 0, 0, 0),
    # a squeeze-and-excitation gate (4, 1, 1) broadcast over (4, 3, 5)
    "mul": ({}, [(4, 1, 1), (4, 3, 5)], (4, 3, 5), 0, 0, 0),
    "relu6": ({}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "leakyrelu": ({"slope": 0.1}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    # one learnt slope per channel
    "prelu": ({"per_channel": True}, [(3, 4, 4)], (3, 4, 4), 3, 0, 0),
    "elu": ({"alpha": 0.5}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "gelu": ({"approximate": "tanh"}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "silu": ({}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "hardswish": ({}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "hardsigmoid": ({}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "mish": ({}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    "hardtanh": ({"min": 0, "max": 6}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
    # γ and β over the 8 channels at each position
    "layernorm": ({}, [(8, 3, 3)], (8, 3, 3), 2 * 8, 0, 0),
    "groupnorm": ({"groups": 4}, [(8, 3, 3)], (8, 3, 3), 2 * 8, 0, 0),
    # one learnt factor per channel
    "layerscale": ({}, [(8, 3, 3)], (8, 3, 3), 8, 0, 0),
    # channels 2, 3, 4
    "slice": ({"start": 2, "stop": 5}, [(8, 3, 3)], (3, 3, 3), 0, 0, 0),
    # 5 channels in chunks of ⌈5/4⌉ = 2: [0, 2) [2, 4) [4, 5) — chunk 2 has one
    "chunk": ({"chunks": 4, "index": 2}, [(5, 3, 3)], (1, 3, 3), 0, 0, 0),
    "channel_shuffle": ({"groups": 2}, [(6, 3, 3)], (6, 3, 3), 0, 0, 0),
    # top 1, bottom 2, left 3, right 4: 5 + 3 = 8 rows, 5 + 7 = 12 columns
    "pad": ({"padding": [1, 2, 3, 4]}, [(2, 5, 5)], (2, 8, 12), 0, 0, 0),
    "crop": ({"size": [4, 3]}, [(2, 9, 8)], (2, 4, 3), 0, 0, 0),
    "stochastic_depth": ({"p": 0.2}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0),
}


def test_every_registered_op_has_a_hand_worked_sample():
    assert set(SAMPLES) == set(REGISTRY)


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_op_rules_against_hand_arithmetic(kind):
    fields, inputs, shape, params, macs, connections = SAMPLES[kind]
    op = REGISTRY[kind](**fields)
    out = op.output_shape(inputs)
    assert out == shape
    assert op.params(inputs, out) == params
    assert op.macs(inputs, out) == macs
    assert op.connections(inputs, out) == connections
    flops = op.flops(inputs, out)
    assert flops.get("mac", 0) == 2 * macs
    assert all(isinstance(v, int) for v in flops.values())


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


def test_elementwise_flops_by_hand():
    # maxpool 3×3: 8 comparisons per output; lrn n=5: 2·5 + 3 = 13 per element; bn: 2 per element
    assert REGISTRY["maxpool"](kernel=3, stride=2).flops([(5, 9, 9)], (5, 4, 4)) == {"pool": 8 * 80}
    assert REGISTRY["lrn"](size=5).flops([(2, 3, 3)], (2, 3, 3)) == {"norm": 13 * 18}
    assert REGISTRY["bn"]().flops([(2, 3, 3)], (2, 3, 3)) == {"norm": 2 * 18}
    assert REGISTRY["add"]().flops([(2, 3, 3)] * 3, (2, 3, 3)) == {"add": 2 * 18}
    assert REGISTRY["scale"](factor=0.1).flops([(2, 3, 3)], (2, 3, 3)) == {"scale": 18}  # one multiply per element
    assert REGISTRY["conv"](out=2, kernel=1).flops([(3, 2, 2)], (2, 2, 2)) == {"mac": 2 * 3 * 8, "bias": 8}


def test_grouped_dilated_asymmetric_conv_by_hand():
    # 1×7 kernel, padding (0, 3): width preserved; groups 4: each output sees 8/4 = 2 maps
    op = REGISTRY["conv"](out=12, kernel=[1, 7], padding=[0, 3], groups=4, bias=False)
    out = op.output_shape([(8, 17, 17)])
    assert out == (12, 17, 17)
    assert op.params([(8, 17, 17)], out) == 12 * 2 * 7
    # dilation 2 on a 3×3: extent 5, ⌊(20 − 5)/1⌋ + 1 = 16
    dilated = REGISTRY["conv"](out=1, kernel=3, dilation=2)
    assert dilated.output_shape([(1, 20, 20)]) == (1, 16, 16)


def test_ceil_mode_drops_a_window_starting_in_the_padding():
    # PyTorch's rule: ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but window 4 would start at 6 ≥ 5 + 1: 3
    op = REGISTRY["maxpool"](kernel=2, stride=2, padding=1, ceil_mode=True)
    assert op.output_shape([(1, 5, 5)]) == (1, 3, 3)
