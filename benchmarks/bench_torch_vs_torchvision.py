"""Is a spec-built network as fast as torchvision's hand-written one?

For ResNet-50, VGG-16 and GoogLeNet: build the spec with archcalc's torch backend and the
torchvision model (weights=None), both in eval mode under no_grad on the CPU, same batch,
same input; time them call by call alternately (so load on a shared machine hits both
alike) and print the ratio spec / torchvision of the medians, per repeat and its median
over repeats.
The target is a ratio ≤ 1.05. Refuses to compare two networks with different parameter
counts (that would not be the same network).

    python benchmarks/bench_torch_vs_torchvision.py [--resnet50 PATH] [--vgg16 PATH] [--googlenet PATH]
        [--batch N] [--repeats R] [--iters I] [--threads T] [--only NAME]

Spec paths default to specs/torchvision/<name>.yaml.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torchvision

from archcalc.analysis import analyse, load_network
from archcalc.torch_backend.build import build

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = {
    "resnet50": lambda: torchvision.models.resnet50(weights=None),
    "vgg16": lambda: torchvision.models.vgg16(weights=None),
    "googlenet": lambda: torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False),
}


def default_spec(name: str) -> Path:
    return ROOT / "specs" / "torchvision" / f"{name}.yaml"


def models(name: str, spec: Path, batch: int):
    network = load_network(spec)
    analysis = analyse(network, batch=batch)
    ours = build(network, analysis).inference
    theirs = NETWORKS[name]().eval()
    count = sum(p.numel() for p in theirs.parameters())
    if analysis.totals.params != count:
        raise SystemExit(f"{spec}: {analysis.totals.params:,} params, torchvision's {name} has {count:,}: not the same network")
    return ours, theirs, network.input_shape


def compare(name: str, spec: Path, batch: int, repeats: int, iters: int) -> list[float]:
    """Per repeat: ``iters`` calls of each model, alternating call by call, so that load
    from other processes on a shared machine falls on both alike; the ratio of medians."""
    ours, theirs, shape = models(name, spec, batch)
    example = torch.randn(batch, *shape)
    ratios = []
    with torch.no_grad():
        for model in (ours, theirs):  # warm-up
            for _ in range(3):
                model(example)
        for _ in range(repeats):
            mine, ref = [], []
            for _ in range(iters):
                mine.append(_time(ours, example))
                ref.append(_time(theirs, example))
            ratio = statistics.median(mine) / statistics.median(ref)
            ratios.append(ratio)
            print(
                f"  spec {statistics.median(mine):8.2f} ms, torchvision {statistics.median(ref):8.2f} ms (medians of {iters}), "
                f"ratio {ratio:.3f}",
                flush=True,
            )
    return ratios


def _time(model, example) -> float:
    start = time.perf_counter()
    model(example)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in NETWORKS:
        parser.add_argument(f"--{name}", type=Path, default=None, help=f"spec for {name} (default: {default_spec(name)})")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20, help="timed calls of each model per repeat")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--only", choices=list(NETWORKS), action="append", help="benchmark only these networks")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} CPU threads, batch {args.batch}")
    summary = {}
    for name in args.only or NETWORKS:
        spec = getattr(args, name) or default_spec(name)
        print(f"{name} ({spec.relative_to(ROOT) if spec.is_relative_to(ROOT) else spec})")
        summary[name] = statistics.median(compare(name, spec, args.batch, args.repeats, args.iters))
    print("\nmedian ratio spec / torchvision (target ≤ 1.05):")
    for name, ratio in summary.items():
        print(f"  {name:<10} {ratio:.3f}")


if __name__ == "__main__":
    main()
