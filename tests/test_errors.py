"""Bad input: one or two lines naming the file, the layer path, expected and found; exit 2."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, located_error

HEAD = "name: t\ninput: [3, 32, 32]\nlayers:\n"
BLOCK = "name: t\ninput: [3, 32, 32]\nblocks:\n  b:\n"

CASES = {
    "malformed_yaml": (HEAD + "  - conv: {out: 8, kernel: 3\n  - relu\n", ["malformed YAML", "flow mapping on line 4"]),
    "unknown_op": (HEAD + "  - convv: {out: 8, kernel: 3}\n", ["layers.0", "unknown op or block 'convv'", "did you mean 'conv'"]),
    "unknown_field": (HEAD + "  - conv: {out: 8, kernel: 3, strid: 2}\n", ["layers.0.conv.strid", "did you mean 'stride'", ":4"]),
    "wrong_type": (HEAD + "  - conv: {out: 8, kernel: 3, stride: two}\n", ["layers.0.conv.stride:", "expected a whole number", "'two'"]),
    "zero_kernel": (HEAD + "  - conv: {out: 8, kernel: 0}\n", ["layers.0.conv.kernel", "greater than 0", "found 0"]),
    "negative_out": (HEAD + "  - linear: {out: -4}\n", ["layers.0.linear.out", "greater than 0", "found -4"]),
    "zero_input": ("name: t\ninput: [3, 0, 32]\nlayers: [relu]\n", ["input.1", "found 0"]),
    "kernel_too_big": (
        HEAD + "  - conv: {out: 8, kernel: 5, stride: 4}\n  - conv: {name: big, out: 8, kernel: 9}\n",
        ["big (conv)", "larger than the padded input", "found 9"],
    ),
    "add_channels": (
        HEAD + "  - add: [[conv: {out: 8, kernel: 1}], [conv: {out: 4, kernel: 1}]]\n",
        ["add1 (add)", "matching channels", "(8, 32, 32)", "(4, 32, 32)"],
    ),
    "add_spatial": (
        HEAD + "  - add: [[conv: {out: 8, kernel: 1}], [conv: {out: 8, kernel: 1, stride: 2}]]\n",
        ["add1 (add)", "matching spatial sizes", "(8, 16, 16)"],
    ),
    "concat_spatial": (
        HEAD + "  - concat: [[conv: {out: 8, kernel: 3}], [conv: {out: 8, kernel: 1}]]\n",
        ["concat1 (concat)", "matching spatial sizes", "(8, 30, 30)", "(8, 32, 32)"],
    ),
    "from_nothing": (
        HEAD + "  - conv: {name: a, out: 8, kernel: 3}\n  - relu: {from: aa}\n",
        ["relu1", "`from: aa` names no layer", "did you mean 'a'"],
    ),
    "duplicate": (
        HEAD + "  - conv: {name: a, out: 8, kernel: 3}\n  - conv: {name: a, out: 8, kernel: 3}\n",
        ["layers.1", "duplicate layer name 'a'"],
    ),
    "cycle": (HEAD + "  - relu: {name: a, from: b}\n  - relu: {name: b, from: a}\n", ["cycle", "a → b → a"]),
    "groups": (
        HEAD + "  - conv: {out: 8, kernel: 3, groups: 2}\n",
        ["conv1 (conv)", "groups must divide the input channels", "divisor of 3"],
    ),
    "unsafe_input": (
        "name: t\ninput: [3, \"__import__('os')\", 32]\nlayers: [relu]\n",
        ["input:", "a positive integer or a name", "__import__"],
    ),
    "unsafe_block_arg": (
        BLOCK + "    args: {w: int}\n    layers: [conv: {out: 'w.__class__', kernel: 1}]\nlayers: [b: {w: 4}]\n",
        ["blocks.b.layers.0.conv.out", "(in b1)"],
    ),
    "bad_expression": (
        BLOCK + "    args: {w: int}\n    layers: [conv: {out: 'w *', kernel: 1}]\nlayers: [b: {w: 4}]\n",
        ["blocks.b.layers.0.conv.out"],
    ),
    "missing_block_arg": (
        BLOCK + "    args: {w: int}\n    layers: [conv: {out: w, kernel: 1}]\nlayers: [b: {}]\n",
        ["layers.0", "needs argument 'w'"],
    ),
    "unknown_block_arg": (
        BLOCK + "    args: {width: int}\n    layers: [conv: {out: width, kernel: 1}]\nlayers: [b: {widht: 4}]\n",
        ["no argument 'widht'", "did you mean 'width'"],
    ),
    # (linear on a feature map acts on each position's channels, as ConvNeXt's does: not an error)
    "rbf_on_maps": (HEAD + "  - rbf: {out: 10}\n", ["rbf1 (rbf)", "flat", "found (3, 32, 32)", "add `flatten`"]),
    "input_too_small": (
        "name: t\ninput: [3, 8, 8]\nlayers:\n" + "  - maxpool: {kernel: 2}\n" * 4,
        ["maxpool4", "larger than the padded input"],
    ),
    "not_a_mapping": ("- relu\n", ["expected a mapping"]),
    "two_keys": (HEAD + "  - conv: {out: 8, kernel: 3}\n    stride: 2\n", ["layers.0", "found several"]),
    "empty_connection_table": (HEAD + "  - conv: {kernel: 3, connection_table: []}\n", ["layers.0.conv", "at least one output map"]),
    # the rank is checked before the groups: the real mistake is a conv on a vector
    "grouped_conv_on_vector": (HEAD + "  - flatten\n  - conv: {out: 4, kernel: 1, groups: 3}\n", ["conv1 (conv)", "(C, H, W)", "(3072,)"]),
    "lrn_on_vector": (HEAD + "  - flatten\n  - lrn\n", ["lrn1 (lrn)", "(C, H, W)", "(3072,)"]),
    "negative_exponent": (
        "name: t\ninput: [3, 32, 32]\nargs: {n: 2}\nlayers:\n  - conv: {out: n**-1, kernel: 1}\n",
        [":5:", "layers.0.conv.out", "exponent must be a whole number from 0 to 64"],
    ),
    "huge_power": (
        "name: t\ninput: [3, 32, 32]\nargs: {n: 9}\nlayers:\n  - conv: {out: ((n**64)**64)**64, kernel: 1}\n",
        [":5:", "the power is too large"],
    ),
    # the failing field's own line, not the block's first layer
    "block_expression_line": (
        BLOCK + "    args: {c: 1}\n    layers:\n      - relu\n      - conv: {out: c/0, kernel: 1}\nlayers: [b]\n",
        [":8:", "blocks.b.layers.1.conv.out", "division by zero", "(in b1)"],
    ),
    "missing_parent": ("extends: nowhere.yaml\nname: t\n", [":1:", "extends: expected a spec file", "nowhere.yaml"]),
}


@pytest.mark.parametrize("case", CASES)
def test_error_is_short_located_and_exits_nonzero(case, write_spec, cli):
    text, fragments = CASES[case]
    message = located_error(cli, write_spec(text))
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_debug_shows_the_traceback_and_exits_the_same(write_spec, cli):
    path = write_spec(CASES["unknown_field"][0])
    plain, debug = cli("report", path), cli("report", path, "--debug")
    assert debug.exit_code == plain.exit_code == 2
    assert "Traceback (most recent call last)" in debug.output and "Traceback" not in plain.output
    assert "SpecError" in debug.output and debug.output.strip().splitlines()[-1] == plain.output.strip()


def test_unsafe_cli_input_is_refused_not_evaluated(cli, write_spec):
    path = write_spec(HEAD + "  - relu\n")
    result = cli("report", path, "--input", "3,__import__('os').getcwd(),4")
    assert result.exit_code == 2
    assert "not allowed" in result.output


def test_not_utf8(cli, tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    result = cli("report", path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{path}: not UTF-8 text" in result.output


def test_diagram_into_a_missing_folder(cli, tmp_path):
    result = cli("diagram", ROOT / "specs/lenet5.yaml", "-o", tmp_path / "no" / "such.svg")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cannot write" in result.output and "such.svg" in result.output


def test_missing_file(cli, tmp_path):
    result = cli("report", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "cannot read the file" in result.output


@pytest.mark.parametrize(
    "args, fragment",
    [(["report"], "Missing argument 'SPEC'"), (["nosuch"], "No such command 'nosuch'"), (["report", "x.yaml", "--batch", "0"], "--batch")],
)
def test_usage_mistakes_are_one_line_too(cli, args, fragment):
    result = cli(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archcalc: error: ") and fragment in lines[0], result.output
