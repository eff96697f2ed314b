"""Check claims against the Analysis: derive each claimed quantity, compare, and for a false
claim work out the likely cause from the numbers themselves (never guessed blindly: a cause
is reported only when the claimed value equals what that cause would produce)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from archcalc import expressions
from archcalc.analysis import Analysis, LayerStats, analyse, parse_input
from archcalc.claims import Claim, Subject, assume, claimed_value, load_claims, source_arithmetic
from archcalc.compare import weighted_path
from archcalc.errors import ArchcalcError, SpecError, shape_text
from archcalc.explain import layer_derivations, layers_of, sum_work
from archcalc.graph import Network, compile_spec
from archcalc.spec import Source, Spec, load_spec, pydantic_error

COUNTS = ("params", "macs", "connections")
MEANING = {
    "params": "trainable weights and biases",
    "macs": "multiply-accumulates, bias excluded",
    "connections": "LeCun's (fan-in + bias) × output units",
}


@dataclass
class Verdict:
    claim: Claim
    claimed: Any  # exact: int, Fraction, tuple; a list with one per `for` binding
    derived: Any
    holds: bool
    difference: Any = None
    causes: list[str] = field(default_factory=list)
    work: list[str] = field(default_factory=list)


@dataclass
class _Value:
    value: Any
    work: list[str]
    subject: Subject | None = None
    stats: list[LayerStats] = field(default_factory=list)
    network: Network | None = None


def _digest(net: dict | None) -> str | None:
    """A short cache key for an inline net: never the net's own repr (its size is the user's)."""
    if net is None:
        return None
    return hashlib.sha256(json.dumps(net, sort_keys=True, default=str).encode()).hexdigest()


class Checker:
    def __init__(self, claims_path: str | Path):
        self.path = Path(claims_path)
        self.cache: dict[tuple, tuple[Network, Analysis]] = {}

    # --- subjects ----------------------------------------------------------------------
    def analysed(self, subject: Subject, claim: Claim, args: dict[str, int]) -> tuple[Network, Analysis]:
        key = (subject.spec, _digest(subject.net), subject.input, tuple(sorted(args.items())))
        if key not in self.cache:
            spec, source = self._spec(subject, claim)
            if args:
                spec = spec.model_copy(update={"args": {**spec.args, **args}})
            shape = parse_input(_bound_input(subject.input, args) if subject.input else spec.input)
            network = compile_spec(spec, source, shape)
            self.cache[key] = (network, analyse(network))
        return self.cache[key]

    def _spec(self, subject: Subject, claim: Claim) -> tuple[Spec, Source]:
        if subject.spec is not None:
            return load_spec(self._find(subject.spec))
        try:
            spec = Spec.model_validate({"name": f"{claim.id} (inline)", **subject.net}, strict=True)
        except ValidationError as error:
            raise pydantic_error(error, ("net",), subject.net) from None
        return spec, Source(str(self.path), None)

    def _find(self, name: str) -> Path:
        """A spec path as written (from the working directory), else from the claims file's folders."""
        for folder in (Path("."), self.path.parent, *self.path.parent.resolve().parents):
            if (folder / name).is_file():
                return folder / name
        raise SpecError(f"spec {name!r} not found from the working directory or beside the claims file")

    def value(self, subject: Subject, claim: Claim, args: dict[str, int]) -> _Value:
        network, analysis = self.analysed(subject, claim, args)
        quantity = subject.quantity
        if quantity == "input_size":  # written H×W×C, as the notes write sizes
            channels, *spatial = analysis.input_shape
            return _Value(
                (*spatial, channels), [f"the network's input (C, H, W) = {shape_text(analysis.input_shape)}"], subject, [], network
            )
        stats = _chosen(analysis, subject)
        if quantity in ("params", "buffers", "macs", "connections"):
            return self._count(network, analysis, stats, quantity, subject)
        if quantity in ("weighted_layers", "layers"):
            return _Value(*_counted(stats, subject), subject, stats, network)
        if len(stats) != 1:
            raise SpecError(f"{quantity} is about one layer, found {len(stats)}: name it with `layer:`")
        return self._single(network, analysis, stats[0], quantity, subject)

    def _count(self, network, analysis, stats, quantity, subject) -> _Value:
        total = sum((getattr(s, quantity) for s in stats), 0)
        return _Value(total, sum_work(network, analysis, stats, quantity), subject, stats, network)

    def _single(self, network, analysis, stats: LayerStats, quantity, subject) -> _Value:
        shape = stats.output_shape
        if quantity == "rf":
            if stats.rf is None:
                raise SpecError(f"{stats.name} has no receptive field: its input is a flat vector")
            value = stats.rf.size
            symbols = ("rf_size_h", "rf_size_w")
        elif quantity == "output_size":
            value = (shape[1], shape[2], shape[0]) if len(shape) == 3 else shape[0]
            symbols = ("H_out", "W_out", "C_out", "F_out")
        else:
            if len(shape) != 3:
                raise SpecError(f"{quantity} needs a (C, H, W) output, but {stats.name} outputs the flat {shape_text(shape)}")
            index = {"channels": 0, "height": 1, "width": 2}[quantity]
            value = shape[index]
            symbols = ({"channels": "C_out", "height": "H_out", "width": "W_out"}[quantity], "F_out")
        work = [f"{stats.name}: {d.text()}" for d in layer_derivations(network, analysis, stats.name) if d.symbol in symbols]
        return _Value(value, work, subject, [stats], network)


def _bound_input(text: str, args: dict[str, int]) -> list[str]:
    """A subject's input ("c,17,17") with the claim's `for` arguments put in; other names stay names."""
    try:
        return [str(expressions.parse(part.strip(), args, free_symbols=True)) for part in text.split(",")]
    except expressions.ExpressionError as error:
        raise SpecError(f"input: {error}") from None


def _counted(stats: list[LayerStats], subject: Subject) -> tuple[int, list[str]]:
    """Layers with weights (trainable or fixed), or layers of one op kind."""
    if subject.quantity == "weighted_layers":
        names, what = weighted_path(stats), "layers with weights on the longest path"
    else:
        names = [s.name for s in stats if subject.kind in (None, s.kind)]
        what = f"{subject.kind} layers" if subject.kind else "layers"
    return len(names), [f"{what}: {', '.join(names)} ({len(names)})"]


def _chosen(analysis: Analysis, subject: Subject) -> list[LayerStats]:
    chosen: list[LayerStats] = []
    for name in subject.layers:
        chosen += [s for s in layers_of(analysis, name) if s not in chosen]
    return chosen


# --- comparing ------------------------------------------------------------------------------
def rounded(value, decimals: int) -> Fraction:
    """Round half up to ``decimals`` places (negative: to tens, hundreds, …), exactly."""
    scale = Fraction(10) ** decimals
    return Fraction(expressions.floordiv(Fraction(value) * scale + Fraction(1, 2), 1), scale)


def agrees(derived, claimed, claim: Claim) -> bool:
    if isinstance(claimed, tuple):
        pairs = zip(derived[: len(claimed)], claimed, strict=True) if isinstance(derived, tuple) and len(derived) >= len(claimed) else None
        return pairs is not None and all(expressions.equal(d, c) is True for d, c in pairs)
    if isinstance(derived, tuple):
        return all(agrees(d, claimed, claim) for d in derived)
    if claim.rounding is not None or claim.relation != "=":
        _need_numbers(derived, claimed, claim)
    if claim.rounding is not None:
        derived = rounded(derived, claim.rounding)
    if claim.relation == "<":
        return derived < claimed
    if claim.relation == ">":
        return derived > claimed
    return expressions.equal(derived, claimed) is True


def _need_numbers(derived, claimed, claim: Claim) -> None:
    """Rounding and `<`/`>` compare numbers: a formula in free names has no single value."""
    formula = next((v for v in (derived, claimed) if getattr(v, "free_symbols", None)), None)
    if formula is not None:
        how = f"`relation: {claim.relation}`" if claim.relation != "=" else "`rounding`"
        raise SpecError(
            f"{how} needs a number, found the formula {expressions.to_text(formula, separators=False)}: give its names values with `for:`"
        )


def decimal_text(value, places: int = 4) -> str:
    """An exact value as text: ints as they are, fractions as a/b ≈ decimal (text, not a float)."""
    value = expressions.to_exact(value)
    if isinstance(value, tuple):
        return "×".join(decimal_text(v) for v in value)
    places_needed = _decimal_places(value.denominator) if isinstance(value, Fraction) else None
    if places_needed is not None and places_needed <= places:
        return _digits(value, places_needed)  # exact: 0.25, 16.94
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator} ≈ {_digits(rounded(value, places), places)}"
    return expressions.to_text(value, separators=False)


def _decimal_places(denominator: int) -> int | None:
    """Digits after the point of 1/denominator when it terminates (2^a·5^b: max(a, b)), else None."""
    counts = []
    for prime in (2, 5):
        count = 0
        while denominator % prime == 0:
            denominator //= prime
            count += 1
        counts.append(count)
    return max(counts) if denominator == 1 else None


def _digits(value: Fraction, places: int) -> str:
    """A decimal with at most ``places`` digits after the point; ``value`` must be exact at that precision."""
    sign = "−" if value < 0 else ""
    whole, rest = divmod(abs(value.numerator) * 10**places // value.denominator, 10**places)
    return sign + f"{whole}.{rest:0{places}d}".rstrip("0").rstrip(".")


# --- one claim ------------------------------------------------------------------------------
def check_claim(checker: Checker, claim: Claim) -> Verdict:
    """Derive, compare, explain: at each `for` binding, then all together."""
    results = [_check_once(checker, claim, names) for names in claim.bindings()]
    if len(results) == 1:
        return results[0]
    labels = [", ".join(f"{k}={v}" for k, v in names.items()) for names in claim.bindings()]
    work = [f"[{label}] {line}" for label, result in zip(labels, results, strict=True) for line in result.work]
    causes = [f"[{label}] {c}" for label, r in zip(labels, results, strict=True) for c in r.causes]
    return Verdict(claim, [r.claimed for r in results], [r.derived for r in results], all(r.holds for r in results), None, causes, work)


def _check_once(checker: Checker, claim: Claim, names: dict[str, int]) -> Verdict:
    claimed = assume(claimed_value(claim, names), claim, names)
    value = _derive(checker, claim, names)
    work = list(value.work)
    if claim.where:
        value.value = assume(value.value, claim, names)
        conditions = ", ".join(f"{k} = {v}" for k, v in claim.where.items())
        work.append(f"where {conditions}: {decimal_text(value.value)}")
    holds = agrees(value.value, claimed, claim)
    causes: list[str] = []
    if claim.arithmetic:
        notes = source_arithmetic(claim.arithmetic, names)
        work.insert(0, f"the notes' arithmetic: {claim.arithmetic} = {decimal_text(notes)}")
        # a size claim "28×28" comes with the working of one side, (32−(5−1)) = 28
        side = claimed[0] if isinstance(claimed, tuple) and _scalar(notes) else claimed
        if not agrees(notes, side, claim):
            holds = False
            tail = ", which is archcalc's value" if notes == value.value else ""
            causes.append(f"an arithmetic slip in the notes: {claim.arithmetic} = {decimal_text(notes)}, not {decimal_text(side)}{tail}")
    difference = None  # claimed − derived, per axis for sizes
    if not holds and _scalar(claimed) and _scalar(value.value):
        difference = expressions.to_exact(claimed - value.value)
        causes += likely_causes(claim, value, claimed)
    elif not holds and isinstance(claimed, tuple) and isinstance(value.value, tuple) and len(value.value) >= len(claimed):
        if all(_scalar(c) and _scalar(d) for c, d in zip(claimed, value.value, strict=False)):
            difference = tuple(c - d for c, d in zip(claimed, value.value, strict=False))
    return Verdict(claim, claimed, value.value, holds, difference, causes, work)


def _scalar(value) -> bool:
    return isinstance(value, (int, Fraction))


def _derive(checker: Checker, claim: Claim, names: dict[str, int]) -> _Value:
    if claim.fact:
        return sigmoid_gradient_max()
    if claim.of:
        return checker.value(claim.of, claim, names)
    a, b = (checker.value(s, claim, names) for s in (claim.ratio or claim.difference))
    if claim.ratio:
        if expressions.equal(b.value, 0) is True:
            what = f"{b.subject.quantity} of {', '.join(b.subject.layers)}"
            raise SpecError(f"ratio: the second value ({what}) is 0, so the ratio is undefined")
        value = expressions.exact_div(a.value, b.value)
        line = f"ratio = {decimal_text(a.value)}/{decimal_text(b.value)} = {decimal_text(value)}"
    else:
        value = a.value - b.value
        line = f"difference = {decimal_text(a.value)} − {decimal_text(b.value)} = {decimal_text(value)}"
    return _Value(value, [*a.work, *b.work, line])


def sigmoid_gradient_max() -> _Value:
    """max σ'(x) for σ(x) = 1/(1 + e^−x), found with sympy: σ'' = 0 only at x = 0, where σ''' < 0."""
    sp = expressions.sp()
    x = sp.Symbol("x", real=True)
    sigma = 1 / (1 + sp.exp(-x))
    slope = sp.simplify(sp.diff(sigma, x))
    if sp.simplify(sp.diff(sigma, x) - sigma * (1 - sigma)) != 0:  # pragma: no cover - sympy confirms the textbook identity
        raise ArithmeticError("σ' is not σ(1 − σ)")
    (critical,) = sp.solve(sp.diff(slope, x), x)
    if not sp.diff(slope, x, 2).subs(x, critical) < 0:  # pragma: no cover - a maximum, checked not assumed
        raise ArithmeticError("σ' has no maximum at its critical point")
    best = expressions.to_exact(sp.nsimplify(slope.subs(x, critical)))
    work = [
        f"σ'(x) = σ(x)(1 − σ(x)) = {slope}",
        f"σ''(x) = 0 only at x = {critical}, where the third derivative is negative: a maximum",
        f"σ'({critical}) = {decimal_text(best)}",
    ]
    return _Value(best, work)


def likely_causes(claim: Claim, value: _Value, claimed) -> list[str]:
    """Causes that reproduce the claimed value exactly from archcalc's own numbers."""
    subject = value.subject
    if subject is None or subject.quantity not in COUNTS:
        return []
    causes = []
    biases = sum((_biases(value.network, s) for s in value.stats), 0)
    if subject.quantity == "params" and biases and claimed == value.value - biases:
        causes.append(f"the {biases} biases left out: {value.value} − {biases} = {claimed}")
    for other in COUNTS:
        if other != subject.quantity and claimed == sum((getattr(s, other) for s in value.stats), 0):
            causes.append(f"a convention of counting: {claimed} is the {other} count ({MEANING[other]}), not {subject.quantity}")
    if len(value.stats) > 1:
        for s in value.stats:
            part = getattr(s, subject.quantity)
            if part and claimed == value.value - part:
                causes.append(f"layer {s.name} ({s.label}) left out: {value.value} − {part} = {claimed}")
    return causes


def _biases(network: Network, stats: LayerStats) -> int:
    op = network.layers[stats.name].op
    return stats.output_shape[0] if getattr(op, "bias", False) and op.kind in ("conv", "linear") else 0


def verify_file(path: str | Path) -> list[Verdict]:
    claims, source = load_claims(path)
    checker = Checker(path)
    verdicts = []
    for index, claim in enumerate(claims.claims):
        try:
            verdicts.append(check_claim(checker, claim))
        except ArchcalcError as error:
            # the claim first, then where inside it (an inline net's layer, a spec's file)
            inner = " ".join(part for part in (f"{error.file}:" if error.file and error.file != str(path) else "", error.path) if part)
            error.message = f"{inner}: {error.message}" if inner else error.message
            error.file, error.line, error.path = str(path), source.line(("claims", index)), f"claim {claim.id}"
            raise error from None
    return verdicts


__all__ = ["Checker", "Verdict", "check_claim", "decimal_text", "rounded", "sigmoid_gradient_max", "verify_file"]
