"""benchmarks/gpu_check.sh, the prepared GPU proof (issue 18): its plan covers what the issue
lists, and its --dry-run runs end to end on the CPU, every skip said with its reason."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytest.importorskip("torch")


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_gpu_plan_covers_the_issues_matrix():
    plan = load_script().make_plan(dry_run=False)
    names = [step.name for step in plan.steps]
    for network in ("lenet5", "alexnet", "resnet50", "vgg16"):
        for batch in (1, 64):
            for dtype in ("float32", "float16", "bfloat16"):
                assert f"{network} b{batch} {dtype}" in names
    variants = {name for name in names if name.startswith("resnet50 ") and " b" not in name}
    assert {"resnet50 channels-last", "resnet50 compile", "resnet50 per-layer"} <= variants
    assert all(step.skipped is None for step in plan.steps)  # nothing is skipped on a GPU
    assert all(step.options.get("input_shape") is None for step in plan.steps)  # the specs' own sizes


def test_dry_run_runs_end_to_end_on_the_cpu(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    done = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["dry_run"] and "skipped" in report["cuda_tests"]
    steps = report["steps"]
    assert len(steps) == len(load_script().make_plan(dry_run=True).steps)
    ran = [s for s in steps if "result" in s]
    assert len(ran) >= 20 and all(s["result"]["checks_held"] and s["result"]["latency_ms"]["median"] > 0 for s in ran)
    skipped = {s["name"]: s["skipped"] for s in steps if "skipped" in s}
    assert "resnet50 compile" in skipped and all(reason for reason in skipped.values())
    assert not [s for s in steps if "error" in s]
    assert report["against_torchvision"]["ratio"] > 0
    assert (tmp_path / "gpu_check.log").read_text().count("\n") >= len(steps)
