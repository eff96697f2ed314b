"""Where a symbolic analysis holds: the smallest input sizes every layer accepts.

A spec with input ``[3, H, W]`` gives formulas in H and W, but a layer's own rule refuses
some sizes (a 5×5 conv needs at least 5 pixels; a stride-2 pool after it more). ``valid_for``
derives, for each size name, the smallest value at which every layer's rule accepts its
input — replaying each layer's own ``output_shape`` on its input shapes with the names bound
to numbers, never a typed-in table — the other names held at ``LARGE``. Validity is taken to
grow with the size (a layer that accepts a size accepts larger ones, as windows and strides
do); the search gallops and bisects (``_smallest``), so it costs about 2·log2 of the answer replays.
"""

from __future__ import annotations

from archcalc import expressions
from archcalc.errors import ArchcalcError
from archcalc.graph import Network

#: the other names' value while one is searched, and the largest size searched
LARGE = 1 << 14


def valid_for(network: Network, training: bool = False) -> dict[str, int | None]:
    """Each size name of the input (H, W …; not the channels) → the smallest value every
    inference layer (with ``training``: every layer, training-only branches too) accepts, or
    None when not even LARGE is accepted."""
    names = sorted({str(s) for dim in network.input_shape[1:] if expressions.is_symbolic(dim) for s in dim.free_symbols})
    others = sorted({str(s) for dim in network.input_shape[:1] if expressions.is_symbolic(dim) for s in dim.free_symbols} - set(names))
    result = {}
    for name in names:
        fixed = {other: LARGE for other in [*names, *others] if other != name}
        result[name] = _smallest(network, name, fixed, _layers(network, training))
    return result


def _layers(network: Network, training: bool) -> list[str]:
    """The layers to check, in order: every one, or the inference network's (a layer reading a
    training-only one is training-only too)."""
    if training:
        return list(network.order)
    only: dict[str, bool] = {}
    for name in network.order:
        layer = network.layers[name]
        only[name] = layer.training_only or any(only.get(source, False) for source in layer.inputs)
    return [name for name in network.order if not only[name]]


def _smallest(network: Network, name: str, fixed: dict[str, int], layers: list[str]) -> int | None:
    """Galloping, then bisecting: the sizes 1, 2, 4, … until one is accepted, then halving the
    last gap — about 2·log2 of the answer replays (a network's smallest size is a few pixels
    to a few hundred), where bisecting all of 1 … LARGE took log2(LARGE) = 14 every time."""
    if not accepts(network, {**fixed, name: LARGE}, layers):
        return None
    low, high = 0, 1  # low is refused (0 is no size at all); high is tried next
    while high < LARGE and not accepts(network, {**fixed, name: high}, layers):
        low, high = high, min(2 * high, LARGE)
    # now accepts(high): tried just now, or LARGE (accepted above)
    while high - low > 1:
        middle = (low + high) // 2
        if accepts(network, {**fixed, name: middle}, layers):
            high = middle
        else:
            low = middle
    return high


def accepts(network: Network, bindings: dict[str, int], layers: list[str] | None = None) -> bool:
    """Every layer's own rule (of ``layers``; default all) accepts its input with the names
    bound to these numbers. The sizes are carried forward from the input, each layer's rule
    making the next one's input (numbers in, numbers out: no formula is substituted but the
    input's and any a rule still gives symbolically), which equals substituting each layer's
    formula — the symbolic tests prove they agree — at a tenth of the cost."""
    values: dict = {}  # each distinct formula substituted once
    shapes: dict = {}
    for name in layers or network.order:
        layer = network.layers[name]
        try:
            inputs = [shapes[source] if source in shapes else _numbers(network.shapes[source], bindings, values) for source in layer.inputs]
            out = layer.op.output_shape(inputs)
        except (ArchcalcError, ArithmeticError, ValueError, TypeError):  # a size the rule cannot take
            return False
        out = _numbers(out, bindings, values)
        if any(isinstance(dim, int) and dim <= 0 for dim in out):
            return False
        shapes[name] = out
    return True


def _numbers(shape: tuple, bindings: dict[str, int], values: dict) -> tuple:
    return tuple(_value(dim, bindings, values) for dim in shape)


def _value(dim, bindings: dict[str, int], values: dict):
    if not expressions.is_symbolic(dim):
        return dim
    if dim not in values:
        values[dim] = expressions.substitute(dim, bindings)
    return values[dim]


__all__ = ["LARGE", "accepts", "valid_for"]
