"""The whitelisting parser and exact helpers: arithmetic in, never Python evaluation."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from archcalc.expressions import ExpressionError, always, ceildiv, floordiv, parse, substitute, symbol, to_json


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
    queries: on these forms (the sums of multiples of sizes and floors that layers build) the
    result is the very expression sympy's own floor/ceiling evaluates to. Where sympy proves a
    term whole by a deeper argument the form is longer and the value the same (see below)."""
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


def test_a_term_whole_by_a_deeper_argument_stays_inside_with_the_same_value():
    """(2·H + 2)·(2·W + 2)/4 = (H + 1)·(W + 1) is whole, which sympy proves from the factors'
    evenness and archcalc's form test does not see: ⌊…⌋ is kept around it, equal at every size."""
    import sympy

    H, W = symbol("H"), symbol("W")
    product = (2 * H + 2) * (2 * W + 2)
    assert sympy.floor(product / 4) == product / 4 and floordiv(product, 4) == sympy.floor(product / 4, evaluate=False)
    for h, w in ((1, 1), (2, 5), (7, 3)):
        assert substitute(floordiv(product, 4), {"H": h, "W": w}) == (h + 1) * (w + 1)


def test_always_holds_at_every_size_or_not_at_all(monkeypatch):
    import sympy

    from archcalc import expressions

    H, W = symbol("H"), symbol("W")
    assert always(3, "<", 5) and not always(5, "<=", 3) and always(2, ">=", 2) and not always(2, ">", 2)
    # true for every positive integer: sympy decides it (H ≥ 1, ⌊H/2⌋ ≥ 0, H + W > 0)
    assert always(H, ">=", 1) and always(sympy.floor(H / 2), ">=", 0) and always(H + W, ">", 0)
    # false at some size, found by substitution: H < 5 fails at 1,024, H − 1 > 0 at 1,
    # 2·⌊H/2⌋ ≥ H at 7 (6 < 7); ⌊(H − 35)/16⌋ + 1 ≤ 0 — a size that is positive from H = 35 on
    assert not always(H, "<", 5) and not always(H - 1, ">", 0) and not always(2 * sympy.floor(H / 2), ">=", H)
    assert not always(sympy.floor((H - 35) / 16) + 1, "<=", 0)
    # a number on the left: 0 < H at every size, 5 > H fails at 1,024
    assert always(0, "<", H) and not always(5, ">", H)
    # a name that is no size (no assumptions) is never substituted: sympy cannot decide k > 0
    assert not always(sympy.Symbol("k"), ">", 0)

    # those found by substitution never build a sympy relation (what the witnesses save)
    def refuse(condition):
        raise AssertionError(f"sympy asked about {condition}")

    monkeypatch.setattr(expressions, "definitely", refuse)
    assert not always(H, "<", 5) and not always(H - 1, ">", 0) and not always(2 * sympy.floor(H / 2), ">=", H)
    assert not always(sympy.floor((H - 35) / 16) + 1, "<=", 0) and not always(H + W, "<", 3)


def test_json_values():
    assert to_json(5) == 5 and to_json(Fraction(5, 2)) == 2.5 and to_json(Fraction(1, 3)) == "1/3"
    assert to_json(symbol("H") + 1) == "H + 1"


def test_long_expressions_are_refused():
    with pytest.raises(ExpressionError, match="longer than"):
        parse("1+" * 500 + "1")
