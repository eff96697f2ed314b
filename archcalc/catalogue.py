"""`archcalc list`: every bundled network with its params, macs, input and source, as
``timm.list_models`` lists timm's. The networks are found on disk (archcalc.locate.bundled)
and each analysed at its own input; a spec that fails to analyse is listed with its error,
never left out."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from archcalc import tables, units
from archcalc.errors import ArchcalcError
from archcalc.expressions import to_json
from archcalc.locate import bundled
from archcalc.tables import Table, aligned, shorten

FORMATS = ("table", "json", "markdown")
SOURCE_WIDTH = 60  # the table's source column; JSON and Markdown keep it whole


def catalogue(pattern: str | None = None) -> list[dict[str, Any]]:
    """One entry per bundled network whose name matches ``pattern`` (a shell pattern such as
    ``resnet*`` or ``torchvision/*``), in name order."""
    from archcalc.analysis import analyse_file

    entries = []
    for name, path in bundled().items():
        if pattern and not fnmatch.fnmatch(name, pattern):
            continue
        try:
            analysis = analyse_file(path)
        except ArchcalcError as error:
            entries.append({"name": name, "file": str(path), "error": str(error)})
            continue
        totals = analysis.inference_totals
        entries.append({"name": name, "file": str(path), "network": analysis.name, "params": totals.params, "macs": totals.macs,
                        "input": analysis.input_shape, "source": analysis.source})  # fmt: skip
    return entries


def render(entries: list[dict[str, Any]], fmt: str, exact: bool = False) -> str:
    if fmt == "json":
        return json.dumps({"networks": [_plain(e) for e in entries]}, indent=2, ensure_ascii=False)
    width = SOURCE_WIDTH if fmt == "table" else None
    rows = [_cells(e, exact, width) for e in entries]
    grid = Table(["Name", "Network", "Params", "MACs", "Input", "Source"], rows, frozenset({2, 3}))
    note = f"{len(entries)} bundled networks; params and macs of the inference network at its own input (`archcalc report NAME`)"
    if fmt == "markdown":
        return "\n".join([*tables.markdown(grid), "", f"_{note}._", ""])
    return "\n".join([*aligned(grid), "", note])


def _cells(entry: dict[str, Any], exact: bool, width: int | None) -> list[str]:
    if "error" in entry:
        return [entry["name"], "error", "-", "-", "-", entry["error"]]
    source = entry["source"] or "-"
    return [entry["name"], entry["network"], units.count(entry["params"], exact), units.count(entry["macs"], exact),
            units.shape(entry["input"]), source if width is None else shorten(source, width, middle=False)]  # fmt: skip


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    for key in ("params", "macs"):
        if key in out:
            out[key] = to_json(out[key])
    if "input" in out:
        out["input"] = [to_json(d) for d in out["input"]]
    return out
