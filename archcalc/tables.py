"""The one table renderer of the text formats: aligned columns for a terminal, and Markdown.

``report`` and ``compare`` build a ``Table`` of cells (strings, already formatted by
``archcalc.units``) and print it here; neither knows about widths, rules or pipes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ELLIPSIS = "…"


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    right: frozenset[int] = frozenset()  # the numeric columns, right-aligned
    footer: list[list[str]] = field(default_factory=list)  # totals, below a second rule


def aligned(table: Table) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; a rule under the header and above
    the footer. Lines carry no trailing blanks."""
    everything = [table.header, *table.rows, *table.footer]
    widths = [max(len(row[i]) for row in everything) for i in range(len(table.header))]

    def line(cells: list[str]) -> str:
        padded = (c.rjust(w) if i in table.right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [line(table.header), rule, *map(line, table.rows)]
    if table.footer:  # under its own rule, unless it is the whole body (totals only)
        out += [rule, *map(line, table.footer)] if table.rows else list(map(line, table.footer))
    return out


def markdown(table: Table) -> list[str]:
    """A GitHub table; the footer rows in bold."""

    def md(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---:" if i in table.right else "---" for i in range(len(table.header))]
    footer = [[f"**{c}**" if c else "" for c in row] for row in table.footer]
    return [md(table.header), md(align), *map(md, table.rows), *map(md, footer)]


def shorten(text: str, width: int, *, middle: bool = True) -> str:
    """``text`` in at most ``width`` characters: the middle gives way to an ellipsis, so a
    dotted layer path keeps its start and its last, most specific part (``middle`` false: the
    end gives way, for prose)."""
    if len(text) <= width:
        return text
    keep = width - len(ELLIPSIS)
    if not middle:
        return text[:keep].rstrip() + ELLIPSIS
    tail = (keep + 1) // 2
    return text[: keep - tail] + ELLIPSIS + text[len(text) - tail :]
