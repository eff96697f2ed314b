"""Formulas typeset for people: readable, and still exactly the analysis' value."""

from __future__ import annotations

import re
from functools import cache

import pytest

from archcalc.analysis import analyse_file
from archcalc.expressions import substitute
from archcalc.typeset import display_form, to_html
from tests.conftest import ROOT

SPECS = ROOT / "specs"


@cache
def symbolic(name: str, channels: int = 3):
    return analyse_file(SPECS / f"{name}.yaml", f"{channels},H,W")


def test_alexnet_params_as_a_lecturer_writes_them():
    # By hand: pool5's output is ⌊(H − 67)/32⌋ + 1 on a side (C1 11×11/4, three 3×3/2 pools: 6 at
    # 227), FC6 has 256·that²·4096 weights, and everything else is fixed: 60,965,224 − 256·36·4096
    # = 23,216,488 (with FC6's 4,096 biases).
    params = symbolic("alexnet").totals.params
    assert to_html(params) == ("1,048,576·(⌊(<var>H</var> − 67)/32⌋ + 1)·(⌊(<var>W</var> − 67)/32⌋ + 1) + 23,216,488")
    assert 256 * 4096 == 1_048_576 and 60_965_224 - 256 * 36 * 4096 == 23_216_488


def test_resnet50_macs_collect_one_term_per_stage():
    text = to_html(symbolic("resnet50").totals.macs)
    # one product per resolution: conv1 at /2, then the stages at /4, /8, /16 and /32, and the FC
    for denominator in (2, 4, 8, 16, 32):
        assert f"⌊(<var>H</var> − 1)/{denominator}⌋" in text
    assert text.endswith("+ 2,048,000")  # the FC layer: 2048·1000
    assert "floor" not in text and "*" not in text


def test_numbers_and_fractions():
    assert to_html(1234567) == "1,234,567"
    assert to_html(1234567, separators=False) == "1234567"
    assert to_html(-5) == "−5"
    from fractions import Fraction

    assert to_html(Fraction(5, 2)) == "5/2"


@pytest.mark.parametrize(("name", "channels"), [("googlenet", 3), ("zfnet", 3), ("lenet5", 1), ("inception_v3", 3)])
def test_display_form_is_the_same_value(name, channels):
    a = symbolic(name, channels)
    for value in (a.totals.macs, a.totals.params, a.totals.flops, a.totals.activations):
        shown = display_form(value)
        for h, w in ((299, 299), (320, 301), (512, 448)):
            assert substitute(shown, {"H": h, "W": w}) == substitute(value, {"H": h, "W": w})
        text = to_html(value)
        assert not re.search(r"floor|ceiling|\*\*|\*", text)
        assert text.count("⌊") == text.count("⌋") and text.count("⌈") == text.count("⌉") and text.count("(") == text.count(")")
