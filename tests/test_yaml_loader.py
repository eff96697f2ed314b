"""archcalc's YAML reading (archcalc/loading.py) against PyYAML's own safe constructor: the
direct construction of plain trees (``StrictLoader.construct_plain``) must build exactly what
PyYAML builds, for every bundled YAML file and for the awkward corners of YAML."""

from pathlib import Path

import pytest
import yaml

from archcalc.errors import SpecError
from archcalc.loading import StrictLoader, load_yaml

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "specs").rglob("*.yaml"))

CORNERS = {
    "scalars": "a: 1\nb: -0x1F\nc: 1_000\nd: 0o17\ne: 2.5\nf: true\ng: null\nh: ~\ni: '3'\nj: 2001-12-14\nk: .5\n",
    "int keys and nesting": "1: [a, [b, {c: d}], {}]\n2: {x: [1, 2, {y: [3]}]}\n",
    "merge key": "base: &b {x: 1, y: 2}\nderived: {<<: *b, y: 3}\n",
    "tags": "a: !!str 12\nb: !!float 3\nc: !!binary aGk=\nd: !!set {x, y}\ne: !!omap [{a: 1}]\n",
    "non-scalar key": "? [1, 2]\n: unhashable\n",  # refused by both, with PyYAML's own error
    "empty values": "a:\nb: []\nc: {}\n'': x\n",
}


def ours(text: str):
    """archcalc's value of ``text`` (load_yaml, the reader every command uses), or "refused"."""
    try:
        return load_yaml(text, "t.yaml")[1]
    except SpecError:
        return "refused"


def theirs(text: str):
    """PyYAML's safe construction of the same text (with archcalc's refusals), or "refused"."""
    loader = StrictLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError:
        return "refused"
    finally:
        loader.dispose()


@pytest.fixture
def no_general_construction(monkeypatch):
    """PyYAML's general construction made to fail: what is read without it took the direct path."""

    def refuse(self, node):
        raise AssertionError("construct_document was called")

    monkeypatch.setattr(StrictLoader, "construct_document", refuse)


@pytest.mark.parametrize("file", FILES)
def test_every_bundled_file_is_built_as_pyyaml_builds_it(file):
    text = (ROOT / file).read_text()
    value = ours(text)
    assert value == theirs(text) and isinstance(value, dict)


@pytest.mark.parametrize("file", [file for file in FILES if "&" not in (ROOT / file).read_text()])
def test_a_file_without_an_anchor_is_built_directly(file, no_general_construction):
    # without an anchor there is no alias: the nodes form a tree, built as they are counted
    assert isinstance(ours((ROOT / file).read_text()), dict)


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_the_corners_of_yaml_are_built_as_pyyaml_builds_them(name):
    value, reference = ours(CORNERS[name]), theirs(CORNERS[name])
    assert value == reference and type(value) is type(reference)


def test_an_anchor_that_no_alias_uses_still_takes_the_direct_path(no_general_construction):
    assert ours("a: &x [1, 2]\nb: 3\n") == {"a": [1, 2], "b": 3}


def test_an_alias_takes_pyyamls_general_path(no_general_construction):
    with pytest.raises(AssertionError, match="construct_document"):
        ours("a: &x [1, 2]\nb: *x\n")
