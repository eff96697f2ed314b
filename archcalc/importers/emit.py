"""The imported graph as a readable archcalc spec (YAML text).

Layers keep the model's module paths as names. A submodule becomes a block where that is
natural — its layers are contiguous, read one tensor from outside and hand one tensor
(its last layer's) back — and submodules whose bodies come out the same (same class, same
configuration) share one block definition, used once per instance. ``flat`` writes one list.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import yaml

from archcalc.importers.ir import INPUT, Graph, Layer

#: torch containers: their block is named after the module path, not the class
CONTAINERS = {"Sequential", "ModuleList", "ModuleDict"}


@dataclass
class _Plan:
    graph: Graph
    classes: dict[str, str]
    position: dict[str, int] = field(default_factory=dict)
    consumers: dict[str, set[str]] = field(default_factory=dict)
    blocked: dict[tuple, list[Layer]] = field(default_factory=dict)  # scope → its layers, in order
    blocks: dict[str, list] = field(default_factory=dict)  # block name → body
    block_of: dict[str, str] = field(default_factory=dict)  # body signature → block name


def _parts(name: str) -> tuple[str, ...]:
    return tuple(name.split("."))


def plan(graph: Graph, classes: dict[str, str], flat: bool) -> _Plan:
    p = _Plan(graph, classes)
    p.position = {layer.name: i for i, layer in enumerate(graph.layers)}
    for layer in graph.layers:
        for source in layer.inputs:
            p.consumers.setdefault(source, set()).add(layer.name)
    if flat:
        return p
    outputs = set(graph.outputs.values() if isinstance(graph.outputs, dict) else graph.outputs)
    scopes: dict[tuple, list[Layer]] = {}
    for layer in graph.layers:
        parts = _parts(layer.name)
        for depth in range(1, len(parts)):
            scopes.setdefault(parts[:depth], []).append(layer)
    for scope, layers in scopes.items():
        if _blockable(p, scope, layers, outputs):
            p.blocked[scope] = layers
    return p


def _blockable(p: _Plan, scope: tuple, layers: list[Layer], outputs: set[str]) -> bool:
    names = {layer.name for layer in layers}
    if ".".join(scope) in p.position:  # timm's BatchNormAct2d: layer `bn1` (its F.batch_norm) and `bn1.act` inside
        return False
    first, last = p.position[layers[0].name], p.position[layers[-1].name]
    if len(layers) < 2 or last - first + 1 != len(layers) or len({layer.training_only for layer in layers}) != 1:
        return False
    external = {s for layer in layers for s in layer.inputs if s not in names}
    exported = {n for n in names if (p.consumers.get(n, set()) - names) or n in outputs}
    return len(external) == 1 and exported <= {layers[-1].name}  # a training-only head may feed nothing


def _outermost(p: _Plan, scope: tuple, name: str) -> tuple | None:
    """The outermost block instance strictly inside ``scope`` that holds layer ``name``."""
    parts = _parts(name)
    for depth in range(len(scope) + 1, len(parts)):
        if parts[:depth] in p.blocked:
            return parts[:depth]
    return None


def _visible(p: _Plan, scope: tuple, name: str, block_input: str | None) -> str:
    if name == INPUT or name == block_input:
        return "input"
    holder = _outermost(p, scope, name)
    parts = holder if holder is not None else _parts(name)
    return ".".join(parts[len(scope) :])


def entries(p: _Plan, scope: tuple, layers: list[Layer], block_input: str | None, training: bool = False) -> list:
    """The spec entries of ``layers`` as seen from ``scope`` (a block's body when ``block_input``;
    ``training``: the body of a training-only instance, whose layers need no flag of their own)."""
    out, previous = [], block_input or INPUT
    for layer in layers:
        holder = _outermost(p, scope, layer.name)
        side = layer.training_only and not training  # a training-only side branch does not continue the chain
        if holder is None:
            out.append(_layer_entry(p, scope, layer, previous, block_input, training))
            previous = previous if side else layer.name
        elif p.blocked[holder][0] is layer:
            out.append(_instance_entry(p, scope, holder, previous, block_input, training))
            previous = previous if side else p.blocked[holder][-1].name
    return out


def _from(p: _Plan, scope: tuple, sources: list[str], previous: str, block_input: str | None, multi: bool):
    if not multi and sources == [previous]:
        return None
    names = [_visible(p, scope, s, block_input) for s in sources]
    return names[0] if len(names) == 1 else names


def _layer_entry(p: _Plan, scope: tuple, layer: Layer, previous: str, block_input: str | None, training: bool):
    body = {"name": ".".join(_parts(layer.name)[len(scope) :])}
    source = _from(p, scope, layer.inputs, previous, block_input, multi=len(layer.inputs) > 1)
    if source is not None:
        body["from"] = source
    if layer.training_only and not training:
        body["training_only"] = True
    body.update(_without_defaults(layer.kind, layer.fields))
    return {layer.kind: body}


def _without_defaults(kind: str, fields: dict) -> dict:
    """The fields that differ from the op's defaults (a readable spec says only what is special)."""
    from archcalc.ops import REGISTRY

    model_fields = REGISTRY[kind].model_fields
    out = {}
    for key, value in fields.items():
        default = model_fields[key].default if key in model_fields else object()
        if isinstance(default, tuple) and not isinstance(value, (list, tuple)):
            value_as = (value,) * len(default)
        else:
            value_as = tuple(value) if isinstance(value, list) else value
        if value_as != default:
            out[key] = value
    return out


def _instance_entry(p: _Plan, scope: tuple, holder: tuple, previous: str, block_input: str | None, training: bool):
    layers = p.blocked[holder]
    names = {layer.name for layer in layers}
    (external,) = {s for layer in layers for s in layer.inputs if s not in names}
    body = entries(p, holder, layers, external, training=layers[0].training_only)
    block = _block_name(p, holder, body)
    entry = {"name": ".".join(holder[len(scope) :])}
    source = _from(p, scope, [external], previous, block_input, multi=False)
    if source is not None:
        entry["from"] = source
    if layers[0].training_only and not training:
        entry["training_only"] = True
    return {block: entry}


def _block_name(p: _Plan, holder: tuple, body: list) -> str:
    signature = json.dumps(body, sort_keys=True, default=str)
    if signature in p.block_of:
        return p.block_of[signature]
    cls = p.classes.get(".".join(holder), "")
    if not cls or cls in CONTAINERS:
        base = next((part for part in reversed(holder) if not part.isdigit()), "block")
    else:
        base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls).lower()
    base = re.sub(r"\W", "_", base).strip("_") or "block"
    from archcalc.ops import REGISTRY

    name, number = (base + "_block" if base in REGISTRY else base), 1
    while name in p.blocks:
        number += 1
        name = f"{base}_{number}"
    p.blocks[name] = body
    p.block_of[signature] = name
    return name


def spec_text(graph: Graph, title: str, source: str, classes: dict[str, str], flat: bool = False, notes: str | None = None) -> str:
    p = plan(graph, classes, flat)
    layers = entries(p, (), graph.layers, None)
    doc: dict = {"name": title, "source": source}
    if notes:
        doc["notes"] = notes
    lines = [_dump(doc).rstrip(), _dump({"input": list(graph.input_shape)}, flow=True).strip().strip("{}")]
    if p.blocks:
        lines.append("blocks:")
        for name, body in p.blocks.items():
            lines.append(f"  {name}:")
            lines.append("    layers:")
            lines += [f"      - {_entry(e)}" for e in body]
    lines.append("layers:")
    lines += [f"  - {_entry(e)}" for e in layers]
    outputs = _outputs(p, graph, layers)
    if outputs is not None:
        lines.append("outputs: " + _dump(outputs, flow=True).strip())
    return "\n".join(lines) + "\n"


def _outputs(p: _Plan, graph: Graph, top: list):
    visible = {k: _visible(p, (), v, None) for k, v in graph.outputs.items()} if isinstance(graph.outputs, dict) else None
    if visible is not None:
        return visible
    names = [_visible(p, (), v, None) for v in graph.outputs]
    last = next(iter(top[-1].values()))["name"]
    return None if names == [last] else names


def _entry(entry: dict) -> str:
    ((kind, body),) = entry.items()
    return kind if not body else f"{kind}: {_dump(body, flow=True).strip()}"


def _dump(value, flow: bool = False) -> str:
    return yaml.safe_dump(value, default_flow_style=flow, sort_keys=False, width=10**6, allow_unicode=True)
