"""The ``archcalc run`` command: options in, RunResult out, rendered; exit status 1 when a
check fails (2, through ``friendly``, for user errors such as no torch or no CUDA)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from archcalc.torch_backend import RunError
from archcalc.torch_backend.devices import DTYPES
from archcalc.training import DEFAULT_OPTIMIZER, OPTIMIZERS

#: a timed run expected to last longer than this (seconds) shows a progress bar on stderr
PROGRESS_AFTER_S = 2.0


def make_command(friendly):
    @click.command("run")
    @click.argument("spec", type=click.Path(dir_okay=False))
    @click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
    @click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
    @click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True)
    @click.option("--input", "input_shape", metavar="C,H,W", help="Override the spec's input, e.g. 3,224,224.")
    @click.option("--channels-last", is_flag=True, help="Run in channels-last (NHWC) memory format.")
    @click.option("--compile", "compile_", is_flag=True, help="Time torch.compile(model) (compiled during warm-up).")
    @click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True, help="Untimed calls first.")
    @click.option("--iters", type=click.IntRange(min=1), help="Timed calls [default: enough for 1 s, at least 10].")
    @click.option("--per-layer", is_flag=True, help="Each layer's time beside its predicted share of macs.")
    @click.option(
        "--threads",
        type=click.IntRange(1, os.cpu_count() or 1),
        help="CPU threads for torch, up to this machine's count [default: torch's choice].",
    )
    @click.option("--training", is_flag=True, help="Check the training predictions on one step, then time whole training steps.")
    @click.option(
        "--optimizer",
        type=click.Choice(list(OPTIMIZERS)),
        default=DEFAULT_OPTIMIZER,
        show_default=True,
        help="The optimizer of --training.",
    )
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @click.option("--save", type=click.Path(dir_okay=False), help="Write the result as JSON (for `archcalc report --timings`).")
    @friendly
    def run(
        spec, device, batch, dtype, input_shape, channels_last, compile_, warmup, iters, per_layer, threads, training, optimizer, fmt, save
    ):
        """Build SPEC in PyTorch, check every static number on it, and time it.

        \b
        Examples:
          archcalc run lenet5                              CPU, float32, batch 1
          archcalc run resnet50 --device cuda --dtype bfloat16 --compile
          archcalc run alexnet --format json --save t.json   then: archcalc report alexnet --timings t.json
        """
        from archcalc.torch_backend import render, runner

        options = runner.Options(
            device, batch, dtype, input_shape, channels_last, compile_, warmup, iters, per_layer=per_layer, threads=threads,
            training=training, optimizer=optimizer,
        )  # fmt: skip
        with _Progress() as progress:
            result = runner.run(spec, options, on_start=progress.start, on_step=progress.step)
        click.echo(render.to_json_text(result) if fmt == "json" else render.text(result))
        if save:
            try:
                Path(save).write_text(render.to_json_text(result) + "\n")
            except OSError as error:
                raise RunError(f"--save {save}: cannot write the result: {error.strerror or error}") from None
        if not result.held:
            for line in render.mismatch_lines(result):
                click.echo(f"archcalc: {line}", err=True)
            sys.exit(1)

    return run


class _Progress:
    """A progress bar on stderr for timed runs expected to be long."""

    def __init__(self):
        self.bar = None

    def start(self, iters: int, per_call_ms: float) -> None:
        if iters * per_call_ms / 1000 > PROGRESS_AFTER_S:
            self.bar = click.progressbar(length=iters, label="timing", file=sys.stderr)
            self.bar.__enter__()

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
