"""Channel plumbing (slice, chunk, channel_shuffle, pad, crop) and the broadcasting product
`mul`, against PyTorch's own operations and hand arithmetic; misuse is a located error."""

from __future__ import annotations

import pytest
import torch

from archcalc.errors import ArchcalcError
from archcalc.expressions import substitute, symbol
from archcalc.ops import REGISTRY
from tests.test_torch_differential import assert_torch_agrees

X = torch.arange(2 * 6 * 5 * 4, dtype=torch.float32).view(2, 6, 5, 4)


def _run(kind: str, fields: dict, *xs: torch.Tensor) -> torch.Tensor:
    op = REGISTRY[kind](**fields)
    shapes = [tuple(x.shape[1:]) for x in xs]
    out = op.output_shape(shapes)
    result = op.to_torch(shapes, out)(*xs)
    assert tuple(result.shape[1:]) == out  # the static shape is PyTorch's
    return result


def test_slice_is_python_slicing():
    assert torch.equal(_run("slice", {"start": 1, "stop": 4}, X), X[:, 1:4])
    assert torch.equal(_run("slice", {"start": 2}, X), X[:, 2:])  # stop defaults to all channels
    flat = torch.randn(3, 10)
    assert torch.equal(_run("slice", {"stop": 7}, flat), flat[:, :7])


@pytest.mark.parametrize(("channels", "chunks"), [(6, 2), (5, 4), (7, 3), (4, 4), (3, 5)])
def test_chunk_is_torch_chunk(channels, chunks):
    x = torch.randn(2, channels, 3, 3)
    pieces = x.chunk(chunks, dim=1)
    for index in range(chunks):
        op = REGISTRY["chunk"](chunks=chunks, index=index)
        if index >= len(pieces):  # PyTorch gives fewer chunks when C is not a multiple: 5 in 4 gives 2, 2, 1
            with pytest.raises(ArchcalcError, match=f"chunk {index} does not exist"):
                op.output_shape([(channels, 3, 3)])
            continue
        assert torch.equal(_run("chunk", {"chunks": chunks, "index": index}, x), pieces[index])


@pytest.mark.parametrize(("channels", "chunks", "index"), [(7, 3, 1), (7, 3, 2), (5, 4, 2), (6, 2, 1)])
def test_chunk_explains_the_channels_torch_takes(channels, chunks, index):
    """`explain`'s line C_out = b − a: a is the first channel of PyTorch's chunk and b one past
    its last — the view's storage offset over H·W, and that plus its channels (7 in chunks of
    ⌈7/3⌉ = 3: chunk 1 is [3, 6), chunk 2 [6, 7))."""
    x = torch.zeros(1, channels, 2, 3)
    piece = x.chunk(chunks, dim=1)[index]
    first = piece.storage_offset() // (2 * 3)
    op = REGISTRY["chunk"](chunks=chunks, index=index)
    out = op.output_shape([(channels, 2, 3)])
    values = op.derivation_values([(channels, 2, 3)], out)
    assert (values["a"], values["b"]) == (first, first + piece.shape[1])


def test_chunk_on_symbolic_channels():
    c = symbol("C")
    op = REGISTRY["chunk"](chunks=2, index=1)
    channels = op.output_shape([(c, 4, 4)])[0]
    for value in (4, 5, 116):  # ShuffleNetV2's 116: two halves of 58
        assert substitute(channels, {"C": value}) == REGISTRY["chunk"](chunks=2, index=1).output_shape([(value, 4, 4)])[0]
    assert substitute(channels, {"C": 5}) == 2  # chunks of ⌈5/2⌉ = 3: the second has 2


def test_channel_shuffle_is_torchvisions():
    from torchvision.models.shufflenetv2 import channel_shuffle

    x = torch.randn(2, 12, 3, 3)
    assert torch.equal(_run("channel_shuffle", {"groups": 3}, x), channel_shuffle(x, 3))
    # by hand, groups 2 of 6 channels: rows [0 1 2] [3 4 5] transposed → 0 3 1 4 2 5
    order = _run("channel_shuffle", {"groups": 2}, torch.arange(6.0).view(1, 6, 1, 1)).flatten().tolist()
    assert order == [0, 3, 1, 4, 2, 5]


@pytest.mark.parametrize(("channels", "groups"), [(6, 1), (6, 6), (6, 2), (6, 3), (1, 1)])
def test_only_an_identity_shuffle_is_planned_as_a_view(channels, groups):
    """The training plan keeps no new tensor (a view of the input) exactly where PyTorch's
    shuffle is the identity permutation — one group, or one channel per group — and a new
    tensor wherever it moves channels (groups 2 of 6: 0 3 1 4 2 5)."""
    x = torch.arange(float(channels)).view(1, channels, 1, 1)
    identity = torch.equal(torch.nn.ChannelShuffle(groups)(x), x)
    assert identity == (groups in (1, channels))
    op = REGISTRY["channel_shuffle"](groups=groups)
    rules = op.training_rules([(channels, 1, 1)], (channels, 1, 1))
    assert (rules.view_of == 0) == identity and rules.saved == ()


def test_pad_is_zero_pad():
    out = _run("pad", {"padding": [1, 2, 3, 0]}, X)
    assert torch.equal(out, torch.nn.functional.pad(X, (3, 0, 1, 2)))  # F.pad's order: left, right, top, bottom
    assert REGISTRY["pad"](padding=2).padding == (2, 2, 2, 2)
    assert REGISTRY["pad"](padding=[1, 3]).padding == (1, 1, 3, 3)


def test_crop_is_centred_as_unet_does():
    # U-Net, Fig. 1: the 64-map 568×568 copy is cropped to the 392×392 up-convolved map: (568 − 392)/2 = 88
    op = REGISTRY["crop"](size=392)
    assert op.offsets([(64, 568, 568)]) == (88, 88)
    assert op.output_shape([(64, 568, 568)]) == (64, 392, 392)
    # an odd surplus leaves the extra row at the bottom: 5 → 2 keeps rows 1, 2
    out = _run("crop", {"size": [2, 3]}, X)
    assert torch.equal(out, X[:, :, 1:3, 0:3])


def test_crop_size_conditions_are_its_own_limits():
    """What the size plots check at each size: the crop's output no taller and no wider than
    its first input — 4 ≤ 9 rows and 3 ≤ 8 columns; cropped to a 5×7 reference, 5 ≤ 9 and 7 ≤ 8
    (the reference's own size, against the input's, not against itself)."""
    crop = REGISTRY["crop"]
    assert crop(size=[4, 3]).size_conditions([(2, 9, 8)], (2, 4, 3)) == [(4, "<=", 9), (3, "<=", 8)]
    assert crop().size_conditions([(2, 9, 8), (1, 5, 7)], (2, 5, 7)) == [(5, "<=", 9), (7, "<=", 8)]


def test_crop_to_match_a_second_input(analyse_text):
    analysis = analyse_text(
        """
        name: skip
        input: [2, 20, 18]
        layers:
          - conv: {name: a, out: 3, kernel: 3}
          - conv: {name: b, out: 3, kernel: 5}
          - crop: {name: c, from: [a, b]}
          - concat: {from: [c, b]}
        """
    )
    crop = analysis.layers[2]
    assert crop.output_shape == (3, 14, 12) and crop.label == "crop to match"
    # a's unit i + (18 − 14)/2 = i + 2: a's field (3 pixels from 0) moved by 2
    assert crop.rf.start == (1 + 2, 1 + 2) and crop.rf.size == (3, 3)
    spec = {"name": "skip", "input": [2, 20, 18], "layers": [
        {"conv": {"name": "a", "out": 3, "kernel": 3}}, {"conv": {"name": "b", "out": 3, "kernel": 5}},
        {"crop": {"name": "c", "from": ["a", "b"]}}, {"concat": {"from": ["c", "b"]}}]}  # fmt: skip
    assert_torch_agrees(spec)


@pytest.mark.parametrize(
    ("shapes", "expected"),
    [
        ([(4, 1, 1), (4, 3, 5)], (4, 3, 5)),  # squeeze-and-excitation
        ([(1, 3, 5), (4, 3, 5)], (4, 3, 5)),  # spatial attention
        ([(4, 3, 1), (1, 1, 5)], (4, 3, 5)),  # both sides broadcast
        ([(4, 3, 5), (4, 3, 5), (1, 1, 1)], (4, 3, 5)),  # three inputs
        ([(6,), (6,)], (6,)),
    ],
)
def test_mul_broadcasts_as_pytorch(shapes, expected):
    assert REGISTRY["mul"]().output_shape(shapes) == expected == tuple(torch.broadcast_shapes(*shapes))
    xs = [torch.randn(2, *shape) for shape in shapes]
    product = xs[0]
    for x in xs[1:]:
        product = product * x
    assert torch.equal(_run("mul", {}, *xs), product)
    elements = 1
    for dim in expected:
        elements *= dim
    assert REGISTRY["mul"]().flops(shapes, expected) == {"mul": (len(shapes) - 1) * elements}


def test_a_squeeze_and_excitation_block_agrees_with_torch():
    gate = [{"globalavgpool": None}, {"conv": {"out": 2, "kernel": 1}}, "relu", {"conv": {"out": 8, "kernel": 1}}, "hardsigmoid"]
    spec = {"name": "se", "input": [8, 6, 5], "layers": [{"mul": [gate, "identity"]}, {"mul": {"from": ["mul1", "input", "input"]}}]}
    assert_torch_agrees(spec)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("slice: {start: 2, stop: 9}", "slice 2:9 is outside the input's 4 channels"),
        ("slice: {start: 3, stop: 3}", "start < stop"),
        ("slice: {start: -1}", "greater than or equal to 0"),
        ("chunk: {chunks: 2, index: 2}", "index must be below chunks"),
        ("chunk: {chunks: 3, index: 2}", "chunk 2 does not exist: 4 channels in chunks of 2 make 2"),
        ("channel_shuffle: {groups: 3}", "groups must divide the channels: expected a divisor of 4"),
        ("pad: {padding: -1}", "greater than or equal to 0"),
        ("pad: {padding: [1, 2, 3]}", "padding"),
        ("crop: {size: 7}", "crop cannot grow the height: expected at most 6, found 7"),
        ("crop", "crop takes a size or scale"),
        ("mul: {from: [conv1, input]}", "mul inputs do not broadcast: along axis 0 each must be 4 or 1"),
        ("mul: {from: [conv1]}", "merges two or more inputs"),
    ],
)
def test_misuse_is_a_located_error(analyse_text, entry, message):
    with pytest.raises(ArchcalcError, match=message) as error:
        analyse_text(f"name: bad\ninput: [3, 8, 8]\nlayers:\n  - conv: {{out: 4, kernel: 3}}\n  - {entry}\n")
    assert "net.yaml:5" in str(error.value)


def test_mul_needs_equal_ranks(analyse_text):
    with pytest.raises(ArchcalcError, match=r"mul inputs must have the same rank: input 0 is \(192,\), input 1 is \(3, 8, 8\)"):
        analyse_text("name: bad\ninput: [3, 8, 8]\nlayers:\n  - flatten\n  - mul: {from: [flatten1, input]}\n")


def test_channel_ops_are_pointwise_and_free(analyse_text):
    analysis = analyse_text(
        "name: t\ninput: [4, 6, 6]\nlayers: [conv: {out: 4, kernel: 3}, slice: {stop: 2}, chunk: {chunks: 2, index: 0}, "
        "channel_shuffle: {groups: 1}, pad: {padding: 1}]\n"
    )
    conv, *plumbing = analysis.layers
    for stats in plumbing:
        assert (stats.params, stats.macs, stats.flops_by_kind) == (0, 0, {})
    assert all(stats.rf.size == conv.rf.size for stats in plumbing)
    assert plumbing[-1].rf.start == (conv.rf.start[0] - 1, conv.rf.start[1] - 1)  # padding shifts by one unit


def test_merges_of_flat_vectors_keep_their_field(analyse_text):
    analysis = analyse_text(
        "name: t\ninput: [2, 5, 5]\nlayers: [conv: {out: 2, kernel: 3}, flatten, linear: {name: a, out: 4}, "
        "linear: {name: b, out: 4}, mul: {from: [a, b]}, add: {from: [mul1, a]}]\n"
    )
    flat = analysis.layers[1]
    # the flattened 3×3 conv output sees the whole 5×5 input; merging flat vectors keeps that field
    assert all(stats.rf.size == flat.rf.size == (5, 5) for stats in analysis.layers[1:])
