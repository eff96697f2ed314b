"""One ``archcalc run``: build the spec's graph in PyTorch, check it, time it.

The result is plain data; ``torch_backend.render`` formats it and nothing there measures.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from archcalc.analysis import Analysis, analyse, load_network
from archcalc.torch_backend import RunError, require_torch
from archcalc.torch_backend.build import Built, build
from archcalc.torch_backend.checks import Check, failed, run_checks
from archcalc.torch_backend.devices import Device, parse_device, peak_tflops, torch_dtype
from archcalc.torch_backend.timing import Timing, measure, per_layer
from archcalc.training.memory import Training

#: at most this many passes for the per-layer breakdown (each pass runs every hook)
PER_LAYER_ITERS = 50


@dataclass(frozen=True)
class Options:
    device: str = "cpu"
    batch: int = 1
    dtype: str = "float32"
    input_shape: str | None = None
    channels_last: bool = False
    compile: bool = False
    warmup: int = 10
    iters: int | None = None  # None: as many as fill min_time
    min_time: float = 1.0
    per_layer: bool = False
    seed: int = 0
    threads: int | None = None  # CPU threads (torch.set_num_threads); None: torch's default
    training: bool = False  # time a training step (forward, backward, optimizer step) instead of inference
    optimizer: str = "adam"


@dataclass
class RunResult:
    spec: str
    analysis: Analysis
    device: Device
    options: Options
    checks: list[Check]
    timing: Timing | None = None  # None when a check failed: the timing of a wrong model means nothing
    layer_ms: dict[str, float] = field(default_factory=dict)
    threads: int = 0  # the CPU threads torch used
    torch_version: str = ""
    training: Training | None = None  # with --training: the static step the checks compared against
    max_memory_allocated: int | None = None  # with --training on CUDA: torch.cuda.max_memory_allocated over one step

    @property
    def held(self) -> bool:
        return not failed(self.checks)

    @property
    def macs(self) -> int:
        """What one timed call computes: training-only branches do not run in eval; a training
        step runs every layer forward and backward."""
        if self.training is not None:
            return self.training.step_macs
        return self.analysis.inference_totals.macs

    @property
    def throughput(self) -> float | None:
        return None if self.timing is None else self.analysis.batch * 1000 / self.timing.median

    @property
    def tflops(self) -> float | None:
        return None if self.timing is None else 2 * self.macs / (self.timing.median / 1000) / 1e12

    @property
    def peak_tflops(self) -> float | None:
        return peak_tflops(self.device, self.options.dtype)

    @property
    def peak_fraction(self) -> float | None:
        peak = self.peak_tflops
        return None if peak is None or self.tflops is None else self.tflops / peak

    def per_layer_rows(self) -> list[dict]:
        """Each timed layer: its median ms and share of the layers' summed time, beside its
        static macs and their share of the network's."""
        total_ms = sum(self.layer_ms.values())
        return [
            {
                "name": s.name,
                "op": s.kind,
                "ms": self.layer_ms[s.name],
                "time_share": self.layer_ms[s.name] / total_ms if total_ms else None,
                "macs": s.macs,
                "macs_share": s.macs / self.macs if self.macs else None,
            }
            for s in self.analysis.layers
            if s.name in self.layer_ms
        ]


def run(spec: str, options: Options, on_start: Callable | None = None, on_step: Callable | None = None) -> RunResult:
    torch = require_torch()
    device = parse_device(options.device)
    dtype = torch_dtype(options.dtype)
    network = load_network(spec, options.input_shape)
    analysis = analyse(network, batch=options.batch, dtype=options.dtype)
    torch.manual_seed(options.seed)
    previous_threads = torch.get_num_threads()
    if options.threads:
        torch.set_num_threads(options.threads)
    try:
        return _checked_and_timed(spec, network, analysis, options, device, dtype, on_start, on_step)
    finally:
        torch.set_num_threads(previous_threads)  # the caller's setting, whatever happened (tests run in-process)


def _checked_and_timed(spec, network, analysis, options, device, dtype, on_start, on_step) -> RunResult:
    torch = require_torch()
    step = _training_model(network, analysis, options, device) if options.training else None
    built = build(
        network, analysis, None if step is None else {layer.name: layer.inplace for layer in step.layers if layer.inplace is not None}
    )
    example = _prepare(built, network.input_shape, options, device, dtype)
    result = RunResult(spec, analysis, device, options, run_checks(built, analysis, example), threads=torch.get_num_threads())
    result.torch_version = torch.__version__
    result.training = step
    if step is not None and result.held:
        from archcalc.torch_backend import training

        with _cannot_run("the training step", options, device):
            result.checks += training.training_checks(analysis, step, training.observe(built, example, options.optimizer))
    if not result.held:
        return result
    if device.is_cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels in warm-up
    if step is not None:
        return _timed_training(result, built, example, options, device, on_start, on_step)
    model = torch.compile(built.inference) if options.compile else built.inference
    with torch.no_grad(), _cannot_run("timing", options, device):
        result.timing = measure(lambda: model(example), device, options.warmup, options.iters, options.min_time, on_start, on_step)
        if options.per_layer:
            # hooks need the eager module (a compiled one fuses layers away)
            layers = {s.name: built.modules[s.name] for s in analysis.layers if not s.training_only}
            iters = min(len(result.timing.samples_ms), PER_LAYER_ITERS)
            result.layer_ms = per_layer(layers, lambda: built.inference(example), device, iters)
    return result


def _training_model(network, analysis, options: Options, device: Device) -> Training:
    from archcalc.training.memory import analyse_training

    if options.per_layer:
        raise RunError("--per-layer times the inference pass layer by layer; leave it out with --training")
    return analyse_training(network, analysis, options.optimizer, "cuda" if device.is_cuda else "cpu")


def _timed_training(result: RunResult, built: Built, example, options: Options, device: Device, on_start, on_step) -> RunResult:
    """Time whole training steps (zero the gradients, forward, backward, optimizer step), then, on
    CUDA, one more step's torch.cuda.max_memory_allocated."""
    torch = require_torch()
    from archcalc.torch_backend import training

    model = built.full.train()
    optimizer = training.make_optimizer(options.optimizer, model.parameters())
    forward = torch.compile(model) if options.compile else model

    def step():
        optimizer.zero_grad(set_to_none=True)
        training.loss_of(forward(example)).backward()
        optimizer.step()

    with _cannot_run("the training step", options, device):
        result.timing = measure(step, device, options.warmup, options.iters, options.min_time, on_start, on_step)
        result.max_memory_allocated = training.measured_peak(step, device)
    return result


@contextmanager
def _cannot_run(what: str, options: Options, device: Device):
    """PyTorch's own failures (out of memory above all) as a one-line RunError, as checks._observe does."""
    try:
        yield
    except (RuntimeError, MemoryError) as error:
        line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise RunError(f"{what}: PyTorch cannot run it as asked (batch {options.batch}, {options.dtype}, {device.spec}): {line}") from None


def _prepare(built: Built, shape: tuple, options: Options, device: Device, dtype):
    """Move the modules (shared by both graphs) and make the example batch."""
    torch = require_torch()
    with _cannot_run("the model and its input batch", options, device):
        built.full.to(device=device.spec, dtype=dtype)
        example = torch.randn(options.batch, *shape, device=device.spec, dtype=dtype)
        if options.channels_last:
            built.full.to(memory_format=torch.channels_last)
            if example.dim() == 4:
                example = example.contiguous(memory_format=torch.channels_last)
    return example
