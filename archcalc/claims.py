"""Claims files: what a source states about a network, validated like a spec.

A claim names its subject — a layer, several layers (summed) or the total of a bundled spec,
or of a small architecture written inline in the spec language — a quantity, the value as
the source states it, and where the source states it. Ratios and differences compare two
subjects; ``fact`` names a mathematical fact archcalc derives with sympy (the sigmoid's
steepest slope). ``arithmetic`` is the source's own working (``(55−3)/2+1``), transcribed
with its × − ∗ signs and parsed by the safe expression parser, never evaluated as Python.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError, field_validator, model_validator

from archcalc import expressions
from archcalc.errors import SpecError, suggest
from archcalc.ops import REGISTRY
from archcalc.spec import Source, parse_yaml, pydantic_error
from archcalc.wording import clip, shown

QUANTITIES = (
    "input_size",
    "output_size",
    "height",
    "width",
    "channels",
    "params",
    "buffers",
    "macs",
    "connections",
    "rf",
    "weighted_layers",
    "layers",
)
FACTS = ("sigmoid_gradient_max",)
#: quantities whose value is a size (H×W×C, a field's h×w): no ratio, difference, relation or rounding
SIZES = ("input_size", "output_size", "rf")

#: the source's typography → the parser's: 96×11×11×3, 5∗5, 55−3, 10÷2
_SIGNS = str.maketrans({"×": "*", "∗": "*", "·": "*", "−": "-", "÷": "/", "（": "(", "）": ")"})


#: "3x3x64": a letter x between numbers is a multiplication sign
_LETTER_X = re.compile(r"(?<=[0-9)])\s*x\s*(?=[0-9(])")
#: the sides of a size, "28×28×96" or "28x28": × anywhere, a letter x between numbers (or spaced)
_SIZE_SIDES = re.compile(r"×|(?<=[0-9)])\s*x\s*(?=[0-9(])|\s+x\s+")


class Strict(BaseModel):
    #: numbers are StrictInt where a count is meant (YAML's true is not 1); NaN and inf refused
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Subject(Strict):
    """A quantity of a layer (or layers, summed, or ``total``) of a spec file or an inline net."""

    spec: str | None = None
    net: dict[str, Any] | None = None
    layer: str | Annotated[list[str], Field(min_length=1)] = "total"
    quantity: Literal[QUANTITIES]  # type: ignore[valid-type]
    #: with `quantity: layers`, count only layers of this op kind (`maxpool`, `linear` …)
    kind: str | None = None
    #: replaces the net's input, e.g. "c,17,17": it may use the claim's `for` arguments
    input: str | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.spec is None) == (self.net is None):
            raise ValueError("name exactly one of `spec` (a file) or `net` (an inline architecture)")
        if self.kind is not None:
            if self.quantity != "layers":
                raise ValueError(f"`kind` counts the layers of one op kind: it goes with `quantity: layers`, not {self.quantity}")
            if self.kind not in REGISTRY:
                raise ValueError(f"unknown op kind {self.kind!r}{suggest(self.kind, REGISTRY)}")
        return self

    @field_validator("layer", mode="before")
    @classmethod
    def _some_layer(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("an empty list names no layer: name at least one, or leave `layer` out for the total")
        return value

    @property
    def layers(self) -> list[str]:
        return [self.layer] if isinstance(self.layer, str) else list(self.layer)


#: strict: `claimed: true` is neither a number nor text (YAML's booleans are not 1 and 0)
Claimed = StrictInt | StrictFloat | StrictStr


class Claim(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    section: str
    quote: str
    of: Subject | None = None
    ratio: tuple[Subject, Subject] | None = None
    difference: tuple[Subject, Subject] | None = None
    fact: Literal[FACTS] | None = None  # type: ignore[valid-type]
    arithmetic: str | None = None
    claimed: Claimed
    relation: Literal["=", "<", ">"] = "="
    #: an approximate claim ("about 4 times", "2.78"): the derived value rounded to this many
    #: decimals must equal the claimed value; ``reason`` says why the rounding is fair.
    #: Negative places round to tens, hundreds, …: a paper's "4.2×10⁹" is ``rounding: -8``
    rounding: Annotated[StrictInt, Field(ge=-15, le=6)] | None = None
    reason: str | None = None
    #: check the claim at each of these network arguments (a family: n = 3, 5, 7)
    for_: dict[str, Annotated[list[StrictInt], Field(min_length=1)]] | None = Field(default=None, alias="for")
    #: a symbolic claim's conditions, as substitutions: {M: s*m} says "s divides M"; names
    #: not bound by `for` are positive-integer symbols (the same as in a spec's input)
    where: dict[str, str] | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one_subject(self):
        given = [name for name in ("of", "ratio", "difference", "fact") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a claim is about exactly one of of/ratio/difference/fact, found {given or 'none'}")
        if self.rounding is not None and not self.reason:
            raise ValueError("a rounded claim needs `reason`: why the rounding is fair to the source")
        pair = self.ratio or self.difference
        if pair is not None:
            sizes = [s.quantity for s in pair if s.quantity in SIZES]
            if sizes:
                kind = "ratio" if self.ratio else "difference"
                raise ValueError(f"a {kind} compares two numbers; {sizes[0]} is a size (H×W…): name height, width or channels")
        if self.of is not None and self.of.quantity in SIZES and (self.relation != "=" or self.rounding is not None):
            raise ValueError(f"{self.of.quantity} is a size (H×W…), compared exactly: `relation` and `rounding` do not apply")
        return self

    @field_validator("claimed", mode="before")
    @classmethod
    def _not_a_boolean(cls, value):
        if isinstance(value, bool):  # YAML's true/false would otherwise pass for 1 and 0
            raise ValueError(f"claimed is a number or text (27, 2.78, 27×27×96), found {str(value).lower()}")
        return value

    @field_validator("for_")
    @classmethod
    def _bindings(cls, value):
        if value is not None and len({len(v) for v in value.values()}) > 1:
            raise ValueError("every `for` argument needs the same number of values")
        return value

    @property
    def quantity(self) -> str:
        if self.fact:
            return self.fact
        if self.of:
            return self.of.quantity
        kind = "ratio" if self.ratio else "difference"
        a, b = self.ratio or self.difference
        return f"{kind} of {a.quantity}"

    def bindings(self) -> list[dict[str, int]]:
        if not self.for_:
            return [{}]
        names = list(self.for_)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.for_.values(), strict=True)]


class ClaimsFile(Strict):
    source: str
    #: inline architectures shared by several claims through YAML anchors (&name / *name)
    nets: dict[str, dict[str, Any]] = {}
    claims: list[Claim] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self):
        ids = [c.id for c in self.claims]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate claim ids: {', '.join(duplicates)}")
        return self


def load_claims(path: str | Path) -> tuple[ClaimsFile, Source]:
    """The validated claims, and the YAML nodes behind them (for error lines)."""
    root, data = parse_yaml(Path(path))  # the safe loader, with located YAML errors
    source = Source(str(path), root)
    try:
        return ClaimsFile.model_validate(data), source
    except ValidationError as error:
        problem = pydantic_error(error, (), data, known_of=_known_fields)
        raise source.locate(problem, problem.loc) from None


def _known_fields(loc: tuple) -> list[str]:
    """The fields that could be meant where an unknown one is written (for "did you mean")."""
    model = {1: ClaimsFile, 3: Claim}.get(len(loc), Subject)  # claims.3.of.layer, claims.3.ratio.0.layer: a subject
    return [field.alias or name for name, field in model.model_fields.items()]


# --- the source's numbers ----------------------------------------------------------------
def source_arithmetic(text: str, names: dict[str, int] | None = None, symbolic: bool = False, field: str = "arithmetic"):
    """The source's own working, e.g. "(32−(5−1))", "96×11×11×3+96" or "3x3x256", exactly.
    ``field`` is the claim's field the text is from (`arithmetic`, `claimed`, `where`), which an error blames."""
    normal = _LETTER_X.sub("*", text.translate(_SIGNS))
    try:
        return expressions.parse(normal, names or {}, free_symbols=symbolic)
    except expressions.ExpressionError as error:
        raise SpecError(f"{field} {shown(text)}: {clip(str(error))}") from None


def claimed_value(claim: Claim, names: dict[str, int]):
    """The claimed value, exact: 0.25 → 1/4, "16.94" → 1694/100, "28×28" → (28, 28),
    "2*n*c*c" with the `for` arguments bound."""
    value = claim.claimed
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return Fraction(repr(value))  # the decimal as written, never the binary float
    symbolic = claim.where is not None
    if claim.of is not None and claim.of.quantity in SIZES:
        sides = _SIZE_SIDES.split(value)
        if len(sides) > 1:
            return tuple(source_arithmetic(part.strip(), names, symbolic, "claimed") for part in sides)
    return source_arithmetic(value, names, symbolic, "claimed")


def assume(value, claim: Claim, names: dict[str, int]):
    """Apply the claim's `where` substitutions (its conditions) to an exact value or a tuple."""
    if not claim.where:
        return value
    if isinstance(value, tuple):
        return tuple(assume(v, claim, names) for v in value)
    if not expressions.is_symbolic(value):
        return value
    rules = {expressions.symbol(name): source_arithmetic(text, names, True, f"where.{name}") for name, text in claim.where.items()}
    return expressions.to_exact(expressions.sp().simplify(value.subs(rules)))


__all__ = ["FACTS", "QUANTITIES", "SIZES", "Claim", "ClaimsFile", "Subject", "assume", "claimed_value", "load_claims", "source_arithmetic"]
