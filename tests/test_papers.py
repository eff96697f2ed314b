"""LeNet-5 and AlexNet against their papers. Expected values are the papers' numbers or
hand arithmetic written out here — never archcalc's own output."""

from __future__ import annotations

import pytest

from archcalc.analysis import analyse_file
from tests.conftest import ROOT, by_name


@pytest.fixture(scope="module")
def lenet():
    return analyse_file(ROOT / "specs/lenet5.yaml")


@pytest.fixture(scope="module")
def alexnet():
    return analyse_file(ROOT / "specs/alexnet.yaml")


# LeCun et al. 1998, section II.B: trainable parameters and connections per layer.
LENET_PAPER = {
    #       output shape     params                                   connections
    "C1": ((6, 28, 28), 156, 122_304),
    "S2": ((6, 14, 14), 12, 5_880),
    "C3": ((16, 10, 10), 1_516, 151_600),
    "S4": ((16, 5, 5), 32, 2_000),
    "C5": ((120, 1, 1), 48_120, 48_120),
    "F6": ((84,), 10_164, 10_164),
    "output": ((10,), 0, 84 * 10),  # fixed RBF weights: connections, but nothing trainable
}


@pytest.mark.parametrize("layer", LENET_PAPER)
def test_lenet_layers_match_the_paper(lenet, layer):
    shape, params, connections = LENET_PAPER[layer]
    stats = by_name(lenet)[layer]
    assert stats.output_shape == shape
    assert stats.params == params
    assert stats.connections == connections


def test_lenet_totals_match_the_paper(lenet):
    # "340,908 connections, but only 60,000 trainable free parameters"
    assert lenet.totals.params == 60_000
    assert lenet.totals.connections == 340_908
    assert lenet.totals.buffers == 84 * 10  # the RBF's hand-chosen weights


def test_lenet_c3_partial_table_hand_arithmetic(lenet):
    c3 = by_name(lenet)["C3"]
    # six maps see 3 inputs, nine see 4, one sees all 6 (Table I)
    weights = 6 * 3 * 25 + 9 * 4 * 25 + 1 * 6 * 25
    assert c3.params == weights + 16
    assert c3.macs == weights * 10 * 10


def test_lenet_receptive_field_covers_the_input(lenet):
    # C1 5; S2 +1×1 = 6; C3 +4×2 = 14; S4 +1×2 = 16; C5 +4×4 = 32 — the whole 32×32 input
    sizes = {name: by_name(lenet)[name].rf.size for name in ("C1", "S2", "C3", "S4", "C5")}
    assert sizes == {"C1": (5, 5), "S2": (6, 6), "C3": (14, 14), "S4": (16, 16), "C5": (32, 32)}


ALEXNET_HAND = {
    #        output shape       params
    "C1": ((96, 55, 55), 11 * 11 * 3 * 96 + 96),
    "pool1": ((96, 27, 27), 0),
    "C2": ((256, 27, 27), 2 * (5 * 5 * 48 * 128 + 128)),
    "pool2": ((256, 13, 13), 0),
    "C3": ((384, 13, 13), 3 * 3 * 256 * 384 + 384),
    "C4": ((384, 13, 13), 2 * (3 * 3 * 192 * 192 + 192)),
    "C5": ((256, 13, 13), 2 * (3 * 3 * 192 * 128 + 128)),
    "pool5": ((256, 6, 6), 0),
    "FC6": ((4096,), 6 * 6 * 256 * 4096 + 4096),
    "FC7": ((4096,), 4096 * 4096 + 4096),
    "FC8": ((1000,), 4096 * 1000 + 1000),
}


@pytest.mark.parametrize("layer", ALEXNET_HAND)
def test_alexnet_layers_by_hand(alexnet, layer):
    shape, params = ALEXNET_HAND[layer]
    stats = by_name(alexnet)[layer]
    assert stats.output_shape == shape
    assert stats.params == params


def test_alexnet_total_is_the_papers_60_million(alexnet):
    assert alexnet.totals.params == sum(params for _, params in ALEXNET_HAND.values())
    assert round(alexnet.totals.params / 1e6) == 61  # "60 million parameters"


def test_alexnet_macs_by_hand(alexnet):
    layers = by_name(alexnet)
    assert layers["C1"].macs == 55 * 55 * 96 * 11 * 11 * 3
    assert layers["C2"].macs == 27 * 27 * 256 * 5 * 5 * 48  # each group sees 48 maps
    assert layers["FC6"].macs == 9216 * 4096


def test_alexnet_receptive_fields(alexnet):
    layers = by_name(alexnet)
    # C1: k=11, s=4: field 11, jump 4, first centre at (11−1)/2 = 5
    assert layers["C1"].rf.size == (11, 11) and layers["C1"].rf.jump == (4, 4) and layers["C1"].rf.start == (5, 5)
    # pool1: 11 + (3−1)·4 = 19, jump 8, start 5 + 1·4 = 9
    assert (layers["pool1"].rf.size, layers["pool1"].rf.jump, layers["pool1"].rf.start) == ((19, 19), (8, 8), (9, 9))
    # C2 (p=2): 19 + 4·8 = 51, start 9 + (2 − 2)·8 = 9
    assert (layers["C2"].rf.size, layers["C2"].rf.start) == ((51, 51), (9, 9))
    # pool5: C5 ends at 163 with jump 16; 163 + 2·16 = 195, jump 32
    assert (layers["pool5"].rf.size, layers["pool5"].rf.jump) == ((195, 195), (32, 32))
