"""The block tree of an analysis: each block instance and inline branch a node over its layers.

``report --depth N`` prints it, the HTML report folds it. A node's subtotals are the
analysis' own ``total`` over its layers (nothing recomputed), so the rows under a node add
up to it: every layer sits in exactly one child of each scope that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archcalc.analysis import Analysis, LayerStats, Totals, total


@dataclass
class Node:
    """A scope (block instance or branch; ``stats`` None) or one layer (``stats`` its numbers)."""

    path: str  # the scope's path, or the layer's name; "" for the root
    parent: str
    stats: LayerStats | None = None
    children: list[Node] = field(default_factory=list)  # in order of first appearance
    layers: list[LayerStats] = field(default_factory=list)  # every layer inside, nested ones too

    @property
    def totals(self) -> Totals:
        return total(self.layers)

    @property
    def short(self) -> str:
        """The name below its parent: ``0.branch1`` under ``layer1``, ``conv1`` under ``layer1.0``."""
        prefix = self.parent + "."
        return self.path[len(prefix) :] if self.parent and self.path.startswith(prefix) else self.path


def scope_tree(analysis: Analysis) -> Node:
    """The root's children are the top-level layers and blocks, in the analysis' order."""
    root = Node("", "")
    scopes = {"": root}
    for stats in analysis.layers:
        parent = root
        root.layers.append(stats)
        for path in stats.scopes:
            if path not in scopes:
                scopes[path] = Node(path, parent.path)
                parent.children.append(scopes[path])
            parent = scopes[path]
            parent.layers.append(stats)
        parent.children.append(Node(stats.name, parent.path, stats, layers=[stats]))
    return root


def to_depth(root: Node, depth: int, level: int = 1) -> list[tuple[int, Node]]:
    """(level, node) rows, depth first, down to ``depth`` levels: a block at the last level is
    one row with its subtotals; above it, its row and then its children's."""
    if depth < level:
        return []
    rows = []
    for child in root.children:
        rows.append((level, child))
        if child.stats is None:
            rows += to_depth(child, depth, level + 1)
    return rows
