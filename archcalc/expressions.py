"""Exact arithmetic on counts that are either Python ints or sympy expressions.

Two jobs live here:

* a *safe* parser for the arithmetic users may write (block arguments such as
  ``2*width``, input sizes such as ``H``): Python's ``ast`` is used only as a
  tokenizer/parser, and a whitelist accepts numbers, names, + - * / // % ** and
  parentheses — nothing is ever ``eval``ed;
* helpers (``floordiv``, ``ceildiv``, ``vmax`` …) that stay in plain ints when every
  operand is numeric and switch to sympy only when a name is involved.

sympy is imported lazily: a numeric report never pays its ~0.4 s import.
"""

from __future__ import annotations

import ast
from fractions import Fraction
from functools import cache
from typing import Any

Value = int | Fraction | Any  # Any: a sympy.Expr

MAX_EXPRESSION_LENGTH = 200
MAX_EXPONENT = 64
MAX_POWER_BITS = 4096  # (9**64)**64 would already take seconds to compute


class ExpressionError(ValueError):
    """An expression that is malformed or uses something outside the whitelist."""


@cache
def sp():
    """The sympy module, imported on first use."""
    import sympy

    return sympy


@cache
def symbol(name: str):
    """Input-size names are positive integers, which lets sympy simplify floor()."""
    return sp().Symbol(name, integer=True, positive=True)


def is_symbolic(value: Any) -> bool:
    """A sympy expression (anything with free symbols), as opposed to an exact number."""
    return hasattr(value, "free_symbols")


def parse(text: str, names: dict[str, Value] | None = None, *, free_symbols: bool = False) -> Value:
    """Parse ``text`` as arithmetic and return its exact value.

    ``names`` binds identifiers to values; with ``free_symbols`` an unbound identifier
    becomes a positive-integer sympy symbol, otherwise it is an error.
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ExpressionError(f"cannot parse {text!r} as arithmetic") from None
    return _Evaluator(names or {}, free_symbols, text).visit(tree.body)


def names_in(text: str) -> set[str]:
    """The identifiers an expression mentions (empty when it does not parse)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


class _Evaluator(ast.NodeVisitor):
    def __init__(self, names: dict[str, Value], free_symbols: bool, text: str):
        self.names = names
        self.free_symbols = free_symbols
        self.text = text

    def generic_visit(self, node):
        what = type(node).__name__
        raise ExpressionError(f"{self.text!r}: {what} is not allowed (only numbers, names and + - * / // % **)")

    def visit_Constant(self, node):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            return self.generic_visit(node)
        if isinstance(node.value, float):
            return Fraction(str(node.value))  # exact decimal, never a binary float
        return node.value

    def visit_Name(self, node):
        if node.id in self.names:
            return self.names[node.id]
        if self.free_symbols:
            return symbol(node.id)
        raise ExpressionError(f"{self.text!r}: unknown name {node.id!r}")

    def visit_UnaryOp(self, node):
        value = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return value
        return self.generic_visit(node)

    def visit_BinOp(self, node):
        left, right = self.visit(node.left), self.visit(node.right)
        op = type(node.op)
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        if op is ast.Mult:
            return left * right
        if op in (ast.Div, ast.FloorDiv, ast.Mod) and right == 0:
            raise ExpressionError(f"{self.text!r}: division by zero")
        if op is ast.Div:
            return exact_div(left, right)
        if op is ast.FloorDiv:
            return floordiv(left, right)
        if op is ast.Mod:
            return left - right * floordiv(left, right)
        if op is ast.Pow:
            return self._power(left, right)
        return self.generic_visit(node)

    def _power(self, left: Value, right: Value) -> Value:
        """Whole exponents 0 … MAX_EXPONENT only (a negative one would leave exact arithmetic),
        and no result beyond MAX_POWER_BITS (nested powers would hang the parser)."""
        if not isinstance(right, int) or not 0 <= right <= MAX_EXPONENT:
            raise ExpressionError(f"{self.text!r}: an exponent must be a whole number from 0 to {MAX_EXPONENT}, found {right}")
        if not is_symbolic(left) and left not in (0, 1, -1):
            size = max(abs(Fraction(left).numerator).bit_length(), abs(Fraction(left).denominator).bit_length())
            if size * right > MAX_POWER_BITS:
                raise ExpressionError(f"{self.text!r}: the power is too large (over {MAX_POWER_BITS} bits)")
        return left**right


def normalize(value: Value) -> Value:
    """Integral Fractions become ints, so that counts stay ints wherever they can."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


def exact_div(a: Value, b: Value) -> Value:
    if is_symbolic(a) or is_symbolic(b):
        return sp().sympify(a) / sp().sympify(b)
    return normalize(Fraction(a) / Fraction(b))


def floordiv(a: Value, b: Value) -> Value:
    """⌊a / b⌋, exact for ints and sympy expressions alike."""
    if is_symbolic(a) or is_symbolic(b):
        return _nested(sp().floor, a, b)
    return int(Fraction(a) // Fraction(b))


def ceildiv(a: Value, b: Value) -> Value:
    """⌈a / b⌉."""
    if is_symbolic(a) or is_symbolic(b):
        return _nested(sp().ceiling, a, b)
    return -int(Fraction(-a) // Fraction(b))


def _nested(rounding, a: Value, b: Value) -> Value:
    """rounding(a / b), flattening the nests that stacked layers produce.

    For a positive integer n and integer c: ⌊⌊u⌋ + c⌋/n⌋ = ⌊(u + c)/n⌋, and likewise for
    ⌈⌉ — so floor(floor(H/2)/2) is written floor(H/4), which a reader can check by eye.
    """
    a, b = sp().sympify(a), sp().sympify(b)
    if b.is_Integer and b > 0:
        constant, rest = a.as_coeff_Add()
        if isinstance(rest, rounding) and constant.is_integer:
            return rounding((rest.args[0] + constant) / b)
    return rounding(a / b)


def vsum(values) -> Value:
    """Σ values; one n-ary sympy Add instead of n pairwise additions (which is quadratic)."""
    values = list(values)
    if any(is_symbolic(v) for v in values):
        return to_exact(sp().Add(*values))
    return sum(values, 0)


def vmax(*values: Value, simplify: bool = True) -> Value:
    """max(); with ``simplify=False`` a symbolic Max is left as written (still exact once
    substituted): sympy compares every pair of arguments, a minute for GoogLeNet's peak."""
    if any(is_symbolic(v) for v in values):
        return sp().Max(*dict.fromkeys(values), evaluate=simplify)  # duplicates slow it too
    return max(values)


def vmin(*values: Value) -> Value:
    if any(is_symbolic(v) for v in values):
        return sp().Min(*values)
    return min(values)


def definitely(condition: Any) -> bool:
    """True only when ``condition`` holds for every admissible value of the names.

    Plain bools pass through; a sympy relation counts only when sympy can decide it.
    """
    if isinstance(condition, bool):
        return condition
    return bool(condition == sp().true)


def equal(a: Value, b: Value) -> bool | None:
    """True or False when decidable, None when sympy cannot tell (symbolic sizes)."""
    if not is_symbolic(a) and not is_symbolic(b):
        return a == b
    difference = sp().simplify(a - b)
    if difference == 0:
        return True
    if difference.is_number or difference.is_zero is False:
        return False
    return None


def substitute(value: Value, bindings: dict[str, int]) -> Value:
    """Replace names by numbers; the result is an int (or Fraction) when all are bound."""
    if not is_symbolic(value):
        return value
    # xreplace rebuilds the tree bottom-up, so floor/ceiling/Max of numbers evaluate on the
    # way; it is many times faster than subs()
    result = value.xreplace({symbol(k): sp().Integer(v) for k, v in bindings.items()})
    return to_exact(result)


def to_exact(value: Value) -> Value:
    """A sympy number back to int/Fraction; anything symbolic unchanged."""
    if not is_symbolic(value):
        return normalize(value)
    if getattr(value, "is_Integer", False):
        return int(value)
    if getattr(value, "is_Rational", False):
        return normalize(Fraction(int(value.p), int(value.q)))
    return value


def to_json(value: Value) -> int | float | str:
    """ints stay ints; a dyadic fraction (e.g. 2.5) is an exact JSON number; the rest is text."""
    value = to_exact(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Fraction):
        denominator = value.denominator
        if denominator & (denominator - 1) == 0:  # a power of two: exact in binary
            return float(value)
        return str(value)
    return str(value)


def to_text(value: Value, *, separators: bool = True) -> str:
    """Human text: 1,234,567 for ints, 5/3 for fractions, sympy's own form otherwise."""
    value = to_exact(value)
    if isinstance(value, int):
        return f"{value:,}" if separators else str(value)
    return str(value)
