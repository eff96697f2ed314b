"""The sign of a size formula in one input size, decided exactly by residues.

A size formula of one name H (a positive integer) built from sums, numeric multiples, floors
and ceilings — ⌊(H − 1)/8⌋ − ⌊(H − 1)/16⌋, H − ⌊(H − 1)/8⌋ − 1 — is, on each residue class
H = Q·m + r (m a whole number, Q the product of the formula's denominators), a linear function
α·m + β of m: ⌊α·m + β⌋ = α·m + ⌊β⌋ once α is whole. Its least and greatest values over every
admissible H are therefore a check of Q lines, each at its first admissible m (or unbounded):
a decision, not a heuristic, and far cheaper than sympy's assumption system, which spent
seconds on each such comparison in the segmentation heads' bilinear rules and still could
not decide it (printing max(0, (⌊(H − 1)/8⌋ + 1)/(2·H) − 1/2) for what is 0 at every size).

``sign`` answers None for anything outside that form (two names, a product of sizes, a Max):
the caller then keeps its general path.
"""

from __future__ import annotations

from fractions import Fraction
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
    if not names:  # a number, perhaps a sympy one
        value = Fraction(to_exact(value))
        return value, value
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


def _over_residues(tree, period: int) -> tuple[Fraction | None, Fraction | None]:
    """On each residue class the formula is a line in m, least or greatest at its first
    admissible m unless it runs off that way."""
    least, greatest = [], []
    for residue, (slope, offset) in enumerate(zip(*_lines(tree, period), strict=True)):
        first = -((residue - 1) // period)  # the least m with H = period·m + residue ≥ 1
        start = slope * first + offset
        least.append(start if slope >= 0 else None)
        greatest.append(start if slope <= 0 else None)
    return (None if None in least else min(least)), (None if None in greatest else max(greatest))


#: the name in a compiled formula (see ``_compiled``)
_NAME = "H"


def _compiled(node, name):
    """The formula as nested tuples — the name, a Fraction, ("+", parts), ("*", parts),
    (floor or ceil, argument) — walked once per residue class in plain Python, where sympy's
    attributes cost microseconds each (most of a gated network's comparisons)."""
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
    """How fast the formula grows with H (a floor grows as its argument does, on average);
    each rounding's rate's denominator is appended to ``denominators``."""
    if tree is _NAME:
        return 1
    if type(tree) is not tuple:
        return 0
    kind, parts = tree
    if kind == "+":
        return sum(_rate(part, denominators) for part in parts)
    if kind == "*":  # numbers times a moving factor; two moving factors ``_product`` refuses
        rate = 1
        for part in parts:
            rate *= _rate(part, denominators) if type(part) is tuple or part is _NAME else part
        return rate
    rate = _rate(parts, denominators)
    denominators.append(Fraction(rate).denominator)
    return rate


def _lines(tree, period: int) -> tuple[list, list]:
    """(α_r, β_r) for every residue r, as two lists: tree(period·m + r) = α_r·m + β_r for
    every whole m. One walk of the tree for all residue classes at once."""
    if tree is _NAME:
        return [period] * period, list(range(period))
    if type(tree) is not tuple:  # a number
        return [0] * period, [tree] * period
    kind, parts = tree
    if kind == "+":
        lines = [_lines(part, period) for part in parts]
        slopes = [sum(column) for column in zip(*(slope for slope, _ in lines), strict=True)]
        return slopes, [sum(column) for column in zip(*(offset for _, offset in lines), strict=True)]
    if kind == "*":
        return _product(parts, period)
    slopes, offsets = _lines(parts, period)
    if any(slope.denominator != 1 for slope in slopes):  # cannot happen at the period ``_period`` chose
        raise _Undecided
    return slopes, [kind(offset) for offset in offsets]


def _product(parts, period: int) -> tuple[list, list]:
    """A product stays linear in m only when at most one factor moves with it."""
    slopes, offsets = [0] * period, [1] * period
    for part in parts:
        part_slopes, part_offsets = _lines(part, period)
        if any(a != 0 and b != 0 for a, b in zip(slopes, part_slopes, strict=True)):
            raise _Undecided
        slopes = [s * b + a * o for s, o, a, b in zip(slopes, offsets, part_slopes, part_offsets, strict=True)]
        offsets = [o * b for o, b in zip(offsets, part_offsets, strict=True)]
    return slopes, offsets


def _rounding(node):
    if isinstance(node, sp().floor):
        return floor
    if isinstance(node, sp().ceiling):
        return ceil
    return None


__all__ = ["MAX_PERIOD", "extremes", "sign"]
