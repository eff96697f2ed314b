"""The options several commands share, declared once: the analysis' (--input, --batch,
--dtype), the text tables' (--exact) and a training step's (--training and its settings).

Each is a decorator; a command stacks the ones it takes, so the same option reads, checks and
helps alike everywhere.
"""

from __future__ import annotations

import click

from archcalc.training import DEFAULT_OPTIMIZER, DEVICES, OPTIMIZERS

DTYPES = ["float32", "float16", "bfloat16", "float64", "int8"]
INPUT_HELP = "Override the spec's input, e.g. 3,224,224 or 3,H,W."
#: Python converts no longer decimal string to an int (sys.get_int_max_str_digits)
MAX_DIGITS = 4300
BATCH_HELP = "Samples per batch (multiplies macs, flops, activations)"


class _Batch(click.ParamType):
    """A positive integer, or a name (``N``) that makes every count a formula in the batch."""

    name = "N"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.isdigit() and len(text) > MAX_DIGITS:
            self.fail(f"expected a positive integer, found one of {len(text):,} digits (at most {MAX_DIGITS:,})", param, ctx)
        if text.isdigit() and int(text) >= 1:
            return int(text)
        if text.isidentifier() and text.isascii():
            from archcalc.expressions import symbol

            return symbol(text)
        self.fail(f"expected a positive integer or a name such as N, found {value!r}", param, ctx)


BATCH = _Batch()


def _stack(command, options):
    for option in reversed(options):
        command = option(command)
    return command


def analysis_options(command=None, *, symbolic_batch: bool = True, input_help: str | None = None):
    """--input, --batch and --dtype. ``symbolic_batch``: the batch may be a name (N) as well as
    a number (the drawings need a number)."""

    def decorate(command):
        if symbolic_batch:
            batch_type, batch_help = BATCH, f"{BATCH_HELP}; a name such as N makes each count a formula in it."
        else:
            batch_type, batch_help = click.IntRange(min=1), f"{BATCH_HELP}."
        options = [
            click.option("--input", "input_shape", metavar="C,H,W", help=input_help or INPUT_HELP),
            click.option("--batch", type=batch_type, default=1, show_default=True, help=batch_help),
            click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True, help="Element type, for bytes."),
        ]
        return _stack(command, options)

    return decorate(command) if command is not None else decorate


def exact_option(command):
    """--exact: every digit in the table (the default writes 61.0 M, 4.09 G, 97.5 MiB)."""
    return click.option(
        "--exact", is_flag=True, help="Every digit in the table and Markdown (default: 61.0 M, 97.5 MiB; JSON and CSV are always exact)."
    )(command)


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
    return _stack(command, options)


def training_settings(training, optimizer, train_device, fit, checkpoint) -> dict | None:
    """analyse_training's settings when a training step is asked for (any training option asks), else None."""
    if not (training or optimizer or fit or checkpoint):
        return None
    blocks = [name.strip() for item in checkpoint for name in item.split(",") if name.strip()]
    return {"optimizer": optimizer or DEFAULT_OPTIMIZER, "device": train_device, "checkpoint": blocks, "fit": fit}


def training_of(network, analysis, **options):
    settings = training_settings(**options)
    if settings is None:
        return None
    from archcalc.training.memory import analyse_training

    return analyse_training(network, analysis, **settings)
