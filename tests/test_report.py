"""`archcalc report` in every format: the JSON contract, and rows that sum to the totals."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import NETWORK_SPECS, ROOT
from tests.test_papers import ALEXNET_HAND

ALEXNET = ROOT / "specs/alexnet.yaml"
ALEXNET_PARAMS = sum(params for _, params in ALEXNET_HAND.values())  # worked by hand in test_papers


def _json(cli, *args):
    result = cli("report", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("spec", NETWORK_SPECS, ids=lambda p: p.name)
def test_json_contract_and_row_sums(cli, spec):
    data = _json(cli, spec)
    assert {"name", "input", "layers", "totals"} <= set(data)
    for layer in data["layers"]:
        assert {"name", "op", "output_shape", "params", "macs", "connections", "receptive_field"} <= set(layer)
        rf = layer["receptive_field"]
        if rf is not None:
            assert set(rf) == {"size", "jump", "start"} and all(len(rf[k]) == 2 for k in rf)
    for field in ("params", "macs", "connections", "flops"):
        column = [layer[field]["total"] if field == "flops" else layer[field] for layer in data["layers"]]
        assert all(isinstance(v, int) for v in column)
        assert sum(column) == data["totals"][field]


def test_json_symbolic_values_are_expression_strings(cli):
    data = _json(cli, ALEXNET, "--input", "3,H,W")
    c1 = data["layers"][0]
    assert c1["name"] == "C1" and c1["params"] == 11 * 11 * 3 * 96 + 96
    assert isinstance(c1["output_shape"][1], str) and "H" in c1["output_shape"][1]
    assert isinstance(data["totals"]["macs"], str)


def test_fractional_start_is_an_exact_json_number(cli):
    data = _json(cli, ROOT / "specs/lenet5.yaml")
    s2 = next(layer for layer in data["layers"] if layer["name"] == "S2")
    # C1 centre 2, then a 2×2/2 window: 2 + (1/2)·1 = 2.5
    assert s2["receptive_field"]["start"] == [2.5, 2.5]


def test_batch_multiplies_macs_and_activations_not_params(cli):
    one = _json(cli, ALEXNET)
    many = _json(cli, ALEXNET, "--batch", "8")
    assert many["totals"]["macs"] == 8 * one["totals"]["macs"]
    assert many["totals"]["activations"]["elements"] == 8 * one["totals"]["activations"]["elements"]
    assert many["totals"]["params"] == one["totals"]["params"]


def test_dtype_sets_bytes(cli):
    half = _json(cli, ALEXNET, "--dtype", "float16")
    # C1's output: 96·55·55 elements of 2 bytes
    assert half["layers"][0]["activations"] == {"elements": 96 * 55 * 55, "bytes": 2 * 96 * 55 * 55}


def test_table_has_every_layer_and_the_total(cli):
    result = cli("report", ALEXNET)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("AlexNet")
    total = next(line for line in lines if line.startswith("Total"))
    # 60,965,224 to three significant digits, in millions; --exact writes every digit
    assert total.split()[1:3] == ["61.0", "M"]
    exact = next(line for line in cli("report", ALEXNET, "--exact").output.splitlines() if line.startswith("Total"))
    assert f"{ALEXNET_PARAMS:,}" in exact
    for name in ("C1", "C2", "C3", "C4", "C5", "FC6", "FC7", "FC8"):
        assert any(line.startswith(name + " ") for line in lines)


def test_symbolic_table_falls_back_to_one_block_per_layer(cli):
    result = cli("report", ROOT / "specs/lenet5.yaml", "--input", "1,H,W")
    assert result.exit_code == 0
    assert "    output (c, h, w)        (6, H − 4, W − 4)" in result.output


def test_markdown(cli):
    result = cli("report", ALEXNET, "--format", "markdown")
    assert result.exit_code == 0
    rows = [line for line in result.output.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| Layer | Op |")
    assert any("| **61.0 M** |" in row for row in rows)
    exact = cli("report", ALEXNET, "--format", "markdown", "--exact").output
    assert f"| **{ALEXNET_PARAMS:,}** |" in exact


def test_csv_rows_sum_to_total_row(cli):
    result = cli("report", ALEXNET, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    total = rows.pop()
    assert total["name"] == "TOTAL"
    for field in ("params", "macs", "connections", "flops"):
        assert sum(int(r[field]) for r in rows) == int(total[field])
    assert rows[0]["rf_start"] == "5x5"
