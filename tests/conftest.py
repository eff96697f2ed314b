from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from archcalc.analysis import analyse_file
from archcalc.cli import main

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("**/*.yaml"))
NETWORK_SPECS = [p for p in SPECS if "claims" not in p.parts]


@pytest.fixture
def write_spec(tmp_path):
    """Write a YAML spec (dedented) to a file and return its path."""

    def write(text: str, name: str = "net.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def analyse_text(write_spec):
    def run(text: str, **kwargs):
        return analyse_file(write_spec(text), **kwargs)

    return run


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


def by_name(analysis):
    return {layer.name: layer for layer in analysis.layers}
