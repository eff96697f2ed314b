"""Latency measurement, as torch.utils.benchmark users expect it.

Warm-up calls first (caches, cuDNN autotuning, torch.compile's first compile), then timed
iterations: wall-clock (``perf_counter``) around each call on CPU; a pair of CUDA events
per call on a GPU, read after one synchronisation at the end, so the host never stalls the
queue between iterations. Without ``iters``, enough iterations to fill ``min_time`` seconds
(estimated from the warm-up), at least ``MIN_ITERS``. Statistics are order statistics
(median, p10, p90), robust to the odd slow iteration on a shared machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from archcalc.torch_backend import require_torch
from archcalc.torch_backend.devices import Device

MIN_ITERS = 10
MAX_ITERS = 10_000


@dataclass(frozen=True)
class Timing:
    samples_ms: tuple[float, ...]
    warmup: int

    @property
    def median(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p10(self) -> float:
        return percentile(self.samples_ms, 10)

    @property
    def p90(self) -> float:
        return percentile(self.samples_ms, 90)

    def to_dict(self) -> dict[str, float]:
        return {"median": self.median, "p10": self.p10, "p90": self.p90}


def percentile(samples, q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def measure(
    fn: Callable[[], object],
    device: Device,
    warmup: int,
    iters: int | None,
    min_time: float = 1.0,
    on_start: Callable[[int, float], None] | None = None,
    on_step: Callable[[], None] | None = None,
) -> Timing:
    """Time ``fn()``. ``on_start(n, ms)`` is told the iteration count and the estimated time
    of one call (the fastest warm-up call: the first may include compilation); ``on_step``
    hears of each iteration done."""
    clock = _CudaClock(device) if device.is_cuda else _WallClock()
    warmup = max(warmup, 1)  # at least one untimed call, to estimate the iterations (and report it)
    (warm,) = clock.read([clock.time(fn) for _ in range(warmup)])
    per_call = max(min(warm), 1e-6)
    if iters is None:
        iters = max(MIN_ITERS, min(MAX_ITERS, math.ceil(min_time * 1000 / per_call)))
    if on_start:
        on_start(iters, per_call)
    marks = []
    for _ in range(iters):
        marks.append(clock.time(fn))
        if on_step:
            on_step()
    (samples,) = clock.read(marks)
    return Timing(tuple(samples), warmup)


class _WallClock:
    """Milliseconds between ``start()`` and ``stop()`` by the host's monotonic clock."""

    def start(self) -> float:
        return time.perf_counter()

    def stop(self, start: float) -> float:
        return (time.perf_counter() - start) * 1000

    def time(self, fn):
        mark = self.start()
        fn()
        return self.stop(mark)

    def read(self, *groups: list) -> list[list[float]]:
        """Each group of intervals in milliseconds."""
        return [list(marks) for marks in groups]


class _CudaClock(_WallClock):
    """A pair of CUDA events per interval, read only after one synchronisation."""

    def __init__(self, device: Device):
        self.torch = require_torch()
        self.device = self.torch.device(device.spec)

    def start(self):
        event = self.torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def stop(self, start):
        return start, self.start()

    def read(self, *groups: list) -> list[list[float]]:
        """Every group's event pairs, after a single synchronisation."""
        self.torch.cuda.synchronize(self.device)
        return [[start.elapsed_time(end) for start, end in marks] for marks in groups]


def per_layer(modules: dict, fn: Callable[[], object], device: Device, iters: int) -> dict[str, float]:
    """Each layer's median time (ms) over ``iters`` calls, from hooks around every layer
    (the hooks add a little overhead of their own; on a GPU, event pairs per layer, all read
    after one synchronisation at the end)."""
    clock = _CudaClock(device) if device.is_cuda else _WallClock()
    samples: dict[str, list] = {name: [] for name in modules}
    started: dict[str, object] = {}
    handles = []
    for name, layer in modules.items():
        handles.append(layer.register_forward_pre_hook(lambda module, inputs, name=name: started.__setitem__(name, clock.start())))
        handles.append(layer.register_forward_hook(lambda module, i, o, name=name: samples[name].append(clock.stop(started.pop(name)))))
    try:
        for _ in range(iters):
            fn()
    finally:
        for handle in handles:
            handle.remove()
    timed = {name: marks for name, marks in samples.items() if marks}
    # one synchronisation for every layer's event pairs, never one per layer
    return {name: percentile(ms, 50) for name, ms in zip(timed, clock.read(*timed.values()), strict=True)}
