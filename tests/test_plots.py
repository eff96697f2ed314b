"""Plots: the data behind each figure, checked against the analysis and hand arithmetic (not
pixels); the drawing only for what it promises (deterministic bytes, its digest, the files the
command writes, a one-line message without matplotlib)."""

from __future__ import annotations

import sys
from fractions import Fraction
from functools import cache

import pytest

from archcalc.analysis import analyse_file
from archcalc.errors import SpecError
from archcalc.growth import SizeRange, growth
from archcalc.ops import REGISTRY
from archcalc.plots import compare, layers, size
from archcalc.plots.figures import digest
from tests.conftest import LENET_MACS, ROOT

SPECS = ROOT / "specs"
matplotlib = pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install -e '.[plot]' (scripts/setup installs it)")


@cache
def analysis(name: str, input_shape: str | None = None):
    return analyse_file(SPECS / f"{name}.yaml", input_shape)


# AlexNet's fully connected layers by hand: FC6 (256·6·6)·4096 + 4096, FC7 4096·4096 + 4096,
# FC8 4096·1000 + 1000; the whole network has 60,965,224 (the README's figure)
FC_PARAMS = 9216 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
ALEXNET_PARAMS = 60_965_224


def test_alexnet_bars_show_where_the_cost_is():
    bars = layers.figure(analysis("alexnet"))
    # the layers with weights or a window, in order; relu, LRN, dropout, flatten, softmax are pointwise
    assert bars.categories == ("C1", "pool1", "C2", "pool2", "C3", "C4", "C5", "pool5", "FC6", "FC7", "FC8")
    params, macs, memory = bars.panels
    assert params.values[8:] == (9216 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000)
    assert params.values[0] == 11 * 11 * 3 * 96 + 96  # C1
    assert macs.values[0] == 55 * 55 * 96 * (11 * 11 * 3)  # C1: each output unit, an 11×11×3 window
    assert memory.values[0] == 96 * 55 * 55 * 4  # float32
    # "the parameters are mostly in the fully connected layers": 96 % of them
    assert dict(params.shares)["linear"] == Fraction(FC_PARAMS, ALEXNET_PARAMS)
    assert round(float(dict(params.shares)["linear"]) * 100) == 96
    assert dict(macs.shares)["conv"] > Fraction(9, 10)  # and the compute in the conv layers
    assert params.log  # 34,944 to 37.7 M: three decades
    assert not macs.log  # 4.1 M to 224 M: less than two
    assert bars.bands == ()  # no blocks


@pytest.mark.parametrize("name", ["alexnet", "googlenet", "resnet50", "lenet5"])
def test_bars_and_notes_account_for_every_layer(name):
    a = analysis(name)
    bars = layers.figure(a)
    drawn = [s for s in a.layers if not REGISTRY[s.kind].minor]
    assert len(bars.categories) == len(drawn)
    assert list(bars.panels[0].values) == [s.params for s in drawn]
    assert list(bars.panels[1].values) == [s.macs for s in drawn]
    assert list(bars.panels[2].values) == [s.activations * a.dtype_bytes for s in drawn]
    left = a.totals.params - sum(bars.panels[0].values)
    assert f"holding params {left:,}" in bars.notes[0]  # BN's scale and shift, for ResNet
    every = layers.figure(a, all_layers=True)
    assert sum(every.panels[0].values) == a.totals.params and sum(every.panels[1].values) == a.totals.macs
    assert sum(share for _, share in bars.panels[0].shares) == 1


def test_blocks_are_marked_over_their_own_layers():
    a = analysis("googlenet")
    bars = layers.figure(a)
    drawn = [s for s in a.layers if not REGISTRY[s.kind].minor]
    assert [b.label for b in bars.bands][:3] == ["inception_3a", "inception_3b", "inception_4a"]
    for band in bars.bands:
        inside = drawn[band.first : band.last + 1]
        assert all(s.scopes[0] == band.label for s in inside)
        outside = drawn[band.last + 1 : band.last + 2]
        assert not outside or not outside[0].scopes or outside[0].scopes[0] != band.label
    assert bars.categories[bars.bands[0].first] == "branch1.1x1"  # named inside its block
    assert {bars.categories[i] for i in bars.highlighted} >= {"avgpool1 †"}  # the auxiliary heads
    assert all(drawn[i].training_only for i in bars.highlighted)


def test_a_symbolic_input_has_no_bars():
    with pytest.raises(SpecError, match="concrete sizes"):
        layers.figure(analysis("alexnet", "3,H,W"))


def test_size_figure_is_the_growth_data():
    result = growth(analysis("alexnet", "3,H,W"), SizeRange("H", 60, 240, 4), ["macs", "params"])
    lines = size.figure(result, native=None)
    assert lines.x == tuple(range(60, 241, 4))
    assert [c.values for c in lines.panels] == [result.values["macs"], result.values["params"]]
    assert lines.undefined == ((60, 64),)  # 60 and 64 < 67: see test_growth
    assert lines.marks == ()
    at_227 = size.figure(growth(analysis("alexnet", "3,H,W"), SizeRange("H", 3, 451, 4), ["params"]), native=227)
    assert at_227.marks == ((227, "227: the spec's size"),)
    assert at_227.panels[0].values[at_227.x.index(227)] == ALEXNET_PARAMS
    assert "H = W" in at_227.xlabel


def test_compare_points_are_the_inference_totals():
    names = ["lenet5", "alexnet", "googlenet"]
    scatter = compare.figure([analysis(n) for n in names])
    lenet, alexnet, googlenet = scatter.points
    assert (lenet.label, lenet.x, lenet.y) == ("LeNet-5", 60_000, LENET_MACS)  # the paper's 60,000 parameters
    assert (alexnet.x, alexnet.y) == (ALEXNET_PARAMS, 724_406_816)
    g = analysis("googlenet")
    assert (googlenet.x, googlenet.y) == (g.inference_totals.params, g.inference_totals.macs)  # aux heads left out
    assert googlenet.x < g.totals.params


def test_drawing_is_deterministic_and_carries_its_digest():
    from archcalc.plots.draw import draw

    bars = layers.figure(analysis("lenet5"))
    first, second = draw(bars, "svg"), draw(bars, "svg")
    assert first == second
    text = first.decode()
    assert f"<!-- {digest(bars)} -->" in text
    assert "<dc:date>" not in text and "Matplotlib v" not in text
    assert draw(bars, "png") == draw(bars, "png") and draw(bars, "png").startswith(b"\x89PNG")
    assert draw(bars, "pdf").startswith(b"%PDF")


def test_digest_follows_the_data():
    a, b = layers.figure(analysis("lenet5")), layers.figure(analysis("alexnet"))
    assert digest(a) == digest(layers.figure(analysis("lenet5"))) != digest(b)


def test_plot_command_writes_each_kind(cli, tmp_path):
    out = tmp_path / "a.svg"
    result = cli("plot", SPECS / "lenet5.yaml", "-o", out)
    assert result.exit_code == 0 and out.read_text().startswith("<?xml") and f"wrote {out}" in result.output
    result = cli("plot", SPECS / "lenet5.yaml", "--kind", "size", "--range", "H=28:64:4", "--quantity", "macs", "-o", tmp_path / "s.png")
    assert result.exit_code == 0 and (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")
    result = cli("plot", SPECS / "lenet5.yaml", SPECS / "alexnet.yaml", "--kind", "compare", "-o", tmp_path / "c.pdf")
    assert result.exit_code == 0 and (tmp_path / "c.pdf").exists()


@pytest.mark.parametrize(
    ("specs", "options", "message"),
    [
        (["lenet5", "alexnet"], [], "--kind layers draws one network, found 2 specs"),
        (["alexnet"], ["--input", "3,H,W"], "needs concrete sizes"),
        (["alexnet"], ["--kind", "size", "--range", "H=1:10"], "defined at no size of H=1:10"),
        (["alexnet"], ["--kind", "size", "--range", "Q=1:10"], "not a name of the input"),
        (["alexnet"], ["--kind", "size", "--range", "H=9"], "--range: expected NAME=START:STOP"),
    ],
)
def test_plot_errors_are_one_line(cli, tmp_path, specs, options, message):
    result = cli("plot", *(SPECS / f"{name}.yaml" for name in specs), *options, "-o", tmp_path / "x.svg")
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.svg").exists()


def test_bad_extension(cli, tmp_path):
    result = cli("plot", SPECS / "lenet5.yaml", "-o", tmp_path / "x.jpg")
    assert result.exit_code == 2 and "expected a file ending in .svg, .png, .pdf" in result.output


def test_without_matplotlib_one_line_says_what_to_install(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    result = cli("plot", SPECS / "lenet5.yaml", "-o", tmp_path / "x.svg")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "archcalc: error: plots need matplotlib, which is not installed: "
        "pip install -e '.[plot]' in a checkout of archcalc (or pip install matplotlib)"
    )
    result = cli("report", SPECS / "lenet5.yaml", "--format", "html", "-o", tmp_path / "x.html")
    assert result.exit_code == 2 and "pip install -e '.[plot]'" in result.output and not (tmp_path / "x.html").exists()
