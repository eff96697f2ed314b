"""The cyclic garbage collector is paused while a network is compiled and analysed
(archcalc.collector: its passes doubled the cost per layer of deep specs), and restored after."""

import gc

import pytest

from archcalc import analysis
from archcalc.collector import paused


@pytest.fixture
def collector_enabled():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_restored_after(collector_enabled):
    seen = paused(gc.isenabled)()
    assert seen is False
    assert gc.isenabled()


def test_restored_after_an_error(collector_enabled):
    def fail():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        paused(fail)()
    assert gc.isenabled()


def test_nested_calls_enable_only_at_the_outermost(collector_enabled):
    states = []

    @paused
    def inner():
        states.append(gc.isenabled())

    @paused
    def outer():
        inner()
        states.append(gc.isenabled())  # the inner call must not have enabled it again

    outer()
    assert states == [False, False]
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled(collector_enabled):
    gc.disable()
    paused(lambda: None)()
    assert not gc.isenabled()


def test_compile_and_analysis_run_paused(collector_enabled, monkeypatch):
    seen = {}
    compile_spec, evaluate = analysis.compile_spec, analysis._evaluate

    def spy_compile(*args):
        seen["compile"] = gc.isenabled()
        return compile_spec(*args)

    def spy_evaluate(*args):
        seen["analyse"] = gc.isenabled()
        return evaluate(*args)

    monkeypatch.setattr(analysis, "compile_spec", spy_compile)
    monkeypatch.setattr(analysis, "_evaluate", spy_evaluate)
    result = analysis.analyse_file("specs/torchvision/alexnet.yaml")
    assert seen == {"compile": False, "analyse": False}
    assert gc.isenabled()
    assert result.totals.params == 61_100_840  # torchvision's AlexNet: sum(p.numel())
