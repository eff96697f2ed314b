"""Derivations: every written-out formula, evaluated, gives the Analysis's number — on every
layer of every spec, numeric and symbolic — and the notation reads as the papers write it."""

from __future__ import annotations

import pytest

from archcalc import expressions
from archcalc.analysis import analyse, analyse_file, load_network
from archcalc.derivation import derive
from archcalc.explain import explain_layer, layer_derivations
from tests.conftest import NETWORK_SPECS, ROOT

SHAPE_INDEX = {"C_out": 0, "H_out": 1, "W_out": 2, "F_out": 0}


def loaded(path, input_shape=None):
    """The compiled graph and its Analysis, as `explain` loads them."""
    network = load_network(path, input_shape)
    return network, analyse(network)


def _check_layer(stats, derivations):
    assert derivations, stats.name
    seen = set()
    for d in derivations:
        seen.add(d.symbol)
        if d.symbol in SHAPE_INDEX:
            expected = stats.output_shape[SHAPE_INDEX[d.symbol]]
        elif d.symbol.startswith("rf_size_"):
            expected = stats.rf.size["hw".index(d.symbol[-1])]
        elif d.symbol.startswith("rf_jump_"):
            expected = stats.rf.jump["hw".index(d.symbol[-1])]
        elif d.symbol.startswith("rf_start_"):
            expected = stats.rf.start["hw".index(d.symbol[-1])]
        elif d.symbol in ("params", "buffers", "macs", "connections"):
            expected = getattr(stats, d.symbol)
        else:
            continue  # rf_in (a merge's union) is context, not a result
        assert expressions.equal(d.result, expected) is True, f"{stats.name}: {d.text()} but the analysis says {expected}"
    assert {"params", "buffers", "macs", "connections"} <= seen


@pytest.mark.parametrize("path", NETWORK_SPECS, ids=lambda p: p.stem)
def test_every_derivation_equals_the_analysis(path):
    network, analysis = loaded(path)
    for stats in analysis.layers:
        _check_layer(stats, layer_derivations(network, analysis, stats.name))


# symbolic analysis of the larger zoo is slow (nested floors, ceil_mode's Piecewise): these two
# exercise every formula that a symbolic size flows through; EVERY_OP below covers the other ops
@pytest.mark.parametrize(("name", "input_shape"), [("lenet5", "1,H,W"), ("alexnet", "3,H,W")])
def test_symbolic_derivations_equal_the_analysis(name, input_shape):
    network, analysis = loaded(ROOT / f"specs/{name}.yaml", input_shape=input_shape)
    for stats in analysis.layers:
        _check_layer(stats, layer_derivations(network, analysis, stats.name))


def test_the_issue_example_alexnet_c1():
    # H_out = ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1 = ⌊(227 + 0 − 10 − 1)/4⌋ + 1 = 55
    text = explain_layer(ROOT / "specs/alexnet.yaml", "C1", quantities=("shape",))
    assert "H_out = ⌊(H + 2·p_h − d_h·(k_h − 1) − 1)/s_h⌋ + 1 = ⌊(227 + 2×0 − 1×(11 − 1) − 1)/4⌋ + 1 = 55" in text
    # … and the Analysis (what `report` prints) says the same: C1 is 96×55×55
    c1 = next(s for s in analyse_file(ROOT / "specs/alexnet.yaml").layers if s.name == "C1")
    assert c1.output_shape == (96, (227 + 2 * 0 - 1 * (11 - 1) - 1) // 4 + 1, (227 + 2 * 0 - 1 * (11 - 1) - 1) // 4 + 1)


def test_explain_loads_as_every_command_does_and_names_the_spec_line(monkeypatch, cli):
    # explain shares analysis.load_network: an input it rejects is reported at the spec's line
    # (the spec's own validation rejects bad inputs first, so the rejection is simulated here)
    from archcalc import analysis
    from archcalc.errors import SpecError

    def reject(dims):
        raise SpecError("input: rejected for the test")

    monkeypatch.setattr(analysis, "parse_input", reject)
    path = ROOT / "specs/lenet5.yaml"
    result = cli("explain", path, "C1")
    assert result.exit_code == 2
    assert result.output.startswith(f"archcalc: error: {path}:") and "input: rejected for the test" in result.output
    line = result.output.split(f"{path}:", 1)[1].split(":", 1)[0]
    assert line.isdigit()  # the spec's `input:` line


def test_lenet_c3_table_and_fc8_bias_are_written_out():
    text = explain_layer(ROOT / "specs/lenet5.yaml", "C3", quantities=("params",))
    # T = 6×3 + 9×4 + 1×6 = 60 input maps read over the 16 output maps (Table I)
    assert "params = T·k_h·k_w + C_out = 60×5×5 + 16 = 1516" in text
    text = explain_layer(ROOT / "specs/alexnet.yaml", "FC8", quantities=("params", "macs"))
    assert "params = F·F_out + F_out = 4096×1000 + 1000 = 4097000" in text
    assert "macs = F·F_out = 4096×1000 = 4096000" in text


def test_receptive_field_steps():
    text = explain_layer(ROOT / "specs/lenet5.yaml", "C3", quantities=("rf",))
    # S2 gives size 6, jump 2; C3's 5×5 window adds (5 − 1)×2 = 8 → 14
    assert "rf_size_h = r + d·(k − 1)·j = 6 + 1×(5 − 1)×2 = 14" in text


@pytest.mark.parametrize(
    ("formula", "values", "formula_text", "substituted", "result"),
    [
        ("(H + 2*p - k)//s + 1", {"H": 55, "p": 0, "k": 3, "s": 2}, "⌊(H + 2·p − k)/s⌋ + 1", "⌊(55 + 2×0 − 3)/2⌋ + 1", 27),
        ("a - (b + c)", {"a": 10, "b": 3, "c": 2}, "a − (b + c)", "10 − (3 + 2)", 5),
        ("a*(b/c)", {"a": 6, "b": 4, "c": 2}, "a·(b/c)", "6×(4/2)", 12),
        ("a**2", {"a": 7}, "a^2", "7^2", 49),
    ],
)
def test_notation(formula, values, formula_text, substituted, result):
    d = derive("x", formula, values)
    assert (d.formula, d.substituted, d.result) == (formula_text, substituted, result)


def test_an_op_without_formulas_states_its_rule_honestly():
    from archcalc.ops.norm import LRN

    # LRN keeps the base's pass-through shape and zero counts: those are formulas, not statements
    lines = LRN().derivations([(96, 27, 27)], (96, 27, 27))
    assert [d.result for d in lines] == [96, 27, 27, 0, 0, 0, 0]
    assert all(d.note is None for d in lines)


def test_an_op_that_overrides_a_rule_without_a_formula_is_marked():
    from typing import Literal

    from archcalc.expressions import Value
    from archcalc.ops.base import Op

    class Scale(Op):
        """A per-channel scale.

        params: C (one factor per channel)
        """

        kind: Literal["scale_for_test"] = "scale_for_test"

        def params(self, inputs, out) -> Value:
            return inputs[0][0]

    (params,) = [d for d in Scale().derivations([(8, 4, 4)], (8, 4, 4)) if d.symbol == "params"]
    assert params.result == 8
    assert params.formula == "C (one factor per channel)"
    assert "no formula" in params.note


EVERY_OP = """
name: every op
input: [3, 37, 37]
blocks:
  res:
    args: {out: int}
    layers:
      - add:
          - - conv: {out: out, kernel: 3, padding: 2, dilation: 2, bias: false}
            - bn
            - relu
            - conv: {out: out, kernel: [1, 3], padding: [0, 1]}
            - bn: {affine: false}
          - identity
      - relu
layers:
  - conv: {out: 8, kernel: 3, stride: 2, groups: 1}
  - lrn
  - maxpool: {kernel: 3, stride: 2, ceil_mode: true}
  - res: {out: 8, repeat: 2}
  - concat: [[conv: {out: 4, kernel: 1, groups: 4}], [avgpool: {kernel: 3, stride: 1, padding: 1}], identity]
  - sigmoid
  - identity
  - globalavgpool
  - flatten
  - dropout
  - linear: {out: 10, bias: false}
  - tanh
  - linear: {out: 5}
  - softmax
"""


@pytest.mark.parametrize("input_shape", [None, "3,H,W"])
def test_every_op_kind_derives_its_numbers(write_spec, input_shape):
    network, analysis = loaded(write_spec(EVERY_OP), input_shape=input_shape)
    kinds = set()
    for stats in analysis.layers:
        kinds.add(stats.kind)
        _check_layer(stats, layer_derivations(network, analysis, stats.name))
    # every op of the core but LeNet-5's subsample and rbf (covered by its spec above)
    core = {"conv", "lrn", "maxpool", "add", "bn", "relu", "concat", "avgpool", "sigmoid", "identity", "globalavgpool"}
    assert kinds == core | {"flatten", "dropout", "linear", "tanh", "softmax"}


def test_ceil_mode_drops_a_window_starting_in_the_padding(write_spec):
    # 5 wide, k=2, s=2, p=1: ⌈(5 + 2 − 1 − 1)/2⌉ + 1 = 4 windows, but the 4th would start at
    # 3·2 = 6 ≥ 5 + 1, inside the right padding: PyTorch drops it, leaving 3
    path = write_spec("name: t\ninput: [1, 5, 5]\nlayers: [maxpool: {kernel: 2, stride: 2, padding: 1, ceil_mode: true}]\n")
    text = explain_layer(path, "maxpool1", quantities=("shape",))
    assert "⌈(5 + 2×1 − 1×(2 − 1) − 1)/2⌉ + 1 − 1 = 3" in text


def test_totals_and_blocks_are_summed_layer_by_layer(write_spec):
    text = explain_layer(ROOT / "specs/lenet5.yaml", "total", quantities=("params", "connections"))
    # LeCun et al. 1998: 60,000 trainable parameters and 340,908 connections
    assert "params = 156 + 12 + 1516 + 32 + 48120 + 10164 = 60000" in text
    assert text.rstrip().endswith("= 340908")
    path = write_spec(EVERY_OP)
    text = explain_layer(path, "res1.1", quantities=("params", "shape"))
    # conv 3×3 8→8 without bias, bn 2·8, conv 1×3 8→8 with bias, bn without affine
    assert f"params = 576 + 16 + 200 = {8 * 8 * 9 + 2 * 8 + (8 * 8 * 3 + 8)}" in text
    assert "shape (of res1.1.relu1)" in text


WINDOW_DRAWS = 240


def _torch_window_shape(kind, fields, shape):
    """PyTorch's own output shape for the window op (meta device: no compute)."""
    import torch

    x = torch.zeros(1, *shape, device="meta")
    k, s, p = fields["kernel"], fields["stride"], fields["padding"]
    if kind == "conv":
        weight = torch.zeros(fields["out"], shape[0], k, k, device="meta")
        return tuple(torch.nn.functional.conv2d(x, weight, None, s, p, fields["dilation"]).shape[1:])
    if kind == "maxpool":
        return tuple(torch.nn.functional.max_pool2d(x, k, s, p, fields["dilation"], fields["ceil_mode"]).shape[1:])
    return tuple(torch.nn.functional.avg_pool2d(x, k, s, p, fields["ceil_mode"]).shape[1:])


def test_window_formulas_agree_with_the_rules_and_pytorch():
    """Random windows (seeded, so a failure reproduces): the derivation's formulas give the
    rule's numbers, and the output shape is PyTorch's. A draw whose window does not fit is
    counted, not silently passed: most draws must fit, so the check is not vacuous; PyTorch
    raising on a draw archcalc accepts fails the test."""
    import random

    from archcalc.errors import OpError
    from archcalc.ops import lookup

    rng, fitted = random.Random(9), 0
    for _ in range(WINDOW_DRAWS):
        kind = rng.choice(["conv", "maxpool", "avgpool"])
        size, kernel, stride = rng.randint(1, 40), rng.randint(1, 7), rng.randint(1, 4)
        fields = {"kernel": kernel, "stride": stride, "padding": rng.randint(0, 3 if kind == "conv" else kernel // 2)}
        if kind == "conv":
            fields.update(out=2, dilation=rng.randint(1, 3))
        else:
            fields["ceil_mode"] = rng.random() < 0.5
            if kind == "maxpool":
                fields["dilation"] = rng.randint(1, 3)
        shape = (3, size, size + 1)
        op = lookup(kind)(**fields)
        try:
            out = op.output_shape([shape])
        except OpError:
            # archcalc's rule: the dilated window must fit in the padded input (PyTorch's
            # ceil-mode average pooling alone still accepts a larger one and gives one cell)
            assert size + 2 * fields["padding"] < fields.get("dilation", 1) * (kernel - 1) + 1
            continue
        fitted += 1
        assert out == _torch_window_shape(kind, {"dilation": 1, **fields}, shape), (kind, fields, shape)
        by_symbol = {d.symbol: d.result for d in op.derivations([shape], out)}
        assert (by_symbol["C_out"], by_symbol["H_out"], by_symbol["W_out"]) == out
        assert by_symbol["params"] == op.params([shape], out)
        assert by_symbol["macs"] == op.macs([shape], out)
    assert fitted >= WINDOW_DRAWS * 2 // 3, f"only {fitted} of {WINDOW_DRAWS} random windows fit"
