"""The `archcalc` command line. Each command is a thin shell: load, analyse, render.

User errors (ArchcalcError) print one or two lines and exit 2; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import functools
import sys

import click

from archcalc.compare import SORT_KEYS
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
@friendly
def report(spec: str, fmt: str, batch: int, input_shape: str | None, dtype: str):
    """Per-layer shapes, params, macs, connections and receptive fields of SPEC."""
    from archcalc.analysis import analyse_file
    from archcalc.report import render

    analysis = analyse_file(spec, input_shape=input_shape, batch=batch, dtype=dtype)
    click.echo(render(analysis, fmt))


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "csv"]), default="table", show_default=True)
@click.option("--sort", "sort_key", type=click.Choice(list(SORT_KEYS)), help="Order the rows by this column (ascending).")
@click.option("--reverse", is_flag=True, help="Sort in descending order.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Samples per batch (scales macs, activations).")
@click.option("--input", "input_shape", metavar="C,H,W", help="Analyse every spec at this input instead of its own, e.g. 3,224,224.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64", "int8"]), default="float32", show_default=True)
@friendly
def compare(specs: tuple[str, ...], fmt: str, sort_key: str | None, reverse: bool, batch: int, input_shape: str | None, dtype: str):
    """Architectures side by side: params, macs, depth, memory, receptive field, costliest layer."""
    from archcalc.analysis import analyse_file
    from archcalc.compare import render, sort_rows, summarise

    rows = [summarise(analyse_file(spec, input_shape=input_shape, batch=batch, dtype=dtype)) for spec in specs]
    if sort_key:
        rows = sort_rows(rows, sort_key, reverse)
    click.echo(render(rows, fmt))


if __name__ == "__main__":  # pragma: no cover
    main()
