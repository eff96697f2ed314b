"""Turn DOT text into a file: svg, png or pdf through Graphviz's ``dot`` (driven by the
``graphviz`` package), or the DOT text itself. Where ``dot`` is missing, the DOT text is
still written and the error says how to install Graphviz."""

from __future__ import annotations

import re
from pathlib import Path

from archcalc.errors import ArchcalcError, SpecError
from archcalc.writing import write_new

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = (
    "install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz; else https://graphviz.org/download/)"
)
#: Graphviz's bitmap renderer scales anything larger down to this many pixels a side
MAX_PIXELS = 32767
PNG_DPI = 96


class GraphvizMissing(ArchcalcError):
    """Graphviz's ``dot`` is not installed."""


def render(dot: str, path: str | Path) -> tuple[Path, str | None]:
    """Write ``dot`` to ``path`` as svg, png, pdf or dot, by its extension; returns the path
    and a note for the reader, if any. Without ``dot``, writes the DOT text beside it
    (``.dot``, or ``-1.dot``, ``-2.dot`` … when that exists) and raises GraphvizMissing."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise SpecError(f"{path}: expected a file ending in .{', .'.join(FORMATS)}, found {path.suffix or 'no extension'!r}")
    if fmt == "dot":
        _write(path, dot.encode("utf-8"))
        return path, None
    note = None
    try:
        if fmt == "png":
            dot, note = _fit_bitmap(dot)
        data = _pipe(dot, fmt)
    except GraphvizMissing as error:
        # the DOT text beside the target, under a name nothing has: never replace a file the user did not name
        wanted = path.with_suffix(".dot")
        fallback = write_new(wanted, dot.encode("utf-8"))
        kept = f" ({wanted} exists and was left as it was)" if fallback != wanted else ""
        missing = f"Graphviz's `dot` was not found, so {path} was not drawn"
        raise GraphvizMissing(f"{missing}; wrote {fallback}{kept} — {INSTALL_HINT}") from error
    _write(path, data)
    return path, note


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as error:
        raise ArchcalcError(f"cannot write {path}: {error.strerror}") from None


def _pipe(dot: str, fmt: str) -> bytes:
    import graphviz

    try:
        return graphviz.Source(dot).pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise GraphvizMissing("Graphviz's `dot` was not found") from None
    except graphviz.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace").strip().splitlines()
        raise ArchcalcError(f"Graphviz's `dot` failed: {detail[0] if detail else error}") from None


def _fit_bitmap(dot: str) -> tuple[str, str | None]:
    """Lower the PNG's resolution when the drawing would pass Graphviz's pixel limit, which
    otherwise shrinks it silently; say so, since the SVG keeps every detail."""
    svg = _pipe(dot, "svg").decode()
    size = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    longest = max(float(size[1]), float(size[2])) if size else 0.0  # points: 72 to the inch
    if longest * PNG_DPI / 72 <= MAX_PIXELS:
        return dot, None
    dpi = int(MAX_PIXELS * 72 // longest)
    head, rest = dot.split("\n", 1)
    note = f"drawn at {dpi} dpi to stay within Graphviz's {MAX_PIXELS:,}-pixel limit; an .svg keeps full detail, --depth makes it smaller"
    return f"{head}\n  graph [dpi={dpi}];\n{rest}", note
