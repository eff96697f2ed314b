"""The speed figures of issue 16, each measured side by side with its floor or peer in one run.

    .venv/bin/python benchmarks/suite.py [--quick] [--only cold,symbolic,peers,depth]
                                         [--write benchmarks/results.md]

- cold: a cold numeric `archcalc report specs/resnet152.yaml` (a fresh process, imports
  included) against the floor `python -c "import pydantic, yaml, click"`, interleaved so
  both see the same load; medians, and their ratio (the goal: at most 0.15 s and 2× the floor).
- symbolic: per bundled spec, a cold `report --input 3,H,W` against the same spec's
  numeric report (goal: at most 2.5×).
- depth: CPU time per phase (YAML + validation with archcalc's own loader, libyaml's
  CSafeLoader where installed; compile; analysis) and traced memory per layer from 1,000 to 100,000 layers
  of a written-out spec (goal: a flat cost per layer, 100,000 layers in under 5 s).
- peers: torchinfo, fvcore and ptflops on ResNet-152 where they are installed (each in a
  fresh process, imports included, as a user runs them; `pip install 'archcalc[bench]'`),
  against archcalc's cold report: wall, CPU and peak memory.

Processes are measured by their own rusage (wait4), so CPU times leave out the other
work of a loaded machine; wall times are given beside them.

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
#: what validating anything with pydantic adds to the floor: `import pydantic` alone loads none of
#: its model machinery (pydantic.main, its schema generator, the plugin loader's importlib.metadata)
ONE_MODEL = [PYTHON, "-c", "import pydantic, yaml, click\nclass A(pydantic.BaseModel):\n    x: int = 1\nA(x=2)"]
SYMPY = [PYTHON, "-c", "import sympy"]

PEERS = {
    "torchinfo": "import torchinfo, torchvision; torchinfo.summary(torchvision.models.resnet152(), (1, 3, 224, 224), verbose=0)",
    "fvcore": "import torch, torchvision; from fvcore.nn import FlopCountAnalysis; "
    "FlopCountAnalysis(torchvision.models.resnet152(), torch.zeros(1, 3, 224, 224)).total()",
    "ptflops": "import torchvision; from ptflops import get_model_complexity_info; "
    "get_model_complexity_info(torchvision.models.resnet152(), (3, 224, 224), print_per_layer_stat=False)",
}


def measured(command: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak resident MiB) of one fresh process: its own rusage,
    read by wait4, so the CPU time leaves out what other processes took of a loaded machine.
    The peak is at least this process's own peak (see main): measure before growing."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()[-500:]}")
    process.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # ru_maxrss: KiB on Linux


def interleaved(commands: dict[str, list[str]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of each command, run in turn so that all see the same load."""
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            samples[name].append(measured(command))
    return {name: (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)) for name, values in samples.items()}


def load() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def report_command(spec: str, *options: str) -> list[str]:
    return [PYTHON, "-m", "archcalc", "report", spec, *options]


def cold(repeats: int) -> list[str]:
    commands = {"floor": FLOOR, "one model": ONE_MODEL, "sympy": SYMPY, "report": report_command("specs/resnet152.yaml")}
    medians = interleaved(commands, repeats)
    (floor_wall, floor_cpu), (wall, cpu) = medians["floor"], medians["report"]
    (model_wall, model_cpu), (sympy_wall, sympy_cpu) = medians["one model"], medians["sympy"]
    return [
        f"## Cold numeric report of ResNet-152 ({repeats} runs each, interleaved; {load()})",
        "",
        "| command | wall, median | ratio to the floor | CPU, median | ratio to the floor |",
        "| --- | ---: | ---: | ---: | ---: |",
        f'| `python -c "import pydantic, yaml, click"` (floor) | {floor_wall * 1000:.0f} ms | 1.00 | {floor_cpu * 1000:.0f} ms | 1.00 |',
        f"| the floor, then one pydantic model defined and validated | {model_wall * 1000:.0f} ms | {model_wall / floor_wall:.2f} "
        f"| {model_cpu * 1000:.0f} ms | {model_cpu / floor_cpu:.2f} |",
        f"| `archcalc report specs/resnet152.yaml` | {wall * 1000:.0f} ms | {wall / floor_wall:.2f} "
        f"| {cpu * 1000:.0f} ms | {cpu / floor_cpu:.2f} |",
        f'| `python -c "import sympy"` (what a symbolic report adds at least) | {sympy_wall * 1000:.0f} ms '
        f"| {sympy_wall / floor_wall:.2f} | {sympy_cpu * 1000:.0f} ms | {sympy_cpu / floor_cpu:.2f} |",
        "",
        "CPU time is each process's own (wait4): on a loaded machine wall time adds other processes' turns; "
        "archcalc's bytecode is compiled first, as `pip install` does. "
        "`import pydantic` loads none of pydantic's model machinery; the second row is what validating "
        "anything with pydantic costs on top of the floor (its schema generator, and the plugin loader's "
        "importlib.metadata), so it bounds from below any report that validates its spec with pydantic.",
    ]


def bundled_specs() -> list[Path]:
    return sorted(path.relative_to(ROOT) for path in (ROOT / "specs").rglob("*.yaml") if "claims" not in path.parts)


def symbolic(repeats: int, limit: int | None) -> list[str]:
    rows = [
        "| spec | numeric, CPU | symbolic, CPU | ratio (CPU) | ratio (wall) | symbolic less `import sympy`, ratio (CPU) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    ratios, beyond = [], []
    for spec in bundled_specs()[:limit]:
        commands = {"numeric": report_command(str(spec)), "symbolic": report_command(str(spec), "--input", "3,H,W"), "sympy": SYMPY}
        medians = interleaved(commands, repeats)
        (numeric_wall, numeric), (symbolic_wall, symbolic_cpu) = medians["numeric"], medians["symbolic"]
        # what the symbolic report costs beyond importing sympy (measured beside it, in the
        # same turns), against the numeric report: the work archcalc can make cheaper
        beyond.append((symbolic_cpu - medians["sympy"][1]) / numeric)
        ratios.append(symbolic_cpu / numeric)
        rows.append(
            f"| `{spec}` | {numeric * 1000:.0f} ms | {symbolic_cpu * 1000:.0f} ms | {ratios[-1]:.2f} | {symbolic_wall / numeric_wall:.2f} "
            f"| {beyond[-1]:.2f} |"
        )
    head = [f"## Symbolic against numeric, cold, per spec ({repeats} runs each; {load()})", ""]
    tail = [
        "",
        f"{sum(r > 2.5 for r in ratios)} of {len(ratios)} specs above 2.5× (CPU); median ratio {statistics.median(ratios):.2f}, "
        f'largest {max(ratios):.2f}. Less the import of sympy (a fresh `python -c "import sympy"`, measured in the same '
        f"turns): {sum(r > 2.5 for r in beyond)} above 2.5×, median {statistics.median(beyond):.2f}, largest {max(beyond):.2f}.",
    ]
    return head + rows + tail


def chain_spec(layers: int) -> str:
    """conv → bn → relu triples on a 16×28×28 map, padded so the size never shrinks."""
    unit = ["  - conv: {out: 16, kernel: 3, padding: 1, bias: false}", "  - bn", "  - relu"]
    return "\n".join(["name: chain", "input: [16, 28, 28]", "layers:", *(unit[index % 3] for index in range(layers))]) + "\n"


def clocked(function, *args):
    """(result, CPU seconds, wall seconds): CPU time is what the work costs; wall time on a
    loaded machine adds what other processes took."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = function(*args)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def depth_row(path: Path, count: int, trace_memory: bool) -> str:
    from archcalc.analysis import analyse, load_network
    from archcalc.collector import paused
    from archcalc.spec import load_spec

    network, load_cpu, load_wall = clocked(load_network, path)
    _, yaml_cpu, _ = clocked(paused(load_spec), path)  # as load_network runs it
    _, analysis_cpu, analysis_wall = clocked(analyse, network)
    compile_cpu = load_cpu - yaml_cpu
    whole_cpu, whole_wall = load_cpu + analysis_cpu, load_wall + analysis_wall
    memory = "–"
    if trace_memory:  # tracing slows Python several-fold: a second, untimed pass
        tracemalloc.start()
        kept = analyse(load_network(path))
        memory = f"{tracemalloc.get_traced_memory()[1] / count / 1024:.1f}"
        tracemalloc.stop()
        del kept
    cells = [f"{count:,}", f"{yaml_cpu:.2f} s", f"{compile_cpu:.2f} s", f"{analysis_cpu:.2f} s"]
    cells += [f"**{whole_cpu:.2f} s** ({whole_wall:.1f} s)", f"{whole_cpu / count * 1e6:.0f}", memory]
    return "| " + " | ".join(cells) + " |"


def depth(depths: list[int], trace_up_to: int) -> list[str]:
    head = [
        "| layers | YAML + validation | compile | analysis | whole, CPU (wall) | µs per layer | KiB per layer |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for count in depths:
            path = Path(tmp) / f"chain{count}.yaml"
            path.write_text(chain_spec(count))
            # each depth in a fresh process, as a user runs one spec: no heap left by the others
            command = [PYTHON, __file__, "--depth-row", str(path), str(count), str(int(count <= trace_up_to))]
            rows.append(subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip())
    return [
        f"## Depth sweep: a written-out conv → bn → relu chain, numeric, a fresh process per depth ({load()})",
        "",
        *head,
        *rows,
        "",
        "CPU seconds (`time.process_time`) of each phase; the whole `load_network` + `analyse` also in wall "
        "seconds, which on a loaded machine include other processes' turns. YAML is read by archcalc's "
        "own loader (libyaml's CSafeLoader where installed, as here), nothing patched; 100,000 layers are "
        "a 2.3 MB file, inside archcalc's 8 MiB cap on what it reads. Memory: the peak traced by tracemalloc in a second, untimed pass "
        f"(up to {trace_up_to:,} layers), per layer.",
    ]


def peers(repeats: int) -> list[str]:
    commands = {"archcalc": report_command("specs/torchvision/resnet152.yaml")}
    missing = []
    for name, code in PEERS.items():
        if subprocess.run([PYTHON, "-c", f"import {name}"], capture_output=True).returncode == 0:
            commands[name] = [PYTHON, "-c", code]
        else:
            missing.append(name)
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    for _ in range(repeats):  # in turn, so that all see the same load
        for name, command in commands.items():
            samples[name].append(measured(command))
    medians = {name: [statistics.median(run[k] for run in runs) for k in range(3)] for name, runs in samples.items()}
    ours = medians["archcalc"]
    rows = [
        "| tool | wall, median | CPU, median | ratio to archcalc (CPU) | peak memory (RSS) | ratio to archcalc |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, (wall, cpu, rss) in medians.items():
        rows.append(
            f"| {name} | {wall * 1000:,.0f} ms | {cpu * 1000:,.0f} ms | {cpu / ours[1]:.1f} | {rss:,.0f} MiB | {rss / ours[2]:.1f} |"
        )
    note = [f"Not installed here (so not measured): {', '.join(missing)}."] if missing else []
    how = (
        "Each a fresh process, imports included, as a user runs it: `archcalc report specs/torchvision/resnet152.yaml`; "
        "torchinfo's `summary`, fvcore's `FlopCountAnalysis(...).total()` and ptflops' `get_model_complexity_info` "
        "on `torchvision.models.resnet152()` at 1×3×224×224. CPU time and peak memory are each process's own (wait4)."
    )
    return [f"## ResNet-152 summary against the peers ({repeats} runs each; {load()})", "", *rows, "", how, *note]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, five specs, depths to 10,000")
    # depth last: it grows this process, and a child's peak RSS (ru_maxrss) starts from its
    # parent's peak, since Linux carries the old memory's high-water mark across exec
    parser.add_argument("--only", default="cold,symbolic,peers,depth")
    parser.add_argument("--symbolic-runs", type=int, help="runs per spec of the symbolic table [3; --quick: 1]")
    parser.add_argument("--write", type=Path, help="also write the tables to this Markdown file")
    parser.add_argument("--depth-row", nargs=3, metavar=("SPEC", "LAYERS", "TRACE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.depth_row:  # one row of the depth sweep, in this fresh process
        path, count, trace = args.depth_row
        print(depth_row(Path(path), int(count), trace == "1"))
        return
    # bytecode, as `pip install` compiles it: with PYTHONDONTWRITEBYTECODE set (as on this
    # project's machines) every cold run would otherwise compile archcalc's sources (~30 ms)
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "archcalc")], check=True, stdout=subprocess.DEVNULL)
    repeats = 3 if args.quick else 11
    depths = [1_000, 10_000] if args.quick else [1_000, 3_000, 10_000, 30_000, 100_000]
    sections = {
        "cold": lambda: cold(repeats),
        "symbolic": lambda: symbolic(args.symbolic_runs or (1 if args.quick else 3), 5 if args.quick else None),
        "depth": lambda: depth(depths, 10_000 if args.quick else 30_000),
        "peers": lambda: peers(1 if args.quick else 3),
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
