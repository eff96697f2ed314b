"""The one prepared script that proves `archcalc run --device cuda` on a real GPU.

    python benchmarks/gpu_check.py --out DIR [--dry-run] [--budget-s 420]

On a GPU machine it prints the device and driver, runs the CUDA-only tests, then times the
matrix below with archcalc's own runner (the code path of `archcalc run`, in one process so
torch is imported once) and compares the spec-built ResNet-50 with torchvision's on the same
GPU. Every result goes into DIR/gpu_check.json (one file: the device tool brings back at most
eight), the log into DIR/gpu_check.log.

Matrix: LeNet-5, AlexNet, ResNet-50 (torchvision), VGG-16 and one network of the vocabulary
issue, at batch 1 and 64, in float32, float16 and bfloat16; for ResNet-50 also
--channels-last, --compile and --per-layer; --training for every network where `archcalc run`
has it. `--dry-run` runs the same plan on the CPU with tiny iteration counts, batch 2 for 64
and small inputs; the CUDA-only steps (the CUDA tests, --compile, the device comparison's CUDA
events) are skipped and each skip is written down — tests/test_gpu_check.py runs it in CI.

A step that fails is recorded with its error and the script goes on: one broken
configuration must not hide the others. Steps are ordered cheapest first and the script
stops starting new ones when --budget-s is spent, saying which it left out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: the network of the vocabulary issue: the first of these that exists is timed
VOCABULARY = ("specs/torchvision/efficientnet_b0.yaml", "specs/torchvision/mobilenet_v3_small.yaml", "specs/torchvision/convnext_tiny.yaml")
NETWORKS = {
    "lenet5": ("specs/lenet5.yaml", None),
    "alexnet": ("specs/alexnet.yaml", "3,67,67"),
    "resnet50": ("specs/torchvision/resnet50.yaml", "3,32,32"),
    "vgg16": ("specs/vgg16.yaml", "3,32,32"),
}
DTYPES = ("float32", "float16", "bfloat16")


@dataclass
class Step:
    name: str
    spec: str
    options: dict
    result: dict | None = None
    error: str | None = None
    skipped: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        out = {"name": self.name, "spec": self.spec, "options": self.options, "seconds": round(self.seconds, 2)}
        for key in ("result", "error", "skipped"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass
class Plan:
    dry_run: bool
    device: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def vocabulary_network() -> tuple[str, str] | None:
    for path in VOCABULARY:
        if (ROOT / path).is_file():
            return Path(path).stem, path
    return None


def run_has(option: str) -> bool:
    """Whether `archcalc run` offers an option (``--training`` lands with the training issue)."""
    from archcalc.cli import main

    return any(option in param.opts for param in main.commands["run"].params)


def make_plan(dry_run: bool) -> Plan:
    plan = Plan(dry_run, "cpu" if dry_run else "cuda")
    networks = dict(NETWORKS)
    vocab = vocabulary_network()
    if vocab:
        networks[vocab[0]] = (vocab[1], "3,64,64")
    else:
        plan.notes.append(f"no network of the vocabulary issue is bundled yet (looked for {', '.join(VOCABULARY)})")
    big = 2 if dry_run else 64
    timing = {"warmup": 0, "iters": 1} if dry_run else {"warmup": 10, "iters": None}
    for name, (spec, small_input) in networks.items():
        for batch in (1, big):
            for dtype in DTYPES:
                options = {"batch": batch, "dtype": dtype, **timing}
                if dry_run and small_input:
                    options["input_shape"] = small_input
                plan.steps.append(Step(f"{name} b{batch} {dtype}", spec, options))
    resnet = networks["resnet50"][0]
    base = {"batch": big, "dtype": "float16" if not dry_run else "float32", **timing}
    if dry_run:
        base["input_shape"] = networks["resnet50"][1]
    plan.steps.append(Step("resnet50 channels-last", resnet, {**base, "channels_last": True}))
    plan.steps.append(Step("resnet50 per-layer", resnet, {**base, "per_layer": True}))
    compiled = Step("resnet50 compile", resnet, {**base, "compile": True})
    if dry_run:
        compiled.skipped = "dry run: torch.compile is a CUDA step here (tests/test_torch_backend.py compiles on the CPU)"
    plan.steps.append(compiled)
    if run_has("--training"):
        for name, (spec, small_input) in networks.items():
            options = {"batch": big, "dtype": "float32", "training": True, **timing}
            if dry_run and small_input:
                options["input_shape"] = small_input
            plan.steps.append(Step(f"{name} training", spec, options))
    else:
        plan.notes.append("`archcalc run` has no --training yet: training steps left out")
    return plan


def execute(step: Step, device: str) -> None:
    from archcalc.torch_backend import render, runner

    started = time.perf_counter()
    try:
        options = runner.Options(device=device, min_time=0.5, **step.options)
        step.result = render.to_dict(runner.run(str(ROOT / step.spec), options))
    except Exception as error:  # recorded, not fatal: the other configurations still run
        step.error = f"{type(error).__name__}: {error}"
        if device == "cpu" and "not implemented for" in str(error):  # e.g. LRN's avg_pool3d has no CPU half kernel
            step.skipped, step.error = f"PyTorch has no CPU kernel for this: {error}", None
    step.seconds = time.perf_counter() - started


def device_info(dry_run: bool) -> dict:
    import torch

    info = {"python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__}
    info["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
        info["driver"] = _nvidia_smi()
    elif not dry_run:
        raise SystemExit("gpu_check: no CUDA device (torch.cuda.is_available() is false); use --dry-run on a CPU machine")
    return info


def _nvidia_smi() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return out.stdout.strip() or out.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"nvidia-smi failed: {error}"


def cuda_tests(dry_run: bool) -> dict:
    if dry_run:
        return {"skipped": "dry run: the CUDA-only tests need a GPU"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_torch_backend.py", "-k", "cuda"]
    started = time.perf_counter()
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    tail = (out.stdout + out.stderr).strip().splitlines()[-15:]
    return {
        "command": " ".join(command[2:]),
        "returncode": out.returncode,
        "tail": tail,
        "seconds": round(time.perf_counter() - started, 1),
    }


def against_torchvision(dry_run: bool) -> dict:
    """Spec-built ResNet-50 against torchvision's on the same device, timed alternately."""
    import torch
    import torchvision

    from archcalc.analysis import analyse, load_network
    from archcalc.torch_backend.build import build

    device = "cpu" if dry_run else "cuda"
    dtype = torch.float32 if dry_run else torch.float16
    batch, size, iters = (1, 32, 3) if dry_run else (64, 224, 50)
    network = load_network(ROOT / NETWORKS["resnet50"][0], f"3,{size},{size}")
    ours = build(network, analyse(network, batch=batch)).inference.to(device, dtype)
    theirs = torchvision.models.resnet50(weights=None).eval().to(device, dtype)
    example = torch.randn(batch, 3, size, size, device=device, dtype=dtype)
    with torch.no_grad():
        for model in (ours, theirs):
            for _ in range(1 if dry_run else 10):
                model(example)
        mine, ref = [], []
        for _ in range(iters):
            mine.append(_once(ours, example, device))
            ref.append(_once(theirs, example, device))
    ratio = statistics.median(mine) / statistics.median(ref)
    return {"device": device, "dtype": str(dtype), "batch": batch, "input": size, "iters": iters,
            "spec_ms": statistics.median(mine), "torchvision_ms": statistics.median(ref), "ratio": ratio}  # fmt: skip


def _once(model, example, device: str) -> float:
    import torch

    if device == "cpu":
        start = time.perf_counter()
        model(example)
        return (time.perf_counter() - start) * 1000
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record()
    model(example)
    end.record()
    torch.cuda.synchronize()
    return begin.elapsed_time(end)


def summary_lines(report: dict) -> list[str]:
    lines = [f"device: {report['info'].get('device', 'cpu (dry run)')}, torch {report['info']['torch']}"]
    for step in report["steps"]:
        if "skipped" in step:
            lines.append(f"  skip {step['name']}: {step['skipped']}")
        elif "error" in step:
            lines.append(f"  FAIL {step['name']}: {step['error']}")
        else:
            r = step["result"]
            latency, checks = r["latency_ms"] or {}, "checks held" if r["checks_held"] else "CHECKS FAILED"
            fraction = f", {r['peak_fraction']:.1%} of peak" if r.get("peak_fraction") else ""
            lines.append(
                f"  ok   {step['name']}: median {latency.get('median', 0):.3f} ms (p10 {latency.get('p10', 0):.3f}, "
                f"p90 {latency.get('p90', 0):.3f}), {r['throughput'] or 0:.1f}/s, {r['tflops'] or 0:.2f} TFLOP/s{fraction}; {checks}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check_out")))
    parser.add_argument("--dry-run", action="store_true", help="on the CPU, tiny iteration counts, CUDA steps skipped")
    parser.add_argument("--budget-s", type=float, default=420.0, help="start no new step after this many seconds")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict = {"dry_run": args.dry_run, "info": device_info(args.dry_run)}
    print(json.dumps(report["info"]), flush=True)
    report["cuda_tests"] = cuda_tests(args.dry_run)
    plan = make_plan(args.dry_run)
    report["notes"] = plan.notes
    for step in plan.steps:
        if step.skipped is None and time.perf_counter() - started > args.budget_s:
            step.skipped = f"time budget of {args.budget_s:.0f} s spent"
        if step.skipped is None:
            execute(step, plan.device)
        print(summary_lines({"info": report["info"], "steps": [step.to_dict()]})[-1], flush=True)
    report["steps"] = [step.to_dict() for step in plan.steps]
    try:
        report["against_torchvision"] = against_torchvision(args.dry_run)
    except Exception:
        report["against_torchvision"] = {"error": traceback.format_exc(limit=3)}
    report["seconds"] = round(time.perf_counter() - started, 1)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    tail = [f"against torchvision: {report['against_torchvision']}", *report["notes"]]
    (args.out / "gpu_check.log").write_text("\n".join(summary_lines(report) + tail) + "\n")
    print("\n".join(tail))
    failures = [s for s in report["steps"] if "error" in s or ("result" in s and not s["result"]["checks_held"])]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
