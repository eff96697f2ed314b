"""The functions an expression may call, each exact.

Numbers are ints and Fractions (sympy expressions where a symbolic size is involved and the
function has an exact symbolic form: min, max, floor, ceil, abs). Rounding follows Python,
NumPy and PyTorch: ``round`` takes a tie to the even neighbour (``round(2.5) == 2``), and so
does ``round_log``. Lists are tuples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archcalc.expressions import ExpressionError, is_symbolic, normalize, sp, vmax, vmin
from archcalc.language.values import MAX_LIST, describe, is_number, kind_of

#: the largest |k| round_log searches (a base just above 1 would otherwise take forever)
MAX_LOG = 4096


@dataclass(frozen=True)
class Function:
    call: Callable[..., Any]
    least: int  # positional arguments, at least
    most: int | None  # at most (None: any number)
    keywords: tuple[str, ...] = ()
    usage: str = ""


def number(value: Any, what: str) -> Any:
    if not is_number(value):
        raise ExpressionError(f"{what} expects a number, found {kind_of(value)} {describe(value)}")
    return value


def whole(value: Any, what: str) -> int:
    value = normalize(value) if isinstance(value, Fraction) else value
    if not isinstance(value, int) or isinstance(value, bool):
        raise ExpressionError(f"{what} expects an integer, found {kind_of(value)} {describe(value)}")
    return value


def concrete(value: Any, what: str) -> Fraction:
    """A number that is not symbolic (the rule has no exact symbolic form)."""
    number(value, what)
    if is_symbolic(value):
        raise ExpressionError(f"{what} needs a concrete number, found the symbolic {value}; give a concrete input size")
    return Fraction(value)


def listed(value: Any, what: str) -> tuple:
    if not isinstance(value, tuple):
        raise ExpressionError(f"{what} expects a list, found {kind_of(value)} {describe(value)}")
    return value


def bounded(items, what: str) -> tuple:
    if len(items) > MAX_LIST:
        raise ExpressionError(f"{what} would make a list longer than {MAX_LIST:,} items")
    return tuple(items)


# --- numbers -----------------------------------------------------------------------------
def _extremum(name: str, pick, symbolic):
    def call(*args):
        values = listed(args[0], name) if len(args) == 1 else args
        if not values:
            raise ExpressionError(f"{name}() of an empty list")
        values = [number(v, name) for v in values]
        return symbolic(*values) if any(is_symbolic(v) for v in values) else normalize(pick(values))

    return call


def _floor(x):
    number(x, "floor")
    return sp().floor(x) if is_symbolic(x) else math.floor(Fraction(x))


def _ceil(x):
    number(x, "ceil")
    return sp().ceiling(x) if is_symbolic(x) else math.ceil(Fraction(x))


def _round(x, ndigits=None):
    """Half to even, as Python's round (and NumPy's, and torch.round)."""
    x = concrete(x, "round")
    if ndigits is None:
        return round(x)
    return normalize(round(x, whole(ndigits, "round's ndigits")))


def _int(x):
    """Python's int(): towards zero (int(-2.5) == -2)."""
    return int(concrete(x, "int"))


def _abs(x):
    number(x, "abs")
    return sp().Abs(x) if is_symbolic(x) else normalize(abs(x))


def make_divisible(v, divisor, min_value=None):
    """torchvision's ``_make_divisible`` (from TensorFlow's MobileNet), exactly:
    new = max(min_value or divisor, int(v + divisor/2) // divisor · divisor), plus one more
    divisor when that rounds v down by more than 10 % (new < 0.9 · v)."""
    v = concrete(v, "make_divisible")
    divisor = whole(divisor, "make_divisible's divisor")
    if divisor <= 0:
        raise ExpressionError(f"make_divisible's divisor must be positive, found {divisor}")
    least = divisor if min_value is None else whole(min_value, "make_divisible's min_value")
    new = max(least, int(v + Fraction(divisor, 2)) // divisor * divisor)
    if new < Fraction(9, 10) * v:
        new += divisor
    return new


def round_log(x, base):
    """The integer k nearest log_base(x), ties to even, decided exactly: with k = ⌊log_base x⌋
    (base^k ≤ x < base^(k+1)), log_base x − k < 1/2 exactly when x² < base^(2k+1). This is
    what RegNet's np.round(np.log(u) / np.log(w_m)) computes, without the floating point."""
    x, base = concrete(x, "round_log"), concrete(base, "round_log's base")
    if x <= 0 or base <= 1:
        raise ExpressionError(f"round_log(x, base) needs x > 0 and base > 1, found x = {x}, base = {base}")
    guess = (math.log(x.numerator) - math.log(x.denominator)) / (math.log(base.numerator) - math.log(base.denominator))
    if not abs(guess) < MAX_LOG:
        raise ExpressionError(f"round_log: log_{base}({x}) is beyond ±{MAX_LOG}")
    k = math.floor(guess)  # a starting point only: the loops below decide k exactly
    for _ in range(64):
        if base**k > x:
            k -= 1
        elif base ** (k + 1) <= x:
            k += 1
        else:
            break
    square, middle = x * x, base ** (2 * k + 1)
    if square != middle:
        return k if square < middle else k + 1
    return k if k % 2 == 0 else k + 1


# --- lists -------------------------------------------------------------------------------
def _range(*args):
    bounds = [whole(a, "range") for a in args]
    if len(bounds) == 3 and bounds[2] == 0:
        raise ExpressionError("range() step must not be zero")
    return bounded(range(*bounds), "range")


def _enumerate(items, start=0):
    return bounded([(whole(start, "enumerate's start") + i, item) for i, item in enumerate(listed(items, "enumerate"))], "enumerate")


def _zip(*lists):
    """Python's zip: as long as the shortest list."""
    return tuple(zip(*(listed(items, "zip") for items in lists), strict=False))


def _len(items):
    return len(listed(items, "len"))


def _sum(items):
    values = [number(v, "sum") for v in listed(items, "sum")]
    if any(is_symbolic(v) for v in values):
        return sp().Add(*values)
    return normalize(sum(values, 0))


def runs(items):
    """The runs of equal neighbours as [value, length] pairs: runs([8, 8, 16]) = [[8, 2], [16, 1]]
    (RegNet's stages: the blocks of equal width)."""
    out: list[list] = []
    for item in listed(items, "runs"):
        if out and out[-1][0] == item:
            out[-1][1] += 1
        else:
            out.append([item, 1])
    return tuple(tuple(pair) for pair in out)


FUNCTIONS: dict[str, Function] = {
    "min": Function(_extremum("min", min, vmin), 1, None, usage="min(a, b, …) or min(list)"),
    "max": Function(_extremum("max", max, lambda *v: vmax(*v)), 1, None, usage="max(a, b, …) or max(list)"),
    "floor": Function(_floor, 1, 1),
    "ceil": Function(_ceil, 1, 1),
    "round": Function(_round, 1, 2, ("ndigits",), "round(x) or round(x, ndigits)"),
    "int": Function(_int, 1, 1),
    "abs": Function(_abs, 1, 1),
    "make_divisible": Function(make_divisible, 2, 3, ("min_value",), "make_divisible(v, divisor, min_value=None)"),
    "round_log": Function(round_log, 2, 2, usage="round_log(x, base)"),
    "range": Function(_range, 1, 3, usage="range(stop) or range(start, stop[, step])"),
    "enumerate": Function(_enumerate, 1, 2, ("start",), "enumerate(list, start=0)"),
    "zip": Function(_zip, 1, None),
    "len": Function(_len, 1, 1),
    "sum": Function(_sum, 1, 1),
    "runs": Function(runs, 1, 1),
}


def call(name: str, args: list, keywords: dict[str, Any]) -> Any:
    function = FUNCTIONS[name]
    usage = function.usage or f"{name}(x)"
    unknown = [key for key in keywords if key not in function.keywords]
    if unknown:
        raise ExpressionError(f"{name}() takes no argument {unknown[0]!r}: {usage}")
    given = len(args) + len(keywords)
    if len(args) < function.least or (function.most is not None and given > function.most):
        raise ExpressionError(f"{name}() takes {usage}, found {given} argument{'s' if given != 1 else ''}")
    return function.call(*args, **keywords)
