"""Inputs accepted exactly where PyTorch accepts them (issue 10, item 6): ceil-mode pooling of
a map smaller than its window; a training-only branch that does not fit the input leaves the
inference network standing; and, for symbolic input, the smallest sizes the formulas hold for.
Expected values come from PyTorch itself (shapes and errors on the meta device, parameter
counts by sum(p.numel()), FlopCounterMode / 2) or from hand arithmetic written out here."""

from __future__ import annotations

import itertools
import json

import pytest

from archcalc.analysis import analyse, analyse_file, load_network
from tests.conftest import ROOT

torch = pytest.importorskip("torch", reason="the PyTorch comparisons need torch (pip install -e '.[torch]')")
models = pytest.importorskip("torchvision.models", reason="the torchvision comparisons need torchvision")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

TV = ROOT / "specs" / "torchvision"


def torch_accepts(model, size: int) -> bool:
    """PyTorch runs the model at size × size (a batch of 2: batch norm in training mode needs
    more than one value per channel, a limit of the batch, not of the size)."""
    try:
        with torch.no_grad():
            model(torch.zeros(2, 3, size, size, device="meta"))
        return True
    except (RuntimeError, ValueError):
        return False


def on_meta(build, **kwargs):
    with torch.device("meta"):
        return build(weights=None, init_weights=False, **kwargs)


# --- ceil-mode pooling ----------------------------------------------------------------------
CEIL = [(k, s, p, n) for k, s, p, n in itertools.product((2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2, 3, 4)) if 2 * p <= k]


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_ceil_mode_pooling_of_a_map_smaller_than_its_window(write_spec, kind):
    for kernel, stride, padding, size in CEIL:
        pool = torch.nn.MaxPool2d if kind == "maxpool" else torch.nn.AvgPool2d
        try:
            expected = pool(kernel, stride, padding, ceil_mode=True)(torch.zeros(1, 1, size, size)).shape[-2:]
        except RuntimeError:
            expected = None
        fields = f"{{kernel: {kernel}, stride: {stride}, padding: {padding}, ceil_mode: true}}"
        spec = write_spec(f"name: t\ninput: [1, {size}, {size}]\nlayers:\n  - {kind}: {fields}\n")
        try:
            found = analyse_file(spec).layers[0].output_shape[1:]
        except Exception as error:  # noqa: BLE001 — compared with PyTorch's refusal below
            found, message = None, str(error)
        assert found == (tuple(expected) if expected is not None else None), (kernel, stride, padding, size)
        if found is None:
            assert "even in ceil mode: expected at least" in message


def test_googlenet_runs_the_small_inputs_torch_runs():
    model = on_meta(models.googlenet, aux_logits=True).eval()
    for size in (15, 16, 20, 24, 30):
        assert torch_accepts(model, size)
        analysis = analyse_file(TV / "googlenet.yaml", f"3,{size},{size}")
        assert analysis.inference_totals.params == sum(p.numel() for name, p in model.named_parameters() if not name.startswith("aux"))


# --- a training-only branch that does not fit ---------------------------------------------
def test_inception_v3_at_224_is_its_inference_network_without_the_aux_head(cli):
    model = on_meta(models.inception_v3, aux_logits=True).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 224, 224, device="meta"))
    network = load_network(TV / "inception_v3.yaml", "3,224,224")
    analysis = analyse(network)
    assert list(network.invalid) == ["AuxLogits.conv1.conv"] and not any(name.startswith("AuxLogits") for name in network.layers)
    inference = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("AuxLogits"))
    assert analysis.inference_totals.params == inference and analysis.inference_totals.macs == counter.get_total_flops() // 2
    report = json.loads(cli("report", TV / "inception_v3.yaml", "--input", "3,224,224", "--format", "json").output)
    assert report["totals"] is None and report["inference_totals"]["params"] == inference
    assert (
        report["invalid_training"][0]["layer"] == "AuxLogits.conv1.conv"
        and "larger than the padded input" in report["invalid_training"][0]["reason"]
    )
    table = cli("report", TV / "inception_v3.yaml", "--input", "3,224,224").output
    assert "training-only branch invalid at this input, left out" in table and "AuxLogits" not in table.split("Total")[0]
    training = cli("report", TV / "inception_v3.yaml", "--input", "3,224,224", "--training")
    assert training.exit_code == 2 and "no training step at this input" in training.output
    compared = json.loads(cli("compare", TV / "inception_v3.yaml", "--input", "3,224,224", "--format", "json").output)
    assert compared["networks"][0]["params_training"] is None and compared["networks"][0]["params"] == inference


def test_explaining_a_layer_of_the_left_out_branch_says_why(cli):
    for name in ("AuxLogits", "AuxLogits.conv0.conv"):
        result = cli("explain", TV / "inception_v3.yaml", name, "--input", "3,224,224")
        assert result.exit_code == 2
        assert f"{name!r} is in a training-only branch left out at this input: AuxLogits.conv1.conv" in result.output


def test_the_aux_head_stays_where_it_fits():
    analysis = analyse_file(TV / "inception_v3.yaml")  # its own 299×299
    model = on_meta(models.inception_v3, aux_logits=True)
    assert not analysis.invalid_training and analysis.totals.params == sum(p.numel() for p in model.parameters())


def test_an_inference_layer_that_does_not_fit_is_still_an_error(cli):
    result = cli("report", TV / "inception_v3.yaml", "--input", "3,40,40")
    assert result.exit_code == 2 and "Conv2d" not in result.output and "larger than the padded input" in result.output


# --- valid_for --------------------------------------------------------------------------------
def test_lenet5_valid_for_by_hand(cli):
    # C1 5×5 → H−4; S2 2×2/2 → ⌊(H−4)/2⌋; C3 5×5 → −4; S4 → ⌊…/2⌋; C5 5×5 needs that ≥ 5:
    # ⌊(⌊(H−4)/2⌋ − 4)/2⌋ ≥ 5  ⇔  ⌊(H−4)/2⌋ ≥ 14  ⇔  H ≥ 32 (LeNet-5's own 32×32)
    report = json.loads(cli("report", ROOT / "specs/lenet5.yaml", "--input", "1,H,W", "--format", "json").output)
    assert report["valid_for"] == {"H": 32, "W": 32}
    assert "valid_for" not in json.loads(cli("report", ROOT / "specs/lenet5.yaml", "--format", "json").output)
    assert "the formulas hold for H ≥ 32, W ≥ 32" in cli("report", ROOT / "specs/lenet5.yaml", "--input", "1,H,W").output


@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5, 64, 100, 8192, 8193, 16384])
def test_valid_for_a_single_window_is_its_kernel(analyse_text, kernel):
    # a k×k conv without padding needs H ≥ k (H − k + 1 ≥ 1) and a 1×3 one W ≥ 3, whatever the
    # search's steps: sizes 1, powers of two, both sides of one, and LARGE (2¹⁴) itself
    spec = f"name: t\ninput: [1, H, W]\nlayers:\n  - conv: {{out: 1, kernel: [{kernel}, 3]}}\n"
    assert analyse_text(spec).valid_for() == {"H": kernel, "W": 3}


def test_valid_for_past_the_largest_size_searched_is_none(analyse_text):
    spec = "name: t\ninput: [1, H, W]\nlayers:\n  - conv: {out: 1, kernel: [16385, 1]}\n"
    # W is searched with H held at LARGE, which this conv refuses too: no W helps either
    assert analyse_text(spec).valid_for() == {"H": None, "W": None}


@pytest.mark.parametrize("name, build", [("googlenet", models.googlenet), ("inception_v3", models.inception_v3)])
def test_valid_for_is_where_torch_starts_to_accept(name, build):
    analysis = analyse_file(TV / f"{name}.yaml", "3,S,S")
    smallest, training = analysis.valid_for()["S"], analysis.valid_for(training=True)["S"]
    model = on_meta(build, aux_logits=True)
    assert torch_accepts(model.eval(), smallest) and not torch_accepts(model.eval(), smallest - 1)
    assert torch_accepts(model.train(), training) and not torch_accepts(model.train(), training - 1)
