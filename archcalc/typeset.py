"""Formulas for people: an exact value (int, Fraction or sympy expression) as HTML.

``⌊(H − 11)/4⌋`` rather than sympy's ``floor(H/4 - 11/4)``; ``34,848·(⌊…⌋ + 1)·(…)`` rather
than ``(34848*floor(…) + 34848)*(…)``. ``display_form`` rewrites an expression into that
shape by identities only (each sum's integer content taken out, like terms combined), and
the printer puts a rounding's argument over one denominator, so the text shows the same
value the analysis holds; ``to_html`` prints it with ⌊ ⌋, ⌈ ⌉, superscripts, · and −, and
names as ``<var>``.
"""

from __future__ import annotations

import functools
import html
import math
from fractions import Fraction

from archcalc.expressions import Value, is_symbolic, sp, to_exact

_RELATIONS = {"GreaterThan": "≥", "StrictGreaterThan": ">", "LessThan": "≤", "StrictLessThan": "<", "Equality": "=", "Unequality": "≠"}
_BRACKETS = {"floor": ("⌊", "⌋"), "ceiling": ("⌈", "⌉")}


_SUPERSCRIPTS = str.maketrans("0123456789−", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_HTML = True  # which markup _print writes: set only by _typeset, around one call


def to_html(value: Value, *, separators: bool = True) -> str:
    """The value as an HTML fragment (no enclosing element): numbers with thousands separators
    unless ``separators`` is false (sizes, as the text report writes them)."""
    return _typeset(value, separators, markup=True)


def to_plain(value: Value, *, separators: bool = True) -> str:
    """The same typesetting as plain text for a terminal: ``2·⌊(H − 1)/4⌋ + 1``, ``H²``."""
    return _typeset(value, separators, markup=False)


def _typeset(value: Value, separators: bool, markup: bool) -> str:
    value = to_exact(value)
    if isinstance(value, int):
        return _int(value) if separators else str(value).replace("-", "−")
    if isinstance(value, Fraction):
        return f"{_int(value.numerator)}/{_int(value.denominator)}"
    return _formula(value, markup)


@functools.lru_cache(maxsize=4096)
def _formula(value, markup: bool) -> str:
    """Each distinct formula typeset once: a network's shapes and counts repeat a few dozen
    expressions hundreds of times (printing was a third of a symbolic report). sympy
    expressions are immutable and compare by structure, so equal keys print alike."""
    global _HTML
    _HTML, before = markup, _HTML
    try:
        return _print(display_form(value))
    finally:
        _HTML = before


def display_form(expr):
    """The same value, written as a person would: each term's integer content outside, like
    terms combined. (A rounding's argument goes over one denominator when printed.)"""
    if not is_symbolic(expr) or expr.is_Number:
        return expr
    return sp().Add(*[_content_outside(term) for term in sp().Add.make_args(expr)])  # like terms combine


def _content_outside(term):
    """(34848·x + 34848)·(y + 1) → 34848·(x + 1)·(y + 1): each sum's integer content taken out."""
    coefficient, factors = sp().Integer(1), []
    for factor in sp().Mul.make_args(term):
        if factor.is_Add:
            content, rest = factor.primitive()
            coefficient, factor = coefficient * content, rest
        elif factor.is_Number:
            coefficient, factor = coefficient * factor, sp().Integer(1)
        factors.append(factor)
    return coefficient * sp().Mul(*factors)


def _int(value: int) -> str:
    return ("−" if value < 0 else "") + f"{abs(value):,}"


def _print(node) -> str:
    kind = type(node).__name__
    if node.is_Integer:
        return _int(int(node))
    if node.is_Rational:
        return f"{_int(int(node.p))}/{_int(int(node.q))}"
    if node.is_Symbol:
        return f"<var>{html.escape(node.name)}</var>" if _HTML else node.name
    if node.is_Add:
        return _add(node)
    if node.is_Mul:
        return _mul(node)
    if node.is_Pow:
        return _pow(node)
    if kind in _BRACKETS:
        left, right = _BRACKETS[kind]
        return f"{left}{_quotient(node.args[0])}{right}"
    if kind in ("Max", "Min"):
        # each argument as a formula of its own, cached: a gated network's fields repeat the same terms in hundreds of maxima
        return f"{kind.lower()}({', '.join(_formula(a, _HTML) for a in node.args)})"
    if kind in _RELATIONS:
        return f"{_print(node.lhs)} {_RELATIONS[kind]} {_print(node.rhs)}"
    if kind == "Piecewise":
        cases = [f"{_print(e)} if {_print(c)}" if c is not sp().true else f"{_print(e)} otherwise" for e, c in node.args]
        return "{" + "; ".join(cases) + "}"
    return html.escape(str(node)) if _HTML else str(node)


def _add(node) -> str:
    out = ""
    for index, term in enumerate(sp().Add.make_args(node) if not node.is_Add else _ordered(node)):
        negative = term.could_extract_minus_sign()
        text = _print(-term if negative else term)
        if index == 0:
            out = ("−" if negative else "") + text
        else:
            out += (" − " if negative else " + ") + text
    return out


def _ordered(node) -> list:
    """Terms with names first, in sympy's own order, then the constant."""
    # is_Number, a class attribute, not free_symbols, a walk of each term's tree (a tenth of a
    # gated network's printing): the one term without names in a sum of sizes is its number
    terms = list(node.args)
    return [t for t in terms if not t.is_Number] + [t for t in terms if t.is_Number]


def _mul(node) -> str:
    coefficient, rest = node.as_coeff_Mul()
    factors = [_factor(f) for f in sp().Mul.make_args(rest)]
    if coefficient == -1:
        return "−" + "·".join(factors)
    if coefficient == 1:
        return "·".join(factors)
    return "·".join([_print(coefficient), *factors])


def _factor(node) -> str:
    text = _print(node)
    return f"({text})" if node.is_Add else text


def _pow(node) -> str:
    base, exponent = node.as_base_exp()
    if exponent.is_Integer and int(exponent) < 0:
        return f"1/{_pow(base**-exponent) if int(exponent) != -1 else _factor(base)}"
    text = _print(base)
    if base.is_Add or base.is_Mul or (base.is_Number and base < 0):
        text = f"({text})"
    if _HTML:
        return f"{text}<sup>{_print(exponent)}</sup>"
    power = _print(exponent)
    return text + power.translate(_SUPERSCRIPTS) if power.lstrip("−").isdigit() else f"{text}^{power}"


def _over_one_denominator(arg) -> tuple:
    """arg = numerator / denominator with an integer denominator: the least common multiple of
    the terms' rational coefficients (sympy's ``together`` does this too, many times slower)."""
    terms = sp().Add.make_args(arg)
    coefficients = [term.as_coeff_Mul()[0] for term in terms]
    denominator = math.lcm(*(int(c.q) for c in coefficients))
    if denominator == 1:
        return arg, sp().Integer(1)
    return sp().Add(*[term * denominator for term in terms]), sp().Integer(denominator)


def _quotient(arg) -> str:
    """A rounding's argument: (H − 11)/4 rather than H/4 − 11/4."""
    numerator, denominator = _over_one_denominator(arg)
    if denominator == 1:
        return _print(arg)
    top = _print(numerator)
    if numerator.is_Add:
        top = f"({top})"
    bottom = _print(denominator)
    return f"{top}/{bottom if denominator.is_Atom else f'({bottom})'}"
