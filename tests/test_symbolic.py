"""Symbolic input sizes: every count is a formula that, substituted, gives the numeric run."""

from __future__ import annotations

import pytest

from archcalc.analysis import analyse_file
from archcalc.expressions import is_symbolic, substitute, symbol
from tests.conftest import NETWORK_SPECS, ROOT, by_name

FIELDS = ("output_shape", "params", "buffers", "macs", "connections", "activations")


def _numeric_input(spec_path):
    from archcalc.spec import load_spec

    spec, _ = load_spec(spec_path)
    return spec.input


def _same(symbolic_value, numeric_value, bindings):
    if isinstance(symbolic_value, tuple):
        return all(_same(s, n, bindings) for s, n in zip(symbolic_value, numeric_value, strict=True))
    return substitute(symbolic_value, bindings) == numeric_value


@pytest.fixture(scope="module", params=NETWORK_SPECS, ids=lambda p: str(p.relative_to(ROOT / "specs")))
def symbolic(request):
    channels, height, width = _numeric_input(request.param)
    return request.param, (channels, height, width), analyse_file(request.param, input_shape=f"{channels},H,W")


# Growing by multiples of 32 keeps every bundled network valid (Inception's reduction
# branches only agree on sizes of the right parity); odd sizes are tested below on networks
# that accept any size.
@pytest.mark.parametrize("grow", [(0, 0), (32, 64), (64, 32)])
def test_symbolic_equals_numeric_at_several_sizes(symbolic, grow):
    _check_sizes(*symbolic, grow)


@pytest.mark.parametrize("spec", ["lenet5", "alexnet", "vgg16", "resnet50", "squeezenet1_1"])
def test_symbolic_equals_numeric_at_odd_sizes(spec):
    path = ROOT / "specs" / f"{spec}.yaml"
    channels, height, width = _numeric_input(path)
    formulas = analyse_file(path, input_shape=f"{channels},H,W")
    for grow in [(17, 5), (3, 30)]:
        _check_sizes(path, (channels, height, width), formulas, grow)


def _check_sizes(path, standard, formulas, grow):
    channels, height, width = standard
    h, w = height + grow[0], width + grow[1]
    numeric = analyse_file(path, input_shape=f"{channels},{h},{w}")
    bindings = {"H": h, "W": w}
    assert len(formulas.layers) == len(numeric.layers)
    for sym, num in zip(formulas.layers, numeric.layers, strict=True):
        for field in FIELDS:
            assert _same(getattr(sym, field), getattr(num, field), bindings), f"{sym.name}.{field}"
        for kind, count in sym.flops_by_kind.items():
            assert substitute(count, bindings) == num.flops_by_kind[kind], f"{sym.name} flops {kind}"
        if num.rf is not None:
            for part in ("size", "jump", "start"):
                assert _same(getattr(sym.rf, part), getattr(num.rf, part), bindings), f"{sym.name}.rf.{part}"
    for which in ("totals", "inference_totals"):
        for field in ("params", "macs", "connections", "flops", "activations", "peak_activations"):
            value = getattr(getattr(formulas, which), field)
            assert substitute(value, bindings) == getattr(getattr(numeric, which), field), (which, field)


def test_formulas_are_in_the_names():
    analysis = analyse_file(ROOT / "specs/alexnet.yaml", input_shape="3,H,W")
    c1 = by_name(analysis)["C1"]
    H, W = symbol("H"), symbol("W")
    assert c1.output_shape[1].free_symbols == {H}
    assert is_symbolic(c1.macs) and c1.macs.free_symbols == {H, W}
    assert c1.params == 11 * 11 * 3 * 96 + 96  # params do not depend on the input size


def test_symbolic_channels():
    analysis = analyse_file(ROOT / "specs/alexnet.yaml", input_shape="C,227,227")
    c1 = by_name(analysis)["C1"]
    C = symbol("C")
    assert c1.params.expand() == (11 * 11 * 96 * C + 96)
    assert substitute(c1.params, {"C": 3}) == 11 * 11 * 3 * 96 + 96


def test_grouped_conv_on_symbolic_channels_is_allowed(analyse_text):
    # whether 2 divides C cannot be decided for a name: allowed, and exact once C is given
    text = "name: t\ninput: [4, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 1, groups: 2}\n"
    formulas = analyse_text(text, input_shape="C,8,8")
    assert substitute(formulas.totals.params, {"C": 6}) == 4 * (6 // 2) + 4
