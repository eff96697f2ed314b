"""archcalc.expressions' decisions on symbolic sizes, by hand: a size name is a positive integer,
and equality is True, False or undecidable (None) — never a guess."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from archcalc.expressions import (
    MAX_EXPRESSION_LENGTH,
    ExpressionError,
    ceildiv,
    definitely,
    equal,
    exact_div,
    floordiv,
    parse,
    substitute,
    symbol,
    to_exact,
)


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
    assert equal(1, h) is None and equal(h, 1) is None  # H = 1 is a size
    assert equal(0, h) is False  # no size is 0


def test_exact_division_of_ints_fractions_and_sizes():
    h = symbol("H")
    assert exact_div(12, 4) == 3 and type(exact_div(12, 4)) is int and exact_div(3, 4) == Fraction(3, 4)
    assert exact_div(3, Fraction(2, 3)) == Fraction(9, 2) and exact_div(Fraction(3, 2), Fraction(1, 2)) == 3
    assert exact_div(6, h) == 6 / h and exact_div(h, 2) == h / 2  # a size in either place: a formula


def test_an_expression_of_the_longest_length_parses():
    # "3 * 7" and 995 spaces: 5 + 995 = 1,000 characters, the most allowed (spaces count too)
    longest = "3 * 7" + " " * 995
    assert len(longest) == MAX_EXPRESSION_LENGTH == 1000 and parse(longest) == 21
    with pytest.raises(ExpressionError, match="longer than 1000 characters"):
        parse(longest + " ")


def test_to_exact_gives_python_numbers():
    for value, expected in ((sympy.Integer(3), 3), (Fraction(4, 2), 2), (sympy.Rational(6, 4), Fraction(3, 2)), (7, 7)):
        assert to_exact(value) == expected and type(to_exact(value)) is type(expected)


def test_a_nested_floor_is_flattened_only_by_a_whole_divisor():
    # ⌊(⌊u⌋ + c)/n⌋ = ⌊(u + c)/n⌋ holds for a whole n only: with n = 3/2 and H = 1,
    # ⌊(⌊1/2⌋ + 1)/(3/2)⌋ = ⌊2/3⌋ = 0, while ⌊(1/2 + 1)/(3/2)⌋ would be 1
    h = symbol("H")
    assert substitute(floordiv(sympy.floor(h / 2) + 1, Fraction(3, 2)), {"H": 1}) == 0
    assert floordiv(sympy.floor(h / 2) + 1, 2) == sympy.floor((h + 2) / 4)  # written flat by a whole one


def test_equal_is_false_for_a_difference_that_is_never_zero():
    h = symbol("H")
    # 2H − H = H, which is 1 at H = 1 and 2 at H = 2 but 0 at no size: never equal
    assert equal(2 * h, h) is False
    assert equal(h + 2, 2) is False  # H + 2 − 2 = H again


def test_equal_decides_a_difference_that_some_sizes_cannot_evaluate():
    # what a spec may write: at H = 1 both sides divide by H − 1 = 0, yet for every other size
    # (H + 1)/(H − 1) − 1 − 2/(H − 1) = (H + 1 − (H − 1) − 2)/(H − 1) = 0/(H − 1) = 0
    fraction, split = parse("(H + 1) / (H - 1)", free_symbols=True), parse("1 + 2 / (H - 1)", free_symbols=True)
    assert substitute(fraction - split, {"H": 1}) is sympy.nan  # not a number at H = 1
    assert equal(fraction, split) is True
    # and at H = 1 max(H/(H − 1), 1) cannot even be formed (sympy refuses to compare 1/0 with 1),
    # while m·(H + 1) = m·H + m for any m
    m = "max(H / (H - 1), 1)"
    times, spread = parse(f"{m} * (H + 1)", free_symbols=True), parse(f"{m} * H + {m}", free_symbols=True)
    with pytest.raises(ValueError):
        substitute(times - spread, {"H": 1})
    assert equal(times, spread) is True


def test_floor_division_of_fractions():
    # ⌊(7/2)/2⌋ = ⌊1.75⌋ = 1; ⌊(−7/2)/2⌋ = ⌊−1.75⌋ = −2; ⌊3/(2/3)⌋ = ⌊4.5⌋ = 4
    assert floordiv(Fraction(7, 2), 2) == 1 and type(floordiv(Fraction(7, 2), 2)) is int
    assert floordiv(Fraction(-7, 2), 2) == -2 and floordiv(3, Fraction(2, 3)) == 4


def test_a_symbolic_ceiling_is_written_as_one():
    # ⌈a/b⌉ = −⌊−a/b⌋ in value, but a report prints sympy's ceiling(…), whichever side the size is on,
    # and flattens a nest: ⌈(⌈H/2⌉ + 1)/2⌉ = ⌈(H/2 + 1)/2⌉ = ⌈H/4 + 1/2⌉
    h = symbol("H")
    assert ceildiv(h, 2) == sympy.ceiling(h / 2) and str(ceildiv(h, 2)) == "ceiling(H/2)"
    assert ceildiv(7, h) == sympy.ceiling(7 / h) and str(ceildiv(7, h)) == "ceiling(7/H)"
    assert ceildiv(sympy.ceiling(h / 2) + 1, 2) == sympy.ceiling(h / 4 + sympy.Rational(1, 2))
    # ⌈(7/2)/2⌉ = ⌈1.75⌉ = 2, ⌈(−7/2)/2⌉ = ⌈−1.75⌉ = −1
    assert ceildiv(Fraction(7, 2), 2) == 2 and ceildiv(Fraction(-7, 2), 2) == -1
