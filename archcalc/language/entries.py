"""One layer entry of a spec → the ordinary entries it stands for.

An entry may carry, besides its fields:

* ``for: "t, c, n, s in setting for i in range(n)"`` — the entry is written once per binding
  of the loop names (the clauses of a Python comprehension, nested left to right);
* ``if: stride == 1 and C_in == out`` — the entry exists only where the condition holds (an
  absent entry takes no name and no number);
* a ``name`` (and ``from:`` names) with placeholders, ``"denselayer{k}"``: only a bare name in
  braces, replaced by its value (an integer or a word) — nothing is evaluated there;
* an op kind that is an argument holding a word (``- act`` with ``act: hardswish``).

Every other field that is text is an expression when it parses and its names are known
(``out: C_in * t``); a bare unknown name is a word (``mode: bilinear``); text that does not
parse is left as written, for the op's own validation to judge.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archcalc.errors import SpecError
from archcalc.expressions import MAX_EXPRESSION_LENGTH, ExpressionError
from archcalc.language.evaluator import CONSTANTS, Evaluator, loop, parse_tree
from archcalc.language.values import describe, kind_of

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: a word: a name, or a dotted layer path (`bilinear`, `features.3`, `layer1.conv`)
WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


class EntryError(SpecError):
    """A field that does not evaluate; ``loc`` is where it is written (for its line)."""

    def __init__(self, message: str, loc: tuple):
        super().__init__(message, path=".".join(str(part) for part in loc))
        self.loc = loc


@dataclass(frozen=True)
class Instance:
    """One expanded entry: its fields evaluated, and the names its inline branches see."""

    raw: dict[str, Any]
    names: Mapping[str, Any]
    iteration: int  # which binding of the entry's `for` (0 without one)


def expand(normal: dict[str, Any], names: Mapping[str, Any], loc: tuple) -> list[Instance]:
    """``normal`` is a normalised entry (``{"kind": …, **fields}``)."""
    fields = dict(normal)
    loops, condition = fields.pop("for", None), fields.pop("if", None)
    at = loc + (normal["kind"],)  # the fields are written under the op's key: layers.3.conv.out
    bindings = [{}] if loops is None else _loops(loops, names, at + ("for",))
    instances = []
    for iteration, bound in enumerate(bindings):
        scope = ChainMap(bound, names) if bound else names
        if condition is not None and not _holds(condition, scope, at + ("if",)):
            continue
        instances.append(Instance(evaluate_fields(fields, scope, at), scope, iteration))
    return instances


def _loops(text: Any, names: Mapping, loc: tuple) -> list[dict]:
    if isinstance(text, list) and text and all(isinstance(part, str) for part in text):
        text = " for ".join(text)
    if not isinstance(text, str):
        raise EntryError(f"`for:` takes loops as text, `t, c, n, s in setting for i in range(n)`, found {describe(text)}", loc)
    try:
        return loop(text, names)
    except ExpressionError as error:
        raise EntryError(f"for: {error}", loc) from None


def _holds(condition: Any, names: Mapping, loc: tuple) -> bool:
    value = evaluate(condition, names, loc)
    if not isinstance(value, bool):
        raise EntryError(f"`if:` takes a condition such as `stride == 1`, found {kind_of(value)} {describe(value)}", loc)
    return value


def evaluate_fields(fields: dict[str, Any], names: Mapping, loc: tuple) -> dict[str, Any]:
    kind = fields["kind"]
    if isinstance(kind, str) and kind in names:  # an argument that names the op: `- act`
        kind = names[kind]
        if not isinstance(kind, str):
            raise EntryError(f"{fields['kind']!r} stands for an op, but holds {kind_of(kind)} {describe(kind)}", loc)
    out: dict[str, Any] = {"kind": kind}
    for key, value in fields.items():
        where = loc + (key,)
        if key == "name":
            out[key] = template(value, names, where)
        elif key == "from" and isinstance(value, list):
            out[key] = [template(item, names, where + (i,)) for i, item in enumerate(value)]
        elif key == "from":
            out[key] = template(value, names, where)
        elif key != "kind":
            out[key] = value if key == "branches" else evaluate(value, names, where)
    return out


def evaluate(value: Any, names: Mapping, loc: tuple) -> Any:
    """A field's value with its expressions computed (lists element by element)."""
    if isinstance(value, str):
        try:
            return evaluate_text(value, names)
        except ExpressionError as error:
            raise EntryError(str(error), loc) from None
    if isinstance(value, list):
        return [evaluate(item, names, loc + (i,)) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: evaluate(item, names, loc + (key,)) for key, item in value.items()}
    return value


def evaluate_text(text: str, names: Mapping) -> Any:
    """An expression's value; a word (a name or dotted path whose first name is unknown) stays
    a word; text that is no expression stays as written."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    stripped = text.strip()
    if WORD.match(stripped) and stripped.split(".")[0] not in names and stripped not in CONSTANTS:
        return text
    try:
        tree = parse_tree(text)
    except ExpressionError:
        return text
    return Evaluator(names, text).evaluate(tree)


def template(text: Any, names: Mapping, loc: tuple) -> Any:
    """``denselayer{k}`` → ``denselayer3``: each ``{name}`` replaced by an integer or a word."""
    if not isinstance(text, str) or ("{" not in text and "}" not in text):
        return text

    def value(match: re.Match) -> str:
        name = match.group(1).strip()
        if not IDENTIFIER.match(name):
            raise EntryError(f"name template {text!r}: only a name goes in braces ({{i}}), found {{{match.group(1)}}}", loc)
        if name not in names:
            raise EntryError(f"name template {text!r}: unknown name {name!r}", loc)
        found = names[name]
        if isinstance(found, bool) or not isinstance(found, (int, str)):
            raise EntryError(f"name template {text!r}: {name} is {kind_of(found)} {describe(found)}, not an integer or a word", loc)
        return str(found)

    result = PLACEHOLDER.sub(value, text)
    if "{" in result or "}" in result:
        raise EntryError(f"name template {text!r}: a brace without its pair", loc)
    return result
