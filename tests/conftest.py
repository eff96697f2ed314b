from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from archcalc.analysis import analyse_file
from archcalc.cli import main

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("**/*.yaml"))
NETWORK_SPECS = [p for p in SPECS if "claims" not in p.parts]


@pytest.fixture
def write_spec(tmp_path):
    """Write a YAML spec (dedented) to a file and return its path."""

    def write(text: str, name: str = "net.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def analyse_text(write_spec):
    def run(text: str, **kwargs):
        return analyse_file(write_spec(text), **kwargs)

    return run


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


# LeNet-5's multiply-accumulates by hand: C1 28·28·6·25 + C3 10·10·1,500 (Table I's 60 input maps
# × 25) + C5 120·400 + F6 84·120 + the RBF's 10·84, plus one coefficient per subsampling output
# (S2 6·14·14, S4 16·5·5)
LENET_MACS = 28 * 28 * 6 * 25 + 10 * 10 * 1_500 + 120 * 400 + 84 * 120 + 10 * 84 + 6 * 14 * 14 + 16 * 5 * 5
# LeNet-5 as specified: 7 layers with weights, a squashing function after each of the first six,
# and a flatten before F6
LENET_LAYERS = 7 + 6 + 1


def located_error(cli, path) -> str:
    """`archcalc report` on a bad spec: exit 2, no traceback, one or two lines that start with
    the file; returns the message."""
    result = cli("report", path)
    message = result.output.strip()
    assert result.exit_code == 2, message
    assert "Traceback" not in message
    assert len(message.splitlines()) <= 2, message
    assert message.startswith(f"archcalc: error: {path}"), message
    return message


def by_name(analysis):
    return {layer.name: layer for layer in analysis.layers}


@pytest.fixture(scope="module", autouse=True)
def _free_the_modules_caches(request):
    """After each test module, empty the functools caches it keeps at module level (analyses,
    models, measured passes) and collect: with every torchvision builder in the zoo, caches
    held to the end of the session grew one pytest process past 24 GiB."""
    yield
    import gc

    for value in list(vars(request.module).values()):
        clear = getattr(value, "cache_clear", None)
        if callable(clear):
            clear()
    gc.collect()


#: test files whose tests build models with real weights (float64 transplants, training steps);
#: matched by file name: without a tests/__init__.py pytest names the module `test_transplant`,
#: not `tests.test_transplant`, so a match on the dotted name never held
REAL_WEIGHTS = {
    "test_transplant.py",
    "test_import_transplant.py",
    "test_training_torch.py",
    "test_torch_backend.py",
    "test_inplace_torchvision.py",
    "test_import_onnx.py",
}


@pytest.fixture(autouse=True)
def _collect_dropped_models(request):
    """A built torch.fx module is a reference cycle: without a full collection after each
    test, a module's worth of float64 models waits for Python's rare oldest-generation pass
    (it counts objects, not bytes) — gigabytes per model.

    The OOM kill of the whole suite (24 GiB) had another cause, now fixed: the training
    proofs' autograd pre-hooks kept every observed model alive (`_NodeOwner.release` in
    archcalc/torch_backend/training.py); `tests/test_training_torch.py` guards it."""
    yield
    if request.path.name in REAL_WEIGHTS:
        import gc

        gc.collect()
