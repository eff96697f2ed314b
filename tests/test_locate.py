"""The zoo by name from anywhere (archcalc.locate), `archcalc list`, and the wheel shipping the specs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from archcalc.locate import bundled
from tests.conftest import ROOT

# sum(p.numel()) of torchvision's models (torchvision's own docs tables give the same)
RESNET50_PARAMS = 25_557_032
VGG16_PARAMS = 138_357_544
RESNET18_PARAMS = 11_689_512
MOBILENET_V2_PARAMS = 3_504_872  # torchvision's weights table: num_params of MobileNet_V2_Weights


def test_a_bundled_name_works_from_any_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert json.loads(cli("report", "resnet50", "--format", "json").output)["totals"]["params"] == RESNET50_PARAMS
    assert json.loads(cli("report", "torchvision/vgg16", "--format", "json").output)["totals"]["params"] == VGG16_PARAMS
    mobilenet = json.loads(cli("report", "torchvision/mobilenet_v2", "--format", "json").output)
    assert mobilenet["totals"]["params"] == MOBILENET_V2_PARAMS
    assert json.loads(cli("compare", "specs/vgg16.yaml", "--format", "json").output)["networks"][0]["params"] == VGG16_PARAMS
    result = cli("diagram", "vgg16", "-o", "v.dot")  # .dot: the drawing's source, no Graphviz needed
    assert result.exit_code == 0 and "stage1.conv2" in (tmp_path / "v.dot").read_text()


def test_a_path_that_exists_wins(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet50").write_text("name: my own\ninput: [4]\nlayers: [linear: {out: 2}]\n")
    data = json.loads(cli("report", "resnet50", "--format", "json").output)
    assert data["name"] == "my own" and data["totals"]["params"] == 4 * 2 + 2


def test_an_unknown_name_names_the_closest(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("report", "resnet5")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith("archcalc: error: resnet5: cannot read the file") and "resnet50" in result.output


def test_list_finds_every_spec_on_disk(cli):
    on_disk = {p.relative_to(ROOT / "specs").with_suffix("").as_posix() for p in (ROOT / "specs").rglob("*.yaml")}
    on_disk = {name for name in on_disk if not name.startswith("claims/")}
    assert set(bundled()) == on_disk  # nothing hard-coded: a spec added under specs/ is listed
    result = cli("list", "*alexnet", "--format", "json")  # a pattern: analysing the whole zoo takes seconds
    assert result.exit_code == 0, result.output
    networks = {n["name"]: n for n in json.loads(result.output)["networks"]}
    assert set(networks) == {name for name in on_disk if name.endswith("alexnet")}
    assert networks["alexnet"]["params"] == 60_965_224 and networks["alexnet"]["input"] == [3, 227, 227]
    table = cli("list", "resnet1*").output.splitlines()
    assert table[0].split()[:4] == ["Name", "Network", "Params", "MACs"] and table[2].startswith("resnet101")
    assert [line.split()[0] for line in table[2:5]] == ["resnet101", "resnet152", "resnet18"]
    assert "ResNet-18   11.7 M" in table[4]  # ResNet-18's 11,689,512 params
    assert cli("list", "alexnet", "--format", "markdown").output.startswith("| Name | Network | Params | MACs | Input | Source |")


def test_the_wheel_ships_the_zoo(tmp_path):
    """A wheel built from the checkout holds the specs as archcalc.zoo; installed elsewhere,
    a name works from any folder."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("archcalc", "specs"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist")], check=True)
    wheel = next((tmp_path / "dist").glob("*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--no-compile", "--target", str(tmp_path / "site"), str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    run = subprocess.run([sys.executable, "-m", "archcalc", "report", "torchvision/resnet18", "--format", "json"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(run.stdout)["totals"]["params"] == RESNET18_PARAMS
    assert (tmp_path / "site/archcalc/zoo/alexnet.yaml").is_file()
