"""Fuzzing the command line (issue 10, item 7): mutated bundled specs and claims, random YAML
and random options, run in-process through click's CliRunner.

Properties of every case: exit status 0, 1 or 2 and nothing else; no traceback and no
"internal error"; at most two lines on stderr; each case quick; memory bounded; no file
outside the case's own folder created, changed or removed. Derandomised (the same cases on
every run, so CI is reproducible) and small enough for CI: about half a minute in all.
A failure hypothesis shrinks becomes a regression case in tests/test_hostile_input.py.
"""

from __future__ import annotations

import copy
import os
import resource
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.cli import main
from tests.conftest import ROOT

NETWORKS = ("lenet5", "alexnet", "zfnet", "squeezenet1_1", "resnet18", "googlenet")
SPECS = [ROOT / "specs" / f"{name}.yaml" for name in NETWORKS]
SPECS.append(ROOT / "specs" / "torchvision" / "mobilenet_v2.yaml")  # the language: a (t, c, n, s) table, make_divisible
CLAIMS = [ROOT / "specs" / "claims" / "seed-notes.yaml", ROOT / "specs" / "claims" / "papers.yaml"]
#: at most this many seconds per case (the slowest bundled spec here analyses in well under one)
CASE_SECONDS = 20
#: at most this much growth of the process's peak memory over all the cases
MEMORY_GROWTH_KB = 1_500_000
#: ARCHCALC_FUZZ_EXAMPLES=500 ARCHCALC_FUZZ_RANDOM=1 for a longer hunt by hand; CI runs the fixed 40
FUZZ = settings(
    max_examples=int(os.environ.get("ARCHCALC_FUZZ_EXAMPLES", "40")),
    derandomize=not os.environ.get("ARCHCALC_FUZZ_RANDOM"),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)

SPECIAL = st.sampled_from(
    [0, -1, 1, 2**64, 10**400, True, False, None, "", "x", "nan", ".inf", 1e308, -0.0, 0.5, "1e309", "2**64", "c*", "__import__('os')",
     [], {}, [1, 2, 3, 4], {"a": 1}, "🙂", "a" * 300]
)  # fmt: skip
SCALARS = st.one_of(SPECIAL, st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), st.booleans())


def load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _places(data, path=()):
    """Every (path, value) of a document: the mutation sites."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _places(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _places(value, (*path, index))


def _parent(data, path):
    for part in path[:-1]:
        data = data[part]
    return data


def mutate(data, draw) -> object:
    """One mutation at a drawn place: delete, duplicate, retype, rename, nest or replace."""
    data = copy.deepcopy(data)
    places = [path for path, _ in _places(data) if path]
    if not places:
        return draw(SCALARS)
    path = draw(st.sampled_from(places))
    parent, last = _parent(data, path), path[-1]
    kind = draw(st.sampled_from(["delete", "duplicate", "retype", "rename", "nest", "wrap"]))
    if kind == "delete":
        del parent[last]
    elif kind == "duplicate" and isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
    elif kind == "rename" and isinstance(parent, dict):
        key = str(last)
        new = draw(st.sampled_from([key[:-1], key + "s", key[1:] + key[:1], key.upper(), key + "_", "kind", "from", "for", "if"]))
        parent[new or "x"] = parent.pop(last)
    elif kind == "nest":
        parent[last] = [[parent[last]]] * draw(st.integers(1, 3))
    elif kind == "wrap":
        parent[last] = {draw(st.sampled_from(["conv", "relu", "add", "concat", "x"])): parent[last]}
    else:
        parent[last] = draw(SCALARS)
    return data


def as_text(data, draw) -> str:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    lines = text.splitlines()
    if lines and draw(st.integers(0, 3)) == 3:  # (rarely) a line written twice: a duplicate key, or an extra list item
        index = draw(st.integers(0, len(lines) - 1))
        lines.insert(index, lines[index])
    return "\n".join(lines) + "\n"


def options(draw, command: str) -> list[str]:
    chosen = []
    if command in ("report", "compare", "explain") and draw(st.booleans()):
        chosen += ["--batch", draw(st.sampled_from(["1", "2", "N", "32", "1", "0", "-3", "x y", "99999999999999999999"]))]
    if command in ("report", "compare", "explain", "diagram") and draw(st.booleans()):
        sizes = ["3,224,224", "3,H,W", "3,S,S", "3,64,64", "1,1,1", "3,0,4", "3,8", "", "3,1e9,1", "a-b,2,2", "1,100000,1"]
        chosen += ["--input", draw(st.sampled_from(sizes))]
    if command in ("report", "compare") and draw(st.booleans()):
        chosen += ["--format", draw(st.sampled_from(["table", "json", "markdown", "csv", "xml"]))]
    if command in ("report", "compare") and draw(st.booleans()):
        training = [["--training"], ["--optimizer", "adam"], ["--fit", "24GB"], ["--fit", "lots"], ["--checkpoint", "x"]]
        chosen += draw(st.sampled_from(training))
    if draw(st.integers(0, 3)) == 3:  # (rarely) a wrong or odd option
        chosen += draw(st.sampled_from([["--dtype", "float16"], ["--dtype", "int4"], ["--nonsense"], ["-o"], ["--depth", "-1"]]))
    return chosen


def run_case(folder: Path, args: list[str]):
    start = time.perf_counter()
    result = CliRunner().invoke(main, args, catch_exceptions=True)
    elapsed = time.perf_counter() - start
    stderr = result.stderr or ""
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output[-2000:], result.exception)
    assert "Traceback" not in result.output and "internal error" not in result.output, (args, result.output[-3000:])
    assert len(stderr.strip().splitlines()) <= 2, (args, stderr[-2000:])  # an error is one line, or two
    assert elapsed < CASE_SECONDS, (args, elapsed)
    if os.environ.get("ARCHCALC_FUZZ_LOG"):  # by hand: what the cases were and how they ended
        with open(os.environ["ARCHCALC_FUZZ_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{args[0]} {result.exit_code} {elapsed:.2f}s {(result.output.strip().splitlines() or [''])[-1][:200]}\n")
    return result


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    skip = {".git", "__pycache__", ".pytest_cache", ".hypothesis", ".venv", ".ruff_cache"}
    found = {}
    for path in folder.rglob("*"):
        if not set(path.relative_to(folder).parts) & skip and path.is_file():
            info = path.stat()
            found[str(path)] = (info.st_size, info.st_mtime_ns)
    return found


@pytest.fixture
def untouched(tmp_path, monkeypatch):
    """The repository (and the temp folder's own siblings) as they were, and the cases run
    in their own folder; checked after the test. Also the peak-memory growth."""
    monkeypatch.chdir(tmp_path)
    before, siblings = snapshot(ROOT), sorted(p.name for p in tmp_path.parent.iterdir())
    memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield tmp_path
    assert snapshot(ROOT) == before, "a fuzz case changed a file of the repository"
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == siblings
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory < MEMORY_GROWTH_KB


def _case_folder(root: Path) -> Path:
    folder = root / f"case{len(list(root.iterdir()))}"
    folder.mkdir()
    return folder


def _spec_text(draw) -> str:
    source = draw(st.sampled_from(SPECS))
    data = load(source)
    if isinstance(data, dict) and isinstance(data.get("extends"), str):
        data["extends"] = str((source.parent / data["extends"]).resolve())
    for _ in range(draw(st.integers(0, 2))):  # none: the bundled spec itself, with random options
        data = mutate(data, draw)
    return as_text(data, draw)


@FUZZ
@given(st.data())
def test_mutated_specs_and_random_options(untouched, data):
    folder = _case_folder(untouched)
    spec = folder / "net.yaml"
    spec.write_text(_spec_text(data.draw), encoding="utf-8")
    command = data.draw(st.sampled_from(["report", "report", "compare", "explain", "diagram"]))
    args = [command, str(spec)]
    if command == "explain":
        args.append(data.draw(st.sampled_from(["conv1", "fc", "1", "nope", "layer1.0.conv1", "features.0"])))
    if command == "diagram":
        args += ["-o", str(folder / data.draw(st.sampled_from(["d.dot", "d.txt", "sub/d.dot"])))]
    run_case(folder, args + options(data.draw, command))


@FUZZ
@given(st.data())
def test_mutated_claims(untouched, data):
    folder = _case_folder(untouched)
    claims = load(data.draw(st.sampled_from(CLAIMS)))
    chosen = data.draw(st.lists(st.integers(0, len(claims["claims"]) - 1), min_size=1, max_size=2, unique=True))
    claims["claims"] = [claims["claims"][index] for index in chosen]  # a few claims: each analyses its networks
    for item in _places(claims):
        path, value = item
        if path and path[-1] == "spec" and isinstance(value, str):
            _parent(claims, path)[path[-1]] = str(ROOT / value)  # bundled specs by absolute path, from the case folder
    for _ in range(data.draw(st.integers(1, 3))):
        claims = mutate(claims, data.draw)
    path = folder / "claims.yaml"
    path.write_text(as_text(claims, data.draw), encoding="utf-8")
    run_case(folder, ["verify", str(path), *data.draw(st.sampled_from([[], ["--format", "json"], ["--format", "markdown"]]))])


TOKENS = list("abc:-[]{}&*!|>'\"#,? \n\t0123456789.%@`") + ["<<", "!!", "---", "...", "&a ", "*a"]
YAMLISH = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


@FUZZ
@given(text=st.one_of(YAMLISH, st.text(max_size=80), st.binary(max_size=80).map(lambda b: b.decode("latin-1"))))
def test_random_yaml(untouched, text):
    folder = _case_folder(untouched)
    spec = folder / "net.yaml"
    spec.write_text("name: t\ninput: [3, 8, 8]\nlayers:\n" + text if len(text) % 2 else text, encoding="utf-8")
    run_case(folder, ["report", str(spec)])
    run_case(folder, ["verify", str(spec)])
