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


@pytest.mark.parametrize("name", MODELS)
def test_imported_onnx_counts_what_the_file_holds(name, tmp_path):
    model, path = exported(name, tmp_path)
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
