"""The names an expression sees: network arguments and `let`s, a block's arguments and
`let`s, and the shape of the block's input (C_in, H_in, W_in; F_in for a flat input).

Shape names are computed only when an expression uses them, so a block that never asks
for its input's shape may still take its input from a layer declared further down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from archcalc.errors import SpecError, suggest
from archcalc.expressions import ExpressionError
from archcalc.language.entries import evaluate_text
from archcalc.language.values import TYPES, check_type, describe, from_yaml, type_of_default

SHAPE_NAMES_3 = ("C_in", "H_in", "W_in")
SHAPE_NAMES_1 = ("F_in",)
SHAPE_NAMES = SHAPE_NAMES_3 + SHAPE_NAMES_1


class Env(Mapping):
    """Values, plus names computed on first use (the input's shape), over a parent's names."""

    def __init__(self, parent: Mapping[str, Any] | None = None):
        self.values: dict[str, Any] = {}
        self.lazy: dict[str, Callable[[], Any]] = {}
        self.parent: Mapping[str, Any] = parent if parent is not None else {}

    def __getitem__(self, key: str) -> Any:
        if key in self.values:
            return self.values[key]
        if key in self.lazy:
            self.values[key] = self.lazy[key]()
            return self.values[key]
        return self.parent[key]

    def __contains__(self, key: object) -> bool:
        return key in self.values or key in self.lazy or key in self.parent

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.values, *self.lazy, *self.parent]))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def value_of(raw: Any, names: Mapping[str, Any]) -> Any:
    """A YAML value as a language value: text evaluated (or kept as a word), lists item by item."""
    if isinstance(raw, str):
        return evaluate_text(raw, names)
    if isinstance(raw, list):
        return tuple(value_of(item, names) for item in raw)
    return from_yaml(raw)


def shape_names(shape: Callable[[], tuple], what: str) -> dict[str, Callable[[], Any]]:
    """C_in, H_in, W_in (or F_in) as lazy values of ``shape()``; the other rank's names explain."""

    def dimension(name: str):
        def compute():
            dims = shape()
            names = SHAPE_NAMES_3 if len(dims) == 3 else SHAPE_NAMES_1
            if name not in names:
                found = "a flat (F,) vector: use F_in" if len(dims) == 1 else "a (C, H, W) feature map: use C_in, H_in, W_in"
                raise ExpressionError(f"{name}: {what} is {found}")
            return dims[names.index(name)]

        return compute

    return {name: dimension(name) for name in SHAPE_NAMES}


def define(env: Env, lets: dict[str, Any], where: str) -> None:
    """`let:` names, each computed from the names before it."""
    for name, raw in lets.items():
        try:
            env.values[name] = value_of(raw, env)
        except ExpressionError as error:
            raise SpecError(f"let {name} ({where}): {error}") from None


def bind_arguments(env: Env, declared: dict[str, Any], given: dict[str, Any], block: str) -> None:
    """A block call's arguments into ``env``, checked against the declaration: a type word
    (``int``, ``number``, ``bool``, ``str``, ``list``) is required; a literal default gives
    the type (``1`` an integer, ``1.0`` a number, ``false`` true/false …); a default written
    as an expression (``out: C_in``) is computed in the block when the call leaves it out."""
    for key in given:
        if key not in declared:
            raise SpecError(f"block {block!r} has no argument {key!r}{suggest(key, declared)}")
    for key, default in declared.items():
        required = default if isinstance(default, str) and default in TYPES else None
        if key not in given and required:
            raise SpecError(f"block {block!r} needs argument {key!r} ({TYPES[required]})")
        try:
            if key in given:
                value = from_yaml(given[key])
                wanted = required or (None if isinstance(default, str) else type_of_default(from_yaml(default)))
            else:
                value, wanted = value_of(default, env), None
            env.values[key] = check_type(value, wanted) if wanted else value
        except ExpressionError as error:
            shown = f" = {describe(given[key])}" if key in given else ""
            raise SpecError(f"argument {key!r}{shown} of block {block!r}: {error}") from None
