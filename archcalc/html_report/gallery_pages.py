"""The gallery's pictures: one HTML report per network (``NAME.html``, with the gallery's
training step: Adam, float32, batch 1, the largest batch in 80 GiB), and one plot of each kind
kept as an SVG (AlexNet's per-layer, size and training plots, and the bundled networks
compared), which the READMEs show.

``archcalc.gallery`` calls ``items`` for what belongs in ``reports/``, ``write`` to draw them
and ``stale`` to check them. A page is current when it equals a fresh rendering with each
picture replaced by the digest of its data (``build.normalised``); a plot when it carries the
digest of its figure's current data — so the check draws nothing and needs neither
matplotlib nor Graphviz, while a rebuild gives the same bytes each time on one machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from archcalc.html_report.build import Parts, gather, normalised, render
from archcalc.plots import compare, layers
from archcalc.plots.figures import Figure, digest

if TYPE_CHECKING:
    from archcalc.gallery import Entry

#: the network whose plots are kept beside its page (the README's picture)
SHOWCASE = "alexnet"
#: sizes on a gallery page's size plot: every STEP-th pixel (a freshness check evaluates them all)
STEP = 4


def items(entries: list[Entry], specs_dir: Path) -> dict[str, Parts | Figure]:
    """Every page and kept plot, by its path under reports/."""
    out: dict[str, Parts | Figure] = {}
    for e in entries:
        parts = gather(specs_dir / f"{e.stem}.yaml", e.analysis, e.depth, step=STEP, dot=e.dot, training=e.training,
                       training_note=e.training_note)  # fmt: skip
        out[f"{e.stem}.html"] = parts
        if e.stem == SHOWCASE:
            out[f"{SHOWCASE}-layers.svg"] = layers.figure(e.analysis)
            if parts.sizes is not None:
                out[f"{SHOWCASE}-size.svg"] = parts.sizes
            if parts.training_bars is not None:
                out[f"{SHOWCASE}-training.svg"] = parts.training_bars
    papers = [e.analysis for e in entries if "/" not in e.stem]  # torchvision's variants would double them
    if papers:
        out["compare.svg"] = compare.figure(papers)
    return out


def need_matplotlib() -> None:
    """Fail before anything is written when the plots cannot be drawn."""
    from archcalc.plots.draw import matplotlib

    matplotlib()


def write(found: dict[str, Parts | Figure], reports_dir: Path) -> list[Path]:
    from archcalc.plots.draw import draw

    written = []
    for rel, item in found.items():
        path = reports_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(item, Parts):
            path.write_text(render(item), encoding="utf-8")
        else:
            path.write_bytes(draw(item, "svg"))
        written.append(path)
    return written


def stale(found: dict[str, Parts | Figure], reports_dir: Path) -> list[str]:
    problems = []
    for rel, item in found.items():
        path = reports_dir / rel
        if not path.exists():
            problems.append(f"{path}: missing")
        elif isinstance(item, Parts):
            if normalised(path.read_text(encoding="utf-8")) != normalised(render(item, drawn=False)):
                problems.append(f"{path}: out of date")
        elif f"<!-- {digest(item)} -->" not in path.read_text(encoding="utf-8"):
            problems.append(f"{path}: not drawn from the current data")
    return problems
