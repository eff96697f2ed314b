"""Measured timings saved by ``archcalc run --save``, read back for the report (and for any
other renderer, e.g. a diagram, that wants to show them). Plain data; no torch needed.

The file is the JSON document ``archcalc run --format json`` prints: ``format`` is
``archcalc-timings/1``; ``latency_ms`` holds ``median``, ``p10`` and ``p90`` of the whole
network; ``per_layer`` (present with ``--per-layer``) lists ``{"name", "ms", …}`` per layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from archcalc.errors import SpecError

TIMINGS_FORMAT = "archcalc-timings/1"


@dataclass(frozen=True)
class Timings:
    file: str
    name: str
    device: str
    device_name: str
    dtype: str
    batch: int
    latency_ms: dict[str, float]  # median, p10, p90
    layer_ms: dict[str, float]  # layer name → median ms (empty without --per-layer)

    def describe(self) -> str:
        median = self.latency_ms["median"]
        return f"measured on {self.device} ({self.device_name}), {self.dtype}, batch {self.batch}: median {median:.3f} ms ({self.file})"


def load_timings(path: str | Path) -> Timings:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise SpecError(f"cannot read timings: {error}", file=str(path)) from None
    if not isinstance(data, dict) or data.get("format") != TIMINGS_FORMAT:
        raise SpecError(f"expected a file saved by `archcalc run --save` (format {TIMINGS_FORMAT})", file=str(path))
    if not data.get("latency_ms"):
        raise SpecError("the run saved here has no timing (a check failed, so it was not timed)", file=str(path))
    return Timings(
        file=str(path),
        name=data["name"],
        device=data["device"],
        device_name=data["device_name"],
        dtype=data["dtype"],
        batch=data["batch"],
        latency_ms=data["latency_ms"],
        layer_ms={row["name"]: row["ms"] for row in data.get("per_layer", [])},
    )
