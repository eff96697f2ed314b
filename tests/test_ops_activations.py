"""The activations since 2016, and stochastic depth: each one's torch module computes the
function of its paper (written out here with elementary tensor operations), its counts are
PyTorch's, and its misuse is a located error."""

from __future__ import annotations

import math

import pytest
import torch

from archcalc.errors import ArchcalcError
from archcalc.ops import REGISTRY

X = torch.linspace(-7, 7, 57, dtype=torch.float64).view(1, 3, 19, 1)


def relu6(x):
    return x.clamp(0, 6)


# kind, fields, the function by its definition
DEFINITIONS = [
    ("relu6", {}, relu6),
    ("leakyrelu", {"slope": 0.2}, lambda x: torch.where(x >= 0, x, 0.2 * x)),
    ("leakyrelu", {}, lambda x: torch.where(x >= 0, x, 0.01 * x)),  # PyTorch's default slope
    ("elu", {"alpha": 0.5}, lambda x: torch.where(x > 0, x, 0.5 * (x.exp() - 1))),
    ("gelu", {}, lambda x: x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))),  # x·Φ(x)
    ("gelu", {"approximate": "tanh"}, lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    ("silu", {}, lambda x: x / (1 + (-x).exp())),
    ("hardswish", {}, lambda x: x * relu6(x + 3) / 6),
    ("hardsigmoid", {}, lambda x: relu6(x + 3) / 6),
    ("mish", {}, lambda x: x * torch.tanh(torch.log1p(x.exp()))),
    ("hardtanh", {}, lambda x: x.clamp(-1, 1)),
    ("hardtanh", {"min": -2.5, "max": 0.5}, lambda x: x.clamp(-2.5, 0.5)),
    ("prelu", {}, lambda x: torch.where(x >= 0, x, 0.25 * x)),  # one slope, initialised to 0.25
    ("prelu", {"per_channel": True, "init": 0.125}, lambda x: torch.where(x >= 0, x, 0.125 * x)),
]


@pytest.mark.parametrize(("kind", "fields", "definition"), DEFINITIONS, ids=lambda v: v if isinstance(v, str) else "")
def test_the_torch_module_computes_the_papers_function(kind, fields, definition):
    op = REGISTRY[kind](**fields)
    shape = tuple(X.shape[1:])
    module = op.to_torch([shape], op.output_shape([shape])).double()
    assert torch.allclose(module(X), definition(X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kind", "fields", "definition"), DEFINITIONS, ids=lambda v: v if isinstance(v, str) else "")
def test_counts_are_pytorchs(kind, fields, definition):
    from torch.utils.flop_counter import FlopCounterMode

    op = REGISTRY[kind](**fields)
    shape = (5, 4, 3)
    out = op.output_shape([shape])
    module = op.to_torch([shape], out)
    assert op.params([shape], out) == sum(p.numel() for p in module.parameters())
    assert op.buffers([shape], out) == 0 == sum(b.numel() for b in module.buffers())
    counter = FlopCounterMode(display=False)
    with counter:
        module(torch.randn(2, *shape))
    assert op.macs([shape], out) == counter.get_total_flops() // 2 == 0
    # the README's convention: one activation flop per element, 5·4·3 of them
    assert op.flops([shape], out) == {"activation": 5 * 4 * 3}


def test_prelu_has_one_slope_or_one_per_channel_as_torch_names_it():
    op = REGISTRY["prelu"](per_channel=True)
    module = op.to_torch([(7, 3, 3)], (7, 3, 3))
    assert {name: tuple(p.shape) for name, p in module.named_parameters()} == {"weight": (7,)}
    assert op.params([(7, 3, 3)], (7, 3, 3)) == 7
    assert REGISTRY["prelu"]().params([(7, 3, 3)], (7, 3, 3)) == 1
    # on a flat vector, one per feature
    assert op.params([(10,)], (10,)) == 10 == sum(p.numel() for p in op.to_torch([(10,)], (10,)).parameters())


def test_stochastic_depth_is_torchvisions_and_counts_nothing():
    from torchvision.ops import StochasticDepth

    op = REGISTRY["stochastic_depth"](p=0.3, mode="batch")
    module = op.to_torch([(4, 5, 5)], (4, 5, 5))
    assert isinstance(module, StochasticDepth) and (module.p, module.mode) == (0.3, "batch")
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(module.eval()(x), x)  # identity at inference, which is what archcalc counts
    assert op.flops([(4, 5, 5)], (4, 5, 5)) == {} and op.params([(4, 5, 5)], (4, 5, 5)) == 0
    # in training, mode "row" drops each sample's branch on its own
    module = REGISTRY["stochastic_depth"](p=0.5).to_torch([(4, 5, 5)], (4, 5, 5)).train()
    torch.manual_seed(1)
    out = module(torch.ones(64, 4, 1, 1))
    assert set(out.flatten().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1/(1 − p)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("gelu: {approximate: fast}", "approximate"),
        ("hardtanh: {min: 1, max: -1}", "min < max"),
        ("leakyrelu: {negative_slope: 0.1}", "negative_slope"),
        ("prelu: {per_channel: maybe}", "per_channel"),
        ("stochastic_depth: {p: 1.5}", "less than or equal to 1"),
        ("stochastic_depth: {p: 0.1, mode: column}", "mode"),
        ("stochastic_depth", "missing required field 'p'"),
    ],
)
def test_misuse_is_a_located_error(analyse_text, entry, message):
    with pytest.raises(ArchcalcError, match=message) as error:
        analyse_text(f"name: bad\ninput: [3, 8, 8]\nlayers:\n  - conv: {{out: 4, kernel: 3}}\n  - {entry}\n")
    assert "net.yaml:5" in str(error.value)


IN_PLACE = ["relu", "relu6", "silu", "hardswish", "hardsigmoid"]


def _step(tmp_path, activation: str):
    from archcalc.analysis import analyse, load_network
    from archcalc.training.memory import analyse_training

    path = tmp_path / "net.yaml"
    path.write_text(f"name: t\ninput: [2, 4, 4]\nlayers: [conv: {{name: a, out: 2, kernel: 1}}, {activation}]\n")
    network = load_network(path)
    return {layer.name: layer for layer in analyse_training(network, analyse(network, batch=2)).layers}["x"]


@pytest.mark.parametrize("kind", IN_PLACE)
def test_an_activation_runs_in_place_unless_told_not_to(tmp_path, kind):
    """As torchvision builds them (inplace=True), each overwrites the conv's output, which the
    conv does not keep for its backward: 2·2·4·4 = 64 floats at batch 2. ReLU's derivative
    reads its output (the overwritten storage, "a"); the others' read their input, so PyTorch's
    in-place kernel first saves a copy of it (original_self), in a storage of its own.
    Out of place (``inplace: false``, torchvision's SqueezeExcitation) the layer writes its own
    storage and the others keep the conv's output itself as their input."""
    on = _step(tmp_path, f"{kind}: {{name: x}}")
    assert (on.inplace, on.output_storage) == (0, "a")
    kept = "output" if kind == "relu" else "input_copy"
    storage = "a" if kind == "relu" else "x:input_copy"
    assert [(s.tensor, s.storage, s.elements) for s in on.saved] == [(kept, storage, 64)]
    off = _step(tmp_path, f"{kind}: {{name: x, inplace: false}}")
    assert (off.inplace, off.output_storage) == (None, "x")
    kept, storage = ("output", "x") if kind == "relu" else ("input", "a")
    assert [(s.tensor, s.storage, s.elements) for s in off.saved] == [(kept, storage, 64)]
