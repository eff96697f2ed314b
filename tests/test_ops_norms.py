"""layernorm, groupnorm, layerscale and linear on a feature map: against torchvision's ConvNeXt
block (its weights loaded into the spec-built block give its outputs), PyTorch's modules and
hand arithmetic; misuse is a located error."""

from __future__ import annotations

import pytest
import torch

from archcalc.errors import ArchcalcError
from archcalc.ops import REGISTRY
from tests.test_torch_differential import assert_torch_agrees, built_from

CNBLOCK = {
    "name": "ConvNeXt block",
    "input": [8, 9, 9],
    "layers": [
        {
            "add": [
                [
                    {"conv": {"name": "dw", "out": 8, "kernel": 7, "padding": 3, "groups": 8}},
                    {"layernorm": {"name": "norm", "eps": 1e-6}},
                    {"linear": {"name": "fc1", "out": 32}},
                    "gelu",
                    {"linear": {"name": "fc2", "out": 8}},
                    {"layerscale": {"name": "scale", "init": 0.5}},
                    {"stochastic_depth": {"p": 0.1}},
                ],
                "identity",
            ]
        }
    ],
}


def test_torchvisions_convnext_block_loads_into_the_spec_and_agrees():
    from torchvision.models.convnext import CNBlock

    torch.manual_seed(0)
    reference = CNBlock(8, layer_scale=0.5, stochastic_depth_prob=0.1).eval()
    with torch.no_grad():  # non-trivial norm weights and layer scale
        for parameter in reference.parameters():
            parameter.add_(torch.rand_like(parameter))
    network, analysis, built = built_from(CNBLOCK)
    modules = built.modules
    # torchvision's parameters by name → the spec-built layer's, same names and shapes
    pairs = {
        "block.0": "branch1.dw",  # depthwise 7×7 conv
        "block.2": "branch1.norm",  # LayerNorm(8) applied channels-last after a Permute
        "block.3": "branch1.fc1",  # Linear(8, 32)
        "block.5": "branch1.fc2",  # Linear(32, 8)
    }
    theirs = dict(reference.named_parameters())
    for source, layer in pairs.items():
        for name, parameter in modules[layer].named_parameters():
            assert parameter.shape == theirs[f"{source}.{name}"].shape, (layer, name)
            parameter.data.copy_(theirs[f"{source}.{name}"])
    assert modules["branch1.scale"].weight.shape == reference.layer_scale.shape == (8, 1, 1)
    modules["branch1.scale"].weight.data.copy_(reference.layer_scale)
    x = torch.randn(2, 8, 9, 9)
    assert torch.allclose(built.full(x), reference(x), atol=1e-5)
    # and the counts are PyTorch's: params, and FlopCounterMode/2 (fc1 a matmul over 2 samples × 81 positions)
    assert analysis.totals.params == sum(p.numel() for p in reference.parameters())
    by_name = {s.name: s for s in analysis.layers}
    assert by_name["branch1.fc1"].macs == 2 * 8 * 32 * 81 and by_name["branch1.fc1"].output_shape == (32, 9, 9)
    assert_torch_agrees(CNBLOCK)


def test_layernorm_over_channels_is_torchvisions_layernorm2d():
    from torchvision.models.convnext import LayerNorm2d

    op = REGISTRY["layernorm"](eps=1e-6)
    ours = op.to_torch([(6, 4, 5)], (6, 4, 5))
    theirs = LayerNorm2d(6, eps=1e-6)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    with torch.no_grad():
        for mine, reference in zip(ours.parameters(), theirs.parameters(), strict=True):
            reference.uniform_(0.5, 1.5)
            mine.copy_(reference)
    x = torch.randn(3, 6, 4, 5)
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)
    # normalised over the 6 channels at each position: mean 0 there with unit weights
    plain = REGISTRY["layernorm"]().to_torch([(6, 4, 5)], (6, 4, 5))
    assert torch.allclose(plain(x).mean(dim=1), torch.zeros(3, 4, 5), atol=1e-6)


@pytest.mark.parametrize(
    ("fields", "shape", "params"),
    [
        ({}, (6, 4, 5), 2 * 6),
        ({"bias": False}, (6, 4, 5), 6),
        ({"affine": False}, (6, 4, 5), 0),
        ({}, (10,), 2 * 10),  # a flat vector: nn.LayerNorm(10)
    ],
)
def test_layernorm_counts(fields, shape, params):
    op = REGISTRY["layernorm"](**fields)
    module = op.to_torch([shape], shape)
    assert op.params([shape], shape) == params == sum(p.numel() for p in module.parameters())
    # 5 per element (Σx, x − μ, its square, Σ(x − μ)², × 1/σ), 2 more with affine
    elements = 1
    for dim in shape:
        elements *= dim
    assert op.flops([shape], shape) == {"norm": (7 if fields.get("affine", True) else 5) * elements}
    assert module(torch.randn(2, *shape)).shape == (2, *shape)


def test_groupnorm_is_pytorchs():
    op = REGISTRY["groupnorm"](groups=3)
    module = op.to_torch([(6, 4, 4)], (6, 4, 4))
    assert isinstance(module, torch.nn.GroupNorm) and (module.num_groups, module.num_channels) == (3, 6)
    assert op.params([(6, 4, 4)], (6, 4, 4)) == 12 == sum(p.numel() for p in module.parameters())
    assert REGISTRY["groupnorm"](groups=2, affine=False).params([(6, 4, 4)], (6, 4, 4)) == 0
    assert op.flops([(6, 4, 4)], (6, 4, 4)) == {"norm": 7 * 96}


def test_layerscale_has_torchvisions_shape():
    op = REGISTRY["layerscale"](init=0.25)
    module = op.to_torch([(5, 3, 3)], (5, 3, 3))
    assert {n: tuple(p.shape) for n, p in module.named_parameters()} == {"weight": (5, 1, 1)}
    x = torch.randn(2, 5, 3, 3)
    assert torch.equal(module(x), 0.25 * x)
    flat = REGISTRY["layerscale"]().to_torch([(7,)], (7,))
    assert tuple(flat.weight.shape) == (7,) and op.params([(7,)], (7,)) == 7


def test_linear_on_a_map_keeps_nn_linears_parameters():
    op = REGISTRY["linear"](out=4, bias=False)
    module = op.to_torch([(6, 3, 2)], (4, 3, 2))
    assert isinstance(module, torch.nn.Linear)
    assert {n: tuple(p.shape) for n, p in module.named_parameters()} == {"weight": (4, 6)}
    out = op.output_shape([(6, 3, 2)])
    assert out == (4, 3, 2)
    # a 1×1 convolution, counted so: 6·4 weights at each of the 3·2 positions
    assert op.macs([(6, 3, 2)], out) == 6 * 4 * 3 * 2 and op.connections([(6, 3, 2)], out) == 6 * 4 * 3 * 2
    x = torch.randn(2, 6, 3, 2)
    conv = torch.nn.functional.conv2d(x, module.weight.view(4, 6, 1, 1))
    assert torch.allclose(module(x), conv, atol=1e-6)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("groupnorm: {groups: 3}", "groups must divide the channels: expected a divisor of 4, found groups=3"),
        ("groupnorm", "missing required field 'groups'"),
        ("layernorm: {eps: small}", "eps"),
        ("layerscale: {init: [1]}", "init"),
    ],
)
def test_misuse_is_a_located_error(analyse_text, entry, message):
    with pytest.raises(ArchcalcError, match=message) as error:
        analyse_text(f"name: bad\ninput: [3, 8, 8]\nlayers:\n  - conv: {{out: 4, kernel: 3}}\n  - {entry}\n")
    assert "net.yaml:5" in str(error.value)


def test_groupnorm_needs_a_feature_map(analyse_text):
    with pytest.raises(ArchcalcError, match=r"groupnorm expects a \(C, H, W\) feature map, found \(16,\)"):
        analyse_text("name: bad\ninput: [1, 4, 4]\nlayers: [flatten, groupnorm: {groups: 2}]\n")
