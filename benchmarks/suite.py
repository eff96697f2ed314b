"""The speed figures of issue 16, each measured side by side with its floor or peer in one run.

    .venv/bin/python benchmarks/suite.py [--quick] [--only cold,symbolic,depth,peers]
                                         [--write benchmarks/results.md]

- cold: a cold numeric `archcalc report specs/resnet152.yaml` (a fresh process, imports
  included) against the floor `python -c "import pydantic, yaml, click"`, interleaved so
  both see the same load; medians, and their ratio (the goal: at most 0.15 s and 2× the floor).
- symbolic: per bundled spec, a cold `report --input 3,H,W` against the same spec's
  numeric report (goal: at most 2.5×).
- depth: analysis time and traced memory per layer from 1,000 to 100,000 layers of a
  written-out spec, and the YAML load alone (goal: a flat cost per layer, 100,000 layers
  in under 5 s).
- peers: torchinfo, fvcore and ptflops on ResNet-152 where they are installed (each in a
  fresh process, imports included, as a user runs them), against archcalc's cold report.

No figure here is asserted anywhere: shared machines are noisy, so the load average is
printed beside every table and the ratios (measured in one run) are what to compare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
FLOOR = [PYTHON, "-c", "import pydantic, yaml, click"]

PEERS = {
    "torchinfo": "import torchinfo, torchvision; torchinfo.summary(torchvision.models.resnet152(), (1, 3, 224, 224), verbose=0)",
    "fvcore": "import torch, torchvision; from fvcore.nn import FlopCountAnalysis; "
    "FlopCountAnalysis(torchvision.models.resnet152(), torch.zeros(1, 3, 224, 224)).total()",
    "ptflops": "import torchvision; from ptflops import get_model_complexity_info; "
    "get_model_complexity_info(torchvision.models.resnet152(), (3, 224, 224), print_per_layer_stat=False)",
}


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def interleaved(commands: dict[str, list[str]], repeats: int) -> dict[str, float]:
    """Median seconds of each command, run in turn so that all see the same machine load."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            samples[name].append(seconds(command))
    return {name: statistics.median(values) for name, values in samples.items()}


def load() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def report_command(spec: str, *options: str) -> list[str]:
    return [PYTHON, "-m", "archcalc", "report", spec, *options]


def cold(repeats: int) -> list[str]:
    medians = interleaved({"floor": FLOOR, "report": report_command("specs/resnet152.yaml")}, repeats)
    ratio = medians["report"] / medians["floor"]
    return [
        f"## Cold numeric report of ResNet-152 ({repeats} runs each, interleaved; {load()})",
        "",
        "| command | median | ratio to the floor |",
        "| --- | ---: | ---: |",
        f'| `python -c "import pydantic, yaml, click"` (floor) | {medians["floor"] * 1000:.0f} ms | 1.00 |',
        f"| `archcalc report specs/resnet152.yaml` | {medians['report'] * 1000:.0f} ms | {ratio:.2f} |",
    ]


def bundled_specs() -> list[Path]:
    return sorted(path.relative_to(ROOT) for path in (ROOT / "specs").rglob("*.yaml") if "claims" not in path.parts)


def symbolic(repeats: int, limit: int | None) -> list[str]:
    rows = ["| spec | numeric | symbolic | ratio |", "| --- | ---: | ---: | ---: |"]
    ratios = []
    for spec in bundled_specs()[:limit]:
        medians = interleaved({"numeric": report_command(str(spec)), "symbolic": report_command(str(spec), "--input", "3,H,W")}, repeats)
        ratio = medians["symbolic"] / medians["numeric"]
        ratios.append(ratio)
        rows.append(f"| `{spec}` | {medians['numeric'] * 1000:.0f} ms | {medians['symbolic'] * 1000:.0f} ms | {ratio:.2f} |")
    over = sum(ratio > 2.5 for ratio in ratios)
    head = [f"## Symbolic against numeric, cold, per spec ({repeats} runs each; {load()})", ""]
    tail = ["", f"{over} of {len(ratios)} specs above 2.5×; median ratio {statistics.median(ratios):.2f}, largest {max(ratios):.2f}."]
    return head + rows + tail


def chain_spec(layers: int) -> str:
    """conv → bn → relu triples on a 16×28×28 map, padded so the size never shrinks."""
    unit = ["  - conv: {out: 16, kernel: 3, padding: 1, bias: false}", "  - bn", "  - relu"]
    return "\n".join(["name: chain", "input: [16, 28, 28]", "layers:", *(unit[index % 3] for index in range(layers))]) + "\n"


def depth(depths: list[int]) -> list[str]:
    from archcalc.analysis import analyse_file
    from archcalc.spec import load_spec

    rows = [
        "| layers | load (YAML + validation) | whole analysis | µs per layer | KiB per layer (traced peak) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for count in depths:
            path = Path(tmp) / f"chain{count}.yaml"
            path.write_text(chain_spec(count))
            start = time.perf_counter()
            load_spec(path)
            loaded = time.perf_counter() - start
            start = time.perf_counter()
            analyse_file(path)
            whole = time.perf_counter() - start
            memory = "–"
            if count <= 10_000:  # tracing slows Python several-fold: measured in a second pass
                tracemalloc.start()
                analyse_file(path)
                memory = f"{tracemalloc.get_traced_memory()[1] / count / 1024:.1f}"
                tracemalloc.stop()
            rows.append(f"| {count:,} | {loaded:.2f} s | {whole:.2f} s | {whole / count * 1e6:.0f} | {memory} |")
    return [
        f"## Depth sweep, numeric analysis in one process ({load()})",
        "",
        *rows,
        "",
        "Memory is the peak traced by tracemalloc in a second, untimed pass (up to 10,000 layers).",
    ]


def peers(repeats: int) -> list[str]:
    commands = {"archcalc": report_command("specs/torchvision/resnet152.yaml")}
    missing = []
    for name, code in PEERS.items():
        if subprocess.run([PYTHON, "-c", f"import {name}"], capture_output=True).returncode == 0:
            commands[name] = [PYTHON, "-c", code]
        else:
            missing.append(name)
    medians = interleaved(commands, repeats)
    rows = ["| tool | median, cold | ratio to archcalc |", "| --- | ---: | ---: |"]
    rows += [f"| {name} | {value * 1000:.0f} ms | {value / medians['archcalc']:.1f} |" for name, value in medians.items()]
    note = [f"Not installed here (so not measured): {', '.join(missing)}."] if missing else []
    return [f"## ResNet-152 summary against the peers ({repeats} runs each; {load()})", "", *rows, "", *note]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, five specs, depths to 10,000")
    parser.add_argument("--only", default="cold,symbolic,depth,peers")
    parser.add_argument("--write", type=Path, help="also write the tables to this Markdown file")
    args = parser.parse_args()
    repeats = 3 if args.quick else 11
    depths = [1_000, 10_000] if args.quick else [1_000, 3_000, 10_000, 30_000, 100_000]
    sections = {
        "cold": lambda: cold(repeats),
        "symbolic": lambda: symbolic(1 if args.quick else 3, 5 if args.quick else None),
        "depth": lambda: depth(depths),
        "peers": lambda: peers(1 if args.quick else 5),
    }
    lines = [
        f"# archcalc speed (benchmarks/suite.py{' --quick' if args.quick else ''}), {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores",
        "",
    ]
    for name in args.only.split(","):
        lines += sections[name]() + [""]
    text = "\n".join(lines)
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
