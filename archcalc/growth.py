"""How a network's costs grow with its input size: the symbolic analysis' own formulas,
evaluated exactly at a range of sizes, and where the network is defined at all.

An analysis of ``(3, H, W)`` holds every count as a formula in H and W. ``growth`` picks one
name for the x-axis (``H``), lets every other name follow it (square inputs) unless it is
fixed, and evaluates the formulas at each size — exact ints, no interpolation. A size is
*valid* when the numeric analysis there would succeed: every layer's output has at least one
element on every axis (a window no larger than its padded input), and the inputs of every
merge agree on their spatial sizes (the analysis cannot always decide that for all sizes
at once). The channel count of a merge's inputs never depends on the size here, and the
analysis checks it already.

The evaluator walks the sympy tree once per size with a memo, since the formulas of a deep
network share most of their sub-expressions (floor(H/32) appears hundreds of times); sympy's
own ``xreplace`` is the fallback for any node it does not know, so the result is exact either way.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from archcalc.analysis import Analysis
from archcalc.errors import SpecError
from archcalc.expressions import Value, is_symbolic, sp, substitute, symbol
from archcalc.ops import lookup

#: quantity → (what it is, how to read it from the analysis); all of the inference network
QUANTITIES = {
    "macs": "multiply-accumulates",
    "params": "parameters",
    "flops": "flops",
    "peak": "largest layer output, bytes",
    "activations": "all layer outputs, bytes",
}
MAX_POINTS = 5000


def quantity(analysis: Analysis, name: str) -> Value:
    """The inference network's total of one quantity (bytes at the analysis' dtype for memory)."""
    totals = analysis.inference_totals
    return {
        "macs": lambda: totals.macs,
        "params": lambda: totals.params,
        "flops": lambda: totals.flops,
        "peak": lambda: analysis.nbytes(totals.peak_activations),
        "activations": lambda: analysis.nbytes(totals.activations),
    }[name]()


@dataclass(frozen=True)
class SizeRange:
    name: str
    start: int
    stop: int  # inclusive
    step: int = 1

    @property
    def points(self) -> tuple[int, ...]:
        return tuple(range(self.start, self.stop + 1, self.step))


def parse_range(text: str) -> SizeRange:
    """``H=32:1024`` or ``H=32:1024:8`` (every 8th size), bounds inclusive."""
    name, _, bounds = text.partition("=")
    parts = bounds.split(":")
    if not name.strip().isidentifier() or len(parts) not in (2, 3) or not all(p.strip().isdigit() for p in parts):
        raise SpecError(f"--range: expected NAME=START:STOP or NAME=START:STOP:STEP with whole numbers, found {text!r}")
    start, stop, *step = (int(p) for p in parts)
    size = SizeRange(name.strip(), start, stop, step[0] if step else 1)
    if not 1 <= start <= stop or size.step < 1:
        raise SpecError(f"--range: expected 1 ≤ START ≤ STOP and STEP ≥ 1, found {text!r}")
    if len(range(start, stop + 1, size.step)) > MAX_POINTS:
        raise SpecError(f"--range: {text!r} has more than {MAX_POINTS:,} sizes; give a STEP (e.g. {name}={start}:{stop}:16)")
    return size


def parse_fixed(items: tuple[str, ...] | list[str]) -> dict[str, int]:
    """``W=224`` items → {"W": 224}."""
    fixed = {}
    for text in items:
        name, _, value = text.partition("=")
        if not name.strip().isidentifier() or not value.strip().isdigit() or int(value) < 1:
            raise SpecError(f"--fix: expected NAME=SIZE with a positive whole number, found {text!r}")
        fixed[name.strip()] = int(value)
    return fixed


@dataclass(frozen=True)
class Growth:
    name: str  # the network's
    axis: str  # the name on the x-axis
    followers: tuple[str, ...]  # names that take the axis' value (square inputs)
    fixed: dict[str, int]
    input_shape: tuple  # as analysed, with the names
    points: tuple[int, ...]
    invalid: dict[int, str]  # size → why the network is not defined there
    values: dict[str, tuple[Value | None, ...]]  # quantity → exact value per point, None where invalid
    formulas: dict[str, Value]
    training_only_left_out: bool
    dtype: str
    batch: int

    @property
    def valid_points(self) -> tuple[int, ...]:
        return tuple(p for p in self.points if p not in self.invalid)


def growth(analysis: Analysis, size: SizeRange, quantities: list[str], fixed: dict[str, int] | None = None) -> Growth:
    fixed = dict(fixed or {})
    if size.name not in analysis.symbols:
        have = f"its names: {', '.join(analysis.symbols)}" if analysis.symbols else "it is all numbers; give names with --input, e.g. 3,H,W"
        raise SpecError(f"--range names {size.name!r}, which is not a name of the input {_shape(analysis)} ({have})")
    unknown = sorted(set(fixed) - set(analysis.symbols))
    if unknown:
        raise SpecError(f"--fix names {', '.join(unknown)}, not a name of the input {_shape(analysis)}")
    fixed.pop(size.name, None)
    followers = tuple(s for s in analysis.symbols if s != size.name and s not in fixed)
    formulas = {q: quantity(analysis, q) for q in quantities}
    checks = _Checks(analysis)
    invalid, values = {}, {q: [] for q in quantities}
    for point in size.points:
        env = {symbol(s): point for s in (size.name, *followers)} | {symbol(s): v for s, v in fixed.items()}
        memo: dict = {}
        reason = checks.failure(env, memo)
        if reason:
            invalid[point] = reason
        for q in quantities:
            values[q].append(None if reason else evaluate(formulas[q], env, memo))
    if len(invalid) == len(size.points):
        first = size.points[0]
        raise SpecError(f"{analysis.name} is defined at no size of {size.name}={size.start}:{size.stop}: at {first}, {invalid[first]}")
    return Growth(
        name=analysis.name,
        axis=size.name,
        followers=followers,
        fixed=fixed,
        input_shape=analysis.input_shape,
        points=size.points,
        invalid=invalid,
        values={q: tuple(v) for q, v in values.items()},
        formulas=formulas,
        training_only_left_out=any(s.training_only for s in analysis.layers),
        dtype=analysis.dtype,
        batch=analysis.batch,
    )


def _shape(analysis: Analysis) -> str:
    from archcalc.errors import shape_text

    return shape_text(analysis.input_shape)


class _Checks:
    """The distinct conditions of validity, each with the first layer it comes from."""

    def __init__(self, analysis: Analysis):
        shapes = {s.name: s.output_shape for s in analysis.layers} | {"input": analysis.input_shape}
        self.sizes: dict[Any, str] = {}  # a symbolic output size → the first layer with it
        self.conditions: dict[tuple, str] = {}  # (a, relation, b) each op states → its first layer
        for stats in analysis.layers:
            for dim in stats.output_shape:
                if is_symbolic(dim):
                    self.sizes.setdefault(dim, stats.name)
            inputs = [shapes[name] for name in stats.inputs]
            for a, relation, b in lookup(stats.kind).size_conditions(inputs, stats.output_shape):
                if is_symbolic(a) or is_symbolic(b):
                    self.conditions.setdefault((a, relation, b), stats.name)

    def failure(self, env: dict, memo: dict) -> str | None:
        """Why the network is undefined at these sizes, or None when it is defined."""
        for dim, layer in self.sizes.items():
            if evaluate(dim, env, memo) < 1:
                return f"{layer}'s output would be empty"
        for (a, relation, b), layer in self.conditions.items():
            if not _holds(evaluate(a, env, memo), relation, evaluate(b, env, memo)):
                return f"{layer}'s inputs would {_BROKEN[relation]}"
        return None


_BROKEN = {"==": "differ in size", "<=": "be smaller than its output", "broadcasts": "not broadcast"}


def _holds(a, relation: str, b) -> bool:
    if relation == "==":
        return a == b
    if relation == "<=":
        return a <= b
    return a == b or a == 1 or b == 1


# --- exact evaluation of a formula at given sizes --------------------------------------
def evaluate(value: Value, env: dict, memo: dict | None = None) -> int | Fraction:
    """``value`` with each symbol replaced by its int in ``env`` (sympy Symbol → int): exact."""
    if isinstance(value, (int, Fraction)):  # not is_symbolic(): free_symbols walks the whole tree
        return value
    return _node(value, env, {} if memo is None else memo)


def _node(node, env: dict, memo: dict):
    hit = memo.get(node)
    if hit is None:
        hit = memo[node] = _compute(node, env, memo)
    return hit


_FOLD = {"Add": (operator.add, 0), "Mul": (operator.mul, 1)}
_ROUND = {"floor": math.floor, "ceiling": math.ceil}
_PICK = {"Max": max, "Min": min}
_COMPARE = {"GreaterThan": operator.ge, "StrictGreaterThan": operator.gt, "LessThan": operator.le,
            "StrictLessThan": operator.lt, "Equality": operator.eq, "Unequality": operator.ne}  # fmt: skip


def _compute(node, env: dict, memo: dict):
    name = type(node).__name__
    if node.is_Integer:
        return int(node)
    if node.is_Rational:
        return Fraction(int(node.p), int(node.q))
    if node.is_Symbol:
        return env[node]
    if name in _FOLD:
        function, result = _FOLD[name]
        for arg in node.args:
            result = function(result, _node(arg, env, memo))
        return _normal(result)
    if name == "Pow" and node.exp.is_Integer:
        base, exponent = _node(node.base, env, memo), int(node.exp)
        return _normal(Fraction(base) ** exponent)
    if name in _ROUND:
        return _ROUND[name](_node(node.args[0], env, memo))
    if name in _PICK:
        return _PICK[name](_node(arg, env, memo) for arg in node.args)
    if name in _COMPARE:
        return _COMPARE[name](_node(node.lhs, env, memo), _node(node.rhs, env, memo))
    if name == "Piecewise":
        return next(_node(expr, env, memo) for expr, condition in node.args if _node(condition, env, memo))
    if node is sp().true or node is sp().false:
        return bool(node)
    result = substitute(node, {str(s): v for s, v in env.items()})
    if is_symbolic(result):
        raise SpecError(f"cannot evaluate {node} at {', '.join(f'{s}={v}' for s, v in env.items())}")
    return result


def _normal(value):
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value
