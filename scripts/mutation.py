"""A small planted-bug (mutation) runner for archcalc's rule code; `scripts/mutants` runs it.

Each mutant is one small change to one rule file — an operator swapped (+ ↔ −, * → +, // → *,
< ↔ ≤, == ↔ !=, and ↔ or), a whole number moved by one, True ↔ False, a `not` or a unary
minus dropped, an op's flop kind renamed — made on the syntax tree and written into a
temporary copy of the tree (the worktree itself is never touched). The fast independent
tests then run against it in a forked child of this process (torch, sympy and pytest are
imported once, before the fork; archcalc is imported fresh from the copy in each child), with
``-x``: the first failure kills the mutant. A mutant that every test passes has survived: a
bug the tests cannot see, unless it is equivalent (it cannot change any output), which
``EQUIVALENT`` below lists with the reason.

Skipped, because no printed number depends on them: docstrings, annotations, error messages
(``raise`` statements and f-strings), ``label`` (the diagram's text) and ``to_torch`` /
``torch_args`` (the PyTorch form, proven against the static numbers by ``archcalc run``'s
checks, not by these tests).
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the rule code mutated by default
TARGETS = [
    "archcalc/ops", "archcalc/analysis.py", "archcalc/expressions.py", "archcalc/receptive.py", "archcalc/signs.py",
    "archcalc/largest.py", "archcalc/training",
]  # fmt: skip
#: rendering, not rules: nothing they compute is a count
NOT_RULES = {"archcalc/training/render.py", "archcalc/training/explain.py"}
SKIPPED_FUNCTIONS = {"label", "to_torch", "torch_args", "_rule_text"}

#: the fast, independent tests for each target (golden-file tests such as test_gallery.py are
#: never among them); fastest first, so that most mutants die within seconds
OPS_TESTS = ["tests/test_ops.py"]
FAMILY_TESTS = {
    "activation.py": ["tests/test_ops_activations.py"],
    "adaptive.py": ["tests/test_adaptive.py"],
    # the shared rules: their own tests, then the ops that lean on them most (ceil_mode's drop
    # rule; the index rules and SizedByReference of the resampling ops)
    "base.py": ["tests/test_ops_base.py", "tests/test_ceil_mode_torch.py", "tests/test_ops_resample.py"],
    "channels.py": ["tests/test_ops_channels.py"],
    "norm.py": ["tests/test_ops_norms.py"],
    "pool.py": ["tests/test_ceil_mode_torch.py"],
    "resample.py": ["tests/test_ops_resample.py"],
}
TESTS = {
    "archcalc/analysis.py": [
        "tests/test_pinned_analysis.py",
        "tests/test_papers.py",
        "tests/test_paper_checks.py",
        "tests/test_zoo.py",
        "tests/test_hostile_input.py",
    ],
    "archcalc/expressions.py": [
        "tests/test_pinned_expressions.py",
        "tests/test_expressions.py",
        "tests/test_ops.py",
        "tests/test_adaptive.py",
        "tests/test_derivations.py",
    ],
    "archcalc/receptive.py": ["tests/test_ops.py", "tests/test_receptive_fields.py"],
    "archcalc/signs.py": ["tests/test_signs.py", "tests/test_ops_resample.py"],
    "archcalc/largest.py": ["tests/test_largest.py", "tests/test_training.py", "tests/test_pinned_analysis.py"],
    "archcalc/training": ["tests/test_pinned_training_fit.py", "tests/test_training_ops.py", "tests/test_training.py"],
}

#: survivors that cannot change any output: (file, the original line stripped, mutation) → why
_SAME_SHAPE = (
    "the merge has just checked that the inputs agree here (or cannot be told apart, symbolically), so input 1's sizes are input 0's"
)
_MERGE = "archcalc/ops/merge.py"
_ANALYSIS = "archcalc/analysis.py"
_TOPOLOGICAL = "for name in nx.lexicographical_topological_sort(network.graph, key=lambda n: position.get(n, -1)):"
_SOURCE = "only the input node lacks a position, and it is the graph's one source: every topological order starts with it"
_ONE_OUTPUT = "if len(network.outputs) == 1 and not last.training_only:  # it needs every inference layer (none dangles)"
_SHORTCUT = (
    "a shortcut: one inference output needs every inference layer (a layer reaching no output is refused), which network.needs() finds too"
)
_PEAK = "peak_activations=vmax(*activations, simplify=False) if activations else 0,"
_RESAMPLE = "archcalc/ops/resample.py"
_BASE = "archcalc/ops/base.py"
_TAPS = "taps = [[(o + p - t * d) // s for t in range(k) if (o + p - t * d) % s == 0] for o in range(s + 1)]  # one period, and one more"
_WITNESSES = (
    "the witnesses only spare sympy's relation where a comparison fails at them; what they do not find, sympy "
    "decides, so any sizes give the same answers"
)
EQUIVALENT: dict[tuple[str, str, str], str] = {
    ("archcalc/expressions.py", 'if getattr(value, "is_Integer", False):', "False → True"): (
        "only symbolic (sympy) values reach this line, and every one of them has is_Integer"
    ),
    (
        "archcalc/receptive.py",
        "return Lattice(vmin(*[p.low for p in parts]), vmax(*[p.high for p in parts]), parts[0].jump)",
        "0 → 1",
    ): "the branch is taken only when every part's jump equals parts[0]'s",
    ("archcalc/training/rules.py", "def elements(shape: tuple, output: bool = False) -> str:", "False → True"): (
        "every call that leaves `output` to its default passes a pointwise op's shape (dropout's mask, LRN's "
        "intermediates), where the input's names and the output's have the same values"
    ),
    ("archcalc/receptive.py", "_cache: dict = field(default_factory=dict, repr=False)", "False → True"): (
        "only whether a field's memo shows in its dataclass repr, which nothing prints"
    ),
    (_ANALYSIS, _TOPOLOGICAL, "1 → 2"): _SOURCE,
    (_ANALYSIS, _TOPOLOGICAL, "`unary -` dropped"): _SOURCE,
    (_ANALYSIS, _ONE_OUTPUT, "1 → 2"): _SHORTCUT,
    (_ANALYSIS, _ONE_OUTPUT, "`not` dropped"): _SHORTCUT,
    (
        _ANALYSIS,
        "if all(not isinstance(count, int) or count.bit_length() <= MAX_COUNT_BITS for count in counts):",
        "`<=` → `<`",
    ): (
        "a shortcut: a count of exactly MAX_COUNT_BITS bits then takes the slow path, which refuses only counts above it, "
        "so the layer passes either way"
    ),
    (_ANALYSIS, _PEAK, "0 → 1"): (
        "unreachable: every network has a layer, and a spec whose only layers are training-only fails before "
        "(a KeyError in analysis._outputs, reported)"
    ),
    (_MERGE, "return (channels, *inputs[0][1:])", "0 → 1"): _SAME_SHAPE,
    (_MERGE, "return passthrough_formulas(inputs[0])  # every input has this shape (output_shape checks it)", "0 → 1"): _SAME_SHAPE,
    (_MERGE, "return inputs[0]", "0 → 1"): _SAME_SHAPE,
    (_MERGE, "return passthrough_formulas(inputs[0]) if all(shape == inputs[0] for shape in inputs) else {}", "0 → 1"): (
        "inside the branch every input equals input 0, and `all(shape == inputs[1] …)` holds exactly when `all(shape == inputs[0] …)` does"
    ),
    # channels.py / resample.py / base.py (session 2026-12-04b)
    (
        "archcalc/ops/resample.py",
        'lambda o: o + p - d * (k - 1), lambda o: o + p, 1, f"o + {p} − {d * (k - 1)} … o + {p}", d, True, (k, 1, d * (k - 1) - p, d)',
        "True → False",
    ): (
        "the stride-1 axis's map carries `sliding`, so receptive.step slides that window and never reads the map's monotone "
        "flag (explain reads only first, last, ratio and rule)"
    ),
    # resample.py from mutant 111, and base.py (session 2026-12-07)
    (_RESAMPLE, _TAPS, "`+` → `-`"): (
        "the survivor is the tap value's o + p: the filter makes o + p − t·d a multiple of s, so (o − p − t·d)//s is "
        "(o + p − t·d)/s + ⌊−2p/s⌋, every value moved by one constant, and the monotone flag (their one reader) only "
        "compares them with each other"
    ),
    (_RESAMPLE, _TAPS, "`//` → `*`"): (
        "the filter makes o + p − t·d a multiple of s, so ·s in place of /s multiplies every value by s² > 0, and the "
        "monotone flag (their one reader) only compares them with each other"
    ),
    (_RESAMPLE, _TAPS, "1 → 2"): (
        "one more position, s + 1, whose taps are position 1's each one unit on (o + s reads what o reads, + 1): it is "
        "reached exactly when 1 is, and the pair (s, s + 1) compares as (0, 1) already does"
    ),
    (_RESAMPLE, "monotone = all(min(a) <= min(b) and max(a) <= max(b) for a, b in zip(taps, taps[1:], strict=False))", "`<=` → `<`"): (
        "it can only mark non-monotone a field whose ends never go down, and such a field read as non-monotone gives the "
        "same numbers: the min and max over every unit read (which run from the first to the last in whole steps) are "
        "the first unit's low and the last unit's high (a symbolic index is refused either way: hits() needs numbers)"
    ),
    (
        _RESAMPLE,
        "return AxisMap(lambda o: min(hits(o)), lambda o: max(hits(o)), Fraction(1, s), rule, d // gcd(d, s), monotone)",
        "`//` → `*`",
    ): (
        "gcd(d, s) is 1 on this line: with a common factor g > 1, positions o with o + p ≢ 0 (mod g) meet no tap and "
        "the layer was refused above, so d // 1 = d * 1"
    ),
    (_BASE, 'model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)', "True → False"): (
        "frozen and defer_build (populate_by_name's is killed by test_ops_base): archcalc never assigns to an op's "
        "field nor hashes an op, so a mutable one counts the same, and defer_build only moves when pydantic builds a "
        "kind's validator (at class creation, not first use), the same validator either way"
    ),
    (
        _BASE,
        'return [(shape[axis], "==", inputs[0][axis]) for shape in inputs[1:] for axis in range(1, min(len(shape), len(inputs[0])))]',
        "0 → 1",
    ): (
        "the survivor is len(inputs[0]) → len(inputs[1]) (the other is killed): the ops keeping this default that take "
        "several inputs (add, concat) refuse inputs of different ranks first, so the two lengths are equal, and with one "
        "input the inner range is never reached"
    ),
    (
        _BASE,
        "def conv_out_size(size: Value, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool = False) -> Value:",
        "False → True",
    ): "the default is never read: both callers pass ceil_mode (_slide its own, pool's dropped-window check True)",
    (_BASE, "_slide_symbolic = functools.lru_cache(maxsize=4096)(_slide)", "4096 → 4097"): (
        "the memo's capacity only: _slide is a pure function of its arguments and its errors are not cached, so a cache "
        "of any size returns what the call would"
    ),
    # training/memory.py, analysis.py (session 2026-12-07, m9m)
    (_ANALYSIS, "validity: Any = field(default=None, repr=False, compare=False)", "False → True"): (
        "whether the validity callable takes part in an Analysis's repr and ==: archcalc never prints an Analysis whole, "
        "never compares two and cannot hash one (its list fields), so neither mutant changes any output"
    ),
    # expressions.py (session 2026-12-07d)
    ("archcalc/expressions.py", "_WITNESSES = (1024, 1, 7)", "1024 → 1025"): _WITNESSES,
    ("archcalc/expressions.py", "_WITNESSES = (1024, 1, 7)", "7 → 8"): _WITNESSES,
    # largest.py (session 2026-12-07d)
    ("archcalc/largest.py", "if big_number >= small_number and all(at_least(name) for name in names):", "`>=` → `>`"): (
        "with equal numbers the folded check that follows is this one (n·f − n·g ≥ 0 exactly when f − g ≥ 0), for any "
        "name; and _factorwise never compares two plain numbers (undominated's first rule keeps the largest): the fast "
        "path only spares the scaled differences' residue walks"
    ),
    # signs.py (sessions 2026-12-07c and 2026-12-07d)
    ("archcalc/signs.py", "MAX_PERIOD = 4096", "4096 → 4097"): (
        "a limit chosen, not derived: the tests read it from the module (a period one above it is refused, one at it decided)"
    ),
    # receptive.py / expressions.py / training (session 2026-12-04b)
    # expressions.py (session 2026-12-07, m9e)
    (
        "archcalc/expressions.py",
        "if type(a) is int and type(b) is int:  # the common case: Python's own floor division",
        "`is` → `is not`",
    ): (
        "the second `is` (the first is killed): it sends an int a over a non-int b to `a // b`, which is the same number "
        "as the slow path's: int // Fraction is Fraction's exact floor, int // bool an int's, and int // sympy is sympy's "
        "floor(a/b) (Integer(a // b) for an Integer b), what _nested gives, as a plain a has no floor to flatten; "
        "(int, int) then takes int(Fraction(a) // Fraction(b)) = a // b; they part only at a zero divisor, which "
        "never reaches floordiv (the evaluator refuses one, and op divisors are validated positive)"
    ),
    **{
        ("archcalc/expressions.py", "_PROBES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 31, 32, 33, 64, 65, 224, 299)", f"{n} → {n + 1}"): (
            "the probes pick only which differences take the shortcut to None, and one that is 0 at a size and not at "
            "another is not identically 0 (simplify keeps values, so it cannot give 0), keeps a name (not a number) and "
            "is 0 somewhere (sympy's is_zero cannot be False), so simplify's path returns None for it too"
        )
        for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 31, 32, 33, 64, 65, 224, 299)
    },
    ("archcalc/expressions.py", "seen.add(value == 0)", "`==` → `!=`"): (
        "seen then holds the negation of each probe's `is zero`, and it has two elements at exactly the same probe"
    ),
    ("archcalc/expressions.py", "if len(seen) == 2:", "2 → 3"): (
        "without the shortcut to None, a difference that is 0 at a size and not at another is not identically 0 "
        "(simplify keeps values, so it cannot give 0), keeps a name (not a number) and is 0 somewhere (sympy's is_zero "
        "cannot be False), so simplify's path returns None for it too"
    ),
    (
        "archcalc/expressions.py",
        "return True  # zero at one size and not at another: undecidable, without simplify",
        "True → False",
    ): (
        "without the shortcut to None, a difference that is 0 at a size and not at another is not identically 0 "
        "(simplify keeps values, so it cannot give 0), keeps a name (not a number) and is 0 somewhere (sympy's is_zero "
        "cannot be False), so simplify's path returns None for it too"
    ),
    ("archcalc/receptive.py", "fields: tuple | None = field(default=None, compare=False, repr=False)", "False → True"): (
        "whether the per-unit fields take part in a ReceptiveField's == and repr: archcalc never compares, hashes or "
        "prints a field whole, only its numbers and units"
    ),
    (
        "archcalc/receptive.py",
        "if len(lattices) == len(parts) and all(equal(part.jump, parts[0].jump) is True for part in parts):",
        "0 → 1",
    ): "every part's jump equals parts[1]'s exactly when every part's equals parts[0]'s (parts[0]'s included)",
    ("archcalc/receptive.py", "if (difference > 0) == larger:", "`>` → `>=`"): (
        "a difference of 0 means the term is a kept one: sympy cancels to 0 only identical terms, and dict.fromkeys removed those"
    ),
    ("archcalc/receptive.py", "step=d if isinstance(d, int) else 1,", "1 → 2"): (
        "the step is read only by _units' range, which needs numeric bounds: a symbolic d leaves them symbolic unless "
        "k = 1, and then unit i reads one unit (first = last), listed alike by any step"
    ),
    ("archcalc/expressions.py", "if b.is_Integer and b > 0:", "0 → 1"): (
        "differs at n = 1 only, where sympy writes ⌊⌊u⌋ + c⌋ and ⌊u + c⌋ alike, ⌊u⌋ + c (an integer c is pulled out)"
    ),
    ("archcalc/expressions.py", "if b.is_Integer and b > 0:", "`>` → `>=`"): (
        "differs at a divisor of 0 only, and every divisor is a validated positive stride, kernel, scale or size"
    ),
    ("archcalc/expressions.py", 'if getattr(value, "is_Rational", False):', "False → True"): (
        "only symbolic (sympy) values reach this line, and every one of them has is_Rational"
    ),
    ("archcalc/expressions.py", "if denominator & (denominator - 1) == 0:  # a power of two: exact in binary", "1 → 2"): (
        "a Fraction's denominator here is at least 2, and for every d ≥ 2, d & (d − 2) = 0 exactly when d & (d − 1) = 0 (d a power of two)"
    ),
    ("archcalc/training/memory.py", "walk: Walk = field(repr=False)", "False → True"): (
        "only whether a Training's repr shows its walk, which nothing prints"
    ),
    (
        "archcalc/training/model.py",
        "kept: bool = True  # False: dropped, to be recomputed (the layer is in a checkpointed block)",
        "True → False",
    ): ("attribute() sets `kept` on every SavedTensor (replace(item, kept=…)) before anything reads it"),
    ("archcalc/training/model.py", "first: bool = False  # the first layer to keep this storage: its bytes count here", "False → True"): (
        "attribute() sets `first` on every SavedTensor (replace(item, first=…)) before anything reads it"
    ),
    ("archcalc/training/model.py", "formula = elements(inputs[0] if index == 0 else out, output=index is None)", "0 → 1"): (
        "the shape picks only the names' rank (C, H, W or F); the one op that changes the rank, flatten, keeps nothing (a view)"
    ),
    ("archcalc/training/model.py", "formula = elements(inputs[0] if index == 0 else out, output=index is None)", "`==` → `!=`"): (
        "the shape picks only the names' rank (C, H, W or F); the one op that changes the rank, flatten, keeps nothing (a view)"
    ),
}


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the root
    index: int  # its position among the file's mutation points
    line: int
    description: str
    source_line: str
    function: str = ""  # the function it is in ("" at class or module level)

    def key(self) -> tuple[str, str, str]:
        return (self.path, self.source_line, self.description)


# --- making mutants ---------------------------------------------------------------------------
BINARY = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Add,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}
COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
           ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}  # fmt: skip
#: the relations of ``always(a, relation, b)``, mutated as COMPARE's operators are
RELATIONS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Div: "/", ast.Mod: "%", ast.Pow: "**",
          ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is",
          ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.And: "and", ast.Or: "or"}  # fmt: skip


class _Points(ast.NodeTransformer):
    """Walks a module in a fixed order, numbering every mutation point; with ``apply`` set,
    makes the change at that number."""

    def __init__(self, apply: int | None = None):
        self.apply, self.count, self.points, self.functions = apply, 0, [], [""]

    def _point(self, node: ast.AST, description: str) -> bool:
        self.points.append((node.lineno, description, self.functions[-1]))
        self.count += 1
        return self.count - 1 == self.apply

    def _skip(self, node: ast.AST) -> ast.AST:
        return node  # not visited: nothing inside is a rule

    visit_Raise = visit_JoinedStr = visit_Assert = visit_Import = visit_ImportFrom = _skip

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        if node.name in SKIPPED_FUNCTIONS:
            return node
        self.functions.append(node.name)
        node.body = self._body(node.body)
        self.functions.pop()
        node.args.defaults = [self.visit(d) for d in node.args.defaults]
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def _body(self, body: list) -> list:
        """The statements visited but a docstring, kept as it is (archcalc reads the op units'
        docstrings: `explain` quotes their rule lines)."""
        docstring = bool(body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        docstring = docstring and isinstance(body[0].value.value, str)
        return body[:1] + [self.visit(stmt) for stmt in body[1:]] if docstring else [self.visit(stmt) for stmt in body]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        # an op's flop kind names the counts it files: renaming it changes flops_by_kind
        if (len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "flop_kind"
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):  # fmt: skip
            if self._point(node, f'flop_kind "{node.value.value}" → "{node.value.value}_"'):
                node.value = ast.Constant(node.value.value + "_")
            return node
        return self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        if node.arg == "strict":  # zip(…, strict=True) only turns a length mismatch into an error
            return node
        return self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        new = BINARY.get(type(node.op))
        if new and self._point(node, f"`{SYMBOL[type(node.op)]}` → `{SYMBOL[new]}`"):
            node.op = new()
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for position, op in enumerate(node.ops):
            new = COMPARE.get(type(op))
            if new and self._point(node, f"`{SYMBOL[type(op)]}` → `{SYMBOL[new]}`"):
                node.ops[position] = new()
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        """``always(a, "<", b)`` (archcalc.expressions) compares as ``a < b`` does: its relation
        is mutated as a comparison's operator is."""
        self.generic_visit(node)
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        relation = node.args[1] if name == "always" and len(node.args) == 3 else None
        if isinstance(relation, ast.Constant) and relation.value in RELATIONS:
            new = RELATIONS[relation.value]
            if self._point(node, f"`{relation.value}` → `{new}`"):
                node.args[1] = ast.Constant(new)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._point(node, f"`{SYMBOL[type(node.op)]}` → `{SYMBOL[new]}`"):
            node.op = new()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, (ast.Not, ast.USub)):
            what = "not" if isinstance(node.op, ast.Not) else "unary -"
            if self._point(node, f"`{what}` dropped"):
                return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._point(node, f"{value} → {not value}"):
                return ast.Constant(not value)
        elif isinstance(value, int):
            if self._point(node, f"{value} → {value + 1}"):
                return ast.Constant(value + 1)
        return node


def mutants_of(root: Path, path: str) -> list[Mutant]:
    source = (root / path).read_text()
    points = _Points()
    points.visit(ast.parse(source))
    lines = source.splitlines()
    return [Mutant(path, i, line, text, lines[line - 1].strip(), function) for i, (line, text, function) in enumerate(points.points)]


def mutated_source(root: Path, mutant: Mutant) -> str:
    tree = ast.parse((root / mutant.path).read_text())
    transformer = _Points(apply=mutant.index)
    tree = transformer.visit(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def target_files(root: Path, only: list[str] | None) -> list[str]:
    files = []
    for target in only or TARGETS:
        path = root / target
        found = sorted(path.glob("*.py")) if path.is_dir() else [path]
        if not found or not all(p.is_file() for p in found):
            raise SystemExit(f"mutants: no Python file at {target}")
        files += [str(p.relative_to(root)) for p in found if p.name != "__init__.py" or path.is_file()]
    named = set(only or ())
    return [f for f in files if f not in NOT_RULES or f in named]  # rendering only when named itself


def quick_tests(root: Path, mutant: Mutant) -> list[str]:
    """For an op unit's rule: tests/test_ops.py narrowed to the kinds that file registers (the
    `kind: Literal["…"]` declarations), a first pass before the whole set."""
    if not mutant.path.startswith("archcalc/ops/") or mutant.function == "training_rules":
        return []
    kinds = re.findall(r'kind: Literal\["([a-z_0-9]+)"\]', (root / mutant.path).read_text())
    if not kinds:
        return []
    return ["tests/test_ops.py", "-k", " or ".join([*kinds, "flags", "stated", "accepted", "defaults", "formula"])]


def tests_for(mutant: Mutant) -> list[str]:
    path = mutant.path
    if mutant.function == "training_rules":  # an op's training rules: what the training tests check
        return TESTS["archcalc/training"]
    if path.startswith("archcalc/ops/"):
        return OPS_TESTS[:1] + FAMILY_TESTS.get(Path(path).name, []) + OPS_TESTS[1:]
    for target, tests in TESTS.items():
        if path == target or path.startswith(target + "/"):
            return tests
    raise SystemExit(f"mutants: no tests are listed for {path}: pass --tests")


# --- running them -----------------------------------------------------------------------------
def copy_tree(root: Path, into: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".venv", "reports", ".pytest_cache", "node_modules")
    shutil.copytree(root, into, ignore=ignore, symlinks=True)
    return into


def run_tests(tree: Path, tests: list[str], timeout: float, log: Path) -> tuple[str, str]:
    """Runs pytest on ``tests`` inside ``tree`` in a forked child; → (outcome, detail): "passed",
    "failed" (with the first failing test), "timeout" or "error" (rc and the log's last line)."""
    pid = os.fork()
    if pid == 0:  # the child: a fresh archcalc from the copy
        os.setsid()
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(tree)
            sys.path.insert(0, str(tree))
            import pytest

            code = pytest.main(["-x", "-q", "-rf", "-p", "no:cacheprovider", *tests])
            archcalc = sys.modules.get("archcalc") if (tree / "archcalc").is_dir() else None
            if archcalc is not None and not Path(archcalc.__file__).resolve().is_relative_to(tree.resolve()):
                print(f"mutants: archcalc was imported from {archcalc.__file__}, not the copy", flush=True)
                code = 99
        except BaseException as error:  # noqa: BLE001 — the child must never return into the runner
            print(f"mutants: {error!r}", flush=True)
            code = 98
        sys.stdout.flush()
        os._exit(int(code))
    deadline = time.monotonic() + timeout
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                _kill(pid)
                return "timeout", f"over {timeout:.0f} s"
            time.sleep(0.05)
    except BaseException:  # interrupted: the child and its own children go too
        _kill(pid)
        raise
    code = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if code == 0:
        return "passed", ""
    if code == 1:
        failed = re.search(r"^FAILED (\S+)", text, re.MULTILINE)
        return "failed", failed.group(1) if failed else "a test failed"
    last = text.strip().splitlines()[-1] if text.strip() else ""
    return "error", f"rc {code}: {last[:160]}"


def _kill(pid: int) -> None:
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # so that the temporary copy is removed on the way out


def preload(root: Path) -> None:
    """The heavy libraries, imported once before any fork (never archcalc: each child imports
    the mutated copy)."""
    sys.dont_write_bytecode = True  # a stale .pyc must never stand in for a mutated file
    if not (root / "archcalc").is_dir():
        return
    if "archcalc" in sys.modules:
        raise SystemExit("mutants: archcalc is already imported here, so the children would not see the mutants")
    for name in ("torch", "torchvision", "sympy", "networkx", "pydantic", "yaml", "hypothesis", "click", "pytest"):
        try:
            __import__(name)
        except ImportError:
            pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)  # the machine is shared


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    files = target_files(root, args.only)
    mutants = [m for f in files for m in mutants_of(root, f)]
    if args.line:
        mutants = [m for m in mutants if m.line in args.line]
    if args.sample:
        mutants = sorted(random.Random(args.seed).sample(mutants, min(args.sample, len(mutants))), key=lambda m: (m.path, m.index))
    mutants = mutants[args.skip : args.skip + args.limit if args.limit else None]
    print(f"mutants: {len(mutants)} mutants of {len(files)} files", flush=True)
    if not mutants:
        return 0
    preload(root)
    signal.signal(signal.SIGTERM, _interrupt)
    started, counts, survivors = time.monotonic(), {"killed": 0, "survived": 0, "equivalent": 0, "not run": 0}, []
    with tempfile.TemporaryDirectory(prefix="archcalc-mutants-") as folder:
        tree, log = copy_tree(root, Path(folder) / "tree"), Path(folder) / "log.txt"
        baseline = {}
        for mutant in mutants:
            tests = args.tests or tests_for(mutant)
            if tuple(tests) not in baseline:  # the unmutated tree must pass, and sets the timeout
                began = time.monotonic()
                outcome, detail = run_tests(tree, tests, args.timeout or 1800, log)
                if outcome != "passed":
                    print(f"mutants: the unmutated tests fail ({outcome} {detail}); see {' '.join(tests)}", flush=True)
                    return 2
                baseline[tuple(tests)] = max(60.0, 4 * (time.monotonic() - began))
            if args.budget and time.monotonic() - started > args.budget:
                counts["not run"] += 1
                continue
            original = (tree / mutant.path).read_text()
            (tree / mutant.path).write_text(mutated_source(root, mutant))
            try:
                outcome, detail = "passed", ""
                first = [] if args.tests else quick_tests(root, mutant)
                if first:  # the op table's rows of this file's ops first: most mutants die there in seconds
                    outcome, detail = run_tests(tree, first, args.timeout or baseline[tuple(tests)], log)
                if outcome == "passed":
                    outcome, detail = run_tests(tree, tests, args.timeout or baseline[tuple(tests)], log)
            finally:
                (tree / mutant.path).write_text(original)
            where = f"{mutant.path}:{mutant.line}: {mutant.description}  [{mutant.source_line[:90]}]"
            if outcome == "passed":
                reason = EQUIVALENT.get(mutant.key())
                counts["equivalent" if reason else "survived"] += 1
                print(f"{'EQUIVALENT' if reason else 'SURVIVED  '} {where}" + (f" — {reason}" if reason else ""), flush=True)
                if not reason:
                    survivors.append(where)
            else:
                counts["killed"] += 1
                if args.verbose:
                    print(f"killed     {where} — {outcome}: {detail}", flush=True)
    total = sum(counts.values())
    summary = ", ".join(f"{count} {what}" for what, count in counts.items() if count or what != "not run")
    print(f"mutants: {total} in {time.monotonic() - started:.0f} s: {summary}", flush=True)
    return 1 if survivors else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/mutants", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", action="append", metavar="PATH", help="a rule file or folder to mutate (repeatable; default: all rule code)")
    p.add_argument("--line", action="append", type=int, help="only the mutants on this line (repeatable)")
    p.add_argument("--limit", type=int, default=0, help="run at most N mutants")
    p.add_argument("--skip", type=int, default=0, help="skip the first N mutants (to run a file in pieces)")
    p.add_argument("--sample", type=int, default=0, help="a random sample of N mutants (with --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tests", nargs="+", help="the test files to run (default: each target's fast independent tests)")
    p.add_argument("--timeout", type=float, default=0, help="seconds per mutant (default: 4 × the unmutated run, at least 60)")
    p.add_argument("--budget", type=float, default=0, help="stop starting mutants after this many seconds")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--verbose", "-v", action="store_true", help="print killed mutants too")
    p.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list:
        root = Path(args.root).resolve()
        for f in target_files(root, args.only):
            for m in mutants_of(root, f):
                print(f"{m.path}:{m.line}: {m.description}  [{m.source_line[:90]}]")
        return 0
    return run(args)
