"""Hostile and broken input (issue 10, items 2–4): bounded resources, never a traceback, and
no silent acceptance of invalid values. Every case is one located line (or two), exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from archcalc.boundary import describe
from archcalc.wording import LIMIT, shown
from tests.conftest import ROOT

HEAD = "name: t\ninput: [3, 32, 32]\nlayers:\n"
LENET = ROOT / "specs" / "lenet5.yaml"


def error_of(cli, *args) -> str:
    """The one or two lines of an error; exit 2, no traceback."""
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    lines = result.output.strip().splitlines()
    assert 1 <= len(lines) <= 2 and lines[0].startswith("archcalc: error: "), result.output
    return result.output.strip()


def laughs(levels: int = 9, at: str = "layers") -> str:
    """A billion laughs: each level a list of 9 aliases of the level before (9**9 relus)."""
    lines = ["a0: &a0 [relu, relu, relu, relu, relu, relu, relu, relu, relu]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\n{at}: *a{levels}\n"


# --- item 2: bounded resources -------------------------------------------------------------
def test_billion_laughs_spec_is_refused_quickly(cli, write_spec):
    path = write_spec("name: t\ninput: [3, 8, 8]\n" + laughs())
    assert os.path.getsize(path) < 1024
    start = time.perf_counter()
    message = error_of(cli, "report", path)
    assert time.perf_counter() - start < 5
    assert f"{path}:" in message and "expands to more than 500,000 YAML nodes" in message


def test_billion_laughs_in_a_claims_inline_net_is_refused(cli, tmp_path):
    path = tmp_path / "claims.yaml"
    net = laughs(at="layers").replace("\n", "\n      ").rstrip()
    path.write_text(
        "source: t\nnets:\n  big:\n    input: [3, 8, 8]\n    " + net.replace("\n      ", "\n    ") + "\n"
        "claims:\n  - {id: a, section: s, quote: q, claimed: 1, of: {net: {input: [3, 8, 8], layers: [relu]}, quantity: params}}\n"
    )
    assert "expands to more than 500,000 YAML nodes" in error_of(cli, "verify", path)


def test_half_a_million_nodes_without_any_alias_are_refused(cli, write_spec):
    # a tree (no alias) is measured by a faster walk than an aliased document; its limit holds
    # too: 500,001 list items + the list + the key + the rest of the spec > 500,000 nodes
    path = write_spec(HEAD + "  - relu\nnotes: [" + "0," * 500_001 + "]\n")
    assert os.path.getsize(path) < 2 * 1024 * 1024
    assert "expands to more than 500,000 YAML nodes" in error_of(cli, "report", path)


def test_an_alias_that_contains_itself(cli, write_spec):
    message = error_of(cli, "report", write_spec(HEAD + "  - &x [relu, *x]\n"))
    assert "a YAML alias contains itself" in message and ":4:" in message


@pytest.mark.parametrize("flow", [True, False])
def test_ten_thousand_nested_lists_give_a_located_error(cli, write_spec, flow):
    text = "[" * 10_000 + "]" * 10_000 if flow else "- " * 10_000 + "relu"  # `- - - relu`: lists in lists, block style
    path = write_spec(HEAD.replace("layers:\n", "layers: ") + text + "\n" if flow else HEAD + "  " + text + "\n")
    message = error_of(cli, "report", path)
    assert message.startswith(f"archcalc: error: {path}:") and ("nest" in message)


def test_deep_but_readable_nesting_names_file_line_and_limit(cli, write_spec):
    path = write_spec(HEAD + "  - " + "[" * 150 + "relu" + "]" * 150 + "\n")
    message = error_of(cli, "report", path)
    assert f"{path}:4: nests more than 100 levels deep" in message


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    run = subprocess.run([sys.executable, "-m", "archcalc", "report", str(fifo)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 2 and run.stderr.strip() == f"archcalc: error: {fifo}: expected a regular file, found a pipe (FIFO)"


@pytest.mark.parametrize("command", [["report"], ["verify"], ["report", str(LENET), "--timings"]])
def test_dev_zero_is_refused(cli, command):
    message = error_of(cli, *command, "/dev/zero")
    assert "/dev/zero: expected a regular file, found a device" in message


def test_size_cap(cli, write_spec):
    path = write_spec(HEAD + "  - relu\n" * 1_000_000)  # 9 MB of relus, past 8 MiB = 8,388,608 bytes
    assert "larger than 8,388,608 bytes" in error_of(cli, "report", path)


def test_values_in_messages_are_cut(cli, write_spec):
    message = error_of(cli, "report", write_spec(HEAD + "  - conv: {out: 8, kernel: 3, name: [" + "x, " * 50_000 + "]}\n"))
    assert len(message) < 3 * LIMIT and message.endswith("found ['x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', ...]")
    assert len(shown(list(range(10**6)))) <= LIMIT and "an integer of about 6,021 digits" == shown(10**6020)


# --- item 3: no traceback from anything ---------------------------------------------------
@pytest.mark.parametrize(
    "entry, words",
    [
        ("lrn: {alpha: .inf}", "layers.0.lrn.alpha: expected a finite number, found .inf"),
        ("lrn: {alpha: .nan}", "layers.0.lrn.alpha: expected a finite number, found .nan"),
        ("lrn: {alpha: 1.0e+309}", "expected a finite number, found 1.0e+309"),
        ("conv: {out: " + "9" * 4301 + ", kernel: 1}", "an integer of 4,301 digits is too large (at most 4,300)"),
        (
            "conv: {out: " + "9" * 4200 + ", kernel: 1}\n  - conv: {out: " + "9" * 200 + ", kernel: 1}",
            "conv2 (conv): its params have about 4,401 digits, more than can be written out (4,300)",
        ),
    ],
)
def test_special_and_huge_numbers_in_a_spec(cli, write_spec, entry, words):
    assert words in error_of(cli, "report", write_spec(HEAD + f"  - {entry}\n"))


def test_a_count_of_exactly_the_most_bits_is_written_and_one_bit_more_is_named(cli, write_spec):
    # MAX_COUNT_BITS = 14,000. linear on a 1-vector, out = 2^13998: params = out·1 + out = 2^13999,
    # a 14,000-bit number (4,214 digits), written out whole
    assert cli("report", write_spec(f"name: t\ninput: [1]\nlayers:\n  - linear: {{out: {2**13998}}}\n"), "--exact").exit_code == 0
    # a 1×1 conv on (1, 4, 1) with the same out: params = out + out = 2^13999 (exactly the most
    # bits, not named), macs = out · 1 · 4 · 1 = 2^14000, a 14,001-bit number of 4,215 digits:
    # the count named is the MACs
    path = write_spec(f"name: t\ninput: [1, 4, 1]\nlayers:\n  - conv: {{out: {2**13998}, kernel: 1}}\n")
    assert "conv1 (conv): its MACs have about 4,215 digits, more than can be written out" in error_of(cli, "report", path)


def claims_file(tmp_path, fields: str):
    path = tmp_path / "claims.yaml"
    subject = f"{{spec: {LENET}, layer: C1, quantity: params}}"
    path.write_text(f"source: t\nclaims:\n  - id: a\n    section: s\n    quote: q\n    of: {subject}\n{fields}")
    return path


@pytest.mark.parametrize(
    "fields, words",
    [
        ("    claimed: \"Fraction('inf')\"\n", "claim a: claimed \"Fraction('inf')\": "),
        ("    claimed: .inf\n", "claims.0.claimed: expected a finite number, found .inf"),
        (f"    claimed: {'9' * 5000}\n", "an integer of 5,000 digits is too large"),
        (f"    claimed: '{'9' * 5000}'\n", "claim a: claimed '999"),
        ("    claimed: '3 +'\n", "claim a: claimed '3 +': cannot parse"),
        ("    claimed: 156\n    arithmetic: '6 *'\n", "claim a: arithmetic '6 *'"),
    ],
)
def test_special_numbers_in_claims_blame_their_own_field(cli, tmp_path, fields, words):
    message = error_of(cli, "verify", claims_file(tmp_path, fields))
    assert words in message and len(message) < 800


def test_closed_pipe_ends_quietly():
    run = subprocess.run(
        f"{sys.executable} -m archcalc report {ROOT / 'specs/torchvision/resnet152.yaml'} --format json | head -c 10",
        shell=True, capture_output=True, text=True, timeout=120, cwd=ROOT, executable="/bin/bash",
    )  # fmt: skip
    assert run.stdout == '{\n  "name"'[:10] and run.stderr == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_full_disk_is_one_line_and_debug_exits_the_same(debug):
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [sys.executable, "-m", "archcalc", "report", str(LENET), "--format", "json", *debug],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == "archcalc: error: cannot write the output: No space left on device"
    assert ("Traceback" in run.stderr) == bool(debug) and "Exception ignored" not in run.stderr


def test_an_internal_error_says_so_and_how_to_see_more():
    line = describe(KeyError("layers"))
    assert line.startswith("archcalc: internal error") and "--debug" in line and "KeyError" in line
    assert describe(RecursionError()).startswith("archcalc: error: the input nests too deeply")


def test_any_exception_inside_a_command_is_one_line(cli, monkeypatch):
    import archcalc.analysis

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(archcalc.analysis, "analyse", broken)
    result = cli("report", LENET)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "internal error" in result.output and "ZeroDivisionError: a bug" in result.output and "--debug" in result.output
    debug = cli("report", LENET, "--debug")
    assert debug.exit_code == 2 and "Traceback" in debug.output


# --- item 4: strict values ----------------------------------------------------------------
@pytest.mark.parametrize(
    "text, words",
    [
        (HEAD + "  - conv: {out: 8, kernel: 3, out: 4}\n", "duplicate key 'out': written twice on line 4 (columns 12 and 31)"),
        ("name: t\ninput: [3, 8, 8]\nname: u\nlayers: [relu]\n", ":3: name: duplicate key 'name': written on line 1 and again on line 3"),
        (HEAD + "  - conv: {out: true, kernel: 3}\n", "layers.0.conv.out: expected a whole number, found true"),
        (HEAD + "  - conv: {out: 8, kernel: [3, false]}\n", "layers.0.conv.kernel.1: expected a whole number, found false"),
        (HEAD + "  - conv: {out: 8.0, kernel: 3}\n", "layers.0.conv.out: expected a whole number, found 8.0"),
        (HEAD + "  - conv: {out: 8, kernel: 3, bias: 1}\n", "layers.0.conv.bias: expected true or false, found 1"),
        (HEAD + "  - maxpool: {kernel: 3, ceil_mode: yes please}\n", "ceil_mode: expected true or false, found 'yes please'"),
        ("name: t\ninput: [3, true, 8]\nlayers: [relu]\n", "input.1: expected a whole number or text, found true"),
        ("name: t\ninput: [3, 8, 8, 8]\nlayers: [relu]\n", "input: expected at most 3 item(s), found 4"),
    ],
)
def test_invalid_values_are_refused(cli, write_spec, text, words):
    message = error_of(cli, "report", write_spec(text))
    assert words in message
    for internal in ("constrained-int", "after validation", "Input should", "List should", "(and 1 more)"):
        assert internal not in message


@pytest.mark.parametrize(
    "text, first",
    [
        (HEAD + "  - conv: {out: 8, kernal: 3}\n", "layers.0.conv.kernal: unknown field 'kernal' (did you mean 'kernel'?)"),
        ("name: t\ninput: [3, 8, 8]\nlayer: [relu]\n", "layer: unknown field 'layer' (did you mean 'layers'?)"),
        (HEAD + "  - conv: {oot: 8, kernal: 3}\n", "unknown field 'oot' (did you mean 'out'?); also layers.0.conv.kernal: unknown field"),
    ],
)
def test_a_misspelt_field_leads_and_is_not_reported_missing(cli, write_spec, text, first):
    message = error_of(cli, "report", write_spec(text))
    assert first in message and "missing" not in message


def test_misspelt_fields_in_claims(cli, tmp_path):
    path = tmp_path / "claims.yaml"
    subject = f"{{spec: {LENET}, layer: C1, quantity: params}}"
    path.write_text(f"source: t\nclaims:\n  - {{id: a, section: s, quote: q, claimd: 156, of: {subject}}}\n")
    assert "claims.0.claimd: unknown field 'claimd' (did you mean 'claimed'?)" in error_of(cli, "verify", path)
    path.write_text("source: t\nclaim: []\n")
    assert "claim: unknown field 'claim' (did you mean 'claims'?)" in error_of(cli, "verify", path)


def test_several_problems_are_all_listed(cli, write_spec):
    message = error_of(cli, "report", write_spec(HEAD + "  - conv: {out: -1, kernel: 0, stride: x, padding: y, dilation: z}\n"))
    assert "layers.0.conv.out: expected a number greater than 0, found -1; also layers.0.conv.kernel:" in message
    assert "layers.0.conv.padding: expected a whole number, found 'y'; and 1 more problem" in message


def test_timings_refuse_nan(cli, tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"format": "archcalc-timings/1", "name": "x", "latency_ms": {"median": NaN, "p10": 1, "p90": 1}}')
    assert "NaN is not a time" in error_of(cli, "report", LENET, "--timings", path)


# --- item 5: extends ----------------------------------------------------------------------
@pytest.fixture
def family(tmp_path):
    """child.yaml extends sub/parent.yaml; sub/child2.yaml extends parent.yaml (its own folder)."""
    (tmp_path / "sub").mkdir()

    def write(parent: str) -> tuple:
        (tmp_path / "sub" / "parent.yaml").write_text(parent)
        (tmp_path / "child.yaml").write_text("extends: sub/parent.yaml\nname: c\n")
        (tmp_path / "sub" / "child2.yaml").write_text("name: c2\nextends: parent.yaml\n")
        return tmp_path / "child.yaml", tmp_path / "sub" / "child2.yaml", tmp_path / "sub" / "parent.yaml"

    return write


@pytest.mark.parametrize(
    "parent, words",
    [
        (HEAD + "  - conv: {out: 4, kernal: 3}\n", ":4: layers.0.conv.kernal: unknown field 'kernal'"),
        (HEAD + "  - [relu\n", ":5: malformed YAML"),
        ("name: p\ninput: [3, 2, 2]\nlayers:\n  - conv: {out: 4, kernel: 3}\n", ":4: conv1 (conv): kernel 3 (dilated) is larger"),
    ],
)
def test_an_error_in_the_parent_names_both_specs(cli, family, monkeypatch, tmp_path, parent, words):
    monkeypatch.chdir(tmp_path.parent)  # relative paths are the extending spec's folder's, not the working folder's
    for child in family(parent)[:2]:
        message = error_of(cli, "report", child)
        assert f"{tmp_path / 'sub' / 'parent.yaml'}{words}" in message
        assert str(child) in message


def test_extends_paths_resolve_against_the_extending_spec(cli, family, monkeypatch, tmp_path):
    child, child2, _ = family(HEAD + "  - conv: {out: 4, kernel: 3}\n")
    monkeypatch.chdir(tmp_path / "sub")
    for spec in (child, child2, "../child.yaml", "child2.yaml"):
        result = cli("report", spec, "--format", "json")
        assert result.exit_code == 0 and '"params": 112' in result.output  # 4·3·3·3 weights + 4 biases


def test_extends_refuses_what_is_not_a_spec_file(cli, tmp_path):
    (tmp_path / "c.yaml").write_text("extends: /dev/zero\nname: c\n")
    assert "/dev/zero: expected a regular file, found a device" in error_of(cli, "report", tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text("extends: [a.yaml]\nname: c\n")
    assert "extends: expected a path to another spec, found ['a.yaml']" in error_of(cli, "report", tmp_path / "c.yaml")


def test_a_character_yaml_forbids_is_one_line(cli, write_spec):
    # found by the fuzz test: PyYAML's ReaderError spans two lines ("in <unicode string>, position …")
    message = error_of(cli, "report", write_spec(HEAD + "  - re\x00lu\n"))
    assert message.endswith(":4: malformed YAML: the character U+0000 is not allowed in YAML text")


HUGE = "9" * 5000


@pytest.mark.parametrize(
    "args, words",
    [
        (["report", str(LENET), "--batch", HUGE], "'--batch': expected a positive integer, found one of 5,000 digits (at most 4,300)"),
        (["report", str(LENET), "--training", "--fit", HUGE], "--fit: expected a memory size such as 80GiB"),
        (["run", str(LENET), "--iters", HUGE], "'--iters'"),
    ],
)
def test_a_five_thousand_digit_option_names_its_option_in_one_short_line(cli, args, words):
    message = error_of(cli, *args)
    assert words in message and len(message) <= 2 * LIMIT, message
