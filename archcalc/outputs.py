"""A network's outputs: what each needs, and that no layer is left dangling.

A spec declares its outputs with ``outputs: [a, b]`` (labels are the names as written) or
``outputs: {out: a, aux: b}``; without it the output is the layer the top-level sequence
ends on. Every layer that is not training-only must reach an output: a layer that feeds
nothing the network returns (a squeeze-and-excitation gate left unconnected, a branch wired
to the wrong merge) is an error naming it, never a silently counted dead end.
"""

from __future__ import annotations

from collections.abc import Callable

from archcalc.dag import LayerGraph
from archcalc.errors import ArchcalcError, GraphError, suggest


class OutputError(GraphError):
    def __init__(self, message: str, loc: tuple):
        super().__init__(message, path=".".join(str(part) for part in loc))
        self.loc = loc


Written = list[str] | dict[str, str] | None


def declared(written: Written, last: str, lookup: Callable[[str], str | None], known: list[str]) -> dict[str, str]:
    """`outputs:` as label → layer (a list's labels are the names as written); without it,
    the layer the top-level sequence ends on."""
    if written is None:
        return {last: last}
    items = written.items() if isinstance(written, dict) else ((text, text) for text in written)
    result = {}
    for index, (label, text) in enumerate(items):
        found = lookup(text)
        if found is None:
            loc = ("outputs", label if isinstance(written, dict) else index)
            raise OutputError(f"`outputs: {text}` names no layer{suggest(text, known)}", loc)
        result[label] = found
    return result


def needed(graph: LayerGraph, layer: str, input_node: str) -> set[str]:
    """``layer`` and every layer it reads, directly or through others."""
    return (graph.ancestors(layer) | {layer}) - {input_node}


def training_only(order: list[str], layers: dict, input_node: str) -> dict[str, bool]:
    """A layer marked training-only, or one that reads a training-only layer (``order``: the
    graph's topological order)."""
    flags = {input_node: False}
    for name in order:
        if name != input_node:
            flags[name] = layers[name].training_only or any(flags[source] for source in layers[name].inputs)
    return flags


def check_reached(
    graph: LayerGraph,
    layers: dict,
    declared: dict[str, str],
    input_node: str,
    locate: Callable[[ArchcalcError, str], ArchcalcError],
    order: list[str],
) -> None:
    """Raise, located at the first such layer, when an inference layer reaches no output."""
    reached: set[str] = set()
    for layer in dict.fromkeys(declared.values()):
        reached |= needed(graph, layer, input_node)
    training = training_only(order, layers, input_node)
    dangling = [name for name in layers if name not in reached and not training[name]]
    if not dangling:
        return
    more = f" (and {len(dangling) - 1} more: {', '.join(dangling[1:4])}{' …' if len(dangling) > 4 else ''})" if len(dangling) > 1 else ""
    targets = ", ".join(declared)
    message = (
        f"layer {dangling[0]!r}{more} reaches no output of the network (outputs: {targets}): wire it in, "
        "mark it `training_only: true`, or list it in `outputs:`"
    )
    raise locate(GraphError(message), dangling[0])
