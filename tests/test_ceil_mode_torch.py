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
