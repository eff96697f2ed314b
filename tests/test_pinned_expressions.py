"""archcalc.expressions' decisions on symbolic sizes, by hand: a size name is a positive integer,
and equality is True, False or undecidable (None) — never a guess."""

from __future__ import annotations

from archcalc.expressions import definitely, equal, symbol


def test_a_size_name_is_a_positive_integer():
    h = symbol("H")
    assert h.is_integer and h.is_positive
    assert definitely(h + 2 > 2) and definitely(h >= 1)
    assert definitely(h > 1) is False  # H = 1 is a size too


def test_equal_decides_only_what_it_can():
    h, c = symbol("H"), symbol("C")
    assert equal(3, 3) is True and equal(3, 4) is False
    assert equal(2 * h, h + h) is True
    assert equal(h + 1, h) is False  # a nonzero number apart
    assert equal(h, h + c) is False  # C is a positive size, so never zero
    assert equal(c % 2, 0) is None  # whether 2 divides C depends on C
    assert equal(h, c) is None
