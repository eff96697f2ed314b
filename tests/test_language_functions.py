"""Functions in expressions, exact, against independent references: NumPy's and PyTorch's
rounding, torchvision's own _make_divisible and its EfficientNet and RegNet configurations."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torchvision.models._utils import _make_divisible
from torchvision.models.efficientnet import MBConvConfig, _efficientnet_conf
from torchvision.models.regnet import BlockParams

from archcalc.expressions import ExpressionError, parse, symbol

# torchvision's regnet.py builders' arguments
REGNET_X = {
    "regnet_x_400mf": {"depth": 22, "w_0": 24, "w_a": 24.48, "w_m": 2.54, "group_width": 16},
    "regnet_x_800mf": {"depth": 16, "w_0": 56, "w_a": 35.73, "w_m": 2.28, "group_width": 16},
    "regnet_x_1_6gf": {"depth": 18, "w_0": 80, "w_a": 34.01, "w_m": 2.25, "group_width": 24},
    "regnet_x_3_2gf": {"depth": 25, "w_0": 88, "w_a": 26.31, "w_m": 2.25, "group_width": 48},
    "regnet_x_8gf": {"depth": 23, "w_0": 80, "w_a": 49.56, "w_m": 2.88, "group_width": 120},
    "regnet_x_16gf": {"depth": 22, "w_0": 216, "w_a": 55.59, "w_m": 2.1, "group_width": 128},
    "regnet_x_32gf": {"depth": 23, "w_0": 320, "w_a": 69.86, "w_m": 2.0, "group_width": 168},
}
REGNET_Y = {
    "regnet_y_400mf": {"depth": 16, "w_0": 48, "w_a": 27.89, "w_m": 2.09, "group_width": 8},
    "regnet_y_800mf": {"depth": 14, "w_0": 56, "w_a": 38.84, "w_m": 2.4, "group_width": 16},
    "regnet_y_1_6gf": {"depth": 27, "w_0": 48, "w_a": 20.71, "w_m": 2.65, "group_width": 24},
    "regnet_y_3_2gf": {"depth": 21, "w_0": 80, "w_a": 42.63, "w_m": 2.66, "group_width": 24},
    "regnet_y_8gf": {"depth": 17, "w_0": 192, "w_a": 76.82, "w_m": 2.19, "group_width": 56},
    "regnet_y_16gf": {"depth": 18, "w_0": 200, "w_a": 106.23, "w_m": 2.48, "group_width": 112},
    "regnet_y_32gf": {"depth": 20, "w_0": 232, "w_a": 115.89, "w_m": 2.53, "group_width": 232},
    "regnet_y_128gf": {"depth": 27, "w_0": 456, "w_a": 160.83, "w_m": 2.52, "group_width": 264},
}
EFFICIENTNET_B = {  # torchvision's efficientnet_b0 … b7: (width_mult, depth_mult)
    "b0": (1.0, 1.0), "b1": (1.0, 1.1), "b2": (1.1, 1.2), "b3": (1.2, 1.4),
    "b4": (1.4, 1.8), "b5": (1.6, 2.2), "b6": (1.8, 2.6), "b7": (2.0, 3.1),
}  # fmt: skip


# --- rounding ------------------------------------------------------------------------------
@pytest.mark.parametrize("k", range(-6, 7))
def test_round_takes_ties_to_even_as_numpy_and_torch_do(k):
    half = k + 0.5  # exactly representable, so NumPy and torch see the very tie
    expected = int(np.round(half))
    assert expected == int(torch.round(torch.tensor(half, dtype=torch.float64)))
    assert parse(f"round({k} + 0.5)") == expected
    assert parse(f"round({k} + 0.5001)") == k + 1 and parse(f"round({k} + 0.4999)") == k


def test_floor_ceil_int_abs_min_max():
    assert [parse(t) for t in ("floor(-2.5)", "ceil(-2.5)", "int(-2.5)", "int(2.5)", "abs(-3/4)")] == [-3, -2, -2, 2, Fraction(3, 4)]
    assert parse("max(1, 7 // 4, 2/3)") == 1 and parse("min([4, 2.5, 3])") == Fraction(5, 2)
    assert parse("round(7/3, 2)") == Fraction(233, 100)  # 2.333… to two decimals, exactly
    H = symbol("H")
    assert str(parse("floor(H / 2) + max(H, 1)", {"H": H})) == "H + floor(H/2)"  # max(H, 1) = H: sizes are positive


def test_decimal_literals_are_exact_rationals():
    assert parse("0.1 + 0.2") == Fraction(3, 10)  # 0.30000000000000004 in binary floats
    assert parse("1.4 * 5") == 7 and isinstance(parse("1.4 * 5"), int)
    assert parse("1e-6") == Fraction(1, 10**6)


# --- make_divisible ---------------------------------------------------------------------------
@given(st.integers(1, 4096 * 64), st.sampled_from([1, 2, 3, 4, 8, 16, 32]), st.sampled_from([None, 1, 8, 16]))
def test_make_divisible_is_torchvisions_rule(sixty_fourths, divisor, min_value):
    """Against torchvision's own function, at values a float holds exactly (k/64) and away
    from the one comparison a float could get wrong (new < 0.9·v at equality)."""
    v = Fraction(sixty_fourths, 64)
    expected = _make_divisible(float(v), divisor, min_value)
    floor_rounded = max(min_value or divisor, int(v + Fraction(divisor, 2)) // divisor * divisor)
    if floor_rounded == Fraction(9, 10) * v:
        return
    assert parse("make_divisible(v, d, min_value=m)", {"v": v, "d": divisor, "m": min_value}) == expected


def test_make_divisible_documented_cases():
    # mnasnet's _round_to_multiple_of docstring: (83, 8) -> 80, (84, 8) -> 88
    assert parse("make_divisible(83, 8)") == 80 and parse("make_divisible(84, 8)") == 88
    assert parse("make_divisible(32 * 1.4, 8)") == 48 and parse("make_divisible(3, 8)") == 8


# --- round_log ----------------------------------------------------------------------------------
@given(st.integers(1, 10**6), st.integers(1, 10**4), st.sampled_from([Fraction(209, 100), Fraction(63, 25), Fraction(2), Fraction(21, 10)]))
def test_round_log_is_numpys_rounded_log(numerator, denominator, base):
    x = Fraction(numerator, denominator)
    estimate = math.log(x) / math.log(base)
    if abs(estimate - math.floor(estimate) - 0.5) < 1e-9:  # too near a tie for floats to say
        return
    assert parse("round_log(x, b)", {"x": x, "b": base}) == int(np.round(np.log(float(x)) / np.log(float(base))))


def test_round_log_ties_go_to_even():
    # log_4(2) = 0.5, log_4(8) = 1.5, log_4(32) = 2.5, log_4(1/2) = −0.5: exact ties
    assert [parse(f"round_log({x}, 4)") for x in ("2", "8", "32", "1/2")] == [0, 2, 2, 0]


@pytest.mark.parametrize("text", ["round_log(0, 2)", "round_log(2, 1)", "round_log(2, 0.5)", "round_log(10**60, 1.0000001)"])
def test_round_log_refuses_what_has_no_answer(text):
    with pytest.raises(ExpressionError, match="round_log"):
        parse(text)


# --- torchvision's configurations, computed by the language -----------------------------------
WIDTHS = "[round(w_0 * w_m ** round_log(1 + j * w_a / w_0, w_m) / 8) * 8 for j in range(depth)]"
STAGE_WIDTH = "int(make_divisible(int(w * b), min(g, int(w * b))) / b)"


@pytest.mark.parametrize("name", [*REGNET_X, *REGNET_Y])
def test_regnet_stage_widths_depths_and_groups_equal_torchvisions(name):
    """regnet.py's BlockParams.from_init_params (torch.log, torch.round, torch.pow in float32)
    against the exact rule every RegNet spec writes."""
    args = {**REGNET_X, **REGNET_Y}[name]
    expected = BlockParams.from_init_params(**args)
    names = {k: Fraction(str(v)) for k, v in args.items()}
    stages = parse(f"runs({WIDTHS})", names)
    widths = [parse(STAGE_WIDTH, {"w": w, "b": 1, "g": names["group_width"]}) for w, _ in stages]
    groups = [parse("min(g, int(w * b))", {"w": w, "b": 1, "g": names["group_width"]}) for w, _ in stages]
    assert [d for _, d in stages] == expected.depths
    assert widths == expected.widths
    assert groups == expected.group_widths


@pytest.mark.parametrize("variant", list(EFFICIENTNET_B))
def test_efficientnet_stage_table_equals_torchvisions(variant):
    """efficientnet.py's MBConvConfig: channels by _make_divisible(c · width_mult, 8), depths
    by ceil(n · depth_mult); in a block, expanded = _make_divisible(C_in · t, 8), squeeze =
    max(1, C_in // 4)."""
    width, depth = EFFICIENTNET_B[variant]
    configs, _ = _efficientnet_conf(f"efficientnet_{variant}", width_mult=width, depth_mult=depth)
    table = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
             (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))  # fmt: skip
    names = {"table": table, "w": Fraction(str(width)), "d": Fraction(str(depth))}
    stages = parse("[[make_divisible(i * w, 8), make_divisible(o * w, 8), ceil(n * d)] for t, k, s, i, o, n in table]", names)
    assert [list(stage) for stage in stages] == [[c.input_channels, c.out_channels, c.num_layers] for c in configs]
    for config in configs:
        inputs = {"C_in": config.input_channels, "t": Fraction(str(config.expand_ratio))}
        assert parse("make_divisible(C_in * t, 8)", inputs) == MBConvConfig.adjust_channels(config.input_channels, config.expand_ratio)
        assert parse("max(1, C_in // 4)", inputs) == max(1, config.input_channels // 4)
