"""`archcalc import` from the command line, model references in every command, the
user's own factory (`package.module:callable --arg`), `--flat`, and the errors: every
unrepresentable operation listed at once (exit 2), a missing package in one line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch", reason="archcalc import's PyTorch front end needs torch (optional extra)")
torchvision = pytest.importorskip("torchvision", reason="torchvision: references torchvision:NAME (optional extra)")

from click.testing import CliRunner  # noqa: E402

from archcalc.cli import main  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

USER_MODELS = """
import torch
from torch import nn


def tiny(width=8):
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))


class Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3), nn.Softplus())

    def forward(self, x):
        x = torch.cos(self.conv(x))
        x = self.block(x)
        return torch.sin(x) + torch.sin(x)
"""


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    (tmp_path / "mymodels.py").write_text(textwrap.dedent(USER_MODELS))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def params_of(*args: str) -> int:
    result = invoke("report", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["totals"]["params"]


def test_import_writes_a_spec_that_every_command_reads(tmp_path):
    spec = tmp_path / "resnet18.yaml"
    result = invoke("import", "torchvision:resnet18", "-o", str(spec))
    assert result.exit_code == 0, result.output
    text = spec.read_text()
    assert "\n  basic_block:\n" in text and "- basic_block: {name: '0'}" in text  # BasicBlock once, used per instance
    assert "torchvision 0." in text and "source:" in text
    expected = sum(p.numel() for p in torchvision.models.resnet18().parameters())
    assert params_of(str(spec)) == expected
    assert params_of("torchvision:resnet18") == expected  # a model reference where a spec goes


def test_a_reference_in_compare_and_symbolic_input():
    result = invoke("compare", "torchvision:resnet18", str(ROOT / "specs" / "torchvision" / "resnet18.yaml"), "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["networks"]
    assert len(rows) == 2 and len({(row["params"], row["macs"]) for row in rows}) == 1  # imported = hand-written
    result = invoke("report", "torchvision:squeezenet1_1", "--input", "3,H,W", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "H" in str(json.loads(result.stdout)["totals"]["macs"])  # a formula: no size baked in


def test_a_users_factory_with_arguments_and_flat(user_models, tmp_path):
    spec = tmp_path / "tiny.yaml"
    result = invoke("import", "mymodels:tiny", "--arg", "width=4", "--input", "3,32,32", "--flat", "-o", str(spec))
    assert result.exit_code == 0, result.output
    assert "blocks:" not in spec.read_text()
    # conv 3→4, 3×3, bias: 3·4·9 + 4 = 112; linear 4→10: 4·10 + 10 = 50
    assert params_of(str(spec)) == 112 + 50


def test_every_unrepresentable_operation_is_listed_with_exit_2(user_models):
    result = invoke("import", "mymodels:Odd")
    assert result.exit_code == 2
    message = result.stderr
    assert "cannot represent" in message and "nothing was written" in message
    assert "(top level): function torch.cos" in message
    assert "block.1: module torch.nn.modules.activation.Softplus" in message
    assert "function torch.sin ×2" in message
    assert "needed:" in message and "Traceback" not in message


def test_without_torch_import_says_what_to_install():
    code = "import sys; sys.modules['torch'] = None; from archcalc.cli import main; main(['import', 'torchvision:resnet18'])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs torch: pip install 'archcalc[torch]'" in lines[0]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("torchvision:resnet51", "did you mean 'resnet50'"),
        ("mymodels:nothing", "mymodels has no attribute 'nothing'"),
        ("no_such_package_xyz:f", "cannot import no_such_package_xyz"),
        ("missing.onnx", "no such file"),
    ],
)
def test_a_bad_reference_is_one_line(user_models, reference, message):
    result = invoke("import", reference)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "reference", "message"),
    [
        (("report", "torchvision:nonexistent"), "torchvision:nonexistent", "torchvision has no model 'nonexistent'"),
        (("diagram", "torchvision:nonexistent", "-o", "x.svg"), "torchvision:nonexistent", "has no model"),
        (("compare", "mymodels:Odd", str(ROOT / "specs" / "alexnet.yaml")), "mymodels:Odd", "cannot represent"),
        # the import succeeds; the analysis of its spec fails: AlexNet's third max pool has a 1×1 map at 16×16
        (("report", "torchvision:alexnet", "--input", "3,16,16"), "torchvision:alexnet", "features.5 (maxpool): kernel 3"),
    ],
)
def test_an_on_the_fly_import_error_names_the_reference_typed(user_models, args, reference, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"archcalc: error: {reference}") and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "archcalc-import-" not in result.stderr and ".yaml" not in result.stderr.split(":")[2]
