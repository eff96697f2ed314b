"""`archcalc verify`: render the verdicts on a claims file — text, JSON, Markdown — and keep
the README's generated summary and the claims page (reports/claims.md) in step. Formatting only; the checking is in ``checking``."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from archcalc.checking import Verdict, decimal_text, verify_file
from archcalc.claims import Claim
from archcalc.errors import SpecError
from archcalc.expressions import to_exact
from archcalc.loading import read_text

BEGIN, END = "<!-- verify:begin -->", "<!-- verify:end -->"
FORMATS = ("text", "json", "markdown")


def render(verdicts: list[Verdict], fmt: str) -> str:
    return {"text": text, "json": to_json_text, "markdown": markdown}[fmt](verdicts)


def value_text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(value_text(v) for v in value)
    return decimal_text(value)


def relation_words(claim: Claim) -> str:
    """What stands before the claimed value: "" for =, "below " for <, "above " for >."""
    return {"=": "", "<": "below ", ">": "above "}[claim.relation]


def rounding_words(claim: Claim) -> str:
    """How the derived value was rounded before comparing ("" when it was not)."""
    if claim.rounding is None:
        return ""
    if claim.rounding < 0:
        return f"rounded to the nearest {10**-claim.rounding:,}"
    return f"rounded to {claim.rounding} decimals"


def _comparison(v: Verdict) -> str:
    rounding = rounding_words(v.claim)
    rounding = f", {rounding}" if rounding else ""
    return f"derived {value_text(v.derived)}{rounding}; claimed {relation_words(v.claim)}{value_text(v.claimed)}"


def summary(verdicts: list[Verdict]) -> str:
    held = sum(v.holds for v in verdicts)
    return f"{len(verdicts)} claims: {held} hold, {len(verdicts) - held} do not."


def text(verdicts: list[Verdict]) -> str:
    out = []
    for v in verdicts:
        mark = "✓" if v.holds else "✗"
        difference = f"; difference {decimal_text(v.difference)}" if v.difference is not None else ""
        out.append(f"{mark} {v.claim.id}  [{v.claim.section}]  {_comparison(v)}{difference}")
        out += [f"    likely cause: {cause}" for cause in v.causes]
        if not v.holds and not v.causes:
            out.append("    likely cause: none that archcalc can reproduce from its own numbers")
        out += [f"    {line}" for line in v.work]
        for extra in (v.claim.reason, v.claim.note):
            if extra:
                out.append(f"    note: {extra}")
    out += ["", summary(verdicts)]
    return "\n".join(out)


def _json_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    value = to_exact(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"  # exact; JSON floats are not
    return str(value)


def to_dicts(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [
        {
            "id": v.claim.id,
            "section": v.claim.section,
            "quote": v.claim.quote,
            "quantity": v.claim.quantity,
            "relation": v.claim.relation,
            "rounding": v.claim.rounding,
            "claimed": _json_value(v.claimed),
            "derived": _json_value(v.derived),
            "holds": v.holds,
            "difference": _json_value(v.difference) if v.difference is not None else None,
            "causes": v.causes,
            "work": v.work,
        }
        for v in verdicts
    ]


def to_json_text(verdicts: list[Verdict]) -> str:
    return json.dumps(to_dicts(verdicts), indent=2, ensure_ascii=False)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


PAGE = "reports/claims.md"
REGENERATE = f"`archcalc verify specs/claims/seed-notes.yaml --write-readme README.md --write-page {PAGE}`"
PAGE_TITLE = "# The notes' claims, checked"
PAGE_INTRO = (
    "Every numeric claim of the study notes archcalc grew from, as `specs/claims/seed-notes.yaml` transcribes it, "
    "and what archcalc derives (`archcalc verify specs/claims/seed-notes.yaml` prints the work of each)."
)


def _false_claims(verdicts: list[Verdict]) -> list[str]:
    """One bullet per claim that does not hold, with its likely causes."""
    out = []
    for v in verdicts:
        if v.holds:
            continue
        why = "; ".join(v.causes) or "no cause archcalc can reproduce from its own numbers"
        out.append(
            f"- `{v.claim.id}` ({v.claim.section}): the notes say {value_text(v.claimed)}, archcalc derives "
            f"{value_text(v.derived)} — {why}." + (f" {v.claim.note}" if v.claim.note else "")
        )
    return out


def readme_summary(verdicts: list[Verdict], page: str = PAGE) -> str:
    """The README's generated section: the count, the claims that do not hold, and where the whole table is."""
    out = [f"{summary(verdicts)} Every claim, with the notes' words and archcalc's value: [{page}]({page}).", ""]
    false = _false_claims(verdicts)
    if false:
        out += ["Claims that do not hold:", "", *false, ""]
    out.append(f"Generated by {REGENERATE}; do not edit by hand.")
    return "\n".join(out) + "\n"


def page(verdicts: list[Verdict]) -> str:
    """reports/claims.md: the whole table, as a page of its own."""
    return f"{PAGE_TITLE}\n\n{PAGE_INTRO}\n\n{markdown(verdicts)}"


def markdown(verdicts: list[Verdict]) -> str:
    false = _false_claims(verdicts)
    out = [f"{summary(verdicts)} Generated by {REGENERATE}; do not edit by hand.", ""]
    if false:
        out += ["Claims that do not hold:", "", *false, ""]
    out += [
        "| | claim | section | the notes say | claimed | archcalc derives | why / note |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in verdicts:
        why = "; ".join(v.causes + [text for text in (v.claim.reason, v.claim.note) if text])
        relation = relation_words(v.claim)
        rounding = f" ({rounding_words(v.claim)})" if v.claim.rounding is not None else ""
        cells = [
            "✓" if v.holds else "✗",
            f"`{v.claim.id}`",
            v.claim.section,
            v.claim.quote,
            relation + value_text(v.claimed),
            value_text(v.derived) + rounding,
            why,
        ]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(out) + "\n"


def write_page(path: str | Path, verdicts: list[Verdict]) -> None:
    """Write the claims page (``page``) to ``path``."""
    try:
        Path(path).write_text(page(verdicts), encoding="utf-8")
    except OSError as error:
        raise SpecError(f"--write-page: cannot write the page: {error.strerror}", file=str(path)) from None


def write_readme_section(path: str | Path, verdicts: list[Verdict]) -> None:
    """Replace what lies between the verify markers of ``path`` with the summary (``readme_summary``)."""
    path = Path(path)
    try:
        content = _readme_text(path)
        if BEGIN not in content or END not in content:
            raise SpecError(f"expected the markers {BEGIN} and {END} in the README", file=str(path))
        head, rest = content.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        path.write_text(f"{head}{BEGIN}\n{readme_summary(verdicts)}{END}{tail}", encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise SpecError(f"--write-readme: cannot update the README: {reason}", file=str(path)) from None


def _readme_text(path: Path) -> str:
    """The README's text: a regular file of bounded size (never a FIFO to block on)."""
    try:
        return read_text(path)
    except SpecError as error:
        reason = error.message.removeprefix("cannot read the file: ")
        raise SpecError(f"--write-readme: cannot update the README: {reason}", file=str(path)) from None


def readme_section(path: str | Path) -> str:
    content = Path(path).read_text(encoding="utf-8")
    return content.split(BEGIN, 1)[1].split(END, 1)[0].removeprefix("\n")


__all__ = ["FORMATS", "page", "readme_section", "readme_summary", "render", "verify_file", "write_page", "write_readme_section"]
