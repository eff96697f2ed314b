"""The sign and extremes of a size formula in one input size, decided exactly by residues.

A size formula of one name H (a positive integer) built from sums, numeric multiples, floors
and ceilings — ⌊(H − 1)/8⌋ − ⌊(H − 1)/16⌋, H − ⌊(H − 1)/8⌋ − 1 — is, on each residue class
H = Q·m + r (m a whole number; Q the lcm of the denominators of how fast each floor's argument
grows with H), a linear function α·m + β of m: ⌊α·m + β⌋ = α·m + ⌊β⌋ once α is whole. Its
least and greatest values over every admissible H are therefore a check of Q lines, each at its
first admissible m (or unbounded): a decision, not a heuristic, and far cheaper than sympy's
assumption system, which spent seconds on each such comparison in the segmentation heads'
bilinear rules and still could not decide it (printing max(0, (⌊(H − 1)/8⌋ + 1)/(2·H) − 1/2)
for what is 0 at every size).

``sign`` and ``extremes`` answer None for anything outside that form (two names, a product of
two sizes, a Max): the caller then keeps its general path.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import ceil, floor, lcm

from archcalc.expressions import Value, is_symbolic, sp, to_exact

#: residue classes tried at most (a product of strides up to 4096): beyond, no answer
MAX_PERIOD = 4096


class _Undecided(Exception):
    """The formula is not of the form this module decides."""


def sign(value: Value) -> tuple[bool, bool] | None:
    """(value ≥ 0 for every admissible size, value ≤ 0 for every admissible size), or None
    where the formula is not a floor/ceiling form in one positive integer name."""
    found = extremes(value)
    if found is None:
        return None
    least, greatest = found
    return least is not None and least >= 0, greatest is not None and greatest <= 0


def extremes(value: Value) -> tuple[Fraction | None, Fraction | None] | None:
    """(least, greatest) value over every admissible size, None for a side where the formula
    is unbounded; None where it is not a floor/ceiling form in one positive integer name."""
    names = value.free_symbols if is_symbolic(value) else ()
    if not names:  # a number, perhaps a sympy one (None for √2 or an unevaluated Max of numbers)
        value = to_exact(value)
        return (value, value) if isinstance(value, (int, Fraction)) else None
    if len(names) != 1:
        return None
    (name,) = names
    if not (name.is_integer and name.is_positive):
        return None
    try:
        tree = _compiled(value, name)
        period = _period(tree)
        return None if period > MAX_PERIOD else _over_residues(tree, period)
    except _Undecided:
        return None


@lru_cache(maxsize=4096)
def difference_extremes(a: Value, b: Value) -> tuple[int | Fraction | None, int | Fraction | None] | None:
    """``extremes(a − b)``, once per pair: the receptive fields and the largest layer output
    compare the same few floor forms at every layer of a network (their constants apart)."""
    return extremes(a - b)


def _over_residues(tree, period: int) -> tuple[int | Fraction | None, int | Fraction | None]:
    """On each residue class the formula is a line in m, least or greatest at its first
    admissible m unless it runs off that way."""
    slope, offsets = _lines(tree, period)
    # the least m with H = period·m + r ≥ 1: 1 for r = 0, else 0
    starts = [slope * -((residue - 1) // period) + offset for residue, offset in enumerate(offsets)]
    return (min(starts) if slope >= 0 else None), (max(starts) if slope <= 0 else None)


#: the name in a compiled formula (see ``_compiled``), whichever it is
_NAME = object()


def _compiled(node, name):
    """The formula as nested tuples — the name, a number, ("+", parts), ("*", parts),
    (floor or ceil, argument) — walked in plain Python, where sympy's attributes cost
    microseconds each (most of a gated network's comparisons)."""
    if node == name:
        return _NAME
    if node.is_Rational:  # an int where whole: int arithmetic is several times Fraction's
        return int(node.p) if node.q == 1 else Fraction(int(node.p), int(node.q))
    if node.is_Add:
        return ("+", tuple(_compiled(arg, name) for arg in node.args))
    if node.is_Mul:
        return ("*", tuple(_compiled(arg, name) for arg in node.args))
    rounding = _rounding(node)
    if rounding is None:
        raise _Undecided
    return (rounding, _compiled(node.args[0], name))


def _period(tree) -> int:
    """The least number of residue classes on which every rounding's argument moves by whole
    units per step of m: the lcm of the denominators of their rates (dH per H)."""
    denominators = [1]
    _rate(tree, denominators)
    return lcm(*denominators)


def _rate(tree, denominators: list) -> int | Fraction:
    """How fast the formula grows with H: on every residue class of a period Q it moves by
    Q·rate per step of m, a floor as its argument does once that is whole. Each rounding's rate's
    denominator is appended to ``denominators``; a product of two formulas is refused (H·⌊H/2⌋
    is no line, and (H − 2·⌊H/2⌋)·H moves by a different amount on each residue class)."""
    if tree is _NAME:
        return 1
    if type(tree) is not tuple:
        return 0
    kind, parts = tree
    if kind == "+":
        return sum(_rate(part, denominators) for part in parts)
    if kind == "*":
        coefficient, factor = _split(parts)
        return coefficient * _rate(factor, denominators)
    rate = _rate(parts, denominators)
    denominators.append(Fraction(rate).denominator)
    return rate


def _split(parts) -> tuple[int | Fraction, object]:
    """A product as (the product of its numbers, its one formula factor); sympy folds the
    numbers of a product into one, so there is always a formula among its factors."""
    formulas = [part for part in parts if type(part) is tuple or part is _NAME]
    if len(formulas) != 1:
        raise _Undecided
    coefficient = 1
    for part in parts:
        coefficient *= 1 if type(part) is tuple or part is _NAME else part
    return coefficient, formulas[0]


def _lines(tree, period: int) -> tuple[int | Fraction, list]:
    """(α, [β_r for every residue r]): tree(period·m + r) = α·m + β_r for every whole m. The
    slope α = period·rate is the same on every class (``_rate``), whole at every rounding as the
    period is a multiple of its rate's denominator; one walk of the tree for all classes."""
    if tree is _NAME:
        return period, list(range(period))
    if type(tree) is not tuple:  # a number
        return 0, [tree] * period
    kind, parts = tree
    if kind == "+":
        lines = [_lines(part, period) for part in parts]
        return sum(slope for slope, _ in lines), [sum(column) for column in zip(*(o for _, o in lines), strict=True)]
    if kind == "*":
        coefficient, factor = _split(parts)
        slope, offsets = _lines(factor, period)
        return coefficient * slope, [coefficient * offset for offset in offsets]
    slope, offsets = _lines(parts, period)
    return slope, [kind(offset) for offset in offsets]


def _rounding(node):
    if isinstance(node, sp().floor):
        return floor
    if isinstance(node, sp().ceiling):
        return ceil
    return None


__all__ = ["MAX_PERIOD", "difference_extremes", "extremes", "sign"]
