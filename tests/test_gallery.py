"""reports/: one report and one diagram per spec, an index, and a check that fails when stale.

Markdown and DOT are regenerated and compared byte for byte; SVGs (whose layout varies
between Graphviz versions) must carry the digest of the current DOT (see archcalc.gallery).
"""

from __future__ import annotations

import importlib.util
import shutil
import textwrap

import pytest

from archcalc.analysis import analyse_file
from archcalc.compare import markdown as compare_markdown
from archcalc.compare import summarise
from archcalc.gallery import build_gallery, comparison_markdown, gallery_depth, network_specs, stale
from tests.conftest import LENET_MACS, NETWORK_SPECS, ROOT

SPECS, REPORTS = ROOT / "specs", ROOT / "reports"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (scripts/setup --test installs it)")
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="the gallery's plots need matplotlib: pip install -e '.[plot]' (scripts/setup --test installs it)",
)


def test_reports_are_current():
    problems = stale(SPECS, REPORTS)
    assert problems == [], "reports/ is stale; rebuild it with `make reports`:\n" + "\n".join(problems)


def test_every_network_spec_has_a_report_and_a_diagram():
    assert network_specs(SPECS) == NETWORK_SPECS
    for spec in NETWORK_SPECS:
        stem = spec.relative_to(SPECS).with_suffix("")
        assert (REPORTS / stem).with_suffix(".md").exists(), stem
        assert (REPORTS / stem).with_suffix(".svg").exists(), stem
        assert f"({stem.as_posix()}.md)" in (REPORTS / "README.md").read_text()


def test_claim_files_are_not_networks(tmp_path):
    (tmp_path / "claims").mkdir()
    (tmp_path / "torchvision").mkdir()
    for rel in ("a.yaml", "claims/a.yaml", "torchvision/b.yaml"):
        (tmp_path / rel).write_text("")
    assert [p.relative_to(tmp_path).as_posix() for p in network_specs(tmp_path)] == ["a.yaml", "torchvision/b.yaml"]


def test_comparison_table_rows():
    lenet = analyse_file(SPECS / "lenet5.yaml")
    table = comparison_markdown({"lenet5.md": lenet}).splitlines()
    assert table[0] == "| Network | Params | MACs | Depth | Peak act. | Total act. | RF | Most MACs in |"
    # the paper's 60,000 parameters; C1 28·28·6·25 + C3 10·10·1,500 + C5 120·400 + F6 84·120 + RBF 10·84
    # multiply-accumulates = 117,600 + 150,000 + 48,000 + 10,080 + 840 = 326,520 … plus the subsampling
    # layers' one coefficient per output unit: 6·14·14 + 16·5·5 = 1,576 → 328,096.
    # Depth: C1 S2 C3 S4 C5 F6 output = 7. Peak: C1's 6·28·28 floats = 18,816 bytes. Total: every output,
    # (2·4,704 + 2·1,176 + 2·1,600 + 2·400 + 3·120 + 2·84 + 10) · 4 = 65,192 bytes. RF: 32 (the whole input).
    # Written to three significant digits: 18,816/1024 = 18.375 KiB, 65,192/1024 = 63.66 KiB; exact with exact=True.
    assert table[2] == "| [LeNet-5](lenet5.md) | 60.0 k | 328 k | 7 | 18.4 KiB | 63.7 KiB | 32 | C3 (150 k) |"
    row = summarise(lenet)
    row["name"] = "[LeNet-5](lenet5.md)"
    exact = compare_markdown([row], exact=True).splitlines()[2]
    assert exact == f"| [LeNet-5](lenet5.md) | 60,000 | {LENET_MACS:,} | 7 | 18,816 B | 65,192 B | 32 | C3 (150,000) |"


NET = """
name: Tiny {n}
input: [1, 8, 8]
layers:
  - conv: {{out: {n}, kernel: 3}}
  - relu
"""


@needs_dot
@needs_matplotlib
def test_check_finds_stale_missing_and_orphan_files(tmp_path, cli):
    specs, reports = tmp_path / "specs", tmp_path / "reports"
    (specs / "sub").mkdir(parents=True)
    (specs / "a.yaml").write_text(textwrap.dedent(NET.format(n=2)))
    (specs / "sub" / "b.yaml").write_text(textwrap.dedent(NET.format(n=3)))
    (specs / "old.yaml").write_text(textwrap.dedent(NET.format(n=6)))
    build_gallery(specs, reports)
    assert sorted(p.relative_to(reports).as_posix() for p in reports.rglob("*")) == [
        ".archcalc-gallery", "README.md", "a.dot", "a.html", "a.md", "a.svg", "compare.svg", "old.dot", "old.html", "old.md", "old.svg",
        "sub", "sub/b.dot", "sub/b.html", "sub/b.md", "sub/b.svg"
    ]  # fmt: skip
    assert stale(specs, reports) == []
    assert cli("gallery", "--specs", specs, "--out", reports, "--check").exit_code == 0

    (specs / "a.yaml").write_text(textwrap.dedent(NET.format(n=4)))  # the network changed
    (reports / "sub" / "b.svg").unlink()
    (specs / "c.yaml").write_text(textwrap.dedent(NET.format(n=5)))  # a new spec
    (specs / "old.yaml").unlink()  # the gallery's report of a spec that is gone
    problems = stale(specs, reports)
    assert f"{reports / 'a.md'}: out of date" in problems
    assert f"{reports / 'a.dot'}: out of date" in problems
    assert f"{reports / 'a.svg'}: not drawn from the current a.dot" in problems
    assert f"{reports / 'a.html'}: out of date" in problems
    assert f"{reports / 'compare.svg'}: not drawn from the current data" in problems
    assert f"{reports / 'sub' / 'b.svg'}: missing" in problems
    assert f"{reports / 'c.md'}: missing" in problems
    assert f"{reports / 'c.html'}: missing" in problems
    assert f"{reports / 'old.md'}: no spec makes it" in problems
    assert f"{reports / 'README.md'}: out of date" in problems
    result = cli("gallery", "--specs", specs, "--out", reports, "--check")
    assert result.exit_code == 1 and "stale" in result.output

    assert cli("gallery", "--specs", specs, "--out", reports).exit_code == 0
    assert stale(specs, reports) == [] and not (reports / "old.md").exists()


def test_large_networks_are_drawn_collapsed(write_spec):
    blocks = """
    name: Deep
    input: [8, 8, 8]
    blocks:
      unit:
        layers: [conv: {out: 8, kernel: 3, padding: 1}, bn, relu]
    layers:
      - unit: {name: body, repeat: 50}
    """
    deep = analyse_file(write_spec(blocks))
    assert gallery_depth(deep) == 0  # 150 layers open; collapsed, one node ×50
    assert gallery_depth(analyse_file(SPECS / "alexnet.yaml")) is None


def test_gallery_without_dot_says_how_to_get_it(tmp_path, monkeypatch, cli):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.yaml").write_text(textwrap.dedent(NET.format(n=2)))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = cli("gallery", "--specs", tmp_path / "specs", "--out", tmp_path / "reports")
    assert result.exit_code == 2 and "apt-get install graphviz" in result.output
