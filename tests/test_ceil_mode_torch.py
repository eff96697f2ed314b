"""Pooling output sizes against PyTorch, ceil_mode included, concrete and symbolic."""

from __future__ import annotations

import pytest
import torch

from archcalc.expressions import substitute, symbol
from archcalc.ops.base import conv_out_size

CASES = [(k, s, p) for k in (1, 2, 3, 4, 5) for s in (1, 2, 3) for p in range(k // 2 + 1)]


@pytest.mark.parametrize(("kernel", "stride", "padding"), CASES)
def test_ceil_mode_size_equals_torch(kernel, stride, padding):
    formula = conv_out_size(symbol("H"), kernel, stride, padding, 1, ceil_mode=True)
    for size in range(kernel, kernel + 12):
        expected = torch.nn.functional.max_pool2d(torch.zeros(1, 1, size, 1), (kernel, 1), (stride, 1), (padding, 0), ceil_mode=True)
        assert conv_out_size(size, kernel, stride, padding, 1, ceil_mode=True) == expected.shape[2]
        assert substitute(formula, {"H": size}) == expected.shape[2]


def test_the_drop_rule_only_splits_cases_where_it_can_apply():
    # 3×3/2 without padding can never start a window in the padding: a plain ceiling
    assert "Piecewise" not in str(conv_out_size(symbol("H"), 3, 2, 0, 1, ceil_mode=True))
    # nor can one where s + p = d(k − 1) + 1 exactly: the last window starts at (H_out − 1)·s = s·⌈span/s⌉
    # < span + s = H + 2p − d(k − 1) − 1 + s = H + p (2×2/2 and 3×3/3 unpadded, 3×3/2 padded 1, 2×2/1 padded 1)
    for kernel, stride, padding in [(2, 2, 0), (3, 3, 0), (3, 2, 1), (2, 1, 1)]:
        assert "Piecewise" not in str(conv_out_size(symbol("H"), kernel, stride, padding, 1, ceil_mode=True))
    # 2×2/2 with padding 1 can (see test_ops): p + s − 2 = 1 ≥ d(k − 1) = 1
    assert "Piecewise" in str(conv_out_size(symbol("H"), 2, 2, 1, 1, ceil_mode=True))


WINDOWS = [(k, s, p, d) for k in (1, 2, 3, 4) for s in (1, 2, 3) for p in range(k // 2 + 1) for d in (1, 2)]


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"), WINDOWS)
def test_a_ceil_mode_pool_refuses_exactly_the_inputs_pytorch_refuses(kernel, stride, padding, dilation):
    """In ceil mode a window may overhang the input, but one must start inside it: PyTorch
    refuses a map too small for that (its output size would be 0). The op's rule, along both
    axes, against max_pool2d at every size from 1 up, the smallest accepted included."""
    from archcalc.errors import OpError
    from archcalc.ops import REGISTRY

    op = REGISTRY["maxpool"](kernel=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=True)
    for size in range(1, dilation * (kernel - 1) + 4):
        for rows, cols in ((size, 5), (5, size)):
            try:
                expected = torch.nn.functional.max_pool2d(
                    torch.zeros(1, 1, rows, cols), kernel, stride, padding, dilation, ceil_mode=True
                ).shape[1:]
            except RuntimeError:
                expected = None
            try:
                got = op.output_shape([(1, rows, cols)])
            except OpError as error:
                assert "no window starts inside the input" in str(error)
                got = None
            assert got == (tuple(expected) if expected is not None else None), (rows, cols)
