"""How fast is `archcalc report`? Two measurements, printed as medians and ratios.

1. Cold start: `python -m archcalc report` on a generated 150-layer network, in a fresh
   process each time (imports included) — the figure a user feels.
2. Growth: analysis time (load + compile + evaluate) at depths 50 … 1600; with linear
   growth, doubling the depth doubles the time (ratio ≈ 2) and time per layer is flat.

Run: .venv/bin/python benchmarks/bench_report.py   (no timed assertions: machines are noisy)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def chain_spec(layers: int) -> str:
    """conv → bn → relu triples on a 64×56×56 map, padded so the size never shrinks."""
    lines = ["name: chain", "input: [64, 56, 56]", "layers:"]
    for index in range(layers):
        kind = index % 3
        lines.append(["  - conv: {out: 64, kernel: 3, padding: 1, bias: false}", "  - bn", "  - relu"][kind])
    return "\n".join(lines) + "\n"


def median_seconds(action, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cold_start(path: Path, repeats: int = 7) -> float:
    command = [sys.executable, "-m", "archcalc", "report", str(path)]
    return median_seconds(lambda: subprocess.run(command, check=True, capture_output=True, cwd=ROOT), repeats)


def growth(folder: Path, depths: list[int], repeats: int = 5) -> list[tuple[int, float]]:
    from archcalc.analysis import analyse_file

    results = []
    for depth in depths:
        path = folder / f"chain{depth}.yaml"
        path.write_text(chain_spec(depth))
        analyse_file(path)  # warm the imports and caches
        results.append((depth, median_seconds(lambda p=path: analyse_file(p), repeats)))
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = folder / "chain150.yaml"
        spec.write_text(chain_spec(150))
        print(f"cold `archcalc report` on 150 layers: median {cold_start(spec) * 1000:.0f} ms over 7 runs")
        print("\n depth   median ms   µs/layer   ratio to previous depth")
        previous = None
        for depth, seconds in growth(folder, [50, 100, 200, 400, 800, 1600]):
            ratio = f"{seconds / previous:.2f}" if previous else "-"
            print(f"{depth:6d}   {seconds * 1000:9.1f}   {seconds / depth * 1e6:8.0f}   {ratio}")
            previous = seconds


if __name__ == "__main__":
    main()
