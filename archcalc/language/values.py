"""The values of the spec language, and how YAML values become them.

A value is an int, an exact ``Fraction`` (decimal literals such as ``1.4`` are read as
7/5, never as binary floats), a sympy expression (a count in symbolic input sizes), a bool
(``true``/``false``; never a number), a word (a string such as ``HS`` or ``relu``), ``None``
(YAML ``null``), or a list of values (held as a tuple).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from archcalc.expressions import ExpressionError, is_symbolic, normalize

#: the longest list a value may be (a table, a range): the graph's own limit on layers
MAX_LIST = 100_000
#: a YAML float keeps its written value exactly only up to this many significant digits
MAX_DIGITS = 15

#: the type words a block argument may declare instead of a default (`args: {out: int}`)
TYPES = {
    "int": "an integer",
    "number": "a number",
    "bool": "true or false",
    "str": "a word",
    "list": "a list",
}


def from_yaml(value: Any) -> Any:
    """A value as YAML's safe loader gives it → a language value; strings stay text (they are
    expressions or words, which only an environment can tell apart)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str, Fraction)) or is_symbolic(value):
        return value
    if isinstance(value, float):
        return exact_float(value)
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_LIST:
            raise ExpressionError(f"a list longer than {MAX_LIST:,} items")
        return tuple(from_yaml(item) for item in value)
    raise ExpressionError(f"expected a number, true/false, a word, null or a list, found {describe(value)}")


def exact_float(value: float) -> Fraction:
    """The decimal a YAML float was written as: exact for up to 15 significant digits (the
    shortest text that reads back as the same double is then the text written). It stays a
    Fraction even when whole, so that `width_mult: 1.0` declares a number, not an integer."""
    if not math.isfinite(value):
        raise ExpressionError(f"expected a finite number, found {value}")
    text = repr(value)
    mantissa = text.lower().split("e")[0].replace("-", "").replace(".", "").lstrip("0")
    if len(mantissa) > MAX_DIGITS:
        raise ExpressionError(f"{text}: more than {MAX_DIGITS} significant digits cannot be read exactly from YAML; quote it")
    return Fraction(text)


def is_number(value: Any) -> bool:
    return (isinstance(value, (int, Fraction)) and not isinstance(value, bool)) or is_symbolic(value)


def kind_of(value: Any) -> str:
    """What a value is, in the words the errors use."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int) or (isinstance(value, Fraction) and value.denominator == 1):
        return "an integer"
    if isinstance(value, Fraction):
        return "a number"
    if is_symbolic(value):
        return "a symbolic size"
    if isinstance(value, str):
        return "a word"
    if value is None:
        return "null"
    if isinstance(value, tuple):
        return "a list"
    return type(value).__name__


def describe(value: Any) -> str:
    """A value as a person would write it in a spec: 7/5, true, 'HS', null, [1, 2]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (tuple, list)):
        items = ", ".join(describe(item) for item in value[:8])
        return f"[{items}{', …' if len(value) > 8 else ''}]"
    return str(value)


def check_type(value: Any, declared: str) -> Any:
    """``value`` as the declared type (an integral Fraction is an int); raises when it is not."""
    value = normalize(value) if isinstance(value, Fraction) else value
    ok = {
        "int": (isinstance(value, int) and not isinstance(value, bool)) or (is_symbolic(value) and value.is_integer is not False),
        "number": is_number(value),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "list": isinstance(value, tuple),
    }[declared]
    if not ok:
        raise ExpressionError(f"expected {TYPES[declared]}, found {kind_of(value)} {describe(value)}")
    return value


def type_of_default(value: Any) -> str | None:
    """The type a default value implies; None (a `null` default) accepts any value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, Fraction) or is_symbolic(value):
        return "number"
    if isinstance(value, tuple):
        return "list"
    return "str"
