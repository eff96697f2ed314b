"""The language writes torchvision's families once, as torchvision builds them: the specs in
tests/language_specs/ (and specs/torchvision/mobilenet_v2.yaml at the width multipliers that
no builder of torchvision uses: the builder's own 1.0 is tests/test_torchvision_parity.py's)
against the torchvision models themselves (the independent source).

Each spec is one family (MobileNetV2's (t, c, n, s) table with width multipliers, RegNetX's
quantized linear widths, MNASNet's scaled stacks); a builder's
variant is the spec with other network arguments (an `extends:` file). For every variant:
params equal ``sum(p.numel())``, buffers the BatchNorm running statistics, inference macs
``FlopCounterMode``'s total / 2, every spec layer named after a module has that module's own
params and output shape, and every module with weights is a spec layer (so the names are
torchvision's module paths). Models are built and run on the ``meta`` device: shapes and
flop counts without arithmetic. (DenseNet's dense blocks, once here, are
specs/torchvision/densenet121.yaml now: the parity and transplant tests check them.)
"""

from __future__ import annotations

import functools

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.mobilenetv2 import MobileNetV2
from torchvision.models.regnet import BlockParams, RegNet

from archcalc.analysis import analyse_file
from tests.conftest import ROOT

SPECS = ROOT / "tests" / "language_specs"
#: families that moved to specs/torchvision/ as bundled specs (their builders are tested
#: there by the parity and transplant tests; here only their other arguments)
MOVED = {name: ROOT / "specs" / "torchvision" / f"{name}.yaml" for name in ("mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small")}

# torchvision's builders (regnet.py, mnasnet.py) and their arguments
REGNET_X = {
    "regnet_x_400mf": {"depth": 22, "w_0": 24, "w_a": 24.48, "w_m": 2.54, "group_width": 16},
    "regnet_x_800mf": {"depth": 16, "w_0": 56, "w_a": 35.73, "w_m": 2.28, "group_width": 16},
    "regnet_x_1_6gf": {"depth": 18, "w_0": 80, "w_a": 34.01, "w_m": 2.25, "group_width": 24},
    "regnet_x_3_2gf": {"depth": 25, "w_0": 88, "w_a": 26.31, "w_m": 2.25, "group_width": 48},
    "regnet_x_8gf": {"depth": 23, "w_0": 80, "w_a": 49.56, "w_m": 2.88, "group_width": 120},
    "regnet_x_16gf": {"depth": 22, "w_0": 216, "w_a": 55.59, "w_m": 2.1, "group_width": 128},
    "regnet_x_32gf": {"depth": 23, "w_0": 320, "w_a": 69.86, "w_m": 2.0, "group_width": 168},
}
MNASNET = {"mnasnet0_5": 0.5, "mnasnet0_75": 0.75, "mnasnet1_0": 1.0, "mnasnet1_3": 1.3}
MOBILENET_V2 = (0.35, 0.5, 0.75, 1.4)
#: torchvision's MobileNetV3 options that its classification builders leave off
MOBILENET_V3 = {
    "mobilenet_v3_large_x0_75": ("mobilenet_v3_large", {"width_mult": 0.75}),
    "mobilenet_v3_large_reduced_dilated": ("mobilenet_v3_large", {"reduced_tail": True, "dilated": True}),
    "mobilenet_v3_small_x1_25_reduced": ("mobilenet_v3_small", {"width_mult": 1.25, "reduced_tail": True}),
}


def regnet(args: dict):
    """RegNet's block parameters are computed with real tensors, so before the meta device."""
    params = BlockParams.from_init_params(**args)
    return functools.partial(RegNet, params, norm_layer=functools.partial(torch.nn.BatchNorm2d, eps=1e-05, momentum=0.1))


CASES = {
    **{f"mobilenet_v2_x{w}": ("mobilenet_v2", {"width_mult": w}, functools.partial(MobileNetV2, width_mult=w)) for w in MOBILENET_V2},
    **{name: ("regnet_x", args, functools.partial(regnet, args)) for name, args in REGNET_X.items()},
    **{
        name: (family, args, functools.partial(torchvision.models.get_model, family, **args))
        for name, (family, args) in MOBILENET_V3.items()
    },
    **{name: ("mnasnet", {"alpha": a}, functools.partial(torchvision.models.get_model, name)) for name, a in MNASNET.items()},
}
SIZES = {"standard": (224, 224), "other": (256, 320)}


def spec_for(tmp_path, family: str, args: dict):
    """The family's spec with the builder's arguments (an `extends:` file, as a user writes one)."""
    text = f"extends: {MOVED.get(family, SPECS / f'{family}.yaml')}\nname: {family} variant\nargs: {args}\n"
    path = tmp_path / f"{family}_variant.yaml"
    path.write_text(text.replace("'", ""))
    return path


@functools.cache
def measured(case: str, size: tuple) -> dict:
    """Run the torchvision model once on the meta device: per module path, its own params and
    output shape; the whole pass's flops; the total params and running-statistics buffers."""
    build = CASES[case][2]
    build = build() if build.func is regnet else build
    with torch.device("meta"):
        model = build().eval()
    shapes: dict[str, tuple] = {}

    def record(path: str):
        def hook(module, inputs, output):
            shapes.setdefault(path, tuple(output.shape[1:]))  # returns None: the output stays

        return hook

    hooks = [module.register_forward_hook(record(path)) for path, module in model.named_modules()]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, *size, device="meta"))
    for hook in hooks:
        hook.remove()
    own = {path: sum(p.numel() for p in m.parameters(recurse=False)) for path, m in model.named_modules()}
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked")),
        "flops": counter.get_total_flops(),
        "own": own,
        "shapes": shapes,
    }


@pytest.mark.parametrize("which", list(SIZES))
@pytest.mark.parametrize("case", list(CASES))
def test_family_spec_equals_torchvision(case, which, tmp_path):
    family, args, _ = CASES[case]
    size = SIZES[which]
    static = analyse_file(spec_for(tmp_path, family, args), input_shape=f"3,{size[0]},{size[1]}")
    torch_side = measured(case, size)
    assert static.totals.params == torch_side["params"]
    assert static.totals.buffers == torch_side["buffers"]
    assert torch_side["flops"] % 2 == 0 and static.inference_totals.macs == torch_side["flops"] // 2
    layers = {s.name: s for s in static.layers}
    for name, stats in layers.items():
        if name in torch_side["own"]:
            assert stats.params == torch_side["own"][name], name
            assert stats.output_shape == torch_side["shapes"][name], name
        else:
            assert stats.params == 0, f"{name} has weights but torchvision has no such module"
    weighted = {path for path, count in torch_side["own"].items() if count}
    assert weighted <= set(layers), f"modules with weights that no spec layer names: {sorted(weighted - set(layers))[:5]}"


def test_the_variants_differ():
    """The arguments really reach the graph: every variant of a family has its own size."""
    params = {case: measured(case, SIZES["standard"])["params"] for case in CASES}
    assert len(set(params.values())) == len(params)


@pytest.mark.parametrize("case", ["mnasnet0_5", "regnet_x_400mf", "mobilenet_v2_x0.35", "mobilenet_v3_large_reduced_dilated"])
def test_torchvisions_weights_load_and_compute_the_same(case, tmp_path):
    """The function, not only the counts: the spec-built module takes the torchvision model's
    state dict as it is (the same paths, the same shapes) and computes the same output
    (MobileNetV2 at a width multiplier of no builder: its rounded widths take the weights)."""
    from archcalc.analysis import analyse, load_network
    from archcalc.torch_backend.build import build

    family, args, factory = CASES[case]
    torch.manual_seed(0)
    reference = (factory() if factory.func is regnet else factory)().eval()
    for module in reference.modules():  # running statistics that are not the identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    network = load_network(spec_for(tmp_path, family, args), input_shape="3,64,64")
    built = build(network, analyse(network)).inference
    built.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(built(x), reference(x), rtol=1e-4, atol=1e-5)
