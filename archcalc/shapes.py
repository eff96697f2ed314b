"""Every layer's output shape, from its op's own rule: the one place shapes are computed.

The graph builder asks for a shape while it compiles (a block that uses C_in needs its
input's shape before its body can be expanded), and asks for the rest once the graph is
complete; the analysis and every renderer read the shapes computed here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archcalc import expressions
from archcalc.errors import ArchcalcError, GraphError, OpError


class Shapes:
    """Memoised shapes, computed without recursion (a chain may be 100,000 layers long).

    ``resolve(reference, layer)`` turns one of a layer's inputs into a node name: while the
    graph is being built, a ``from:`` naming a layer not yet declared cannot be resolved,
    and asking for a shape that depends on it is an error raised by ``resolve``.
    """

    def __init__(self, known: dict[str, tuple], layers: dict, source, resolve: Callable[[Any, Any], str]):
        self.known = known
        self.layers = layers
        self.source = source
        self.resolve = resolve
        #: training-only layers that cannot exist at this input (a 5×5 conv of a 3×3 map in an
        #: auxiliary head), and the layers after them: the error of the first, by layer. PyTorch's
        #: eval model never runs them, so the inference network stands without them.
        self.invalid: dict[str, ArchcalcError] = {}
        self.left_out: dict[str, str] = {}  # filled by graph.invalid_training: layer or block path → why

    def __getitem__(self, node: str) -> tuple:
        return self.of(node)

    def of(self, node: str, strict: bool = True) -> tuple | None:
        """Depth first: a layer's inputs before the layer. Every expanded layer still waiting
        lies below the top of the stack, so the top needing one of them is a cycle. An invalid
        training-only layer raises its error (``strict``) or gives None."""
        shape = self._of(node)
        if shape is None and strict:
            raise self.invalid[node]
        return shape

    def _of(self, node: str) -> tuple | None:
        if node in self.known:  # the common case, without the walk
            return self.known[node]
        stack, expanded = [node], set()
        while stack:
            name = stack[-1]
            if name in self.known:
                stack.pop()
                continue
            layer = self.layers[name]
            layer.inputs = [self.resolve(ref, layer) for ref in layer.inputs]
            missing = [source for source in layer.inputs if source not in self.known]
            if not missing:
                self.known[name] = self._compute(layer)
                expanded.discard(name)
                continue
            cycle = [source for source in missing if source in expanded or source == name]
            if cycle:
                raise self._at(GraphError(f"the layers form a cycle through {cycle[0]!r}"), layer)
            expanded.add(name)
            stack.extend(missing)
        return self.known[node]

    def _compute(self, layer) -> tuple | None:
        after = [source for source in layer.inputs if source in self.invalid]
        if after:  # it reads an invalid training-only layer: training-only, and invalid with it
            self.invalid[layer.name] = self.invalid[after[0]]
            return None
        try:
            out = layer.op.output_shape([self.known[source] for source in layer.inputs])
            for dim in out:
                if expressions.always(dim, "<=", 0):
                    raise OpError(f"output size must be positive, found {dim} (input too small for this layer)")
        except ArchcalcError as error:
            located = self._at(error, layer)
            if not layer.training_only:
                raise located from None
            self.invalid[layer.name] = located
            return None
        return out

    def _at(self, error: ArchcalcError, layer) -> ArchcalcError:
        return error.located(file=self.source.file_of(layer.loc), line=self.source.line(layer.loc), path=f"{layer.name} ({layer.op.kind})")
