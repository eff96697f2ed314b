"""``archcalc plot``: load the specs, build the figure of the chosen kind, draw it to a file."""

from __future__ import annotations

from pathlib import Path

from archcalc.analysis import Analysis, analyse, analyse_file, load_network
from archcalc.errors import SpecError
from archcalc.growth import growth, parse_fixed, parse_range
from archcalc.plots import compare, draw, layers, size, training
from archcalc.plots.figures import Figure

KINDS = ("layers", "size", "compare", "training")
#: the options only --kind training reads (None: not given)
TRAINING_OPTIONS = ("optimizer", "train_device")
SIZE_QUANTITIES = ("macs", "params", "peak")  # the default panels of --kind size


def plot(specs: tuple[str, ...], output: str, kind: str, options: dict) -> Path:
    """``options``: input_shape, batch, dtype; all_layers (layers); range, fix, quantities (size);
    optimizer, train_device (training)."""
    draw.matplotlib()  # say what to install before any work
    given = [name for name in TRAINING_OPTIONS if options.get(name) is not None]
    if given and kind != "training":
        flags = ", ".join("--" + ("device" if name == "train_device" else name) for name in given)
        raise SpecError(f"{flags}: only --kind training reads it, found --kind {kind}")
    if kind == "compare":
        figure: Figure = compare.figure([_analyse(spec, options, options.get("input_shape")) for spec in specs])
    elif len(specs) != 1:
        raise SpecError(f"--kind {kind} draws one network, found {len(specs)} specs (--kind compare takes several)")
    elif kind == "layers":
        figure = layers.figure(_analyse(specs[0], options, options.get("input_shape")), options.get("all_layers", False))
    elif kind == "training":
        figure = training_figure(specs[0], options)
    else:
        figure = size_figure(specs[0], options)
    return draw.write(figure, output)


def _analyse(spec: str, options: dict, input_shape: str | None) -> Analysis:
    return analyse_file(spec, input_shape=input_shape, batch=options.get("batch", 1), dtype=options.get("dtype", "float32"))


def training_figure(spec: str, options: dict) -> Figure:
    """One training step of the spec (``--optimizer``, ``--device``; Adam on CUDA by default)."""
    from archcalc.training import DEFAULT_OPTIMIZER
    from archcalc.training.memory import analyse_training

    network = load_network(spec, options.get("input_shape"))
    analysis = analyse(network, batch=options.get("batch", 1), dtype=options.get("dtype", "float32"))
    if analysis.symbols:  # before the walk: bars need numbers
        training.need_numbers(analysis)
    step = analyse_training(network, analysis, options.get("optimizer") or DEFAULT_OPTIMIZER, options.get("train_device") or "cuda")
    return training.figure(analysis, step)


def size_figure(spec: str, options: dict) -> Figure:
    """The spec at ``--input`` (default: its own channels, H and W), over ``--range``
    (default: 1 to twice the spec's own height); the spec's own size is marked when square."""
    own = _analyse(spec, options, None)
    symbolic = _analyse(spec, options, options.get("input_shape") or default_input(own))
    native = native_size(own, symbolic) if not options.get("fix") else None
    axis = symbolic.symbols[0] if symbolic.symbols else "H"
    sizes = parse_range(options.get("range") or f"{axis}=1:{2 * (native or 256)}")
    result = growth(symbolic, sizes, list(options.get("quantities") or SIZE_QUANTITIES), parse_fixed(options.get("fix", ())))
    return size.figure(result, native)


def default_input(analysis: Analysis) -> str:
    if len(analysis.input_shape) != 3:
        raise SpecError(f"{analysis.name}: --kind size needs a (C, H, W) input, found {len(analysis.input_shape)} dimension(s)")
    return f"{analysis.input_shape[0]},H,W"


def native_size(own: Analysis, symbolic: Analysis) -> int | None:
    """The spec's own height, when its input is square, numeric and has the same channels."""
    shape = own.input_shape
    if len(shape) == 3 and not own.symbols and shape[1] == shape[2] and symbolic.input_shape[0] == shape[0]:
        return shape[1]
    return None
