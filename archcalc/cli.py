"""The `archcalc` command line. Each command is a thin shell: load, analyse, render.

Every error prints one located line (or two) and exits 2 — user errors and unexpected ones
alike (archcalc.boundary); ``--debug`` prints the traceback first, with the same status.
"""

from __future__ import annotations

import functools
import sys

import click

from archcalc.boundary import guarded
from archcalc.cli_options import DTYPES, analysis_options, exact_option, training_of, training_options, training_settings
from archcalc.compare import SORT_KEYS
from archcalc.training import DEFAULT_OPTIMIZER, DEVICES, OPTIMIZERS


def friendly(command):
    """Every error as one short line and a non-zero exit (archcalc.boundary); --debug adds the traceback."""

    @click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
    @functools.wraps(command)
    def wrapper(*args, debug: bool = False, **kwargs):
        return guarded(lambda: command(*args, **kwargs), debug)

    return wrapper


class _Group(click.Group):
    """Usage mistakes (a bad option value, a missing argument) in one line, as every other
    error is, instead of click's four-line usage block."""

    def main(self, args=None, *rest, **kwargs):
        debug = "--debug" in (sys.argv[1:] if args is None else args)
        return guarded(lambda: self._main(args, *rest, **kwargs), debug)

    def _main(self, *args, **kwargs):
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.NoArgsIsHelpError as error:  # bare `archcalc`: the help itself
            error.show()
            sys.exit(error.exit_code)
        except click.UsageError as error:
            command = error.ctx.command_path if error.ctx else "archcalc"
            from archcalc.wording import clip

            # click quotes the whole bad value: a 5,000-digit --iters would fill the screen
            click.echo(f"archcalc: error: {clip(error.format_message())} (see `{command} --help`)", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)

    def format_commands(self, ctx, formatter):
        """Each command's whole first sentence, wrapped, never cut off with "..."."""
        rows = [(name, command.get_short_help_str(limit=1000)) for name, command in self.commands.items() if not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))

    def format_epilog(self, ctx, formatter):
        from archcalc.locate import zoo_root

        super().format_epilog(ctx, formatter)
        formatter.write_paragraph()
        formatter.write_text(f"SPEC: a YAML file, or a bundled network's name such as resnet50 (`archcalc list`; in {zoo_root()}).")


class _SpecCommand(click.Command):
    """A command reading SPECs: its help ends by saying where the bundled ones are."""

    def format_epilog(self, ctx, formatter):
        from archcalc.locate import zoo_root

        super().format_epilog(ctx, formatter)
        formatter.write_paragraph()
        formatter.write_text(f"SPEC: a YAML file, or a bundled network's name such as resnet50 (`archcalc list`; in {zoo_root()}).")


# the options several commands share (archcalc/cli_options.py)
_training_settings, _training_of = training_settings, training_of


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archcalc")
def main():
    """Static analysis and cost calculator for neural-network architectures.

    \b
    Examples:
      archcalc report alexnet                 every layer of a bundled network: shapes, params, macs, fields
      archcalc report my_net.yaml --depth 1   your own spec, one row per block with its subtotals
      archcalc diagram vgg16 -o vgg16.svg     the same analysis drawn with Graphviz
    """


def _timings(path: str | None):
    """The measured times of ``--timings``; their reader (a pydantic model of its own) is
    imported only when a file is given."""
    if not path:
        return None
    from archcalc.timings import load_timings

    return load_timings(path)


@main.command(cls=_SpecCommand)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "csv", "html"]), default="table", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the report to this file instead of printing it (html: one self-contained page).",
)
@analysis_options
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    metavar="N",
    help="A tree of N levels of blocks, each a row with its subtotals (0: the totals alone); default: every layer.",
)
@exact_option
@click.option("--timings", type=click.Path(dir_okay=False), help="Add a measured-time column from `archcalc run --save` output.")
@training_options
@friendly
def report(
    spec: str, fmt: str, output: str | None, batch, input_shape: str | None, dtype: str, depth, exact: bool, timings: str | None, **train
):
    """Per-layer shapes, params, macs, connections and receptive fields of SPEC.

    \b
    Examples:
      archcalc report alexnet                          the table, numbers as 61.0 M (--exact: every digit)
      archcalc report resnet50 --depth 1               one row per stage, with its subtotals
      archcalc report lenet5 --input 1,H,W --format json   every count as a formula in H and W
    """
    from archcalc.analysis import analyse, load_network
    from archcalc.report import render

    network = load_network(spec, input_shape)
    analysis = analyse(network, batch=batch, dtype=dtype)
    measured = _timings(timings)
    training = _training_of(network, analysis, **train)
    if fmt == "html":
        from archcalc.html_report.build import report_page

        text = report_page(spec, analysis, measured, training)
    else:
        text = render(analysis, fmt, measured, training, exact=exact, depth=depth)
    if output is None:
        click.echo(text)
        return
    from archcalc.html_report.build import write_text

    click.echo(f"wrote {write_text(output, text)}")


# `archcalc run` lives in the torch backend (imported lazily there: torch is an optional extra)
from archcalc.torch_backend.command import make_command  # noqa: E402

main.add_command(make_command(friendly))


@main.command(cls=_SpecCommand)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The file to write: .svg, .png, .pdf or .dot.")
@click.option("--depth", type=click.IntRange(min=0), help="Open N levels of blocks/branches; deeper ones are one node (repeats ×n).")
@click.option(
    "--color",
    type=click.Choice(["macs", "params", "memory", "saved"]),
    help="Shade nodes by this cost, with a legend (saved: bytes kept for the backward pass of a training step).",
)
@analysis_options(symbolic_batch=False)
@click.option("--timings", type=click.Path(dir_okay=False), help="Show each node's measured time from `archcalc run --save` output.")
@friendly
def diagram(
    spec: str, output: str, depth: int | None, color: str | None, batch: int, input_shape: str | None, dtype: str, timings: str | None
):
    """Draw SPEC with Graphviz: layers, the shapes on the edges, blocks as clusters.

    \b
    Examples:
      archcalc diagram alexnet -o alexnet.svg             svg, png, pdf or dot, by the extension
      archcalc diagram resnet152 -o r152.png --depth 1    deeper blocks drawn as one box each
      archcalc diagram vgg16 -o v.svg --color macs        nodes shaded by their macs
    """
    from archcalc.analysis import analyse, load_network
    from archcalc.diagram import dot_source
    from archcalc.drawing import render

    network = load_network(spec, input_shape)
    analysis = analyse(network, batch=batch, dtype=dtype)
    training = _training_of(network, analysis, training=color == "saved", optimizer=None, train_device="cuda", fit=None, checkpoint=())
    path, note = render(dot_source(analysis, depth, color, _timings(timings), training), output)
    click.echo(f"wrote {path}" + (f" ({note})" if note else ""))


@main.command(cls=_SpecCommand)
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
@click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True)
@click.option(
    "--optimizer", type=click.Choice(list(OPTIMIZERS)), help=f"--kind training: optimizer state to count [default: {DEFAULT_OPTIMIZER}]."
)
@click.option("--device", "train_device", type=click.Choice(DEVICES), help="--kind training: whose autograd to model [default: cuda].")
@friendly
def plot(specs: tuple[str, ...], output: str, kind: str, **options):
    """Draw where the cost of SPEC is, how it grows with the input size, several SPECs compared, or a training step's memory.

    \b
    Examples:
      archcalc plot alexnet -o alexnet.svg                              where the cost is, layer by layer
      archcalc plot resnet50 --kind size --range H=32:1024 -o r50.png   the cost against the input size
      archcalc plot alexnet vgg16 resnet50 --kind compare -o zoo.pdf    networks as MACs against params
    """
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
    """Rebuild reports/: every spec's Markdown report and diagram, and an index comparing them.

    \b
    Examples:
      archcalc gallery            rebuild reports/ from specs/ (make reports)
      archcalc gallery --check    write nothing; list what is stale
    """
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


@main.command(cls=_SpecCommand)
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "csv"]), default="table", show_default=True)
@click.option("--sort", "sort_key", type=click.Choice(list(SORT_KEYS)), help="Order the rows by this column (ascending).")
@click.option("--reverse", is_flag=True, help="Sort in descending order.")
@analysis_options(input_help="Analyse every spec at this input instead of its own, e.g. 3,224,224.")
@exact_option
@training_options
@friendly
def compare(
    specs: tuple[str, ...], fmt: str, sort_key: str | None, reverse: bool, batch, input_shape: str | None, dtype: str, exact: bool, **train
):
    """Architectures side by side: params, macs, depth, memory, receptive field, costliest layer.

    \b
    Examples:
      archcalc compare alexnet vgg16 resnet50             one table, one row per network
      archcalc compare specs/resnet*.yaml --sort macs     ascending (--reverse: descending)
      archcalc compare resnet18 resnet50 --format markdown
    """
    from archcalc.analysis import analyse, load_network
    from archcalc.compare import render, sort_rows, summarise

    rows = []
    for spec in specs:
        network = load_network(spec, input_shape)
        analysis = analyse(network, batch=batch, dtype=dtype)
        rows.append(summarise(analysis, _training_of(network, analysis, **train)))
    if sort_key:
        rows = sort_rows(rows, sort_key, reverse)
    click.echo(render(rows, fmt, exact=exact))


@main.command()
@click.argument("which", type=click.Choice(["spec", "claims"]), default="spec")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the schema to this file instead of printing it.")
def schema(which: str, output: str | None):
    """The JSON Schema of specs (or of claims files), generated from archcalc's own models.

    Editors with a YAML extension complete op names and fields with it, and flag mistakes:
    the bundled specs start with `# yaml-language-server: $schema=…` pointing at
    specs/schema/spec.json.

    \b
    Examples:
      archcalc schema                           the spec language's schema
      archcalc schema claims -o claims.json     the claims files', to a file
    """
    from pathlib import Path

    from archcalc.schema import render

    text = render(which)
    if output is None:
        click.echo(text)
        return
    Path(output).write_text(text + "\n", encoding="utf-8")
    click.echo(f"wrote {output}")


@main.command("list")
@click.argument("pattern", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
@exact_option
@friendly
def list_networks(pattern: str | None, fmt: str, exact: bool):
    """Every bundled network, or those matching PATTERN: params, macs, input, source.

    Any name listed works where a SPEC file does (`archcalc report resnet50`).

    \b
    Examples:
      archcalc list                           the whole zoo
      archcalc list 'torchvision/*'           torchvision's variants ('resnet*', '*net*' …)
      archcalc list --format json             machine-readable, exact counts
    """
    from archcalc.catalogue import catalogue, render

    entries = catalogue(pattern)
    click.echo(render(entries, fmt, exact))
    if any("error" in entry for entry in entries):
        sys.exit(1)


@main.command(cls=_SpecCommand)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.argument("layer")
@click.option(
    "--quantity",
    "quantities",
    multiple=True,
    type=click.Choice(["shape", "params", "buffers", "macs", "connections", "rf"]),
    help="Only these quantities (repeatable); default all.",
)
@analysis_options(input_help="Override the spec's input, e.g. 3,H,W for formulas.")
@training_options
@friendly
def explain(spec: str, layer: str, quantities: tuple[str, ...], input_shape: str | None, batch, dtype: str, **train):
    """Show how each number of LAYER in SPEC is derived: formula, values, result.

    \b
    Examples:
      archcalc explain alexnet C1                      every quantity of C1, step by step
      archcalc explain lenet5 C3 --quantity params     one quantity
      archcalc explain resnet18 conv2_x.0              a block: each layer's count, then the sum
    """
    from archcalc.derivation import QUANTITIES
    from archcalc.explain import explain_layer

    settings = _training_settings(**train)
    click.echo(explain_layer(spec, layer, quantities or QUANTITIES, input_shape, settings, batch, dtype))


@main.command()
@click.argument("claims", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--write-readme", type=click.Path(dir_okay=False), help="Replace the verify section of this README with the summary.")
@click.option("--write-page", type=click.Path(dir_okay=False), help="Write the whole table as a Markdown page (reports/claims.md).")
@friendly
def verify(claims: str, fmt: str, write_readme: str | None, write_page: str | None):
    """Check every claim in CLAIMS; exit 0 only when all hold (1 when any is false).

    \b
    Examples:
      archcalc verify specs/claims/papers.yaml                      the papers' headline numbers
      archcalc verify specs/claims/seed-notes.yaml --format json    every verdict, machine-readable
    """
    from archcalc import verify as verifying

    verdicts = verifying.verify_file(claims)
    if write_readme:
        verifying.write_readme_section(write_readme, verdicts)
    if write_page:
        verifying.write_page(write_page, verdicts)
    click.echo(verifying.render(verdicts, fmt))
    sys.exit(0 if all(v.holds for v in verdicts) else 1)


@main.command(name="import")
@click.argument("model")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="The spec file to write (default: standard output).")
@click.option("--input", "input_shape", metavar="C,H,W", help="The example input to trace [default: the model's own size, else 3,224,224].")
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE", help="A builder argument, e.g. --arg num_classes=10 (repeatable).")
@click.option("--flat", is_flag=True, help="Write one list of layers, no blocks.")
@friendly
def import_(model: str, output: str | None, input_shape: str | None, args: tuple[str, ...], flat: bool):
    """Write an archcalc spec for MODEL: torchvision:NAME, timm:NAME, package.module:callable or a .onnx file.

    \b
    Examples:
      archcalc import torchvision:resnet50 -o resnet50.yaml   a torchvision builder (weights=None)
      archcalc import timm:convnext_tiny --input 3,288,288    a timm model, traced at 288×288
      archcalc import model.onnx -o model.yaml                an ONNX file (any command reads a reference too)
    """
    from archcalc.importers import import_model, parse_args, parse_shape

    imported = import_model(model, parse_shape(input_shape), parse_args(args), flat=flat)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(imported.text)
        click.echo(f"{output}: {len(imported.graph.layers)} layers from {model}")
    else:
        click.echo(imported.text, nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
