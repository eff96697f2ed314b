"""Draw an Analysis as a Graphviz diagram: the layers, the tensors on the edges, blocks as clusters.

``build`` turns an Analysis into a plain ``Diagram`` (nodes, edges, clusters, legend) and
``to_dot`` writes it as DOT text; both are pure, so tests read the structure without Graphviz.
``archcalc.drawing`` hands the text to Graphviz's ``dot``.

Like every renderer this module recomputes nothing: labels are the ops' own shorthand, edge
shapes are the source layers' output shapes, and a collapsed block's costs are the analysis'
own ``total`` of its layers. ``--depth N`` keeps N levels of scopes (block instances and
inline branches) open; a deeper scope is drawn as one node, and the instances of a block
written with ``repeat: n`` as one node marked ×n.
"""

from __future__ import annotations

import functools
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

from archcalc.analysis import Analysis, LayerStats, total
from archcalc.errors import SpecError, shape_text
from archcalc.expressions import Value, is_symbolic, to_exact, to_text
from archcalc.graph import INPUT
from archcalc.ops import REGISTRY
from archcalc.timings import Timings

METRICS = ("macs", "params", "memory", "saved")  # saved: bytes kept for the backward pass (archcalc.training)
#: ops a collapsed block's summary leaves out: they do not change what the block computes
MAX_SUMMARY_OPS = 4
TITLE_WIDTH = 100  # characters; longer formulas in the title are wrapped
#: white for 0, then ColorBrewer "Oranges" light to dark: one shade per decade of cost up to the largest
SHADES = ("#ffffff", "#fee6ce", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603")
DARK_SHADES = frozenset(SHADES[-2:])  # white text on these
#: Graphviz's layout grows faster than the square of the nodes drawn (clusters included): on
#: a ResNet-style chain, 1,134 nodes took 0.5 s of dot's CPU time and 3,010 nodes 5 s; 10,000
#: layers with clusters 150 s and 2.7 GB (issue 16). Without --depth, a network that would
#: draw more collapses its blocks.
MAX_DRAWN_NODES = 1_000


@dataclass
class Node:
    id: str
    lines: list[str]
    cluster: str  # the scope path of the enclosing cluster, "" at top level
    tooltip: str
    training_only: bool = False
    collapsed: bool = False
    minor: bool = False
    cost: Value = 0
    fill: str | None = None


@dataclass(frozen=True)
class Edge:
    tail: str
    head: str
    label: str  # the shape the tail's layer outputs
    training_only: bool = False


@dataclass(frozen=True)
class Cluster:
    path: str
    parent: str
    label: str
    kind: str  # the block's name or "branch"


@dataclass
class Diagram:
    title: list[str]
    nodes: dict[str, Node]
    edges: list[Edge]
    clusters: dict[str, Cluster]
    legend: list[tuple[str, str]] = field(default_factory=list)  # (fill colour, range text)
    legend_title: str = ""


@dataclass(frozen=True)
class _Place:
    node: str  # the drawn node: the layer itself, a collapsed scope or a repeat group
    cluster: str
    scope: str | None  # the collapsed scope, when the layer is hidden in one


# --- building ------------------------------------------------------------------------------
def build(analysis: Analysis, depth: int | None = None, color: str | None = None, timings: Timings | None = None, training=None) -> Diagram:
    """The diagram of ``analysis`` with scopes deeper than ``depth`` collapsed (None: none);
    with ``timings`` (saved by ``archcalc run --save``), each node also shows its measured time;
    ``training`` (archcalc.training's step) gives ``color="saved"`` its bytes."""
    if depth is not None and depth < 0:
        raise SpecError(f"--depth must be 0 or more, found {depth}")
    if color is not None and color not in METRICS:
        raise SpecError(f"--color: expected one of {', '.join(METRICS)}, found {color!r}")
    saved = {layer.name: layer.saved_bytes for layer in training.layers} if training is not None else {}
    if color == "saved" and training is None:
        raise SpecError("--color saved needs the training step's analysis (archcalc.training)")
    places = {s.name: _place(s, analysis, depth) for s in analysis.layers}
    members: dict[str, list[LayerStats]] = {}
    for stats in analysis.layers:
        members.setdefault(places[stats.name].node, []).append(stats)
    nodes = {INPUT: Node(INPUT, [INPUT], "", f"the network's input {shape_text(analysis.input_shape)}", minor=True)}
    for node_id, layers in members.items():
        nodes[node_id] = _node(node_id, layers, places[layers[0].name], analysis, color, saved)
        nodes[node_id].lines += _measured(layers, timings)
    edges = _edges(analysis, places)
    _mark_outputs(nodes, edges, members)
    title = _title(analysis, depth) + ([timings.describe()] if timings is not None else [])
    diagram = Diagram(title, nodes, edges, _clusters(analysis, places))
    if color is not None:
        _shade(diagram, color, analysis.dtype)
    return diagram


def _place(stats: LayerStats, analysis: Analysis, depth: int | None) -> _Place:
    scopes = stats.scopes
    if depth is None or len(scopes) <= depth:
        return _Place(stats.name, scopes[-1] if scopes else "", None)
    scope = scopes[depth]
    info = analysis.scopes.get(scope)
    node = info.group if info is not None and info.group else scope
    return _Place(node, scopes[depth - 1] if depth else "", scope)


def _short(path: str, cluster: str) -> str:
    """A name relative to its cluster: inside ``layer1.0``, ``layer1.0.conv1`` is ``conv1``."""
    if not cluster or not path.startswith(cluster + "."):
        return path
    short = path[len(cluster) + 1 :]
    return path if short[0].isdigit() else short  # "0" alone says less than "layer2.0"


def _node(node_id: str, layers: list[LayerStats], place: _Place, analysis: Analysis, color: str | None, saved: dict) -> Node:
    costs = total(layers)
    if color == "saved":
        cost = sum((saved[s.name] for s in layers), 0)
    else:
        cost = {"params": costs.params, "macs": costs.macs, "memory": analysis.nbytes(costs.activations)}.get(color or "", 0)
    if place.scope is None:
        lines = _layer_lines(layers[0], place.cluster)
        minor = REGISTRY[layers[0].kind].minor and layers[0].params == 0
        tooltip = f"{layers[0].name}: {layers[0].label} → {shape_text(layers[0].output_shape)}"
    else:
        lines = _block_lines(node_id, layers, place, analysis)
        minor, tooltip = False, f"{node_id}: {len(layers)} layers"
    if costs.params != 0:
        lines.append(f"params {to_text(costs.params)}{_per_instance(layers, place, analysis)}")
    if color in ("macs", "memory", "saved") and cost != 0:
        lines.append(f"{color} {to_text(cost)}" + (" bytes" if color in ("memory", "saved") else ""))
    training = all(s.training_only for s in layers)
    return Node(node_id, lines, place.cluster, tooltip, training, place.scope is not None, minor, cost)


def _measured(layers: list[LayerStats], timings: Timings | None) -> list[str]:
    """The node's measured milliseconds: the sum over its layers that were timed."""
    times = [timings.layer_ms[s.name] for s in layers if s.name in timings.layer_ms] if timings is not None else []
    return [f"measured {sum(times):.3f} ms"] if times else []


def _per_instance(layers: list[LayerStats], place: _Place, analysis: Analysis) -> str:
    """ " (35 × 1,117,184)" after a ×n node's params when every instance has the same."""
    info = analysis.scopes.get(place.scope) if place.scope is not None else None
    if info is None or not info.group:
        return ""
    level = layers[0].scopes.index(place.scope)  # every instance sits at the same level
    instances: dict[str, list[LayerStats]] = {}
    for stats in layers:
        instances.setdefault(stats.scopes[level], []).append(stats)
    params = {to_text(total(members).params) for members in instances.values()}
    return f" ({info.count} × {params.pop()})" if len(params) == 1 else ""


def _layer_lines(stats: LayerStats, cluster: str) -> list[str]:
    name = _short(stats.name, cluster)
    # an auto-named pointwise layer ("relu3" doing "relu") needs no second word
    if stats.label == stats.kind and name.rstrip("0123456789") == stats.kind:
        return [name]
    if name == stats.kind:  # "conv · conv 3×3, 64" says it twice
        return [stats.label]
    return [f"{name} · {stats.label}"]  # one line, not two: long networks stay shorter


def _block_lines(node_id: str, layers: list[LayerStats], place: _Place, analysis: Analysis) -> list[str]:
    """Name (×n for a repeat), block kind and size, and the main ops of one instance."""
    info = analysis.scopes.get(place.scope)
    one = [s for s in layers if place.scope in s.scopes]  # the first instance
    kind = info.kind if info is not None else "block"
    title = _short(node_id, place.cluster)
    each = ""
    if info is not None and info.group:
        title += f" ×{info.count}"
        each = " each"
    main = [s.label for s in one if not REGISTRY[s.kind].minor]
    if len(main) > MAX_SUMMARY_OPS:
        main = main[: MAX_SUMMARY_OPS - 1] + [f"… {len(main) - MAX_SUMMARY_OPS + 1} more"]
    count = f"{len(one)} layer{'s' if len(one) != 1 else ''}{each}"
    summary = count if kind == "branch" else f"{kind} · {count}"
    return [title, summary, *main]


def _edges(analysis: Analysis, places: dict[str, _Place]) -> list[Edge]:
    """One edge per graph edge between distinct drawn nodes, labelled with the tensor it carries."""
    outputs = {s.name: s.output_shape for s in analysis.layers}
    outputs[INPUT] = analysis.input_shape
    edges: dict[tuple, Edge] = {}
    for stats in analysis.layers:
        head = places[stats.name].node
        for source in stats.inputs:
            tail = INPUT if source == INPUT else places[source].node
            if tail != head:
                edge = Edge(tail, head, shape_text(outputs[source]), stats.training_only)
                edges.setdefault((tail, head, edge.label), edge)
    return list(edges.values())


def _mark_outputs(nodes: dict[str, Node], edges: list[Edge], members: dict[str, list[LayerStats]]) -> None:
    """A node nothing reads from is an output of the network: say what it outputs."""
    tails = {edge.tail for edge in edges}
    for node_id, layers in members.items():
        if node_id not in tails:
            nodes[node_id].lines.append(f"→ {shape_text(layers[-1].output_shape)}")


def _clusters(analysis: Analysis, places: dict[str, _Place]) -> dict[str, Cluster]:
    """Every scope left open, in the order its first layer comes, nested as the blocks are."""
    clusters: dict[str, Cluster] = {}
    for stats in analysis.layers:
        place = places[stats.name]
        scopes = stats.scopes if place.scope is None else stats.scopes[: stats.scopes.index(place.scope)]
        parent = ""
        for path in scopes:
            if path not in clusters:
                info = analysis.scopes.get(path)
                kind = info.kind if info is not None else "block"
                label = _short(path, parent) + ("" if kind == "branch" else f" · {kind}")
                clusters[path] = Cluster(path, parent, label, kind)
            parent = path
    return clusters


def _title(analysis: Analysis, depth: int | None) -> list[str]:
    t = analysis.totals
    batch = f", batch {analysis.batch}" if analysis.batch != 1 else ""
    lines = [analysis.name, f"input {shape_text(analysis.input_shape)}{batch} · {t.layers} layers"]
    lines += _costs("", t.params, t.macs)
    if any(s.training_only for s in analysis.layers):
        i = analysis.inference_totals
        lines += _costs("inference, dashed training-only layers left out: ", i.params, i.macs)
    if depth is not None:
        lines.append(f"--depth {depth}: each block or branch nested deeper is one node")
    return lines


def _costs(prefix: str, params: Value, macs: Value) -> list[str]:
    """One line when numbers; formulas get a line each, wrapped, so the title stays narrow."""
    line = f"{prefix}params {to_text(params)} · MACs {to_text(macs)}"
    if len(line) <= TITLE_WIDTH:
        return [line]
    wrap = functools.partial(textwrap.wrap, width=TITLE_WIDTH, break_long_words=False, subsequent_indent="    ")
    return [*wrap(f"{prefix}params {to_text(params)}"), *wrap(f"MACs {to_text(macs)}")]


# --- colour -----------------------------------------------------------------------------
def _shade(diagram: Diagram, metric: str, dtype: str) -> None:
    """Fill each node by the decade of its cost, darkest for the largest decade."""
    costs = [to_exact(node.cost) for node in diagram.nodes.values()]
    if any(is_symbolic(cost) for cost in costs):
        raise SpecError("--color needs concrete sizes, but the input is symbolic; give numbers with --input, e.g. 3,224,224")
    top = len(str(max(costs))) - 1  # the largest cost lies in [10^top, 10^(top+1))
    levels = len(SHADES) - 1
    for node in diagram.nodes.values():
        cost = to_exact(node.cost)
        if cost > 0:
            decade = len(str(cost)) - 1
            node.fill = SHADES[max(1, levels - (top - decade))]
    diagram.legend_title = {
        "macs": "MACs per node",
        "params": "params per node",
        "memory": f"output activations, bytes as {dtype}",
        "saved": f"saved for the backward pass, bytes as {dtype}",
    }[metric]
    diagram.legend = _legend(top, levels)


def _legend(top: int, levels: int) -> list[tuple[str, str]]:
    rows = [(SHADES[0], "0")]
    for level in range(1, levels + 1):
        low = top - (levels - level)
        if low < 0:
            continue
        if level == 1:
            rows.append((SHADES[1], f"< {_power(low + 1)}"))
        else:
            rows.append((SHADES[level], f"{_power(low)} – {_power(low + 1)}" if level < levels else f"≥ {_power(low)}"))
    return rows


def _power(exponent: int) -> str:
    """10^k as the short text people read: 100, 10K, 1M, 100G."""
    for step, suffix in ((12, "T"), (9, "G"), (6, "M"), (3, "K")):
        if exponent >= step:
            return f"{10 ** (exponent - step)}{suffix}"
    return str(10**exponent)


# --- DOT ----------------------------------------------------------------------------------
GRAPH_ATTRS = (
    'graph [rankdir=TB, fontname="Helvetica", fontsize=16, labelloc=t, labeljust=c, nodesep=0.25, ranksep=0.22, charset="UTF-8"]',
    'node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10, margin="0.1,0.03", height=0.3]',
    'edge [fontname="Helvetica", fontsize=8, color="#555555", fontcolor="#333333", arrowsize=0.6]',
)
BOX3D_MARGIN = "0.12,0.12"  # inches, horizontal and vertical; plain nodes use node [margin] above
CLUSTER_FILLS = ("#eef2fa", "#dde5f5")  # alternate by nesting level so nested blocks stand apart


def quote(text: str) -> str:
    """A DOT string: any characters, including ``:`` and quotes, stay part of one ID."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(diagram: Diagram) -> str:
    out = ["digraph archcalc {", *(f"  {attrs};" for attrs in GRAPH_ATTRS), f"  label=<{_title_html(diagram)}>;"]
    children: dict[str, list[Cluster]] = {}
    for cluster in diagram.clusters.values():
        children.setdefault(cluster.parent, []).append(cluster)
    placed: dict[str, list[Node]] = {}
    for node in diagram.nodes.values():
        placed.setdefault(node.cluster, []).append(node)
    index = {path: k for k, path in enumerate(diagram.clusters)}
    out += _scope_lines("", children, placed, index, 1)
    for edge in diagram.edges:
        style = ", style=dashed" if edge.training_only else ""
        out.append(f"  {quote(edge.tail)} -> {quote(edge.head)} [label={quote(edge.label)}{style}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _scope_lines(path: str, children: dict, placed: dict, index: dict, level: int) -> list[str]:
    pad = "  " * level
    lines = [pad + _node_statement(node) for node in placed.get(path, [])]
    for cluster in children.get(path, []):
        if cluster.kind == "branch":
            style = 'style="rounded,dashed"; color="#8090b0"'
        else:
            style = f'style="rounded,filled"; color="#8090b0"; fillcolor="{CLUSTER_FILLS[(level - 1) % 2]}"'
        lines.append(f"{pad}subgraph cluster_{index[cluster.path]} {{")
        lines.append(f"{pad}  label={quote(cluster.label)}; fontsize=10; labeljust=l; {style};")
        lines += _scope_lines(cluster.path, children, placed, index, level + 1)
        lines.append(pad + "}")
    return lines


def _node_statement(node: Node) -> str:
    attrs = [f"label={quote(chr(10).join(node.lines))}", f"tooltip={quote(node.tooltip)}"]
    styles = ["rounded", "filled"]
    if node.training_only:
        styles.append("dashed")
    if node.collapsed:  # the 3-D box's depth lowers its top edge: a taller margin keeps the first line inside it
        attrs.append(f"shape=box3d, margin={quote(BOX3D_MARGIN)}")
        styles = [s for s in styles if s != "rounded"]
    if node.minor:
        attrs.append("fontsize=9, height=0.22")
        if node.fill is None:
            attrs.append('fillcolor="#f3f3f3"')
    if node.fill is not None:
        attrs.append(f'fillcolor="{node.fill}"')
        if node.fill in DARK_SHADES:
            attrs.append('fontcolor="#ffffff"')
    attrs.append(f'style="{",".join(styles)}"')
    return f"{quote(node.id)} [{', '.join(attrs)}];"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _title_html(diagram: Diagram) -> str:
    """The title lines, the first in bold, and under them the colour legend, if any: at the
    top of the drawing, where a reader of a long network looks first."""
    name, *rest = diagram.title
    lines = [f"<B>{_html(name)}</B>"] + [f'<FONT POINT-SIZE="12">{_html(line)}</FONT>' for line in rest]
    rows = [f"<TR><TD>{line}</TD></TR>" for line in lines]
    if diagram.legend:
        rows.append(f"<TR><TD>{_legend_html(diagram)}</TD></TR>")
    return '<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="2">' + "".join(rows) + "</TABLE>"


def _legend_html(diagram: Diagram) -> str:
    """One row of swatches, each with the range of costs it stands for."""
    small = '<FONT POINT-SIZE="10">{}</FONT>'
    cells = [f'<TD BGCOLOR="{fill}" WIDTH="20"> </TD><TD ALIGN="LEFT">{small.format(_html(text))}</TD>' for fill, text in diagram.legend]
    head = f'<TR><TD COLSPAN="{2 * len(cells)}" BORDER="0">{small.format(_html(diagram.legend_title))}</TD></TR>'
    return f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">{head}<TR>{"".join(cells)}</TR></TABLE>'


def dot_source(
    analysis: Analysis,
    depth: int | None = None,
    color: str | None = None,
    timings: Timings | None = None,
    training=None,
    notify: Callable[[str], None] | None = None,
) -> str:
    """The DOT text; without ``depth``, one that Graphviz can lay out (``fitting_depth``),
    said in one line to ``notify`` (default: stderr) when blocks had to be collapsed for it."""
    if depth is None:
        depth, note = fitting_depth(analysis)
        if note:
            (notify or _to_stderr)(note)
    return to_dot(build(analysis, depth, color, timings, training))


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)  # sys.stderr looked up now: a test's runner may have replaced it


def drawn_nodes(analysis: Analysis, depth: int | None) -> int:
    """How many nodes ``build`` draws at ``depth``: the input and one per distinct place."""
    return 1 + len({_place(stats, analysis, depth).node for stats in analysis.layers})


def fitting_depth(analysis: Analysis) -> tuple[int | None, str | None]:
    """The deepest ``--depth`` whose diagram has at most MAX_DRAWN_NODES nodes (None: the whole
    network fits, drawn open), and the line that says so when it does not fit."""
    every = drawn_nodes(analysis, None)
    if every <= MAX_DRAWN_NODES:
        return None, None
    levels = max(len(stats.scopes) for stats in analysis.layers)
    too_many = (
        f"{analysis.totals.layers:,} layers would be {every:,} nodes, too many for Graphviz to lay out "
        f"in reasonable time (over {MAX_DRAWN_NODES:,})"
    )
    if levels == 0:
        return None, f"archcalc: {too_many}, and there are no blocks to collapse: the layout may take minutes"
    for depth in range(levels - 1, -1, -1):
        count = drawn_nodes(analysis, depth)
        if count <= MAX_DRAWN_NODES or depth == 0:
            break
    fits = "" if count <= MAX_DRAWN_NODES else " (still too many: the layout may take minutes)"
    return depth, f"archcalc: {too_many}: blocks collapsed as with --depth {depth} ({count:,} nodes){fits}; give --depth to choose"
