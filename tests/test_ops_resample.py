"""convtranspose and upsample against PyTorch: shapes, params, FlopCounterMode macs, the links
a transposed conv makes, which input rows each resized row reads; misuse is a located error."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from archcalc.errors import ArchcalcError
from archcalc.expressions import substitute, symbol
from archcalc.ops import REGISTRY
from tests.test_torch_differential import assert_torch_agrees

ConvTranspose, Upsample = REGISTRY["convtranspose"], REGISTRY["upsample"]


@st.composite
def transposed(draw):
    groups = draw(st.integers(1, 3))
    fields = {"out": groups * draw(st.integers(1, 3)), "groups": groups, "bias": draw(st.booleans())}
    for name in ("kernel", "stride", "padding", "output_padding", "dilation"):
        fields[name] = []
    for _ in range(2):
        k, s, d = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
        fields["kernel"].append(k), fields["stride"].append(s), fields["dilation"].append(d)
        fields["padding"].append(draw(st.integers(0, (d * (k - 1)) // 2)))
        fields["output_padding"].append(draw(st.integers(0, max(s, d) - 1)))
    return fields, (groups * draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6)))


def _links(size: int, k: int, s: int, p: int, d: int, extra: int) -> int:
    """PyTorch's count of (input row, tap) pairs that land in the output: push each one-hot row
    through a one-channel transposed conv with unit weights and count the rows it reaches."""
    conv = torch.nn.ConvTranspose2d(1, 1, (k, 1), (s, 1), (p, 0), (extra, 0), bias=False, dilation=(d, 1))
    torch.nn.init.ones_(conv.weight)
    rows = torch.eye(size).view(size, 1, size, 1)
    with torch.no_grad():
        return int((conv(rows) != 0).sum())


@settings(max_examples=60, deadline=None, derandomize=True)
@given(transposed())
def test_convtranspose_counts_are_pytorchs(case):
    fields, shape = case
    op = ConvTranspose(**fields)
    out = op.output_shape([shape])
    assert all(size > 0 for size in out)
    module = op.to_torch([shape], out)
    counter = FlopCounterMode(display=False)
    with counter:
        runtime = module(torch.randn(1, *shape))
    assert (op.out, *out[1:]) == tuple(runtime.shape[1:])
    assert op.params([shape], out) == sum(p.numel() for p in module.parameters())
    assert op.macs([shape], out) == counter.get_total_flops() // 2
    # LeCun's links: every (input unit, tap) pair landing inside the output, per output channel
    # and input channel of its group, plus one bias link per output
    axes = [_links(shape[1 + a], *(fields[n][a] for n in ("kernel", "stride", "padding", "dilation", "output_padding"))) for a in (0, 1)]
    expected = op.out * (shape[0] // op.groups) * axes[0] * axes[1] + (op.out * out[1] * out[2] if op.bias else 0)
    assert op.connections([shape], out) == expected


def _rows_read(size: int, out_size: int, k: int, s: int, p: int, d: int, extra: int) -> list:
    """PyTorch's answer to "which input rows does output row o read", unclipped as archcalc's
    fields are: the one-hot rows of an input extended by M = k·d rows on each side, pushed
    through a one-channel transposed conv with unit weights (no bias); the rows each output
    reaches, less M. Output o of the original is output o + M·s of the extended one (a row
    M further on lands M·s further on). [] where no tap reaches o."""
    margin = k * d
    n = size + 2 * margin
    conv = torch.nn.ConvTranspose2d(1, 1, (k, 1), (s, 1), (p, 0), (extra, 0), bias=False, dilation=(d, 1))
    torch.nn.init.ones_(conv.weight)
    with torch.no_grad():
        reached = conv(torch.eye(n).view(n, 1, n, 1))[:, 0, :, 0] != 0  # (input row, output row)
    return [(reached[:, o + margin * s].nonzero().flatten() - margin).tolist() for o in range(max(out_size, s))]


@st.composite
def transposed_axes(draw):
    """One input channel, one output, no bias; per axis a stride up to 3 (so that most layers
    exist: a kernel of at least the stride reaches every position when d = 1) and any
    padding that leaves an output."""
    fields = {name: [] for name in ("kernel", "stride", "padding", "output_padding", "dilation")}
    sizes = []
    for _ in range(2):
        k, s, size = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 5))
        d = draw(st.sampled_from([1, 1, 2, 3]))  # mostly undilated: a dilation sharing a factor with s is refused
        p, extra = draw(st.integers(0, d * (k - 1))), draw(st.integers(0, max(s, d) - 1))
        assume((size - 1) * s - 2 * p + d * (k - 1) + extra + 1 > 0)
        for name, value in zip(fields, (k, s, p, extra, d), strict=True):
            fields[name].append(value)
        sizes.append(size)
    return {**fields, "out": 1, "bias": False}, (1, *sizes)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(transposed_axes())
def test_convtranspose_fields_are_the_rows_pytorch_reads(case):
    """Every output unit's receptive field on the image itself is the first … last input unit
    PyTorch's transposed conv reads for it, per axis; a layer archcalc refuses is one where
    PyTorch leaves some output position (mod s) reached by no tap — the first such position,
    on the first such axis, is the one the error names."""
    from archcalc.errors import OpError
    from archcalc.receptive import INPUT_RF, receptive_field

    fields, (_, h, w) = case
    op = ConvTranspose(**fields)
    out = op.output_shape([(1, h, w)])
    per_axis = [
        _rows_read((h, w)[a], out[1 + a], *(fields[n][a] for n in ("kernel", "stride", "padding", "dilation", "output_padding")))
        for a in (0, 1)
    ]
    missed = [next((o for o, rows in enumerate(reads[: fields["stride"][a]]) if not rows), None) for a, reads in enumerate(per_axis)]
    try:
        window = op.window([(1, h, w)])
    except OpError as error:
        axis = 0 if missed[0] is not None else 1
        assert f"no tap reaches output position {missed[axis]} (mod {fields['stride'][axis]}) along axis {axis}" in str(error)
        return
    assert missed == [None, None]
    rf = receptive_field([INPUT_RF], window, [(1, h, w)], out)
    for axis, reads in enumerate(per_axis):
        assert [rf.unit(axis, o) for o in range(out[1 + axis])] == [(rows[0], rows[-1]) for rows in reads[: out[1 + axis]]]


def _stacked_rows_read(size: int, layers: list, out_size: int) -> list:
    """PyTorch's first and last input row each output row of a stack of one-channel layers
    reads, unclipped (as in ``_rows_read``): the one-hot rows of an input extended by a margin
    M on each side, pushed through the stack with unit weights; output o of the original is
    output o + M·s₁·s₂ of the extended one. Each layer is ("convtranspose" | "conv", k, s, p, d)."""
    margin = 3 * max(k * d for _, k, _, _, d in layers)
    n = size + 2 * margin
    modules, shift = [], margin
    for kind, k, s, p, d in layers:
        module = (torch.nn.ConvTranspose2d if kind == "convtranspose" else torch.nn.Conv2d)(
            1, 1, (k, 1), (s, 1), (p, 0), bias=False, dilation=(d, 1)
        )
        torch.nn.init.ones_(module.weight)
        modules.append(module)
        shift *= s  # a conv here has stride 1
    with torch.no_grad():
        reached = torch.nn.Sequential(*modules)(torch.eye(n).view(n, 1, n, 1))[:, 0, :, 0] != 0  # (input row, output row)
    rows = [reached[:, o + shift].nonzero().flatten().tolist() for o in range(out_size)]
    assert all(0 < r[0] and r[-1] < n - 1 for r in rows)  # the margin holds every field whole
    return [(r[0] - margin, r[-1] - margin) for r in rows]


#: dilated transposed convs with stride > 1 (kernel, stride, padding, dilation), most of them
#: with taps that interleave (the first row read goes down as o goes up): 2×1/2 dilated 3
#: reads rows 0, −1, 1, 0, … for o = 0, 1, 2, 3
INTERLEAVED = [(2, 2, 0, 3), (2, 2, 1, 3), (3, 2, 0, 3), (3, 2, 2, 3), (3, 3, 0, 2), (3, 3, 2, 2), (4, 3, 1, 2), (3, 3, 1, 4)]
#: what reads them: a sliding window over several units (3, padded 1), an undilated
#: transposed conv (its map steps through every unit it reads), another dilated one
READERS = [("conv", 3, 1, 1, 1), ("convtranspose", 3, 2, 1, 1), ("convtranspose", 2, 2, 0, 3)]


@pytest.mark.parametrize("reader", READERS, ids=lambda r: f"{r[0]}{r[1]}s{r[2]}d{r[4]}")
@pytest.mark.parametrize("first", INTERLEAVED, ids=lambda f: "k{}s{}p{}d{}".format(*f))
def test_fields_after_interleaved_taps_are_the_rows_pytorch_reads(first, reader):
    """A layer reading several units of an interleaving transposed conv sees the union of
    all their fields, not the span of the first and last unit's: every output unit's field
    is the first … last row PyTorch's two-layer stack reads for it."""
    from archcalc.receptive import INPUT_RF, receptive_field

    k, s, p, d = first
    a = ConvTranspose(out=1, kernel=[k, 1], stride=[s, 1], padding=[p, 0], dilation=[d, 1], bias=False)
    kind, k2, s2, p2, d2 = reader
    fields = {"out": 1, "kernel": [k2, 1], "stride": [s2, 1], "padding": [p2, 0], "dilation": [d2, 1], "bias": False}
    b = ConvTranspose(**fields) if kind == "convtranspose" else REGISTRY["conv"](**fields)
    shape = (1, 4, 1)
    middle = a.output_shape([shape])
    out = b.output_shape([middle])
    rf = receptive_field([receptive_field([INPUT_RF], a.window([shape]), [shape], middle)], b.window([middle]), [middle], out)
    expected = _stacked_rows_read(shape[1], [("convtranspose", *first), reader], out[1])
    assert [rf.unit(0, o) for o in range(out[1])] == expected


def test_convtranspose_by_hand():
    # U-Net's up-convolution: 2×2/2 doubles 28 → 56, weight (1024, 512, 2, 2) + 512 biases
    op = ConvTranspose(out=512, kernel=2, stride=2)
    out = op.output_shape([(1024, 28, 28)])
    assert out == (512, 56, 56)
    assert op.params([(1024, 28, 28)], out) == 1024 * 512 * 4 + 512
    # every input unit times every tap: 28·28·1024·512·4
    assert op.macs([(1024, 28, 28)], out) == 28 * 28 * 1024 * 512 * 4
    assert op.label() == "convtranspose 2×2/2, 512"


def test_convtranspose_symbolic_counts_substitute():
    op = ConvTranspose(out=3, kernel=4, stride=2, padding=1)
    h, w = symbol("H"), symbol("W")
    out = op.output_shape([(2, h, w)])
    symbolic = op.connections([(2, h, w)], out)
    for size in [(1, 1), (2, 5), (7, 3)]:
        concrete = op.output_shape([(2, *size)])
        assert substitute(symbolic, {"H": size[0], "W": size[1]}) == op.connections([(2, *size)], concrete)
        assert tuple(substitute(v, {"H": size[0], "W": size[1]}) for v in out) == concrete


# --- upsample --------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [2, 3, Fraction(3, 2), Fraction(5, 4), Fraction(1, 2), (2, Fraction(3, 2)), (Fraction(1, 2), 3)])
@pytest.mark.parametrize("size", [(5, 7), (8, 3)])
def test_upsample_sizes_are_pytorchs(scale, size):
    op = Upsample(scale=list(scale) if isinstance(scale, tuple) else scale)
    out = op.output_shape([(2, *size)])
    # PyTorch's ⌊H·scale⌋, each axis with its own factor (dyadic scales: exact in its double arithmetic too)
    factor = tuple(float(s) for s in scale) if isinstance(scale, tuple) else float(scale)
    expected = F.interpolate(torch.zeros(1, 2, *size), scale_factor=factor, recompute_scale_factor=True).shape[1:]
    assert out == tuple(expected)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("align_corners", [None, False, True])
def test_a_whole_scale_is_nn_upsample(mode, align_corners):
    if mode == "nearest" and align_corners is not None:
        return
    op = Upsample(scale=2, mode=mode, align_corners=align_corners)
    module = op.to_torch([(3, 5, 4)], op.output_shape([(3, 5, 4)]))
    x = torch.randn(2, 3, 5, 4)
    reference = torch.nn.Upsample(scale_factor=2, mode=mode, align_corners=align_corners)
    assert torch.equal(module(x), reference(x))


def test_upsample_to_match_a_reference(analyse_text):
    text = """
        name: head
        input: [3, {h}, {w}]
        layers:
          - conv: {{name: a, out: 4, kernel: 3, stride: 2}}
          - conv: {{name: b, from: input, out: 2, kernel: 9, padding: 4}}
          - upsample: {{name: out, from: [a, b], mode: bilinear}}
        """
    symbolic = analyse_text(text.format(h="H", w="W")).layers[-1]
    assert symbolic.output_shape == (4, symbol("H"), symbol("W"))  # b's size, a name: the spec stays symbolic
    assert symbolic.label == "upsample bilinear to match"
    out = analyse_text(text.format(h=11, w=9)).layers[-1]
    # only a's values reach the output: unit 0 reads a's unit 0 (x = max(½·5/11 − ½, 0) = 0), pixels 0 … 2 —
    # not the union with b's 9-pixel field
    assert (out.rf.size, out.rf.start) == ((3, 3), (1, 1))
    spec = {"name": "head", "input": [3, 11, 9], "layers": [
        {"conv": {"out": 2, "kernel": 3, "stride": 2}}, {"upsample": {"from": ["conv1", "input"], "mode": "bilinear"}}]}  # fmt: skip
    assert_torch_agrees(spec)


@pytest.mark.parametrize("direction", ["up", "down"])
def test_symbolic_half_pixel_positions_are_decided_for_every_size(analyse_text, direction):
    """Up: a stride-2 map back to the input's size puts unit 0 at x = max((⌊(H − 3)/2⌋ + 1)/(2H) − ½, 0),
    which is 0 for every H (the map is never taller than the input): its field is a's unit 0's,
    pixels 0 … 2 — plain numbers, not a max that sympy could not decide (issue 16). Down: the
    input resized to a's size puts it at x = H/(2·(⌊(H − 3)/2⌋ + 1)) − ½ ≥ 0: no max(…, 0) left
    (the min with the last row, H − 1, stays).
    Either way the formulas substitute to the numeric analysis at every H from 3 to 40."""
    source, reference = ("a", "input") if direction == "up" else ("input", "a")
    text = f"""
        name: head
        input: [1, {{h}}, 5]
        layers:
          - conv: {{{{name: a, out: 1, kernel: 3, stride: 2}}}}
          - upsample: {{{{name: out, from: [{source}, {reference}], mode: bilinear}}}}
        """
    field = analyse_text(text.format(h="H")).layers[-1].rf
    if direction == "up":
        assert (field.size[0], field.start[0]) == (3, 1)
    else:
        assert not any(isinstance(v, sympy.Basic) and v.has(sympy.Max) for v in (field.size[0], field.start[0]))
    for h in range(3, 41):
        numeric = analyse_text(text.format(h=h)).layers[-1].rf
        assert [substitute(v, {"H": h}) for v in (field.size[0], field.start[0])] == [numeric.size[0], numeric.start[0]], h


def test_symbolic_rows_of_a_resize_to_a_fixed_size_are_the_numeric_ones():
    """H rows to 8: unit i sits at x = max((2i + 1)·H/16 − ½, 0), whose sign is that of
    (2i + 1)·H − 8 — undecided for i < 4 (negative at H = 1), ≥ 0 at every H from i = 4 on
    (9H ≥ 8), where no max is left. Every unit's rows, substituted, are the numeric rule's at
    each H from 1 to 30 (which test_each_row_reads_pytorchs_rows_up_to_float32 checks against
    PyTorch)."""
    h = symbol("H")
    symbolic = Upsample(size=[8, 1], mode="bilinear").window([(1, h, 1)]).axes[0]
    for i in range(8):
        rows = (symbolic.first(i), symbolic.last(i))
        assert all(sympy.sympify(row).has(sympy.Max) == (i < 4) for row in rows), (i, rows)
    for size in range(1, 31):
        numeric = Upsample(size=[8, 1], mode="bilinear").window([(1, size, 1)]).axes[0]
        for i in range(8):
            got = (substitute(symbolic.first(i), {"H": size}), substitute(symbolic.last(i), {"H": size}))
            assert got == (numeric.first(i), numeric.last(i)), (size, i)


def _reads(size: int, out: int, mode: str, align_corners: bool | None) -> list[tuple[int, int]]:
    """For each output row, the first and last input row PyTorch's F.interpolate reads (its
    weight non-zero), found by resizing the one-hot rows."""
    eye = torch.eye(size, dtype=torch.float64).view(size, 1, size, 1)
    extra = {"align_corners": align_corners} if mode == "bilinear" else {}
    weights = F.interpolate(eye, size=(out, 1), mode=mode, **extra)[:, 0, :, 0]
    return [(rows[0], rows[-1]) for rows in (weights[:, i].nonzero().flatten().tolist() for i in range(out))]


@pytest.mark.parametrize(("mode", "align_corners"), [("nearest", None), ("bilinear", False), ("bilinear", True)])
def test_each_row_reads_pytorchs_rows_up_to_float32(mode, align_corners):
    """Sizes 1…24 → 1…40: every row reads what PyTorch reads, but where the exact source
    position is a whole number and PyTorch's float32 arithmetic rounds it off — nearest then
    takes the row below, bilinear gives the next row a weight of ~1e-8 — the documented deviation."""
    deviations = []
    for size in range(1, 25):
        for out in range(1, 41):
            op = Upsample(size=[out, 1], mode=mode, align_corners=align_corners)
            rule = op.window([(1, size, 1)]).axes[0]
            for i, (first, last) in enumerate(_reads(size, out, mode, align_corners)):
                if (first, last) == (rule.first(i), rule.last(i)):
                    continue
                if mode == "nearest":  # exact ⌊i·H/H_out⌋ is whole-valued there: PyTorch's is one lower
                    assert (i * size) % out == 0 and first == last == rule.first(i) - 1
                else:  # x whole: the exact rule reads row x alone, PyTorch x and x + 1
                    x = Fraction(i * (size - 1), out - 1) if align_corners else max(Fraction(2 * i + 1, 2 * out) * size - Fraction(1, 2), 0)
                    assert x.denominator == 1 and rule.first(i) == rule.last(i) == first == last - 1
                deviations.append((size, out, i))
    assert len(deviations) < 0.01 * sum(range(1, 41)) * 24  # rare: under 1% of the rows


def test_the_nearest_float32_deviation_is_pinned():
    # 26 → 22: output row 11 is ⌊11·26/22⌋ = 13 exactly; PyTorch's float32 ⌊11·fl(26/22)⌋ reads 12
    assert _reads(26, 22, "nearest", None)[11] == (12, 12)
    assert Upsample(size=[22, 1]).window([(1, 26, 1)]).axes[0].first(11) == 13


@pytest.mark.parametrize(("size", "out", "align_corners"), [(4, 8, None), (5, 3, None), (6, 1, None), (4, 7, True), (3, 2, True)])
def test_bilinear_rows_past_the_last_output_read_the_last_input_row(size, out, align_corners):
    """A padded window after the resize reads units past its end, where the rule continues
    (archcalc's fields are unclipped): for i ≥ H_out, x = (i + ½)·H/H_out − ½ ≥ H − ½ + ½·H/H_out
    > H − ½ (with align_corners x = i·(H − 1)/(H_out − 1) > H − 1), so ⌊x⌋ ≥ H − 1 and ⌈x⌉ ≥ H:
    both rows min(⌊x⌋, H − 1) and min(⌈x⌉, H − 1) are the last one, H − 1 — however far past."""
    rule = Upsample(size=[out, 1], mode="bilinear", align_corners=align_corners).window([(1, size, 1)]).axes[0]
    assert [(rule.first(i), rule.last(i)) for i in range(out, out + 2 * size + 2)] == [(size - 1, size - 1)] * (2 * size + 2)


def test_bilinear_flops_and_labels():
    op = Upsample(scale="3/2", mode="bilinear", align_corners=True)
    out = op.output_shape([(2, 4, 6)])
    assert out == (2, 6, 9)
    assert op.flops([(2, 4, 6)], out) == {"resample": 7 * 2 * 6 * 9}  # 4 weighted products + 3 additions each
    assert Upsample(scale=2).flops([(2, 4, 6)], (2, 8, 12)) == {}  # nearest copies
    assert op.label() == "upsample bilinear ×3/2, align corners"
    assert Upsample(size=[7, 5]).label() == "upsample nearest → 7×5"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("upsample: {scale: 2, size: 8}", "`scale` or `size`, not both"),
        ("upsample: {scale: 2, align_corners: true}", "align_corners applies to bilinear"),
        ("upsample: {scale: 0}", "positive"),
        ("upsample: {scale: -1.5}", "positive"),
        ("upsample: {scale: true}", "positive number"),
        ("upsample: {scale: .nan}", "scale: expected a finite number, found .nan"),
        ("upsample: {scale: 2x}", "cannot parse"),
        ("upsample: {scale: 2, mode: bicubic}", "mode"),
        ("upsample", "takes a size or scale, or `from: .x, ref.` to match ref.s size; found 1 input"),
        ("upsample: {scale: 2, from: [conv1, input]}", "takes one input when its size is given; found 2"),
        ("upsample: {scale: 0.1}", "output size must be positive"),
        ("convtranspose: {out: 4, kernel: 3, stride: 2, output_padding: 2}", "output_padding must be smaller"),
        ("convtranspose: {out: 3, kernel: 3, groups: 3}", "groups must divide the input channels: expected a divisor of 4"),
        ("convtranspose: {kernel: 3}", "missing required field 'out'"),
    ],
)
def test_misuse_is_a_located_error(analyse_text, entry, message):
    with pytest.raises(ArchcalcError, match=message) as error:
        analyse_text(f"name: bad\ninput: [3, 8, 8]\nlayers:\n  - conv: {{out: 4, kernel: 3}}\n  - {entry}\n")
    assert "net.yaml:5" in str(error.value)


def test_a_reference_must_be_a_feature_map(analyse_text):
    with pytest.raises(ArchcalcError, match=r"upsample expects a \(C, H, W\) feature map, found \(48,\)") as error:
        analyse_text("name: bad\ninput: [3, 4, 4]\nlayers:\n  - flatten\n  - upsample: {from: [input, flatten1]}\n")
    assert "net.yaml:5" in str(error.value)
