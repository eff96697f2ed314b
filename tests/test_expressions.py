"""The whitelisting parser and exact helpers: arithmetic in, never Python evaluation."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from archcalc.expressions import ExpressionError, ceildiv, floordiv, parse, substitute, symbol, to_json


@pytest.mark.parametrize(
    "text, value",
    [("2*w + 1", 9), ("w // 3", 1), ("w / 8", Fraction(1, 2)), ("(w - 1) % 3", 0), ("2**5", 32), ("-w", -4), ("0.75", Fraction(3, 4))],
)
def test_arithmetic(text, value):
    assert parse(text, {"w": 4}) == value


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "w.__class__",
        "lambda: 1",
        "w if w else 1",
        "open('x')",
        "2**10**10",
        "'a' * 3",
        "1 +",
        "x[0]",
    ],
)
def test_everything_else_is_refused(text):
    with pytest.raises(ExpressionError):
        parse(text, {"w": 4})


def test_unknown_names_are_errors_unless_free():
    with pytest.raises(ExpressionError, match="unknown name 'H'"):
        parse("H + 1")
    assert parse("H + 1", free_symbols=True) == symbol("H") + 1


def test_floor_and_ceil_are_exact_and_flatten_nests():
    H = symbol("H")
    assert floordiv(7, 2) == 3 and ceildiv(7, 2) == 4 and floordiv(-7, 2) == -4
    nested = floordiv(floordiv(H, 2) - 2, 2)  # ⌊(⌊H/2⌋ − 2)/2⌋ = ⌊(H/2 − 2)/2⌋ = ⌊H/4⌋ − 1
    for h in range(1, 40):
        assert substitute(nested, {"H": h}) == (h // 2 - 2) // 2
    assert "floor(floor" not in str(nested)


@pytest.mark.parametrize(
    ("numerator", "denominator"),
    [
        ("2*floor(H/2) - 4", 1),  # whole: itself (a stride-1 window after a merge)
        ("floor(H/2) + H/3 + 1", 1),  # the whole terms come out, H/3 stays inside
        ("H + 1", 3),  # nothing whole: ⌊H/3 + 1/3⌋
        ("2*floor(H/2) + 1", 2),  # ⌊H/2⌋ + ⌊1/2⌋: a number left inside rounds by itself
        ("floor(H/2)*W + H", 2),
        ("H**2 + H", 2),
        ("Max(H, W) + 2*H", 1),  # a max of sizes is whole
        ("1/H + H", 1),  # a negative power is not: H + ⌊1/H⌋
        ("3/2", 1),  # a number: ⌊3/2⌋ = 1
    ],
)
def test_rounding_is_written_as_sympy_writes_it(numerator, denominator):
    """floordiv/ceildiv take the whole terms out by their form, not by sympy's assumption
    queries: the result is the very expression sympy's own floor/ceiling evaluates to."""
    import sympy

    H, W = symbol("H"), symbol("W")
    a = sympy.sympify(numerator, locals={"H": H, "W": W})
    assert floordiv(a, denominator) == sympy.floor(a / denominator)
    assert ceildiv(a, denominator) == sympy.ceiling(a / denominator)
    for h, w in ((1, 1), (5, 2), (8, 13)):
        value = sympy.Rational(a.subs({H: h, W: w}))
        exact = Fraction(int(value.p), int(value.q)) / denominator
        assert substitute(floordiv(a, denominator), {"H": h, "W": w}) == math.floor(exact)
        assert substitute(ceildiv(a, denominator), {"H": h, "W": w}) == math.ceil(exact)


def test_json_values():
    assert to_json(5) == 5 and to_json(Fraction(5, 2)) == 2.5 and to_json(Fraction(1, 3)) == "1/3"
    assert to_json(symbol("H") + 1) == "H + 1"


def test_long_expressions_are_refused():
    with pytest.raises(ExpressionError, match="longer than"):
        parse("1+" * 500 + "1")
