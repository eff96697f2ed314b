"""In-place activations as torchvision builds them, proven on torchvision's own models.

torchvision's Conv2dNormActivation builds ReLU6, Hardswish and ReLU with ``inplace=True``
(MobileNetV2/V3), MNASNet its ReLUs, MobileNetV3's classifier its Hardswish; its
SqueezeExcitation builds ReLU() and Hardsigmoid() out of place. For each model: (1) every
activation module's ``inplace`` equals whether archcalc's training plan (archcalc.inplace)
overwrites that layer's input; (2) one training step of torchvision's model itself, with
``saved_tensors_hooks`` (archcalc.torch_backend.training.observe, on the meta device), packs
per layer the bytes archcalc's training model predicts for the spec — an in-place ReLU6 or
Hardswish keeps a copy of its input (PyTorch's ``original_self``), the conv after it the
overwritten storage — and in all the same total (functional ops, x * s and +=, count there).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from archcalc.analysis import analyse, load_network
from archcalc.torch_backend.training import observe
from archcalc.training.memory import analyse_training
from tests.torchvision_zoo import SPECS, build

ACTIVATIONS = (torch.nn.ReLU, torch.nn.ReLU6, torch.nn.Hardswish, torch.nn.Hardsigmoid, torch.nn.SiLU)
BATCH, SIZE = 2, (32, 48)


@pytest.fixture(scope="module", params=["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "mnasnet0_5"])
def measured(request):
    name = request.param
    network = load_network(SPECS / f"{name}.yaml", f"3,{SIZE[0]},{SIZE[1]}")
    analysis = analyse(network, batch=BATCH)
    step = analyse_training(network, analysis, "sgd", "cpu")
    model = build(name)  # the meta device: shapes, no storage
    modules = dict(model.named_modules())
    layers = {layer.name: layer for layer in step.layers}
    hooked = {path: modules[path] for path in layers if path in modules and not any(True for _ in modules[path].children())}
    torch.manual_seed(0)
    seen = observe(SimpleNamespace(full=model, modules=hooked), torch.zeros(BATCH, 3, *SIZE, device="meta"), "sgd")
    return layers, modules, hooked, seen


def test_activations_are_in_place_where_torchvisions_are(measured):
    layers, modules, _, _ = measured
    activations = {path: m for path, m in modules.items() if isinstance(m, ACTIVATIONS)}
    assert activations and all(path in layers for path in activations)
    differ = [path for path, m in activations.items() if m.inplace != (layers[path].inplace is not None)]
    assert not differ, f"in place in one and not the other: {differ[:5]}"
    assert any(m.inplace for m in activations.values())


def test_torchvisions_training_step_saves_what_archcalc_predicts(measured):
    layers, _, hooked, seen = measured
    wrong = [f"{p}: archcalc {layers[p].saved_bytes}, torch {seen.saved.get(p, 0)}" for p in hooked]
    wrong = [line for line, p in zip(wrong, hooked, strict=True) if layers[p].saved_bytes != seen.saved.get(p, 0)]
    assert not wrong, wrong[:5]
    assert sum(layer.saved_bytes for layer in layers.values()) == sum(seen.saved.values())
