"""scripts/mutants itself: it kills a planted bug that a test sees, reports one that no test
sees (file, line and the change), accepts a listed equivalent, and never touches the tree it
mutates. A two-function target and its one test keep this fast."""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import ROOT

TARGET = """\
def area(w, h):
    return w * h


def clamp(x):
    return max(x, 0)


def double(x):
    return x + x
"""
TEST = """\
from calc import area, double


def test_area():
    assert area(2, 3) == 6
    assert double(0) == 0
"""


def _runner():
    spec = importlib.util.spec_from_file_location("mutation", ROOT / "scripts" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_runner_kills_a_seen_bug_and_reports_an_unseen_one(tmp_path, capsys, monkeypatch):
    mutation = _runner()
    (tmp_path / "calc.py").write_text(TARGET)
    (tmp_path / "test_calc.py").write_text(TEST)
    # listed as equivalent (pretend: no caller passes a negative x), a survivor does not fail the run
    monkeypatch.setitem(mutation.EQUIVALENT, ("calc.py", "return max(x, 0)", "0 → 1"), "no negative x")
    args = ["--root", str(tmp_path), "--only", "calc.py", "--tests", "test_calc.py", "-v"]
    # `w * h` → `w + h` makes area(2, 3) 5: killed; the other two are seen by no test
    assert mutation.main(args) == 1
    out = capsys.readouterr().out
    assert "killed     calc.py:2: `*` → `+`" in out
    assert "EQUIVALENT calc.py:6: 0 → 1  [return max(x, 0)] — no negative x" in out
    assert "SURVIVED   calc.py:10: `+` → `-`  [return x + x]" in out
    assert "3 in" in out and "1 killed, 1 survived, 1 equivalent" in out
    assert (tmp_path / "calc.py").read_text() == TARGET  # the mutants lived in a temporary copy


def test_always_relations_are_mutated_as_comparisons_are():
    """`always(a, "<", b)` is archcalc's comparison at every size: its relation string is a
    mutation point ("<" → "<="), as the operator of `a < b` is; other calls' strings are not."""
    import ast

    mutation = _runner()
    source = 'if always(size, "<", 3) or expressions.always(n, ">=", 1) or other(x, "<", 2):\n    pass\n'
    points = mutation._Points()
    points.visit(ast.parse(source))
    assert [description for _, description, _ in points.points if "`" in description and "or" not in description] == [
        "`<` → `<=`",
        "`>=` → `>`",
    ]
    changed = mutation._Points(apply=[d for _, d, _ in points.points].index("`<` → `<=`"))
    assert "always(size, '<=', 3)" in ast.unparse(changed.visit(ast.parse(source)))
