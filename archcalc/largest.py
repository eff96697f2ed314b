"""The largest of several sizes, decided exactly where a rule settles it for every input size.

A network's largest layer output and a training step's largest backward working set are maxima
of formulas in the input size. sympy's own Max compares every pair of its arguments with its
assumption system (a minute for GoogLeNet's peak), so archcalc decides only what three exact,
cheap rules settle and leaves the rest an unevaluated Max (exact once sizes are substituted):

- a candidate goes when another is larger by a number: 8·H·W + 8 against 8·H·W;
- or when another is a larger number times the same formula: 5·N against 3·N, 1,000·X·Y against
  64·X·Y (X, Y sizes: the formula is never negative where the network is valid);
- or when another is at least as large a number times, name by name, a factor at least as large
  at every size: 1,000·(⌊(H − 35)/16⌋ + 1)·(⌊(W − 35)/16⌋ + 1) against
  1,000·(⌊(H − 227)/16⌋ + 1)·(⌊(W − 227)/16⌋ + 1), each factor 12 larger, or with the numbers
  folded into one name's factors: 64·H·W against 512·⌊H/8⌋·⌊W/8⌋ (``archcalc.signs`` decides
  a difference of one name exactly; the smaller side's factors are sizes, never negative where
  the network is valid).

The receptive fields' bounds, formulas of one size each, are compared more strongly, at every
size (``archcalc.receptive`` with ``archcalc.signs``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archcalc.expressions import Value, is_symbolic, sp, vmax
from archcalc.signs import difference_extremes


def largest(values: list[Value]) -> Value:
    """The largest value, written alone where the rules decide it; else an unevaluated Max of
    those no other one bounds."""
    return largest_named(dict(enumerate(values)))[0]


def largest_named(candidates: dict[Any, Value]) -> tuple[Value, Any]:
    """(the largest value, its name) where the rules decide it; else (an unevaluated Max of
    those no other one bounds, None)."""
    kept = undominated(candidates)
    if len(kept) > 1:
        return vmax(*kept.values(), simplify=False), None
    [(name, value)] = kept.items()
    return value, name


def survivors(items: list, bounds: Callable[[Any, Any], bool]) -> list:
    """The items no other bounds (``bounds(big, small)``), in their order; of items that bound
    each other (equals) the first stays. Shared with the receptive fields' bounds."""
    kept: list = []
    for item in items:
        if any(bounds(other, item) for other in kept):
            continue
        kept = [other for other in kept if not bounds(item, other)]
        kept.append(item)
    return kept


def undominated(candidates: dict[Any, Value]) -> dict[Any, Value]:
    """The candidates (name → size) that no other bounds by the module's three rules; the first
    of equals stays. One left: the largest, decided exactly."""
    if not any(is_symbolic(v) for v in candidates.values()):
        name = max(candidates, key=lambda n: candidates[n])
        return {name: candidates[name]}
    kept = {name: sp().sympify(value) for name, value in candidates.items()}
    for split in (_plus_number, _times_number):
        best: dict[Any, tuple[Any, Any]] = {}  # rest → (number, name) of the largest with that rest
        for name, value in kept.items():
            number, rest = split(value)
            if rest not in best or number > best[rest][0]:
                best[rest] = (number, name)
        chosen = {name for _, name in best.values()}
        kept = {name: value for name, value in kept.items() if name in chosen}
    kept = _factorwise(kept)
    return {name: candidates[name] for name in kept}


def _factorwise(kept: dict) -> dict:
    """Those left that no other bounds factor by factor (see the module); the first of equals stays."""
    split = {name: _by_name(value) for name, value in kept.items()}

    def bounds(big, small) -> bool:
        return split[big] is not None and split[small] is not None and _bounds(split[big], split[small])

    return {name: kept[name] for name in survivors(list(kept), bounds)}


def _by_name(value) -> tuple | None:
    """value = c · Π over names of a factor in that name alone, as (c, {name: factor}); None
    when a factor has two names."""
    number, rest = value.as_content_primitive()
    factors: dict = {}
    for factor in sp().Mul.make_args(rest):
        if factor.is_Number:  # the 1 of a number's content
            number *= factor
            continue
        names = factor.free_symbols
        if len(names) != 1:
            return None
        (name,) = names
        factors.setdefault(name, []).append(factor)
    return number, {name: sp().Mul(*parts) for name, parts in factors.items()}


def _bounds(big: tuple, small: tuple) -> bool:
    """big ≥ small at every size: its number at least small's (both positive) and, name by name,
    its factor at least small's everywhere (a name one side lacks: a factor 1 there) — 2,048·X·Y
    bounds 2,048 when X, Y ≥ 1 at every size; or the numbers folded into one name's factors,
    the rest as before: 64·H·W bounds 512·⌊H/8⌋·⌊W/8⌋ as 64·H ≥ 512·⌊H/8⌋ and W ≥ ⌊W/8⌋.
    Each of small's factors is ≥ 0 where the network is valid (a size, or a sum of sizes)."""
    (big_number, big_factors), (small_number, small_factors) = big, small
    names = big_factors.keys() | small_factors.keys()
    one = sp().Integer(1)

    def at_least(name, big_scale=1, small_scale=1) -> bool:
        found = difference_extremes(big_scale * big_factors.get(name, one), small_scale * small_factors.get(name, one))
        return found is not None and found[0] is not None and found[0] >= 0

    if big_number >= small_number and all(at_least(name) for name in names):
        return True
    folded = (name for name in names if at_least(name, big_number, small_number))
    return any(all(at_least(other) for other in names - {name}) for name in folded)


def _plus_number(value) -> tuple:
    """value = number + rest (rest 0 for a number)."""
    return value.as_coeff_Add()


def _times_number(value) -> tuple:
    """value = number · rest, the number positive: the integer content of every factor and term
    (sizes are stored as 8·(512·f + 512)·(g + 1): 4,096 times (f + 1)·(g + 1))."""
    return value.as_content_primitive()


__all__ = ["largest", "largest_named", "survivors", "undominated"]
