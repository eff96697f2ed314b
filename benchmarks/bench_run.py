"""Where `archcalc run` spends its time, phase by phase, twice in one process.

    .venv/bin/python benchmarks/bench_run.py [SPEC] [--batch N] [--passes N]

The phases of ``archcalc.torch_backend.runner.run``, timed one by one as it runs them:
importing torch, loading and analysing the spec, building the fx module, moving it and the
example batch, the checks (one forward pass under FlopCounterMode with a hook per layer),
then plain forward passes (no grad) for comparison. The whole sequence runs twice in the
same process: the second run shows what is paid once per process (torch's import,
FlopCounterMode's first use, the first forward pass's allocator and kernel set-up) and
what every run pays. The checks' cost is also given in forward passes of the same model.

Nothing here is asserted: on a shared machine read the ratios, beside the load average.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def clock(samples: dict, name: str, function, *args):
    """Run ``function``; record (wall seconds, CPU seconds of every thread) under ``name``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    samples[name] = (time.perf_counter() - wall, time.process_time() - cpu)
    return result


def one_run(spec: str, batch: int, passes: int) -> dict[str, float]:
    """Seconds per phase of one run, in the order runner.run takes them."""
    import torch  # imported by main, timed there

    samples: dict[str, tuple[float, float]] = {}
    from archcalc.analysis import analyse, load_network
    from archcalc.torch_backend.build import build
    from archcalc.torch_backend.checks import run_checks
    from archcalc.torch_backend.devices import parse_device, torch_dtype
    from archcalc.torch_backend.runner import Options, _prepare

    network = clock(samples, "load + compile the spec", load_network, spec)
    analysis = clock(samples, "analyse", analyse, network, batch)
    built = clock(samples, "build the fx module", build, network, analysis)
    options = Options(batch=batch)
    example = clock(
        samples,
        "move to the device, make the batch",
        _prepare,
        built,
        network.input_shape,
        options,
        parse_device("cpu"),
        torch_dtype("float32"),
    )
    checks = clock(samples, "checks (one pass under FlopCounterMode, hooks)", run_checks, built, analysis, example)
    assert all(check.held for check in checks), [check for check in checks if not check.held]
    forwards: dict = {}
    with torch.no_grad():
        for index in range(passes):
            clock(forwards, index, built.inference, example)
    samples["first plain forward pass"] = forwards[0]
    later = [forwards[index] for index in range(1, passes)]
    samples[FORWARD] = tuple(statistics.median(value[k] for value in later) for k in (0, 1))
    return samples


FORWARD = "median plain forward pass (later ones)"
CHECKS = "checks (one pass under FlopCounterMode, hooks)"
#: FlopCounterMode's first and second use on a one-layer module, in a fresh process
START_UP = """
import time, torch
from torch.utils.flop_counter import FlopCounterMode
layer, x = torch.nn.Linear(4, 4), torch.zeros(1, 4)
for _ in range(2):
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad(), FlopCounterMode(display=False):
        layer(x)
    print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def flop_counter_start_up() -> list[tuple[float, float]]:
    out = subprocess.run([sys.executable, "-c", START_UP], capture_output=True, text=True, check=True).stdout
    return [tuple(float(value) for value in line.split()) for line in out.splitlines()]


RUN_ITERS = 5


def whole_runs(spec: str, batch: int, threads: int) -> list[tuple[float, float]]:
    from archcalc.torch_backend.runner import Options, run

    samples: dict = {}
    for index in range(2):
        result = clock(samples, index, run, spec, Options(batch=batch, warmup=1, iters=RUN_ITERS, threads=threads))
        assert result.held and len(result.timing.samples_ms) == RUN_ITERS
    return [samples[0], samples[1]]


def cell(sample: tuple[float, float]) -> str:
    return f"{sample[0] * 1000:,.0f} ms ({sample[1] * 1000:,.0f} ms)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="specs/torchvision/resnet18.yaml")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--passes", type=int, default=6, help="plain forward passes after the checks")
    parser.add_argument("--threads", type=int, default=1, help="torch's CPU threads (1: steadier on a loaded machine)")
    args = parser.parse_args()
    first: dict[str, tuple[float, float]] = {}
    torch = clock(first, "import torch", importlib.import_module, "torch")
    torch.set_num_threads(args.threads)
    first.update(one_run(args.spec, args.batch, args.passes))
    second = {"import torch": (0.0, 0.0), **one_run(args.spec, args.batch, args.passes)}
    counter = flop_counter_start_up()
    whole = whole_runs(args.spec, args.batch, args.threads)
    forward = second[FORWARD][1]
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"## `archcalc run {args.spec}` (batch {args.batch}, CPU, float32, {args.threads} thread), phase by phase")
    print()
    print(f"Load average {load} on {os.cpu_count()} cores. Wall time, and in brackets CPU time (what the work costs).")
    print()
    print("| phase | first run in the process | second run | second, in forward passes (CPU) |")
    print("| --- | ---: | ---: | ---: |")
    for name in first:
        print(f"| {name} | {cell(first[name])} | {cell(second[name])} | {second[name][1] / forward:.2f} |")
    print()
    print(
        f"Checks: {cell(first[CHECKS])} in the first run, {cell(second[CHECKS])} in the second, "
        f"{second[CHECKS][1] / forward:.1f} forward passes. FlopCounterMode's first use in a fresh process "
        f"(one-layer module, torch already imported): {cell(counter[0])}; its second: {cell(counter[1])}."
    )
    print("(The second run imports nothing: torch and archcalc's torch backend are already imported.)")
    print()
    print(
        f"`runner.run` itself (what `archcalc run --iters {RUN_ITERS} --warmup 1` does after its imports), "
        f"called twice more in this process: {cell(whole[0])}, then {cell(whole[1])}."
    )


if __name__ == "__main__":
    main()
