"""`diagram` of a network too big for Graphviz: blocks collapse on their own, said in one line
on stderr (archcalc.diagram.fitting_depth). The spec is torchvision's ResNet-18 with 357
blocks per stage: 10,009 layers, counted by hand below; Graphviz itself is never run."""

from __future__ import annotations

import pytest

from archcalc import diagram
from archcalc.diagram import MAX_DRAWN_NODES, build, dot_source, drawn_nodes, fitting_depth
from tests.conftest import ROOT

BLOCKS = 357
# the stem (conv1, bn1, relu, maxpool) and the head (avgpool, flatten, fc): 7 layers; stage 1
# has 357 basic blocks of 7 layers; stages 2–4 a projecting block of 9 layers and 356 of 7
LAYERS = 7 + BLOCKS * 7 + 3 * (9 + (BLOCKS - 1) * 7)
# --depth 1 keeps the stages open and draws each block group as one node: the input, the 7
# stem and head layers, stage 1's ×357 group, and per later stage its block 0 and its ×356 group
NODES_AT_DEPTH_1 = 1 + 7 + 1 + 3 * 2


def big_resnet() -> str:
    text = (ROOT / "specs/torchvision/resnet18.yaml").read_text()
    old = "args: {n1: 2, n2: 2, n3: 2, n4: 2,"
    assert old in text
    return text.replace(old, f"args: {{n1: {BLOCKS}, n2: {BLOCKS}, n3: {BLOCKS}, n4: {BLOCKS},")


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    from archcalc.analysis import analyse_file

    path = tmp_path_factory.mktemp("big") / "resnet_big.yaml"
    path.write_text(big_resnet())
    return path, analyse_file(path)


def test_the_big_spec_has_the_layers_counted_by_hand(big):
    _, analysis = big
    assert LAYERS == 10_009 and analysis.totals.layers == LAYERS


def test_the_deepest_depth_that_fits_is_chosen(big):
    _, analysis = big
    assert drawn_nodes(analysis, None) == LAYERS + 1 > MAX_DRAWN_NODES
    assert drawn_nodes(analysis, 2) == LAYERS + 1  # depth 2 opens the blocks: every layer again
    assert drawn_nodes(analysis, 1) == NODES_AT_DEPTH_1
    depth, note = fitting_depth(analysis)
    assert depth == 1
    assert note == (
        f"archcalc: 10,009 layers would be 10,010 nodes, too many for Graphviz to lay out in reasonable time "
        f"(over {MAX_DRAWN_NODES:,}): blocks collapsed as with --depth 1 ({NODES_AT_DEPTH_1} nodes); give --depth to choose"
    )
    assert len(build(analysis, depth).nodes) == NODES_AT_DEPTH_1  # what is drawn is what was counted


def test_a_deeper_depth_is_chosen_when_the_limit_allows(big, monkeypatch):
    _, analysis = big
    # depth 0 draws the input, the 7 stem and head layers and the 4 stages: 12 nodes, under
    # a limit of 14; depth 1 (15 nodes) is over it
    monkeypatch.setattr(diagram, "MAX_DRAWN_NODES", 14)
    assert fitting_depth(analysis)[0] == 0
    monkeypatch.setattr(diagram, "MAX_DRAWN_NODES", 11)  # not even depth 0 fits: the fewest nodes, and it says so
    depth, note = fitting_depth(analysis)
    assert depth == 0 and note.endswith("--depth 0 (12 nodes) (still too many: the layout may take minutes); give --depth to choose")


def test_a_given_depth_is_kept_and_nothing_said(big):
    _, analysis = big
    said = []
    text = dot_source(analysis, depth=0, notify=said.append)
    assert said == [] and "--depth 0:" in text


def test_a_network_that_fits_is_drawn_open_and_nothing_said(analyse_text):
    said = []
    analysis = analyse_text((ROOT / "specs/torchvision/resnet18.yaml").read_text())
    assert fitting_depth(analysis) == (None, None)
    dot_source(analysis, notify=said.append)
    assert said == []


def test_a_chain_without_blocks_cannot_collapse_and_says_so(analyse_text):
    layers = "\n".join("  - relu" for _ in range(MAX_DRAWN_NODES + 1))
    analysis = analyse_text(f"name: flat\ninput: [1, 2, 2]\nlayers:\n{layers}\n")
    depth, note = fitting_depth(analysis)
    assert depth is None
    assert note.startswith(f"archcalc: 1,001 layers would be {MAX_DRAWN_NODES + 2:,} nodes")
    assert note.endswith("and there are no blocks to collapse: the layout may take minutes")


def test_the_command_says_it_in_one_line_on_stderr(big, cli, tmp_path):
    path, _ = big
    out = tmp_path / "big.dot"
    result = cli("diagram", path, "-o", out)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("archcalc: 10,009 layers would be 10,010 nodes")
    assert result.stdout.startswith("wrote ")
    assert out.read_text().count("[label=") - out.read_text().count("->") == NODES_AT_DEPTH_1  # node statements
