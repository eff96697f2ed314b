"""The imported spec is the model's function, not only its counts: for every torchvision CNN
builder (tests/torchvision_zoo.py's ``cnn_builders()``, classification and segmentation),
the torch module archcalc builds from the imported spec, given the model's own weights,
gives the model's outputs, in float64 (batch 1, the zoo's small non-square input).

The spec's layer paths are the model's module paths, so the state_dicts agree key for key
(checked first, both models on the meta device); the one exception is a tensor a module
holds directly (ConvNeXt's ``layer_scale``), which the import reports in ``Graph.renames``
(spec key → model key), as the spec's notes say.

Memory (CI runs the whole suite in one process, 24 GiB; RegNetY-128GF alone is 5.2 GB in
float64): neither model ever holds all its weights. Both stay on the meta device, and each
module's own tensors are made just before it runs and dropped right after (``OnCall``),
each drawn from its state_dict key (``drawn``): the same key gives the same values in both
models, so the spec-built model runs with the model's weights, and a layer wired to the
wrong weights sees different ones. Time: float64 depthwise convolutions by taps and the
other grouped ones as one batched product (``FastGroupedConv``, in both models alike), one
intra-op thread, the weights copied from one random pool rather than drawn one by one.
"""

from __future__ import annotations

import gc
import math
import zlib

import pytest

torch = pytest.importorskip("torch", reason="archcalc import's PyTorch front end needs torch (optional extra)")
pytest.importorskip("torchvision", reason="torchvision: references torchvision:NAME (optional extra)")

import torch.nn.functional as F  # noqa: E402

from archcalc.analysis import analyse, load_network  # noqa: E402
from archcalc.importers import import_torch  # noqa: E402
from archcalc.torch_backend.build import build as build_spec  # noqa: E402
from tests.test_transplant import DepthwiseByTaps, assert_same_function, depthwise_by_taps, key_mismatches  # noqa: E402
from tests.torchvision_zoo import MODELS, build, cnn_builders  # noqa: E402

#: the random pool's length, a prime: a tensor longer than it repeats the pool with a period
#: no row length of a real layer divides
POOL = 1_000_003
_POOL: list[torch.Tensor] = []


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread for this module: at batch 1 and these small inputs every op is
    tiny, and a parallel region's start costs more than the op (0.5 ms against 13 µs for a
    float64 batch norm, measured on a busy 2-core machine); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    _POOL.clear()


def small(name: str) -> tuple[int, int]:
    return MODELS[name].small if name in MODELS else (32, 48)


def bounds(key: str, shape: torch.Size, parameter: bool) -> tuple[float, float]:
    """tests/test_transplant.py's ``fill`` rules: conv and linear weights within Kaiming's
    bound ±√(6/fan_in), other parameters named ``weight`` (scales) in [0.5, 1.5], biases and
    other parameters in [−0.5, 0.5], running means in [−0.5, 0.5], running variances in
    [0.25, 2]; a buffer of any other name is an error (made on meta, it lost its values)."""
    leaf = key.rsplit(".", 1)[-1]
    fan_in = math.prod(shape) // shape[0] if len(shape) >= 2 else 0
    if parameter and fan_in > 1:
        return -((6 / fan_in) ** 0.5), (6 / fan_in) ** 0.5
    if parameter:
        return (0.5, 1.5) if leaf == "weight" else (-0.5, 0.5)
    ranges = {"running_mean": (-0.5, 0.5), "running_var": (0.25, 2.0)}
    if leaf not in ranges:
        raise AssertionError(f"{key}: a buffer the transplant test has no rule to fill; add one to `bounds`")
    return ranges[leaf]


def drawn(key: str, shape: torch.Size, parameter: bool) -> torch.Tensor:
    """The float64 values of the model's tensor ``key``: a window of one random pool (fixed
    seed) starting where the key's CRC-32 says, scaled into ``bounds`` — the same for the
    same key wherever and however often it is asked for."""
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.long)
    if not _POOL:
        pool = torch.rand(POOL, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        _POOL.append(torch.cat([pool, pool]))
    low, high = bounds(key, shape, parameter)
    out, count, start, offset = torch.empty(math.prod(shape), dtype=torch.float64), math.prod(shape), 0, zlib.crc32(key.encode()) % POOL
    while start < count:
        length = min(POOL, count - start)
        out[start : start + length].copy_(_POOL[0][offset : offset + length])
        start, offset = start + length, (offset + length) % POOL
    return out.mul_(high - low).add_(low).view(shape)


class OnCall:
    """Each module's own parameters and buffers made (``drawn``) just before it runs and put
    back on meta right after. ``keys``: this model's state_dict key → the model's key, shape
    and whether it is a parameter (the spec-built model's keys map to the model's)."""

    def __init__(self, model: torch.nn.Module, keys: dict[str, tuple[str, torch.Size, bool]]):
        self.handles, self.made = [], 0
        for path, module in model.named_modules():
            qualified = {name: f"{path}.{name}" if path else name for name in self._own(module)}
            own = {name: keys[key] for name, key in qualified.items() if key in keys}
            if own:
                self.handles.append(module.register_forward_pre_hook(self._maker(own)))
                self.handles.append(module.register_forward_hook(self._dropper(list(own))))

    @staticmethod
    def _own(module) -> list[str]:
        return [n for n, t in (*module._parameters.items(), *module._buffers.items()) if t is not None]

    def _maker(self, own):
        def make(module, args):
            for name, (key, shape, parameter) in own.items():
                meta = getattr(module, name)
                value = drawn(key, shape, parameter).reshape(meta.shape)
                self.made += value.numel()
                if name in module._parameters:
                    module._parameters[name] = torch.nn.Parameter(value, requires_grad=False)
                else:
                    module._buffers[name] = value

        return make

    @staticmethod
    def _dropper(names):
        def drop(module, args, output):
            for name in names:
                table = module._parameters if name in module._parameters else module._buffers
                table[name] = table[name].to("meta")

        return drop

    def remove(self):
        for handle in self.handles:
            handle.remove()


def transplanted(name: str, tmp_path, planted: tuple[str, str] = ("", "")) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's and the spec-built model's outputs; ``planted``: (old, new) replaced in the
    imported spec's text first (``test_a_planted_bug_changes_the_outputs``)."""
    size = MODELS[name].standard if name in MODELS else (224, 224)
    model = build(name).eval()  # on meta
    imported = import_torch(model, (3, *size), f"torchvision:{name}")
    model = model.double()
    spec = tmp_path / f"{name}.yaml"
    assert planted[0] in imported.text, planted[0]
    spec.write_text(imported.text.replace(*planted, 1) if planted[0] else imported.text)
    network = load_network(spec)
    with torch.device("meta"):
        built = build_spec(network, analyse(network))
    built = built.full.double(), built.inference.double().eval()
    ours = {key: (key, t.shape, key in dict(model.named_parameters())) for key, t in model.state_dict().items()}
    target, state = built[0].state_dict(), dict(model.state_dict())
    for spec_key, model_key in imported.graph.renames.items():
        state[spec_key] = state.pop(model_key).reshape(target[spec_key].shape)
    mismatches = key_mismatches(target, state)
    assert not mismatches, f"{name}: the imported spec's and the model's state_dict keys differ:\n" + "\n".join(mismatches)
    theirs = {key: ours[imported.graph.renames.get(key, key)] for key in target}
    hooks = OnCall(model, ours), OnCall(built[1], theirs)
    x = torch.randn(1, 3, *small(name), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), FastGroupedConv():
        expected, got = _main(model(x)), _main(built[1](x))
    for hook in hooks:
        hook.remove()
    # a tensor no hook made stays on meta, and the forward pass that needs it fails: nothing is left unset silently
    assert hooks[0].made and hooks[1].made
    return expected, got


def _main(output):
    return output["out"] if isinstance(output, dict) else output


class FastGroupedConv(DepthwiseByTaps):
    """tests/test_transplant.py's depthwise-by-taps, and every other float64 grouped conv as
    one batched matrix product over the groups (``grouped_by_unfold``): PyTorch's float64
    CPU convolution runs one group at a time, and RegNet's many narrow groups then take
    tens of seconds a model. Both models go through it; ``test_grouped_by_unfold_is_conv2d``."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.conv2d or func is torch.conv2d:
            call = dict(zip(("input", "weight", "bias", "stride", "padding", "dilation", "groups"), args, strict=False)) | kwargs
            weight, padding = call["weight"], call.get("padding", 0)
            if call.get("groups", 1) > 1 and weight.dtype == torch.float64 and not isinstance(padding, str):
                self.replaced += 1
                return (depthwise_by_taps if weight.shape[1] == 1 else grouped_by_unfold)(**call)
        return func(*args, **kwargs)


def grouped_by_unfold(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002 (F.conv2d's names)
    """y[n, g, o, p] = Σ_{c,k} w[g, o, c·k] · unfold(x)[n, g, c·k, p]: im2col, then one
    product per group, batched."""
    n, channels, height, width = input.shape
    out_channels, per_group, kh, kw = weight.shape
    columns = F.unfold(input, (kh, kw), dilation=dilation, padding=padding, stride=stride)  # (n, C·kh·kw, L)
    columns = columns.view(n, groups, per_group * kh * kw, -1)
    out = torch.einsum("gok,ngkl->ngol", weight.reshape(groups, out_channels // groups, -1), columns)
    (sh, sw), (ph, pw), (dh, dw) = (_pair(v) for v in (stride, padding, dilation))
    ho, wo = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = out.reshape(n, out_channels, ho, wo)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


@pytest.mark.parametrize("name", sorted(cnn_builders()))
def test_the_models_weights_give_the_models_outputs(name, tmp_path):
    expected, got = transplanted(name, tmp_path)
    try:
        assert_same_function(expected, got)
    finally:
        del expected, got
        gc.collect()


# the test can fail: resnet18's imported spec with one bug planted, keys and shapes unchanged
MUTANTS = {
    "batch norm after the ReLU": (
        "      - bn: {name: bn1}\n      - relu: {name: relu}\n",
        "      - relu: {name: relu}\n      - bn: {name: bn1}\n",
    ),
    "residual sum dropped": ("add: {name: add, from: [bn2, input]}", "add: {name: add, from: [bn2, bn2]}"),
    "eps of a batch norm": ("      - bn: {name: bn2}\n", "      - bn: {name: bn2, eps: 0.001}\n"),
    "two convolutions' weights swapped": (
        "      - conv: {name: conv1, out: 64, kernel: 3, padding: 1, bias: false}\n      - bn: {name: bn1}\n"
        "      - relu: {name: relu}\n      - conv: {name: conv2, out: 64, kernel: 3, padding: 1, bias: false}\n",
        "      - conv: {name: conv2, out: 64, kernel: 3, padding: 1, bias: false}\n      - bn: {name: bn1}\n"
        "      - relu: {name: relu}\n      - conv: {name: conv1, out: 64, kernel: 3, padding: 1, bias: false}\n",
    ),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_a_planted_bug_changes_the_outputs(mutant, tmp_path):
    expected, got = transplanted("resnet18", tmp_path, MUTANTS[mutant])
    with pytest.raises(AssertionError, match="Tensor-likes are not close"):
        assert_same_function(expected, got)


def test_drawn_values_depend_on_the_key_only():
    """The two models ask for a key's values separately: they must get the same ones, and
    two keys different ones (a layer wired to another's weights would go unseen otherwise)."""
    shape = torch.Size([64, 32, 3, 3])
    first, again = drawn("layer1.0.conv1.weight", shape, True), drawn("layer1.0.conv1.weight", shape, True)
    other = drawn("layer1.0.conv2.weight", shape, True)
    assert torch.equal(first, again) and not torch.isclose(first, other).all()
    bound = (6 / (32 * 9)) ** 0.5
    assert -bound <= first.min() < first.max() <= bound and first.unique().numel() == first.numel()
    long = drawn("fc.weight", torch.Size([3, 400_000]), True).view(-1)  # longer than the pool: its period is the pool's
    assert torch.equal(long[:10], long[POOL : POOL + 10]) and not torch.equal(long[:10], long[400_000 : 400_000 + 10])


@pytest.mark.parametrize(
    ("channels", "groups", "out", "kernel", "stride", "padding", "dilation", "bias"),
    [
        (8, 2, 6, (3, 3), 1, 1, 1, True),
        (12, 3, 9, (5, 3), (2, 1), (2, 0), 1, False),
        (16, 4, 8, (3, 3), 2, 3, 2, True),
    ],
)
def test_grouped_by_unfold_is_conv2d(channels, groups, out, kernel, stride, padding, dilation, bias):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, channels, 13, 10, dtype=torch.float64, generator=generator)
    conv = torch.nn.Conv2d(channels, out, kernel, stride, padding, dilation, groups=groups, bias=bias).double()
    with torch.no_grad():
        expected = conv(x)
        with FastGroupedConv() as mode:
            got = conv(x)
    assert mode.replaced == 1
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
