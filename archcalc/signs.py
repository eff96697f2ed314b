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
from math import ceil, floor

from archcalc.expressions import Value, is_symbolic, sp, to_exact

#: residue classes tried at most (a product of strides up to 4096): beyond, no answer
MAX_PERIOD = 4096


class _Undecided(Exception):
    """The formula is not of the form this module decides."""


class _Refine(Exception):
    """A floor's argument moves by a fraction of a unit per step of m: take a longer period."""

    def __init__(self, denominator: int) -> None:
        self.denominator = denominator


def sign(value: Value) -> tuple[bool, bool] | None:
    """(value ≥ 0 for every admissible size, value ≤ 0 for every admissible size), or None
    where the formula is not a floor/ceiling form in one positive integer name."""
    names = value.free_symbols if is_symbolic(value) else ()
    if not names:  # a number, perhaps a sympy one
        value = to_exact(value)
        return value >= 0, value <= 0
    if len(names) != 1:
        return None
    (name,) = names
    if not (name.is_integer and name.is_positive):
        return None
    period = 1
    while period <= MAX_PERIOD:
        try:
            return _over_residues(value, name, period)
        except _Refine as refine:
            period *= refine.denominator
        except _Undecided:
            return None
    return None


def _over_residues(value, name, period: int) -> tuple[bool, bool]:
    at_least, at_most = True, True
    for residue in range(period):
        slope, offset = _line(value, name, period, residue)
        first = ceil(Fraction(1 - residue, period))  # the least m with H = period·m + residue ≥ 1
        start = slope * first + offset
        at_least = at_least and slope >= 0 and start >= 0
        at_most = at_most and slope <= 0 and start <= 0
        if not (at_least or at_most):
            break
    return at_least, at_most


def _line(node, name, period: int, residue: int) -> tuple[Fraction, Fraction]:
    """(α, β) with node(period·m + residue) = α·m + β for every whole m."""
    if node == name:
        return Fraction(period), Fraction(residue)
    if node.is_Rational:
        return Fraction(0), Fraction(int(node.p), int(node.q))
    if node.is_Add:
        slope, offset = Fraction(0), Fraction(0)
        for arg in node.args:
            a, b = _line(arg, name, period, residue)
            slope, offset = slope + a, offset + b
        return slope, offset
    if node.is_Mul:
        return _product(node, name, period, residue)
    rounding = _rounding(node)
    if rounding is not None:
        slope, offset = _line(node.args[0], name, period, residue)
        if slope.denominator != 1:
            raise _Refine(slope.denominator)
        return slope, Fraction(rounding(offset))
    raise _Undecided


def _product(node, name, period: int, residue: int) -> tuple[Fraction, Fraction]:
    """A product stays linear in m only when at most one factor moves with it."""
    slope, offset = Fraction(0), Fraction(1)
    for arg in node.args:
        a, b = _line(arg, name, period, residue)
        if a != 0 and slope != 0:
            raise _Undecided
        slope, offset = slope * b + a * offset, offset * b
    return slope, offset


def _rounding(node):
    if isinstance(node, sp().floor):
        return floor
    if isinstance(node, sp().ceiling):
        return ceil
    return None


__all__ = ["MAX_PERIOD", "sign"]
