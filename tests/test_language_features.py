"""The spec language's features, each on a small network whose numbers are worked by hand:
a block's input shape (C_in …), typed and list arguments, `let`, `for` tables, `if`
conditions, name templates, op kinds from arguments, declared outputs."""

from __future__ import annotations

import json

import pytest

from archcalc.expressions import symbol
from archcalc.report import to_dict
from tests.conftest import by_name


def names(analysis):
    return [s.name for s in analysis.layers]


# --- a block sees its input's shape ----------------------------------------------------------
def test_c_in_in_a_block_body(analyse_text):
    analysis = analyse_text(
        """
        name: se
        input: [16, 8, 8]
        blocks:
          gate:                       # squeeze to C_in // 4, expand back to C_in
            layers: [conv: {out: C_in // 4, kernel: 1}, relu, conv: {out: C_in, kernel: 1}, sigmoid]
          expand:
            args: {t: int}
            layers: [conv: {out: C_in * t, kernel: 1}]
        layers: [gate, expand: {t: 2}, expand: {t: 3}]
        """
    )
    convs = [s for s in analysis.layers if s.kind == "conv"]
    # 16 → 4 → 16 (the gate), then 16·2 = 32 and 32·3 = 96: each block reads its own input's C
    assert [s.output_shape[0] for s in convs] == [4, 16, 32, 96]
    assert [s.params for s in convs] == [16 * 4 + 4, 4 * 16 + 16, 16 * 32 + 32, 32 * 96 + 96]


def test_h_in_w_in_and_f_in(analyse_text):
    analysis = analyse_text(
        """
        name: sizes
        input: [2, 6, 4]
        blocks:
          whole:                      # a pool over the whole map, from the map's own size
            layers: [avgpool: {kernel: [H_in, W_in]}]
          wider:
            layers: [linear: {out: F_in * 3}]
        layers: [whole, flatten, wider]
        """
    )
    assert [s.output_shape for s in analysis.layers] == [(2, 1, 1), (2,), (6,)]


def test_symbolic_sizes_keep_working_with_numeric_channels(analyse_text):
    analysis = analyse_text(
        """
        name: symbolic
        input: [3, H, W]
        blocks:
          widen:
            layers: [conv: {out: C_in * 2, kernel: 3, padding: 1}]
        layers: [widen, widen]
        """
    )
    H, W = symbol("H"), symbol("W")
    assert [s.output_shape for s in analysis.layers] == [(6, H, W), (12, H, W)]
    assert analysis.totals.macs == (3 * 9 * 6 + 6 * 9 * 12) * H * W


def test_a_block_that_needs_no_shape_may_read_a_later_layer(analyse_text):
    analysis = analyse_text(
        """
        name: forward
        input: [3, 8, 8]
        blocks:
          fixed:
            layers: [conv: {out: 4, kernel: 1}]
        layers:
          - fixed: {name: f, from: late}
          - conv: {name: late, out: 2, kernel: 1, from: input}
        outputs: [f]
        """
    )
    assert by_name(analysis)["f.conv1"].inputs == ("late",)


def test_an_expression_default_is_computed_in_the_block(analyse_text):
    analysis = analyse_text(
        """
        name: defaults
        input: [5, 4, 4]
        blocks:
          same:
            args: {out: C_in, stride: 1}
            layers: [conv: {out: out, kernel: 1, stride: stride}]
        layers: [same, same: {out: 7}]
        """
    )
    assert [s.output_shape[0] for s in analysis.layers] == [5, 7]


# --- arguments: numbers, lists, words, true/false; let ----------------------------------------------
def test_decimal_arguments_and_let_are_exact(analyse_text):
    analysis = analyse_text(
        """
        name: width
        input: [3, 8, 8]
        args: {width_mult: 1.4, base: [32, 16]}
        let:
          first: make_divisible(base[0] * width_mult, 8)
          second: "[make_divisible(c * width_mult, 8) for c in base][1]"
        layers:
          - conv: {out: first, kernel: 1}
          - conv: {out: second, kernel: 1}
        """
    )
    # 32 · 1.4 = 44.8 → int(44.8 + 4) = 48, a multiple of 8; 16 · 1.4 = 22.4 → int(26.4) // 8 · 8 = 24
    assert [s.output_shape[0] for s in analysis.layers] == [48, 24]


def test_typed_block_arguments(analyse_text):
    analysis = analyse_text(
        """
        name: typed
        input: [4, 8, 8]
        blocks:
          unit:
            args: {ratio: number, use_relu: bool, widths: list, act: str}
            let: {out: round(C_in * ratio)}
            layers:
              - conv: {out: "out + widths[0]", kernel: 1}
              - relu: {if: use_relu}
              - act
        layers:
          - unit: {ratio: 2.5, use_relu: true, widths: [1, 2], act: sigmoid}
          - unit: {ratio: 1, use_relu: false, widths: [0], act: tanh}
        """
    )
    # round(4 · 2.5) = 10 (+1) = 11; then round(11 · 1) + 0 = 11
    kinds = [(s.kind, s.output_shape[0]) for s in analysis.layers]
    assert kinds == [("conv", 11), ("relu", 11), ("sigmoid", 11), ("conv", 11), ("tanh", 11)]


def test_an_argument_names_the_op(analyse_text):
    analysis = analyse_text(
        """
        name: activations
        input: [2, 4, 4]
        args: {final: tanh}
        blocks:
          conv_act:
            args: {act: relu}
            layers: [conv: {name: conv, out: 2, kernel: 1}, act: {name: act}]
        layers: [conv_act, conv_act: {act: sigmoid}, final]
        """
    )
    assert [s.kind for s in analysis.layers] == ["conv", "relu", "conv", "sigmoid", "tanh"]
    assert names(analysis)[:2] == ["conv_act1.conv", "conv_act1.act"]


# --- tables: for ---------------------------------------------------------------------------------
TABLE = """
name: stages
input: [3, 32, 32]
args:
  table:                      # out, n, s
    - [8, 2, 1]
    - [16, 3, 2]
blocks:
  unit:
    args: {out: int, stride: int}
    layers:
      - conv: {name: c, out: out, kernel: 3, stride: stride, padding: 1}
      - add: {from: [input, c], if: stride == 1 and C_in == out}
  stage:                      # one numbered Sequential per stage (EfficientNet's features.1.0 …)
    numbered: true
    args: {out: int, n: int, s: int}
    layers:
      - unit: {for: i in range(n), out: out, stride: s if i == 0 else 1}
  features:
    numbered: true
    layers:
      - conv: {out: 8, kernel: 1}
      - stage: {for: "o, n, s in table", out: o, n: n, s: s}
layers: [features: {name: features}]
"""


def test_a_table_expands_once_per_row_with_the_index(analyse_text):
    analysis = analyse_text(TABLE)
    assert names(analysis) == [
        "features.0",
        "features.1.0.c", "features.1.0.add1", "features.1.1.c", "features.1.1.add1",
        "features.2.0.c", "features.2.1.c", "features.2.1.add1", "features.2.2.c", "features.2.2.add1",
    ]  # fmt: skip
    layers = by_name(analysis)
    # only the first unit of a stage strides, and the residual exists only where stride is 1 and C agrees
    assert layers["features.2.0.c"].output_shape == (16, 16, 16)
    assert layers["features.2.1.add1"].inputs == ("features.2.0.c", "features.2.1.c")


def test_flat_numbering_across_rows_and_nested_loops(analyse_text):
    analysis = analyse_text(
        """
        name: flat
        input: [3, 8, 8]
        args: {setting: [[4, 2], [6, 1]]}
        blocks:
          features:
            numbered: true
            layers:
              - conv:
                  for: c, n in setting for i in range(n)
                  out: c + i
                  kernel: 1
        layers: [features: {name: features}]
        """
    )
    # MobileNetV2's features.1 … features.17 numbering: one number per instance, across rows
    assert [(s.name, s.output_shape[0]) for s in analysis.layers] == [("features.0", 4), ("features.1", 5), ("features.2", 6)]


def test_a_loop_with_a_condition_and_repeat(analyse_text):
    analysis = analyse_text(
        """
        name: loops
        input: [1, 4, 4]
        layers:
          - relu: {for: "k in range(1, 6) if k % 2 == 1", name: "r{k}", repeat: 2}
        """
    )
    assert names(analysis) == ["r1.0", "r1.1", "r3.0", "r3.1", "r5.0", "r5.1"]


# --- conditions ----------------------------------------------------------------------------------
def test_an_absent_entry_takes_no_number(analyse_text):
    analysis = analyse_text(
        """
        name: conditional
        input: [4, 8, 8]
        blocks:
          body:
            numbered: true
            args: {t: int}
            layers:
              - conv: {out: C_in * t, kernel: 1, if: t != 1}
              - conv: {out: C_in * t if t > 1 else C_in, kernel: 3, padding: 1}
        layers: [body: {name: a, t: 1}, body: {name: b, t: 2}]
        """
    )
    # t = 1: the expansion is absent and the 3×3 is a.0; t = 2: b.0 expands to 8, b.1 keeps 8
    assert [(s.name, s.output_shape[0]) for s in analysis.layers] == [("a.0", 4), ("b.0", 8), ("b.1", 8)]


@pytest.mark.parametrize(
    "condition, present",
    [("true", True), ("not false", True), ("C_in == 4 and C_in != 5", True), ("C_in < 4 or C_in >= 5", False), ("1 < C_in <= 4", True),
     ("'HS' in ['RE', 'HS']", True), ("null is None", True), ("[1, 2] == [1, 2.0]", True)],
)  # fmt: skip
def test_comparisons_and_connectives(analyse_text, condition, present):
    analysis = analyse_text(f'name: t\ninput: [4, 2, 2]\nlayers:\n  - relu: {{if: "{condition}"}}\n  - sigmoid\n')
    assert ("relu" in [s.kind for s in analysis.layers]) == present


# --- names ---------------------------------------------------------------------------------------
def test_names_from_arguments_numbered_from_one(analyse_text):
    analysis = analyse_text(
        """
        name: dense
        input: [2, 4, 4]
        args: {blocks: [2, 1]}
        blocks:
          stage:
            args: {n: int}
            layers:
              - conv: {for: "j in range(1, n + 1)", name: "denselayer{j}", out: 2, kernel: 1}
        layers:
          - stage: {for: "b, n in enumerate(blocks, 1)", name: "denseblock{b}", n: n}
          - add: {from: [denseblock1.denselayer2, "denseblock{k}.denselayer1"], for: "k in [2]"}
        """
    )
    assert names(analysis) == ["denseblock1.denselayer1", "denseblock1.denselayer2", "denseblock2.denselayer1", "add1"]
    assert by_name(analysis)["add1"].inputs == ("denseblock1.denselayer2", "denseblock2.denselayer1")


# --- outputs -------------------------------------------------------------------------------------
TWO_OUTPUTS = """
name: two
input: [3, 8, 8]
layers:
  - conv: {name: stem, out: 4, kernel: 3, padding: 1}
  - conv: {name: head, out: 2, kernel: 1}
  - conv: {name: aux, out: 5, kernel: 1, from: stem}
outputs: {out: head, aux: aux}
"""


def test_several_outputs_are_reported_apart(analyse_text):
    analysis = analyse_text(TWO_OUTPUTS)
    stem, head, aux = 3 * 9 * 4 + 4, 4 * 2 + 2, 4 * 5 + 5
    got = [(o.label, o.layer, o.shape, o.totals.params, o.totals.layers) for o in analysis.outputs]
    assert got == [("out", "head", (2, 8, 8), stem + head, 2), ("aux", "aux", (5, 8, 8), stem + aux, 2)]
    assert analysis.totals.params == stem + head + aux
    record = json.loads(json.dumps(to_dict(analysis)))["outputs"]
    expected = [("out", [2, 8, 8], stem + head), ("aux", [5, 8, 8], stem + aux)]
    assert [(o["label"], o["shape"], o["needs"]["params"]) for o in record] == expected


def test_the_report_lists_several_outputs(write_spec, cli):
    result = cli("report", write_spec(TWO_OUTPUTS))
    assert "output out = head (2, 8, 8): needs 2 layers, params 122" in result.output
    assert "output aux (5, 8, 8): needs 2 layers, params 137" in result.output


def test_one_output_by_default(analyse_text):
    analysis = analyse_text("name: t\ninput: [3, 4, 4]\nlayers: [conv: {out: 2, kernel: 1}, relu]\n")
    assert [(o.label, o.layer, o.totals.params) for o in analysis.outputs] == [("relu1", "relu1", 3 * 2 + 2)]


def test_torch_returns_every_declared_output(write_spec):
    torch = pytest.importorskip("torch")
    from archcalc.analysis import analyse, load_network
    from archcalc.torch_backend.build import build

    network = load_network(write_spec(TWO_OUTPUTS))
    built = build(network, analyse(network))
    result = built.inference(torch.zeros(1, 3, 8, 8))
    assert list(result) == ["out", "aux"]
    assert tuple(result["out"].shape) == (1, 2, 8, 8) and tuple(result["aux"].shape) == (1, 5, 8, 8)


def test_training_only_layers_need_reach_no_output(analyse_text):
    analysis = analyse_text(
        """
        name: aux
        input: [3, 8, 8]
        layers:
          - conv: {name: stem, out: 4, kernel: 1}
          - conv: {name: side, out: 2, kernel: 1, training_only: true}
          - relu: {from: side}
          - conv: {name: head, out: 2, kernel: 1, from: stem}
        """
    )
    assert [o.layer for o in analysis.outputs] == ["head"]
    assert by_name(analysis)["relu1"].training_only


def test_an_inline_block_repeats_a_group_per_row(analyse_text):
    analysis = analyse_text(
        """
        name: convnext-like
        input: [2, 16, 16]
        args:
          table: [[4, 8], [8, null]]    # stage channels, then the downsample's (none after the last)
        blocks:
          stage_then_down:
            inline: true
            args: {c: int, down: null}
            layers:
              - conv: {out: c, kernel: 1}
              - conv: {out: down, kernel: 2, stride: 2, if: down is not None}
          features:
            numbered: true
            layers:
              - stage_then_down: {for: "c, d in table", c: c, down: d}
        layers: [features: {name: features}]
        """
    )
    assert [(s.name, s.output_shape) for s in analysis.layers] == [
        ("features.0", (4, 16, 16)), ("features.1", (8, 8, 8)), ("features.2", (8, 8, 8))
    ]  # fmt: skip


def test_loop_clauses_as_a_list_and_words_as_layer_paths(analyse_text):
    analysis = analyse_text(
        """
        name: clauses
        input: [2, 4, 4]
        args: {tap: stem.0}
        layers:
          - conv: {name: stem.0, out: 2, kernel: 1}
          - relu: {for: ["a in [1, 2]", "b in [3, 4]"], name: "r{a}_{b}", from: "{tap}"}
          - concat: {from: [r1_3, r1_4, r2_3, r2_4]}
        """
    )
    layers = by_name(analysis)
    assert [s.name for s in analysis.layers][1:5] == ["r1_3", "r1_4", "r2_3", "r2_4"]
    assert layers["r2_4"].inputs == ("stem.0",) and layers["concat1"].output_shape == (8, 4, 4)
