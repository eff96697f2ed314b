"""The same function, not only the same counts: torchvision's weights run through the
spec-built model give torchvision's outputs.

For every spec of ``MODELS``: torchvision's model is built (``weights=None``) in float64
(float32 for the one model of ``LIMIT`` parameters or more, RegNetY-128GF: 5 GB of float64
weights, with a tolerance of ``RTOL_FLOAT32``) and every tensor of it — weights, biases, batch-norm scales
and running statistics — is drawn from a fixed seed (``fill``). Its ``state_dict`` is loaded by name into the torch module that archcalc's
backend builds from the spec — the spec's layer paths are torchvision's module paths, so
the keys agree one to one; every key that does not is reported, from both sides. Then both
run in eval mode on the same random, small, non-square input and must agree to ~1e-6
relative. The spec-built model is made on the meta device and takes torchvision's tensors
as they are (``assign=True``): no second copy, no initialisation.

A module of torchvision that holds a parameter directly, where the spec has a layer of its
own, needs a key rename: ``RENAMES`` lists those per model (ConvNeXt's layer scale).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from archcalc.analysis import analyse, load_network
from archcalc.torch_backend.build import build as build_spec
from tests.torchvision_zoo import MODELS, SPECS, build

#: models with at least this many parameters are transplanted in float32 (RegNetY-128GF's
#: 644 M parameters would be 5 GB in float64; in float32 2.6 GB, shared by both models)
LIMIT = 150_000_000
#: per model, (pattern, replacement) rewriting torchvision's state_dict keys into the spec's
#: layer paths, for a parameter held directly by a torchvision module: ConvNeXt's CNBlock
#: holds `layer_scale`, which the spec makes a layer of that name (a `layerscale`, weight)
RENAMES: dict[str, list[tuple[str, str]]] = {
    f"convnext_{size}": [(r"\.layer_scale$", ".layer_scale.weight")] for size in ("tiny", "small", "base", "large")
}
RTOL = 1e-6
#: float32's epsilon is 1.2e-7; both models run the same kernels in the same order, so what
#: differs is summation order at most: 1e-4 of the output's scale, still far below what a
#: planted bug moves (test_a_planted_bug_changes_the_outputs: the whole output)
RTOL_FLOAT32 = 1e-4


def transplant(name: str, spec: Path, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's and the spec-built model's outputs for one random input (batch 1: float64
    convolutions are slow on a CPU, grouped ones most)."""
    reference = _reference(name, dtype)
    network = load_network(spec)  # built at its own input size (its aux heads need it), run at a small one
    with torch.device("meta"):
        built = build_spec(network, analyse(network))
    state = renamed(reference.state_dict(), RENAMES.get(name, []))
    mismatches = key_mismatches(built.full.state_dict(), state)
    assert not mismatches, f"{name}: the spec's and torchvision's state_dict keys differ:\n" + "\n".join(mismatches)
    built.full.load_state_dict(state, strict=True, assign=True)
    left = [key for key, tensor in {**dict(built.full.named_parameters()), **dict(built.full.named_buffers())}.items() if tensor.is_meta]
    assert not left, f"{name}: spec tensors torchvision's state_dict did not fill: {left}"
    x = torch.randn(1, 3, *MODELS[name].small, dtype=dtype, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), DepthwiseByTaps():
        expected = reference(x)
        got = built.inference.eval()(x)
    return (expected["out"] if isinstance(expected, dict) else expected), got


def _reference(name: str, dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    """torchvision's model in ``dtype``, every tensor drawn from a fixed seed (see ``fill``)."""
    model = build(name).to(dtype).to_empty(device="cpu")  # made on meta: no float32 copy, no initialisation
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, tensor in model.state_dict(keep_vars=True).items():
            fill(key, tensor, generator)
    return model.eval()


def fill(key: str, tensor: torch.Tensor, generator: torch.Generator) -> None:
    """Random values that keep activations in range and make every layer matter.

    torchvision's own initialisation gives batch norms γ = 1, β = 0, mean 0 and variance 1
    and zero biases, under which a batch norm moved past a ReLU, a wrong eps or a missing
    bias-add would go unseen; here every tensor is random: conv and linear weights uniform
    within Kaiming's bound ±√(6/fan_in), scales (other parameters named ``weight``) in
    [0.5, 1.5], biases and other parameters (a layer scale) in [−0.5, 0.5], running means
    in [−0.5, 0.5], running variances in [0.25, 2]. A buffer of any other name is an error:
    made on meta, it has lost whatever values its module gave it.
    """
    leaf = key.rsplit(".", 1)[-1]
    fan_in = tensor.numel() // tensor.shape[0] if tensor.dim() >= 2 else 0
    if leaf == "num_batches_tracked":
        tensor.zero_()
        return
    if isinstance(tensor, torch.nn.Parameter) and fan_in > 1:
        low, high = -((6 / fan_in) ** 0.5), (6 / fan_in) ** 0.5
    elif isinstance(tensor, torch.nn.Parameter):
        low, high = (0.5, 1.5) if leaf == "weight" else (-0.5, 0.5)
    else:
        ranges = {"running_mean": (-0.5, 0.5), "running_var": (0.25, 2.0)}
        if leaf not in ranges:
            raise AssertionError(f"{key}: a buffer the transplant test has no rule to fill; add one to `fill`")
        low, high = ranges[leaf]
    tensor.uniform_(low, high, generator=generator)


class DepthwiseByTaps(TorchFunctionMode):
    """Float64 depthwise convolutions (one input channel per group) as a sum over the
    kernel's taps, in both models alike.

    PyTorch's CPU convolution in float64 runs a grouped conv one group at a time, which for
    a depthwise conv is one tiny product per channel: EfficientNet-B7's forward pass at
    32×48 takes seconds; as k_h·k_w shifted element-wise products it takes a fraction. The
    result equals ``F.conv2d``'s (``test_depthwise_by_taps_is_conv2d``), and both the
    reference and the spec-built model go through it, so the comparison is unchanged.
    """

    def __init__(self):
        super().__init__()
        self.replaced = 0  # convolutions computed by taps

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.conv2d or func is torch.conv2d:
            call = dict(zip(("input", "weight", "bias", "stride", "padding", "dilation", "groups"), args, strict=False)) | kwargs
            weight, padding = call["weight"], call.get("padding", 0)
            if call.get("groups", 1) > 1 and weight.shape[1] == 1 and weight.dtype == torch.float64 and not isinstance(padding, str):
                self.replaced += 1
                return depthwise_by_taps(**call)
        return func(*args, **kwargs)


def depthwise_by_taps(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002 (F.conv2d's names)
    """y[n, g·M + m] = Σ_{i,j} w[g·M + m, 0, i, j] · x_padded[n, g, s·h + d·i, s·w + d·j]."""
    (sh, sw), (ph, pw), (dh, dw) = (_pair(v) for v in (stride, padding, dilation))
    n, _, height, width = input.shape
    out_channels, _, kh, kw = weight.shape
    ho, wo = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    padded = F.pad(input, (pw, pw, ph, ph)).unsqueeze(2)  # (n, groups, 1, H, W)
    taps = weight.view(groups, out_channels // groups, kh, kw)
    out = input.new_zeros(n, groups, out_channels // groups, ho, wo)
    for i in range(kh):
        for j in range(kw):
            window = padded[..., i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw]
            out += window * taps[:, :, i, j].view(1, groups, -1, 1, 1)
    out = out.view(n, out_channels, ho, wo)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def renamed(state: dict[str, torch.Tensor], rules: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
    out = {}
    for key, tensor in state.items():
        for pattern, replacement in rules:
            key = re.sub(pattern, replacement, key)
        out[key] = tensor
    return out


def key_mismatches(spec: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> list[str]:
    """One line per key only one side has, and per key whose shapes differ; empty when they match."""
    lines = [f"  only in the spec:        {key} {tuple(spec[key].shape)}" for key in sorted(spec.keys() - reference.keys())]
    lines += [f"  only in torchvision:     {key} {tuple(reference[key].shape)}" for key in sorted(reference.keys() - spec.keys())]
    for key in sorted(spec.keys() & reference.keys()):
        if spec[key].shape != reference[key].shape:
            lines.append(f"  shapes differ:           {key} spec {tuple(spec[key].shape)}, torchvision {tuple(reference[key].shape)}")
    return lines


def assert_same_function(expected: torch.Tensor, got: torch.Tensor, rtol: float = RTOL) -> None:
    assert got.shape == expected.shape
    assert expected.isfinite().all() and expected.std() > 0, "a constant or infinite output: nothing is compared"
    scale = expected.abs().max().item()
    torch.testing.assert_close(got, expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("name", list(MODELS))
def test_torchvisions_weights_give_torchvisions_outputs(name):
    params = sum(p.numel() for p in build(name).parameters())  # on meta: free
    dtype, rtol = (torch.float64, RTOL) if params < LIMIT else (torch.float32, RTOL_FLOAT32)
    assert_same_function(*transplant(name, SPECS / f"{name}.yaml", dtype), rtol=rtol)


# --- the test can fail: resnet18's spec with one bug planted, the weights unchanged ---------
MUTANTS = {
    # the keys still match; only the function differs
    "batch norm after the ReLU": ("      - bn: {name: bn1}\n      - relu\n", "      - relu\n      - bn: {name: bn1}\n"),
    "residual sum dropped": ("add: {from: [bn2, input]}", "add: {from: [bn2, bn2]}"),
    "eps of a batch norm": (
        "      - bn: {name: bn2}\n      - add: {from: [bn2, input]}",
        "      - bn: {name: bn2, eps: 0.001}\n      - add: {from: [bn2, input]}",
    ),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_a_planted_bug_changes_the_outputs(mutant, tmp_path):
    old, new = MUTANTS[mutant]
    spec = _mutated(tmp_path, old, new)
    expected, got = transplant("resnet18", spec)
    with pytest.raises(AssertionError, match="Tensor-likes are not close"):
        assert_same_function(expected, got)


def test_mismatched_keys_are_listed_from_both_sides(tmp_path):
    spec = _mutated(
        tmp_path,
        "- bn: {name: bn1}\n      - relu\n      - conv: {name: conv2",
        "- bn: {name: bnX}\n      - relu\n      - conv: {name: conv2",
    )
    spec.write_text(
        spec.read_text().replace("kernel: 7, stride: 2, padding: 3, bias: false", "kernel: 7, stride: 2, padding: 3, bias: true")
    )
    with pytest.raises(AssertionError) as error:
        transplant("resnet18", spec)
    message = str(error.value)
    assert "only in the spec:        conv1.bias (64,)" in message
    assert "only in the spec:        layer1.0.bnX.running_var (64,)" in message
    assert "only in torchvision:     layer1.0.bn1.weight (64,)" in message
    assert "only in torchvision:     layer4.1.bn1.num_batches_tracked ()" in message


@pytest.mark.parametrize(
    ("channels", "multiplier", "kernel", "stride", "padding", "dilation", "bias"),
    [
        (8, 1, (3, 3), 1, 1, 1, True),
        (6, 2, (5, 3), (2, 1), (2, 0), 1, False),
        (4, 3, (3, 3), 2, 3, 2, True),
        (5, 1, (7, 7), 1, 3, 1, False),
    ],
)
def test_depthwise_by_taps_is_conv2d(channels, multiplier, kernel, stride, padding, dilation, bias):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, channels, 13, 10, dtype=torch.float64, generator=generator)
    conv = torch.nn.Conv2d(channels, channels * multiplier, kernel, stride, padding, dilation, groups=channels, bias=bias).double()
    with torch.no_grad():
        expected = conv(x)
        with DepthwiseByTaps() as mode:
            got = conv(x)
    assert mode.replaced == 1
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_mismatched_shapes_are_listed():
    spec = {"fc.weight": torch.empty(10, 512, device="meta")}
    reference = {"fc.weight": torch.empty(1000, 512)}
    assert key_mismatches(spec, reference) == ["  shapes differ:           fc.weight spec (10, 512), torchvision (1000, 512)"]


def _mutated(tmp_path: Path, old: str, new: str) -> Path:
    text = (SPECS / "resnet18.yaml").read_text()
    assert old in text, old
    path = tmp_path / "resnet18.yaml"
    path.write_text(text.replace(old, new))
    return path
