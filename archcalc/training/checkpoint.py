"""Activation checkpointing as a what-if (``--checkpoint BLOCK…``), modelled on
``torch.utils.checkpoint`` applied to each instance of the named blocks.

A checkpointed block keeps only its inputs for the backward pass; everything its layers would
have saved is dropped and recomputed, by running the block's forward again, when the backward
reaches it. It costs the block's forward multiply-adds once more, and while its backward runs
the recomputed tensors are held again (the peak's transient accounts for them).

A name may be a repeated block (``layer1``: each of its instances, one segment each), a block
kind (``bottleneck``: every instance of it) or one block instance or branch (``layer1.0``,
``conv2_x``: one segment), in that order of preference. A block inside another named one is
part of the outer block's segment.
"""

from __future__ import annotations

from collections.abc import Sequence

from archcalc.analysis import Analysis
from archcalc.errors import SpecError, suggest


def segments(analysis: Analysis, names: Sequence[str]) -> dict[str, list[str]]:
    """Each checkpointed block instance → its layers, in order."""
    chosen: list[str] = []
    for name in names:
        matched = _matches(analysis, name)
        if not matched:
            known = sorted(
                {*analysis.scopes, *(i.group for i in analysis.scopes.values() if i.group), *(i.kind for i in analysis.scopes.values())}
            )
            raise SpecError(f"--checkpoint: no block, repeated block or block kind {name!r} in {analysis.name}{suggest(name, known)}")
        chosen += [path for path in matched if path not in chosen]
    members = {path: [s.name for s in analysis.layers if path in s.scopes] for path in chosen}
    inner = {path for path in chosen for stats in analysis.layers if path in stats.scopes and _outer(stats.scopes, path, chosen)}
    return {path: layers for path, layers in members.items() if path not in inner and layers}


def _matches(analysis: Analysis, name: str) -> list[str]:
    """A repeated block's instances (``layer1`` → layer1.0, layer1.1, even where ``layer1`` is
    also the scope holding them), else every instance of a block kind, else the one scope."""
    tests = (lambda path, info: info.group == name, lambda path, info: info.kind == name != "branch", lambda path, info: path == name)
    for test in tests:
        matched = [path for path, info in analysis.scopes.items() if test(path, info)]
        if matched:
            return matched
    return []


def _outer(scopes: tuple[str, ...], path: str, chosen: list[str]) -> bool:
    """Is ``path`` nested in another chosen scope (one listed before it in ``scopes``)?"""
    return any(scope in chosen for scope in scopes[: scopes.index(path)])
