"""The imported spec is the model's function, not only its counts: the torch module archcalc
builds from an imported spec, loaded with the model's own state_dict, gives the model's
outputs (float64, every tensor random: tests/test_transplant.py's ``fill``).

The spec's layer paths are the model's module paths, so the state_dicts agree key for key;
the one exception is a tensor a module holds directly (ConvNeXt's ``layer_scale``), which
the import reports in ``Graph.renames`` (spec key → model key), as the spec's notes say.
"""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch", reason="archcalc import's PyTorch front end needs torch (optional extra)")
pytest.importorskip("torchvision", reason="torchvision: references torchvision:NAME (optional extra)")

from archcalc.analysis import analyse, load_network  # noqa: E402
from archcalc.importers import import_torch  # noqa: E402
from archcalc.torch_backend.build import build as build_spec  # noqa: E402
from tests.test_transplant import DepthwiseByTaps, _reference, assert_same_function, key_mismatches  # noqa: E402
from tests.torchvision_zoo import MODELS, build  # noqa: E402

#: a representative subset, ~5 s each in float64 on a CPU (the counts test covers every
#: builder): AlexNet and SqueezeNet (plain and concatenating CNNs), GoogLeNet (inception
#: blocks, auxiliary heads as training-only layers), ResNet (residual adds), MobileNetV3
#: (squeeze-excitation's mul, hardswish), ShuffleNetV2 (chunk and channel shuffle's views),
#: MNASNet, ConvNeXt (channels-last permutes, LayerNorm, Linear on a map, layer scale,
#: stochastic depth) and LR-ASPP (interpolate to the input's size, a dict output).
#: ``ALSO_PASSED`` were run too when the importer was written (each ~10–30 s: regnet's
#: grouped float64 convs): set ARCHCALC_IMPORT_ALL=1 to include them.
FAMILIES = [
    "alexnet", "squeezenet1_1", "googlenet", "resnet18", "mobilenet_v3_small", "shufflenet_v2_x0_5", "mnasnet0_5",
    "convnext_tiny", "lraspp_mobilenet_v3_large",
]  # fmt: skip
ALSO_PASSED = [
    "vgg11_bn", "inception_v3", "resnext50_32x4d", "densenet121", "mobilenet_v2", "efficientnet_b0", "efficientnet_v2_s",
    "regnet_y_400mf", "regnet_x_400mf", "fcn_resnet50", "deeplabv3_mobilenet_v3_large",
]  # fmt: skip
if os.environ.get("ARCHCALC_IMPORT_ALL"):
    FAMILIES += ALSO_PASSED


def small(name: str) -> tuple[int, int]:
    return MODELS[name].small if name in MODELS else (32, 48)


def transplanted(name: str, tmp_path) -> tuple[torch.Tensor, torch.Tensor]:
    reference = _reference(name)  # float64, every tensor drawn from a fixed seed
    size = MODELS[name].standard if name in MODELS else (224, 224)
    imported = import_torch(build(name), (3, *size), f"torchvision:{name}")
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(imported.text)
    network = load_network(spec)
    with torch.device("meta"):
        built = build_spec(network, analyse(network))
    target = built.full.state_dict()
    state = dict(reference.state_dict())
    for spec_key, model_key in imported.graph.renames.items():
        state[spec_key] = state.pop(model_key).reshape(target[spec_key].shape)
    mismatches = key_mismatches(target, state)
    assert not mismatches, f"{name}: the imported spec's and the model's state_dict keys differ:\n" + "\n".join(mismatches)
    built.full.load_state_dict(state, strict=True, assign=True)
    x = torch.randn(1, 3, *small(name), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), DepthwiseByTaps():
        expected, got = reference(x), built.inference.eval()(x)
    return _main(expected), _main(got)


def _main(output):
    return output["out"] if isinstance(output, dict) else output


@pytest.mark.parametrize("name", FAMILIES)
def test_the_models_weights_give_the_models_outputs(name, tmp_path):
    assert_same_function(*transplanted(name, tmp_path))
