"""The training step, derived statically: every op has rules; hand-worked saved bytes, backward
multiply-adds and peak for LeNet-5; symbolic batch; --fit; in-place and view storages;
checkpointing; the JSON names and every command's training output; the errors."""

from __future__ import annotations

import itertools
import json

import pytest
import sympy

from archcalc.analysis import analyse, load_network
from archcalc.errors import ArchcalcError, OpError, SpecError
from archcalc.expressions import substitute, symbol
from archcalc.inplace import eval_plan
from archcalc.largest import undominated
from archcalc.ops import REGISTRY, Op
from archcalc.training.memory import analyse_training, parse_bytes, solve_fit
from tests.conftest import ROOT

LENET = ROOT / "specs" / "lenet5.yaml"
RESNET18 = ROOT / "specs" / "resnet18.yaml"
F32 = 4

# LeNet-5, batch 1, float32, by hand. What autograd keeps, each storage once (section II.B's sizes):
# C1 its input 32·32; tanh1 its output 6·28·28 (S2 then reads it: already kept) and S2 its window
# sums 6·14·14; tanh2 6·14·14; C3 its gathered inputs, Σ|table_j| = 60 maps of 14·14; tanh3 16·10·10;
# S4 its sums 16·5·5; tanh4 16·5·5; tanh5 120; tanh6 84 (C5, F6 and the RBF read kept outputs)
LENET_SAVED = F32 * (32 * 32 + 6 * 28 * 28 + 6 * 14 * 14 + 6 * 14 * 14 + 60 * 14 * 14 + 16 * 10 * 10 + 2 * 16 * 5 * 5 + 120 + 84)
# every forward product again for each gradient: the input's for all but C1 (it reads the image), the
# weights' for all but the RBF (its prototypes are fixed) — C1 28·28·6·25, S2 6·14·14, C3 10·10·1,500,
# S4 16·5·5, C5 120·400, F6 120·84, RBF 84·10
LENET_MACS = {"C1": 117_600, "S2": 1_176, "C3": 150_000, "S4": 400, "C5": 48_000, "F6": 10_080, "output": 840}
LENET_PARAMS, LENET_BUFFERS = 60_000, 840
# the largest backward working set: tanh1's output gradient and its input's, 6·28·28 each
LENET_TRANSIENT = 2 * F32 * 6 * 28 * 28
LENET_OUTPUT = F32 * 10  # the RBF's output, live at the end of the forward pass


def training(path, batch=1, **kwargs):
    network = load_network(path, kwargs.pop("input_shape", None))
    return analyse_training(network, analyse(network, batch=batch, dtype=kwargs.pop("dtype", "float32")), **kwargs)


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_registered_op_has_training_rules(kind):
    assert REGISTRY[kind].training_rules is not Op.training_rules, f"op {kind!r} needs a `training_rules` method"


def test_lenet5_by_hand():
    t = training(LENET, device="cpu")
    assert t.saved_bytes == LENET_SAVED
    assert t.backward_input_macs == sum(LENET_MACS.values()) - LENET_MACS["C1"]
    assert t.backward_weight_macs == sum(LENET_MACS.values()) - LENET_MACS["output"]
    assert t.grad_bytes == t.param_bytes == F32 * LENET_PARAMS and t.optimizer_state_bytes == 2 * F32 * LENET_PARAMS
    assert t.transient_bytes == LENET_TRANSIENT and t.transient_layer == "tanh1"
    # a step: every forward product once, and again for each gradient (no recomputation here)
    forward = sum(LENET_MACS.values())
    assert (t.forward_macs, t.recompute_macs) == (forward, 0)
    assert t.step_macs == forward + (forward - LENET_MACS["C1"]) + (forward - LENET_MACS["output"])
    assert t.live_bytes == LENET_SAVED + LENET_OUTPUT
    assert (
        t.peak_bytes
        == F32 * (LENET_PARAMS + LENET_BUFFERS + LENET_PARAMS + 2 * LENET_PARAMS) + LENET_SAVED + LENET_OUTPUT + LENET_TRANSIENT
    )


def test_each_layers_saved_bytes_sum_to_the_total_and_name_their_tensors():
    layers = {layer.name: layer for layer in training(LENET).layers}
    assert sum(layer.saved_bytes for layer in layers.values()) == LENET_SAVED
    assert [(s.tensor, s.storage, s.first) for s in layers["S2"].saved] == [("input", "tanh1", False), ("sums", "S2:sums", True)]
    assert [(s.tensor, s.elements, s.dtype) for s in layers["C3"].saved] == [("gathered", 60 * 14 * 14, "float32")]


def test_a_symbolic_batch_makes_every_training_quantity_a_formula_in_it():
    n = symbol("N")
    t = training(LENET, batch=n)
    fixed = F32 * (LENET_PARAMS + LENET_BUFFERS + LENET_PARAMS + 2 * LENET_PARAMS)
    assert t.peak_bytes == fixed + (LENET_SAVED + LENET_OUTPUT + LENET_TRANSIENT) * n  # the transient's Max(c·N, …) is c·N
    assert substitute(t.saved_bytes, {"N": 3}) == training(LENET, batch=3).saved_bytes == 3 * LENET_SAVED


def test_fit_solves_the_largest_batch_from_the_formula():
    per_sample, fixed = LENET_SAVED + LENET_OUTPUT + LENET_TRANSIENT, F32 * (4 * LENET_PARAMS + LENET_BUFFERS)
    memory = 2_000_000
    fit = training(LENET, fit="2000000").fit
    assert (fit.fixed_bytes, fit.per_sample_bytes) == (fixed, per_sample)
    assert fit.batch == (memory - fixed) // per_sample == 8  # 963,360 + 8 × 127,448 = 1,982,944 ≤ 2,000,000 < 2,110,392
    assert fit.peak_bytes == training(LENET, batch=8).peak_bytes <= memory < training(LENET, batch=9).peak_bytes
    assert training(LENET, fit="900000").fit.batch == 0  # not even the parameters and their state fit


@pytest.mark.parametrize(
    "text, expected",
    [
        ("80GiB", 80 * 2**30),
        ("24 GB", 24 * 10**9),
        ("1.5TiB", 3 * 2**39),
        ("512mib", 512 * 2**20),
        ("1000", 1000),
        ("2.5KB", 2500),
        ("3b", 3),
        ("7 kB", 7_000),
        ("2MB", 2_000_000),
        ("5 gb", 5_000_000_000),
        ("2TB", 2_000_000_000_000),
        ("3KiB", 3 * 1024),
        ("2 MiB", 2 * 1024 * 1024),
        ("1GiB", 1024 * 1024 * 1024),
        ("1tib", 1024 * 1024 * 1024 * 1024),
    ],  # fmt: skip
)
def test_memory_sizes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["80 GiBs", "-1GB", "lots", "1e9", ""])
def test_bad_memory_sizes_are_errors(text):
    with pytest.raises(SpecError, match="--fit: expected a memory size such as 80GiB"):
        parse_bytes(text)


def test_a_memory_size_is_at_most_60_characters():
    # the length is checked before the text becomes a number: 60 characters pass (1 and 59 zeros,
    # 10⁵⁹ bytes; 80GiB and 55 spaces), 61 are refused whatever they say
    assert parse_bytes("1" + "0" * 59) == 10**59
    assert parse_bytes("80GiB" + " " * 55) == 80 * 2**30
    for text in ["1" + "0" * 60, "80GiB" + " " * 56]:
        with pytest.raises(SpecError, match="--fit: expected a memory size such as 80GiB"):
            parse_bytes(text)


def test_fit_refuses_a_peak_that_is_not_affine():
    with pytest.raises(SpecError, match="not affine in the batch"):
        solve_fit(lambda n: n * n, 100)


def test_fit_needs_a_concrete_input():
    with pytest.raises(SpecError, match="--fit needs a concrete input, found the names H, W"):
        training(LENET, input_shape="1,H,W", fit="80GiB")


def test_dropouts_mask_is_bool_on_cuda_and_a_dtype_tensor_on_the_cpu(write_spec):
    spec = write_spec("name: d\ninput: [4]\nlayers: [{linear: {out: 8}}, {dropout: {p: 0.5}}, {linear: {out: 2}}]\n")
    for device, dtype, size in (("cuda", "bool", 1), ("cpu", "float16", 2)):
        mask = training(spec, batch=3, device=device, dtype="float16").layers[1].saved[0]
        assert (mask.tensor, mask.dtype, mask.bytes) == ("mask", dtype, 3 * 8 * size)


# The newer ops by hand, at batch 2 on a (4, 6, 6) map that a 1×1 conv `a` makes (so it needs a
# gradient): per layer, what it keeps — (tensor, elements of the whole batch, dtype) — and its
# backward's input- and weight-gradient multiply-adds. A map is 2·4·6·6 = 288 elements.
A = "conv: {name: a, out: 4, kernel: 1}"
GATE = "[globalavgpool, conv: {out: 4, kernel: 1}, sigmoid: {name: g}]"
BY_HAND = [
    # a squeeze-and-excitation product keeps each factor for the other's gradient, the gate as it
    # is: 2·4·1·1 = 8 values, not the 288 it is broadcast to
    (f"{A}, mul: {{name: x, branches: [identity, {GATE}]}}", "x", [("input1", 8, "float32"), ("input", 288, "float32")], 0, 0),
    # x·gate·spatial, left to right: the partial product x·gate (2·4·6·6) is kept for the spatial
    # map's gradient, which (2·1·6·6 = 72) is kept for the partial product's
    (f"{A}, mul: {{name: x, branches: [identity, {GATE}, [conv: {{out: 1, kernel: 1}}]]}}", "x",
     [("input1", 8, "float32"), ("input", 288, "float32"), ("input2", 72, "float32"), ("product1", 288, "float32")], 0, 0),
    # layer norm over the channels at each position: the input, and a mean and 1/σ per position, 2·6·6
    (f"{A}, layernorm: {{name: x}}", "x", [("input", 288, "float32"), ("mean", 72, "float32"), ("rstd", 72, "float32")], 0, 0),
    # group norm, 2 groups: one mean and 1/σ per group and sample, 2·2
    (f"{A}, groupnorm: {{name: x, groups: 2}}", "x", [("input", 288, "float32"), ("mean", 4, "float32"), ("rstd", 4, "float32")], 0, 0),
    # adaptive max pooling to 4×3: the input and one int64 argmax per output element, 2·4·4·3
    (f"{A}, adaptivemaxpool: {{name: x, out: [4, 3]}}", "x", [("input", 288, "float32"), ("indices", 96, "int64")], 0, 0),
    # a transposed conv 4 → 2, 3×3/2: every input unit times every tap, 6·6·4·2·3² = 2,592 per
    # sample, 5,184 for the batch, for each gradient
    (f"{A}, convtranspose: {{name: x, out: 2, kernel: 3, stride: 2}}", "x", [("input", 288, "float32")], 5184, 5184),
    # nn.Linear on the channels at each position, 4 → 3: 4·3·6·6 = 432 per sample, twice over
    (f"{A}, linear: {{name: x, out: 3}}", "x", [("input", 288, "float32")], 864, 864),
    # gelu (and every newer activation) keeps its input, not its output; prelu its input too
    (f"{A}, gelu: {{name: x}}", "x", [("input", 288, "float32")], 0, 0),
    (f"{A}, prelu: {{name: x, per_channel: true}}", "x", [("input", 288, "float32")], 0, 0),
    # stochastic depth keeps torchvision's noise: one factor per sample (row), one for the batch
    (f"{A}, stochastic_depth: {{name: x, p: 0.2}}", "x", [("noise", 2, "float32")], 0, 0),
    (f"{A}, stochastic_depth: {{name: x, p: 0.2, mode: batch}}", "x", [("noise", 1, "float32")], 0, 0),
    # views and copies keep nothing
    (f"{A}, chunk: {{name: x, chunks: 2, index: 1}}", "x", [], 0, 0),
    (f"{A}, upsample: {{name: x, scale: 2, mode: bilinear}}", "x", [], 0, 0),
    (f"{A}, pad: {{name: x, padding: 1}}", "x", [], 0, 0),
]  # fmt: skip


@pytest.mark.parametrize(("layers", "name", "saved", "input_macs", "weight_macs"), BY_HAND)
def test_newer_ops_by_hand(write_spec, layers, name, saved, input_macs, weight_macs):
    layer = next(layer for layer in training(write_spec(f"name: d\ninput: [4, 6, 6]\nlayers: [{layers}]\n"), batch=2).layers
                 if layer.name == name)  # fmt: skip
    assert [(s.tensor, s.elements, s.dtype) for s in layer.saved] == saved
    assert (layer.backward_input_macs, layer.backward_weight_macs) == (input_macs, weight_macs)
    assert layer.backward_macs == input_macs + weight_macs


def test_a_view_of_the_input_keeps_its_storage_outside_autograd_too(write_spec):
    """A crop of the network input is a view of it: the conv after it keeps the whole input's
    storage, 2·3·8·8 floats, not the 2·3·4·4 it reads."""
    _, conv = training(write_spec("name: d\ninput: [3, 8, 8]\nlayers: [crop: {size: 4}, conv: {out: 2, kernel: 1}]\n"), batch=2).layers
    assert [(s.tensor, s.storage, s.bytes) for s in conv.saved] == [("input", "input", F32 * 2 * 3 * 8 * 8)]


def test_a_layer_fed_only_by_the_input_without_parameters_keeps_nothing(write_spec):
    spec = write_spec("name: d\ninput: [2, 6, 6]\nlayers: [maxpool: {kernel: 2}, relu, conv: {out: 3, kernel: 3}, relu]\n")
    pool, relu, conv, _ = training(spec).layers
    assert not pool.requires_grad and not relu.requires_grad and pool.saved == relu.saved == ()
    assert conv.backward_input_macs == 0 and conv.backward_weight_macs == 3 * 2 * 9  # 3·2·3² products at the 1×1 output
    assert [(s.tensor, s.storage) for s in conv.saved] == [("input", "relu1")]


def test_a_layer_outside_autograd_still_costs_its_forward(write_spec):
    """LeNet's RBF reading the input itself: no parameter (its prototypes are buffers) and no
    input gradient, so autograd records nothing — but its forward is 84·10 = 840 products per
    sample, 1,680 at batch 2, and the step counts them."""
    (rbf,) = (t := training(write_spec("name: d\ninput: [84]\nlayers: [rbf: {out: 10}]\n"), batch=2)).layers
    assert (rbf.requires_grad, rbf.saved, rbf.forward_macs) == (False, (), 2 * 84 * 10)
    assert (t.forward_macs, t.backward_macs, t.step_macs) == (1_680, 0, 1_680)


def test_an_in_place_silu_keeps_a_copy_of_its_input(write_spec):
    """SiLU's derivative reads its input; in place (it may overwrite the conv's output, which the
    conv does not keep) PyTorch saves a copy first (original_self): 2·2·4·4 = 64 floats in a
    storage of its own, not the overwritten conv output."""
    spec = write_spec("name: d\ninput: [2, 4, 4]\nlayers: [conv: {name: a, out: 2, kernel: 1}, silu: {name: x}]\n")
    _, silu = training(spec, batch=2).layers
    assert silu.inplace == 0 and silu.output_storage == "a"
    assert [(s.tensor, s.storage, s.elements, s.bytes) for s in silu.saved] == [("input_copy", "x:input_copy", 64, F32 * 64)]


def test_in_place_relu_and_add_share_storage_but_never_overwrite_a_saved_tensor(write_spec):
    """tanh keeps its output for its backward: the ReLU after it must not overwrite it in training,
    though inference may; after a conv (which keeps its input, not its output) it may."""
    spec = write_spec(
        """\
        name: d
        input: [2, 4, 4]
        layers:
          - conv: {name: a, out: 2, kernel: 1}
          - relu: {name: r1}
          - tanh: {name: t}
          - relu: {name: r2}
          - add: {name: s, branches: [[conv: {out: 2, kernel: 1}], identity]}
        """
    )
    network = load_network(spec)
    analysis = analyse(network)
    layers = {layer.name: layer for layer in analyse_training(network, analysis).layers}
    assert (layers["r1"].inplace, layers["r1"].output_storage) == (0, "a")
    assert layers["r2"].inplace is None and eval_plan(analysis)["r2"] == 0
    assert layers["s"].inplace == 0 and layers["s"].output_storage == "branch1.conv1"


def test_checkpointing_keeps_only_each_blocks_input_and_costs_its_forward_again():
    plain, checked = training(RESNET18, device="cpu"), training(RESNET18, device="cpu", checkpoint=["conv2_x"])
    assert checked.checkpoint == ("conv2_x",)  # one stage instance: one segment
    block = [layer for layer in checked.layers if layer.checkpoint == "conv2_x"]
    # it keeps its input only: the max pool's 64×56×56 map
    assert [(s.tensor, s.storage, s.bytes) for s in block[0].saved if s.kept] == [("checkpoint", "pool1", F32 * 64 * 56 * 56)]
    inside = {layer.name for layer in checked.layers if layer.checkpoint}
    assert checked.recompute_macs == sum(s.macs for s in analyse(load_network(RESNET18)).layers if s.name in inside) == 4 * 115_605_504
    assert checked.saved_bytes_without_checkpoint == plain.saved_bytes
    assert checked.step_macs == plain.step_macs + 4 * 115_605_504  # the same step, and conv2_x's forward again
    assert checked.checkpoint_saves_bytes == plain.saved_bytes - checked.saved_bytes > 0


def test_checkpoint_names_a_repeated_block_or_a_block_kind_instance_by_instance():
    assert training(RESNET18, checkpoint=["basic"]).checkpoint == tuple(f"conv{s}_x.{i}" for s in range(2, 6) for i in range(2))
    tv = training(ROOT / "specs" / "torchvision" / "resnet18.yaml", checkpoint=["layer1"])
    assert tv.checkpoint == ("layer1.0", "layer1.1")  # the repeat, though `layer1` also names the stage holding it


def test_a_block_inside_a_checkpointed_one_is_part_of_its_segment():
    # conv2_x holds conv2_x.0 and conv2_x.1 (both `basic`): they join its one segment
    stages = [f"conv{s}_x.{i}" for s in range(3, 6) for i in range(2)]
    assert training(RESNET18, checkpoint=["conv2_x", "basic"]).checkpoint == ("conv2_x", *stages)
    assert training(RESNET18, checkpoint=["conv2_x.1", "conv2_x"]).checkpoint == ("conv2_x",)


def test_a_checkpointed_blocks_backward_holds_what_its_recomputation_makes_again(write_spec):
    """By hand, batch 1, float32, on a (2, 4, 4) input: a = conv 2 → 2 (1×1); block p = conv
    2 → 3 (1×1), tanh; z = conv 3 → 1 (1×1). A map of c channels is 16·c floats, 64·c bytes.
    Each layer's backward working set is its output gradient and its inputs' gradients:
    a 128 (the input needs none), p.conv1 192 + 128 = 320, p.tanh1 192 + 192 = 384, z 64 + 192 = 256.
    Checkpointing p keeps a's output (its input, 128) and drops tanh's saved output; while p's
    backward runs, the recomputation holds tanh's output again (192; z still holds the first
    copy) but not p's input — the recomputed conv reads the kept storage itself."""
    spec = write_spec(
        """\
        name: ck
        input: [2, 4, 4]
        blocks:
          pair:
            layers: [conv: {out: 3, kernel: 1}, tanh]
        layers:
          - conv: {name: a, out: 2, kernel: 1}
          - pair: {name: p}
          - conv: {name: z, out: 1, kernel: 1}
        """
    )
    plain, checked = training(spec, device="cpu"), training(spec, device="cpu", checkpoint=["p"])
    assert (plain.transient_bytes, plain.transient_layer) == (192 + 192, "p.tanh1")
    assert (checked.transient_bytes, checked.transient_layer) == (192 + max(128, 320, 384), "p")
    # kept, each storage once: the input for a (128), a's output for p (128), tanh's output for z
    # (192) — so checkpointing p saves nothing here
    assert checked.saved_bytes == plain.saved_bytes == 128 + 128 + 192
    # forward 16·(2·2 + 2·3 + 3·1) = 208 products; p's conv again (16·2·3 = 96); backward: the
    # input gradients of all but a, the weight gradients of all three convs
    assert (checked.forward_macs, checked.recompute_macs) == (208, 96)
    assert checked.step_macs == 208 + (16 * 6 + 16 * 3) + 208 + 96
    # with a batch of N every byte count is N times as many, and the largest working set is
    # written alone: (192 + 384)·N, not 192·N + max(128·N, 320·N, 384·N)
    n = symbol("N")
    symbolic = training(spec, batch=n, device="cpu", checkpoint=["p"])
    assert (symbolic.transient_bytes, symbolic.transient_layer) == (576 * n, "p")


# a 1×1 conv to 2 channels, then a global average pool, on a (1, H, W) input, as block p
NUMBER_APART = """\
    name: u
    input: [1, H, W]
    blocks:
      pair:
        layers: [conv: {out: 2, kernel: 1}, adaptiveavgpool: {out: 1}]
    layers:
      - pair: {name: p}
    """


@pytest.mark.parametrize("checkpoint, at", [((), "p.adaptiveavgpool1"), (("p",), "p")])
def test_working_sets_a_number_apart_are_ordered_and_the_largest_written_alone(write_spec, cli, checkpoint, at):
    """By hand, batch 1, float32: the conv's output is 2·H·W floats, 8·H·W bytes, and its input
    (the network's) needs no gradient: its working set is 8·H·W. The pool's output gradient is
    2 floats (8 bytes), its input's gradient the conv's output: 8·H·W + 8. They differ by 8, a
    number, so the pool's is the larger for every H and W: the transient is 8·H·W + 8, at the
    pool (once an unevaluated max(8·H·W, 8·H·W + 8)). Checkpointing p makes it p's: nothing is
    held again while it recomputes (the conv's saved input is p's own input, which the
    checkpoint keeps; the pool saves nothing).
    The rest of the peak: params 2·1 + 2 = 4 floats (16 bytes), their gradients 16, adam's two
    states 32; live the conv's saved input 4·H·W and the output 8. Peak: 16 + 16 + 32 + 4·H·W
    + 8 + 8·H·W + 8 = 12·H·W + 80."""
    h, w = symbol("H"), symbol("W")
    step = training(write_spec(NUMBER_APART), device="cpu", checkpoint=list(checkpoint))
    assert (step.transient_bytes, step.transient_layer) == (8 * h * w + 8, at)
    assert step.peak_bytes == 12 * h * w + 80
    options = ["--training", *[f"--checkpoint={name}" for name in checkpoint]]
    output = cli("report", write_spec(NUMBER_APART), *options).output
    assert f"largest backward transient: 8·H·W + 8 bytes (at {at})\n" in output
    assert "peak of a training step: 12·H·W + 80 bytes (" in output
    total = cli("explain", write_spec(NUMBER_APART), "total", *options).output
    assert "largest backward transient = 16 + 0 + 16 + 32 + 4·H·W + 8 + 8·H·W + 8 = 12·H·W + 80 bytes\n" in total


# the same, with a 2×2 average pool (stride 2) for the global one
UNORDERED = NUMBER_APART.replace("adaptiveavgpool: {out: 1}", "avgpool: {kernel: 2, stride: 2}")


@pytest.mark.parametrize("checkpoint", [(), ("p",)])
def test_working_sets_in_the_input_size_that_do_not_compare_are_written_each_as_it_is(write_spec, cli, checkpoint):
    """By hand, batch 1, float32: the conv's working set is its output's gradient, 2·H·W floats,
    8·H·W bytes; the pool's its output's, 2·⌊H/2⌋·⌊W/2⌋ floats, and its input's, the conv's
    output: 8·H·W + 8·⌊H/2⌋·⌊W/2⌋. They differ by 8·⌊H/2⌋·⌊W/2⌋ ≥ 0, so the second is the larger
    at every size, but that difference is no number and the second is a sum of two names'
    products, which none of archcalc.largest's rules compares: the transient is the unevaluated
    max of the two (exact once substituted), typeset as the rest of the report is.
    The peak: params 16, gradients 16, adam 32; live the input 4·H·W, the conv's output the pool
    keeps, 8·H·W, and the pool's output 8·⌊H/2⌋·⌊W/2⌋. Checkpointing p keeps only its input, but
    holds the conv's output again while p's backward runs (8·H·W in the transient): the same sum,
    8·⌊H/2⌋·⌊W/2⌋ + 12·H·W + max(…) + 64."""
    h, w = symbol("H"), symbol("W")
    pooled = 8 * sympy.floor(h / 2) * sympy.floor(w / 2)
    largest = sympy.Max(8 * h * w, 8 * h * w + pooled, evaluate=False)
    step = training(write_spec(UNORDERED), device="cpu", checkpoint=list(checkpoint))
    again = 8 * h * w if checkpoint else 0
    assert (step.transient_bytes, step.transient_layer) == (again + largest, "p" if checkpoint else None)
    assert step.peak_bytes == 64 + 12 * h * w + pooled + largest
    options = ["--training", *[f"--checkpoint={name}" for name in checkpoint]]
    output = cli("report", write_spec(UNORDERED), *options).output
    where, held = (" (at p)", "8·H·W + ") if checkpoint else ("", "")
    assert f"largest backward transient: {held}max(8·H·W, 8·H·W + 8·⌊H/2⌋·⌊W/2⌋) bytes{where}\n" in output
    assert "peak of a training step: 8·⌊H/2⌋·⌊W/2⌋ + 12·H·W + max(8·H·W, 8·H·W + 8·⌊H/2⌋·⌊W/2⌋) + 64 bytes (" in output


def test_of_working_sets_only_those_no_other_bounds_exactly_stay():
    h, w, n = symbol("H"), symbol("W"), symbol("N")
    f = sympy.floor((h - 1) / 32) + 1  # a size: never negative

    def kept(**candidates):
        return sorted(undominated(candidates))

    # a number apart: larger for every value of the names, wherever the largest is
    assert kept(a=8 * h * w, b=8 * h * w + 8) == ["b"]
    assert kept(a=8 * h * w + 3, b=8 * h * w - 5, c=8 * h * w) == ["a"]
    assert kept(a=h * w - 5, b=h * w + sympy.Rational(1, 2), c=h * w) == ["b"]
    # a larger number times the same size, as sizes are stored (8·(512·f + 512) is 4,096·(f + 1);
    # here 8·(512·f)·f against 12·(2,048·f)·f: 4,096·f² against 24,576·f²)
    assert kept(a=3 * n, b=5 * n) == ["b"]
    assert kept(a=8 * (512 * f) * f, b=12 * (2048 * f) * f, c=16 * f * f) == ["b"]
    assert kept(a=8 * h * w + 8, b=8 * h * w + 8) == ["a"]  # equals: the first
    # numbers among formulas: the largest number goes too when a formula is at least that
    # number times sizes, each ≥ 1 at every H (f − 1 = ⌊(H − 1)/32⌋ ≥ 0): 24,576·f ≥ 16,384
    assert kept(a=8000, b=12192, c=16384, d=4096 * f, e=24576 * f, g=8 * h * w) == ["e", "g"]
    assert kept(a=30000, d=4096 * f, e=24576 * f) == ["a", "e"]  # 24,576·f < 30,000 at H = 1
    # H, W ≥ 1 at every size: 8·H·W ≥ 8
    assert kept(a=8, b=8 * h * w) == ["b"]
    # H·W + H bounds H·W (by H ≥ 1) and 16·H·W bounds 8·H·W + 8 (equal at 1×1, larger after),
    # but a sum of two names' terms is compared by none of the rules: both stay in each
    assert kept(a=h * w + h, b=h * w) == ["a", "b"]
    assert kept(a=16 * h * w, b=8 * h * w + 8) == ["a", "b"]
    # name by name: ⌊(H − 1)/2⌋ + 1 ≥ ⌊(H − 1)/32⌋ + 1 at every H (x/2 ≥ x/32 for x ≥ 0), so
    # 64 times the stride-2 map's size bounds 64 times the stride-32 one's, but not 2,048 times it
    fw, half, half_w = sympy.floor((w - 1) / 32) + 1, sympy.floor((h - 1) / 2) + 1, sympy.floor((w - 1) / 2) + 1
    assert kept(a=64 * f * fw, b=64 * half * half_w) == ["b"]
    assert kept(a=2048 * f * fw, b=64 * half * half_w) == ["a", "b"]
    assert kept(a=64 * f * f, b=64 * half * half) == ["a", "b"]  # a square of one name: not compared


def test_a_networks_transient_is_the_max_of_the_working_sets_no_other_bounds():
    """GoogLeNet at 3×H×W: its transient was a max of 108 working sets, three of them the
    numbers 8,000, 8,096 and 8,192 (the heads' linear layers at batch 1). Now no two of its
    arguments are a number apart (the numbers one), and it is still the concrete walk's value."""
    spec = ROOT / "specs" / "googlenet.yaml"
    network = load_network(spec, "3,H,W")
    step = analyse_training(network, analyse(network))
    args = step.transient_bytes.args
    assert sum(1 for a in args if a.is_Number) == 1
    assert not any((a - b).is_Number for a, b in itertools.combinations(args, 2))
    for size in (224, 300):
        concrete = training(spec, input_shape=f"3,{size},{size}")
        assert substitute(step.transient_bytes, {"H": size, "W": size}) == concrete.transient_bytes


@pytest.mark.parametrize("name", ["bottleneck", "conv9_x", "conv2_x.7"])
def test_an_unknown_checkpoint_block_is_an_error(name):
    with pytest.raises(SpecError, match=f"--checkpoint: no block, repeated block or block kind '{name}' in ResNet-18"):
        training(RESNET18, checkpoint=[name])


def test_an_op_without_training_rules_is_a_clear_error_under_training_only(monkeypatch, cli):
    from archcalc.ops.activation import Tanh

    monkeypatch.setattr(Tanh, "training_rules", Op.training_rules)
    with pytest.raises(OpError, match=r"no training rules yet for 'tanh' \(first at tanh1\); each op unit needs a `training_rules`"):
        training(LENET)
    assert cli("report", LENET).exit_code == 0
    result = cli("report", LENET, "--training")
    assert result.exit_code == 2 and "no training rules yet for 'tanh'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--training", "--dtype", "int8"], "--training needs a floating-point --dtype"),
        (["--fit", "80 apples"], "--fit: expected a memory size"),
        (["--checkpoint", "nothing"], "--checkpoint: no block"),
        (["--batch", "0", "--training"], "expected a positive integer or a name such as N"),
        (["--optimizer", "lion"], "'lion' is not one of"),
    ],
)
def test_training_errors_are_one_line_exit_2(cli, args, message):
    result = cli("report", RESNET18, *args)
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("layer", ["{conv: {out: 4, kernel: 3, training_only: true}}", "{conv: {out: 4, kernel: 3, repeat: 0}}"])
def test_a_network_whose_every_layer_is_training_only_is_a_located_error(cli, tmp_path, layer):
    # a training-only layer is a side branch: the chain does not continue through it, so the
    # network's output would be its input (once a KeyError: 'input' in analysis._outputs)
    spec = tmp_path / "side.yaml"
    spec.write_text(f"name: side\ninput: [3, 8, 8]\nlayers:\n  - {layer}\n")
    for command in (["report"], ["report", "--training"], ["diagram", "-o", str(tmp_path / "d.svg")]):
        result = cli(*command, spec)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output, result.output
        assert f"{spec}:4: layers: the network has no inference layer" in lines[0]
    # naming the training-only layer as the output is meaningful: conv 3 → 4, 3×3, with bias
    # has 4·3·3·3 + 4 = 112 params, none of them in inference
    if "training_only" in layer:
        spec.write_text(f"name: side\ninput: [3, 8, 8]\nlayers:\n  - {layer[:-2]}, name: c}}}}\noutputs: [c]\n")
        result = cli("report", spec, "--format", "json")
        assert result.exit_code == 0, result.output
        totals, inference = (json.loads(result.output)[key] for key in ("totals", "inference_totals"))
        # its output is 4 × 6 × 6 = 144 units, each 3·3·3 = 27 multiply-accumulates and one bias add
        assert (totals["params"], totals["macs"], totals["flops"]) == (4 * 27 + 4, 144 * 27, 2 * 144 * 27 + 144)
        assert totals["activations"]["peak_elements"] == 144
        zero = {"elements": 0, "bytes": 0, "peak_elements": 0}  # inference has no layer at all
        assert inference == dict.fromkeys(("params", "buffers", "macs", "connections", "flops", "param_bytes", "layers"), 0) | {
            "flops_by_kind": {},
            "activations": zero,
        }


def test_report_json_names(cli):
    result = cli("report", LENET, "--training", "--device", "cpu", "--fit", "2000000", "--format", "json")
    data = json.loads(result.output)
    t = data["training"]
    assert (t["optimizer"], t["device"], t["saved_bytes"], t["peak_bytes"], t["fit"]["batch"]) == ("adam", "cpu", LENET_SAVED, 1_090_808, 8)
    assert t["backward_macs"] == t["backward_input_macs"] + t["backward_weight_macs"] == 537_752
    assert t["peak_bytes"] == sum(
        t[k] for k in ("param_bytes", "buffer_bytes", "grad_bytes", "optimizer_state_bytes", "live_bytes", "transient_bytes")
    )
    layers = {layer["name"]: layer["training"] for layer in data["layers"]}
    assert sum(layer["saved_bytes"] for layer in layers.values()) == t["saved_bytes"]
    assert layers["C1"]["backward_input_macs"] == 0 and layers["C1"]["backward_weight_macs"] == LENET_MACS["C1"]
    assert layers["C1"]["saved"] == [
        {"tensor": "input", "storage": "input", "elements": 1024, "dtype": "float32", "bytes": 4096, "kept": True, "counted_here": True}
    ]


def test_report_table_markdown_and_csv_gain_training_columns(cli):
    table = cli("report", LENET, "--training").output
    assert "Saved*" in table and "Grad-in MACs*" in table and "peak of a training step: 1,090,808 bytes" in table
    markdown = cli("report", LENET, "--training", "--format", "markdown").output
    assert "| Saved* | Grad-in MACs* | Grad-w MACs* |" in markdown
    rows = cli("report", LENET, "--training", "--format", "csv").output.strip().splitlines()
    assert rows[0].endswith("training_saved_bytes,training_backward_input_macs,training_backward_weight_macs")
    assert rows[-1].endswith(f"{LENET_SAVED},210496,327256")


def test_report_symbolic_batch(cli):
    result = cli("report", LENET, "--training", "--batch", "N")
    # 127,448 + 963,360 = 1,090,808, the peak at batch 1 (test_report_json_names)
    assert result.exit_code == 0 and "peak of a training step: 127,448·N + 963,360 bytes" in result.output


def test_compare_gains_training_columns_and_sorts_by_them(cli):
    result = cli("compare", RESNET18, LENET, "--training", "--fit", "2000000", "--sort", "train-peak", "--exact")
    header, _, first, second = result.output.splitlines()[:4]
    assert "Bwd MACs" in header and "Train peak" in header and "Max batch" in header
    assert first.startswith("LeNet-5") and "1,090,808" in first and second.startswith("ResNet-18")
    assert cli("compare", LENET, "--sort", "saved").exit_code == 2


def test_diagram_color_saved(cli, tmp_path):
    out = tmp_path / "lenet.dot"
    assert cli("diagram", LENET, "--color", "saved", "-o", out).exit_code == 0
    dot = out.read_text()
    assert "saved for the backward pass, bytes as float32" in dot and f"saved {F32 * 60 * 14 * 14:,} bytes" in dot


def test_explain_shows_each_training_formula(cli):
    c1 = cli("explain", LENET, "C1", "--training", "--batch", "2", "--quantity", "macs").output
    assert "saved[input] = N·C·H·W = 2×1×32×32 = 2048 elements, float32; its storage (input) 8,192 bytes, counted here" in c1
    assert "grad_weight_macs = N·macs = 2×117600 = 235200" in c1 and "grad_input_macs = 0" in c1
    total = cli("explain", LENET, "total", "--training", "--quantity", "macs").output
    assert "= 1090808 bytes" in total


def test_without_training_options_the_report_is_unchanged(cli):
    assert "training" not in json.loads(cli("report", LENET, "--format", "json").output)


def test_the_torch_backend_builds_the_training_plan(write_spec):
    """build() applies the plan the training model made (not the inference one) when given it."""
    pytest.importorskip("torch")
    from archcalc.torch_backend.build import build

    spec = write_spec("name: d\ninput: [2, 4, 4]\nlayers: [conv: {out: 2, kernel: 1}, tanh, relu: {name: r}]\n")
    network = load_network(spec)
    analysis = analyse(network)
    plan = {layer.name: layer.inplace for layer in analyse_training(network, analysis).layers if layer.inplace is not None}
    assert build(network, analysis).modules["r"].inplace and not build(network, analysis, plan).modules["r"].inplace


def test_errors_are_archcalc_errors():
    with pytest.raises(ArchcalcError):
        training(LENET, optimizer="lion")


def test_the_gallery_says_when_a_network_has_an_op_without_training_rules(monkeypatch):
    from archcalc.gallery import comparison_markdown, entry, network_page
    from archcalc.ops.activation import Tanh

    monkeypatch.setattr(Tanh, "training_rules", Op.training_rules)
    lenet, resnet = entry(LENET, ROOT / "specs"), entry(RESNET18, ROOT / "specs")
    assert lenet.training is None and "Training step not shown: --training: no training rules yet for 'tanh'" in network_page(lenet)
    table = comparison_markdown({"l.md": lenet.analysis, "r.md": resnet.analysis}, {"l.md": lenet.training, "r.md": resnet.training})
    lenet_row = next(line for line in table.splitlines() if line.startswith("| [LeNet-5]"))
    assert lenet_row.endswith("| - | - | - | - |") and "Train peak" in table


def test_fit_with_a_symbolic_batch_still_solves_it():
    assert training(LENET, batch=symbol("N"), fit="2000000").fit.batch == 8
    with pytest.raises(SpecError, match="found the names H, W;"):
        training(LENET, batch=symbol("N"), input_shape="1,H,W", fit="80GiB")
