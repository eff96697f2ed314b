"""Every shell example in README.md runs as printed, in a fresh temporary copy of the repository.

Each ```sh block is run line by line (in order, in one copy: a later line may read what an
earlier one wrote) and each line must exit 0, or the status its comment states ("exits 1").
A ```console block's ``$ command`` must print exactly the lines under it. ``archcalc`` (and
``.venv/bin/archcalc``) runs this checkout's code, copied, through a two-line shim.

Two lines are not run here, and say why: the set-up half of ``bash scripts/setup && X`` (it
makes a virtual environment; CI runs it, as ``.ci/run``, which
``test_ci_runs_the_readme_test_command`` holds to the README) — X itself is run — and the test
command, which is this suite. Examples that need an optional program (PyTorch, matplotlib,
Graphviz's dot, a GPU) are skipped, saying which, only where it is missing; CI has all but the GPU.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
FENCE = re.compile(r"^```(sh|console)\n(.*?)^```", re.M | re.S)
COMMENT = re.compile(r"\s+#\s.*$")
SETUP = "bash scripts/setup && "
TEST_COMMAND = "bash scripts/setup --test && .venv/bin/python -m pytest"
COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "build", "*.egg-info")


@dataclass(frozen=True)
class Example:
    command: str
    status: int = 0
    output: str | None = None  # a console block's expected output
    needs_gpu: bool = False


def _section(text: str, position: int) -> str:
    headings = re.findall(r"^##+ (.+)$", text[:position], re.M)
    return re.sub(r"\W+", "-", headings[-1]).strip("-").lower() if headings else "top"


def blocks() -> list[tuple[str, list[Example]]]:
    text = README.read_text(encoding="utf-8")
    found, seen = [], {}
    for match in FENCE.finditer(text):
        kind, body = match.groups()
        examples = _console(body) if kind == "console" else _shell(body)
        if examples:
            section = _section(text, match.start())
            seen[section] = seen.get(section, 0) + 1
            found.append((f"{section}-{seen[section]}", examples))
    return found


def _shell(body: str) -> list[Example]:
    examples = []
    for line in body.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        comment = line[COMMENT.search(line).start() :] if COMMENT.search(line) else ""
        command = COMMENT.sub("", line).strip()
        if command == TEST_COMMAND:
            continue  # the test suite itself; CI runs it (.ci/run)
        status = re.search(r"\bexits (\d+)", comment)
        examples.append(Example(command.removeprefix(SETUP), int(status.group(1)) if status else 0, None, "needs a GPU" in comment))
    return examples


def _console(body: str) -> list[Example]:
    examples, lines = [], body.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("$ "):
            rest = lines[index + 1 :]
            end = next((i for i, later in enumerate(rest) if later.startswith("$ ")), len(rest))
            examples.append(Example(line[2:], 0, "\n".join(rest[:end])))
    return examples


def _missing(examples: list[Example]) -> list[str]:
    """The optional programs these examples need that are not installed here."""
    text = "\n".join(e.command for e in examples)
    needs = {
        "PyTorch (pip install -e '.[torch]')": "archcalc run" in text,
        "matplotlib (pip install -e '.[plot]')": "archcalc plot" in text or "--format html" in text,
        "Graphviz's dot": "--format html" in text or bool(re.search(r"archcalc (diagram|gallery)\b.*\.(svg|png|pdf)\b", text)),
    }
    available = {
        "PyTorch (pip install -e '.[torch]')": _importable("torch"),
        "matplotlib (pip install -e '.[plot]')": _importable("matplotlib"),
        "Graphviz's dot": shutil.which("dot") is not None,
    }
    return [name for name, needed in needs.items() if needed and not available[name]]


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _has_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh copy of the repository, and an environment whose `archcalc` runs the copy's code."""
    root = tmp_path_factory.mktemp("readme") / "archcalc"
    shutil.copytree(ROOT, root, ignore=COPY_IGNORE)
    shim = f'#!/bin/sh\nexec "{sys.executable}" -m archcalc "$@"\n'
    for folder in (root / ".venv" / "bin", root.parent / "bin"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "archcalc").write_text(shim)
        (folder / "archcalc").chmod(0o755)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)  # `.venv/bin/python scripts/…` as printed
    env = {**os.environ, "PYTHONPATH": str(root), "PATH": f"{root.parent / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    return root, env


@pytest.mark.parametrize(("name", "examples"), blocks(), ids=[name for name, _ in blocks()])
def test_readme_example_runs_as_printed(checkout, name, examples):
    missing = _missing(examples)
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}, which is not installed here")
    root, env = checkout
    for example in examples:
        if example.needs_gpu and not _has_gpu():
            continue  # the comment says it needs a GPU; the block's other lines still run
        run = subprocess.run(example.command, shell=True, executable="/bin/bash", cwd=root, env=env, capture_output=True, text=True,
                             timeout=600)  # fmt: skip
        assert run.returncode == example.status, f"{example.command}\nexit {run.returncode}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
        if example.output is not None:
            assert run.stdout.rstrip("\n") == example.output, example.command


def test_every_block_is_found():
    names = [name for name, _ in blocks()]
    assert any(name.startswith("top") for name in names) and any(name.startswith("quick-tour") for name in names)
    commands = [e.command for _, examples in blocks() for e in examples]
    assert ".venv/bin/archcalc report specs/alexnet.yaml" in commands  # the set-up line, its second half


def test_ci_runs_the_readme_test_command():
    text = README.read_text(encoding="utf-8")
    assert TEST_COMMAND in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == TEST_COMMAND
