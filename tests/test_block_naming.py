"""`numbered` and `inline` blocks: naming layers as PyTorch names nn.Sequential children."""

from __future__ import annotations

import pytest

from archcalc.errors import GraphError, SpecError

SEQUENTIAL = """
name: numbered
input: [3, 8, 8]
args: {convs: 2}
blocks:
  unit:
    inline: true
    args: {out: int}
    layers: [conv: {out: out, kernel: 3, padding: 1}, relu]
  fire:
    layers: [conv: {name: squeeze, out: 2, kernel: 1}, relu]
  features:
    numbered: true
    args: {convs: int}
    layers:
      - unit: {out: 4, repeat: convs}
      - maxpool: {kernel: 2}
      - fire
      - fire: {repeat: 2}
      - conv: {name: last, out: 3, kernel: 1}
layers:
  - features: {name: features, convs: convs}
  - conv: {out: 1, kernel: 1}
"""


def test_numbered_scope_counts_every_layer_and_instance(analyse_text):
    names = [layer.name for layer in analyse_text(SEQUENTIAL).layers]
    # inline units add conv, relu twice (0–3); the pool is 4; each fire instance takes the
    # next number (5, 6, 7) and keeps its own names inside; explicit names stay as written
    assert names == [
        "features.0", "features.1", "features.2", "features.3", "features.4",
        "features.5.squeeze", "features.5.relu1", "features.6.squeeze", "features.6.relu1",
        "features.7.squeeze", "features.7.relu1", "features.last", "conv1",
    ]  # fmt: skip


def test_inline_repeat_zero_adds_nothing(analyse_text):
    names = [layer.name for layer in analyse_text(SEQUENTIAL.replace("convs: 2}", "convs: 0}", 1)).layers]
    assert names[:2] == ["features.0", "features.1.squeeze"]


def test_an_inline_block_takes_no_name(analyse_text):
    with pytest.raises(GraphError, match="inline"):
        analyse_text(SEQUENTIAL.replace("unit: {out: 4,", "unit: {name: u, out: 4,"))


def test_a_block_is_not_numbered_and_inline_at_once(analyse_text):
    with pytest.raises(SpecError, match="not both"):
        analyse_text(SEQUENTIAL.replace("numbered: true", "numbered: true\n    inline: true"))


def test_from_references_inside_a_numbered_block(analyse_text):
    analysis = analyse_text(
        """
        name: residual
        input: [4, 6, 6]
        blocks:
          seq:
            numbered: true
            layers: [conv: {out: 4, kernel: 1}, relu, add: {from: [input, "1"]}]
        layers:
          - seq: {name: layer1}
        """
    )
    last = analysis.layers[-1]
    assert (last.name, last.inputs) == ("layer1.2", ("input", "layer1.1"))


def test_input_inside_an_inline_block_is_the_calls_input(analyse_text):
    analysis = analyse_text(
        """
        name: macro
        input: [4, 6, 6]
        blocks:
          residual:
            inline: true
            layers: [conv: {name: c, out: 4, kernel: 1}, add: {from: [input, c]}]
        layers:
          - relu: {name: first}
          - residual
        """
    )
    assert [(s.name, s.inputs) for s in analysis.layers] == [("first", ("input",)), ("c", ("first",)), ("add1", ("first", "c"))]


NESTED = """
name: nested
input: [3, 16, 16]
blocks:
  stage:
    layers: [conv: {name: conv, out: 4, kernel: 3, padding: 1}, relu]
  backbone:
    layers:
      - stage: {name: layer1}
      - maxpool: {kernel: 2}
      - stage: {name: layer2}
layers:
  - backbone: {name: backbone}
  - conv: {name: head, out: 2, kernel: 1}
  - conv: {name: side, from: backbone.layer1, out: 2, kernel: 1}   # torchvision's return_layers
outputs: {out: head, aux: side}
"""


def test_a_dotted_path_names_a_block_instance_inside_another(analyse_text):
    # backbone.layer1 is no layer but an instance in backbone's scope: its output, the 16×16
    # map of backbone.layer1.relu1 (not the pooled 8×8 of the backbone's own output)
    side = {s.name: s for s in analyse_text(NESTED).layers}["side"]
    assert side.inputs == ("backbone.layer1.relu1",)
    assert side.output_shape == (2, 16, 16)


def test_a_dotted_path_to_no_instance_is_an_error(analyse_text):
    with pytest.raises(GraphError, match="`from: backbone.layer3` names no layer"):
        analyse_text(NESTED.replace("from: backbone.layer1", "from: backbone.layer3"))
