"""The shared parts of archcalc.ops.base that no single op's row pins: the fields every layer
entry has and their defaults, the merges' size conditions, the exact reading of a decimal
field, and the index-rule contract (``AxisMap``) a field composes through — by hand
arithmetic, or against PyTorch where a size is symbolic."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from archcalc.expressions import substitute, symbol
from archcalc.ops import REGISTRY


@pytest.mark.parametrize(("padding", "shape"), [(0, (1, 3, 3)), ([0, 1], (1, 3, 5)), ([1, 0], (1, 5, 3))])
def test_a_padding_of_zero_is_accepted_on_either_axis(padding, shape):
    # 3×3 on 5×5: H_out = 5 + 2p − 3 + 1 = 3 + 2p per axis, so p = 0 gives 3 and p = 1 gives 5
    op = REGISTRY["conv"](out=1, kernel=3, padding=padding)
    assert op.output_shape([(1, 5, 5)]) == shape


def test_a_plain_entry_is_one_inference_layer(analyse_text):
    """Without `repeat` or `training_only`, an entry is one layer, counted for inference."""
    analysis = analyse_text("name: t\ninput: [3, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 3}\n  - relu\n")
    assert [(s.name, s.training_only) for s in analysis.layers] == [("conv1", False), ("relu1", False)]
    # conv 3×3, 3 → 4 on 8×8: 4·3·3·3 + 4 = 112 params, 6·6·4 outputs of 27 products each
    assert (analysis.inference_totals.params, analysis.inference_totals.macs) == (112, 6 * 6 * 4 * 27)
    assert analysis.inference_totals.layers == 2


def test_a_layer_names_its_inputs_by_from_or_by_the_field_name(analyse_text):
    """`from:` is the spec's key; the field's own name reads the same (the op models accept a
    field by its name as well as by its alias)."""
    text = "name: t\ninput: [3, 8, 8]\nlayers:\n  - conv: {name: a, out: 4, kernel: 3}\n  - conv: {name: b, from: input, out: 4, kernel: 3}"
    for key in ("from", "inputs"):
        analysis = analyse_text(f"{text}\n  - add: {{{key}: [a, b]}}\n")
        assert analysis.layers[-1].inputs == ("a", "b")
    assert REGISTRY["relu"](inputs="a").inputs == REGISTRY["relu"].model_validate({"from": "a"}).inputs == ["a"]


def test_merges_state_that_every_spatial_size_agrees():
    """What the size plots check at each size (archcalc.growth): each later input's H and W
    equal input 0's; channels are a concat's to add up, and are not listed."""
    h, w = symbol("H"), symbol("W")
    inputs = [(4, h, w), (4, symbol("H2"), symbol("W2")), (2, symbol("H3"), symbol("W3"))]
    expected = [(symbol("H2"), "==", h), (symbol("W2"), "==", w), (symbol("H3"), "==", h), (symbol("W3"), "==", w)]
    assert REGISTRY["concat"].size_conditions(inputs, (10, h, w)) == expected
    assert REGISTRY["add"].size_conditions(inputs[:2], (4, h, w)) == expected[:2]
    assert REGISTRY["relu"].size_conditions(inputs[:1], (4, h, w)) == []  # one input: nothing to agree


@pytest.mark.parametrize(("written", "exact"), [(1.5, Fraction(3, 2)), (0.1, Fraction(1, 10)), (2.0, 2), ("5/4", Fraction(5, 4))])
def test_a_decimal_scale_is_read_as_the_decimal(written, exact):
    # 0.1 is the decimal 1/10, not the binary float 3602879701896397/36028797018963968
    assert REGISTRY["upsample"](scale=written).scale == (exact, exact)


@pytest.mark.parametrize("written", [float("inf"), float("nan"), -1.5, 0.0])
def test_a_scale_that_is_not_a_positive_finite_number_is_refused(written):
    with pytest.raises(ValidationError, match="expected a positive"):
        REGISTRY["upsample"](scale=written)


def _first_unit_rows(size: int) -> tuple[int, int]:
    """The first and last input row PyTorch reads for output row 0 of bilinear ×2 resizing
    then adaptive average pooling to 7: the one-hot rows, through both."""
    eye = torch.eye(size, dtype=torch.float64).view(size, 1, size, 1)
    pooled = F.adaptive_avg_pool2d(F.interpolate(eye, size=(2 * size, 1), mode="bilinear"), (7, 1))[:, 0, 0, 0]
    rows = pooled.nonzero().flatten().tolist()
    return rows[0], rows[-1]


def test_a_symbolic_field_through_two_index_rules_is_pytorchs(analyse_text):
    """An adaptive pool's bin after a resize reads a symbolic number of the resized units
    (⌈2H/7⌉); its field is the resize's rows for the first and the last of them (every index
    rule here is monotone), and at each size it is the rows PyTorch reads."""
    text = "name: t\ninput: [1, H, W]\nlayers:\n  - upsample: {scale: 2, mode: bilinear}\n  - adaptiveavgpool: {out: 7}\n"
    rf = analyse_text(text).layers[-1].rf
    for size in (4, 7, 10, 11, 13, 20, 33):
        values = {"H": size, "W": size}
        half = (substitute(rf.size[0], values) - 1) / 2
        start = substitute(rf.start[0], values)
        assert (start - half, start + half) == _first_unit_rows(size)
