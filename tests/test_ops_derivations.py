"""`explain` for the ops of issue 11: every derivation, evaluated, gives the Analysis's number
(numeric and symbolic inputs), and an irregular field is written out from its first unit."""

from __future__ import annotations

import pytest

from archcalc.explain import explain_layer, layer_derivations
from tests.conftest import ROOT
from tests.test_derivations import _check_layer, loaded

NEW_OPS = """
name: every new op
input: [4, 29, 31]
layers:
  - conv: {name: c0, out: 8, kernel: 3, padding: 1}
  - relu6
  - leakyrelu: {slope: 0.2}
  - prelu: {per_channel: true}
  - elu
  - gelu
  - silu
  - hardswish
  - hardsigmoid
  - mish
  - hardtanh
  - mul: [[globalavgpool, conv: {out: 8, kernel: 1}, sigmoid], identity]
  - mul: {from: [mul1, c0]}
  - layernorm
  - groupnorm: {groups: 2}
  - layerscale
  - linear: {out: 6}
  - stochastic_depth: {p: 0.1}
  - convtranspose: {name: up, out: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1}
  - convtranspose: {out: 4, kernel: 3, padding: 1}
  - upsample: {scale: 1.5, mode: bilinear}
  - upsample: {size: [20, 21], mode: bilinear, align_corners: true}
  - upsample: {name: back, from: [upsample2, c0]}
  - pad: {padding: [1, 2, 0, 3]}
  - crop: {size: [17, 19]}
  - crop: {from: [pad1, crop1]}
  - slice: {start: 1, stop: 3}
  - concat: {from: [slice1, crop2]}
  - chunk: {chunks: 3, index: 1}
  - channel_shuffle: {groups: 2}
  - adaptivemaxpool: {out: [3, 4]}
  - adaptiveavgpool: {out: 2}
  - flatten
  - layernorm: {name: flatnorm}
  - linear: {out: 3}
"""
NEW_KINDS = {
    "adaptivemaxpool", "convtranspose", "upsample", "mul", "relu6", "leakyrelu", "prelu", "elu", "gelu", "silu", "hardswish",
    "hardsigmoid", "mish", "hardtanh", "layernorm", "groupnorm", "layerscale", "slice", "chunk", "channel_shuffle", "pad", "crop",
    "stochastic_depth",
}  # fmt: skip


@pytest.mark.parametrize("input_shape", [None, "4,H,W"])
def test_every_new_op_derives_its_numbers(write_spec, input_shape):
    network, analysis = loaded(write_spec(NEW_OPS), input_shape=input_shape)
    for stats in analysis.layers:
        _check_layer(stats, layer_derivations(network, analysis, stats.name))
    assert NEW_KINDS <= {stats.kind for stats in analysis.layers}


def test_an_irregular_field_is_written_out_from_its_first_unit():
    text = explain_layer(ROOT / "specs/torchvision/googlenet.yaml", "aux1.adaptiveavgpool1", quantities=("rf",))
    # 14 → 4: cell 0 reads inception4a's rows 0 … 3, which see pixels −39 … 115; the jump is 16 · 14/4
    assert "rf_lo_h = lo_in(first(0)) = -39   (unit 0 reads input units 0 … 3; unit i reads ⌊i·H/4⌋ … ⌈(i+1)·H/4⌉ − 1)" in text
    assert "rf_size_h = hi − lo + 1 = 115 − (-39) + 1 = 155" in text
    assert "rf_jump_h = j·q = 16×(7/2) = 56" in text
    text = explain_layer(ROOT / "specs/torchvision/googlenet.yaml", "aux1.conv.conv", quantities=("rf",))
    assert "rf_size_h = hi − lo + 1" in text  # a 1×1 conv on an irregular field: from the unit bounds, not r + d(k − 1)·j


def test_convtranspose_formulas_read_as_pytorchs(write_spec):
    path = write_spec(NEW_OPS)
    text = explain_layer(path, "up", quantities=("shape", "params", "connections"))
    # (29 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1 = 58
    assert "H_out = (H − 1)·s_h − 2·p_h + d_h·(k_h − 1) + a_h + 1 = (29 − 1)×2 − 2×1 + 1×(3 − 1) + 1 + 1 = 58" in text
    assert "params = C·(C_out/g)·k_h·k_w + C_out = 6×(4/1)×3×3 + 4 = 220" in text


@pytest.mark.parametrize("grow", [(0, 0), (4, -2), (11, 7)])
def test_symbolic_formulas_of_the_new_ops_substitute_to_the_numeric_run(write_spec, grow):
    from archcalc.analysis import analyse_file
    from tests.test_symbolic import _check_sizes

    path = write_spec(NEW_OPS)
    # shapes, counts, flops by kind and every layer's size, jump and start, irregular fields included
    _check_sizes(path, (4, 29, 31), analyse_file(path, input_shape="4,H,W"), grow)
