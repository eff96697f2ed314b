"""`archcalc verify` on the notes' claims: each verdict against hand arithmetic written here,
the likely causes, the formats, the exit status, and the README section's freshness."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from archcalc.checking import verify_file
from archcalc.claims import source_arithmetic
from archcalc.errors import SpecError
from archcalc.verify import markdown, page, readme_section, readme_summary
from tests.conftest import ROOT

SEED = ROOT / "specs/claims/seed-notes.yaml"


@pytest.fixture(scope="module")
def verdicts():
    return {v.claim.id: v for v in verify_file(SEED)}


#: AlexNet's FC6 + FC7 + FC8 params: 6·6·256 → 4096 → 4096 → 1000, each with its biases
FC_PARAMS = (6 * 6 * 256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)

N_AND_C = [(2, 64), (3, 64), (5, 64), (7, 64), (3, 16), (7, 192)]

# id → (holds, archcalc's value by hand). Sizes are (H, W, C) as the notes write them.
HAND = {
    "lenet5-c1-maps": (True, 6),  # LeCun et al. 1998: C1 has 6 feature maps
    "alexnet-c1-maps": (True, 96),  # Krizhevsky et al. 2012: 96 kernels of 11×11×3
    "googlenet-two-auxiliary-softmax": (True, 2),  # Szegedy et al. 2014: two auxiliary classifiers (4a, 4d)
    "inception-v3-input": (True, (299, 299, 3)),
    # He et al. 2015, Table 1: conv1 + (2 or 3 convs) × blocks per stage + fc
    "resnet34-depth": (True, 1 + 2 * (3 + 4 + 6 + 3) + 1),
    "resnet50-depth": (True, 1 + 3 * (3 + 4 + 6 + 3) + 1),
    "resnet101-depth": (True, 1 + 3 * (3 + 4 + 23 + 3) + 1),
    "resnet152-depth": (True, 1 + 3 * (3 + 8 + 36 + 3) + 1),
    "lenet5-c1-size": (True, (32 - 5 + 1, 32 - 5 + 1, 6)),
    "lenet5-c1-params": (True, 6 * (5 * 5 * 1 + 1)),
    "lenet5-c1-connections": (True, (5 * 5 + 1) * 28 * 28 * 6),
    "lenet5-s2-params": (True, 2 * 6),
    "lenet5-s2-connections": (True, (2 * 2 + 1) * 14 * 14 * 6),
    "lenet5-c3-params": (True, (6 * 3 + 9 * 4 + 1 * 6) * 25 + 16),  # Table I: 6 maps read 3, 9 read 4, 1 reads 6
    "lenet5-c3-connections": (True, 1516 * 10 * 10),
    "lenet5-s4-connections": (True, 5 * 5 * 5 * 16),
    "lenet5-c5-params": (True, (5 * 5 * 16 + 1) * 120),
    "lenet5-f6-params": (True, 121 * 84),
    "lenet5-seven-layers": (True, 7),
    "alexnet-eight-layers": (True, 8),
    "alexnet-c1-size": (True, ((227 - 11) // 4 + 1, (227 - 11) // 4 + 1, 96)),
    "alexnet-pool1-size": (True, ((55 - 3) // 2 + 1, 27, 96)),
    "alexnet-c2-size": (True, ((27 + 2 * 2 - 5) // 1 + 1, 27, 256)),
    "alexnet-pool5-size": (True, ((13 - 3) // 2 + 1, 6, 256)),
    "alexnet-fc6-size": (True, 4096),
    "alexnet-c1-params": (False, 96 * 11 * 11 * 3 + 96),  # 34,944: the notes say 34,848
    "alexnet-c2-params": (True, 2 * (128 * 5 * 5 * 48 + 128)),
    "alexnet-c3-params": (True, 3 * 3 * 256 * 384 + 384),
    "alexnet-c4-params": (True, 2 * (3 * 3 * 192 * 192 + 192)),
    "alexnet-c5-params": (True, 2 * (3 * 3 * 192 * 128 + 128)),
    "alexnet-fc6-params": (True, 6 * 6 * 256 * 4096 + 4096),
    "alexnet-fc7-params": (True, 4096 * 4096 + 4096),
    "alexnet-output-params": (False, 4096 * 1000 + 1000),  # the notes leave out the 1000 biases
    "inception-5x5-params": (True, 128 * 5 * 5 * 256),
    "inception-bottleneck-params": (False, 128 * 1 * 1 * 32 + 32 * 5 * 5 * 256),  # 208,896, not 204,800
    "inception-bottleneck-saving": (True, Fraction(819200, 208896)),
    "inception-v2-25-over-9": (True, Fraction(25, 9)),
    "inception-v2-two-3x3-field": (True, (1 + 2 + 2, 5)),
    "inception-v2-three-3x1": (False, (1 + 2 + 2 + 2, 1)),  # three 3×1: 7 tall, 1 wide
    "vgg-three-3x3-field": (True, (7, 7)),
    "vgg-two-3x3-fewer-params": (True, Fraction(2 * 9, 25)),
    "resnet-basic-block-params": (True, 3 * 3 * 256 * 256 * 2),
    "resnet-bottleneck-params": (True, 256 * 64 + 9 * 64 * 64 + 64 * 256),
    "resnet-bottleneck-ratio": (True, Fraction(3 * 3 * 256 * 256 * 2, 69632)),
    "resnet-sigmoid-gradient": (True, Fraction(1, 4)),  # σ'(0) = σ(0)(1 − σ(0)) = ½·½
    "inception-v2-factorise-params": (True, [Fraction(2, n) for n in (2, 3, 5, 7, 3, 7)]),
    # 1×n (c·c·n weights) then n×1 (c·c·n) against n×n (c·c·n²), at (n, c) = (2, 64) … (7, 192)
    "inception-v2-factorise-count": (True, [2 * n * c * c for n, c in N_AND_C]),
    "inception-v2-square-count": (True, [n * n * c * c for n, c in N_AND_C]),
    "lenet5-s2-size": (True, (28 // 2, 28 // 2, 6)),
    "lenet5-c3-size": (True, (14 - 4, 14 - 4, 16)),
    "lenet5-s4-size": (True, (10 // 2, 10 // 2, 16)),
    "lenet5-s4-params": (True, 2 * 16),
    "lenet5-c5-size": (True, (5 - 4, 5 - 4, 120)),
    "lenet5-f6-input": (True, 120 * 1 * 1),
    "lenet5-f6-size": (True, 84),
    "alexnet-norm1-size": (True, (27, 27, 96)),  # LRN keeps the shape
    "alexnet-c2-channels": (True, 2 * 128),
    "alexnet-pool2-size": (True, ((27 - 3) // 2 + 1, 13, 256)),
    "alexnet-norm2-size": (True, (13, 13, 256)),
    "alexnet-c3-size": (True, (13 + 2 - 3 + 1, 13, 384)),
    "alexnet-c4-size": (True, (13, 13, 384)),
    "alexnet-c5-size": (True, (13, 13, 256)),
    "alexnet-fc7-size": (True, 4096),
    "alexnet-fc8-size": (True, 1000),
    # FC6 + FC7 + FC8 over all: the convs add 34,944 + 307,456 + 885,120 + 663,936 + 442,624
    "alexnet-params-in-fc": (
        True,
        Fraction(FC_PARAMS, FC_PARAMS + 34_944 + 307_456 + 885_120 + 663_936 + 442_624),
    ),
    "vgg-three-fc": (True, [3] * 4),
    "vgg-five-pools": (True, [5] * 4),
    "vgg-one-softmax": (True, [1] * 4),
    "vgg-dropout-between-fc": (True, 2),
    "vgg-two-3x3-field": (True, (5, 5)),
    "vgg-three-3x3-fewer-params": (True, Fraction(3 * 9, 49)),
    "inception-5x5-size": (True, (100 + 4 - 5 + 1, 100, 256)),
    "inception-bottleneck-size": (True, (100, 100, 256)),
    "inception-v2-5x5-weights": (True, 5 * 5),
    "inception-v2-3x3-weights": (True, 3 * 3),
    "inception-v2-factorise-field": (True, [(n, n) for n in (2, 3, 5, 7)]),  # 1×n then n×1: n tall, n wide
}


def test_every_claim_has_hand_arithmetic(verdicts):
    # lenet5-subsampling-size is symbolic: test_symbolic_claim_under_its_condition
    assert set(verdicts) - set(HAND) == {"lenet5-subsampling-size"}


def test_symbolic_claim_under_its_condition(verdicts, tmp_path, cli):
    from archcalc.expressions import symbol

    # (M/s)×(N/s) with s | M, s | N: M = s·m pooled by s gives ⌊s·m/s⌋ = m
    m, n = symbol("m"), symbol("n")
    verdict = verdicts["lenet5-subsampling-size"]
    assert verdict.holds and verdict.derived == [(m, n, 1)] * 3
    # without the notes' condition the formula is not exact: ⌊M/2⌋ ≠ M/2 for odd M
    path = tmp_path / "general.yaml"
    path.write_text(
        "source: t\nclaims:\n  - id: pool\n    section: s\n    quote: q\n"
        "    of: {net: {input: [1, M, N], layers: [avgpool: {kernel: 2}]}, layer: avgpool1, quantity: output_size}\n"
        "    where: {}\n    claimed: M/2×N/2\n"
    )
    assert cli("verify", path).exit_code == 1


@pytest.mark.parametrize("claim_id", HAND)
def test_verdicts_match_hand_arithmetic(verdicts, claim_id):
    holds, derived = HAND[claim_id]
    verdict = verdicts[claim_id]
    assert verdict.holds is holds
    assert verdict.derived == derived


def test_exactly_these_claims_are_false(verdicts):
    assert {i for i, v in verdicts.items() if not v.holds} == {
        "alexnet-c1-params",
        "alexnet-output-params",
        "inception-bottleneck-params",
        "inception-v2-three-3x1",
    }


def test_the_likely_causes_are_derived(verdicts):
    c1 = " ".join(verdicts["alexnet-c1-params"].causes)
    assert "arithmetic slip" in c1 and "34944" in c1  # 96×11×11×3 + 96 really is 34,944
    assert verdicts["alexnet-c1-params"].difference == 34848 - 34944
    fc8 = verdicts["alexnet-output-params"].causes
    assert any("1000 biases left out" in c for c in fc8)
    assert any("macs count" in c for c in fc8)  # 4096×1000 is FC8's multiply-accumulates
    bottleneck = " ".join(verdicts["inception-bottleneck-params"].causes)
    assert "conv1" in bottleneck and "4096" in bottleneck  # 128×1×1×32 = 4096 weights left out
    assert verdicts["inception-v2-three-3x1"].causes == []  # nothing archcalc can reproduce: no cause invented
    assert verdicts["inception-v2-three-3x1"].difference == (3 - 7, 3 - 1)  # claimed − derived, per axis


def test_the_notes_arithmetic_is_parsed_not_evaluated():
    assert source_arithmetic("(27+2∗2−5)/1+1") == 27
    assert source_arithmetic("3x3x256x256x2") == 1179648
    assert source_arithmetic("25/9") == Fraction(25, 9)
    with pytest.raises(SpecError):
        source_arithmetic("__import__('os').system('true')")


def test_cli_exit_status_and_json(cli, tmp_path):
    result = cli("verify", SEED, "--format", "json")
    assert result.exit_code == 1  # the notes contain false claims
    items = json.loads(result.output)
    by_id = {item["id"]: item for item in items}
    assert {"id", "claimed", "derived", "holds"} <= set(items[0])
    assert by_id["alexnet-output-params"] == {**by_id["alexnet-output-params"], "claimed": 4096000, "derived": 4097000, "holds": False}
    assert by_id["resnet-sigmoid-gradient"]["derived"] == "1/4"

    good = tmp_path / "good.yaml"
    good.write_text(
        "source: test\n"
        "claims:\n"
        "  - id: lenet-c1\n"
        "    section: t\n"
        "    quote: (32-(5-1))=28\n"
        f"    of: {{spec: {ROOT / 'specs/lenet5.yaml'}, layer: C1, quantity: height}}\n"
        "    arithmetic: (32−(5−1))\n"
        "    claimed: 28\n"
    )
    result = cli("verify", good)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("✓ lenet-c1")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  - {id: a, section: s, quote: q, claimed: 1}\n", "exactly one of"),
        ("  - {id: a, section: s, quote: q, claimed: 1, fact: sigmoid_gradient_max, rounding: 2}\n", "needs `reason`"),
        ("  - {id: a, section: s, quote: q, claimed: 1, fact: sigmoid_gradient_max, colour: red}\n", "unknown field 'colour'"),
        (
            "  - {id: a, section: s, quote: q, claimed: 1, of: {spec: specs/lenet5.yaml, layer: C9, quantity: params}}\n",
            "no layer or block 'C9'",
        ),
    ],
)
def test_bad_claims_are_reported_for_people(cli, tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text("source: test\nclaims:\n" + body)
    result = cli("verify", path)
    assert result.exit_code == 2
    assert message in result.output
    assert f"{path}:3:" in result.output  # the claim's line


LENET5 = ROOT / "specs/lenet5.yaml"
_CLAIM = "  - {id: bad, section: s, quote: q, "


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # a ratio over 0 is undefined (C1 has no buffers)
        (
            f"claimed: 1, ratio: [{{spec: {LENET5}, layer: C1, quantity: params}}, {{spec: {LENET5}, layer: C1, quantity: buffers}}]}}",
            "claim bad: ratio: the second value (buffers of C1) is 0, so the ratio is undefined",
        ),
        # sizes are not numbers: no ratio, difference, relation or rounding
        (
            f"claimed: 1, ratio: [{{spec: {LENET5}, layer: C1, quantity: output_size}}, {{spec: {LENET5}, layer: C3, quantity: params}}]}}",
            "a ratio compares two numbers; output_size is a size",
        ),
        (
            f"claimed: 1, difference: [{{spec: {LENET5}, layer: C1, quantity: params}}, {{spec: {LENET5}, layer: C3, quantity: rf}}]}}",
            "a difference compares two numbers; rf is a size",
        ),
        (
            f"claimed: 1, ratio: [{{spec: {LENET5}, quantity: input_size}}, {{spec: {LENET5}, layer: C3, quantity: params}}]}}",
            "a ratio compares two numbers; input_size is a size",
        ),
        (
            f'claimed: 28x28, relation: ">", of: {{spec: {LENET5}, layer: C1, quantity: output_size}}}}',
            "output_size is a size (H×W…), compared exactly: `relation` and `rounding` do not apply",
        ),
        (
            f"claimed: 5, rounding: 0, reason: r, of: {{spec: {LENET5}, layer: C3, quantity: rf}}}}",
            "rf is a size (H×W…), compared exactly: `relation` and `rounding` do not apply",
        ),
        # < and > and rounding need a number, not a formula in H
        (
            f'claimed: 30, relation: "<", of: {{spec: {LENET5}, layer: C1, quantity: height, input: "1,H,W"}}}}',
            "claim bad: `relation: <` needs a number, found the formula H - 4: give its names values with `for:`",
        ),
        (
            f"claimed: 28, rounding: 0, reason: r, of: {{spec: {LENET5}, layer: C1, quantity: height, input: '1,H,W'}}}}",
            "claim bad: `rounding` needs a number, found the formula H - 4: give its names values with `for:`",
        ),
        # a family with no members checks nothing
        (
            f"claimed: 1, for: {{n: []}}, of: {{spec: {LENET5}, layer: C1, quantity: params}}}}",
            "claims.0.for.n: expected at least 1 item(s), found 0",
        ),
        (
            f"claimed: true, of: {{spec: {LENET5}, layer: C1, quantity: params}}}}",
            "claimed is a number or text (27, 2.78, 27×27×96), found true",
        ),
        (
            f"claimed: false, of: {{spec: {LENET5}, layer: C1, quantity: buffers}}}}",
            "claimed is a number or text (27, 2.78, 27×27×96), found false",
        ),
        # F6 is a flat (84,) layer: it has no height
        (
            f"claimed: 84, of: {{spec: {LENET5}, layer: F6, quantity: height}}}}",
            "claim bad: height needs a (C, H, W) output, but F6 outputs the flat (84,)",
        ),
        (f"claimed: 84, of: {{spec: {LENET5}, layer: F6, quantity: channels}}}}", "claim bad: channels needs a (C, H, W) output"),
        (f"claimed: 1, of: {{spec: {LENET5}, layer: [], quantity: params}}}}", "an empty list names no layer"),
        (f"claimed: 1, of: {{spec: {LENET5}, quantity: layers, kind: maxpol}}}}", "unknown op kind 'maxpol'; did you mean 'maxpool'?"),
        (
            f"claimed: 1, of: {{spec: {LENET5}, quantity: params, kind: conv}}}}",
            "`kind` counts the layers of one op kind: it goes with `quantity: layers`",
        ),
    ],
)
def test_malformed_claims_exit_2_without_a_traceback(cli, tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text("source: test\nclaims:\n" + _CLAIM + body + "\n")
    result = cli("verify", path)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.startswith(f"archcalc: error: {path}:3: ")  # the file and the claim's line
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("claimed", ["28x28", "28 x 28", "28x28x6", "28×28"])
def test_a_size_written_with_a_letter_x_is_a_size_not_a_product(cli, tmp_path, claimed):
    path = tmp_path / "size.yaml"
    path.write_text(f"source: test\nclaims:\n{_CLAIM}claimed: {claimed}, of: {{spec: {LENET5}, layer: C1, quantity: output_size}}}}\n")
    result = cli("verify", path, "--format", "json")
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.output)
    assert item["holds"] is True and item["derived"] == [28, 28, 6]
    assert item["claimed"] == [28, 28, 6][: len(item["claimed"])] and len(item["claimed"]) >= 2


def test_a_readme_in_a_missing_folder_is_a_one_line_error(cli, tmp_path):
    readme = tmp_path / "no" / "such" / "README.md"
    result = cli("verify", SEED, "--write-readme", readme)
    assert result.exit_code == 2
    assert result.output.strip() == f"archcalc: error: {readme}: --write-readme: cannot update the README: No such file or directory"


def test_text_and_markdown_word_relation_and_rounding_alike(verdicts):
    from archcalc.verify import text

    rounded = verdicts["inception-v2-25-over-9"]
    above = verdicts["alexnet-params-in-fc"]
    table = markdown([rounded, above])
    lines = text([rounded, above])
    assert "25/9 ≈ 2.7778 (rounded to 2 decimals)" in table and "derived 25/9 ≈ 2.7778, rounded to 2 decimals; claimed 2.78" in lines
    assert "| above 0.5 |" in table and "claimed above 0.5" in lines
    # the same words in both formats, for whole numbers too (the text once said "a whole number")
    assert ", rounded to 0 decimals; claimed 4" in text([verdicts["inception-bottleneck-saving"]])
    assert "(rounded to 0 decimals)" in markdown([verdicts["inception-bottleneck-saving"]])


def test_readme_section_and_claims_page_are_fresh():
    # regenerate with: archcalc verify specs/claims/seed-notes.yaml --write-readme README.md --write-page reports/claims.md
    verdicts = verify_file(SEED)
    assert readme_section(ROOT / "README.md") == readme_summary(verdicts)
    assert (ROOT / "reports/claims.md").read_text(encoding="utf-8") == page(verdicts)
    assert "| ✗ | `alexnet-c1-params` |" in page(verdicts) and "| ✓ |" not in readme_summary(verdicts)  # the table is on the page only


def test_explain_cli(cli):
    result = cli("explain", ROOT / "specs/alexnet.yaml", "pool1", "--quantity", "shape")
    assert result.exit_code == 0
    assert "⌊(55 + 2×0 − 1×(3 − 1) − 1)/2⌋ + 1 = 27" in result.output
    result = cli("explain", ROOT / "specs/alexnet.yaml", "pool9")
    assert result.exit_code == 2
    assert "no layer or block 'pool9'" in result.output
    result = cli("explain", ROOT / "specs/lenet5.yaml", "C1", "--input", "1,H,W", "--quantity", "shape")
    assert "H_out = ⌊(H + 2·p_h − d_h·(k_h − 1) − 1)/s_h⌋ + 1 = ⌊(H + 2×0 − 1×(5 − 1) − 1)/1⌋ + 1 = H − 4" in result.output


def test_the_inline_vgg_is_vgg16_and_blocks_can_be_subjects(tmp_path, cli):
    import yaml

    from archcalc.analysis import analyse_file

    vgg = yaml.safe_load(SEED.read_text(encoding="utf-8"))["nets"]["vgg"]
    spec = tmp_path / "vgg16.yaml"
    spec.write_text(yaml.safe_dump({"name": "VGG-16", **vgg}))
    analysis = analyse_file(spec)
    assert analysis.totals.params == 138_357_544  # torchvision's vgg16 (configuration D)
    assert sum(1 for s in analysis.layers if s.params) == 16
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        "source: t\nclaims:\n"
        f"  - {{id: stage1, section: s, quote: q, of: {{spec: {spec}, layer: stage1, quantity: params}}, claimed: 38720}}\n"
        f"  - {{id: fc-diff, section: s, quote: q, claimed: 12288000,\n"
        f"      difference: [{{spec: {spec}, layer: linear2, quantity: macs}}, {{spec: {spec}, layer: linear3, quantity: macs}}]}}\n"
    )
    result = cli("verify", claims, "--format", "json")
    # stage1: (3·9·64 + 64) + (64·9·64 + 64); FC7 − FC8 macs: 4096·4096 − 4096·1000
    assert [item["derived"] for item in json.loads(result.output)] == [
        (3 * 9 * 64 + 64) + (64 * 9 * 64 + 64),
        4096 * 4096 - 4096 * 1000,
    ]
    assert result.exit_code == 1  # 12,288,000 is not 12,681,216


def test_write_readme_replaces_only_the_marked_section(cli, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\n<!-- verify:begin -->\nstale\n<!-- verify:end -->\n\ntail\n")
    result = cli("verify", SEED, "--write-readme", readme, "--format", "markdown")
    assert result.exit_code == 1
    text = readme.read_text()
    assert text.startswith("# title\n\n<!-- verify:begin -->\n") and text.endswith("<!-- verify:end -->\n\ntail\n")
    assert "stale" not in text
    assert readme_section(readme) == readme_summary(verify_file(SEED))
    assert "Claims that do not hold:" in result.output and "| ✗ | `alexnet-c1-params` |" in result.output  # stdout: the whole table
    written = tmp_path / "claims.md"
    assert cli("verify", SEED, "--write-page", written).exit_code == 1 and written.read_text() == page(verify_file(SEED))
    unmarked = tmp_path / "OTHER.md"
    unmarked.write_text("# no markers\n")
    result = cli("verify", SEED, "--write-readme", unmarked)
    assert result.exit_code == 2 and "verify:begin" in result.output
