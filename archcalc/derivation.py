"""Derivations: how a number came to be, written out for a person to check.

A derivation is one general formula, written once as plain arithmetic over named values
(``(H + 2*p - d*(k - 1) - 1)//s + 1``), plus the values of those names for one layer. The
same text is

* shown in the notation of the papers (⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1),
* shown again with the values put in (⌊(227 + 2×0 − 1×(11 − 1) − 1)/4⌋ + 1), and
* *evaluated* by the safe expression parser to give the result.

So the work a student reads is exactly the arithmetic that produced the number; the tests
check that it agrees with the op's rule (the Analysis) on every layer of every spec.

Op units provide ``derivation_formulas`` (symbol → formula text) and ``derivation_values``
(the names' values for given inputs); see ``Op`` in ``archcalc.ops.base``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from archcalc import expressions
from archcalc.expressions import Value
from archcalc.units import text as to_text

#: symbol on the left of a derivation → the quantity it belongs to
SHAPE_SYMBOLS_3 = ("C_out", "H_out", "W_out")
SHAPE_SYMBOLS = (*SHAPE_SYMBOLS_3, "F_out")
QUANTITIES = ("shape", "params", "buffers", "macs", "connections", "rf")


@dataclass(frozen=True)
class Derivation:
    """``symbol = formula = substituted = result``; ``note`` says anything a reader should know
    (a convention, or that the rule has no step-by-step formula)."""

    quantity: str
    symbol: str
    formula: str
    substituted: str
    result: Value
    note: str | None = None

    def text(self) -> str:
        parts = [self.symbol, self.formula]
        if self.substituted and self.substituted != self.formula:
            parts.append(self.substituted)
        result = _result_text(self.result)
        if parts[-1] != result:
            parts.append(result)
        line = " = ".join(parts)
        return line + (f"   ({self.note})" if self.note else "")


def _result_text(value: Value) -> str:
    """Symbolic results typeset (archcalc.typeset) and factored where that is shorter:
    150·(H − 4)·(W − 4), not (150·H − 600)·(W − 4)."""
    text = to_text(value, separators=False)
    if expressions.is_symbolic(value) and not value.has(expressions.sp().Piecewise):
        factored = to_text(expressions.sp().factor(value), separators=False)
        return factored if len(factored) < len(text) else text
    return text


def quantity_of(symbol: str) -> str:
    if symbol in SHAPE_SYMBOLS:
        return "shape"
    return "rf" if symbol.startswith("rf") else symbol


def derive(symbol: str, formula: str, values: dict[str, Value], note: str | None = None, quantity: str | None = None) -> Derivation:
    """Evaluate ``formula`` with ``values`` (safe parser, exact arithmetic) and write it out twice."""
    tree = ast.parse(formula, mode="eval").body
    result = expressions.to_exact(expressions.parse(formula, values))
    return Derivation(
        quantity=quantity or quantity_of(symbol),
        symbol=symbol,
        formula=_Printer(None).show(tree),
        substituted=_Printer(values).show(tree),
        result=result,
        note=note,
    )


def stated(quantity: str, symbol: str, rule: str, result: Value, note: str) -> Derivation:
    """A result the op's rule computes without a formula we can substitute into (a
    piecewise rule, an op that never declared one): say so rather than invent a formula."""
    return Derivation(quantity, symbol, rule, "", expressions.to_exact(result), note)


# --- values the op units share ---------------------------------------------------------------
def shape_values(inputs: list[tuple], out: tuple) -> dict[str, Value]:
    """C, H, W (or F) of the first input and C_out, H_out, W_out (or F_out) of the output."""
    values: dict[str, Value] = {}
    for names, shape in ((("C", "H", "W"), inputs[0] if inputs else ()), (SHAPE_SYMBOLS_3, out)):
        if len(shape) == 3:
            values.update(zip(names, shape, strict=True))
        elif len(shape) == 1:
            values["F" if names[0] == "C" else "F_out"] = shape[0]
    return values


def passthrough_formulas(shape: tuple) -> dict[str, str]:
    """C_out = C, H_out = H, W_out = W (or F_out = F): the output keeps the input's shape."""
    names = ("C", "H", "W") if len(shape) == 3 else ("F",)
    return {f"{name}_out": name for name in names}


def window_formulas(ceil_mode: bool = False) -> dict[str, str | tuple[str, str]]:
    """H_out = ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1 per axis, over the names of ``window_values``;
    with ceil_mode ⌈…⌉ + 1 − e, e = 1 when the last window would start in the right padding."""
    formulas: dict[str, str | tuple[str, str]] = {}
    for axis, a in (("H", "h"), ("W", "w")):
        span = f"{axis} + 2*p_{a} - d_{a}*(k_{a} - 1) - 1"
        if ceil_mode:  # -((-x)//s) is ⌈x/s⌉, and is printed so
            note = f"e_{a} = 1 drops a last window starting in the right padding, PyTorch's rule"
            formulas[f"{axis}_out"] = (f"-((-({span}))//s_{a}) + 1 - e_{a}", note)
        else:
            formulas[f"{axis}_out"] = f"({span})//s_{a} + 1"
    return formulas


def window_values(window) -> dict[str, Value]:
    values = {}
    for index, a in enumerate("hw"):
        values.update(
            {
                f"k_{a}": window.kernel[index],
                f"s_{a}": window.stride[index],
                f"p_{a}": window.padding[index],
                f"d_{a}": window.dilation[index],
            }
        )
    return values


# --- notation ------------------------------------------------------------------------------
_PRECEDENCE = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2, ast.Mod: 2, ast.Pow: 4}


def _is_ceiling(node: ast.UnaryOp) -> bool:
    """−⌊−x/s⌋, i.e. ⌈x/s⌉."""
    operand = node.operand
    return (
        isinstance(node.op, ast.USub)
        and isinstance(operand, ast.BinOp)
        and isinstance(operand.op, ast.FloorDiv)
        and isinstance(operand.left, ast.UnaryOp)
        and isinstance(operand.left.op, ast.USub)
    )


class _Printer:
    """Papers' notation for a parsed formula: ⌊a/b⌋, ×, −, a²; names, or their values."""

    def __init__(self, values: dict[str, Value] | None):
        self.values = values

    def show(self, node) -> str:
        if isinstance(node, ast.Name) and self.values is not None:  # a bare value needs no brackets
            return to_text(self.values[node.id], separators=False)
        return self._show(node)[0]

    def _show(self, node) -> tuple[str, int]:
        """The text and its binding strength (higher binds tighter)."""
        if isinstance(node, ast.Constant):
            return str(node.value), 9
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp) and _is_ceiling(node):
            inner, strength = self._show(node.operand.left.operand)
            divisor = self._show(node.operand.right)[0]
            return f"⌈{inner if strength >= 2 else f'({inner})'}/{divisor}⌉", 9
        if isinstance(node, ast.UnaryOp):
            text, strength = self._show(node.operand)
            return "−" + (text if strength >= 3 else f"({text})"), 3
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        raise ValueError(f"cannot show {type(node).__name__}")  # formulas are ours, never user text

    def _name(self, name: str) -> tuple[str, int]:
        if self.values is None:
            return name, 9
        text = to_text(self.values[name], separators=False)
        atomic = text.isdigit() or text.isidentifier() or (text.startswith("⌊") and text.endswith("⌋") and text.count("⌊") == 1)
        return (text, 9) if atomic else (f"({text})", 9)

    def _binop(self, node: ast.BinOp) -> tuple[str, int]:
        left, left_strength = self._show(node.left)
        right, right_strength = self._show(node.right)
        if isinstance(node.op, ast.FloorDiv):
            left = left if left_strength >= 2 else f"({left})"
            return f"⌊{left}/{right if right_strength >= 3 else f'({right})'}⌋", 9
        strength = _PRECEDENCE[type(node.op)]
        if left_strength < strength:
            left = f"({left})"
        # a − (b + c), a/(b·c) and a·(b/c) keep their brackets: the reader sees the grouping
        same_op = isinstance(node.right, ast.BinOp) and type(node.right.op) is type(node.op)
        if right_strength < strength or (right_strength == strength and not (same_op and isinstance(node.op, (ast.Add, ast.Mult)))):
            right = f"({right})"
        if isinstance(node.op, ast.Pow):
            return f"{left}^{right}", strength
        symbol = {ast.Add: " + ", ast.Sub: " − ", ast.Mult: "×" if self.values is not None else "·", ast.Div: "/", ast.Mod: " mod "}
        return left + symbol[type(node.op)] + right, strength


# --- the receptive field (generic over every op's window) ----------------------------------
RF_FORMULAS = {
    "rf_size": "r + d*(k - 1)*j",
    "rf_jump": "j*s",
    "rf_start": "c + (d*(k - 1)/2 - p)*j",
}


def rf_derivations(in_rf, window, merged: int, result) -> list[Derivation]:
    """size' = size + d(k−1)·jump, jump' = jump·s, start' = start + (d(k−1)/2 − p)·jump, per axis.

    ``in_rf`` is the input's field (the union of the inputs' fields at a merge, which is
    stated, not derived here); ``result`` is the Analysis's field, shown when the op has no
    window (pointwise ops keep their input's field). Where the input is not a lattice or the
    window is an irregular index rule, the first unit's bounds lo, hi are stated from the
    rule and size, start and jump derived from them (archcalc.receptive)."""
    from archcalc.ops.base import Window
    from archcalc.receptive import Lattice

    lines = []
    if merged > 1:
        for axis, name in ((0, "h"), (1, "w")):
            lines.append(stated("rf", f"rf_in_{name}", "the union of the merged inputs' fields", in_rf.size[axis], "its size"))
    if window is None:
        for axis, name in ((0, "h"), (1, "w")):
            lines.append(stated("rf", f"rf_size_{name}", "r (pointwise: the input's field)", result.size[axis], "unchanged"))
        return lines
    for axis, name in ((0, "h"), (1, "w")):
        if isinstance(window, Window) and isinstance(in_rf.axes[axis], Lattice):
            lines += _lattice_step(in_rf, window, axis, name)
        else:
            lines += _unit_bounds(in_rf, window, axis, name, result)
    return lines


def _lattice_step(in_rf, window, axis: int, name: str) -> list[Derivation]:
    values = {
        "r": in_rf.size[axis],
        "j": in_rf.jump[axis],
        "c": in_rf.start[axis],
        "k": window.kernel[axis],
        "s": window.stride[axis],
        "p": window.padding[axis],
        "d": window.dilation[axis],
    }
    return [derive(f"{symbol}_{name}", formula, values, quantity="rf") for symbol, formula in RF_FORMULAS.items()]


def _unit_bounds(in_rf, window, axis: int, name: str, result) -> list[Derivation]:
    """The first unit reads input units first(0) … last(0); its pixels are lo_in(first(0)) …
    hi_in(last(0)); the jump takes the rule's nominal ratio q."""
    from archcalc.ops.base import Window
    from archcalc.receptive import sliding

    if isinstance(window, Window):
        rule = sliding(window.kernel[axis], window.stride[axis], window.padding[axis], window.dilation[axis])
    else:
        rule = window.axes[axis]
    lo, hi = result.unit(axis, 0)
    reads = f"input units {to_text(rule.first(0), separators=False)} … {to_text(rule.last(0), separators=False)}"
    values = {"lo": lo, "hi": hi, "j": in_rf.jump[axis], "q": rule.ratio}
    return [
        stated("rf", f"rf_lo_{name}", "lo_in(first(0))", lo, f"unit 0 reads {reads}; unit i reads {rule.rule}"),
        stated("rf", f"rf_hi_{name}", "hi_in(last(0))", hi, "the highest pixel those units see"),
        derive(f"rf_size_{name}", "hi - lo + 1", values, quantity="rf"),
        derive(f"rf_jump_{name}", "j*q", values, "q: the rule's input units per output unit", quantity="rf"),
        derive(f"rf_start_{name}", "(lo + hi)/2", values, quantity="rf"),
    ]


__all__ = [
    "QUANTITIES",
    "Derivation",
    "derive",
    "passthrough_formulas",
    "rf_derivations",
    "shape_values",
    "stated",
    "window_formulas",
    "window_values",
]
