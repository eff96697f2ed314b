"""`archcalc import MODEL.onnx`: ONNX files exported by ``torch.onnx.export`` from ten
torchvision models (into tmp, at a small input), imported and counted.

The independent sources: the ONNX file's initializers (every element of them is a
parameter or buffer of some layer: their total equals the spec's params + buffers — the
exporter folds each batch norm into its conv, so the split differs from PyTorch's, the sum
of what the file holds does not), PyTorch's FlopCounterMode on the exported model (macs:
folding a batch norm changes no multiply-accumulate), and the file's output shape. Every
tensor is random before export (tests/test_transplant.py's ``fill``): the exporter merges
initializers that are equal, which untrained biases are.
"""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch", reason="the ONNX files are exported by torch.onnx.export (optional extra)")
onnx = pytest.importorskip("onnx", reason="archcalc import's ONNX front end needs onnx (the optional extra 'import')")

import numpy as np  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.analysis import analyse, load_network  # noqa: E402
from archcalc.importers import import_model  # noqa: E402
from archcalc.importers.ir import ModelImportError  # noqa: E402
from tests.test_transplant import fill  # noqa: E402
from tests.torchvision_zoo import build  # noqa: E402

MODELS = [
    "resnet18", "squeezenet1_1", "googlenet", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x0_5", "mnasnet0_5",
    "efficientnet_b0", "densenet121", "lraspp_mobilenet_v3_large",
]  # fmt: skip
SIZE = (64, 96)


def exported(name: str, tmp_path) -> tuple[torch.nn.Module, str]:
    model = build(name).to_empty(device="cpu")  # made on meta: no initialisation, then random
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, tensor in model.state_dict(keep_vars=True).items():
            fill(key, tensor, generator)
    model.eval()
    path = str(tmp_path / f"{name}.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, torch.randn(1, 3, *SIZE), path, dynamo=False, opset_version=17)
    return model, path


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """Each model exported once for this module's tests (an export takes seconds)."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = exported(name, tmp_path_factory.mktemp(name))
        return cache[name]

    return get


@pytest.mark.parametrize("name", MODELS)
def test_imported_onnx_counts_what_the_file_holds(name, tmp_path, export):
    model, path = export(name)
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(import_model(path).text)
    analysis = analyse(load_network(spec))
    graph = onnx.load(path).graph
    assert analysis.totals.params + analysis.totals.buffers == sum(int(np.prod(i.dims)) for i in graph.initializer)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, *SIZE))
    assert 2 * analysis.inference_totals.macs == counter.get_total_flops()
    (output,) = graph.output
    assert (1, *analysis.outputs[0].shape) == tuple(d.dim_value for d in output.type.tensor_type.shape.dim)


def test_an_unknown_onnx_node_is_a_listed_error(tmp_path):
    """Every node archcalc cannot represent, with its scope and count, in one error; nothing written."""

    class Odd(torch.nn.Module):
        def forward(self, x):
            return torch.cos(x) + torch.cos(x * 2.0).abs()

    path = str(tmp_path / "odd.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Odd(), torch.randn(1, 3, 8, 8), path, dynamo=False, opset_version=17)
    with pytest.raises(ModelImportError, match=r"(?s)ONNX Cos ×2.*ONNX Abs") as error:
        import_model(path)
    assert "cannot represent" in str(error.value)


#: onnxruntime against the spec-built module, float32 (every op kind of the ten above)
RUN = ["resnet18", "mobilenet_v3_small", "shufflenet_v2_x0_5", "googlenet", "lraspp_mobilenet_v3_large"]


@pytest.mark.parametrize("name", RUN)
def test_the_files_weights_give_onnxruntimes_outputs(name, tmp_path, export):
    """The spec-built module loaded with the file's initializers (by ``Graph.renames``: spec
    key → initializer) computes what onnxruntime computes from the file."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime runs the ONNX file (the optional extra 'import')")
    from onnx import numpy_helper

    from archcalc.torch_backend.build import build as build_spec

    _, path = export(name)
    imported = import_model(path)
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(imported.text)
    network = load_network(spec)
    with torch.device("meta"):
        built = build_spec(network, analyse(network))
    target = built.full.state_dict()
    arrays = {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
    state = {}
    for key, tensor in target.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros((), dtype=torch.long)
            continue
        assert key in imported.graph.renames, f"{name}: the spec's {key} has no initializer"
        value = torch.from_numpy(arrays[imported.graph.renames[key]].copy())
        state[key] = value if value.shape == tensor.shape else value.T  # MatMul holds Wᵀ
    built.full.load_state_dict(state, strict=True, assign=True)
    x = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        got = built.inference.eval()(x)
    got = got["out"] if isinstance(got, dict) else got
    scale = float(np.abs(expected).max())
    torch.testing.assert_close(got, torch.from_numpy(expected), rtol=1e-4, atol=1e-4 * scale)


def _exported_with_axes(name: str, tmp_path, dynamic: bool) -> tuple[torch.nn.Module, str]:
    model = build(name).to_empty(device="cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, tensor in model.state_dict(keep_vars=True).items():
            fill(key, tensor, generator)
    model.eval()
    path = str(tmp_path / f"{name}{'_dynamic' if dynamic else ''}.onnx")
    axes = {"x": {0: "N", 2: "H", 3: "W"}, "y": {0: "N"}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, torch.randn(1, 3, *SIZE), path, dynamo=False, opset_version=17, input_names=["x"], output_names=["y"], dynamic_axes=axes
        )
    return model, path


def test_input_reshapes_an_onnx_file_exported_with_dynamic_axes(tmp_path):
    """--input on a file whose N, H, W are symbolic: shape inference runs at the new size and
    the macs are FlopCounterMode's at that size (not at the exported one)."""
    model, path = _exported_with_axes("squeezenet1_1", tmp_path, dynamic=True)
    for size in ((80, 112), (100, 72)):
        spec = tmp_path / "squeezenet.yaml"
        spec.write_text(import_model(path, (3, *size)).text)
        analysis = analyse(load_network(spec))
        assert analysis.input_shape == (3, *size)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, 3, *size))
        assert 2 * analysis.inference_totals.macs == counter.get_total_flops()


def test_input_on_an_onnx_file_with_fixed_sizes_is_a_one_line_error(tmp_path):
    from click.testing import CliRunner

    from archcalc.cli import main

    _, path = _exported_with_axes("squeezenet1_1", tmp_path, dynamic=False)
    result = CliRunner().invoke(main, ["import", path, "--input", "3,80,112", "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "the file fixes its input's H = 64, W = 96" in lines[0] and "dynamic_axes" in lines[0], lines
    same = CliRunner().invoke(main, ["import", path, "--input", f"3,{SIZE[0]},{SIZE[1]}", "-o", str(tmp_path / "y.yaml")])
    assert same.exit_code == 0, same.output  # the file's own size is no change


def test_input_on_an_onnx_file_whose_input_is_not_a_map_is_an_error_not_ignored(tmp_path):
    """A file whose input is (N, 8) features, given --input 3,32,32: the size asked for could
    never be the one counted, so it is refused rather than dropped."""
    from click.testing import CliRunner
    from onnx import TensorProto, helper, numpy_helper

    from archcalc.cli import main

    weight = numpy_helper.from_array(torch.ones(4, 8).numpy(), "W")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)],
        "flat",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [weight],
    )
    path = tmp_path / "flat.onnx"
    onnx.save(helper.make_model(graph), str(path))
    result = CliRunner().invoke(main, ["import", str(path), "--input", "3,32,32", "-o", str(tmp_path / "f.yaml")])
    assert result.exit_code == 2, result.output
    assert "--input 3,32,32: expected one input of 4 dims (N, then these), found an input of 2 dims" in result.stderr, result.stderr
