"""archcalc's YAML reading (archcalc/loading.py) against PyYAML's own safe constructor: the
direct construction of plain trees (``StrictLoader.construct_tree``) must build exactly what
PyYAML builds, for every bundled YAML file and for the awkward corners of YAML."""

from pathlib import Path

import pytest
import yaml

from archcalc.loading import StrictLoader, measure

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


def outcome(build, root):
    """What building ``root`` gives: its value, or the error's type and text."""
    try:
        return build(root)
    except yaml.YAMLError as error:
        return type(error), str(error)


def constructed(text: str):
    """(a plain tree?, archcalc's value, PyYAML's value) of the same composed document."""
    ours, theirs = StrictLoader(text), StrictLoader(text)
    try:
        root, reference_root = ours.get_single_node(), theirs.get_single_node()
        plain = measure(root)
        value = outcome(ours.construct_tree if plain else ours.construct_document, root)
        return plain, value, outcome(theirs.construct_document, reference_root)
    finally:
        ours.dispose()
        theirs.dispose()


@pytest.mark.parametrize("file", FILES)
def test_every_bundled_file_is_built_as_pyyaml_builds_it(file):
    text = (ROOT / file).read_text()
    plain, value, reference = constructed(text)
    assert value == reference and isinstance(value, dict)
    assert plain or "&" in text  # without an anchor there is no alias: a plain tree


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_the_corners_of_yaml_are_built_as_pyyaml_builds_them(name):
    plain, value, reference = constructed(CORNERS[name])
    assert value == reference and type(value) is type(reference)
    assert plain == (name != "merge key")  # an alias (of the merged mapping) leaves the plain path


def test_duplicate_keys_are_refused_on_the_direct_path_too():
    with pytest.raises(Exception, match="duplicate key 'a'"):
        constructed("x: [1, {a: 1, b: 2, a: 3}]\n")
