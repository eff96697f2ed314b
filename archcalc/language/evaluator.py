"""The whitelisting expression evaluator: Python's ``ast`` parses, this visitor computes.

Allowed: numbers (decimals exact: ``1.4`` is 7/5), words in quotes, ``true``/``false``/``null``
(or Python's True/False/None), names, ``+ - * / // % **``, comparisons ``== != < <= > >=``
(chained as in Python), ``in``, ``is None``, ``and or not``, ``a if cond else b``, calls of the
functions in :mod:`archcalc.language.functions`, lists ``[a, b]``, indexing and slicing
``xs[0]``, ``xs[1:]``, and list comprehensions ``[f(x) for x in xs if cond]``. Everything
else (attributes, lambdas, strings' methods …) is refused; nothing is ever ``eval``ed.

Strictness: ``and``/``or``/``not``/``if`` take true or false only (a number is not a
condition); arithmetic takes numbers only; a comparison takes two values of one kind (or
``null``); a comparison that symbolic input sizes leave undecided is an error.
"""

from __future__ import annotations

import ast
from collections import ChainMap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from functools import lru_cache
from typing import Any, NoReturn

from archcalc.errors import suggest
from archcalc.expressions import ExpressionError, equal, exact_div, floordiv, is_symbolic, normalize, sp, symbol
from archcalc.language import functions
from archcalc.language.values import MAX_LIST, describe, is_number, kind_of

#: iterations of comprehensions in one expression, at most
MAX_STEPS = 1_000_000
MAX_EXPONENT = 64
MAX_POWER_BITS = 4096  # (9**64)**64 would already take seconds to compute
CONSTANTS = {"true": True, "false": False, "null": None}
ORDER = {ast.Lt: "Lt", ast.LtE: "Le", ast.Gt: "Gt", ast.GtE: "Ge"}


@lru_cache(maxsize=4096)
def parse_tree(text: str) -> ast.expr:
    """The expression's syntax tree, parsed once per distinct text: a block's entries are the
    same few texts at every instance (EfficientNet-B7's 2,447 evaluations are of 32 texts), and
    nothing changes a tree once parsed (the evaluator only reads it)."""
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"cannot parse {text!r} as an expression") from None


class Evaluator(ast.NodeVisitor):
    def __init__(self, names: Mapping[str, Any], text: str, *, free_symbols: bool = False, source: str | None = None):
        self.names = names
        self.text = text
        self.source = source if source is not None else text.strip()  # what the node positions refer to
        self.free_symbols = free_symbols
        self.steps = 0

    def evaluate(self, node: ast.AST) -> Any:
        try:
            return self.visit(node)
        except RecursionError:
            self.fail("too deeply nested")

    def fail(self, message: str) -> NoReturn:
        raise ExpressionError(f"{self.text!r}: {message}")

    def generic_visit(self, node):
        what = type(node).__name__
        self.fail(f"{what} is not allowed (only numbers, names, arithmetic, comparisons, conditions, lists and the functions)")

    # --- atoms -------------------------------------------------------------------------
    def visit_Constant(self, node):
        value = node.value
        if value is None or isinstance(value, (bool, str, int)):
            return value
        if isinstance(value, float):  # the literal as written, never the binary float
            return Fraction((ast.get_source_segment(self.source, node) or repr(value)).replace("_", ""))
        return self.generic_visit(node)

    def visit_Name(self, node):
        try:
            return self.names[node.id]
        except KeyError:
            pass
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if self.free_symbols:
            return symbol(node.id)
        self.fail(f"unknown name {node.id!r}{suggest(node.id, list(self.names))}")

    def visit_List(self, node):
        if any(isinstance(item, ast.Starred) for item in node.elts):
            return self.generic_visit(node)
        return self._bounded([self.visit(item) for item in node.elts])

    visit_Tuple = visit_List

    # --- arithmetic ----------------------------------------------------------------------
    def visit_UnaryOp(self, node):
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not self.truth(value, "not")
        self.number(value, "arithmetic")
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return value
        return self.generic_visit(node)

    def visit_BinOp(self, node):
        left, right = self.visit(node.left), self.visit(node.right)
        op = type(node.op)
        if op is ast.Add and isinstance(left, tuple) and isinstance(right, tuple):
            return self._bounded(left + right)
        self.number(left, "arithmetic")
        self.number(right, "arithmetic")
        if op in (ast.Div, ast.FloorDiv, ast.Mod) and right == 0:
            self.fail("division by zero")
        if op is ast.Add:
            result = left + right
        elif op is ast.Sub:
            result = left - right
        elif op is ast.Mult:
            result = left * right
        elif op is ast.Div:
            result = exact_div(left, right)
        elif op is ast.FloorDiv:
            result = floordiv(left, right)
        elif op is ast.Mod:
            result = left - right * floordiv(left, right)
        elif op is ast.Pow:
            result = self._power(left, right)
        else:
            return self.generic_visit(node)
        return normalize(result) if isinstance(result, Fraction) else result

    def _power(self, left, right):
        """Whole exponents 0 … MAX_EXPONENT only (a negative one would leave exact arithmetic),
        and no result beyond MAX_POWER_BITS (nested powers would hang the parser)."""
        right = normalize(right) if isinstance(right, Fraction) else right
        if not isinstance(right, int) or not 0 <= right <= MAX_EXPONENT:
            self.fail(f"an exponent must be a whole number from 0 to {MAX_EXPONENT}, found {right}")
        if not is_symbolic(left) and left not in (0, 1, -1):
            size = max(abs(Fraction(left).numerator).bit_length(), abs(Fraction(left).denominator).bit_length())
            if size * right > MAX_POWER_BITS:
                self.fail(f"the power is too large (over {MAX_POWER_BITS} bits)")
        return left**right

    # --- conditions ------------------------------------------------------------------------
    def visit_BoolOp(self, node):
        want = isinstance(node.op, ast.Or)  # `or` stops at the first true, `and` at the first false
        word = "or" if want else "and"
        for operand in node.values:
            if self.truth(self.visit(operand), word) == want:
                return want
        return not want

    def visit_IfExp(self, node):
        return self.visit(node.body) if self.truth(self.visit(node.test), "if") else self.visit(node.orelse)

    def visit_Compare(self, node):
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.visit(comparator)
            if not self._compare(op, left, right):
                return False
            left = right
        return True

    def _compare(self, op: ast.cmpop, left, right) -> bool:
        if isinstance(op, (ast.Is, ast.IsNot)):
            if left is not None and right is not None:
                self.fail("`is` compares with null (None) only; use == for values")
            return (left is right) == isinstance(op, ast.Is)
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, tuple):
                self.fail(f"`in` looks in a list, found {kind_of(right)} {describe(right)}")
            return any(self._equal(left, item) for item in right) == isinstance(op, ast.In)
        if isinstance(op, (ast.Eq, ast.NotEq)):
            return self._equal(left, right) == isinstance(op, ast.Eq)
        self.number(left, "an ordering (< <= > >=)")
        self.number(right, "an ordering (< <= > >=)")
        if not (is_symbolic(left) or is_symbolic(right)):
            return {ast.Lt: left < right, ast.LtE: left <= right, ast.Gt: left > right, ast.GtE: left >= right}[type(op)]
        relation = getattr(sp(), ORDER[type(op)])(left, right)
        if relation in (sp().true, sp().false):
            return bool(relation)
        self.undecided()

    def _equal(self, a, b) -> bool:
        if a is None or b is None:
            return a is b
        if is_number(a) and is_number(b):
            same = equal(a, b)
            if same is None:
                self.undecided()
            return same
        if isinstance(a, tuple) and isinstance(b, tuple):
            return len(a) == len(b) and all(self._equal(x, y) for x, y in zip(a, b, strict=True))
        if kind_of(a) != kind_of(b):
            self.fail(f"cannot compare {kind_of(a)} {describe(a)} with {kind_of(b)} {describe(b)}")
        return a == b

    def undecided(self) -> NoReturn:
        self.fail("cannot be decided for symbolic input sizes; give a concrete input (e.g. --input 3,224,224)")

    def truth(self, value, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(f"`{where}` takes true or false, found {kind_of(value)} {describe(value)} (compare it, e.g. `x != null`)")
        return value

    def number(self, value, where: str) -> None:
        if not is_number(value):
            self.fail(f"{where} takes numbers, found {kind_of(value)} {describe(value)}")

    # --- calls, lists -------------------------------------------------------------------------
    def visit_Call(self, node):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in functions.FUNCTIONS:
            known = list(functions.FUNCTIONS)
            what = f"unknown function {name!r} is not allowed{suggest(name, known)}" if name else "this call is not allowed"
            self.fail(f"{what} (the functions are {', '.join(known)})")
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            return self.generic_visit(node)
        args = [self.visit(a) for a in node.args]
        keywords = {k.arg: self.visit(k.value) for k in node.keywords}
        try:
            return functions.call(name, args, keywords)
        except ExpressionError as error:
            self.fail(str(error))

    def visit_Subscript(self, node):
        items = self.visit(node.value)
        if not isinstance(items, tuple):
            self.fail(f"only a list can be indexed, found {kind_of(items)} {describe(items)}")
        if isinstance(node.slice, ast.Slice):
            parts = [None if part is None else self._index(part) for part in (node.slice.lower, node.slice.upper, node.slice.step)]
            if parts[2] == 0:
                self.fail("a slice step must not be zero")
            return items[parts[0] : parts[1] : parts[2]]
        index = self._index(node.slice)
        if not -len(items) <= index < len(items):
            self.fail(f"index {index} is outside the list of {len(items)} items")
        return items[index]

    def _index(self, node) -> int:
        value = self.visit(node)
        value = normalize(value) if isinstance(value, Fraction) else value
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(f"an index is an integer, found {kind_of(value)} {describe(value)}")
        return value

    def visit_ListComp(self, node):
        values = []
        for bound in self.bindings(node.generators):
            with self._scoped(bound):
                values.append(self.visit(node.elt))
        return self._bounded(values)

    def bindings(self, generators: list[ast.comprehension], bound: dict | None = None) -> Iterator[dict]:
        """Every binding of the loop names, in order (``for a in xs for b in ys``: b varies fastest)."""
        bound = bound or {}
        if not generators:
            yield bound
            return
        first, rest = generators[0], generators[1:]
        with self._scoped(bound):
            items = self.visit(first.iter)
        if not isinstance(items, tuple):
            self.fail(f"a loop runs over a list, found {kind_of(items)} {describe(items)}")
        for item in items:
            self.steps += 1
            if self.steps > MAX_STEPS:
                self.fail(f"more than {MAX_STEPS:,} loop iterations")
            inner = dict(bound)
            self._bind(first.target, item, inner)
            with self._scoped(inner):
                if not all(self.truth(self.visit(cond), "if") for cond in first.ifs):
                    continue
            yield from self.bindings(rest, inner)

    def _bind(self, target, item, bound: dict) -> None:
        if isinstance(target, ast.Name):
            bound[target.id] = item
            return
        if not isinstance(target, (ast.Tuple, ast.List)):
            self.fail("a loop binds names, or lists of names (`t, c, n, s in table`)")
        if not isinstance(item, tuple) or len(item) != len(target.elts):
            self.fail(f"cannot unpack {describe(item)} into {len(target.elts)} names")
        for part, value in zip(target.elts, item, strict=True):
            self._bind(part, value, bound)

    @contextmanager
    def _scoped(self, bound: dict):
        outer = self.names
        self.names = ChainMap(bound, outer) if bound else outer
        try:
            yield
        finally:
            self.names = outer

    def _bounded(self, items) -> tuple:
        if len(items) > MAX_LIST:
            self.fail(f"a list longer than {MAX_LIST:,} items")
        return tuple(items)


def loop(text: str, names: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The bindings of an entry's ``for:`` clauses, written as a comprehension's:
    ``t, c, n, s in setting for i in range(n) if i < 3``."""
    source = f"[0 for {text.strip()}]"
    try:
        tree = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    if not isinstance(tree, ast.ListComp):
        raise ExpressionError(f"{text!r}: expected loops `names in list`, e.g. `t, c, n, s in setting for i in range(n)`")
    evaluator = Evaluator(names, text, source=source)
    try:
        result = []
        for bound in evaluator.bindings(tree.generators):
            result.append(bound)
            if len(result) > MAX_LIST:
                evaluator.fail(f"more than {MAX_LIST:,} iterations")
        return result
    except RecursionError:
        evaluator.fail("too deeply nested")
