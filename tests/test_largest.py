"""archcalc.largest: the largest of size formulas, decided only where an exact rule settles it
for every input size — expected values by hand arithmetic written out beside each case."""

from __future__ import annotations

import sympy

from archcalc.expressions import substitute, symbol
from archcalc.largest import largest

H, W = symbol("H"), symbol("W")
floor = sympy.floor


def test_numbers_are_compared_as_numbers():
    assert largest([3, 5, 4]) == 5 and largest([7]) == 7


def test_a_size_times_at_least_the_number_bounds_it():
    # X = ⌊(H − 1)/32⌋ + 1 ≥ 1 at every H ≥ 1 (its floor is ⌊x/32⌋ of x = H − 1 ≥ 0), so
    # 2,048·X·Y ≥ 2,048: ResNet-50's pooled output never beats its last feature map
    x, y = floor((H - 1) / 32) + 1, floor((W - 1) / 32) + 1
    assert largest([2048 * x * y, 2048]) == 2048 * x * y
    assert largest([2048, 2048 * x * y]) == 2048 * x * y  # either order
    # 1,024·X·Y against 2,048: at H = W = 1 that is 1,024 < 2,048, so both stay
    assert set(largest([1024 * x * y, 2048]).args) == {1024 * x * y, 2048}


def test_a_name_one_side_lacks_is_a_factor_1_there():
    # z = H − 2·⌊H/2⌋ + 1 is 1 at even H and 2 at odd: 2,048·z ≥ 2,048 (z − 1 ≥ 0), while
    # 2,048 against 2,048·z compares 1 with z, which is 2 at H = 1: the number does not bound it
    z = H - 2 * floor(H / 2) + 1
    assert largest([2048, 2048 * z]) == 2048 * z
    assert largest([2048 * z, 2048]) == 2048 * z


def test_name_by_name_a_factor_at_least_as_large_everywhere():
    # SqueezeNet's last maps: ⌊(H − 35)/16⌋ + 1 − (⌊(H − 227)/16⌋ + 1) = 12 at every H (227 − 35 =
    # 192 = 12·16), and the same along W: 1,000 times the first pair bounds 1,000 times the second
    a = 1000 * (floor((H - 35) / 16) + 1) * (floor((W - 35) / 16) + 1)
    b = 1000 * (floor((H - 227) / 16) + 1) * (floor((W - 227) / 16) + 1)
    assert largest([b, a]) == a
    # a larger factor along H but a smaller one along W: neither bounds the other
    c = 1000 * (floor((H - 35) / 16) + 1) * (floor((W - 227) / 16) + 1)
    d = 1000 * (floor((H - 227) / 16) + 1) * (floor((W - 35) / 16) + 1)
    assert set(largest([c, d]).args) == {c, d}
    # a larger factor, a smaller number: 999 < 1,000
    assert set(largest([b, 999 * (floor((H - 35) / 16) + 1) * (floor((W - 35) / 16) + 1)]).args) == {
        b,
        999 * (floor((H - 35) / 16) + 1) * (floor((W - 35) / 16) + 1),
    }


def test_what_no_rule_settles_stays_an_unevaluated_max():
    # 2·H + 2·W ≥ 2·H at every size, but a factor of two names is not compared: archcalc leaves
    # the max as written (sympy's own Max would compare the pair, and every pair of a network's)
    kept = largest([2 * H, 2 * H + 2 * W])
    assert isinstance(kept, sympy.Max) and set(kept.args) == {2 * H, 2 * H + 2 * W}
    # exact once substituted: H = 3, W = 4 → max(6, 14) = 14
    assert substitute(kept, {"H": 3, "W": 4}) == 14


def test_the_numbers_fold_into_one_names_factor():
    # VGG's maps: 64·H·W against 512·⌊H/8⌋·⌊W/8⌋: 512 > 64, yet 64·H − 512·⌊H/8⌋ = 64·(H mod 8)
    # ≥ 0 and W − ⌊W/8⌋ ≥ 0, so 64·H·W bounds it at every size (either name takes the numbers)
    assert largest([512 * floor(H / 8) * floor(W / 8), 64 * H * W]) == 64 * H * W
    assert largest([64 * H * W, 128 * floor(H / 2) * floor(W / 2), 256 * floor(H / 4) * floor(W / 4)]) == 64 * H * W
    # 64·H·W against 1,024·⌊H/8⌋·⌊W/8⌋: folded into one name, 64·H − 1,024·⌊H/8⌋ is −512 at
    # H = 8 (and so along W). 64·H·W does bound it (8·H ≥ 32·⌊H/8⌋ along each name), but only with
    # the numbers split between the names, which the rule does not try: both stay, exact once
    # substituted — a limit of the rule, stated here
    kept = largest([64 * H * W, 1024 * floor(H / 8) * floor(W / 8)])
    assert isinstance(kept, sympy.Max) and set(kept.args) == {64 * H * W, 1024 * floor(H / 8) * floor(W / 8)}


def test_equal_candidates_keep_the_first():
    from archcalc.largest import undominated

    x = floor(H / 2)
    assert undominated({"a": 4 * x * W, "b": 4 * x * W}) == {"a": 4 * x * W}
    assert undominated({"b": 4 * x * W, "a": 4 * x * W}) == {"b": 4 * x * W}
