"""Bring your own model: a PyTorch module or an ONNX file becomes an archcalc spec.

``import_model("torchvision:resnet50")`` gives the spec's text; ``spec_path(reference)``
gives a spec file for any command that reads one (imported once per process, into a
temporary folder archcalc removes at exit). torch, torchvision, timm and onnx are optional:
without them an import says in one line what to install.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archcalc.importers.ir import Graph, ModelImportError
from archcalc.importers.models import Reference, parse, parse_args
from archcalc.references import is_reference

__all__ = ["parse_shape", "Imported", "ModelImportError", "import_model", "import_torch", "is_reference", "parse_args", "spec_path"]


@dataclass
class Imported:
    text: str  # the spec
    graph: Graph
    reference: str


def import_model(
    reference: str, input_shape: tuple[int, ...] | None = None, args: dict[str, Any] | None = None, flat: bool = False
) -> Imported:
    ref = parse(reference, args)
    if ref.kind == "onnx":
        from archcalc.importers.onnx_front import import_onnx

        return import_onnx(ref, input_shape, flat)
    from archcalc.importers.models import build

    model = build(ref)
    return import_torch(model, input_shape or default_input(ref, model), ref.text, _source(ref), flat)


def import_torch(model, input_shape: tuple[int, ...], label: str, source: str | None = None, flat: bool = False) -> Imported:
    """A torch.nn.Module (on any device; it is not modified) as a spec."""
    from archcalc.importers.emit import spec_text
    from archcalc.importers.fx_front import import_module

    graph = import_module(model, tuple(input_shape), label)
    classes = {path: type(m).__name__ for path, m in model.named_modules() if path}
    notes = _renames_note(graph)
    text = spec_text(graph, f"{label} (imported)", source or label, classes, flat, notes)
    return Imported(text, graph, label)


def _renames_note(graph: Graph) -> str | None:
    notes = []
    if graph.tracer != "torch.fx":
        shape = ",".join(map(str, graph.input_shape))
        notes.append(f"Traced with {graph.tracer} (torch.fx could not): a branch on a shape in forward() is fixed as it ran at {shape}.")
    if graph.renames:
        pairs = ", ".join(f"{spec} = {model}" for spec, model in sorted(graph.renames.items()))
        notes.append(f"The model holds these tensors directly; the spec's layers hold them as: {pairs}")
    return " ".join(notes) or None


def _source(ref: Reference) -> str:
    from archcalc.importers.models import versions

    return f"{ref.text}, imported by archcalc import ({versions(ref)})"


def default_input(ref: Reference, model) -> tuple[int, ...]:
    """The model's own input size: timm's pretrained_cfg, torchvision's weights' crop size, else 3×224×224."""
    if ref.kind == "timm":
        size = (getattr(model, "pretrained_cfg", None) or {}).get("input_size")
        if size:
            return tuple(int(v) for v in size)
    if ref.kind == "torchvision":
        try:
            import torchvision

            weights = torchvision.models.get_model_weights(ref.target).DEFAULT
            crop = weights.transforms().crop_size
            return (3, int(crop[0]), int(crop[-1]))
        except (ValueError, AttributeError, KeyError, TypeError):
            pass
    return (3, 224, 224)


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    """--input 3,224,224 for tracing: whole numbers only (a traced run needs a real size)."""
    if text is None:
        return None
    try:
        shape = tuple(int(part) for part in text.replace(" ", "").strip("()[]").split(","))
    except ValueError:
        raise ModelImportError(f"--input {text!r}: expected C,H,W in whole numbers, e.g. 3,224,224 (tracing runs the model)") from None
    if len(shape) != 3 or min(shape) < 1:
        raise ModelImportError(f"--input {text!r}: expected three positive numbers C,H,W")
    return shape


_CACHE: dict[tuple, Path] = {}
_FOLDER: list[Path] = []


def spec_path(reference: str | Path) -> Path:
    """The spec file for ``reference``: the path itself for a spec, else the imported spec,
    written once per process into a temporary folder archcalc owns and removes at exit."""
    if not is_reference(str(reference)) or (Path(str(reference)).is_file() and not str(reference).lower().endswith(".onnx")):
        return Path(reference)
    key = (str(reference),)
    if key not in _CACHE:
        if not _FOLDER:
            _FOLDER.append(Path(tempfile.mkdtemp(prefix="archcalc-import-")))
            atexit.register(shutil.rmtree, _FOLDER[0], True)
        imported = import_model(str(reference))
        path = _FOLDER[0] / (_safe(str(reference)) + ".yaml")
        path.write_text(imported.text, encoding="utf-8")
        _CACHE[key] = path
        from archcalc.errors import SHOWN_AS

        SHOWN_AS.update({str(path): str(reference), str(path.resolve()): str(reference)})
    return _CACHE[key]


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(text).name if True)[:80] or "model"
