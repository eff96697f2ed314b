"""archcalc.signs: the sign of a floor/ceiling formula in one size, against hand arithmetic and
against every size from 1 to a few thousand (integer arithmetic, independent of sympy)."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
import sympy

from archcalc.expressions import symbol
from archcalc.signs import extremes, sign

H, W = symbol("H"), symbol("W")
floor, ceiling = sympy.floor, sympy.ceiling


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        # a stride-8 map never outgrows its input: ⌊(H − 1)/8⌋ + 1 ≤ H (H = 1: 1 ≤ 1; then +1 per 8 against +8)
        (floor((H - 1) / 8) + 1 - H, (False, True)),
        # stride 16 against stride 8 of one input: never more rows (LR-ASPP's two branches)
        (floor((H - 1) / 16) - floor((H - 1) / 8), (False, True)),
        (H - 5, (False, False)),  # −4 at H = 1, 1 at H = 6
        (H - 1, (True, False)),  # 0 at H = 1, then positive
        (2 * floor(H / 2) - H, (False, True)),  # 0 at even H, −1 at odd
        (2 * ceiling(H / 2) - H, (True, False)),  # 0 at even H, 1 at odd
        (floor(H / 3) - floor((H + 2) / 3) + 1, (True, False)),  # ⌊(H + 2)/3⌋ = ⌈H/3⌉: 1 where 3 divides H, 0 elsewhere
        (3 * (floor((H + 1) / 2) - H) - 7, (False, True)),  # a numeric multiple of a sum
        (sympy.Integer(0) * H + 3, (True, False)),
    ],
)
def test_decided_by_hand(formula, expected):
    assert sign(formula) == expected


@pytest.mark.parametrize(
    "formula",
    [
        H - W,  # two names
        floor(H / 2) * floor(H / 3) - 1,  # a product of two sizes: not linear on a residue class
        sympy.Max(H, 3) - 2,  # a Max is not of this form
        floor(H / 7 + sympy.Rational(1, 3)) ** 2,
        floor(H / 2) * ceiling(H / 2) - 1,  # both move by one per step of m (period 2): quadratic
        sympy.Symbol("n") - 1,  # a name with no sign: not a size
        sympy.Symbol("k", integer=True) - 1,  # an integer that may be negative
        sympy.Symbol("x", positive=True) - 1,  # a positive number that may be a fraction
    ],
)
def test_outside_the_form_there_is_no_answer(formula):
    assert sign(formula) is None


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        # x = H − 1 ≥ 0: 16·⌊x/16⌋ − 2·⌊x/2⌋ = (x mod 2) − (x mod 16): least 1 − 15 = −14 (x ≡ 15),
        # greatest 0 (x ≡ 0 mod 16): EfficientNet's stride-16 term against its stride-2 one
        (16 * floor((H - 1) / 16) - 2 * floor((H - 1) / 2), (-14, 0)),
        (H - 5, (-4, None)),  # −4 at H = 1, then grows without bound
        (3 - H, (None, 2)),
        (2 * floor(H / 2) - H, (-1, 0)),  # −(H mod 2)
        (floor(H / 3) - floor((H + 2) / 3) + 1, (0, 1)),
        (sympy.Integer(7), (7, 7)),
    ],
)
def test_extremes_by_hand(formula, expected):
    assert extremes(formula) == expected


def test_a_floor_of_a_halved_floor_needs_four_classes():
    """⌊(⌊H/2⌋ + 1)/2⌋ − H/4 grows by 1/2·1/2 = 1/4 per H inside the outer floor: period 4. At
    H = 1 … 4: ⌊1/2⌋ − 1/4 = −1/4, ⌊2/2⌋ − 2/4 = 1/2, ⌊2/2⌋ − 3/4 = 1/4, ⌊3/2⌋ − 1 = 0, and
    the same four values on for ever (H + 4 adds 1 to the floor and 1 to H/4)."""
    formula = floor((floor(H / 2) + 1) / 2) - H / 4
    values = [Fraction((h // 2 + 1) // 2) - Fraction(h, 4) for h in range(1, 401)]
    assert extremes(formula) == (min(values), max(values)) == (Fraction(-1, 4), Fraction(1, 2))


def test_a_number_inside_a_floor_moves_no_rate():
    """⌊⌊(H + 1)/2⌋/3⌋ − H/6: the inner floor grows by 1/2 per H (its + 1/2 does not move it),
    the outer argument by 1/6: period 6, where reading the + 1/2 as growth would give 2. From
    H = 1 the values repeat every 6: ⌊1/3⌋ − 1/6 = −1/6, ⌊1/3⌋ − 2/6 = −1/3, ⌊2/3⌋ − 3/6 = −1/2,
    ⌊2/3⌋ − 4/6 = −2/3, ⌊3/3⌋ − 5/6 = 1/6, ⌊3/3⌋ − 1 = 0 (and by brute force below)."""
    formula = floor(floor((H + 1) / 2) / 3) - H / 6
    values = [Fraction((h + 1) // 2 // 3) - Fraction(h, 6) for h in range(1, 601)]
    assert extremes(formula) == (min(values), max(values)) == (Fraction(-2, 3), Fraction(1, 6))


def test_extremes_outside_the_form_are_no_answer():
    assert extremes(H - W) is None and extremes(floor(H / 2) * floor(H / 3)) is None and extremes(sympy.Max(H, 3)) is None
    # (H − 2·⌊H/2⌋)·H moves by a different amount on each residue class: a product of two
    # formulas is refused, not read as a line of the wrong period (its floor of a third would
    # then be misread: the whole formula is 0 at H = 3, yet a period-1 reading says ≤ −1/3)
    assert extremes(floor(H * (H - 2 * floor(H / 2)) / 3) - H / 3) is None
    # constants that are no rational number have no answer either
    assert sign(sympy.sqrt(2)) is None and extremes(sympy.Max(1, 2, evaluate=False)) is None


def test_numbers_are_signed_directly():
    assert sign(0) == (True, True) and sign(-2) == (False, True) and sign(sympy.Rational(1, 3)) == (True, False)


def test_a_period_beyond_the_limit_is_no_answer():
    from archcalc.signs import MAX_PERIOD

    # ⌊H/q⌋ needs q residue classes; q > MAX_PERIOD is refused, not looped on
    assert sign(floor(H / (MAX_PERIOD + 1)) - 1) is None
    assert sign(floor(H / MAX_PERIOD) + 1) == (True, False)
    # an odd period just below the limit is decided at that period, not at twice it
    assert sign(floor(H / (MAX_PERIOD - 1))) == (True, False)


def _tree(rng: random.Random, depth: int):
    """A random size formula as (sympy expression, integer evaluator): sums, small multiples
    and floors or ceilings of a formula over 1…4 — what strides and paddings produce."""
    if depth == 0 or rng.random() < 0.25:
        if rng.random() < 0.6:
            return H, lambda h: h
        c = rng.randint(-5, 5)
        return sympy.Integer(c), lambda h: c
    kind = rng.choice(["add", "mul", "floor", "ceiling"])
    a, fa = _tree(rng, depth - 1)
    if kind == "add":
        b, fb = _tree(rng, depth - 1)
        return a + b, lambda h: fa(h) + fb(h)
    if kind == "mul":
        k = rng.choice([-2, -1, 1, 2, 3])
        return k * a, lambda h: k * fa(h)
    q, c = rng.randint(1, 4), rng.randint(-3, 3)
    if kind == "floor":
        return floor((a + c) / q), lambda h: (fa(h) + c) // q
    return ceiling((a + c) / q), lambda h: -(-(fa(h) + c) // q)


def test_random_formulas_agree_with_every_size_up_to_4000():
    """Each formula's terms grow by whole multiples of m on a residue class (period ≤ 4³), with
    constants below ~100: every sign change happens well within 4,000."""
    rng = random.Random(16)
    decided = 0
    for _ in range(150):
        formula, value = _tree(rng, 3)
        values = [value(h) for h in range(1, 4001)]
        answer = sign(formula)
        if answer is None:  # only a constant multiple of H times H could do it: none here
            pytest.fail(f"undecided: {formula}")
        assert answer == (min(values) >= 0, max(values) <= 0), formula
        decided += answer != (False, False)
    assert decided >= 30  # enough formulas of one sign to test the proofs, not only refutations


def test_random_formulas_extremes_agree_with_every_size_up_to_4000():
    """A finite least (greatest) is the least (greatest) value at H = 1 … 4,000; None means the
    formula keeps falling (rising): its values beyond 2,000 go below (above) all before."""
    rng = random.Random(61)
    for _ in range(150):
        formula, value = _tree(rng, 3)
        values = [value(h) for h in range(1, 4001)]
        least, greatest = extremes(formula)
        if least is None:
            assert min(values[2000:]) < min(values[:2000]), formula
        else:
            assert least == min(values), formula
        if greatest is None:
            assert max(values[2000:]) > max(values[:2000]), formula
        else:
            assert greatest == max(values), formula
