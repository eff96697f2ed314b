"""The training rules proven on PyTorch: what ``saved_tensors_hooks`` sees autograd pack during
the forward pass (each storage once), FlopCounterMode over ``loss.backward()`` (÷ 2, split into
input and weight gradients per layer), the ``.grad`` tensors and ``optimizer.state`` after one
step — against archcalc's static numbers, for every bundled spec and for random networks.

Every bundled spec runs on PyTorch's meta device (no arithmetic, so even the largest networks
take seconds); a set of specs that together use every bundled op also runs on the real CPU and
must show exactly what the meta device showed, so the sweep proves what the CPU does. The
hypothesis networks run on the CPU.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.analysis import analyse, load_network
from archcalc.errors import ArchcalcError
from archcalc.ops import REGISTRY
from archcalc.torch_backend.build import build
from archcalc.torch_backend.devices import Device
from archcalc.torch_backend.training import conv_backward_parts, measured_peak, observe, training_checks
from archcalc.training.memory import analyse_training
from tests.conftest import NETWORK_SPECS, ROOT

LADDER = (8, 16, 24, 32, 48, 64, 75, 96, 128, 160, 224, 299)
BATCH = 2


def smallest_network(path: Path):
    """The spec at the smallest square input of LADDER at which every layer exists, training-only
    ones too (its own input if none): a training step needs Inception-v3's aux head (299)."""
    channels = load_network(path).input_shape[0]
    for size in LADDER:
        try:
            network = load_network(path, f"{channels},{size},{size}")
            analyse(network)
        except ArchcalcError:
            continue
        if not network.invalid:
            return network
    return load_network(path)


def prove(network, optimizer: str = "adam", device: str = "cpu"):
    """Build the network on ``device``, run one observed training step, and compare."""
    analysis = analyse(network, batch=BATCH)
    step = analyse_training(network, analysis, optimizer, "cpu")
    torch.manual_seed(0)
    with torch.device(device):
        built = build(network, analysis, {layer.name: layer.inplace for layer in step.layers if layer.inplace is not None})
        example = torch.randn(BATCH, *network.input_shape)
    seen = observe(built, example, optimizer)
    return training_checks(analysis, step, seen), seen


def failures(checks) -> list[str]:
    return [f"{check.name}: {line}" for check in checks if not check.held for line in check.mismatches or ["totals differ"]]


@pytest.mark.parametrize("path", NETWORK_SPECS, ids=lambda p: str(p.relative_to(ROOT / "specs")))
def test_every_bundled_spec_saves_and_computes_what_its_rules_say(path):
    checks, _ = prove(smallest_network(path), device="meta")
    assert not failures(checks)


#: together these use every op the bundled specs use but avgpool, adaptiveavgpool and scale (which
#: the random networks below run on the CPU): LRN and groups (AlexNet); connection table,
#: subsampling, RBF (LeNet-5); BN, in-place ReLU and Add, softmax (ResNet-18); concat, ceil-mode
#: pooling, dropout (SqueezeNet) — at their smallest inputs
ON_THE_CPU = ["lenet5.yaml", "alexnet.yaml", "resnet18.yaml", "squeezenet1_1.yaml"]


@pytest.mark.parametrize("name", ON_THE_CPU)
def test_the_cpu_shows_what_the_meta_device_shows(name):
    network = smallest_network(ROOT / "specs" / name)
    cpu_checks, cpu = prove(network, "momentum", device="cpu")
    _, meta = prove(network, "momentum", device="meta")
    assert not failures(cpu_checks)
    assert (cpu.saved, cpu.input_flops, cpu.weight_flops, cpu.backward_flops, cpu.grad_bytes, cpu.state_bytes) == (
        meta.saved, meta.input_flops, meta.weight_flops, meta.backward_flops, meta.grad_bytes, meta.state_bytes
    )  # fmt: skip


def test_overwriting_a_saved_tensor_in_place_breaks_the_backward_so_training_never_does(write_spec):
    """tanh keeps its output; the inference plan lets the ReLU after it work in place, which
    PyTorch's backward refuses — the training plan does not."""
    network = load_network(
        write_spec("name: d\ninput: [2, 4, 4]\nlayers: [conv: {out: 2, kernel: 1}, tanh, relu, flatten, linear: {out: 2}]\n")
    )
    analysis = analyse(network, batch=BATCH)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        observe(build(network, analysis), torch.randn(BATCH, *network.input_shape), "sgd")
    checks, _ = prove(network)
    assert not failures(checks)


def test_an_observed_model_is_freed_once_dropped():
    """The observers must not outlive the step: a pre-hook left on a weight's AccumulateGrad
    node is held by the weight, and through its closure the model, in a cycle no collection
    frees — one model per proof, until the suite's process was killed at 24 GiB."""
    import gc
    import weakref

    network = load_network(ROOT / "specs" / "lenet5.yaml")
    analysis = analyse(network, batch=BATCH)
    built = build(network, analysis)
    observe(built, torch.randn(BATCH, *network.input_shape), "adam")
    weight = next(built.full.parameters())
    alive = weakref.ref(built.full), weakref.ref(weight)
    del built, weight
    gc.collect()
    assert [ref() for ref in alive] == [None, None]


def test_a_grouped_convs_weight_gradient_is_counted_once_per_product():
    """FlopCounterMode (torch 2.14) ignores groups in the weight gradient; archcalc's checks divide
    them out. By hand: a depthwise 3×3 conv, 4 channels, 6×6 output, batch 2 — each of the
    4·3·3 weights is multiplied once per output position of its channel: 4·9·36·2 = 2,592
    products, so 5,184 flops; the input gradient makes as many."""
    shapes = ((2, 4, 6, 6), (2, 4, 8, 8), (4, 1, 3, 3), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 4, [True, True, False])
    grad_input, grad_weight = conv_backward_parts(*shapes, out_shape=[(2, 4, 8, 8), (4, 1, 3, 3), None])
    assert (grad_input, grad_weight) == (2 * 2592, 2 * 2592)


# --- random networks, on the CPU ----------------------------------------------------------------
#: what the random networks draw from; a registered op missing here fails the test below, so a new
#: op's training rules are proven on PyTorch before they count
POINTWISE = ["relu", "tanh", "sigmoid", "bn", "identity", "dropout", "scale", "lrn"]
POINTWISE += ["relu6", "leakyrelu", "prelu", "elu", "gelu", "silu", "hardswish", "hardsigmoid", "mish", "hardtanh"]
POINTWISE += ["layernorm", "groupnorm", "layerscale", "channel_shuffle", "stochastic_depth"]
#: the ops that change a map's shape, and the merges, drawn by feature_layer
RESHAPING = ["convtranspose", "upsample", "slice", "chunk", "pad", "crop", "adaptivemaxpool", "linear", "mul"]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def test_the_random_networks_use_every_registered_op():
    drawn = {"conv", "maxpool", "avgpool", "subsample", "globalavgpool", "adaptiveavgpool", "concat", "add"}
    drawn |= {"flatten", "linear", "rbf", "softmax"} | set(POINTWISE) | set(RESHAPING)
    assert drawn == set(REGISTRY), f"add {sorted(set(REGISTRY) - drawn)} to the random networks"


def divisors(channels: int) -> list[int]:
    return [g for g in range(1, channels + 1) if channels % g == 0]


@st.composite
def pointwise_layer(draw, channels: int):
    """A shape-keeping layer on a (channels, …) map, with fields drawn where it has them."""
    op = draw(st.sampled_from(POINTWISE))
    fields = {
        "dropout": lambda: {"p": draw(st.sampled_from([0.0, 0.5, 1.0]))},
        "scale": lambda: {"factor": 0.5},
        "lrn": lambda: {"size": draw(st.integers(1, 4))},
        "leakyrelu": lambda: {"slope": 0.1},
        "prelu": lambda: {"per_channel": draw(st.booleans())},
        "elu": lambda: {"alpha": draw(st.sampled_from([0.5, 1.0]))},
        "gelu": lambda: {"approximate": draw(st.sampled_from(["none", "tanh"]))},
        "hardtanh": lambda: {"min": -0.5, "max": 2.0},
        "layernorm": lambda: {"affine": draw(st.booleans()), "bias": draw(st.booleans())},
        "groupnorm": lambda: {"groups": draw(st.sampled_from(divisors(channels))), "affine": draw(st.booleans())},
        "layerscale": lambda: {"init": 0.5},
        "channel_shuffle": lambda: {"groups": draw(st.sampled_from(divisors(channels)))},  # 1 and C: the identity
        "stochastic_depth": lambda: {"p": draw(st.sampled_from([0.0, 0.5, 1.0])), "mode": draw(st.sampled_from(["row", "batch"]))},
    }
    return {op: fields[op]()} if op in fields else op


@st.composite
def product(draw, channels: int):
    """A `mul` of 2 or 3 branches that broadcast to the (channels, H, W) map: the map itself or a
    conv of it, and squeeze-and-excitation (C, 1, 1) or spatial (1, H, W) gates, in any order."""
    full = {"map": "identity", "conv": [{"conv": {"out": channels, "kernel": 1}}, "hardswish"]}
    gates = {
        "channel gate": ["globalavgpool", {"conv": {"out": channels, "kernel": 1}}, "sigmoid"],
        "spatial gate": [{"conv": {"out": 1, "kernel": 1}}, "hardsigmoid"],
    }
    names = [draw(st.sampled_from(sorted(full)))] + draw(st.lists(st.sampled_from(sorted(full | gates)), min_size=1, max_size=2))
    return {"mul": {"branches": [(full | gates)[name] for name in draw(st.permutations(names))]}}


@st.composite
def resampling_layer(draw, channels: int, size: int):
    """A transposed conv, an upsampling, a zero pad or an adaptive max pool: (entry, size after)."""
    kind = draw(st.sampled_from(["convtranspose", "upsample", "pad", "adaptivemaxpool"] if size <= 6 else ["adaptivemaxpool"]))
    if kind == "convtranspose":
        kernel = draw(st.integers(1, 3))
        stride, groups = draw(st.integers(1, min(2, kernel))), draw(st.sampled_from(divisors(channels)))
        padding, dilation = draw(st.integers(0, (kernel - 1) // 2)), draw(st.sampled_from([1, 2] if stride == 1 else [1]))
        extra = draw(st.integers(0, stride - 1))
        fields = {"out": groups * draw(st.integers(1, 2)), "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation,
                  "output_padding": extra, "groups": groups, "bias": draw(st.booleans())}  # fmt: skip
        return {"convtranspose": fields}, fields["out"], (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + extra + 1
    if kind == "upsample":
        mode = draw(st.sampled_from(["nearest", "bilinear"]))
        fields = {"mode": mode} | ({"align_corners": draw(st.booleans())} if mode == "bilinear" else {})
        if draw(st.booleans()):
            return {"upsample": fields | {"scale": 2}}, channels, 2 * size
        target = size + draw(st.integers(-1, 2)) if size > 1 else 2
        return {"upsample": fields | {"size": target}}, channels, target
    if kind == "pad":  # top + bottom = left + right, so the map stays square
        top, bottom = draw(st.integers(0, 1)), draw(st.integers(0, 1))
        left = draw(st.integers(max(0, top + bottom - 1), min(1, top + bottom)))
        return {"pad": {"padding": [top, bottom, left, top + bottom - left]}}, channels, size + top + bottom
    out = draw(st.integers(1, size + 1))
    return {"adaptivemaxpool": {"out": out}}, channels, out


@st.composite
def feature_layer(draw, channels: int, size: int):
    """One layer (or an inline residual / concat / product block) on a (channels, size, size) map:
    the entry, and the channels and size after it."""
    kinds = ["conv", "conv", "table", "pool", "pointwise", "pointwise", "branches", "resample", "channels", "linear", "mul"]
    kind = draw(st.sampled_from(kinds))
    if kind == "conv":
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0]))
        out, kernel = groups * draw(st.integers(1, 3)), draw(st.integers(1, min(3, size)))
        padding = draw(st.integers(0, kernel // 2))
        fields = {"out": out, "kernel": kernel, "padding": padding, "groups": groups, "bias": draw(st.booleans())}
        return {"conv": fields}, out, size + 2 * padding - kernel + 1
    if kind == "table":
        table = [sorted(draw(st.sets(st.integers(0, channels - 1), min_size=1))) for _ in range(draw(st.integers(1, 3)))]
        return {"conv": {"kernel": 1, "connection_table": table}}, len(table), size
    if kind == "pool" and size >= 2:
        return {draw(st.sampled_from(["maxpool", "avgpool", "subsample"])): {"kernel": 2, "stride": 1}}, channels, size - 1
    if kind == "branches":
        merge = draw(st.sampled_from(["add", "concat"]))
        branch = [{"conv": {"out": channels, "kernel": 1}}, draw(st.sampled_from(["relu", "bn", "tanh", "sigmoid", "gelu", "layernorm"]))]
        return {merge: {"branches": [branch, "identity"]}}, channels * (2 if merge == "concat" else 1), size
    if kind == "resample":
        return draw(resampling_layer(channels, size))
    if kind == "channels":
        return draw(channel_layer(channels, size))
    if kind == "linear":  # on the channels at each position (ConvNeXt's)
        out = draw(st.integers(1, 4))
        return {"linear": {"out": out, "bias": draw(st.booleans())}}, out, size
    if kind == "mul":
        return draw(product(channels)), channels, size
    return draw(pointwise_layer(channels)), channels, size


@st.composite
def channel_layer(draw, channels: int, size: int):
    """A slice or chunk of the channels, or a centred crop: (entry, channels, size after)."""
    kind = draw(st.sampled_from(["slice", "chunk", "crop"]))
    if kind == "slice":
        start = draw(st.integers(0, channels - 1))
        stop = draw(st.integers(start + 1, channels))
        return {"slice": {"start": start, "stop": stop}}, stop - start, size
    if kind == "chunk":
        chunks = draw(st.integers(1, 3))
        width = -(-channels // chunks)
        index = draw(st.integers(0, -(-channels // width) - 1))
        return {"chunk": {"chunks": chunks, "index": index}}, min(width, channels - index * width), size
    target = draw(st.integers(1, size))
    return {"crop": {"size": target}}, channels, target


@st.composite
def networks(draw):
    """Feature layers on a small map, a head (global or adaptive pooling, or none), flatten and
    fully connected layers; sometimes first a layer on the network input, which needs no gradient
    (outside autograd without parameters; with them, subsampling keeps only its sums; a product
    with the input keeps it for the other factor's gradient only)."""
    first, start = draw(st.integers(1, 4)), draw(st.integers(3, 6))
    channels, size, layers = first, start, []
    if draw(st.booleans()):
        first_layers = [
            ("relu", first),
            ({"maxpool": {"kernel": 1}}, first),
            ({"dropout": {"p": 0.5}}, first),
            ({"subsample": {"kernel": 1}}, first),
            ({"avgpool": {"kernel": 1}}, first),
            ("gelu", first),
            ({"layernorm": {}}, first),
            ({"prelu": {"per_channel": True}}, first),
            ({"layerscale": {}}, first),
            ({"upsample": {"size": start, "mode": "bilinear"}}, first),
            ({"linear": {"out": 2}}, 2),
            ({"convtranspose": {"out": 2, "kernel": 1}}, 2),
            ({"mul": {"branches": [[{"conv": {"out": first, "kernel": 1}}], "identity"]}}, first),
        ]
        entry, channels = draw(st.sampled_from(first_layers))
        layers.append(entry)
    for _ in range(draw(st.integers(1, 5))):
        entry, channels, size = draw(feature_layer(channels, size))
        layers.append(entry)
    heads = [
        "globalavgpool",
        {"adaptiveavgpool": {"out": draw(st.sampled_from([1, 2]))}},
        {"adaptivemaxpool": {"out": draw(st.sampled_from([1, 2]))}},
    ]
    head = draw(st.sampled_from([*heads, None]))
    layers += [head] if head else []
    layers += ["flatten", {"linear": {"out": draw(st.integers(1, 4))}}]
    ends = ["relu", "sigmoid", "softmax", "bn", {"rbf": {"out": 3}}, {"dropout": {"p": 0.5}}, "layernorm", {"prelu": {"per_channel": True}},
            "mish", {"stochastic_depth": {"p": 0.5}}, {"layerscale": {}}, {"slice": {"stop": 1}}]  # fmt: skip
    layers.append(draw(st.sampled_from(ends)))
    if draw(st.booleans()):
        layers.append({"linear": {"out": 2, "bias": False}})
    return {"name": "random", "input": [first, start, start], "layers": layers}


@SETTINGS
@given(networks(), st.sampled_from(["sgd", "momentum", "adam", "adamw"]))
def test_random_networks_save_and_compute_what_their_rules_say(spec, optimizer):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        checks, _ = prove(load_network(path), optimizer)
    assert not failures(checks), yaml.safe_dump(spec)


# --- archcalc run --training ----------------------------------------------------------------------
LENET = ROOT / "specs" / "lenet5.yaml"


def test_run_training_checks_then_times_whole_steps(cli):
    result = cli("run", LENET, "--training", "--optimizer", "adamw", "--batch", "2", "--warmup", "1", "--iters", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # a loaded machine's progress bar goes to stderr
    names = [check["name"] for check in data["checks"]]
    assert names == ["shapes", "params", "buffers", "macs", "saved", "backward input macs", "backward weight macs", "backward macs",
                     "gradients", "optimizer state"]  # fmt: skip
    assert data["checks_held"] and data["iterations"] == 2
    step = data["training"]
    analysis = analyse(load_network(LENET), batch=2)
    expected = analyse_training(load_network(LENET), analysis, "adamw", "cpu")
    assert step["step_macs"] == data["macs"] == analysis.totals.macs + expected.backward_macs
    assert (step["predicted_peak_bytes"], step["max_memory_allocated"]) == (expected.peak_bytes, None)


def test_run_training_text(cli):
    text = cli("run", LENET, "--training", "--warmup", "1", "--iters", "2").output
    assert "training step with adam" in text and "checks: 10 of 10 held" in text
    assert "ok   saved" in text and "predicted peak" in text and "measured only on CUDA" in text


def test_run_training_refuses_per_layer(cli):
    result = cli("run", LENET, "--training", "--per-layer")
    assert result.exit_code == 2 and "--per-layer times the inference pass" in result.output


def test_on_cuda_the_measured_peak_is_one_steps_max_memory_allocated(monkeypatch):
    """No GPU here: the CUDA calls are simulated, and the step records what it saw."""
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(("sync", device)))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: calls.append(("reset", device)))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: calls.append(("read", device)) or 123_456)
    peak = measured_peak(lambda: calls.append(("step", None)), Device("cuda:1", "fake"))
    assert peak == 123_456
    assert calls == [("sync", "cuda:1"), ("reset", "cuda:1"), ("step", None), ("sync", "cuda:1"), ("read", "cuda:1")]
    assert measured_peak(lambda: calls.append("cpu step"), Device("cpu", "x86")) is None and calls[-1] != "cpu step"


def test_the_measured_peak_is_shown_beside_the_predicted_one():
    from archcalc.torch_backend import render, runner

    result = runner.run(str(LENET), runner.Options(batch=2, warmup=1, iters=2, training=True, optimizer="sgd"))
    result.max_memory_allocated = result.training.peak_bytes // 2  # what a CUDA run would have measured
    assert "torch.cuda.max_memory_allocated" in render.text(result) and "(50.0 % of it)" in render.text(result)
    assert render.to_dict(result)["training"]["max_memory_allocated"] == result.training.peak_bytes // 2
