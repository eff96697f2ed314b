"""Model references — ``torchvision:NAME``, ``timm:NAME``, ``package.module:callable``, a
``.onnx`` path — and building the model each names (on the meta device: shapes only).

A reference is recognised by its form alone, so a spec path is never mistaken for one: a
colon with a known prefix or a dotted module path before it, or a name ending in .onnx.
Arguments (``--arg key=value``) are YAML scalars (numbers, true/false, words), never code.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from archcalc.importers.ir import ModelImportError
from archcalc.references import CALLABLE as _CALLABLE


@dataclass(frozen=True)
class Reference:
    text: str
    kind: str  # torchvision, timm, callable, onnx
    target: str
    args: dict[str, Any] = field(default_factory=dict)


def parse(text: str, args: dict[str, Any] | None = None) -> Reference:
    text = str(text)
    if text.lower().endswith(".onnx"):
        return Reference(text, "onnx", text)
    prefix, _, target = text.partition(":")
    if prefix in ("torchvision", "timm") and target:
        return Reference(text, prefix, target, dict(args or {}))
    if _CALLABLE.match(text):
        return Reference(text, "callable", text, dict(args or {}))
    raise ModelImportError(f"{text!r}: expected torchvision:NAME, timm:NAME, package.module:callable or a path to a .onnx file")


def parse_args(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` pairs; each value read as a YAML scalar (2, 0.5, true, a word)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ModelImportError(f"--arg {pair!r}: expected key=value with a Python identifier as key")
        parsed = yaml.safe_load(value) if value else ""
        if not isinstance(parsed, (int, float, bool, str)) and parsed is not None:
            parsed = value
        out[key] = parsed
    return out


def need(package: str, extra: str = "torch") -> Any:
    """Import ``package`` or say in one line what to install."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise ModelImportError(f"archcalc import needs {package}: pip install 'archcalc[{extra}]' (or pip install {package})") from None


def build(ref: Reference):
    """The torch module ``ref`` names, on the meta device, in eval mode."""
    need("torch")
    from archcalc.importers.meta import on_meta

    try:
        with on_meta():
            model = _construct(ref)
    except ModelImportError:
        raise
    except Exception as error:  # noqa: BLE001 — the builder's own failure (on the meta device), in one line
        text = str(error).strip().splitlines()
        raise ModelImportError(f"{ref.text}: building the model fails: {text[0] if text else type(error).__name__}") from None
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ModelImportError(f"{ref.text}: expected a torch.nn.Module, found {type(model).__name__}")
    return model.eval()


def _construct(ref: Reference):
    if ref.kind == "torchvision":
        torchvision = need("torchvision")
        if ref.target not in torchvision.models.list_models():
            from archcalc.errors import suggest

            raise ModelImportError(
                f"{ref.text}: torchvision has no model {ref.target!r}{suggest(ref.target, torchvision.models.list_models())}"
            )
        kwargs = {"weights": None, **ref.args}
        if ref.target in torchvision.models.list_models(module=torchvision.models.segmentation):
            kwargs.setdefault("weights_backbone", None)
        return torchvision.models.get_model(ref.target, **kwargs)
    if ref.kind == "timm":
        timm = need("timm", extra="import")
        if not timm.is_model(ref.target):
            from archcalc.errors import suggest

            raise ModelImportError(f"{ref.text}: timm has no model {ref.target!r}{suggest(ref.target, timm.list_models())}")
        return timm.create_model(ref.target, pretrained=False, **ref.args)
    module_name, _, attribute = ref.target.partition(":")
    try:
        factory: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ModelImportError(f"{ref.text}: cannot import {module_name}: {error}") from None
    for part in attribute.split("."):
        if not hasattr(factory, part):
            raise ModelImportError(f"{ref.text}: {module_name} has no attribute {attribute!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise ModelImportError(f"{ref.text}: {attribute} is not callable")
    try:
        return factory(**ref.args)
    except TypeError as error:  # a wrong --arg: the factory's own words
        raise ModelImportError(f"{ref.text}: {error}") from None


def versions(ref: Reference) -> str:
    """The libraries the import read, with their versions (the spec's `source:`)."""
    names = {"torchvision": ["torch", "torchvision"], "timm": ["torch", "timm"], "callable": ["torch"], "onnx": ["onnx"]}[ref.kind]
    out = []
    for name in names:
        with contextlib.suppress(ImportError):
            out.append(f"{name} {importlib.import_module(name).__version__.split('+')[0]}")
    return ", ".join(out)
