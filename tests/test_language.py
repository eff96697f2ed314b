"""The spec language: blocks, arguments, repeat, branches, from:, training-only, extends."""

from __future__ import annotations

from tests.conftest import by_name

RESNETISH = """
name: mini
input: [3, 32, 32]
args: {n: 2}
blocks:
  basic:
    args: {out: int, stride: 1}
    layers:
      - add:
          - [conv: {out: out, kernel: 3, stride: stride, padding: 1, bias: false}, bn, relu,
             conv: {out: out, kernel: 3, padding: 1, bias: false}, bn]
          - identity
      - relu
layers:
  - conv: {name: stem, out: 8, kernel: 3, padding: 1}
  - basic: {name: layer1, out: 8, repeat: n}
  - globalavgpool: {name: aux, from: layer1.0, training_only: true}
  - globalavgpool: {name: gap}
  - flatten
  - linear: {name: fc, out: 10}
"""


def test_block_repeat_names_and_wiring(analyse_text):
    analysis = analyse_text(RESNETISH)
    layers = by_name(analysis)
    assert "layer1.0.branch1.conv1" in layers and "layer1.1.add1" in layers
    # the second repetition starts from the first one's output
    assert layers["layer1.1.branch1.conv1"].inputs == ("layer1.0.relu1",)
    # the identity branch feeds the block input itself into the add
    assert layers["layer1.0.add1"].inputs == ("layer1.0.branch1.bn2", "stem")
    # `from: layer1.0` names the block instance, i.e. its last layer
    assert layers["aux"].inputs == ("layer1.0.relu1",)
    # the training-only side branch does not continue the chain
    assert layers["gap"].inputs == ("layer1.1.relu1",)


def test_block_params_by_hand(analyse_text):
    analysis = analyse_text(RESNETISH)
    stem = 3 * 9 * 8 + 8
    block = 2 * (8 * 9 * 8) + 2 * (2 * 8)  # two bias-free 3×3 convs and two BNs
    fc = 8 * 10 + 10
    assert analysis.totals.params == stem + 2 * block + fc
    assert analysis.totals.buffers == 2 * 2 * (2 * 8)


def test_training_only_layers_are_counted_apart(analyse_text):
    analysis = analyse_text(RESNETISH)
    layers = by_name(analysis)
    assert layers["aux"].training_only and not layers["gap"].training_only
    # aux is a global pool: no params or macs, but its activations leave the inference totals
    assert analysis.totals.activations - analysis.inference_totals.activations == 8
    assert analysis.inference_totals.layers == analysis.totals.layers - 1


def test_extends_overrides_network_args(write_spec, analyse_text):
    write_spec(RESNETISH, "base.yaml")
    deeper = analyse_text(
        "extends: base.yaml\nname: deeper\nargs: {n: 3}\n",
    )
    base = analyse_text(RESNETISH)
    assert deeper.name == "deeper"
    block = 2 * (8 * 9 * 8) + 2 * (2 * 8)
    assert deeper.totals.params - base.totals.params == block
    assert "layer1.2.add1" in by_name(deeper)


def test_block_argument_arithmetic(analyse_text):
    analysis = analyse_text(
        """
        name: t
        input: [4, 8, 8]
        blocks:
          widen:
            args: {width: int, factor: 4}
            layers: [conv: {out: width * factor, kernel: 1}, conv: {out: "width // 2", kernel: 1}]
        layers: [widen: {width: 6}]
        """
    )
    assert [s.output_shape[0] for s in analysis.layers] == [24, 3]


def test_concat_branches_and_from_lists(analyse_text):
    analysis = analyse_text(
        """
        name: t
        input: [3, 16, 16]
        layers:
          - conv: {name: a, out: 4, kernel: 1}
          - conv: {name: b, out: 6, kernel: 3, padding: 1, from: input}
          - concat: {name: ab, from: [a, b]}
          - concat: [[conv: {out: 2, kernel: 1}], [maxpool: {kernel: 3, stride: 1, padding: 1}], identity]
        """
    )
    layers = by_name(analysis)
    assert layers["ab"].output_shape == (10, 16, 16)
    assert layers["concat1"].output_shape == (2 + 10 + 10, 16, 16)
    assert layers["b"].inputs == ("input",)


def test_forward_reference_without_cycle(analyse_text):
    analysis = analyse_text(
        """
        name: t
        input: [3, 8, 8]
        layers:
          - relu: {name: late, from: early}
          - conv: {name: early, out: 2, kernel: 1, from: input}
        outputs: [late]
        """
    )
    # evaluated in dependency order, not file order
    assert [s.name for s in analysis.layers] == ["early", "late"]


def test_repeated_op_and_zero_repeat(analyse_text):
    analysis = analyse_text(
        """
        name: t
        input: [3, 8, 8]
        layers:
          - conv: {name: c, out: 3, kernel: 3, padding: 1, repeat: 3}
          - relu: {repeat: 0}
        """
    )
    assert [s.name for s in analysis.layers] == ["c.0", "c.1", "c.2"]
    assert analysis.totals.params == 3 * (3 * 9 * 3 + 3)


def test_receptive_field_union_at_a_merge(analyse_text):
    analysis = analyse_text(
        """
        name: t
        input: [1, 32, 32]
        layers:
          - concat:
              - [conv: {out: 1, kernel: 5}]
              - [conv: {out: 1, kernel: 3, padding: 1}, conv: {out: 1, kernel: 3}, conv: {out: 1, kernel: 3}]
        """
    )
    merged = analysis.layers[-1]
    assert merged.output_shape == (2, 28, 28)
    # branch 1: field 5 centred at (5 − 1)/2 = 2, i.e. pixels [0, 4]
    # branch 2: 3, then 5, then 7; centre 0 + 1 + 1 = 2, i.e. pixels [−1, 5]
    # the union is [−1, 5]: size 7, centre 2
    assert merged.rf.size == (7, 7) and merged.rf.start == (2, 2) and merged.rf.jump == (1, 1)


def test_network_args_are_visible_in_blocks(analyse_text):
    analysis = analyse_text(
        """
        name: t
        input: [4, 8, 8]
        args: {width: 8}
        blocks:
          widen:
            args: {factor: 2}
            layers: [conv: {out: factor * width, kernel: 1}]
          shadow:
            args: {width: 3}
            layers: [conv: {out: width, kernel: 1}]
        layers: [widen, shadow]
        """
    )
    # widen: 2 · 8 from the network; shadow: its own width 3 hides the network's 8
    assert [s.output_shape[0] for s in analysis.layers] == [16, 3]
