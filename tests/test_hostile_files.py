"""archcalc never deletes or replaces a file it did not write (issue 10, item 1).

Each test plants "precious" files where archcalc writes and checks that they survive, byte
for byte, while archcalc refuses clearly or writes elsewhere and says where.
"""

from __future__ import annotations

import shutil
import textwrap

import pytest

from archcalc.writing import MANIFEST, claim_folder, owned_files
from tests.conftest import ROOT

NET = """
name: Tiny {n}
input: [1, 8, 8]
layers:
  - conv: {{out: {n}, kernel: 3}}
  - relu
"""

PRECIOUS = {"notes.md": "# my notes\n", "drawing.svg": "<svg/>\n", "graph.dot": "digraph mine {}\n", "sub/thesis.md": "chapter 1\n"}

try:
    import matplotlib  # noqa: F401

    HAS_MATPLOTLIB = True
except ImportError:
    HAS_MATPLOTLIB = False
needs_gallery_tools = pytest.mark.skipif(
    shutil.which("dot") is None or not HAS_MATPLOTLIB, reason="building a gallery needs Graphviz's dot and matplotlib (scripts/setup)"
)


def plant(folder, files=PRECIOUS):
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


def intact(folder, files=PRECIOUS):
    return {rel: (folder / rel).read_text() for rel in files if (folder / rel).exists()} == files


@pytest.fixture
def specs(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "a.yaml").write_text(textwrap.dedent(NET.format(n=2)))
    return folder


def test_gallery_refuses_a_folder_that_is_not_a_gallery(cli, tmp_path, specs):
    out = tmp_path / "project"
    plant(out)
    result = cli("gallery", "--specs", specs, "--out", out)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "not an archcalc gallery" in lines[0] and str(out) in lines[0]
    assert intact(out) and sorted(p.name for p in out.rglob("*")) == ["drawing.svg", "graph.dot", "notes.md", "sub", "thesis.md"]


@needs_gallery_tools
def test_gallery_rebuild_removes_only_its_own_files(cli, tmp_path, specs):
    out = tmp_path / "reports"
    assert cli("gallery", "--specs", specs, "--out", out).exit_code == 0
    listed = (out / MANIFEST).read_text().splitlines()[1:]
    assert listed == ["README.md", "a.dot", "a.html", "a.md", "a.svg", "compare.svg"]
    plant(out)  # the user's files, added to the gallery's folder afterwards
    (specs / "a.yaml").unlink()
    (specs / "b.yaml").write_text(textwrap.dedent(NET.format(n=3)))
    assert cli("gallery", "--specs", specs, "--out", out).exit_code == 0
    assert intact(out)
    assert not (out / "a.md").exists() and not (out / "a.svg").exists()  # the gallery's own, of a spec now gone
    assert (out / "b.md").exists()


@needs_gallery_tools
def test_gallery_never_replaces_a_file_it_did_not_write(cli, tmp_path, specs):
    out = tmp_path / "reports"
    assert cli("gallery", "--specs", specs, "--out", out).exit_code == 0
    mine = {"b.md": "my own b\n"}  # a new spec b would write b.md over it
    plant(out, mine)
    (specs / "b.yaml").write_text(textwrap.dedent(NET.format(n=3)))
    result = cli("gallery", "--specs", specs, "--out", out)
    assert result.exit_code == 2 and "b.md: exists and was not written by archcalc gallery" in result.output
    assert intact(out, mine) and not (out / "b.dot").exists()  # refused before writing anything


def test_manifest_lines_never_reach_outside_the_folder(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    (out / MANIFEST).write_text("# head\nREADME.md\n../outside.md\n/etc/passwd\nsub/ok.md\n")
    assert owned_files(out) == {"README.md", "sub/ok.md"}


def test_the_repository_gallery_is_recognised(tmp_path):
    """reports/ as committed is the gallery (its manifest, or, before one existed, its marks):
    `archcalc gallery` may rebuild it; a user's file put there is not the gallery's."""
    copy = tmp_path / "reports"
    shutil.copytree(ROOT / "reports", copy)
    plant(copy)
    (copy / MANIFEST).unlink(missing_ok=True)  # as before manifests: recognised by the index's mark
    owned = owned_files(copy)
    assert {"README.md", "alexnet.md", "alexnet.dot", "alexnet.svg", "alexnet.html", "torchvision/vgg11.md"} <= owned
    assert not owned & set(PRECIOUS)
    assert claim_folder(copy, {"alexnet.md", "README.md"}) == owned
    with pytest.raises(Exception, match="notes.md: exists and was not written"):
        claim_folder(copy, {"notes.md"})


def test_diagram_without_graphviz_never_replaces_a_dot_file(cli, tmp_path, monkeypatch):
    (tmp_path / "x.dot").write_text("digraph mine {}\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = cli("diagram", ROOT / "specs/lenet5.yaml", "-o", tmp_path / "x.svg")
    assert result.exit_code == 2
    assert (tmp_path / "x.dot").read_text() == "digraph mine {}\n"
    assert f"wrote {tmp_path / 'x-1.dot'} ({tmp_path / 'x.dot'} exists and was left as it was)" in result.output
    assert (tmp_path / "x-1.dot").read_text().startswith("digraph archcalc {")
    assert not (tmp_path / "x.svg").exists()
    result = cli("diagram", ROOT / "specs/lenet5.yaml", "-o", tmp_path / "x.svg")  # again: a third name, both kept
    assert f"wrote {tmp_path / 'x-2.dot'}" in result.output and (tmp_path / "x-1.dot").exists()
