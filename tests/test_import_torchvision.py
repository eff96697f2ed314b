"""`archcalc import` on every torchvision CNN builder: the imported spec counts what PyTorch counts.

For every builder of tests/torchvision_zoo.py's ``cnn_builders()`` (classification and
segmentation; the transformers are not CNNs), built on the meta device (shapes, no storage)
and imported at one input size: at that size and at a second, non-square one (the spec is
re-analysed with ``--input``, so nothing the model computes from its input was baked in)
the spec's params equal ``sum(p.numel())``, its buffers the running statistics torch holds
(``num_batches_tracked`` excluded, archcalc's convention), and its inference macs
FlopCounterMode's total / 2 on the model in eval mode. Models with auxiliary heads
(GoogLeNet, Inception-v3) are imported with them: the heads become training-only layers,
whose macs the totals count as FlopCounterMode does in train mode (batch 2).

Where a builder cannot be imported, ``CANNOT_IMPORT`` holds the error it must give (none
at present): the test asserts that error, it does not skip.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="archcalc import's PyTorch front end needs torch (optional extra)")
pytest.importorskip("torchvision", reason="torchvision: references torchvision:NAME (optional extra)")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.analysis import analyse, load_network  # noqa: E402
from archcalc.importers import import_torch  # noqa: E402
from archcalc.importers.ir import ModelImportError  # noqa: E402
from tests.torchvision_zoo import MODELS, build, cnn_builders  # noqa: E402

torch.set_num_threads(2)

#: builder → the error its import must give (a regular expression); empty: every builder imports
CANNOT_IMPORT: dict[str, str] = {}


def sizes(name: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """The import size and a second, non-square one (the zoo's where it has them)."""
    if name in MODELS:
        return MODELS[name].standard, MODELS[name].other
    return (224, 224), (176, 208)


def flops(model: torch.nn.Module, size: tuple[int, int], train: bool = False) -> int:
    batch = 2 if train else 1  # train-mode batch norm needs two values per channel
    model.train(train)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(batch, 3, *size, device="meta"))
    model.eval()
    return counter.get_total_flops()


def torch_counts(model: torch.nn.Module) -> tuple[int, int]:
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for key, b in model.named_buffers() if not key.endswith("num_batches_tracked"))
    return params, buffers


def imported_spec(name: str, tmp_path):
    model = build(name)
    standard, _ = sizes(name)
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(import_torch(model, (3, *standard), f"torchvision:{name}").text)
    return model, spec


@pytest.mark.parametrize("name", sorted(cnn_builders()))
def test_imported_spec_counts_what_torch_counts(name, tmp_path):
    if name in CANNOT_IMPORT:
        with pytest.raises(ModelImportError, match=CANNOT_IMPORT[name]):
            imported_spec(name, tmp_path)
        return
    model, spec = imported_spec(name, tmp_path)
    params, buffers = torch_counts(model)
    for size in sizes(name):
        network = load_network(spec, f"3,{size[0]},{size[1]}")
        analysis = analyse(network)
        assert analysis.totals.params == params, f"{name} at {size}"
        assert analysis.totals.buffers == buffers, f"{name} at {size}"
        assert 2 * analysis.inference_totals.macs == flops(model, size), f"{name} at {size}"
        if any(layer.training_only for layer in analysis.layers):  # the auxiliary heads run in train mode
            assert 2 * analyse(network, batch=2).totals.macs == flops(model, size, train=True), f"{name} at {size}, train"
