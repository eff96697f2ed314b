"""The `archcalc` command line. Each command is a thin shell: load, analyse, render.

User errors (ArchcalcError) print one or two lines and exit 2; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import functools
import sys

import click

from archcalc.errors import ArchcalcError


def friendly(command):
    """Turn ArchcalcError into a short message and exit status 2, unless --debug."""

    @click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
    @functools.wraps(command)
    def wrapper(*args, debug: bool = False, **kwargs):
        try:
            return command(*args, **kwargs)
        except ArchcalcError as error:
            if debug:
                raise
            click.echo(f"archcalc: error: {error}", err=True)
            sys.exit(2)
        except RecursionError:
            if debug:
                raise
            click.echo("archcalc: error: the spec nests too deeply to analyse", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archcalc")
def main():
    """Static analysis and cost calculator for neural-network architectures."""


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "csv"]), default="table", show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Samples per batch (multiplies macs, flops, activations).")
@click.option("--input", "input_shape", metavar="C,H,W", help="Override the spec's input, e.g. 3,224,224 or 3,H,W.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64", "int8"]), default="float32", show_default=True)
@click.option("--timings", type=click.Path(dir_okay=False), help="Add a measured-time column from `archcalc run --save` output.")
@friendly
def report(spec: str, fmt: str, batch: int, input_shape: str | None, dtype: str, timings: str | None):
    """Per-layer shapes, params, macs, connections and receptive fields of SPEC."""
    from archcalc.analysis import analyse_file
    from archcalc.report import render
    from archcalc.timings import load_timings

    analysis = analyse_file(spec, input_shape=input_shape, batch=batch, dtype=dtype)
    click.echo(render(analysis, fmt, load_timings(timings) if timings else None))


# `archcalc run` lives in the torch backend (imported lazily there: torch is an optional extra)
from archcalc.torch_backend.command import make_command  # noqa: E402

main.add_command(make_command(friendly))


if __name__ == "__main__":  # pragma: no cover
    main()
