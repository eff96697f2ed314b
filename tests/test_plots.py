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
from archcalc.plots import compare, layers, size, training
from archcalc.plots.figures import digest
from tests.conftest import LENET_MACS, ROOT

SPECS = ROOT / "specs"
matplotlib = pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install -e '.[plot]' (scripts/setup --test installs it)")


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


# --- the training step's memory by kind ---------------------------------------------------
@cache
def step(name: str, batch: int = 1, **settings):
    from archcalc.analysis import analyse, load_network
    from archcalc.training.memory import analyse_training

    network = load_network(SPECS / f"{name}.yaml")
    a = analyse(network, batch=batch)
    return a, analyse_training(network, a, **settings)


def test_lenet5_training_bars_are_the_peaks_terms_by_hand():
    from tests.test_training import F32, LENET_BUFFERS, LENET_OUTPUT, LENET_PARAMS, LENET_SAVED, LENET_TRANSIENT

    bars = training.figure(*step("lenet5", device="cpu"))
    assert [c.replace("\n", " ") for c in bars.categories] == [
        "parameters", "buffers", "gradients", "optimizer state (adam)", "saved for backward",
        "input batch, outputs (live, not saved)", "backward transient",
    ]  # fmt: skip
    (panel,) = bars.panels
    # Adam keeps two copies of the 60,000 parameters; the RBF's 84×10 prototypes are buffers; the input
    # image is saved by C1, so what is live and not saved is the RBF's 10 outputs
    assert panel.values == (F32 * LENET_PARAMS, F32 * LENET_BUFFERS, F32 * LENET_PARAMS, 2 * F32 * LENET_PARAMS, LENET_SAVED,
                            LENET_OUTPUT, LENET_TRANSIENT)  # fmt: skip
    assert sum(panel.values) == 1_090_808  # the peak the JSON report states (test_training)
    assert not panel.log  # a sum's parts: a linear axis
    # 240,000 / 1,090,808 = 22.002 %; 480,000 / 1,090,808 = 44.004 %; 40 / 1,090,808 < 0.1 %
    assert panel.labels[0] == "240.0 kB\n22.0 %" and panel.labels[3] == "480.0 kB\n44.0 %"
    assert panel.labels[5] == "40 B\n< 0.1 %"
    assert [(g.label, g.first, g.last) for g in bars.groups] == [("model state", 0, 3), ("activations", 4, 6)]
    assert bars.title == "LeNet-5: the memory of a training step, 1.1 MB at its peak"
    assert "peak = the sum of the bars = 1,090,808 bytes" in bars.notes[1] and "at tanh1" in bars.notes[2]


def test_training_bars_follow_the_optimizer_and_the_batch():
    from tests.test_training import F32, LENET_PARAMS, LENET_SAVED

    sgd = training.figure(*step("lenet5", batch=3, optimizer="sgd")).panels[0].values
    assert sgd[3] == 0  # plain SGD keeps no state
    assert sgd[0] == sgd[2] == F32 * LENET_PARAMS  # the model state does not grow with the batch
    assert sgd[4] == 3 * LENET_SAVED  # LeNet-5 saves nothing per channel: three samples, three times the bytes


@pytest.mark.parametrize("name", ["alexnet", "googlenet", "resnet50"])
def test_training_bars_are_the_training_analysis(name):
    a, t = step(name, fit="80GiB")
    bars = training.figure(a, t)
    values = bars.panels[0].values
    assert values == (t.param_bytes, t.buffer_bytes, t.grad_bytes, t.optimizer_state_bytes, t.saved_bytes,
                      t.live_bytes - t.saved_bytes, t.transient_bytes)  # fmt: skip
    assert sum(values) == t.peak_bytes and min(values) >= 0
    assert f"so the largest batch is {t.fit.batch:,}" in bars.notes[-1]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1049, "1.0 kB"), (1051, "1.1 kB"), (999_949, "999.9 kB"), (999_951, "1.0 MB"),
     (243_860_896, "243.9 MB"), (6_422_136_288, "6.4 GB")],
)  # fmt: skip
def test_short_bytes_by_hand(value, text):
    assert training.short_bytes(value) == text


def test_training_plot_command(cli, tmp_path):
    out = tmp_path / "t.png"
    result = cli("plot", SPECS / "lenet5.yaml", "--kind", "training", "--batch", "4", "--optimizer", "sgd", "--device", "cpu", "-o", out)
    assert result.exit_code == 0 and out.read_bytes().startswith(b"\x89PNG")
    from archcalc.plots.draw import draw

    figure = training.figure(*step("lenet5", batch=4, optimizer="sgd", device="cpu"))
    assert out.read_bytes() == draw(figure, "png")  # the command draws the training analysis' figure, nothing else
    assert draw(figure, "svg") == draw(figure, "svg")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--kind", "training", "--input", "1,H,W"], "a training plot needs concrete sizes, but the input (1, H, W) has names"),
        (["--kind", "training", "--dtype", "int8"], "--training needs a floating-point --dtype"),
        (["--optimizer", "sgd"], "--optimizer: only --kind training reads it, found --kind layers"),
        (["--kind", "size", "--device", "cpu"], "--device: only --kind training reads it, found --kind size"),
    ],
)
def test_training_plot_errors_are_one_line(cli, tmp_path, options, message):
    result = cli("plot", SPECS / "lenet5.yaml", *options, "-o", tmp_path / "x.svg")
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.svg").exists()
