"""How fast is `archcalc import`? Two measurements, printed as medians and ratios.

1. ResNet-50: `import_model("torchvision:resnet50")` — build on the meta device, trace with
   torch.fx, shapes on meta, map, write the YAML — timed in a process where torch and
   torchvision are already imported (their own import time is not archcalc's; printed apart).
   The issue's target: under 2 s.
2. Growth: a chain of n residual blocks (conv–bn–relu–conv–bn–add–relu) for n = 25 … 400;
   with linear growth, doubling n doubles the time (ratio ≈ 2) and the time per layer is flat.

Run: .venv/bin/python benchmarks/bench_import.py   (no timed assertions: machines are noisy)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def median_seconds(action, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def chain(blocks: int):
    from torch import nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
            self.conv2, self.bn2 = nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)

    import torch

    with torch.device("meta"):  # shapes only, as archcalc builds torchvision's models
        return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), *[Residual() for _ in range(blocks)])


def main() -> None:
    start = time.perf_counter()
    import torch  # noqa: F401
    import torchvision  # noqa: F401

    print(f"import torch, torchvision: {time.perf_counter() - start:.2f} s (not archcalc's)")
    from archcalc.importers import import_model, import_torch

    import_model("torchvision:resnet18")  # warm: archcalc's own modules, torch.fx's first trace
    seconds = median_seconds(lambda: import_model("torchvision:resnet50"), 5)
    print(f"import torchvision:resnet50: {seconds:.3f} s (median of 5; target < 2 s)")
    print("growth (n residual blocks, 7 layers each):")
    previous = None
    for blocks in (25, 50, 100, 200, 400):
        model = chain(blocks)
        seconds = median_seconds(lambda model=model: import_torch(model, (3, 32, 32), "chain"), 3)
        ratio = f"  ×{seconds / previous:.2f} for ×2 blocks" if previous else ""
        print(f"  n = {blocks:3d}: {seconds:.3f} s, {1e3 * seconds / (7 * blocks):.2f} ms per layer{ratio}")
        previous = seconds


if __name__ == "__main__":
    main()
