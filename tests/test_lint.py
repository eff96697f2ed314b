"""ruff lint and format are part of the suite, so CI enforces the style."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

PATHS = ["archcalc", "tests", "benchmarks"]


def test_ruff_check():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", *PATHS], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = subprocess.run([sys.executable, "-m", "ruff", "format", "--check", *PATHS], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
