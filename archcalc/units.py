"""Numbers as people read them, in one place: ``4.09 G`` macs, ``97.5 MiB``, ``(H − 4)/2``.

Every renderer of text (the report's table and Markdown, ``compare``, summaries) formats
through here. Human forms round to three significant digits, exactly (integer arithmetic on
the exact count, half up), and only for display: JSON and CSV keep the exact integers, and
``exact=True`` gives every digit (``--exact``). Fractions and formulas are never rounded:
they print exactly, typeset (``archcalc.typeset.to_plain``).
"""

from __future__ import annotations

from fractions import Fraction

from archcalc.expressions import Value, is_symbolic, to_exact

#: SI prefixes for counts (params, macs): powers of 1000, as torchinfo and timm write them
COUNT_UNITS = ("", " k", " M", " G", " T", " P", " E")
#: binary prefixes for bytes: powers of 1024
BYTE_UNITS = (" B", " KiB", " MiB", " GiB", " TiB", " PiB", " EiB")


def text(value: Value, *, separators: bool = True) -> str:
    """The exact value: ``1,234,567``, ``5/3``, or the typeset formula."""
    value = to_exact(value)
    if isinstance(value, int):
        return f"{value:,}" if separators else str(value)
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    from archcalc.typeset import to_plain

    return to_plain(value, separators=separators)


def count(value: Value, exact: bool = False) -> str:
    """A count (params, macs, connections): ``61.0 M``; below 1,000, or ``exact``, every digit."""
    return _scaled(value, 1000, COUNT_UNITS, exact, f"{to_exact(value):,}" if _is_int(value) else "")


def nbytes(value: Value, exact: bool = False) -> str:
    """A size in bytes: ``6.00 MiB``, ``512 B``; ``exact``: ``6,286,656 B``."""
    return _scaled(value, 1024, BYTE_UNITS, exact, f"{to_exact(value):,} B" if _is_int(value) else "")


def _is_int(value: Value) -> bool:
    return isinstance(to_exact(value), int)


def _scaled(value: Value, base: int, units: tuple[str, ...], exact: bool, digits: str) -> str:
    value = to_exact(value)
    if not isinstance(value, int):
        return text(value) + ("" if is_symbolic(value) or units is COUNT_UNITS else units[0])
    if exact or abs(value) < 1000:
        return digits
    step = 0
    while abs(value) >= 1000 * base**step and step + 1 < len(units):
        step += 1
    return _three_digits(value, base**step, base, units, step)


def _decimals(numerator: int, denominator: int) -> int:
    """Digits after the point for three significant ones, of numerator/denominator (≥ 0)."""
    return 0 if numerator >= 100 * denominator else 1 if numerator >= 10 * denominator else 2 if numerator >= denominator else 3


def _three_digits(value: int, divisor: int, base: int, units: tuple[str, ...], step: int) -> str:
    """``value / divisor`` rounded half up to three significant digits, with its unit; a carry
    moves the point (9.996 → 10.0) or up one unit (999.7 k → 1.00 M). Integer arithmetic
    only (exact, and a tenth of the cost of Fractions: a report formats thousands of counts)."""
    sign, numerator = ("-" if value < 0 else ""), abs(value)
    while True:
        decimals = _decimals(numerator, divisor)
        scale = 10**decimals
        rounded = (2 * numerator * scale + divisor) // (2 * divisor)  # ⌊q·10^d + 1/2⌋: q·10^d rounded half up
        if rounded >= 1000 * scale and step + 1 < len(units):
            divisor, step = divisor * base, step + 1
        elif _decimals(rounded, scale) != decimals and rounded < 1000 * scale:
            numerator, divisor = rounded, scale
        else:
            break
    whole, part = divmod(rounded, scale)
    return f"{sign}{whole}.{part:0{decimals}d}{units[step]}" if decimals else f"{sign}{whole}{units[step]}"


def axes(values: tuple, *, joiner: str = "×") -> str:
    """A per-axis value (a receptive field's size, jump or start): one text when the axes agree,
    else each axis, parenthesised when it is a sum, joined: ``(2⌊H/4⌋ − 1/2)×(2⌊W/4⌋ − 1/2)``."""
    items = [text(v, separators=False) for v in values]
    if len(set(items)) == 1:
        return items[0]
    return joiner.join(f"({item})" if _compound(item) else item for item in items)


def shape(dims: tuple) -> str:
    """An output shape: ``(96, 55, 55)``, ``(6, H − 4, W − 4)``, ``(9216,)``."""
    items = [text(d, separators=False) for d in dims]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _compound(item: str) -> bool:
    return " " in item or "/" in item or "·" in item
