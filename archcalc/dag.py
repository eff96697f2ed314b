"""The layer graph: which layer reads which, in the few operations archcalc needs of it.

Why not networkx on the hot path: importing networkx costs about 0.2 s, more than a whole
numeric report's work, and its cycle search was 40 % of compiling a 100,000-layer spec.
A compiled network needs only these: edges from each layer's inputs, one topological order
that follows declaration order where the wiring allows, the first cycle (for the error), and
a layer's ancestors (for outputs). ``to_networkx`` gives the same graph as a
``networkx.DiGraph`` for users who want networkx's algorithms (imported only then).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class LayerGraph:
    """A directed graph over node names; ``order`` is the declaration position of each node
    (the topological order breaks ties by it, as networkx's lexicographical sort with that key)."""

    def __init__(self) -> None:
        self.predecessors: dict[str, dict[str, None]] = {}  # insertion-ordered sets
        self.successors: dict[str, dict[str, None]] = {}
        self.attributes: dict[str, dict] = {}

    def add_node(self, name: str, **attributes) -> None:
        self.predecessors.setdefault(name, {})
        self.successors.setdefault(name, {})
        self.attributes.setdefault(name, {}).update(attributes)

    def add_edge(self, source: str, target: str) -> None:
        self.add_node(source)
        self.add_node(target)
        self.successors[source][target] = None
        self.predecessors[target][source] = None

    def __contains__(self, name: str) -> bool:
        return name in self.predecessors

    def __len__(self) -> int:
        return len(self.predecessors)

    def topological(self) -> list[str]:
        """Every node after all it reads; among the ready ones, the earliest inserted first.
        Kahn's algorithm with a heap: O(E + V log V). Raises ValueError on a cycle."""
        position = {name: index for index, name in enumerate(self.predecessors)}
        waiting = {name: len(sources) for name, sources in self.predecessors.items()}
        ready = [position[name] for name, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        names = list(self.predecessors)
        result = []
        while ready:
            name = names[heapq.heappop(ready)]
            result.append(name)
            for target in self.successors[name]:
                waiting[target] -= 1
                if waiting[target] == 0:
                    heapq.heappush(ready, position[target])
        if len(result) != len(names):
            raise ValueError("the graph has a cycle")
        return result

    def find_cycle(self) -> list[str] | None:
        """The nodes of one cycle in edge order (first to last, the last reading the first's
        successor chain back), or None. Iterative depth-first search: no recursion limit."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        for root in self.predecessors:
            if root in state:
                continue
            path, stack = [root], [iter(self.successors[root])]
            state[root] = 1
            while stack:
                target = next(stack[-1], None)
                if target is None:
                    state[path.pop()] = 2
                    stack.pop()
                elif state.get(target) == 1:
                    return path[path.index(target) :]
                elif target not in state:
                    state[target] = 1
                    path.append(target)
                    stack.append(iter(self.successors[target]))
        return None

    def ancestors(self, name: str) -> set[str]:
        """Every node ``name`` reads, directly or through others (not ``name`` itself)."""
        seen: set[str] = set()
        stack = list(self.predecessors[name])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(self.predecessors[node])
        return seen

    def edges(self) -> Iterable[tuple[str, str]]:
        return ((source, target) for source, targets in self.successors.items() for target in targets)

    def to_networkx(self):
        """The same graph as a ``networkx.DiGraph`` (node attributes included)."""
        import networkx as nx

        graph = nx.DiGraph()
        for name, attributes in self.attributes.items():
            graph.add_node(name, **attributes)
        graph.add_edges_from(self.edges())
        return graph
