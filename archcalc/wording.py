"""User values in messages, bounded: a message never carries the whole of a huge value.

``shown(value)`` is the ``repr`` a message quotes, cut to about ``LIMIT`` characters at a
bounded cost (a billion-laughs structure or a 5,000-digit integer is never written out in
full, not even in memory); ``clip(text)`` cuts any text the same way.
"""

from __future__ import annotations

import difflib
import reprlib
from fractions import Fraction

#: the most characters of one user value a message quotes
LIMIT = 200
#: an integer with more bits than this is described, not written out (Python refuses to turn
#: one of over 4,300 digits into text at all)
_LONG_INT_BITS = 600

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 3, 8, 8, 8, 8
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = LIMIT, LIMIT, LIMIT


def clip(text: str, limit: int = LIMIT) -> str:
    """``text`` itself, or its start and end around an ellipsis saying how much was left out."""
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 20)
    return f"{text[: keep * 3 // 4]}… ({len(text) - keep:,} characters left out) …{text[-(keep // 4) :]}"


def shown(value: object, limit: int = LIMIT) -> str:
    """The ``repr`` of a user value for a message, about ``limit`` characters at most."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int) and value.bit_length() > _LONG_INT_BITS:
        return f"an integer of about {digits(value):,} digits"
    if isinstance(value, Fraction):  # an exact value from an expression, as it reads: 9/2
        return clip(str(value), limit) if value.denominator.bit_length() + value.numerator.bit_length() < 2000 else "a huge fraction"
    if type(value).__module__.startswith("sympy"):
        return clip(str(value), limit)
    try:
        text = _REPR.repr(value)
    except (ValueError, RecursionError):  # an integer too long for text deep inside
        text = f"a {type(value).__name__} too large to show"
    return clip(text, limit)


def digits(value: int) -> int:
    """The number of decimal digits of ``value``, without writing it out (exact to ±1)."""
    return int(abs(value).bit_length() * 0.30103) + 1


__all__ = ["LIMIT", "clip", "digits", "shown"]


# --- pydantic's errors in archcalc's words ------------------------------------------------
#: how many problems one message lists (the rest are counted)
MAX_PROBLEMS = 3
#: the names pydantic puts in a location for a member of a union: not the user's keys
_TYPE_PARTS = {"int", "str", "float", "bool", "list", "dict", "tuple", "none", "constrained-int", "constrained-float", "constrained-str"}
_PLAIN = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "none_required": "nothing (null)",
}


def user_loc(loc: tuple) -> tuple:
    """``loc`` without pydantic's union-member names (``input.1.constrained-int`` → ``input.1``)."""
    return tuple(part for part in loc if not (isinstance(part, str) and (part in _TYPE_PARTS or "[" in part or "-" in part)))


def expected(item: dict) -> str | None:
    """What a pydantic error type expected, in archcalc's words; None: the message says it all."""
    kind, ctx = item["type"], item.get("ctx") or {}
    if kind in _PLAIN:
        return _PLAIN[kind]
    bounds = {
        "greater_than": "a number greater than {gt}",
        "greater_than_equal": "a number greater than or equal to {ge}",
        "less_than": "a number less than {lt}",
        "less_than_equal": "a number less than or equal to {le}",
        "too_short": "at least {min_length} item(s)",
        "too_long": "at most {max_length} item(s)",
        "literal_error": "one of {expected}",
        "enum": "one of {expected}",
        "string_pattern_mismatch": "text of the form {pattern}",
        "string_too_short": "text of at least {min_length} character(s)",
        "string_too_long": "text of at most {max_length} characters",
        "multiple_of": "a multiple of {multiple_of}",
    }
    if kind in bounds:
        return bounds[kind].format(**{key: clip(str(value), 120) for key, value in ctx.items()})
    return None


def _found(item: dict) -> str:
    ctx = item.get("ctx") or {}
    if item["type"] in ("too_short", "too_long") and "actual_length" in ctx:
        return f"{ctx['actual_length']}"
    return shown(item.get("input"))


def problem(item: dict, known: list[str] | None = None) -> str:
    """One pydantic error as archcalc says it: expected …, found …; or the validator's own words."""
    kind, loc = item["type"], user_loc(tuple(item["loc"]))
    field = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        return f"unknown field {clip(repr(field), 80)}{did_you_mean(field, known or [])}"
    if kind == "missing":
        return f"missing required field {field!r}"
    if kind == "union_tag_invalid":
        return f"unknown op {shown(item['input'])}"
    if kind in ("value_error", "assertion_error"):
        return clip(str((item.get("ctx") or {}).get("error", item["msg"])).removeprefix("Value error, "), 2 * LIMIT)
    words = expected(item)
    if words is None:
        words = clip(item["msg"], LIMIT).removeprefix("Input should be ").replace(" after validation", "")
    return f"expected {words}, found {_found(item)}"


def closest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, [c for c in choices if c != word], n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: list[str]) -> str:
    close = closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""


def ordered(errors: list[dict], known_of) -> list[tuple[tuple, str]]:
    """(location, message) for every problem worth saying, the user's own words first:

    * an unknown field leads, and a "missing" field it is a misspelling of is dropped (the
      user wrote `kernal`, so `kernel` is not missing but misspelt);
    * the members of a union failing at one place are one problem: the most telling (a
      bound such as "greater than 0" rather than "not text"), or "A or B" when all are types.
    """
    groups: dict[tuple, list[dict]] = {}
    for item in errors:
        groups.setdefault(user_loc(tuple(item["loc"])), []).append(item)
    unknown = {loc: closest(str(loc[-1]), known_of(loc)) for loc, items in groups.items() if loc and items[0]["type"] == "extra_forbidden"}
    misspelt = {loc[:-1] + (close,) for loc, close in unknown.items() if close}
    result = []
    for loc, items in groups.items():
        if loc in misspelt and all(item["type"] == "missing" for item in items):
            continue
        result.append((loc, _one(items, known_of(loc))))
    result.sort(key=lambda pair: 0 if pair[0] in unknown else 1)
    return _pairs_merged(result)


def _pairs_merged(listed: list[tuple[tuple, str]]) -> list[tuple[tuple, str]]:
    """``stride.0`` and ``stride.1`` with one message (``stride: two`` read as a pair) → ``stride``."""
    merged: list[tuple[tuple, str]] = []
    for loc, message in listed:
        if merged and loc and isinstance(loc[-1], int) and merged[-1][1] == message:
            last = merged[-1][0]
            if last[:-1] == loc[:-1] and isinstance(last[-1], int) or last == loc[:-1]:
                merged[-1] = (loc[:-1], message)
                continue
        merged.append((loc, message))
    return merged


def _one(items: list[dict], known: list[str]) -> str:
    if len(items) == 1:
        return problem(items[0], known)
    telling = [item for item in items if not item["type"].endswith("_type")]
    if telling:
        return problem(telling[0], known)
    words = " or ".join(dict.fromkeys(expected(item) or item["type"] for item in items))
    return f"expected {words}, found {_found(items[0])}"


def problems(error, prefix: tuple = (), known_of=lambda loc: []) -> str:
    """Every problem of a ValidationError (at most MAX_PROBLEMS, the rest counted), each
    ``path: message``, joined by "; "."""
    listed = ordered(error.errors(), known_of)
    return "; ".join(_listing([(prefix + loc, message) for loc, message in listed]))


def _listing(listed: list[tuple[tuple, str]]) -> list[str]:
    lines = [f"{'.'.join(map(str, loc))}: {message}" if loc else message for loc, message in listed[:MAX_PROBLEMS]]
    if len(listed) > MAX_PROBLEMS:
        more = len(listed) - MAX_PROBLEMS
        lines.append(f"and {more} more problem{'s' if more > 1 else ''}")
    return lines


def first_and_rest(error, prefix: tuple, known_of) -> tuple[tuple, str]:
    """The first problem's location, and a message: its words, then "; also PATH: …" for the others."""
    listed = [(prefix + loc, message) for loc, message in ordered(error.errors(), known_of)]
    (loc, message), rest = listed[0], listed[1:]
    if rest:
        message += "; also " + "; ".join(_listing(rest))
    return loc, message
