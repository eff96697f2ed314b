"""The torch backend: every spec builds and proves its static numbers; LeNet-5's unusual
layers compute what the paper says with exactly the paper's parameters; mismatches are
caught layer by layer; the command's contract and its errors."""

from __future__ import annotations

import json
from typing import Literal

import pytest
import torch
import torch.nn.functional as F

from archcalc.analysis import analyse, load_network
from archcalc.errors import OpError
from archcalc.ops import Op
from archcalc.ops.conv import Conv
from archcalc.torch_backend import RunError, modules
from archcalc.torch_backend.build import build
from archcalc.torch_backend.checks import failed, run_checks
from tests.conftest import NETWORK_SPECS, ROOT

LENET = ROOT / "specs" / "lenet5.yaml"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def built(path, batch=1, input_shape=None):
    network = load_network(path, input_shape)
    analysis = analyse(network, batch=batch)
    torch.manual_seed(0)
    return network, analysis, build(network, analysis)


def checks_of(path, batch=2):
    network, analysis, model = built(path, batch)
    return run_checks(model, analysis, torch.randn(batch, *network.input_shape))


@pytest.mark.parametrize("path", NETWORK_SPECS, ids=lambda p: p.stem)
def test_every_spec_proves_its_static_numbers_in_torch(path):
    """`archcalc run`'s checks on every bundled spec at its own input size, on PyTorch's meta
    device: shapes, parameters, buffers and FlopCounterMode's products without arithmetic, so
    a 520×520 segmentation model or RegNetY-128GF costs a second, not minutes. That meta
    counts equal a real run's is tests/test_torchvision_parity.py's
    test_meta_device_counts_equal_a_real_run; real outputs, tests/test_transplant.py's."""
    network = load_network(path)
    analysis = analyse(network, batch=1)
    if analysis.symbols:
        pytest.skip("symbolic input: `archcalc run` needs numbers")
    with torch.device("meta"):
        model = build(network, analysis)
    checks = run_checks(model, analysis, torch.randn(1, *network.input_shape, device="meta"))
    assert [c.name for c in checks] == ["shapes", "params", "buffers", "macs"]
    assert not failed(checks), [c.mismatches for c in failed(checks)]


def test_lenet5_layers_have_the_papers_trainable_parameters():
    # LeCun et al. 1998, section II.B: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164;
    # the RBF's 84 × 10 weights are fixed
    _, _, model = built(LENET)
    count = {name: sum(p.numel() for p in m.parameters()) for name, m in model.modules.items()}
    assert {k: count[k] for k in ("C1", "S2", "C3", "S4", "C5", "F6", "output")} == {
        "C1": 156, "S2": 12, "C3": 1516, "S4": 32, "C5": 48120, "F6": 10164, "output": 0,
    }  # fmt: skip
    assert model.modules["output"].weight.numel() == 84 * 10


def test_lenet5_c3_flop_counter_counts_only_the_tables_products():
    # the paper: C3 has 151,600 connections = (1,500 weights + 16 biases) × 10×10 outputs,
    # so its multiply-accumulates are 1,500 × 100 = 150,000 (the bias adds are not macs)
    checks = {c.name: c for c in checks_of(LENET, batch=1)}
    assert checks["macs"].held
    from torch.utils.flop_counter import FlopCounterMode

    table_conv = built(LENET)[2].modules["C3"]
    with FlopCounterMode(display=False) as counter:
        table_conv(torch.randn(1, 6, 14, 14))
    assert counter.get_total_flops() == 2 * 150_000


def test_table_conv_equals_a_dense_conv_with_the_table_as_mask():
    table = [[0, 2], [1], [0, 1, 2], [2, 0]]
    conv = modules.TableConv(table, (3, 3), (1, 1), (1, 1), (1, 1), bias=True)
    with torch.no_grad():
        conv.bias.copy_(torch.arange(4.0))
    dense = torch.zeros(4, 3, 3, 3)
    for weight, gather in zip(conv.weights, [conv.gather0, conv.gather1, conv.gather2], strict=True):
        size = weight.shape[1]
        maps = [j for j, sources in enumerate(table) if len(sources) == size]
        for row, j in enumerate(maps):
            for k, i in enumerate(gather[row * size : (row + 1) * size].tolist()):
                dense[j, i] = weight[row, k]
    x = torch.randn(2, 3, 6, 6)
    expected = F.conv2d(x, dense, conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected)
    assert sum(p.numel() for p in conv.parameters()) == (2 + 1 + 3 + 2) * 9 + 4


def test_subsample_is_window_sum_times_coefficient_plus_bias():
    layer = modules.Subsample(3, (2, 2), (2, 2), (0, 0), ceil_mode=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.5, -1.0, 2.0]).view(3, 1, 1, 1))
        layer.bias.copy_(torch.tensor([1.0, 0.0, -3.0]))
    x = torch.randn(2, 3, 4, 6)
    window_sum = x.view(2, 3, 2, 2, 3, 2).sum(dim=(3, 5))
    expected = window_sum * torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1) + torch.tensor([1.0, 0.0, -3.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(layer(x), expected)


def test_rbf_is_the_squared_euclidean_distance_to_fixed_prototypes():
    layer = modules.RBF(5, 3)
    x = torch.randn(4, 5)
    expected = ((x[:, None, :] - layer.weight[None, :, :]) ** 2).sum(-1)
    torch.testing.assert_close(layer(x), expected)
    assert list(layer.parameters()) == [] and layer.weight.numel() == 15


def test_scale_module_multiplies_by_its_fixed_factor_with_no_params():
    # the torch form for the zoo's `scale` op (Inception-ResNet residual scaling)
    layer = modules.Scale(0.2)
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(layer(x), x * 0.2)
    assert list(layer.parameters()) == [] and list(layer.buffers()) == []


def test_a_wrong_torch_module_is_reported_layer_by_layer(monkeypatch, write_spec):
    path = write_spec("""
        name: test
        input: [3, 8, 8]
        layers:
          - conv: {name: good, out: 4, kernel: 3, padding: 1}
          - conv: {name: bad, out: 4, kernel: 3, padding: 1}
    """)
    original = Conv.to_torch

    def off_by_one(self, inputs, out):
        module = original(self, inputs, out)
        if self.name == "bad":  # one pixel less padding than the spec says
            return torch.nn.Conv2d(inputs[0][0], self.out, 3, padding=0, bias=False)
        return module

    monkeypatch.setattr(Conv, "to_torch", off_by_one)
    checks = {c.name: c for c in checks_of(path, batch=1)}
    assert checks["shapes"].mismatches == ["bad (conv): static (1, 4, 8, 8), runtime (1, 4, 6, 6)"]
    assert checks["params"].mismatches == ["bad (conv): static 148, torch 144"]  # 4·3·9 (+4 biases)
    assert checks["macs"].mismatches == ["bad (conv): static 9,216, torch 5,184"]  # 8·8 vs 6·6 outputs, × 4·4·9 weights
    assert not checks["buffers"].mismatches and checks["buffers"].held


def test_run_exits_non_zero_and_names_the_layer_when_a_check_fails(monkeypatch, write_spec, cli):
    path = write_spec("""
        name: test
        input: [4]
        layers:
          - linear: {name: fc, out: 3}
    """)
    monkeypatch.setattr("archcalc.ops.linear.Linear.to_torch", lambda self, inputs, out: torch.nn.Linear(4, 3, bias=False))
    result = cli("run", path, "--iters", "1", "--warmup", "0")
    assert result.exit_code == 1
    assert "FAIL params" in result.output and "timing skipped" in result.output
    assert "archcalc: check failed: params (static 15, torch 12)" in result.stderr
    assert "fc (linear): static 15, torch 12" in result.stderr


class NoTorchForTest(Op):
    """An op that states no torch form (not registered: no real op kind is shadowed)."""

    kind: Literal["no_torch_for_test"] = "no_torch_for_test"


def test_an_op_without_a_torch_form_fails_loudly():
    with pytest.raises(OpError, match="'no_torch_for_test' has no PyTorch form"):
        NoTorchForTest().to_torch([(3, 4, 4)], (3, 4, 4))


def test_inplace_relu_and_add_do_not_change_results(write_spec):
    # x feeds two branches and a residual; relu1's input is read twice, so it must not work in place
    path = write_spec("""
        name: test
        input: [4, 6, 6]
        layers:
          - conv: {name: c0, out: 4, kernel: 3, padding: 1}
          - relu: {name: r0}
          - add:
              - [conv: {out: 4, kernel: 3, padding: 1}, bn, relu]
              - [relu]
              - identity
          - relu: {name: post}
          - add: {from: [c0, post]}
          - flatten
          - relu
          - linear: {out: 2}
    """)
    _, analysis, model = built(path)
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        fast = model.inference(x.clone())
        for module in model.modules.values():
            if isinstance(module, torch.nn.ReLU):
                module.inplace = False
            if isinstance(module, modules.Add):
                module.inplace = None
        slow = model.inference(x.clone())
    torch.testing.assert_close(fast, slow)


def test_training_only_branches_count_in_checks_but_do_not_run_in_eval(write_spec):
    path = write_spec("""
        name: test
        input: [3, 8, 8]
        layers:
          - conv: {name: trunk, out: 4, kernel: 3}
          - globalavgpool: {name: aux_pool, from: trunk, training_only: true}
          - flatten: {from: aux_pool, training_only: true}
          - conv: {name: head, out: 2, kernel: 6, from: trunk}
    """)
    network, analysis, model = built(path)
    assert not failed(run_checks(model, analysis, torch.randn(1, 3, 8, 8)))
    assert "aux_pool" not in dict(model.inference.named_modules()) and "aux_pool" in model.modules
    assert model.inference(torch.randn(1, 3, 8, 8)).shape == (1, 2, 1, 1)


# --- the command -------------------------------------------------------------------------
def test_run_json_contract(cli, tmp_path):
    saved = tmp_path / "timings.json"
    result = cli("run", LENET, "--batch", "3", "--iters", "5", "--warmup", "1", "--per-layer", "--format", "json", "--save", saved)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert json.loads(saved.read_text()) == data
    latency = data["latency_ms"]
    assert 0 < latency["p10"] <= latency["median"] <= latency["p90"]
    assert data["throughput"] == pytest.approx(3 * 1000 / latency["median"])
    assert data["tflops"] == pytest.approx(2 * data["macs"] / (latency["median"] / 1000) / 1e12)
    assert data["iterations"] == 5 and data["batch"] == 3
    assert [(c["name"], c["held"]) for c in data["checks"]] == [("shapes", True), ("params", True), ("buffers", True), ("macs", True)]
    # LeCun's 60,000 trainable parameters, checked on the torch model
    assert {c["name"]: c["found"] for c in data["checks"]}["params"] == 60_000
    rows = {row["name"]: row for row in data["per_layer"]}
    assert set(rows) == {s["name"] for s in json.loads(cli("report", LENET, "--format", "json").stdout)["layers"]}
    assert sum(row["macs_share"] for row in rows.values()) == pytest.approx(1)
    assert all(row["ms"] > 0 for row in rows.values())


def test_run_text_output(cli):
    result = cli("run", LENET, "--iters", "3", "--warmup", "0", "--channels-last", "--threads", "1")
    assert result.exit_code == 0, result.output
    assert "1 CPU threads" in result.output
    assert "checks: 4 of 4 held" in result.output
    assert "60,000 trainable parameters in torch, 60,000 static" in result.output
    # --warmup 0 still makes one untimed call (to estimate the iterations), and says so
    assert "latency:" in result.output and "(3 iterations after 1 warm-up)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "tpu"], "--device: expected cpu, cuda or cuda:N, found 'tpu'"),
        (["--device", "cpu:1"], "--device: expected cpu, cuda or cuda:N"),
        (["--input", "1,H,W"], "needs a concrete input, found the names H, W"),
    ],
)
def test_run_errors_are_one_line_exit_2(cli, args, message):
    result = cli("run", LENET, *args)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the no-CUDA error cannot happen")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_a_clear_error(cli, device):
    result = cli("run", LENET, "--device", device)
    assert result.exit_code == 2
    assert f"--device {device}: no CUDA device is available" in result.stderr


def test_without_torch_a_one_line_error(monkeypatch, cli):
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # import torch now raises ImportError
    result = cli("run", LENET)
    assert result.exit_code == 2
    message = "archcalc run needs PyTorch, which is not installed: pip install -e '.[torch]' in a checkout (or bash scripts/setup --test)"
    assert message in result.stderr


def test_a_dtype_torch_cannot_run_names_the_layer(cli):
    if torch.cuda.is_available():
        pytest.skip("the missing kernel is a CPU one")
    alexnet = ROOT / "specs" / "alexnet.yaml"
    result = cli("run", alexnet, "--dtype", "float16", "--iters", "1")
    if result.exit_code == 0:
        pytest.skip("this torch build has a float16 CPU kernel for local response norm")
    assert result.exit_code == 2 and "norm1: PyTorch cannot run it as asked (torch.float16, cpu)" in result.stderr


@needs_cuda
def test_cuda_run_checks_and_times(cli):
    result = cli("run", LENET, "--device", "cuda", "--iters", "20", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["checks_held"] and data["device"].startswith("cuda:") and data["latency_ms"]["median"] > 0


@needs_cuda
def test_cuda_half_precision_channels_last(cli):
    result = cli("run", ROOT / "specs" / "alexnet.yaml", "--device", "cuda:0", "--dtype", "float16", "--channels-last", "--iters", "10")
    assert result.exit_code == 0, result.output
    assert "checks: 4 of 4 held" in result.output


# --- saved timings in the report ---------------------------------------------------------
def test_saved_timings_show_in_the_report(cli, tmp_path):
    saved = tmp_path / "timings.json"
    assert cli("run", LENET, "--iters", "3", "--warmup", "0", "--per-layer", "--save", saved).exit_code == 0
    measured = {row["name"]: row["ms"] for row in json.loads(saved.read_text())["per_layer"]}
    report = json.loads(cli("report", LENET, "--format", "json", "--timings", saved).stdout)
    assert {layer["name"]: layer["measured_ms"] for layer in report["layers"]} == measured
    assert report["measured"]["latency_ms"] == json.loads(saved.read_text())["latency_ms"]
    table = cli("report", LENET, "--timings", saved).stdout
    assert "Measured ms" in table.splitlines()[2]
    c3 = next(line for line in table.splitlines() if line.startswith("C3 "))
    assert c3.endswith(f"{measured['C3']:.4f}")
    assert "measured on cpu" in table
    assert "Measured ms" in cli("report", LENET, "--format", "markdown", "--timings", saved).stdout
    assert cli("report", LENET, "--format", "csv", "--timings", saved).stdout.splitlines()[0].endswith(",measured_ms")


def test_saved_timings_show_in_the_diagram(cli, tmp_path):
    saved = tmp_path / "timings.json"
    assert cli("run", LENET, "--iters", "3", "--warmup", "0", "--per-layer", "--save", saved).exit_code == 0
    measured = {row["name"]: row["ms"] for row in json.loads(saved.read_text())["per_layer"]}
    dot = tmp_path / "lenet.dot"
    assert cli("diagram", LENET, "-o", dot, "--timings", saved).exit_code == 0
    text = dot.read_text()
    assert "measured on cpu" in text
    c3 = next(line for line in text.splitlines() if line.strip().startswith('"C3"'))
    assert f"measured {measured['C3']:.3f} ms" in c3
    plain = tmp_path / "plain.dot"
    assert cli("diagram", LENET, "-o", plain).exit_code == 0
    assert "measured" not in plain.read_text()


def test_report_without_timings_is_unchanged(cli):
    assert "Measured" not in cli("report", LENET).stdout


def test_a_file_that_is_not_saved_timings_is_a_one_line_error(cli):
    result = cli("report", LENET, "--timings", LENET)
    assert result.exit_code == 2 and "cannot read timings" in result.stderr


def _saved_timings(**changes) -> dict:
    """A minimal file as `run --save` writes it, with ``changes`` (None deletes a key; "a.b" reaches inside)."""
    data = {
        "format": "archcalc-timings/1",
        "name": "LeNet-5",
        "device": "cpu",
        "device_name": "x86_64",
        "dtype": "float32",
        "batch": 1,
        "latency_ms": {"median": 0.5, "p10": 0.4, "p90": 0.6},
        "per_layer": [{"name": "C1", "ms": 0.1}],
    }
    for key, value in changes.items():
        *outer, last = key.split(".")
        target = data
        for part in outer:
            target = target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return data


def test_a_minimal_saved_run_loads(tmp_path):
    from archcalc.timings import load_timings

    saved = tmp_path / "timings.json"
    saved.write_text(json.dumps(_saved_timings()))
    timings = load_timings(saved)
    assert timings.latency_ms == {"median": 0.5, "p10": 0.4, "p90": 0.6} and timings.layer_ms == {"C1": 0.1} and timings.batch == 1


@pytest.mark.parametrize("command", ["report", "diagram"])
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": None}, "not a valid saved run: name: field required"),
        ({"latency_ms.median": None}, "not a valid saved run: latency_ms.median: field required"),
        ({"latency_ms.p90": "slow"}, "not a valid saved run: latency_ms.p90:"),
        ({"per_layer": [{"name": "C1"}]}, "not a valid saved run: per_layer.0.ms: field required"),
        ({"per_layer": [{"ms": 0.1}]}, "not a valid saved run: per_layer.0.name: field required"),
        ({"per_layer": {"C1": 0.1}}, "not a valid saved run: per_layer:"),
        ({"per_layer": [{"name": "C1", "ms": "0.1"}]}, "not a valid saved run: per_layer.0.ms:"),
        ({"batch": "3"}, "not a valid saved run: batch:"),
        ({"device": None}, "not a valid saved run: device: field required"),
        ({"latency_ms": [1, 2, 3]}, "not a valid saved run: latency_ms:"),
    ],
)
def test_malformed_timings_files_exit_2_without_a_traceback(cli, tmp_path, command, changes, message):
    saved = tmp_path / "timings.json"
    saved.write_text(json.dumps(_saved_timings(**changes)))
    extra = ["-o", tmp_path / "net.dot"] if command == "diagram" else []
    result = cli(command, LENET, *extra, "--timings", saved)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"archcalc: error: {saved}: ") and message in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--threads", "100000"],
        ["--threads", "0"],
        ["--batch", "0"],
        ["--batch", "100000000"],
        ["--dtype", "float64"],
        ["--warmup", "-1"],
        ["--iters", "0"],
        ["--device", "tpu"],
        ["--save", "/nonexistent/dir/x.json"],
        ["--input", "1,H,W"],
    ],
)
def test_bad_run_options_exit_2_without_a_traceback(cli, args):
    result = cli("run", LENET, "--iters", "1", "--warmup", "0", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    # one line, whether archcalc or click (an option out of range) found the mistake
    assert len(lines) == 1 and lines[0].startswith("archcalc: error: "), result.stderr


# --- timing and devices --------------------------------------------------------------------
def test_percentiles_interpolate_between_ranks():
    from archcalc.torch_backend.timing import percentile

    # numpy's default rule, by hand: rank (n − 1)·q/100
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5  # rank 1.5: halfway from 2 to 3
    assert percentile(range(1, 12), 10) == 2  # rank 1
    assert percentile(range(1, 12), 90) == 10  # rank 9
    assert percentile([7.0], 90) == 7.0


def test_measure_counts_warmup_and_iterations():
    from archcalc.torch_backend.devices import Device
    from archcalc.torch_backend.timing import MIN_ITERS, measure

    calls, started = [], []
    timing = measure(lambda: calls.append(1), Device("cpu", "cpu"), warmup=3, iters=7, on_start=lambda n, ms: started.append(n))
    assert len(calls) == 3 + 7 and len(timing.samples_ms) == 7 and started == [7]
    assert timing.p10 <= timing.median <= timing.p90
    calls.clear()
    auto = measure(lambda: calls.append(1), Device("cpu", "cpu"), warmup=0, iters=None, min_time=0)
    assert len(auto.samples_ms) == MIN_ITERS and len(calls) == 1 + MIN_ITERS  # one call to estimate


def test_known_gpus_have_a_peak_and_others_none():
    from archcalc.torch_backend.devices import Device, peak_tflops

    # NVIDIA datasheets, dense: H100 SXM 989 TFLOP/s bf16, 67 fp32; H100 PCIe 756 bf16; A100 312 fp16
    assert peak_tflops(Device("cuda:0", "NVIDIA H100 80GB HBM3"), "bfloat16") == 989.0
    assert peak_tflops(Device("cuda:0", "NVIDIA H100 80GB HBM3"), "float32") == 67.0
    assert peak_tflops(Device("cuda:0", "NVIDIA H100 PCIe"), "bfloat16") == 756.0
    assert peak_tflops(Device("cuda:1", "NVIDIA A100-SXM4-40GB"), "float16") == 312.0
    assert peak_tflops(Device("cuda:0", "NVIDIA GeForce GTX 1080"), "float32") is None
    assert peak_tflops(Device("cpu", "x86_64"), "float32") is None


def test_progress_bar_only_for_long_runs():
    from archcalc.torch_backend.command import _Progress

    with _Progress() as short:
        short.start(100, 1.0)  # 0.1 s
        assert short.bar is None
    with _Progress() as long:
        long.start(100, 50.0)  # 5 s
        long.step()
        assert long.bar is not None and long.bar.pos == 1


def test_a_layer_named_like_a_module_attribute_is_refused(write_spec, cli):
    path = write_spec("""
        name: test
        input: [4]
        layers:
          - linear: {name: training, out: 2}
    """)
    result = cli("run", path)
    assert result.exit_code == 2
    assert "layer 'training': 'training' is a torch.nn.Module attribute" in result.stderr


class FakeEvent:
    """Stands in for torch.cuda.Event on a machine without a GPU: records host time."""

    def __init__(self, enable_timing=False):
        assert enable_timing
        self.at = None

    def record(self):
        import time

        self.at = time.perf_counter()

    def elapsed_time(self, end):
        return (end.at - self.at) * 1000


@pytest.fixture
def fake_gpus(monkeypatch):
    """Two simulated CUDA devices: the CUDA code paths run, on the host's clock."""
    synced = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"NVIDIA H100 80GB HBM3 #{index}")
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: synced.append(device))
    return synced


def test_cuda_device_parsing(fake_gpus):
    from archcalc.torch_backend.devices import parse_device

    assert parse_device("cuda").spec == "cuda:0"
    assert parse_device("cuda:1").name == "NVIDIA H100 80GB HBM3 #1"
    with pytest.raises(RunError, match=r"--device cuda:2: expected an index below 2 \(this machine has 2 CUDA device"):
        parse_device("cuda:2")


def test_cuda_timing_uses_an_event_pair_per_call_and_synchronises_once_per_phase(fake_gpus):
    # phases: measure's warm-up, its timed calls, and per_layer's passes (all layers at once)
    from archcalc.torch_backend.devices import Device
    from archcalc.torch_backend.timing import measure, per_layer

    calls = []
    timing = measure(lambda: calls.append(len(fake_gpus)), Device("cuda:1", "fake"), warmup=2, iters=5)
    assert len(timing.samples_ms) == 5 and all(ms >= 0 for ms in timing.samples_ms)
    # no synchronisation between timed calls: once after warm-up, once after the timed calls
    assert calls == [0, 0, 1, 1, 1, 1, 1] and len(fake_gpus) == 2
    assert all(str(device) == "cuda:1" for device in fake_gpus)
    layers = {"a": torch.nn.ReLU(), "b": torch.nn.Tanh()}
    model = torch.nn.Sequential(*layers.values())
    fake_gpus.clear()
    passes = []
    times = per_layer(layers, lambda: passes.append(len(fake_gpus)) or model(torch.randn(2, 3)), Device("cuda:0", "fake"), iters=4)
    assert set(times) == {"a", "b"} and all(ms >= 0 for ms in times.values())
    # no synchronisation between passes, and one (not one per layer) to read every layer's events
    assert passes == [0, 0, 0, 0] and [str(device) for device in fake_gpus] == ["cuda:0"]


def test_a_real_torch_compile_gives_the_eager_result():
    # one real compile (about 15 s on this 2-core CPU): the generated GraphModule must be
    # something torch.compile accepts, and the compiled network must compute the same thing
    network = load_network(LENET)
    model = build(network, analyse(network)).inference.eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(torch.compile(model)(x), model(x), rtol=1e-4, atol=1e-5)


def test_compile_times_the_compiled_module(monkeypatch, cli):
    # the wiring, without paying for a second real compile (see the test above): the
    # inference module is compiled, the compiled callable is what runs in the timed loop
    compiled_calls = []

    def fake_compile(module):
        assert isinstance(module, torch.fx.GraphModule)
        return lambda x: compiled_calls.append(x.shape) or module(x)

    monkeypatch.setattr(torch, "compile", fake_compile)
    result = cli("run", LENET, "--compile", "--iters", "4", "--warmup", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["compile"] is True
    assert compiled_calls == [(1, 1, 32, 32)] * (2 + 4)


# --- options and failures that are the user's: one line, exit 2, never a traceback -----------
def test_dtype_choices_are_the_devices_list():
    from archcalc.torch_backend.command import make_command
    from archcalc.torch_backend.devices import DTYPES

    command = make_command(lambda f: f)
    (dtype,) = [p for p in command.params if p.name == "dtype"]
    assert tuple(dtype.type.choices) == DTYPES


def test_save_to_a_missing_folder_is_a_one_line_error(cli, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "x.json"
    result = cli("run", LENET, "--iters", "1", "--warmup", "0", "--save", target)
    assert result.exit_code == 2
    assert f"--save {target}: cannot write the result: No such file or directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_batch_too_big_for_memory_is_a_one_line_error(cli):
    # 10⁸ LeNet inputs are 10⁸·32·32·4 bytes = 409.6 GB: torch.randn cannot allocate them
    result = cli("run", LENET, "--batch", "100000000", "--iters", "1")
    assert result.exit_code == 2, result.output
    assert "the model and its input batch: PyTorch cannot run it as asked (batch 100000000, float32, cpu)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_out_of_memory_while_timing_is_a_one_line_error(monkeypatch, cli):
    from archcalc.torch_backend import runner

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB\nmore detail")

    monkeypatch.setattr(runner, "measure", out_of_memory)
    result = cli("run", LENET, "--iters", "1")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "archcalc: error: timing: PyTorch cannot run it as asked (batch 1, float32, cpu): CUDA out of memory. Tried to allocate 20.00 GiB"
    )


def test_threads_are_limited_to_the_machine_and_restored_after_the_run(cli):
    import os

    result = cli("run", LENET, "--threads", "100000")
    assert result.exit_code == 2 and "--threads" in result.output and "100000" in result.output
    before = torch.get_num_threads()
    wanted = 2 if before != 2 and (os.cpu_count() or 1) >= 2 else 1
    result = cli("run", LENET, "--iters", "1", "--warmup", "0", "--threads", wanted, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["threads"] == wanted  # used during the run …
    assert torch.get_num_threads() == before  # … and the caller's setting back afterwards


def test_threads_are_restored_when_the_run_fails(monkeypatch):
    from archcalc.torch_backend import runner

    def fail(*args, **kwargs):
        raise RunError("failed on purpose")

    monkeypatch.setattr(runner, "build", fail)
    before = torch.get_num_threads()
    with pytest.raises(RunError, match="failed on purpose"):
        runner.run(str(LENET), runner.Options(threads=1 if before != 1 else 2))
    assert torch.get_num_threads() == before


def test_a_macs_total_that_is_not_whole_is_reported_as_not_measured():
    from archcalc.torch_backend import checks, render

    analysis = analyse(load_network(LENET))
    per_layer = {s.name: s.macs for s in analysis.layers}  # every layer agrees; only the total is odd
    check = checks._count_check("macs", analysis, lambda s: s.macs, per_layer.__getitem__, "7/2")
    assert check.found == "not measured: FlopCounterMode's total is 7/2 macs, not a whole number" and not check.held
    line = render._check_line(check)
    assert "-1" not in line and line.endswith(
        f"not measured: FlopCounterMode's total is 7/2 macs, not a whole number; {check.expected:,} static"
    )
