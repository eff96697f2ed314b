"""specs/unet.yaml against Ronneberger, Fischer & Brox 2015 (arXiv:1505.04597): every size
and channel count printed in Fig. 1, the 23 convolutional layers of section 2, the tile
sizes that give every pool an even map (derived from archcalc's symbolic formulas), and
PyTorch running the spec-built model (its shapes and FlopCounterMode's count are the
independent side there)."""

from __future__ import annotations

from functools import cache

import pytest
import sympy
import torch
from torch.utils.flop_counter import FlopCounterMode

from archcalc.analysis import analyse, analyse_file, load_network
from archcalc.torch_backend.build import build as build_spec
from tests.conftest import ROOT

UNET = ROOT / "specs" / "unet.yaml"

#: Fig. 1 (p. 2), map by map: (layer, channels printed above the box, x-y size printed at its
#: lower left). The pooled maps carry no box of their own: their size is printed at the start
#: of the level below (284², 140², 68², 32²), their channels are the level's above. The
#: up-convolved maps are the blue halves of the expansive path's first boxes, drawn
#: beside the white, cropped copies; the concatenations are the boxes labelled 1024, 512,
#: 256, 128.
FIG_1 = [
    ("down1.conv1", 64, 570), ("down1.conv2", 64, 568), ("pool1", 64, 284),
    ("down2.conv1", 128, 282), ("down2.conv2", 128, 280), ("pool2", 128, 140),
    ("down3.conv1", 256, 138), ("down3.conv2", 256, 136), ("pool3", 256, 68),
    ("down4.conv1", 512, 66), ("down4.conv2", 512, 64), ("pool4", 512, 32),
    ("down5.conv1", 1024, 30), ("down5.conv2", 1024, 28),
    ("upconv4", 512, 56), ("crop4", 512, 56), ("concat4", 1024, 56), ("up4.conv1", 512, 54), ("up4.conv2", 512, 52),
    ("upconv3", 256, 104), ("crop3", 256, 104), ("concat3", 512, 104), ("up3.conv1", 256, 102), ("up3.conv2", 256, 100),
    ("upconv2", 128, 200), ("crop2", 128, 200), ("concat2", 256, 200), ("up2.conv1", 128, 198), ("up2.conv2", 128, 196),
    ("upconv1", 64, 392), ("crop1", 64, 392), ("concat1", 128, 392), ("up1.conv1", 64, 390), ("up1.conv2", 64, 388),
    ("final", 2, 388),
]  # fmt: skip
#: the sizes Fig. 1 prints, in its reading order (input tile first, output map last)
PRINTED_SIZES = [572, 570, 568, 284, 282, 280, 140, 138, 136, 68, 66, 64, 32, 30, 28,
                 56, 54, 52, 104, 102, 100, 200, 198, 196, 392, 390, 388]  # fmt: skip
PRINTED_CHANNELS = {1, 2, 64, 128, 256, 512, 1024}


@cache
def unet(input_shape: str | None = None):
    return analyse_file(UNET, input_shape=input_shape)


def test_the_figures_data_is_the_figures_printed_numbers():
    # the table above holds every number Fig. 1 prints, and nothing else
    assert [572] + sorted({size for _, _, size in FIG_1}, key=PRINTED_SIZES.index) == PRINTED_SIZES
    assert {1} | {channels for _, channels, _ in FIG_1} == PRINTED_CHANNELS


@pytest.mark.parametrize(("layer", "channels", "size"), FIG_1, ids=[row[0] for row in FIG_1])
def test_every_map_of_fig_1(layer, channels, size):
    stats = {s.name: s for s in unet().layers}[layer]
    assert stats.output_shape == (channels, size, size)


def test_572_in_388_by_2_out_and_every_layer_is_in_the_figure():
    analysis = unet()
    assert analysis.input_shape == (1, 572, 572)  # Fig. 1: "input image tile", 1 channel
    assert analysis.layers[-1].output_shape == (2, 388, 388)  # "output segmentation map"
    drawn = {layer for layer, _, _ in FIG_1}
    for stats in analysis.layers:  # a ReLU keeps its convolution's map
        assert stats.name in drawn or (stats.kind == "relu" and stats.inputs[0] in drawn), stats.name


def test_23_convolutional_layers():
    # section 2: "In total the network has 23 convolutional layers" (18 3×3, 4 up-convolutions, one 1×1)
    kinds = [s.kind for s in unet().layers if s.kind in ("conv", "convtranspose")]
    assert len(kinds) == 23 and kinds.count("convtranspose") == 4


# --- which tiles work: from the symbolic formulas ---------------------------------------
def test_valid_tiles_are_16k_plus_124_from_188():
    """Section 2: "it is important to select the input tile size such that all 2x2
    max-pooling operations are applied to a layer with an even x- and y-size". Hand
    arithmetic: a level's convolutions take 4 off, a pool halves, an up-convolution doubles,
    so the bottom map is b = (H − 124)/16 and the output 16·b − 60: H = 16k + 124 with k ≥ 4
    (a positive output), i.e. H ≡ 12 (mod 16) from 188; 572 is k = 28."""
    analysis = unet("1,H,W")
    (H,) = [symbol for symbol in analysis.layers[-1].output_shape[1].free_symbols]
    pooled = [s.inputs[0] for s in analysis.layers if s.kind == "maxpool"]
    heights = {s.name: s.output_shape[1] for s in analysis.layers}
    output = analysis.layers[-1].output_shape[1]

    def valid(h: int) -> bool:
        sizes = [heights[name].xreplace({H: sympy.Integer(h)}) for name in pooled]
        return all(size > 0 and size % 2 == 0 for size in sizes) and output.xreplace({H: sympy.Integer(h)}) > 0

    assert [h for h in range(1, 800) if valid(h)] == [h for h in range(188, 800) if h % 16 == 12]
    k = sympy.Symbol("k", integer=True)
    assert sympy.simplify(output.subs(H, 16 * k + 124) - (16 * k - 60)) == 0
    assert output.subs(H, 572) == 388 and output.subs(H, 188) == 4


def test_the_width_formula_is_the_height_formula():
    analysis = unet("1,H,W")
    height, width = analysis.layers[-1].output_shape[1:]
    (H,), (W,) = height.free_symbols, width.free_symbols
    assert height.subs(H, W) == width


# --- PyTorch runs the spec-built model ----------------------------------------------------
def _built(path, input_shape: str | None = None, device: str = "meta"):
    network = load_network(path, input_shape)
    analysis = analyse(network)
    with torch.device(device):
        built = build_spec(network, analysis)
    return analysis, built


def _run(analysis, built, x):
    """The model's output and every layer's output shape, as PyTorch computes them."""
    shapes = {}
    handles = [m.register_forward_hook(_shape_into(shapes, name)) for name, m in built.modules.items()]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            out = built.inference.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    return out, shapes, counter.get_total_flops()


def _shape_into(shapes: dict, name: str):
    def hook(module, args, output):
        shapes[name] = tuple(output.shape[1:])

    return hook


def test_torch_gives_every_shape_and_the_macs_at_572():
    # the meta device: PyTorch's own shape rules and FlopCounterMode, nothing computed
    analysis, built = _built(UNET)
    out, shapes, flops = _run(analysis, built, torch.zeros(1, 1, 572, 572, device="meta"))
    assert out.shape == (1, 2, 388, 388)
    assert shapes == {s.name: s.output_shape for s in analysis.layers}
    assert flops == 2 * analysis.totals.macs
    assert sum(p.numel() for p in built.full.parameters()) == analysis.totals.params


def test_the_smallest_tile_runs_on_the_cpu(tmp_path):
    """188 × 204 (k = 4 and 5): a 4 × 20 output; eight channels at the top level instead of 64
    (the same graph, 64× fewer multiply-adds) so that the real run is quick."""
    narrow = tmp_path / "unet8.yaml"
    narrow.write_text(f"extends: {UNET}\nargs: {{width: 8}}\n")
    analysis, built = _built(narrow, "1,188,204", device="cpu")
    torch.manual_seed(0)
    out, shapes, flops = _run(analysis, built, torch.randn(1, 1, 188, 204))
    assert out.shape == (1, 2, 4, 20) and out.isfinite().all() and out.std() > 0
    assert shapes == {s.name: s.output_shape for s in analysis.layers}
    assert flops == 2 * analysis.totals.macs
