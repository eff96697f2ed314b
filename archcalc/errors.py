"""Errors meant for people: where (file, line, layer path), what was expected, what was found."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: a file archcalc wrote itself → what the user typed (an imported model's temporary spec →
#: ``torchvision:alexnet``): errors name what the user knows, never the temporary file
SHOWN_AS: dict[str, str] = {}


class ArchcalcError(Exception):
    """A user-facing error. ``str()`` is the one-or-two-line message the CLI prints."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.path = path

    def located(self, *, file: str | None = None, line: int | None = None, path: str | None = None) -> ArchcalcError:
        """Fill in whatever location the raiser did not know (outer knowledge never overrides)."""
        self.file = self.file or file
        self.line = self.line or line
        self.path = self.path or path
        return self

    def __str__(self) -> str:
        where = ""
        shown = SHOWN_AS.get(str(self.file)) if self.file else None
        if shown:
            where = f"{shown} (its imported spec" + (f", line {self.line}" if self.line else "") + "): "
        elif self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        if self.path:
            where += f"{self.path}: "
        return where + self.message


class SpecError(ArchcalcError):
    """The spec text is malformed or does not validate."""


class GraphError(ArchcalcError):
    """The spec validates but does not wire into a DAG (names, cycles, blocks)."""


class OpError(ArchcalcError):
    """An op's rule rejects its inputs (shapes, channels, sizes)."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """'; did you mean 'x'?' when a close match exists, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def shape_text(shape: tuple) -> str:
    from archcalc.expressions import to_text

    items = [to_text(d, separators=False) for d in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
