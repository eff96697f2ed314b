"""The data behind every figure: plain, exact and free of matplotlib.

A figure builder (``layers``, ``size``, ``compare``) turns analyses into one of these; the
drawing (``archcalc.plots.draw``) only lays them out. Tests read these, not pixels, and the
gallery checks a drawn figure for freshness by the ``digest`` of its data (written into the
SVG), as it checks a diagram by the digest of its DOT.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from fractions import Fraction

from archcalc.expressions import Value, to_json

DIGEST_PREFIX = "archcalc_plot_sha256_"


@dataclass(frozen=True)
class Band:
    """A block's run of bars, first to last (inclusive), labelled with its name."""

    label: str
    first: int
    last: int


@dataclass(frozen=True)
class BarPanel:
    label: str  # the y-axis: what is counted, in which unit
    values: tuple[int, ...]  # one per category, exact
    log: bool  # a log axis: the values span more than two decades
    shares: tuple[tuple[str, Fraction], ...] = ()  # (op kind, its share of the total), largest first
    labels: tuple[str, ...] = ()  # the text over each bar, when there are few (the parts of a sum: value and share)


@dataclass(frozen=True)
class Bars:
    """Bar panels over one categorical axis (the layers in order), stacked vertically."""

    title: str
    categories: tuple[str, ...]  # the layers' names, inside the band's block where there is one
    panels: tuple[BarPanel, ...]
    bands: tuple[Band, ...] = ()
    highlighted: tuple[int, ...] = ()  # categories drawn hatched (training-only layers)
    groups: tuple[Band, ...] = ()  # runs of bars drawn in one colour each, named in a legend
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Curve:
    label: str
    values: tuple[Value | None, ...]  # one per x, exact; None where undefined


@dataclass(frozen=True)
class Lines:
    """Curves over one numeric axis, one panel each, with the sizes where nothing is defined."""

    title: str
    xlabel: str
    x: tuple[int, ...]
    panels: tuple[Curve, ...]
    undefined: tuple[tuple[int, int], ...] = ()  # runs of x (first, last) where the network is not defined
    marks: tuple[tuple[int, str], ...] = ()  # (x, label): the spec's own size
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Point:
    label: str
    x: int
    y: int


@dataclass(frozen=True)
class Scatter:
    title: str
    xlabel: str
    ylabel: str
    points: tuple[Point, ...]
    notes: tuple[str, ...] = ()


Figure = Bars | Lines | Scatter


def digest(figure: Figure) -> str:
    """A stable fingerprint of everything a figure shows."""
    text = json.dumps({"type": type(figure).__name__, **dataclasses.asdict(figure)}, default=_plain, sort_keys=True, ensure_ascii=False)
    return DIGEST_PREFIX + hashlib.sha256(text.encode()).hexdigest()


def _plain(value):
    return to_json(value) if not isinstance(value, Fraction) else str(value)
