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
from archcalc.training import DEFAULT_OPTIMIZER, DEVICES, OPTIMIZERS


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


class _Group(click.Group):
    """Usage mistakes (a bad option value, a missing argument) in one line, as every other
    error is, instead of click's four-line usage block."""

    def main(self, *args, **kwargs):
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.NoArgsIsHelpError as error:  # bare `archcalc`: the help itself
            error.show()
            sys.exit(error.exit_code)
        except click.UsageError as error:
            command = error.ctx.command_path if error.ctx else "archcalc"
            click.echo(f"archcalc: error: {error.format_message()} (see `{command} --help`)", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)


class _Batch(click.ParamType):
    """A positive integer, or a name (``N``) that makes every count a formula in the batch."""

    name = "N"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.isdigit() and int(text) >= 1:
            return int(text)
        if text.isidentifier() and text.isascii():
            from archcalc.expressions import symbol

            return symbol(text)
        self.fail(f"expected a positive integer or a name such as N, found {value!r}", param, ctx)


BATCH = _Batch()


def training_options(command):
    """--training and its settings (report, compare, explain); any setting implies --training."""
    options = [
        click.option(
            "--training", is_flag=True, help="Add one training step: saved bytes, backward macs, gradients, optimizer state, peak."
        ),
        click.option("--optimizer", type=click.Choice(list(OPTIMIZERS)), help=f"Optimizer state to count [default: {DEFAULT_OPTIMIZER}]."),
        click.option(
            "--device",
            "train_device",
            type=click.Choice(DEVICES),
            default="cuda",
            show_default=True,
            help="Whose autograd to model for --training (dropout keeps a bool mask on CUDA, a --dtype one on the CPU).",
        ),
        click.option("--fit", metavar="SIZE", help="The largest batch whose training peak fits in SIZE, e.g. 80GiB or 24GB."),
        click.option(
            "--checkpoint",
            multiple=True,
            metavar="BLOCK",
            help="Checkpoint BLOCK's activations (an instance, a repeated block or a block kind; repeatable, or comma-separated).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _training_settings(training, optimizer, train_device, fit, checkpoint) -> dict | None:
    """analyse_training's settings when a training step is asked for (any training option asks), else None."""
    if not (training or optimizer or fit or checkpoint):
        return None
    blocks = [name.strip() for item in checkpoint for name in item.split(",") if name.strip()]
    return {"optimizer": optimizer or DEFAULT_OPTIMIZER, "device": train_device, "checkpoint": blocks, "fit": fit}


def _training_of(network, analysis, **options):
    settings = _training_settings(**options)
    if settings is None:
        return None
    from archcalc.training.memory import analyse_training

    return analyse_training(network, analysis, **settings)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archcalc")
def main():
    """Static analysis and cost calculator for neural-network architectures."""


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "csv", "html"]), default="table", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the report to this file instead of printing it (html: one self-contained page).",
)
@click.option(
    "--batch",
    type=BATCH,
    default=1,
    show_default=True,
    help="Samples per batch (multiplies macs, flops, activations); a name such as N makes each count a formula in it.",
)
@click.option("--input", "input_shape", metavar="C,H,W", help="Override the spec's input, e.g. 3,224,224 or 3,H,W.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64", "int8"]), default="float32", show_default=True)
@click.option("--timings", type=click.Path(dir_okay=False), help="Add a measured-time column from `archcalc run --save` output.")
@training_options
@friendly
def report(spec: str, fmt: str, output: str | None, batch, input_shape: str | None, dtype: str, timings: str | None, **train):
    """Per-layer shapes, params, macs, connections and receptive fields of SPEC."""
    from archcalc.analysis import analyse, load_network
    from archcalc.report import render
    from archcalc.timings import load_timings

    network = load_network(spec, input_shape)
    analysis = analyse(network, batch=batch, dtype=dtype)
    measured = load_timings(timings) if timings else None
    training = _training_of(network, analysis, **train)
    if fmt == "html":
        from archcalc.html_report.build import report_page

        text = report_page(spec, analysis, measured, training)
    else:
        text = render(analysis, fmt, measured, training)
    if output is None:
        click.echo(text)
        return
    from archcalc.html_report.build import write_text

    click.echo(f"wrote {write_text(output, text)}")


# `archcalc run` lives in the torch backend (imported lazily there: torch is an optional extra)
from archcalc.torch_backend.command import make_command  # noqa: E402

main.add_command(make_command(friendly))


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The file to write: .svg, .png, .pdf or .dot.")
@click.option("--depth", type=click.IntRange(min=0), help="Open N levels of blocks/branches; deeper ones are one node (repeats ×n).")
@click.option(
    "--color",
    type=click.Choice(["macs", "params", "memory", "saved"]),
    help="Shade nodes by this cost, with a legend (saved: bytes kept for the backward pass of a training step).",
)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Samples per batch (multiplies macs and memory).")
@click.option("--input", "input_shape", metavar="C,H,W", help="Override the spec's input, e.g. 3,224,224 or 3,H,W.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64", "int8"]), default="float32", show_default=True)
@click.option("--timings", type=click.Path(dir_okay=False), help="Show each node's measured time from `archcalc run --save` output.")
@friendly
def diagram(
    spec: str, output: str, depth: int | None, color: str | None, batch: int, input_shape: str | None, dtype: str, timings: str | None
):
    """Draw SPEC with Graphviz: layers, the shapes on the edges, blocks as clusters."""
    from archcalc.analysis import analyse, load_network
    from archcalc.diagram import dot_source
    from archcalc.drawing import render
    from archcalc.timings import load_timings

    network = load_network(spec, input_shape)
    analysis = analyse(network, batch=batch, dtype=dtype)
    training = _training_of(network, analysis, training=color == "saved", optimizer=None, train_device="cuda", fit=None, checkpoint=())
    path, note = render(dot_source(analysis, depth, color, load_timings(timings) if timings else None, training), output)
    click.echo(f"wrote {path}" + (f" ({note})" if note else ""))


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The file to write: .svg, .png or .pdf.")
@click.option("--kind", type=click.Choice(["layers", "size", "compare", "training"]), default="layers", show_default=True,
              help="layers: per-layer bars; size: cost against input size; compare: several networks, MACs against params; "
                   "training: the memory of a training step by kind.")  # fmt: skip
@click.option("--input", "input_shape", metavar="C,H,W", help="Override the spec's input; for --kind size names such as 3,H,W.")
@click.option(
    "--range", "size_range", metavar="NAME=START:STOP[:STEP]", help="--kind size: the sizes on the x-axis (default NAME=1:2×own)."
)
@click.option(
    "--fix", multiple=True, metavar="NAME=SIZE", help="--kind size: hold another input name at a size (default: it follows the range)."
)
@click.option("--quantity", "quantities", multiple=True, type=click.Choice(["macs", "params", "flops", "peak", "activations"]),
              help="--kind size: one panel each (repeatable); default macs, params, peak.")  # fmt: skip
@click.option("--all-layers", is_flag=True, help="--kind layers: draw pointwise layers (relu, bn, concat …) too.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Samples per batch (multiplies macs and memory).")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64", "int8"]), default="float32", show_default=True)
@click.option(
    "--optimizer", type=click.Choice(list(OPTIMIZERS)), help=f"--kind training: optimizer state to count [default: {DEFAULT_OPTIMIZER}]."
)
@click.option("--device", "train_device", type=click.Choice(DEVICES), help="--kind training: whose autograd to model [default: cuda].")
@friendly
def plot(specs: tuple[str, ...], output: str, kind: str, **options):
    """Draw where the cost of SPEC is, how it grows with the input size, several SPECs compared, or a training step's memory."""
    from archcalc.plots.command import plot as draw_plot

    options["range"] = options.pop("size_range")
    path = draw_plot(specs, output, kind, options)
    click.echo(f"wrote {path}")


@main.command()
@click.option("--specs", "specs_dir", default="specs", show_default=True, type=click.Path(file_okay=False, exists=True))
@click.option("--out", "out_dir", default="reports", show_default=True, type=click.Path(file_okay=False))
@click.option("--check", is_flag=True, help="Write nothing; list what is stale and exit 1 if anything is.")
@friendly
def gallery(specs_dir: str, out_dir: str, check: bool):
    """Rebuild reports/: every spec's Markdown report and diagram, and an index comparing them."""
    from pathlib import Path

    from archcalc.gallery import build_gallery, stale

    if check:
        problems = stale(Path(specs_dir), Path(out_dir))
        for line in problems:
            click.echo(line)
        if problems:
            click.echo(f"archcalc: {out_dir} is stale; rebuild it with `make reports` (archcalc gallery)", err=True)
            sys.exit(1)
        click.echo(f"{out_dir} is current")
        return
    written = build_gallery(Path(specs_dir), Path(out_dir))
    click.echo(f"wrote {len(written)} files to {out_dir}")


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "csv"]), default="table", show_default=True)
@click.option("--sort", "sort_key", type=click.Choice(list(SORT_KEYS)), help="Order the rows by this column (ascending).")
@click.option("--reverse", is_flag=True, help="Sort in descending order.")
@click.option(
    "--batch", type=BATCH, default=1, show_default=True, help="Samples per batch (scales macs, activations); a name makes formulas."
)
@click.option("--input", "input_shape", metavar="C,H,W", help="Analyse every spec at this input instead of its own, e.g. 3,224,224.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64", "int8"]), default="float32", show_default=True)
@training_options
@friendly
def compare(specs: tuple[str, ...], fmt: str, sort_key: str | None, reverse: bool, batch, input_shape: str | None, dtype: str, **train):
    """Architectures side by side: params, macs, depth, memory, receptive field, costliest layer."""
    from archcalc.analysis import analyse, load_network
    from archcalc.compare import render, sort_rows, summarise

    rows = []
    for spec in specs:
        network = load_network(spec, input_shape)
        analysis = analyse(network, batch=batch, dtype=dtype)
        rows.append(summarise(analysis, _training_of(network, analysis, **train)))
    if sort_key:
        rows = sort_rows(rows, sort_key, reverse)
    click.echo(render(rows, fmt))


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.argument("layer")
@click.option(
    "--quantity",
    "quantities",
    multiple=True,
    type=click.Choice(["shape", "params", "buffers", "macs", "connections", "rf"]),
    help="Only these quantities (repeatable); default all.",
)
@click.option("--input", "input_shape", metavar="C,H,W", help="Override the spec's input, e.g. 3,H,W for formulas.")
@click.option("--batch", type=BATCH, default=1, show_default=True, help="Samples per batch; a name such as N gives formulas in it.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64", "int8"]), default="float32", show_default=True)
@training_options
@friendly
def explain(spec: str, layer: str, quantities: tuple[str, ...], input_shape: str | None, batch, dtype: str, **train):
    """Show how each number of LAYER in SPEC is derived: formula, values, result."""
    from archcalc.derivation import QUANTITIES
    from archcalc.explain import explain_layer

    settings = _training_settings(**train)
    click.echo(explain_layer(spec, layer, quantities or QUANTITIES, input_shape, settings, batch, dtype))


@main.command()
@click.argument("claims", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--write-readme", type=click.Path(dir_okay=False), help="Replace the verify section of this README with the Markdown.")
@friendly
def verify(claims: str, fmt: str, write_readme: str | None):
    """Check every claim in CLAIMS; exit 0 only when all hold (1 when any is false)."""
    from archcalc.verify import render, verify_file, write_readme_section

    verdicts = verify_file(claims)
    if write_readme:
        write_readme_section(write_readme, verdicts)
    click.echo(render(verdicts, fmt))
    sys.exit(0 if all(v.holds for v in verdicts) else 1)


@main.command(name="import")
@click.argument("model")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="The spec file to write (default: standard output).")
@click.option("--input", "input_shape", metavar="C,H,W", help="The example input to trace [default: the model's own size, else 3,224,224].")
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE", help="A builder argument, e.g. --arg num_classes=10 (repeatable).")
@click.option("--flat", is_flag=True, help="Write one list of layers, no blocks.")
@friendly
def import_(model: str, output: str | None, input_shape: str | None, args: tuple[str, ...], flat: bool):
    """Write an archcalc spec for MODEL: torchvision:NAME, timm:NAME, package.module:callable or a .onnx file."""
    from archcalc.importers import import_model, parse_args, parse_shape

    imported = import_model(model, parse_shape(input_shape), parse_args(args), flat=flat)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(imported.text)
        click.echo(f"{output}: {len(imported.graph.layers)} layers from {model}", err=True)
    else:
        click.echo(imported.text, nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
