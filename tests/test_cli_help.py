"""`archcalc --help` and each command's: whole summaries, examples, where the bundled specs are."""

from __future__ import annotations

import shlex

import pytest

from archcalc.cli import main
from archcalc.locate import zoo_root

COMMANDS = sorted(main.commands)


def test_the_command_list_cuts_no_summary(cli):
    out = cli("--help").output
    assert "..." not in out.split("Commands:")[1]
    for name in COMMANDS:  # every summary is its command's whole first sentence
        first = main.commands[name].help.split("\n")[0]
        assert " ".join(first.split()) in " ".join(out.split()), name
    flat = " ".join(out.split())
    assert "`archcalc list`" in flat and str(zoo_root()) in flat


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_shows_examples_that_parse(cli, name):
    out = cli(name, "--help").output
    assert "Examples:" in out
    examples = [line.strip() for line in out.split("Examples:")[1].split("\n\n")[0].splitlines() if line.strip()]
    assert len(examples) >= 2, name
    for line in examples:
        words = shlex.split(line.split("   ")[0])  # the command, before its aligned description
        assert words[:2] == ["archcalc", name]
        command = main.commands[name]
        with command.make_context(name, words[2:], resilient_parsing=False) as ctx:  # options and arguments parse
            assert ctx.params is not None
