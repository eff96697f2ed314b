"""archcalc.analysis pinned by hand: a small network with a training-only branch, a reference
input and two outputs, at batch 3 — every LayerStats field and every total worked out below.

What scales with the batch: macs, every flop kind and activations (work and memory per
sample, times N); params, buffers and connections do not (the weights and LeCun's links of
one network)."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
import sympy

from archcalc.analysis import analyse, load_network
from archcalc.errors import SpecError
from archcalc.expressions import symbol

SPEC = """
name: pinned
input: [2, 6, 6]
layers:
  - conv: {name: c1, out: 4, kernel: 3, padding: 1}
  - relu: {name: r1}
  - maxpool: {name: p1, kernel: 2}
  - conv: {name: aux, from: p1, out: 2, kernel: 1, training_only: true}
  - relu: {name: aux_relu, from: aux}
  - upsample: {name: up, from: [p1, c1]}
  - add: {name: sum, from: [up, r1]}
outputs: {main: sum, side: aux_relu, feature: p1}
"""
N = 3

# name: (shape, params, connections, macs per sample, flops per sample, rf (size, jump, start), training-only)
LAYERS = {
    # 3×3 padding 1 keeps 6×6; 2·9·4 + 4 params; 2·9 = 18 weights per output, (18 + 1)·4·36 links;
    # unit 0 sees pixels −1 … 1
    "c1": ((4, 6, 6), 76, 19 * 144, 18 * 144, {"mac": 2 * 18 * 144, "bias": 144}, (3, 1, 0), False),
    "r1": ((4, 6, 6), 0, 0, 0, {"activation": 144}, (3, 1, 0), False),
    # 2×2/2: 3×3; 4 − 1 comparisons per output; unit 0 reads c1's units 0, 1: pixels −1 … 2
    "p1": ((4, 3, 3), 0, 0, 0, {"pool": 3 * 36}, (4, 2, Fraction(1, 2)), False),
    # 1×1 conv, 4 → 2: 4·2 + 2 params, (4 + 1)·2·9 links
    "aux": ((2, 3, 3), 10, 5 * 18, 4 * 18, {"mac": 2 * 4 * 18, "bias": 18}, (4, 2, Fraction(1, 2)), True),
    # training-only because it reads a training-only layer (a side branch: `from` it explicitly)
    "aux_relu": ((2, 3, 3), 0, 0, 0, {"activation": 18}, (4, 2, Fraction(1, 2)), True),
    # nearest to c1's 6×6: unit 0 reads p1's unit ⌊0·3/6⌋ = 0; the reference gives only its size;
    # jump 2 · 3/6 = 1
    "up": ((4, 6, 6), 0, 0, 0, {}, (4, 1, Fraction(1, 2)), False),
    # one addition per element; unit 0: up's pixels −1 … 2 ∪ r1's −1 … 1
    "sum": ((4, 6, 6), 0, 0, 0, {"add": 144}, (4, 1, Fraction(1, 2)), False),
}


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    path = tmp_path_factory.mktemp("pinned") / "net.yaml"
    path.write_text(SPEC)
    return analyse(load_network(path), batch=N)


def test_every_layer_by_hand(analysis):
    assert [s.name for s in analysis.layers] == list(LAYERS)
    for stats in analysis.layers:
        shape, params, connections, macs, flops, (size, jump, start), training = LAYERS[stats.name]
        assert stats.output_shape == shape, stats.name
        assert (stats.params, stats.buffers, stats.connections) == (params, 0, connections), stats.name
        assert stats.macs == N * macs, stats.name
        assert stats.flops_by_kind == {kind: N * count for kind, count in flops.items()}, stats.name
        assert stats.flops == N * sum(flops.values()), stats.name
        assert stats.activations == N * shape[0] * shape[1] * shape[2], stats.name
        assert (stats.rf.size, stats.rf.jump, stats.rf.start) == ((size,) * 2, (jump,) * 2, (start,) * 2), stats.name
        assert stats.training_only is training, stats.name
    assert analysis.layers[-2].inputs == ("p1", "c1")


def _totals(names):
    rows = [LAYERS[name] for name in names]
    kinds = {}
    for row in rows:
        for kind, count in row[4].items():
            kinds[kind] = kinds.get(kind, 0) + N * count
    activations = [N * r[0][0] * r[0][1] * r[0][2] for r in rows]
    return {
        "params": sum(r[1] for r in rows),
        "buffers": 0,
        "connections": sum(r[2] for r in rows),
        "macs": N * sum(r[3] for r in rows),
        "flops_by_kind": kinds,
        "flops": sum(kinds.values()),
        "activations": sum(activations),
        "peak_activations": max(activations),
        "layers": len(rows),
    }


def _as_dict(totals):
    return {field: getattr(totals, field) for field in _totals(["c1"])}


def test_totals_by_hand(analysis):
    inference = ["c1", "r1", "p1", "up", "sum"]
    assert _as_dict(analysis.totals) == _totals(list(LAYERS))
    assert _as_dict(analysis.inference_totals) == _totals(inference)
    # the sums themselves, for the record: 76 + 10 params; 2,592 + 72 macs per sample; 1,944 activations
    assert (analysis.totals.params, analysis.totals.macs, analysis.totals.activations) == (86, N * (2592 + 72), 1944)
    main, side, feature = analysis.outputs
    assert (main.label, main.layer, main.shape, main.training_only) == ("main", "sum", (4, 6, 6), False)
    assert (side.label, side.layer, side.shape, side.training_only) == ("side", "aux_relu", (2, 3, 3), True)
    assert _as_dict(main.totals) == _totals(inference)
    assert _as_dict(side.totals) == _totals(["c1", "r1", "p1", "aux", "aux_relu"])
    # an inference output that needs only part of the network: c1, r1 and p1
    assert (feature.layer, feature.shape, feature.training_only) == ("p1", (4, 3, 3), False)
    assert _as_dict(feature.totals) == _totals(["c1", "r1", "p1"])


def test_batch_and_dtype(analysis, tmp_path):
    assert (analysis.batch, analysis.dtype, analysis.dtype_bytes, analysis.symbols) == (N, "float32", 4, ())
    path = tmp_path / "net.yaml"
    path.write_text(SPEC)
    network = load_network(path)
    assert analyse(network, dtype="float16").dtype_bytes == 2
    assert analyse(network, batch=1).totals.macs == 2592 + 72
    with pytest.raises(SpecError, match="batch must be a positive integer, found 0"):
        analyse(network, batch=0)
    with pytest.raises(SpecError, match="unknown dtype 'float8x'"):
        analyse(network, dtype="float8x")


def test_one_output_needs_every_inference_layer(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(SPEC.replace("outputs: {main: sum, side: aux_relu, feature: p1}", ""))
    analysis = analyse(load_network(path), batch=N)
    (only,) = analysis.outputs
    assert (only.layer, only.training_only) == ("sum", False)
    assert _as_dict(only.totals) == _totals(["c1", "r1", "p1", "up", "sum"])
    assert analyse(load_network(path)).batch == 1  # the default batch


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64", "int8"])
def test_dtype_bytes_are_pytorchs(dtype, analysis, tmp_path):
    import torch

    path = tmp_path / "net.yaml"
    path.write_text(SPEC)
    assert analyse(load_network(path), dtype=dtype).dtype_bytes == getattr(torch, dtype).itemsize


@pytest.mark.parametrize("text", ["3,0,5", "3,2.5,4", "3,-1,4", "0,4,4"])
def test_input_sizes_must_be_positive_integers(text):
    from archcalc.analysis import parse_input

    with pytest.raises(SpecError, match="expected positive integers or names"):
        parse_input(text)
    assert parse_input("3,1,H") == (3, 1, parse_input("H")[0])


VALIDITY = """
name: v
input: [1, H, W]
layers:
  - conv: {name: main, out: 1, kernel: 3}
  - conv: {name: aux, from: input, out: 1, kernel: 5, training_only: true}
outputs: [main, aux]
"""


def test_the_formulas_hold_from_the_inference_networks_smallest_input(tmp_path, cli):
    """A k×k conv without padding makes H − k + 1 ≥ 1 rows: the inference network (main, 3×3)
    needs H, W ≥ 3; the training-only aux (5×5) needs 5. The report's line and JSON name the
    first, and the training network's apart."""
    path = tmp_path / "net.yaml"
    path.write_text(VALIDITY)
    analysis = analyse(load_network(path))
    assert analysis.valid_for() == {"H": 3, "W": 3} and analysis.valid_for(training=True) == {"H": 5, "W": 5}
    lines = cli("report", path).output.splitlines()
    assert "the formulas hold for H ≥ 3, W ≥ 3 (the smallest input every layer accepts)" in lines
    assert "training-only layers (†), and the totals with them, exist only for H ≥ 5, W ≥ 5" in lines
    report = json.loads(cli("report", path, "--format", "json").output)
    assert (report["valid_for"], report["valid_for_training"]) == ({"H": 3, "W": 3}, {"H": 5, "W": 5})


def test_a_bad_input_is_located_where_it_was_written(tmp_path, cli):
    """`lambda` passes the spec's name check but is no expression. Written in the spec (line 3,
    after a comment) the error names that line; given as --input it names the file only: the
    command line has no line of the spec, and the spec's own input is not read."""
    bad, good = tmp_path / "bad.yaml", tmp_path / "good.yaml"
    bad.write_text("name: t\n# the input is on line 3\ninput: [1, lambda, 4]\nlayers: [relu]\n")
    good.write_text("name: t\ninput: [1, 4, 4]\nlayers: [relu]\n")
    message = "input: cannot parse 'lambda' as an expression"
    in_spec, given = cli("report", bad), cli("report", good, "--input", "1,lambda,4")
    assert (in_spec.exit_code, in_spec.output) == (2, f"archcalc: error: {bad}:3: {message}\n")
    assert (given.exit_code, given.output) == (2, f"archcalc: error: {good}: {message}\n")
    assert cli("report", bad, "--input", "1,4,4").exit_code == 0  # --input replaces the spec's bad one


def test_the_largest_layer_output_in_the_input_size_is_decided_where_a_rule_settles_it(tmp_path, cli):
    """A 1×1 conv to 2 channels makes 2·H·W elements, the global pool after it 2·1·1 = 2:
    2·H·W ≥ 2 at every H, W ≥ 1, so the largest is 2·H·W, written alone. A valid 3×3 conv to
    64 channels after the 1×1 one makes 64·(H − 2)·(W − 2): at H = W = 2 that is 0 < 8 = 2·H·W,
    so neither bounds the other at every size (where the network is valid, H, W ≥ 3, the conv's
    is the larger, which archcalc's rules do not see): the largest is the unevaluated max of
    both, exact once sizes are substituted."""
    path = tmp_path / "net.yaml"
    path.write_text("name: p\ninput: [1, H, W]\nlayers:\n  - conv: {out: 2, kernel: 1}\n  - adaptiveavgpool: {out: 1}\n")
    h, w = symbol("H"), symbol("W")
    assert analyse(load_network(path)).totals.peak_activations == 2 * h * w
    assert "; peak layer 2·H·W elements\n" in cli("report", path).output
    report = json.loads(cli("report", path, "--format", "json").output)
    assert report["totals"]["activations"]["peak_elements"] == "2*H*W"
    crossing = tmp_path / "crossing.yaml"
    crossing.write_text("name: p\ninput: [1, H, W]\nlayers:\n  - conv: {out: 2, kernel: 1}\n  - conv: {out: 64, kernel: 3}\n")
    peak = analyse(load_network(crossing)).totals.peak_activations
    assert isinstance(peak, sympy.Max) and set(peak.args) == {2 * h * w, 64 * (h - 2) * (w - 2)}
