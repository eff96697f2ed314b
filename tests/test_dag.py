"""The layer graph (archcalc/dag.py) against networkx, the reference implementation it
replaces on the hot path: the same topological order (networkx's lexicographical sort keyed
by insertion position), the same ancestors, a cycle exactly when networkx finds one."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc.dag import LayerGraph


@st.composite
def graphs(draw):
    count = draw(st.integers(1, 12))
    names = [f"n{index}" for index in draw(st.permutations(range(count)))]
    edges = draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)), max_size=25))
    return names, [(a, b) for a, b in edges if a != b]


def both(names, edges):
    ours, theirs = LayerGraph(), nx.DiGraph()
    for name in names:
        ours.add_node(name)
        theirs.add_node(name)
    for source, target in edges:
        ours.add_edge(source, target)
        theirs.add_edge(source, target)
    return ours, theirs


@settings(max_examples=300, derandomize=True, deadline=None)
@given(graphs())
def test_order_ancestors_and_cycles_equal_networkx(graph):
    names, edges = graph
    ours, theirs = both(names, edges)
    assert set(ours.edges()) == set(theirs.edges())
    cycle = ours.find_cycle()
    if not nx.is_directed_acyclic_graph(theirs):
        assert cycle is not None
        closed = [*cycle, cycle[0]]
        assert all(theirs.has_edge(a, b) for a, b in zip(closed, closed[1:], strict=False))
        return
    assert cycle is None
    position = {name: index for index, name in enumerate(names)}
    assert ours.topological() == list(nx.lexicographical_topological_sort(theirs, key=position.__getitem__))
    for name in names:
        assert ours.ancestors(name) == nx.ancestors(theirs, name)


def test_a_deep_chain_needs_no_recursion():
    graph = LayerGraph()
    for index in range(50_000):
        graph.add_edge(f"n{index}", f"n{index + 1}")
    graph.add_edge("n50000", "n0")
    assert len(graph.find_cycle()) == 50_001


def test_to_networkx_keeps_nodes_attributes_and_edges():
    graph = LayerGraph()
    graph.add_node("a", layer=1)
    graph.add_edge("a", "b")
    converted = graph.to_networkx()
    assert list(converted.nodes(data=True)) == [("a", {"layer": 1}), ("b", {})]
    assert list(converted.edges()) == [("a", "b")]
