"""`archcalc import` on timm's CNN families in general, not on a list tuned by hand.

One model per timm module (``timm.list_modules()``; the module's first model in
``timm.list_models(module=…)`` order), every module but ``NOT_CNN``: built on the meta
device (``pretrained=False``) and imported at its pretrained_cfg input size. Either the
spec's params, buffers (``num_batches_tracked`` excluded) and inference macs equal
``sum(p.numel())``, the running statistics and FlopCounterMode's total / 2, or the import
refuses with archcalc's listed error ("N operations archcalc cannot represent", each with
its module path: exit status 2 from the CLI) — never a skip, never a partial spec.

``NOT_CNN``, the rule: a module is left out when its models mix tokens with attention, an
MLP or a recurrence over tokens instead of convolutions — the vision transformers and their
hybrids with attention stages, the MLP-Mixers, Sequencer's LSTMs. It is checked against
timm's module list, so a renamed module cannot silently drop out, and a new timm module is
swept unless it is added here.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="archcalc import's PyTorch front end needs torch (optional extra)")
timm = pytest.importorskip("timm", reason="timm: references timm:NAME (the optional extra 'import')")

from archcalc.analysis import analyse, load_network  # noqa: E402
from archcalc.importers import default_input, import_torch  # noqa: E402
from archcalc.importers.ir import ModelImportError  # noqa: E402
from archcalc.importers.models import build, parse  # noqa: E402
from tests.test_import_torchvision import flops, torch_counts  # noqa: E402

NOT_CNN = frozenset(
    "beit byoanet cait coat convit crossvit csatv2 davit deepseek_vit deit edgenext efficientformer efficientformer_v2 "
    "efficientvim efficientvit_mit efficientvit_msra eva fastvit gcvit gemma4_vit hiera hieradet_sam2 iformer levit "
    "lowformer maxxvit metaformer mlp_mixer mobilevit mvitv2 naflexvit nest nextvit pit pvt_v2 qwen3_vit sequencer shvit "
    "swiftformer swin_transformer swin_transformer_v2 swin_transformer_v2_cr tiny_vit tnt twins visformer "
    "vision_transformer vision_transformer_hybrid vision_transformer_relpos vision_transformer_sam vitamin volo xcit".split()
)
MODULES = sorted(set(timm.list_modules()) - NOT_CNN)
#: the families whose first model archcalc refuses today, with what its list names first —
#: data, so that a family that imported exactly cannot start being refused unseen (a refusal
#: is a correct answer only where it is expected), and one that starts importing is noticed
REFUSED = {
    "byobnet": "adaptive_max_pool2d (bat_resnext26ts)",
    "cpubone": "group_norm",
    "focalnet": "an add of a tensor and a raw Tensor",
    "mambaout": "split on the last dim",
    "mobilenetv5": "pow",
    "nasnet": "F.pad with a constant on a pool",
    "pnasnet": "F.pad with a constant on a pool",
    "nfnet": "a tensor times a Parameter",
    "resnest": "Tensor.sum",
    "resnet": "reshape (C,) → (1, C) (ecaresnet26t)",
    "sknet": "torch.stack",
    "tresnet": "space-to-depth reshape",
    "vovnet": "reshape (C,) → (1, C) (eca)",
}


def test_the_rule_names_only_timms_modules():
    assert not NOT_CNN - set(timm.list_modules()), "NOT_CNN names modules timm no longer has"
    assert not set(REFUSED) - set(MODULES), "REFUSED names modules that are not swept"


@pytest.mark.parametrize("module", MODULES)
def test_a_cnn_family_imports_exactly_or_is_refused_with_the_list(module, tmp_path):
    name = timm.list_models(module=module)[0]
    ref = parse(f"timm:{name}")
    model = build(ref)  # on meta, eval mode
    size = default_input(ref, model)
    try:
        imported = import_torch(model, size, ref.text)
    except ModelImportError as error:
        message = str(error)
        assert module in REFUSED, f"{name}: refused, though its family imported exactly: {message}"
        assert "operations archcalc cannot represent" in message or "operation archcalc cannot represent" in message, message
        assert "\n  " in message, f"{name}: the refusal lists no operation: {message}"
        return
    assert module not in REFUSED, f"{name} now imports: take {module} out of REFUSED"
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(imported.text)
    analysis = analyse(load_network(spec))
    assert (analysis.totals.params, analysis.totals.buffers) == torch_counts(model), name
    assert 2 * analysis.inference_totals.macs == flops(model, size[1:]), name
