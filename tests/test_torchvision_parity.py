"""specs/torchvision/ against torchvision itself: the independent source here is PyTorch.

For every model: total params equal ``sum(p.numel())``; buffers equal the BatchNorm running
statistics torch holds; total macs equal ``FlopCounterMode``'s total / 2 (it counts
convolutions and matrix products only, 2 flops per multiply-accumulate, biases excluded —
archcalc's convention); and every layer's static output shape equals what the module
produces, captured with forward hooks. Each check runs at the standard input size and at a
second, non-square size where the adaptive pools no longer see their target size. The
models and their sizes are data: ``MODELS`` in tests/torchvision_zoo.py.

Every model is built on PyTorch's meta device: its parameters and buffers have shapes but
no storage, so a forward pass under FlopCounterMode with hooks gives every product count
and every shape and computes nothing (every builder of torchvision, regnet_y_128gf too,
builds and runs there in well under a second).
``test_meta_device_counts_equal_a_real_run`` checks that against a real CPU pass.

Which torch number each static total equals:
- params: ``totals.params`` (the auxiliary heads of googlenet and inception_v3 are modules
  of the model, so their weights are in ``parameters()``); the parameters outside the aux
  modules equal ``inference_totals.params``.
- macs in ``eval()`` mode: ``inference_totals.macs`` (torchvision skips the aux heads);
  macs in ``train()`` mode (batch 2, for BatchNorm): ``totals.macs`` at batch 2 — for every
  model: without aux heads ``totals`` is ``inference_totals`` by construction, and torch
  checks it all the same.
- shapes: inference layers in eval mode; ``training_only`` layers in train mode.
- segmentation models return ``{"out": …}`` (and their backbones a dict of feature maps):
  a hook reads the ``"out"`` entry; the final upsampling to the input size is functional,
  so it is compared with the model's own output.

Spec layers are named after torchvision's module paths, so a hook on ``named_modules()``
maps 1:1 onto ``LayerStats.name``. Three kinds of spec layer have no module of their own:
functional ops (torch.cat, ``x + identity``, torch.flatten, F.relu, F.avg_pool2d …),
calls of a module that torchvision reuses (ResNet's one ``relu`` per block, called two or
three times) and block instances (a BasicConv2d's last layer stands for the BasicConv2d
container, which is hooked). A layer without a module is compared with the input its
consumer receives (a forward pre-hook on the next hooked layer); before a flatten, by
element count with the flattened input of the layer after it; a branch that only feeds a
torch.cat (InceptionB/D's functional max pool), as the concatenation's channels minus
those of its other inputs, at its H and W.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from archcalc.analysis import Analysis, analyse_file
from archcalc.ops.base import numel
from tests.torchvision_zoo import MODELS, PENDING, SPECS, build, cnn_builders, on_meta

torch.set_num_threads(2)

SIZES = ["standard", "other"]
POINTWISE = {"relu", "bn", "dropout", "identity", "channel_shuffle"}  # a layer with its input's shape


def size_of(name: str, which: str) -> tuple[int, int]:
    return getattr(MODELS[name], which)


@dataclass
class Record:
    """One forward pass: the flop count and, per module path, its input and output shapes."""

    flops: int = 0
    flops_by_module: dict[str, int] = field(default_factory=dict)
    inputs: dict[str, tuple] = field(default_factory=dict)
    outputs: dict[str, tuple] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    leaves: set[str] = field(default_factory=set)


def run(model: torch.nn.Module, size: tuple, train: bool) -> Record:
    record = Record()
    batch = 2 if train else 1  # BatchNorm in training mode needs more than one value per channel
    handles = []
    for path, module in model.named_modules():
        if not any(True for _ in module.children()):
            record.leaves.add(path)
        handles.append(module.register_forward_pre_hook(_pre_hook(record, path)))
        handles.append(module.register_forward_hook(_hook(record, path)))
    model.train(train)
    device = next(model.parameters()).device  # the meta device: shapes and counts, no compute
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(batch, 3, *size, device=device))
    finally:
        for handle in handles:
            handle.remove()
    record.flops = counter.get_total_flops()
    root = type(model).__name__ + "."
    for path, counts in counter.get_flop_counts().items():
        if path.startswith(root):
            record.flops_by_module[path.removeprefix(root)] = sum(counts.values())
    return record


def _pre_hook(record: Record, path: str):
    def hook(module, args):
        if args and isinstance(args[0], torch.Tensor):  # LRASPP's head takes the backbone's dict of maps
            record.inputs[path] = tuple(args[0].shape[1:])

    return hook


def _hook(record: Record, path: str):
    def hook(module, args, output):
        if isinstance(output, dict):  # segmentation models and their backbones: {"out": …, "aux": …}
            output = output.get("out")
        if not isinstance(output, torch.Tensor):  # the whole model in train mode returns (logits, aux…)
            return
        record.outputs[path] = tuple(output.shape[1:])
        record.calls[path] = record.calls.get(path, 0) + 1

    return hook


@pytest.fixture(scope="module", params=list(MODELS))
def model(request):
    """Each torchvision model built once, with its forward passes cached by (size, mode)."""
    name = request.param
    net = build(name)
    cache: dict = {}

    def measure(size: tuple, train: bool = False) -> Record:
        if (size, train) not in cache:
            cache[size, train] = run(net, size, train)
        return cache[size, train]

    return name, net, measure


@functools.cache
def analysis(name: str, size: tuple, batch: int = 1) -> Analysis:
    return analyse_file(SPECS / f"{name}.yaml", input_shape=f"3,{size[0]},{size[1]}", batch=batch)


def test_every_spec_is_in_the_table():
    assert {p.stem for p in SPECS.glob("*.yaml")} == set(MODELS)


def test_the_table_and_the_pending_list_are_torchvisions_cnns():
    """Every convolutional builder of torchvision has a spec or is listed as pending, never both."""
    assert not set(MODELS) & PENDING
    assert set(MODELS) | PENDING == cnn_builders()


@pytest.mark.parametrize(("name", "train"), [("resnet18", False), ("googlenet", False), ("googlenet", True)])
def test_meta_device_counts_equal_a_real_run(name, train):
    """The meta device (no storage, no compute) gives the flops per module and every module's
    input and output shapes of a real CPU forward pass: the other tests count on it."""
    size = MODELS[name].small
    torch.manual_seed(0)
    real, meta = run(build(name, meta=False), size, train), run(build(name), size, train)
    assert real.flops > 0
    assert meta == real


def test_params_and_buffers_equal_torchs(model):
    name, net, _ = model
    static = analysis(name, MODELS[name].standard)
    assert static.totals.params == sum(p.numel() for p in net.parameters())
    aux = MODELS[name].aux
    main = sum(p.numel() for path, p in net.named_parameters() if path.split(".")[0] not in aux)
    assert static.inference_totals.params == main
    running = sum(b.numel() for path, b in net.named_buffers() if not path.endswith("num_batches_tracked"))
    assert static.totals.buffers == running


def test_every_layer_params_and_macs_equal_its_modules(model):
    """Layer by layer at the standard size: a spec layer named after a module has that
    module's own parameters and half its FlopCounterMode flops; every module that counted
    flops is such a layer (aux layers: train mode, batch 2)."""
    name, net, measure = model
    size = MODELS[name].standard
    modules = dict(net.named_modules())
    for training, batch in ((False, 1), (True, 2)):
        layers = [s for s in analysis(name, size, batch=batch).layers if s.training_only == training]
        if not layers:
            continue
        record = measure(size, train=training)
        for stats in layers:
            if stats.name in modules:
                assert stats.params == sum(p.numel() for p in modules[stats.name].parameters(recurse=False)), stats.name
                assert stats.macs == record.flops_by_module.get(stats.name, 0) // 2, stats.name
            else:
                assert stats.params == 0 and stats.macs == 0, f"{stats.name} has weights but no module"
        counted = {p for p in record.flops_by_module if p in modules and not any(True for _ in modules[p].children())}
        assert counted <= {s.name for s in layers} | _other_mode(name, training)


def _other_mode(name: str, training: bool) -> set[str]:
    """In train mode the inference layers run too; their modules are checked in eval mode."""
    if not training:
        return set()
    return {s.name for s in analysis(name, MODELS[name].standard).layers if not s.training_only}


@pytest.mark.parametrize("which", SIZES)
def test_inference_macs_equal_flop_counter_half(model, which):
    name, _, measure = model
    size = size_of(name, which)
    record = measure(size)
    assert record.flops % 2 == 0
    assert analysis(name, size).inference_totals.macs == record.flops // 2


@pytest.mark.parametrize("which", SIZES)
def test_training_macs_equal_flop_counter_half(model, which):
    """``totals.macs`` against train-mode FlopCounterMode (batch 2, for BatchNorm): the aux
    heads run there, and in a model without them every layer runs in both modes."""
    name, _, measure = model
    size = size_of(name, which)
    static = analysis(name, size, batch=2)
    assert static.totals.macs == measure(size, train=True).flops // 2
    if MODELS[name].aux:
        assert static.totals.macs > static.inference_totals.macs
    else:
        assert not any(s.training_only for s in static.layers)


@pytest.mark.parametrize("which", SIZES)
def test_every_layer_shape_equals_the_modules(model, which):
    name, _, measure = model
    size = size_of(name, which)
    static = analysis(name, size)
    check_shapes(static, measure(size), training=False)
    if MODELS[name].aux:
        check_shapes(static, measure(size, train=True), training=True)


def check_shapes(static: Analysis, record: Record, training: bool) -> None:
    """Every spec layer of the mode is compared with torch, and every leaf module that ran
    once in a branch of the mode is a spec layer; see the module docstring for the rules."""
    layers = [s for s in static.layers if s.training_only == training]
    names = {s.name for s in static.layers}
    found: dict[str, tuple] = {}  # spec layer → torch's shape for it
    for stats in layers:
        if record.calls.get(stats.name) == 1:
            found[stats.name] = record.outputs[stats.name]
    if not training and "" in record.outputs:  # the model's own output: SqueezeNet ends on torch.flatten
        found.setdefault(layers[-1].name, record.outputs[""])
    for container, last in _block_outputs(layers, record).items():
        found.setdefault(last, record.outputs[container])
    for stats in reversed(layers):  # consumers come later: walk back so chains resolve
        if stats.name not in found:
            found.update(_through_consumer(stats, static, found, record))
    for stats in layers:
        assert stats.name in found, f"{stats.name}: no module, container or consumer in torch to compare with"
        assert stats.output_shape == found[stats.name], f"{stats.name}: archcalc {stats.output_shape}, torch {found[stats.name]}"
    mode = set(_mode_scopes(layers))
    missing = [p for p in record.leaves if record.calls.get(p) == 1 and p not in names and p.split(".")[0] in mode]
    assert not missing, f"modules that ran but no spec layer matches: {missing}"


def _mode_scopes(layers) -> list[str]:
    return [s.name.split(".")[0] for s in layers]


def _block_outputs(layers, record: Record) -> dict[str, str]:
    """Hooked containers (BasicConv2d, Inception, Fire, a ResNet block …) → the spec layer
    that ends the matching block instance (its last layer in evaluation order)."""
    last: dict[str, str] = {}
    for stats in layers:
        for scope in stats.scopes:
            if record.calls.get(scope) == 1:
                last[scope] = stats.name
    return last


def _through_consumer(stats, static: Analysis, found: dict, record: Record) -> dict[str, tuple]:
    for consumer in static.layers:
        if consumer.kind == "concat" and stats.name in consumer.inputs:
            remainder = _concat_remainder(stats, consumer, found)
            if remainder:
                return remainder
        if consumer.inputs != (stats.name,):
            continue
        if consumer.name in record.inputs and record.calls.get(consumer.name) == 1:
            return {stats.name: record.inputs[consumer.name]}
        if consumer.kind in POINTWISE and consumer.name in found:
            return {stats.name: found[consumer.name]}
        if consumer.kind == "flatten":  # torch's flatten is functional: compare element counts
            after = found.get(consumer.name) or _through_consumer(consumer, static, found, record).get(consumer.name)
            if after is not None:
                same = numel(stats.output_shape) == numel(after)
                return {stats.name: stats.output_shape if same else ("flattens to", after), consumer.name: after}
    if stats.kind in POINTWISE and len(stats.inputs) == 1 and stats.inputs[0] in found:  # DenseNet's F.relu before a functional pool
        return {stats.name: found[stats.inputs[0]]}
    return {}


def _concat_remainder(stats, concat, found: dict) -> dict[str, tuple]:
    """A functional branch that only feeds torch.cat (InceptionB/D's max pool): torch's
    concatenation minus the channels of its other, checked inputs; its H and W."""
    others = [name for name in concat.inputs if name != stats.name]
    if concat.name not in found or not all(name in found for name in others):
        return {}
    channels, *spatial = found[concat.name]
    return {stats.name: (channels - sum(found[name][0] for name in others), *spatial)}


#: the total that torchvision's documented ``num_params`` counts, where a model has aux heads:
#: GoogLeNet's is without aux1/aux2 (6,624,904), Inception-v3's with AuxLogits (27,161,264)
DOCUMENTED_PARAMS = {"googlenet": "inference_totals"}


@pytest.mark.parametrize("name", list(MODELS))
def test_totals_equal_torchvisions_documentation(name, tmp_path):
    """Each weights entry's ``_meta``: ``num_params`` exactly, and ``_ops`` (torchvision's
    "GFLOPS", which are multiply-adds: 10⁹ macs to 3 decimals) at the entry's crop size —
    of the configuration the weights come with (``Builder.documented``: the segmentation
    models' aux head)."""
    for weights in torchvision.models.get_model_weights(name):
        crop = getattr(weights.transforms(), "crop_size", None) or weights.transforms().resize_size
        static = documented_analysis(name, (crop[0], crop[-1]), tmp_path)
        params = getattr(static, DOCUMENTED_PARAMS.get(name, "totals")).params
        assert params == weights.meta["num_params"], weights
        assert round(Fraction(static.inference_totals.macs, 10**9), 3) == Fraction(str(weights.meta["_ops"])), weights


def documented_analysis(name: str, size: tuple, folder) -> Analysis:
    documented = MODELS[name].documented
    if documented is None:
        return analysis(name, size)
    spec = folder / f"{name}_documented.yaml"
    spec.write_text(f"extends: {SPECS / name}.yaml\n{documented.spec}")
    return analyse_file(spec, input_shape=f"3,{size[0]},{size[1]}")


@pytest.mark.parametrize("name", [name for name, builder in MODELS.items() if builder.documented])
def test_the_documented_configuration_is_torchvisions(name, tmp_path):
    """The configuration the documentation counts (an aux head) against torchvision built so:
    params, buffers, macs, and the shape of every layer named after a module."""
    with on_meta():
        net = torchvision.models.get_model(name, weights=None, weights_backbone=None, **MODELS[name].documented.kwargs)
    size = MODELS[name].other
    static, record = documented_analysis(name, size, tmp_path), run(net, size, train=False)
    assert static.totals.params == sum(p.numel() for p in net.parameters())
    assert static.totals.buffers == sum(b.numel() for path, b in net.named_buffers() if not path.endswith("num_batches_tracked"))
    assert static.inference_totals.macs == record.flops // 2
    named = [s for s in static.layers if s.name in record.outputs]
    assert len(named) > len(analysis(name, size).layers) // 2
    for stats in named:
        assert stats.output_shape == record.outputs[stats.name], stats.name


@pytest.mark.parametrize(("name", "head"), [("fcn_resnet50", "classifier.4"), ("lraspp_mobilenet_v3_large", "classifier.high_classifier")])
def test_segmentation_outputs_are_read_from_their_dict(name, head):
    """Ready for the segmentation specs: the model's ``{"out": …}`` is recorded as its output
    (upsampled to the input size), a backbone's dict of maps without "out" is passed over."""
    record = run(build(name), (96, 128), train=False)
    assert record.outputs[""] == (21, 96, 128)
    assert record.outputs[head][0] == 21 and record.outputs[head][1:] != (96, 128)
    assert record.calls[""] == 1


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_transform_input_changes_no_count(name):
    """The specs leave transform_input out (the builders' default with weights=None); turning
    it on adds only an elementwise rescale: the same params, macs and output."""
    with on_meta():
        net = torchvision.models.get_model(name, weights=None, aux_logits=False, init_weights=False, transform_input=True)
    size = MODELS[name].standard
    record = run(net, size, train=False)
    static = analysis(name, size)
    assert sum(p.numel() for p in net.parameters()) == static.inference_totals.params
    assert record.flops // 2 == static.inference_totals.macs
    assert record.outputs["fc"] == static.layers[-1].output_shape
