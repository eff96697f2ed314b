"""`archcalc diagram`: the DOT text's structure (nodes, edges, labels, clusters), collapsing,
colour, and one render through Graphviz. Expected shapes and counts are worked by hand."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field

import pytest

from archcalc.analysis import analyse_file
from archcalc.diagram import MAX_DRAWN_NODES, SHADES, build, dot_source, drawn_nodes, fitting_depth, quote
from archcalc.drawing import render
from archcalc.errors import SpecError
from archcalc.graph import _group_path
from tests.conftest import LENET_LAYERS, LENET_MACS, NETWORK_SPECS, ROOT

NODE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)" \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
CLUSTER = re.compile(r"^\s*subgraph (cluster_\d+) \{$")
CLUSTER_LABEL = re.compile(r'^\s*label="((?:[^"\\]|\\.)*)"; fontsize')


@dataclass
class Dot:
    """What a test needs from DOT text: nodes (label lines, attributes, enclosing cluster
    labels), edges (tail, head, label, attributes) and clusters (each as the labels of the
    clusters it sits in, outermost first, ending with its own)."""

    nodes: dict[str, tuple[list[str], str, tuple[str, ...]]] = field(default_factory=dict)
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)
    clusters: set[tuple[str, ...]] = field(default_factory=set)


def parse(text: str) -> Dot:
    dot, stack = Dot(), []
    for line in text.splitlines():
        if edge := EDGE.match(line):
            dot.edges.append((edge[1], edge[2], edge[3], edge[4]))
        elif node := NODE.match(line):
            dot.nodes[node[1]] = (node[2].split("\\n"), node[3], tuple(stack))
        elif CLUSTER.match(line):
            stack.append(None)
        elif (label := CLUSTER_LABEL.match(line)) and stack and stack[-1] is None:
            stack[-1] = label[1]
            dot.clusters.add(tuple(stack))
        elif line.strip() == "}" and stack:
            stack.pop()
    return dot


def spec_path(name: str):
    return ROOT / "specs" / f"{name}.yaml"


# A block with two inline branches (one an identity), repeated 3 times, inside a stage
# block; and a training-only side branch. Channels stay 16 throughout.
MINI = """
name: Mini
input: [3, 8, 8]
blocks:
  basic:
    args: {out: int}
    layers:
      - add:
          - [conv: {out: out, kernel: 3, padding: 1, bias: false}, bn]
          - identity
      - relu
  stage:
    args: {out: int}
    layers:
      - basic: {name: blocks, out: out, repeat: 3}
layers:
  - conv: {name: stem, out: 16, kernel: 3, padding: 1}
  - stage: {name: body, out: 16}
  - globalavgpool: {name: gap}
  - flatten
  - linear: {name: fc, out: 10}
  - globalavgpool: {name: aux, from: body.blocks.0.relu1, training_only: true}
"""


# --- one node per layer, one edge per graph edge, the right shapes ------------------------
LENET_EDGES = [  # (tail, head, shape): (32−5+1) = 28, 28/2 = 14, (14−5+1) = 10, 10/2 = 5, (5−5+1) = 1
    ("input", "C1", "(1, 32, 32)"),
    ("C1", "tanh1", "(6, 28, 28)"),
    ("tanh1", "S2", "(6, 28, 28)"),
    ("S2", "tanh2", "(6, 14, 14)"),
    ("tanh2", "C3", "(6, 14, 14)"),
    ("C3", "tanh3", "(16, 10, 10)"),
    ("tanh3", "S4", "(16, 10, 10)"),
    ("S4", "tanh4", "(16, 5, 5)"),
    ("tanh4", "C5", "(16, 5, 5)"),
    ("C5", "tanh5", "(120, 1, 1)"),
    ("tanh5", "flatten1", "(120, 1, 1)"),
    ("flatten1", "F6", "(120,)"),
    ("F6", "tanh6", "(84,)"),
    ("tanh6", "output", "(84,)"),
]


def test_lenet5_nodes_and_edges_carry_the_hand_worked_shapes():
    dot = parse(dot_source(analyse_file(spec_path("lenet5"))))
    assert sorted(dot.edges[i][:3] for i in range(len(dot.edges))) == sorted(LENET_EDGES)
    assert set(dot.nodes) == {"input"} | {tail for tail, _, _ in LENET_EDGES} | {"output"}
    assert dot.clusters == set()


@pytest.mark.parametrize(
    ("node", "lines"),
    [
        ("C1", ["C1 · conv 5×5, 6", "params 156"]),  # 6·(5·5 + 1)
        ("C3", ["C3 · conv 5×5, 16, partial table", "params 1,516"]),  # the paper's 1,516
        ("F6", ["F6 · linear 84", "params 10,164"]),  # 84·(120 + 1)
        ("tanh1", ["tanh1"]),
        ("output", ["output · rbf 10", "→ (10,)"]),  # the RBF's weights are fixed: no params
        ("input", ["input"]),  # its shape is on its edge
    ],
)
def test_lenet5_node_labels(node, lines):
    assert parse(dot_source(analyse_file(spec_path("lenet5")))).nodes[node][0] == lines


def test_alexnet_labels_use_the_fields_shorthand():
    nodes = parse(dot_source(analyse_file(spec_path("alexnet")))).nodes
    assert nodes["C1"][0] == ["C1 · conv 11×11/4, 96", "params 34,944"]  # 96·(3·11·11 + 1)
    assert nodes["pool1"][0] == ["pool1 · maxpool 3×3/2"]
    assert nodes["C2"][0][0] == "C2 · conv 5×5, 256, groups 2"


@pytest.mark.parametrize("spec", NETWORK_SPECS, ids=lambda p: p.relative_to(ROOT / "specs").as_posix())
def test_every_spec_one_node_per_layer_one_edge_per_graph_edge(spec):
    analysis = analyse_file(spec)
    depth, _ = fitting_depth(analysis)
    if depth is not None:  # too big to lay out open (EfficientNetV2-L): drawn collapsed, and only then
        assert drawn_nodes(analysis, None) > MAX_DRAWN_NODES >= drawn_nodes(analysis, depth)
        assert len(parse(dot_source(analysis, notify=lambda line: None)).nodes) == drawn_nodes(analysis, depth)
        return
    dot = parse(dot_source(analysis))
    assert set(dot.nodes) == {"input"} | {s.name for s in analysis.layers}
    graph_edges = {(source, s.name) for s in analysis.layers for source in s.inputs}
    assert sorted((t, h) for t, h, _, _ in dot.edges) == sorted(graph_edges)
    shapes = {s.name: s.output_shape for s in analysis.layers} | {"input": analysis.input_shape}
    for tail, _, label, _ in dot.edges:
        assert label == "(" + ", ".join(str(d) for d in shapes[tail]) + ("," if len(shapes[tail]) == 1 else "") + ")"


def test_title_names_the_network_and_its_totals():
    text = dot_source(analyse_file(spec_path("lenet5")))
    title = re.search(r"label=<(.*)>;", text)[1]
    assert "<B>LeNet-5</B>" in title and "params 60,000" in title and f"{LENET_LAYERS} layers" in title  # the paper's 60,000


# --- clusters, collapsing, training-only ------------------------------------------------------
def test_clusters_nest_as_the_blocks_do(analyse_text):
    dot = parse(dot_source(analyse_text(MINI)))
    assert dot.clusters == {("body · stage",)} | {
        clusters
        for k in range(3)
        for clusters in [("body · stage", f"blocks.{k} · basic"), ("body · stage", f"blocks.{k} · basic", "branch1")]
    }
    assert dot.nodes["body.blocks.1.branch1.conv1"][2] == ("body · stage", "blocks.1 · basic", "branch1")
    assert dot.nodes["body.blocks.1.add1"][2] == ("body · stage", "blocks.1 · basic")
    assert dot.nodes["body.blocks.1.branch1.conv1"][0] == ["conv1 · conv 3×3, 16", "params 2,304"]  # 16·16·9, no bias
    assert dot.nodes["stem"][2] == ()


def test_depth_0_collapses_a_block_to_one_node(analyse_text):
    dot = parse(dot_source(analyse_text(MINI), depth=0))
    assert set(dot.nodes) == {"input", "stem", "body", "gap", "flatten1", "fc", "aux"}
    lines = dot.nodes["body"][0]
    # 3 blocks × (conv 16·16·9 = 2,304 + bn 2·16 = 32) = 7,008; conv, bn, add, relu per block
    assert lines == ["body", "stage · 12 layers", *["conv 3×3, 16"] * 3, "params 7,008"]
    assert "box3d" in dot.nodes["body"][1]
    # the 3-D box's depth (4 pt, 0.056 in) lowers its top edge: its vertical margin must clear it, beyond a
    # plain node's 0.03 in, or the first line overlaps the edge (seen in ResNet-152 at --depth 1)
    margin = re.search(r'margin="([\d.]+),([\d.]+)"', dot.nodes["body"][1])
    assert margin and float(margin.group(2)) >= 0.03 + 4 / 72
    assert sorted(e[:3] for e in dot.edges) == sorted(
        [
            ("input", "stem", "(3, 8, 8)"),
            ("stem", "body", "(16, 8, 8)"),
            ("body", "gap", "(16, 8, 8)"),
            ("gap", "flatten1", "(16, 1, 1)"),
            ("flatten1", "fc", "(16,)"),
            ("body", "aux", "(16, 8, 8)"),
        ]
    )


def test_a_collapsed_repeat_is_drawn_once_with_times_n(analyse_text):
    dot = parse(dot_source(analyse_text(MINI), depth=1))
    assert {n for n in dot.nodes if n.startswith("body")} == {"body.blocks"}
    assert dot.nodes["body.blocks"][0] == ["blocks ×3", "basic · 4 layers each", "conv 3×3, 16", "params 7,008 (3 × 2,336)"]
    assert dot.nodes["body.blocks"][2] == ("body · stage",)
    assert dot.clusters == {("body · stage",)}


def test_depth_2_collapses_branches(analyse_text):
    dot = parse(dot_source(analyse_text(MINI), depth=2))
    # conv + bn = 2,304 + 32 = 2,336 per branch
    assert dot.nodes["body.blocks.0.branch1"][0] == ["branch1", "2 layers", "conv 3×3, 16", "params 2,336"]
    assert ("body.blocks.0.branch1", "body.blocks.0.add1", "(16, 8, 8)") in [e[:3] for e in dot.edges]
    assert ("body.blocks.0.relu1", "body.blocks.1.add1", "(16, 8, 8)") in [e[:3] for e in dot.edges]  # the identity


def test_training_only_branches_are_dashed(analyse_text):
    dot = parse(dot_source(analyse_text(MINI)))
    assert "dashed" in dot.nodes["aux"][1] and "dashed" not in dot.nodes["gap"][1]
    styles = {(t, h): attrs for t, h, _, attrs in dot.edges}
    assert "style=dashed" in styles[("body.blocks.0.relu1", "aux")]
    assert "dashed" not in styles[("body.blocks.2.relu1", "gap")]


# --- colour --------------------------------------------------------------------------------
def test_color_macs_shades_by_decade_with_a_legend():
    diagram = build(analyse_file(spec_path("alexnet")), color="macs")
    fills = {node.id: node.fill for node in diagram.nodes.values()}
    # C2: 27·27 outputs × 256 maps × (96/2)·5·5 = 223,948,800 — the top decade, 10^8
    assert fills["C2"] == SHADES[-1]
    assert fills["FC6"] == SHADES[-2]  # 9,216 · 4,096 = 37,748,736: one decade down
    assert fills["FC8"] == SHADES[-3]  # 4,096 · 1,000 = 4,096,000: two down
    assert fills["relu1"] is None  # no multiply-accumulates
    assert diagram.legend == [
        (SHADES[0], "0"),
        (SHADES[1], "< 100K"),
        (SHADES[2], "100K – 1M"),
        (SHADES[3], "1M – 10M"),
        (SHADES[4], "10M – 100M"),
        (SHADES[5], "≥ 100M"),
    ]
    assert "macs 223,948,800" in diagram.nodes["C2"].lines
    assert "MACs per node" in dot_source(analyse_file(spec_path("alexnet")), color="macs")


def test_color_memory_reads_activation_bytes():
    diagram = build(analyse_file(spec_path("lenet5")), color="memory")
    assert "memory 18,816 bytes" in diagram.nodes["C1"].lines  # 6·28·28 elements × 4 bytes
    assert diagram.legend_title == "output activations, bytes as float32"


# --- symbolic inputs, errors, quoting ---------------------------------------------------------
def test_symbolic_input_puts_formulas_on_the_edges():
    dot = parse(dot_source(analyse_file(spec_path("lenet5"), input_shape="1,H,W")))
    labels = {(t, h): label for t, h, label, _ in dot.edges}
    assert labels[("input", "C1")] == "(1, H, W)"
    assert labels[("C1", "tanh1")] == "(6, H - 4, W - 4)"  # H − 5 + 1


def test_color_needs_concrete_sizes():
    with pytest.raises(SpecError, match="symbolic"):
        build(analyse_file(spec_path("lenet5"), input_shape="1,H,W"), color="macs")


def test_quote_keeps_any_name_one_id():
    assert quote('a:b "c"\\d\ne') == '"a:b \\"c\\"\\\\d\\ne"'


def test_unknown_extension_is_an_error(tmp_path):
    with pytest.raises(SpecError, match="expected a file ending in"):
        render("digraph {}", tmp_path / "net.jpeg")


# --- the command, and a real render -------------------------------------------------------------
def test_cli_writes_dot_without_graphviz(cli, tmp_path):
    out = tmp_path / "lenet.dot"
    result = cli("diagram", spec_path("lenet5"), "-o", out, "--depth", "1")
    assert result.exit_code == 0, result.output
    assert parse(out.read_text()).nodes["C1"][0][0] == "C1 · conv 5×5, 6"


def test_cli_without_dot_says_how_to_get_it_and_writes_the_dot_file(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = cli("diagram", spec_path("lenet5"), "-o", tmp_path / "lenet.svg")
    assert result.exit_code == 2
    assert "apt-get install graphviz" in result.output and len(result.output.strip().splitlines()) == 1
    assert (tmp_path / "lenet.dot").read_text().startswith("digraph")
    assert not (tmp_path / "lenet.svg").exists()


def test_cli_rejects_a_bad_extension(cli, tmp_path):
    result = cli("diagram", spec_path("lenet5"), "-o", tmp_path / "lenet.gif")
    assert result.exit_code == 2 and "expected a file ending in .svg, .png, .pdf, .dot" in result.output


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (scripts/setup installs it)")
def test_renders_an_svg_through_dot(cli, tmp_path):
    out = tmp_path / "alexnet.svg"
    result = cli("diagram", spec_path("alexnet"), "-o", out, "--color", "params")
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "C1 · conv 11×11/4, 96" in texts and "(96, 55, 55)" in texts  # ⌊(227 − 11)/4⌋ + 1 = 55
    assert svg.count('class="node"') == 25  # 24 layers and the input
    assert svg.count('class="edge"') == 24


# --- the graph's scope records (the core change the diagram reads) ---------------------------
def test_analysis_records_each_scopes_block_kind_and_repeat_group(analyse_text):
    scopes = analyse_text(MINI).scopes
    assert (scopes["body"].kind, scopes["body"].group) == ("stage", None)
    for k in range(3):
        info = scopes[f"body.blocks.{k}"]
        assert (info.kind, info.group, info.index, info.count) == ("basic", "body.blocks", k, 3)
        assert (scopes[f"body.blocks.{k}.branch1"].kind, scopes[f"body.blocks.{k}.branch1"].group) == ("branch", None)
    assert len(scopes) == 7  # body, 3 blocks, 3 branches


@pytest.mark.parametrize(
    ("paths", "group"),
    [
        (["layer1.0", "layer1.1", "layer1.2"], "layer1"),  # `repeat: 3` named layer1
        (["features.3", "features.4", "features.5"], "features.3–5"),  # instances named one by one
    ],
)
def test_repeat_group_path(paths, group):
    assert _group_path(paths) == group


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (scripts/setup installs it)")
def test_a_png_past_graphvizs_pixel_limit_is_drawn_at_a_lower_dpi():
    from archcalc.drawing import MAX_PIXELS, _fit_bitmap

    small = "digraph {\n  a -> b;\n}\n"
    assert _fit_bitmap(small) == (small, None)
    # 600 boxes 0.5 in tall with 0.5 in between: about 600 in, far past 32,767 px at 96 dpi
    chain = "digraph {\n  node [height=0.5]; ranksep=0.5;\n" + "".join(f"  n{k} -> n{k + 1};\n" for k in range(600)) + "}\n"
    fitted, note = _fit_bitmap(chain)
    dpi = int(re.search(r"graph \[dpi=(\d+)\]", fitted)[1])
    assert dpi < 96 and "dpi" in note
    assert 600 * 72 * dpi < MAX_PIXELS * 72  # about 600 in at this dpi stays inside the limit


def test_formula_totals_wrap_so_the_title_stays_narrow():
    title = build(analyse_file(spec_path("lenet5"), input_shape="1,H,W")).title
    assert title[2].startswith("params ") and any(line.startswith("MACs ") for line in title)
    assert all(len(line) <= 100 for line in title)
    assert f"params 60,000 · MACs {LENET_MACS:,}" in build(analyse_file(spec_path("lenet5"))).title
