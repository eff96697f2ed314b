"""Differential tests: random valid specs — chains and DAGs of conv, pooling, concat, add,
batch norm and linear layers, with random kernels, strides, paddings, dilations, groups and
input sizes — must have, in PyTorch, exactly the shapes, params, buffers and macs that
archcalc derives statically. PyTorch is the independent side: its layers compute the
shapes, its tensors hold the parameters and FlopCounterMode counts the products.

Derandomised (the same examples on every run, so CI is stable). The random search has found
no disagreement so far; the edge cases it must keep covering are pinned below as explicit
tests, and a shrunk failure it finds belongs there too.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.analysis import analyse, load_network
from archcalc.torch_backend.build import build
from archcalc.torch_backend.checks import failed, run_checks

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _fits(size: int, kernel: int, padding: int, dilation: int) -> bool:
    return size + 2 * padding >= dilation * (kernel - 1) + 1


def _out(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@st.composite
def conv(draw, shape):
    channels, h, w = shape
    groups = draw(st.sampled_from([g for g in range(1, channels + 1) if channels % g == 0]))
    out = groups * draw(st.integers(1, 3))
    fields = {"out": out, "groups": groups, "bias": draw(st.booleans())}
    sizes = []
    for size in (h, w):
        k, s, p, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(0, 2)), draw(st.integers(1, 2))
        if not _fits(size, k, p, d):
            k, d = 1, 1
        fields.setdefault("kernel", []).append(k)
        fields.setdefault("stride", []).append(s)
        fields.setdefault("padding", []).append(p)
        fields.setdefault("dilation", []).append(d)
        sizes.append(_out(size, k, s, p, d))
    return {"conv": fields}, (out, *sizes)


@st.composite
def pool(draw, shape):
    """Max or average pooling; ceil_mode is left to PyTorch-style rules, so output sizes are
    not tracked exactly here: the caller re-derives them from the spec analysis."""
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    size = min(shape[1:])
    kernel = draw(st.integers(1, min(3, size)))
    fields = {"kernel": kernel, "stride": draw(st.integers(1, 3)), "padding": draw(st.integers(0, kernel // 2)),
              "ceil_mode": draw(st.booleans())}  # fmt: skip
    if kind == "maxpool" and _fits(size, kernel, fields["padding"], 2) and draw(st.booleans()):
        fields["dilation"] = 2
    if kind == "avgpool":
        fields["count_include_pad"] = draw(st.booleans())
    return {kind: fields}


@st.composite
def networks(draw):
    """A spec (as a dict) whose layers are all named l0, l1, …, wired as a chain with
    concat/add merges reaching back to any earlier layer of a compatible shape."""
    shape = (draw(st.integers(1, 6)), draw(st.integers(5, 16)), draw(st.integers(5, 16)))
    shapes = {"input": shape}
    layers, prev = [], "input"
    for index in range(draw(st.integers(1, 6))):
        name = f"l{index}"
        choice = draw(st.sampled_from(["conv", "conv", "pool", "merge", "bn", "relu"]))
        entry, new_shape = _layer(draw, choice, shapes, prev)
        if entry is None:
            continue
        op = next(iter(entry))
        entry[op] = {"name": name, **(entry[op] or {})}
        layers.append(entry)
        shapes[name] = new_shape
        prev = name
        if new_shape is None:  # pooling: the spec's own size rule decides; stop tracking
            break
    if draw(st.booleans()):
        layers += [{"globalavgpool": None}] if draw(st.booleans()) else []
        layers += [{"flatten": None}, {"linear": {"out": draw(st.integers(1, 6)), "bias": draw(st.booleans())}}]
    return {"name": "random", "input": list(shape), "layers": layers}


def _layer(draw, choice: str, shapes: dict, prev: str):
    shape = shapes[prev]
    if choice == "conv":
        return draw(conv(shape))
    if choice == "pool":
        return draw(pool(shape)), None
    if choice in ("bn", "relu"):
        return {choice: None}, shape
    same_hw = [n for n, s in shapes.items() if n != prev and s is not None and s[1:] == shape[1:]]
    same = [n for n in same_hw if shapes[n] == shape]
    if same and draw(st.booleans()):
        return {"add": {"from": [prev, draw(st.sampled_from(same))]}}, shape
    if same_hw:
        other = draw(st.sampled_from(same_hw))
        return {"concat": {"from": [prev, other]}}, (shape[0] + shapes[other][0], *shape[1:])
    # no partner yet: an inline residual branch that keeps the shape
    k = draw(st.sampled_from([1, 3]))
    branch = [{"conv": {"out": shape[0], "kernel": k, "padding": k // 2}}, "bn"]
    return {"add": {"branches": [branch, "identity"]}}, shape


def built_from(spec: dict, batch: int = 2):
    """(network, analysis, built torch model) of a spec given as a dict."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        network = load_network(path)
    analysis = analyse(network, batch=batch)
    torch.manual_seed(0)
    return network, analysis, build(network, analysis)


def assert_torch_agrees(spec: dict, batch: int = 2) -> None:
    network, analysis, model = built_from(spec, batch)
    checks = run_checks(model, analysis, torch.randn(batch, *network.input_shape))
    assert not failed(checks), "\n".join(line for check in failed(checks) for line in check.mismatches)


@SETTINGS
@given(networks())
def test_random_specs_have_their_static_numbers_in_torch(spec):
    assert_torch_agrees(spec)


# --- pinned edge cases (and the place for shrunk failures) ---------------------------------
@pytest.mark.parametrize(
    "layers",
    [
        # ceil_mode's last window must start inside the input or left padding (PyTorch's rule)
        [{"maxpool": {"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True}}],
        [{"avgpool": {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}}],
        # dilated pooling, asymmetric dilated grouped convolution
        [{"maxpool": {"kernel": 2, "stride": 1, "dilation": 2, "ceil_mode": True}}],
        [{"conv": {"out": 6, "kernel": [1, 3], "stride": [2, 1], "padding": [0, 2], "dilation": [1, 2], "groups": 3}}],
        # a merge reading the network input directly, and an add of the input to itself
        [{"conv": {"name": "a", "out": 3, "kernel": 3, "padding": 1}}, {"concat": {"from": ["a", "input"]}}],
        [{"add": {"from": ["input", "input"]}}, {"relu": None}],
    ],
)
def test_regressions(layers):
    assert_torch_agrees({"name": "regression", "input": [3, 7, 6], "layers": layers})


# --- the vocabulary of issue 11: activations, norms, channel plumbing, resampling, mul --------
# Each strategy returns (entry, output shape) with the shape worked out from PyTorch's own
# rules, so the spec the network grows is valid by PyTorch's arithmetic, not archcalc's.
ACTIVATIONS = ["relu6", "leakyrelu", "prelu", "elu", "gelu", "silu", "hardswish", "hardsigmoid", "mish", "hardtanh"]
MAX_SIZE = 24  # resampling stops growing beyond this, to keep every example small


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def activation(draw, shape):
    kind = draw(st.sampled_from(ACTIVATIONS))
    fields = {
        "prelu": {"per_channel": draw(st.booleans())},
        "leakyrelu": {"slope": draw(st.sampled_from([0.01, 0.2]))},
        "elu": {"alpha": draw(st.sampled_from([0.5, 1.0]))},
        "gelu": {"approximate": draw(st.sampled_from(["none", "tanh"]))},
        "hardtanh": {"min": -2.0, "max": 3.0},
    }.get(kind)
    return {kind: fields}, shape


@st.composite
def normalisation(draw, shape):
    kind = draw(st.sampled_from(["layernorm", "groupnorm", "layerscale"]))
    if kind == "layernorm":
        return {kind: {"affine": draw(st.booleans()), "bias": draw(st.booleans())}}, shape
    if kind == "groupnorm":
        return {kind: {"groups": draw(st.sampled_from(_divisors(shape[0]))), "affine": draw(st.booleans())}}, shape
    return {kind: None}, shape


@st.composite
def plumbing(draw, shape):
    channels, h, w = shape
    kind = draw(st.sampled_from(["slice", "chunk", "channel_shuffle", "pad", "crop"]))
    if kind == "slice":
        start = draw(st.integers(0, channels - 1))
        stop = draw(st.integers(start + 1, channels))
        return {kind: {"start": start, "stop": stop}}, (stop - start, h, w)
    if kind == "chunk":  # torch.chunk: pieces of ⌈C/chunks⌉, and only as many as that fills
        chunks = draw(st.integers(1, 4))
        size = -(-channels // chunks)
        index = draw(st.integers(0, -(-channels // size) - 1))
        return {kind: {"chunks": chunks, "index": index}}, (min(size, channels - index * size), h, w)
    if kind == "channel_shuffle":
        return {kind: {"groups": draw(st.sampled_from(_divisors(channels)))}}, shape
    if kind == "pad":
        top, bottom, left, right = (draw(st.integers(0, 2)) for _ in range(4))
        return {kind: {"padding": [top, bottom, left, right]}}, (channels, h + top + bottom, w + left + right)
    size = [draw(st.integers(1, h)), draw(st.integers(1, w))]
    return {kind: {"size": size}}, (channels, *size)


def _taps_reach_every_output(k: int, s: int, p: int, d: int) -> bool:
    return all(any((o + p - t * d) % s == 0 for t in range(k)) for o in range(s))


@st.composite
def resampling(draw, shape):
    channels, h, w = shape
    if draw(st.booleans()):
        groups = draw(st.sampled_from(_divisors(channels)))
        fields = {"out": groups * draw(st.integers(1, 2)), "groups": groups, "bias": draw(st.booleans())}
        sizes = []
        for size in (h, w):
            k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
            p, extra = draw(st.integers(0, (d * (k - 1)) // 2)), draw(st.integers(0, max(s, d) - 1))
            out = (size - 1) * s - 2 * p + d * (k - 1) + extra + 1
            if not _taps_reach_every_output(k, s, p, d) or out > MAX_SIZE or out < 1:
                k, s, p, d, extra, out = 1, 1, 0, 1, 0, size
            for name, value in zip(("kernel", "stride", "padding", "dilation", "output_padding"), (k, s, p, d, extra), strict=True):
                fields.setdefault(name, []).append(value)
            sizes.append(out)
        return {"convtranspose": fields}, (fields["out"], *sizes)
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    fields = {"mode": mode} | ({"align_corners": draw(st.booleans())} if mode == "bilinear" else {})
    if draw(st.booleans()):
        scale = draw(st.sampled_from([2, 3, Fraction(3, 2), Fraction(1, 2), Fraction(2, 3)]))
        sizes = [(size * scale.numerator) // scale.denominator if isinstance(scale, Fraction) else size * scale for size in (h, w)]
        if min(sizes) >= 1 and max(sizes) <= MAX_SIZE:
            return {"upsample": {"scale": str(scale), **fields}}, (channels, *sizes)
    sizes = [draw(st.integers(1, MAX_SIZE)), draw(st.integers(1, MAX_SIZE))]
    return {"upsample": {"size": sizes, **fields}}, (channels, *sizes)


@st.composite
def gate(draw, shape):
    """mul with a broadcast partner: a squeeze-and-excitation gate (C, 1, 1) or a spatial
    attention map (1, H, W), as inline branches, or an earlier layer that broadcasts."""
    channels = shape[0]
    if draw(st.booleans()):
        squeeze = draw(st.integers(1, 3))
        branch = [{"globalavgpool": None}, {"conv": {"out": squeeze, "kernel": 1}}, "relu", {"conv": {"out": channels, "kernel": 1}}]
    else:
        branch = [{"conv": {"out": 1, "kernel": draw(st.sampled_from([1, 3])), "padding": 1}}]
        branch[0]["conv"]["padding"] = branch[0]["conv"]["kernel"] // 2
    branch.append(draw(st.sampled_from(["sigmoid", "hardsigmoid"])))
    return {"mul": {"branches": [branch, "identity"]}}, shape


def _modern_layer(draw, choice: str, shapes: dict, prev: str):
    shape = shapes[prev]
    if choice == "old":
        return _layer(draw, draw(st.sampled_from(["conv", "merge", "bn", "relu"])), shapes, prev)
    if choice == "linear":
        out = draw(st.integers(1, 6))
        return {"linear": {"out": out, "bias": draw(st.booleans())}}, (out, *shape[1:])
    if choice == "adaptive":
        out = [draw(st.integers(1, 7)), draw(st.integers(1, 7))]
        return {draw(st.sampled_from(["adaptiveavgpool", "adaptivemaxpool"])): {"out": out}}, (shape[0], *out)
    if choice == "stochastic_depth":
        return {choice: {"p": draw(st.sampled_from([0.0, 0.2])), "mode": draw(st.sampled_from(["row", "batch"]))}}, shape
    if choice == "match":  # resize or crop `prev` to an earlier map's size: `from: [prev, ref]`
        others = [n for n, s in shapes.items() if n != prev and s is not None]
        if not others:
            return None, None
        ref = draw(st.sampled_from(others))
        target = shapes[ref][1:]
        if target[0] <= shape[1] and target[1] <= shape[2] and draw(st.booleans()):
            return {"crop": {"from": [prev, ref]}}, (shape[0], *target)
        return {"upsample": {"from": [prev, ref], "mode": draw(st.sampled_from(["nearest", "bilinear"]))}}, (shape[0], *target)
    if choice == "mul":
        partners = [n for n, s in shapes.items() if n != prev and s is not None and _broadcasts(s, shape)]
        if partners and draw(st.booleans()):
            return {"mul": {"from": [prev, draw(st.sampled_from(partners))]}}, shape
        return draw(gate(shape))
    return draw({"activation": activation, "norm": normalisation, "plumbing": plumbing, "resample": resampling}[choice](shape))


def _broadcasts(partner: tuple, shape: tuple) -> bool:
    """partner × shape has shape's shape: each axis equal or 1 in the partner."""
    return all(a == b or a == 1 for a, b in zip(partner, shape, strict=True))


MODERN = ["old", "activation", "norm", "plumbing", "resample", "mul", "linear", "adaptive", "stochastic_depth", "match"]


@st.composite
def modern_networks(draw, head: bool = True):
    """Random DAGs mixing the new ops with conv, merges and bn, every layer named l0, l1, …;
    with ``head``, maybe a flatten and a linear or layernorm on the flat vector at the end."""
    shape = (draw(st.integers(1, 6)), draw(st.integers(3, 12)), draw(st.integers(3, 12)))
    shapes, layers, prev = {"input": shape}, [], "input"
    for index in range(draw(st.integers(1, 7))):
        entry, new_shape = _modern_layer(draw, draw(st.sampled_from(MODERN)), shapes, prev)
        if entry is None or new_shape is None:
            continue
        op = next(iter(entry))
        entry[op] = {"name": f"l{index}", **(entry[op] or {})}
        layers.append(entry)
        shapes[f"l{index}"], prev = new_shape, f"l{index}"
    if head and draw(st.booleans()):
        layers += [
            {"flatten": None},
            draw(st.sampled_from([{"linear": {"out": 3}}, {"layernorm": None}, {"prelu": {"per_channel": True}}])),
        ]
    return {"name": "random", "input": list(shape), "layers": layers or [{"relu6": None}]}


@SETTINGS
@given(modern_networks())
def test_random_specs_with_the_new_ops_have_their_static_numbers_in_torch(spec):
    assert_torch_agrees(spec)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(modern_networks(head=False))
def test_random_specs_see_no_pixel_outside_their_fields(spec):
    """PyTorch's input gradient of every output unit (positive weights) lies inside archcalc's
    field: an op whose field is too small (as the adaptive pools' was) fails here."""
    from tests.gradient_fields import spec_hulls

    measured, static, _ = spec_hulls(spec)
    for axis in (0, 1):
        for seen, field in zip(measured[axis], static[axis], strict=True):
            assert seen is None or (field is not None and field[0] <= seen[0] and seen[1] <= field[1]), (axis, seen, field)


def test_a_spec_with_every_new_op_has_its_static_numbers_in_torch():
    from tests.test_ops_derivations import NEW_KINDS, NEW_OPS

    spec = yaml.safe_load(NEW_OPS)
    assert NEW_KINDS <= {next(iter(entry)) if isinstance(entry, dict) else entry for entry in spec["layers"]}
    assert_torch_agrees(spec)
