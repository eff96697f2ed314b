"""Exact arithmetic on counts that are either Python ints or sympy expressions.

Two jobs live here:

* ``parse``, the entry to the *safe* evaluator of the expressions users may write (block
  arguments such as ``2*width``, input sizes such as ``H``, conditions, function calls):
  Python's ``ast`` is used only as a parser and a whitelisting visitor computes
  (``archcalc.language.evaluator``) — nothing is ever ``eval``ed;
* helpers (``floordiv``, ``ceildiv``, ``vmax`` …) that stay in plain ints when every
  operand is numeric and switch to sympy only when a name is involved.

sympy is imported lazily: a numeric report never pays its ~0.4 s import.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from fractions import Fraction
from functools import cache, lru_cache
from typing import Any

Value = int | Fraction | Any  # Any: a sympy.Expr

MAX_EXPRESSION_LENGTH = 1000  # a list comprehension over a table fits; work is bounded apart


class ExpressionError(ValueError):
    """An expression that is malformed or uses something outside the whitelist."""


@cache
def sp():
    """The sympy module, imported on first use."""
    import sympy

    return sympy


@cache
def symbol(name: str):
    """Input-size names are positive integers, which lets sympy simplify floor()."""
    return sp().Symbol(name, integer=True, positive=True)


#: the exact numbers, told apart by their type alone: the check runs dozens of times per layer
_NUMBERS = frozenset({int, bool, Fraction})


def is_symbolic(value: Any) -> bool:
    """A sympy expression (anything with free symbols), as opposed to an exact number."""
    # the class's attribute, not the instance's: sympy computes ``free_symbols`` afresh on
    # every access (a walk of the whole tree), which made this check a tenth of a symbolic report
    return type(value) not in _NUMBERS and hasattr(type(value), "free_symbols")


def parse(text: str, names: Mapping[str, Value] | None = None, *, free_symbols: bool = False) -> Value:
    """Parse ``text`` as an expression of the spec language and return its exact value
    (the grammar and its functions: :mod:`archcalc.language.evaluator`).

    ``names`` binds identifiers to values; with ``free_symbols`` an unbound identifier
    becomes a positive-integer sympy symbol, otherwise it is an error.
    """
    from archcalc.language.evaluator import Evaluator, parse_tree

    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    evaluator = Evaluator(names if names is not None else {}, text, free_symbols=free_symbols)
    return evaluator.evaluate(parse_tree(text))


def names_in(text: str) -> set[str]:
    """The identifiers an expression mentions (empty when it does not parse)."""
    import ast

    from archcalc.language.evaluator import parse_tree

    try:
        tree = parse_tree(text)
    except ExpressionError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def normalize(value: Value) -> Value:
    """Integral Fractions become ints, so that counts stay ints wherever they can."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


def exact_div(a: Value, b: Value) -> Value:
    if type(a) is int and type(b) is int:  # the common case, without two Fractions and a division of them
        quotient, remainder = divmod(a, b)
        return quotient if remainder == 0 else Fraction(a, b)
    if is_symbolic(a) or is_symbolic(b):
        return sp().sympify(a) / sp().sympify(b)
    return normalize(Fraction(a) / Fraction(b))


def floordiv(a: Value, b: Value) -> Value:
    """⌊a / b⌋, exact for ints and sympy expressions alike."""
    if type(a) is int and type(b) is int:  # the common case: Python's own floor division
        return a // b
    if is_symbolic(a) or is_symbolic(b):
        return _nested(sp().floor, a, b)
    return int(Fraction(a) // Fraction(b))


def ceildiv(a: Value, b: Value) -> Value:
    """⌈a / b⌉."""
    if type(a) is int and type(b) is int:
        return -(-a // b)
    if is_symbolic(a) or is_symbolic(b):
        return _nested(sp().ceiling, a, b)
    return -int(Fraction(-a) // Fraction(b))


def _nested(rounding, a: Value, b: Value) -> Value:
    """rounding(a / b), flattening the nests that stacked layers produce.

    For a positive integer n and integer c: ⌊⌊u⌋ + c⌋/n⌋ = ⌊(u + c)/n⌋, and likewise for
    ⌈⌉ — so floor(floor(H/2)/2) is written floor(H/4), which a reader can check by eye.
    """
    a, b = sp().sympify(a), sp().sympify(b)
    if b.is_Integer and b > 0:
        constant, rest = a.as_coeff_Add()
        if isinstance(rest, rounding) and constant.is_integer:
            return _rounded(rounding, (rest.args[0] + constant) / b)
    return _rounded(rounding, a / b)


def _rounded(rounding, arg):
    """rounding(arg) in the form sympy's own evaluation gives it — the whole terms taken out,
    the rest left inside — with wholeness decided by form (``_whole``) instead of sympy's
    assumption queries on every term (2–5 ms a rounding: a third of U-Net's symbolic report).

    Where sympy would prove a term whole by a deeper argument ((2·H + 2)·(2·W + 2)/4, whole by
    evenness) the result is the same value in a longer form, never a different value."""
    whole, rest = [], []
    for term in sp().Add.make_args(arg):
        (whole if _whole(term) else rest).append(term)
    if not rest:
        return arg
    inside = sp().Add(*rest)
    # a number left inside (the sizes' terms all whole) rounds by itself, as sympy does it
    kept = rounding(inside) if inside.is_Number else rounding(inside, evaluate=False)
    return sp().Add(*whole, kept)


@lru_cache(maxsize=4096)
def _whole(expr) -> bool:
    """Whole for every value of its names, by its form alone: integers, input-size names
    (positive integers), floors and ceilings, and sums, products, powers, maxima and minima
    of those. Sound (never whole for what may not be), not complete."""
    if expr.is_Integer or expr.is_Symbol:
        return bool(expr.is_Integer or expr.is_integer)
    if isinstance(expr, (sp().floor, sp().ceiling)):
        return True
    if expr.is_Pow:  # sympy writes x⁰ as 1: a whole power has a positive exponent
        return bool(expr.exp.is_Integer and expr.exp.is_positive) and _whole(expr.base)
    if expr.is_Add or expr.is_Mul or isinstance(expr, (sp().Max, sp().Min)):
        return all(_whole(arg) for arg in expr.args)
    return False


def vsum(values) -> Value:
    """Σ values; one n-ary sympy Add instead of n pairwise additions (which is quadratic)."""
    values = list(values)
    if any(is_symbolic(v) for v in values):
        return to_exact(sp().Add(*values))
    return sum(values, 0)


def vmax(*values: Value, simplify: bool = True) -> Value:
    """max(); with ``simplify=False`` a symbolic Max is left as written (still exact once
    substituted): sympy compares every pair of arguments, a minute for GoogLeNet's peak."""
    if any(is_symbolic(v) for v in values):
        return sp().Max(*dict.fromkeys(values), evaluate=simplify)  # duplicates slow it too
    return max(values)


def vmin(*values: Value) -> Value:
    if any(is_symbolic(v) for v in values):
        return sp().Min(*values)
    return min(values)


def definitely(condition: Any) -> bool:
    """True only when ``condition`` holds for every admissible value of the names.

    Plain bools pass through; a sympy relation counts only when sympy can decide it.
    """
    if isinstance(condition, bool):
        return condition
    return bool(condition == sp().true)


#: the comparisons ``always`` takes, by their symbol
_RELATIONS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
#: sizes at which ``always`` first tries a symbolic comparison (every name at the same value)
_WITNESSES = (1024, 1, 7)


def always(a: Value, relation: str, b: Value) -> bool:
    """``a relation b`` (``"<"``, ``"<="``, ``">"``, ``">="``) for every admissible value of the
    names, as ``definitely`` decides it. A comparison that fails at one size is not true for every
    size: that is found by substituting a few sizes before sympy builds the relation, whose
    assumption queries cost milliseconds each (a tenth of U-Net's symbolic report went to
    asking whether each output size could be ≤ 0)."""
    compare = _RELATIONS[relation]
    if not is_symbolic(a) and not is_symbolic(b):
        return bool(compare(a, b))
    names = {str(name) for value in (a, b) if is_symbolic(value) for name in value.free_symbols}
    for size in _WITNESSES:
        try:
            left, right = (substitute(value, dict.fromkeys(names, size)) for value in (a, b))
        except (ArithmeticError, TypeError, ValueError):  # not a number at this size: sympy decides
            break
        if is_symbolic(left) or is_symbolic(right):
            break
        if not compare(left, right):
            return False
    return definitely(compare(a, b))


def equal(a: Value, b: Value) -> bool | None:
    """True or False when decidable, None when sympy cannot tell (symbolic sizes)."""
    if not is_symbolic(a) and not is_symbolic(b):
        return a == b
    if a == b:  # the same tree: equal whatever the names' values (a concat's branches, mostly)
        return True
    if _zero_and_nonzero(a - b):
        return None
    difference = sp().simplify(a - b)
    if difference == 0:
        return True
    if difference.is_number or difference.is_zero is False:
        return False
    return None


#: the sizes at which ``equal`` first evaluates a difference (every name at the same value)
_PROBES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 31, 32, 33, 64, 65, 224, 299)


def _zero_and_nonzero(difference: Value) -> bool:
    """The difference is 0 at one size and not at another: then it is neither identically 0
    nor never 0, so simplify could only leave ``equal`` undecided (None) — found at a few
    sizes instead of by sympy.simplify, which took seconds on Inception's concats."""
    seen = set()
    names = difference.free_symbols
    for size in _PROBES:
        try:
            value = substitute(difference, {str(name): size for name in names})
        except (ArithmeticError, TypeError, ValueError):  # decide the slow way, as before
            return False
        if is_symbolic(value):  # not a number at this size (cannot happen for sizes): decide the slow way
            return False
        seen.add(value == 0)
        if len(seen) == 2:
            return True  # zero at one size and not at another: undecidable, without simplify
    return False


def substitute(value: Value, bindings: dict[str, int]) -> Value:
    """Replace names by numbers; the result is an int (or Fraction) when all are bound."""
    if not is_symbolic(value):
        return value
    # xreplace rebuilds the tree bottom-up, so floor/ceiling/Max of numbers evaluate on the
    # way; it is many times faster than subs()
    result = value.xreplace({symbol(k): sp().Integer(v) for k, v in bindings.items()})
    return to_exact(result)


def to_exact(value: Value) -> Value:
    """A sympy number back to int/Fraction; anything symbolic unchanged."""
    if type(value) is int:
        return value
    if not is_symbolic(value):
        return normalize(value)
    if getattr(value, "is_Integer", False):
        return int(value)
    if getattr(value, "is_Rational", False):
        return normalize(Fraction(int(value.p), int(value.q)))
    return value


def to_json(value: Value) -> int | float | str:
    """ints stay ints; a dyadic fraction (e.g. 2.5) is an exact JSON number; the rest is text."""
    value = to_exact(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Fraction):
        denominator = value.denominator
        if denominator & (denominator - 1) == 0:  # a power of two: exact in binary
            return float(value)
        return str(value)
    return formula_text(value) if is_symbolic(value) else str(value)


@lru_cache(maxsize=8192)
def formula_text(value: Value) -> str:
    """sympy's text of a formula, printed once per distinct one (a report's JSON repeats its
    shapes' formulas in every layer; sympy's printer re-sorts each sum's terms every time)."""
    return str(value)


def to_text(value: Value, *, separators: bool = True) -> str:
    """Human text: 1,234,567 for ints, 5/3 for fractions, sympy's own form otherwise."""
    value = to_exact(value)
    if isinstance(value, int):
        return f"{value:,}" if separators else str(value)
    return str(value)
