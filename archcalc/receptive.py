"""Receptive fields, exact for every output unit, regular lattices or not.

Along one axis, unit i of a layer sees the input pixels lo(i) … hi(i) (an interval: the hull
of every pixel that can reach it; unclipped, so padding and units beyond a layer's edge
continue each rule rather than stopping at the image). Three kinds of field describe
lo and hi for every integer i:

* ``Lattice``: lo(i) = low + jump·i, hi(i) = high + jump·i — what sliding windows with whole
  strides give (convolution and pooling chains): every unit's field has the same size and
  they are ``jump`` pixels apart. A window with kernel k, stride s, padding p, dilation d
  turns it into low − p·jump, high + (d(k−1) − p)·jump, jump·s.
* ``Mapped``: an op's own index rule (``AxisMap``: output unit i reads input units
  first(i) … last(i)) over the input's field: lo(i) = lo_in(first(i)), hi(i) = hi_in(last(i))
  — adaptive pools with uneven bins, upsampling, transposed convs, whole-map statistics.
* ``Merged``: the union at a merge, lo(i) = min over the inputs, hi(i) = max; an input of
  size 1 along an axis that the merge broadcasts is read at its unit 0 by every unit.
* ``Hull``: the same union where every input is a lattice, a hull or broadcast, kept as its
  terms: lo(i) = min of a + b·i, hi(i) = max of a′ + b′·i (a broadcast input is a term of
  slope 0) — what squeeze-and-excitation networks give, closed under sliding windows, so a
  query after n gates costs a term per distinct gate, not a walk through every merge below.

A layer reports, per axis (``ReceptiveField``):

* ``size`` = hi(0) − lo(0) + 1 and ``start`` = (lo(0) + hi(0))/2: the field of the first
  output unit, its size and its centre (input pixels counted from 0);
* ``jump``: the nominal distance in input pixels between neighbouring output units — the
  product along the path of each op's ratio (a stride s; 1/s for a transposed conv; H/out for
  an adaptive pool or a resize). On a lattice it is the exact spacing of the units' fields;
  where a rule is irregular the actual spacing varies around it (GoogLeNet's auxiliary pool
  14 → 4: bins start at rows 0, 3, 7, 10 for a nominal 3.5), and each unit's exact interval
  is ``ReceptiveField.unit(axis, i)``. A union over units (``flatten``, global pooling, what a
  fully connected layer sees) is therefore exact: it is lo(0) … hi(n − 1) of the units read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from archcalc.errors import OpError
from archcalc.expressions import Value, equal, exact_div, is_symbolic, sp, to_exact, vmax, vmin
from archcalc.largest import survivors
from archcalc.ops.base import AxisMap, Resampling, Window
from archcalc.signs import difference_extremes


class _Field:
    """lo(i), hi(i) for any integer i, memoised (a residual network shares each field between
    a block's branches, which would otherwise be walked once per path); so are a composite
    field's ``jump`` and ``monotone``: every squeeze-and-excitation gate merges two paths
    from one field, and n gates walked per path would cost 2ⁿ."""

    jump: Value
    monotone: bool = True

    def lo(self, i: Value) -> Value:
        return _built(self.raw_lo(i))

    def hi(self, i: Value) -> Value:
        return _built(self.raw_hi(i))

    # raw_lo / raw_hi may give an _Extreme: what the fields pass among themselves
    def raw_lo(self, i: Value) -> Value | _Extreme:
        key = ("lo", i)
        if key not in self._cache:
            self._cache[key] = _exact(self._lo(i))
        return self._cache[key]

    def raw_hi(self, i: Value) -> Value | _Extreme:
        key = ("hi", i)
        if key not in self._cache:
            self._cache[key] = _exact(self._hi(i))
        return self._cache[key]


@dataclass(frozen=True, eq=False)
class Lattice(_Field):
    low: Value
    high: Value
    jump: Value
    _cache: dict = field(default_factory=dict, repr=False)

    def _lo(self, i: Value) -> Value:
        return self.low + self.jump * i

    def _hi(self, i: Value) -> Value:
        return self.high + self.jump * i


@dataclass(frozen=True, eq=False)
class Mapped(_Field):
    inner: Any  # a field
    map: AxisMap
    _cache: dict = field(default_factory=dict, repr=False)

    # cached, as lo and hi are: fields after a squeeze-and-excitation gate share their inputs
    # through every later block, and walking them once per path is exponential in depth
    @cached_property
    def jump(self) -> Value:
        if "jump" not in self._cache:  # memoised as lo/hi are: walked once per DAG path otherwise (SE blocks: 2^n)
            self._cache["jump"] = to_exact(self.inner.jump * self.map.ratio)
        return self._cache["jump"]

    @cached_property
    def monotone(self) -> bool:
        if "monotone" not in self._cache:
            self._cache["monotone"] = self.map.monotone and self.inner.monotone
        return self._cache["monotone"]

    def _lo(self, i: Value) -> Value | _Extreme:
        if self.inner.monotone:  # the lowest of the units read is the first one's
            return self.inner.raw_lo(self.map.first(i))
        return vmin(*[self.inner.lo(u) for u in self._units(i)])

    def _hi(self, i: Value) -> Value | _Extreme:
        if self.inner.monotone:
            return self.inner.raw_hi(self.map.last(i))
        return vmax(*[self.inner.hi(u) for u in self._units(i)])

    def _units(self, i: Value) -> range:
        """Every unit read, where the input field is not monotone (after some dilated
        transposed convs): then the extremes alone do not bound the union."""
        first, last = self.map.first(i), self.map.last(i)
        if is_symbolic(first) or is_symbolic(last):
            raise OpError("the receptive field after a dilated transposed conv whose taps interleave needs numeric sizes")
        return range(first, last + 1, self.map.step)


@dataclass(frozen=True, eq=False)
class Merged(_Field):
    parts: tuple
    _cache: dict = field(default_factory=dict, repr=False)

    @cached_property
    def jump(self) -> Value:
        if "jump" not in self._cache:
            self._cache["jump"] = vmax(*[part.jump for part in self.parts])
        return self._cache["jump"]

    @cached_property
    def monotone(self) -> bool:
        if "monotone" not in self._cache:
            self._cache["monotone"] = all(part.monotone for part in self.parts)
        return self._cache["monotone"]

    def _lo(self, i: Value) -> Value | _Extreme:
        return _bound([part.raw_lo(i) for part in self.parts], larger=False)

    def _hi(self, i: Value) -> Value | _Extreme:
        return _bound([part.raw_hi(i) for part in self.parts], larger=True)


@dataclass(frozen=True, eq=False)
class Hull(_Field):
    """lo(i) = min over ``lows`` of a + b·i, hi(i) = max over ``highs`` of a + b·i: each term
    an (intercept a, slope b ≥ 0) pair. What merges of lattices and of broadcast inputs give
    (a squeeze-and-excitation gate's field is one constant term, slope 0: every unit reads its
    unit 0), and what sliding windows keep: a window turns each term into (a − b·p, b·s) and
    (a + b·(d(k−1) − p), b·s), so a query after n gates costs a term per gate instead of a walk
    through every merge below it — which made gated networks' symbolic reports quadratic in
    depth. The same values as the merges' fields walked one by one, so the same bounds.

    Terms of one slope whose intercepts differ by a number are reduced to the extreme one when
    built (they differ by that number at every i, as ``_bound`` would find at each query)."""

    lows: tuple
    highs: tuple
    jump: Value
    _cache: dict = field(default_factory=dict, repr=False)

    def _lo(self, i: Value) -> Value | _Extreme:
        return _bound([a + b * i for a, b in self.lows], larger=False)

    def _hi(self, i: Value) -> Value | _Extreme:
        return _bound([a + b * i for a, b in self.highs], larger=True)

    def stepped(self, k: Value, s: Value, p: Value, d: Value) -> Hull:
        """Through a sliding window: unit i reads units s·i − p … s·i − p + d(k − 1) (see the class)."""
        # terms of one slope stay one slope apart from every other (b·s = b′·s only if b = b′),
        # so nothing new is a number apart: no reduction is needed
        reach = d * (k - 1) - p
        lows = tuple((to_exact(a - b * p), to_exact(b * s)) for a, b in self.lows)
        highs = tuple((to_exact(a + b * reach), to_exact(b * s)) for a, b in self.highs)
        return Hull(lows, highs, to_exact(self.jump * s))


def _terms(pairs: list, larger: bool) -> tuple:
    """(intercept, slope) pairs, those of one slope whose intercepts differ by a number
    reduced to the extreme one (``_keep``, keyed by slope and the intercept's non-constant part)."""
    kept: dict = {}
    for intercept, slope in pairs:
        intercept, slope = to_exact(intercept), to_exact(slope)
        if is_symbolic(intercept):
            constant, rest = intercept.as_coeff_Add()
            constant = to_exact(constant)
        else:
            constant, rest = intercept, 0
        _keep(kept, (slope, rest), constant, larger)
    return tuple((to_exact(rest + constant), slope) for (slope, rest), constant in kept.items())


def _undominated(number: Value | None, kept: dict, larger: bool) -> tuple[Value | None, dict]:
    """The number and the terms (non-constant part → constant) less those another bounds at
    every size: when one term minus another never drops below 0 (``signs.extremes``), the other
    cannot be the max (for a min: never rises above 0, and the other cannot be the min). Exact
    over every H ≥ 1, so the same value; what it saves is a max(19, 4·⌊(H − 1)/4⌋ + 19,
    2·⌊(H − 1)/2⌋ + 9) carried through every later layer of a gated network, where
    4·⌊(H − 1)/4⌋ + 19 is the max."""
    terms = ([] if number is None else [(0, number)]) + list(kept.items())
    left = survivors(terms, lambda big, small: _covers(*big, *small, larger))
    numbers = [constant for rest, constant in left if not is_symbolic(rest)]
    return (numbers[0] if numbers else None), {rest: constant for rest, constant in left if is_symbolic(rest)}


def _covers(rest: Value, constant: Value, other: Value, bound: Value, larger: bool) -> bool:
    """rest + constant ≥ other + bound at every size (≤ for a min)."""
    found = difference_extremes(rest, other)
    if found is None:
        return False
    least, greatest = found
    if larger:
        return least is not None and least + constant - bound >= 0
    return greatest is not None and greatest + constant - bound <= 0


def _constant_terms(value: Value | _Extreme) -> list:
    """A bound that does not depend on the unit (a broadcast input's unit 0) as slope-0 terms,
    an _Extreme's terms spliced in."""
    if not isinstance(value, _Extreme):
        return [(value, 0)]
    terms = [] if value.number is None else [(value.number, 0)]
    return terms + [(to_exact(rest + constant), 0) for rest, constant in value.terms.items()]


class _Extreme:
    """A Max (``larger``) or Min of symbolic terms, kept as the terms until a value is asked
    for: a merge's bound feeds every later merge's (after EfficientNet's gates, each field is
    the max of a term per gate so far), which splices the terms in again, so building each
    bound as a sympy Max (sympy sorts the arguments of every one it builds) was most of a gated
    network's symbolic report; now only the bounds a layer's field reports are built, once.

    ``number`` is the extreme of the plain numbers among them (None: none); ``terms`` maps each
    term's non-constant part to the extreme of its constants (see ``_bound``)."""

    __slots__ = ("larger", "number", "terms", "_value")

    def __init__(self, larger: bool, number: Value | None, terms: dict) -> None:
        self.larger, self.number, self.terms, self._value = larger, number, terms, None

    @property
    def value(self) -> Value:
        if self._value is None:
            args = [] if self.number is None else [self.number]
            args += [to_exact(rest + constant) for rest, constant in self.terms.items()]
            self._value = _unevaluated(self.larger, frozenset(args))  # ≥ 2 of them: _bound returns fewer bare
        return self._value


def _built(value: Value | _Extreme) -> Value:
    return value.value if isinstance(value, _Extreme) else value


def _exact(value: Value | _Extreme) -> Value | _Extreme:
    return value if isinstance(value, _Extreme) else to_exact(value)


def bound(values: list, larger: bool) -> Value:
    """The max (``larger``) or min of a merge's bounds, exactly, as one flat Max/Min (see ``_bound``)."""
    return _built(_bound(values, larger))


def _bound(values: list, larger: bool) -> Value | _Extreme:
    """The max (``larger``) or min of a merge's bounds, exactly, as one flat Max/Min.

    Nested Max/Min arguments are spliced in, the numbers among them reduced to one, and
    symbolic ones that differ by a number decided at once; what is left stays an unevaluated
    Max/Min, exact once sizes are substituted. sympy's own Max compares every pair of its
    arguments symbolically: after EfficientNet's squeeze-and-excitation gates (a whole-map
    field merged into every block's) that took minutes for a [3, H, W] input.

    Two terms differ by a number exactly when their non-constant parts (``as_coeff_Add``)
    are the same expression — sympy keeps sums in one canonical form — so each term is
    compared with the others through a dictionary keyed by that part, not by subtracting it
    from every term kept (quadratic, and most of EfficientNet-B7's symbolic report).
    """
    if not any(isinstance(v, _Extreme) or is_symbolic(v) for v in values):
        return max(values) if larger else min(values)
    extreme = sp().Max if larger else sp().Min
    numbers, kept = [], {}  # kept: a term's non-constant part → its best constant
    for value in values:
        if isinstance(value, _Extreme) and value.larger == larger:  # spliced, already reduced
            numbers += [] if value.number is None else [value.number]
            for rest, constant in value.terms.items():
                _keep(kept, rest, constant, larger)
            continue
        value = _built(value)
        for arg in value.args if isinstance(value, extreme) else (value,):
            if not is_symbolic(arg) or arg.is_Number:
                numbers.append(to_exact(arg))
                continue
            constant, rest = arg.as_coeff_Add()
            _keep(kept, rest, constant, larger)
    number = (max(numbers) if larger else min(numbers)) if numbers else None
    if kept:
        number, kept = _undominated(number, kept, larger)
    if not kept:
        return number
    if number is None and len(kept) == 1:
        ((rest, constant),) = kept.items()
        return to_exact(rest + constant)
    return _Extreme(larger, number, kept)


def _keep(kept: dict, rest: Value, constant: Value, larger: bool) -> None:
    kept[rest] = constant if rest not in kept else (max if larger else min)(kept[rest], constant)


@lru_cache(maxsize=4096)
def _unevaluated(larger: bool, terms: frozenset):
    """Max/Min of these terms, unevaluated: sympy sorts its arguments each time one is built
    (most of a gated network's receptive-field time), and a third of them recur (EfficientNet)."""
    return (sp().Max if larger else sp().Min)(*terms, evaluate=False)


#: a merge input broadcast along an axis (size 1 there): every output unit reads its unit 0
BROADCAST = AxisMap(first=lambda i: 0, last=lambda i: 0, ratio=0, rule="0 (broadcast)")


@dataclass(frozen=True)
class ReceptiveField:
    """Per axis (height, width): ``size`` and ``start`` of the first output unit's field and
    the nominal ``jump`` (see the module's docstring); ``axes`` holds every unit's field."""

    size: tuple[Value, Value]
    jump: tuple[Value, Value]
    start: tuple[Value, Value]
    #: every unit's field per axis; None for a field given by its numbers alone (a lattice)
    fields: tuple | None = field(default=None, compare=False, repr=False)

    @property
    def axes(self) -> tuple:
        if self.fields is not None:
            return self.fields
        half = [exact_div(size - 1, 2) for size in self.size]
        return tuple(Lattice(to_exact(c - h), to_exact(c + h), j) for c, h, j in zip(self.start, half, self.jump, strict=True))

    def unit(self, axis: int, index: Value) -> tuple[Value, Value]:
        """The exact pixels lo … hi that output unit ``index`` sees along ``axis`` (0: height, 1: width)."""
        return self.axes[axis].lo(index), self.axes[axis].hi(index)

    @property
    def regular(self) -> tuple[bool, bool]:
        """Per axis: a lattice (every unit's field the first one's, moved by i·jump)."""
        return tuple(isinstance(axis, Lattice) for axis in self.axes)


def summarise(axes: tuple) -> ReceptiveField:
    size, jump, start = [], [], []
    for axis in axes:
        low, high = axis.lo(0), axis.hi(0)
        size.append(to_exact(high - low + 1))
        jump.append(to_exact(axis.jump))
        start.append(to_exact(exact_div(low + high, 2)))
    return ReceptiveField(tuple(size), tuple(jump), tuple(start), tuple(axes))


INPUT_RF = summarise((Lattice(0, 0, 1), Lattice(0, 0, 1)))


def receptive_field(
    inputs: list[ReceptiveField | None], window: Window | Resampling | None, shapes: list | None = None, out: tuple | None = None
) -> ReceptiveField | None:
    """The output's field: the inputs' fields merged (broadcast inputs read at unit 0), then
    stepped through the op's window. ``shapes`` and ``out`` (the inputs' and the output's
    shapes) are needed only to see broadcasting."""
    if any(rf is None for rf in inputs):
        return None
    axes = []
    for axis in (0, 1):
        merged = inputs[0].axes[axis] if len(inputs) == 1 else _merge(inputs, axis, shapes, out)
        axes.append(step(merged, window, axis))
    return summarise(tuple(axes))


def _merge(inputs: list[ReceptiveField], axis: int, shapes: list | None, out: tuple | None):
    parts = []
    for index, rf in enumerate(inputs):
        part = rf.axes[axis]
        if shapes is not None and out is not None and len(out) == 3 and _broadcast(shapes[index], out, axis):
            part = Mapped(part, BROADCAST)
        parts.append(part)
    lattices = [part for part in parts if isinstance(part, Lattice)]
    if len(lattices) == len(parts) and all(equal(part.jump, parts[0].jump) is True for part in parts):
        # lattices a whole number of units apart stay one lattice: the union of their first units, moved together
        return Lattice(vmin(*[p.low for p in parts]), vmax(*[p.high for p in parts]), parts[0].jump)
    if all(isinstance(part, (Lattice, Hull)) or _is_broadcast(part) for part in parts):
        return _hull(parts)
    return Merged(tuple(parts))


def _is_broadcast(part: Any) -> bool:
    """A merge input read at its unit 0 by every unit (see ``_broadcast`` for when)."""
    return isinstance(part, Mapped) and part.map is BROADCAST


def _hull(parts: list) -> Hull:
    """The union of lattices, hulls and broadcast inputs as one Hull (its terms, the parts')."""
    lows, highs = [], []
    for part in parts:
        if isinstance(part, Lattice):
            lows.append((part.low, part.jump))
            highs.append((part.high, part.jump))
        elif isinstance(part, Hull):
            lows += part.lows
            highs += part.highs
        else:  # broadcast: every unit reads the input's unit 0
            lows += _constant_terms(part.inner.raw_lo(0))
            highs += _constant_terms(part.inner.raw_hi(0))
    jump = vmax(*[part.jump for part in parts])  # as Merged's: the broadcast inputs' is 0
    return Hull(_terms(lows, larger=False), _terms(highs, larger=True), jump)


def _broadcast(shape: tuple, out: tuple, axis: int) -> bool:
    """A (C, H, W) input of size 1 along an axis where the output is wider: broadcast there."""
    return len(shape) == 3 and shape[1 + axis] == 1 and not _always_one(out[1 + axis])


@lru_cache(maxsize=1024)
def _always_one(size: Value) -> bool:
    """Cached: every gate of a stage asks it of the same map size (a symbolic one is probed)."""
    return equal(size, 1) is True


def step(field_: Any, window: Window | Resampling | None, axis: int):
    """One axis of a field through one window."""
    if window is None:
        return field_
    if isinstance(window, Resampling):
        rule = window.axes[axis]
        if rule.sliding is None:
            return Mapped(field_, rule)
        k, s, p, d = rule.sliding
    else:
        k, s, p, d = window.kernel[axis], window.stride[axis], window.padding[axis], window.dilation[axis]
    if isinstance(field_, Lattice):
        j = field_.jump
        return Lattice(field_.low - p * j, field_.high + (d * (k - 1) - p) * j, j * s)
    if isinstance(field_, Hull):
        return field_.stepped(k, s, p, d)
    return _slid(field_, k, s, p, d)


def _slid(field_: Any, k: Value, s: Value, p: Value, d: Value) -> Mapped:
    """A field that is not a lattice through a sliding window. Two windows in a row over a
    monotone field read as one: this one's unit i reads the previous layer's units s·i − p …
    s·i − p + d(k − 1), which read s′·(s·i − p) − p′ … s′·(s·i − p + d(k − 1)) − p′ + d′(k′ − 1)
    of the field before — one window of stride s′·s. So the chain after a merge stays one
    rule deep: a later merge's query (the last unit of a map, after each squeeze-and-excitation
    gate) steps once per merge below it, not once per layer — which was quadratic in depth."""
    if isinstance(field_, Mapped) and field_.map.sliding is not None and field_.inner.monotone:
        k1, s1, p1, d1 = field_.map.sliding
        if not any(is_symbolic(v) for v in (k, s, p, d, k1, s1, p1, d1)):
            first = -(s1 * p + p1)  # the offsets of the first and last units read: s′·s·i + offset
            last = s1 * (d * (k - 1) - p) + d1 * (k1 - 1) - p1
            return Mapped(field_.inner, sliding(last - first + 1, s1 * s, -first, 1))
    return Mapped(field_, sliding(k, s, p, d))


def sliding(k: Value, s: Value, p: Value, d: Value) -> AxisMap:
    """A sliding window as an index rule: unit i reads s·i − p … s·i − p + d(k−1), every d."""
    return AxisMap(
        first=lambda i: s * i - p,
        last=lambda i: s * i - p + d * (k - 1),
        ratio=s,
        rule=f"{_affine(s, -p)} … {_affine(s, d * (k - 1) - p)}",
        step=d if isinstance(d, int) else 1,
        sliding=(k, s, p, d),
    )


def _affine(scale: Value, offset: Value) -> str:
    """s·i + c as a person writes it: i, 2·i − 1, i + 3."""
    text = "i" if scale == 1 else f"{scale}·i"
    if offset == 0:
        return text
    if is_symbolic(offset):  # a padding written as P: i − P + 2, as the report writes sums (not i + 2 - P)
        from archcalc.typeset import to_plain

        written = to_plain(offset)
        return f"{text} − {written[1:]}" if written.startswith("−") else f"{text} + {written}"
    return f"{text} {'−' if offset < 0 else '+'} {abs(offset)}"


__all__ = [
    "INPUT_RF", "BROADCAST", "Hull", "Lattice", "Mapped", "Merged", "ReceptiveField", "receptive_field", "sliding", "step", "summarise",
]  # fmt: skip
