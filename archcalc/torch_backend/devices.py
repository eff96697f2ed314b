"""Devices: parse ``cpu`` / ``cuda`` / ``cuda:i``, refuse what this machine lacks, and the
peak throughput of the GPUs archcalc knows (to report the fraction of peak achieved).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archcalc.torch_backend import RunError, require_torch

DTYPES = ("float32", "float16", "bfloat16")

#: Dense peak TFLOP/s from NVIDIA's datasheets (no structured sparsity): "float32" is the
#: plain FP32 rate (CUDA cores), "float16"/"bfloat16" the tensor-core rate. Matched against
#: ``torch.cuda.get_device_name()``, most specific first. These are published specifications,
#: not derived numbers; a GPU not listed gets no fraction of peak.
PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H100 PCIe", {"float32": 51.0, "float16": 756.0, "bfloat16": 756.0}),  # H100 datasheet, PCIe
    ("H100", {"float32": 67.0, "float16": 989.0, "bfloat16": 989.0}),  # H100 datasheet, SXM
    ("H200", {"float32": 67.0, "float16": 989.0, "bfloat16": 989.0}),  # H200 datasheet, SXM
    ("A100", {"float32": 19.5, "float16": 312.0, "bfloat16": 312.0}),  # A100 datasheet
    ("V100", {"float32": 15.7, "float16": 125.0}),  # V100 datasheet, SXM2
    ("L4", {"float32": 30.3, "float16": 121.0, "bfloat16": 121.0}),  # L4 datasheet
    ("T4", {"float32": 8.1, "float16": 65.0}),  # T4 datasheet
)


@dataclass(frozen=True)
class Device:
    spec: str  # "cpu", "cuda:0"
    name: str  # what the hardware calls itself

    @property
    def is_cuda(self) -> bool:
        return self.spec.startswith("cuda")


def parse_device(text: str) -> Device:
    """``cpu``, ``cuda`` (the current GPU) or ``cuda:i``; a clear error where it does not exist."""
    torch = require_torch()
    match = re.fullmatch(r"(cpu|cuda)(?::(\d+))?", text.strip())
    if not match or (match.group(1) == "cpu" and match.group(2) is not None):
        raise RunError(f"--device: expected cpu, cuda or cuda:N, found {text!r}")
    if match.group(1) == "cpu":
        import platform

        return Device("cpu", platform.processor() or platform.machine() or "cpu")
    if not torch.cuda.is_available():
        raise RunError(f"--device {text}: no CUDA device is available (torch.cuda.is_available() is false)")
    count = torch.cuda.device_count()
    index = int(match.group(2)) if match.group(2) is not None else torch.cuda.current_device()
    if index >= count:
        raise RunError(f"--device {text}: expected an index below {count} (this machine has {count} CUDA device(s))")
    return Device(f"cuda:{index}", torch.cuda.get_device_name(index))


def peak_tflops(device: Device, dtype: str) -> float | None:
    if not device.is_cuda:
        return None
    for key, peaks in PEAK_TFLOPS:
        if key in device.name:
            return peaks.get(dtype)
    return None


def torch_dtype(name: str):
    if name not in DTYPES:
        raise RunError(f"--dtype: expected one of {', '.join(DTYPES)}, found {name!r}")
    return getattr(require_torch(), name)
