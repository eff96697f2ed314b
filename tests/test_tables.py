"""The text tables: human numbers (archcalc.units), the one renderer (archcalc.tables),
`report --depth` (a block tree whose rows add up) and `compare`'s single table."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from archcalc.tables import ELLIPSIS, shorten
from archcalc.units import axes, count, nbytes
from tests.conftest import ROOT

RESNET18 = ROOT / "specs/resnet18.yaml"


@pytest.mark.parametrize(
    ("value", "counted", "in_bytes"),
    [
        (0, "0", "0 B"),
        (999, "999", "999 B"),
        (1_000, "1.00 k", "0.977 KiB"),  # 1000/1024 = 0.9766
        (34_944, "34.9 k", "34.1 KiB"),  # AlexNet's C1; 34944/1024 = 34.125
        (60_965_224, "61.0 M", "58.1 MiB"),  # 60965224/2²⁰ = 58.14
        (4_090_000_000, "4.09 G", "3.81 GiB"),  # /2³⁰ = 3.809
        (999_500, "1.00 M", "976 KiB"),  # half up carries into the next unit: 999.5 k → 1.00 M
        (999_499, "999 k", "976 KiB"),
        (9_995, "10.0 k", "9.76 KiB"),  # 9.995 rounds to 10.0, one decimal fewer
        (102_236_160, "102 M", "97.5 MiB"),  # 97.5·2²⁰
    ],
)
def test_three_significant_digits_half_up(value, counted, in_bytes):
    assert count(value) == counted and nbytes(value) == in_bytes
    assert count(value, exact=True) == f"{value:,}" and nbytes(value, exact=True) == f"{value:,} B"


def test_fractions_and_formulas_are_never_rounded():
    assert count(Fraction(7, 2)) == "7/2"
    from archcalc.expressions import symbol

    h, w = symbol("H"), symbol("W")
    # each axis parenthesised when the two differ
    assert axes((2 * h - Fraction(1, 2), 2 * w - Fraction(1, 2))) == "(2·H − 1/2)×(2·W − 1/2)"
    assert axes((5, 5)) == "5"


def test_shorten_keeps_both_ends():
    name = "features.denseblock4.denselayer16.conv2"
    short = shorten(name, 20)
    assert len(short) == 20 and ELLIPSIS in short and short.startswith("features") and short.endswith("conv2")
    assert shorten("conv1", 20) == "conv1"


def _layers(cli, *args):
    return json.loads(cli("report", RESNET18, "--format", "json", *args).output)["layers"]


def _tree_rows(cli, depth: int) -> list[tuple[int, str, int]]:
    """(indent level, name, exact params) of each row of `report --depth` (with --exact)."""
    lines = cli("report", RESNET18, "--depth", str(depth), "--exact").output.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    header, rows = lines[rule - 1], []
    end = header.index("Params") + len("Params")  # the params column is right-aligned: its cells end here
    for line in lines[rule + 1 :]:
        if line.startswith("---"):
            break
        name = line.split("  ")[0] if not line.startswith(" ") else " " * (len(line) - len(line.lstrip())) + line.split()[0]
        level = (len(name) - len(name.lstrip())) // 2
        rows.append((level, name.strip(), int(line[:end].split()[-1].replace(",", ""))))
    return rows


def test_depth_rows_add_up_to_their_parent_and_to_the_total(cli):
    layers = _layers(cli)
    total = sum(layer["params"] for layer in layers)  # ResNet-18: 11,689,512 (torchvision's)
    assert total == 11_689_512
    rows = _tree_rows(cli, 3)
    top = [params for level, _, params in rows if level == 0]
    assert sum(top) == total
    for i, (level, name, params) in enumerate(rows):  # each block's row is the sum of the rows directly under it
        children = []
        for child_level, _, child_params in rows[i + 1 :]:
            if child_level <= level:
                break
            if child_level == level + 1:
                children.append(child_params)
        if children:
            assert sum(children) == params, name
    # a stage at depth 1 carries the params of every layer inside it, counted from the JSON
    conv3 = next(params for level, name, params in _tree_rows(cli, 1) if name == "conv3_x")
    assert conv3 == sum(layer["params"] for layer in layers if "conv3_x" in layer["scopes"])


def test_depth_zero_is_the_totals_alone(cli):
    out = cli("report", RESNET18, "--depth", "0", "--exact").output.splitlines()
    rule = next(i for i, line in enumerate(out) if line.startswith("---"))
    assert out[rule + 1].startswith("Total") and "11,689,512" in out[rule + 1] and out[rule + 2] == ""


def test_compare_is_one_table_with_long_names_shortened(cli, write_spec):
    long = "a_very_long_block_name.with_an_even_longer_inner_name.and_the_conv"
    spec = write_spec(f"name: Long\ninput: [3, 8, 8]\nlayers: [conv: {{name: {long}, out: 4, kernel: 3}}]\n")
    lines = cli("compare", spec, ROOT / "specs/lenet5.yaml").output.splitlines()
    header, rule, first = lines[:3]
    assert header.startswith("Network") and set(rule) <= {"-", " "}
    assert ELLIPSIS in first and long not in first and first.rstrip().endswith("(3.89 k)")  # 4·3·3·3 macs at each of 6×6: 3,888


def test_symbolic_axes_are_parenthesised_and_readable(cli):
    out = cli("report", ROOT / "specs/alexnet.yaml", "--input", "3,H,W").output
    # pool5's field is 195 pixels with jump 32 on each side (as at 227); flatten spans its n = ⌊(H − 67)/32⌋ + 1
    # units, so FC6 sees 195 + (n − 1)·32 = 32·⌊(H − 67)/32⌋ + 195 rows, and likewise columns
    fc6 = out[out.index("\nFC6") :].split("\n")
    rf = next(line for line in fc6 if "rf size / jump / start" in line)
    assert "(32·⌊(H − 67)/32⌋ + 195)×(32·⌊(W − 67)/32⌋ + 195) / 32 /" in rf
    assert "floor" not in out and "*" not in out.replace("MACs*", "").replace("macs*", "").replace("*:", "")
    # like terms collected: the symbolic flops total is one short sum, not sympy's expanded products
    flops = next(line for line in out.splitlines() if line.startswith("flops: ")).split("; by kind")[0]
    # one product per resolution: C1's /4 (55), C2's /8 (27), C3–C5's /16 (13) and pool5's /32 (6)
    assert [flops.count(f"(⌊(H − {o})/{d}⌋ + 1)") for o, d in ((11, 4), (19, 8), (35, 16), (67, 32))] == [1, 1, 1, 1]
    assert flops.count("H") == 4 and len(flops) < 300


def test_explain_defines_the_connection_tables_T(cli):
    out = cli("explain", ROOT / "specs/lenet5.yaml", "C3", "--quantity", "macs").output
    # LeNet-5's Table I: output maps 0–5 read 3 maps, 6–14 read 4, map 15 all 6: 6·3 + 9·4 + 6 = 60
    assert "T·k_h·k_w·H_out·W_out = 60×5×5×10×10 = 150000" in out and "T = Σ_j |table_j| = 60" in out
    assert 6 * 3 + 9 * 4 + 6 == 60
