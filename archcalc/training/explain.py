"""Each training number written out (``archcalc explain --training``): the op's rule as a
formula, the layer's values put in, and the result — the same text the rules are evaluated
from (archcalc.training.model), so what a reader checks is what was computed."""

from __future__ import annotations

from archcalc.analysis import DTYPE_BYTES
from archcalc.derivation import derive
from archcalc.expressions import names_in, vsum
from archcalc.training.memory import Training
from archcalc.training.model import LayerTraining, SavedTensor
from archcalc.units import text as to_text


def layer_lines(training: Training, name: str, params) -> list[str]:
    """One layer's saved tensors, backward multiply-adds and gradient bytes, derived."""
    layer = next(layer for layer in training.layers if layer.name == name)
    if not layer.requires_grad:
        return ["outside autograd: no input needs a gradient and it has no parameters, so it keeps nothing and has no backward"]
    values = training.walk.values[name]
    rules = training.walk.rules[name]
    lines = [_saved_line(item, values, layer) for item in layer.saved]
    if not layer.saved:
        lines.append("saved: nothing" + (" (its output is a view of its input)" if rules.view_of is not None else ""))
    if not layer.backward:
        return [*lines, "no backward: its values reach no output (only its size does, as a crop's or an upsampling's reference)"]
    if any(layer.inputs_need_grad):
        lines.append(derive("grad_input_macs", rules.input_grad_macs, values, quantity="training").text())
    else:
        lines.append("grad_input_macs = 0   (no input needs a gradient: it reads only what no parameter shaped, the network input)")
    lines.append(derive("grad_weight_macs", rules.weight_grad_macs, values, quantity="training").text())
    size = DTYPE_BYTES[training.dtype]
    lines.append(
        derive("grad_bytes", "params*b", {"params": params, "b": size}, note=f"one {training.dtype} gradient per parameter").text()
    )
    if layer.inplace is not None:
        lines.append(
            f"in place: overwrites its input {layer.inputs[layer.inplace]} (read by no other layer), so its output is that storage"
        )
    return lines


def _saved_line(item: SavedTensor, values: dict, layer: LayerTraining) -> str:
    symbol = f"saved[{item.tensor}]"
    if item.formula and names_in(item.formula) <= set(values):
        head = derive(symbol, item.formula, values, quantity="training").text() + " elements"
    else:
        head = f"{symbol} = {to_text(item.elements)} elements"
    where = (
        "counted here" if item.first else ("recomputed: in a checkpointed block" if not item.kept else "kept already by an earlier layer")
    )
    return f"{head}, {item.dtype}; its storage ({item.storage}) {to_text(item.bytes)} bytes, {where}"


def total_lines(training: Training, names: list[str] | None = None) -> list[str]:
    """A block's (``names``) or the network's sums; for the network, the peak as well."""
    layers = [layer for layer in training.layers if names is None or layer.name in names]
    lines = [
        f"saved_bytes = {_sum(layer.saved_bytes for layer in layers)}   (each storage once, at the first layer to keep it)",
        f"backward_input_macs = {_sum(layer.backward_input_macs for layer in layers)}",
        f"backward_weight_macs = {_sum(layer.backward_weight_macs for layer in layers)}",
    ]
    if names is not None:
        return lines
    t = training
    terms = [t.param_bytes, t.buffer_bytes, t.grad_bytes, t.optimizer_state_bytes, t.live_bytes, t.transient_bytes]
    lines += [
        f"optimizer_state_bytes = {_copies(t)} × grad_bytes = {to_text(t.optimizer_state_bytes, separators=False)}   ({t.optimizer})",
        "peak = params + buffers + gradients + optimizer state + live at the end of the forward pass + largest backward transient"
        f" = {' + '.join(to_text(v, separators=False) for v in terms)} = {to_text(t.peak_bytes, separators=False)} bytes",
    ]
    return lines


def _copies(training: Training) -> int:
    from archcalc.training import OPTIMIZERS

    return OPTIMIZERS[training.optimizer]


def _sum(values) -> str:
    values = [v for v in values if v != 0]
    total = to_text(vsum(values), separators=False)
    if len(values) <= 1:
        return total
    terms = " + ".join(to_text(v, separators=False) for v in values)
    return f"{terms} = {total}" if len(terms) < 400 else f"{total}   (a sum over {len(values)} layers)"
