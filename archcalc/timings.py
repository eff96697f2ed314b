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
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, StrictStr, ValidationError

from archcalc.errors import SpecError
from archcalc.loading import read_text
from archcalc.wording import clip, problems

TIMINGS_FORMAT = "archcalc-timings/1"

#: a time in milliseconds as JSON writes it: a number (an int too), never text or a boolean
_Ms = Annotated[float, Field(strict=True, ge=0)]


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


class _Latency(BaseModel):
    median: _Ms
    p10: _Ms
    p90: _Ms


class _LayerRow(BaseModel):
    name: StrictStr
    ms: _Ms


class _Saved(BaseModel):
    """The fields read back; the rest of the saved run (checks, throughput …) is not needed."""

    name: StrictStr
    device: StrictStr
    device_name: StrictStr
    dtype: StrictStr
    batch: Annotated[StrictInt, Field(ge=1)]
    latency_ms: _Latency
    per_layer: list[_LayerRow] = []


def _not_finite(word: str):
    raise ValueError(f"{word} is not a time (a saved run's times are finite numbers)")


def load_timings(path: str | Path) -> Timings:
    text = read_text(path)  # a regular file of bounded size, UTF-8
    try:
        data = json.loads(text, parse_constant=_not_finite)
    except ValueError as error:
        raise SpecError(f"cannot read timings: {clip(str(error))}", file=str(path)) from None
    except RecursionError:
        raise SpecError("cannot read timings: the JSON nests too deeply", file=str(path)) from None
    if not isinstance(data, dict) or data.get("format") != TIMINGS_FORMAT:
        raise SpecError(f"expected a file saved by `archcalc run --save` (format {TIMINGS_FORMAT})", file=str(path))
    if not data.get("latency_ms"):
        raise SpecError("the run saved here has no timing (a check failed, so it was not timed)", file=str(path))
    try:
        saved = _Saved.model_validate(data)
    except ValidationError as error:
        raise SpecError(f"not a valid saved run: {problems(error)}", file=str(path)) from None
    return Timings(
        file=str(path),
        name=saved.name,
        device=saved.device,
        device_name=saved.device_name,
        dtype=saved.dtype,
        batch=saved.batch,
        latency_ms=saved.latency_ms.model_dump(),
        layer_ms={row.name: row.ms for row in saved.per_layer},
    )
