"""The integer arithmetic ONNX exporters write around shapes (Shape → Gather → Concat for
``x.view(x.size(0), -1)``, a chunk's Slice ends), evaluated with numpy: values, never layers.
"""

from __future__ import annotations

from archcalc.importers.onnx_front import C, OnnxWalker

#: evaluated with numpy when every input is a constant (shape arithmetic, never a layer)
CONSTANT_OPS = {"Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Add", "Sub", "Mul", "Div", "Cast", "Floor", "Ceil", "Reshape",
                "Identity", "ConstantOfShape", "Range", "Equal", "Where", "Expand", "Neg", "Sqrt", "Max", "Min", "ReduceProd"}  # fmt: skip


def _evaluate(w: OnnxWalker, node, args: list, a: dict) -> list:
    """Integer arithmetic on shapes and constants, with numpy: a value, never a layer."""
    np = w.np
    values = [arg.value if arg is not None else None for arg in args]
    of = next((arg.of for arg in args if arg is not None and arg.of is not None), None)
    op = node.op_type
    try:
        result = _numpy(np, op, values, a)
    except (ValueError, IndexError, TypeError, KeyError):
        return w.unknown(node, f"ONNX {op} on constants of an unexpected form", "integer arithmetic on shapes")
    if result is None:
        return w.unknown(node, f"ONNX {op} on constants", "integer arithmetic on shapes")
    if op == "Identity" and args[0].initializer:  # an exporter's alias of a shared initializer
        return [C(result, of, args[0].initializer)]
    return [C(np.asarray(result), of)]


def _numpy(np, op: str, v: list, a: dict):
    binary = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Max": np.maximum, "Min": np.minimum, "Equal": np.equal}
    if op in binary:
        return binary[op](v[0], v[1])
    if op == "Div":
        return v[0] // v[1] if np.issubdtype(np.asarray(v[0]).dtype, np.integer) else v[0] / v[1]
    simple = {
        "Identity": lambda: v[0], "Neg": lambda: -v[0], "Floor": lambda: np.floor(v[0]), "Ceil": lambda: np.ceil(v[0]),
        "Sqrt": lambda: np.sqrt(v[0]), "Cast": lambda: v[0], "Reshape": lambda: np.reshape(v[0], v[1]),
        "Gather": lambda: np.take(v[0], v[1], axis=a.get("axis", 0)),
        "Concat": lambda: np.concatenate([np.atleast_1d(x) for x in v if x is not None], axis=a.get("axis", 0)),
        "Where": lambda: np.where(v[0], v[1], v[2]), "Expand": lambda: np.broadcast_to(v[0], v[1]),
        "ReduceProd": lambda: np.prod(v[0]), "ConstantOfShape": lambda: np.full(v[0], 0), "Range": lambda: np.arange(v[0], v[1], v[2]),
    }  # fmt: skip
    if op in simple:
        return simple[op]()
    if op in ("Unsqueeze", "Squeeze"):
        axes = a.get("axes") if "axes" in a else (v[1].tolist() if len(v) > 1 and v[1] is not None else None)
        return np.expand_dims(v[0], tuple(axes)) if op == "Unsqueeze" else np.squeeze(v[0], tuple(axes) if axes else None)
    if op == "Slice":
        starts, ends = v[1].tolist(), v[2].tolist()
        axes = v[3].tolist() if len(v) > 3 and v[3] is not None else list(range(len(starts)))
        steps = v[4].tolist() if len(v) > 4 and v[4] is not None else [1] * len(starts)
        index = [slice(None)] * np.ndim(v[0])
        for s, e, ax, st in zip(starts, ends, axes, steps, strict=True):
            index[ax] = slice(s, e, st)
        return v[0][tuple(index)]
    return None
