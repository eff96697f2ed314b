"""archcalc.training.memory.solve_fit by hand: the largest batch N whose peak, fixed + per_sample·N,
fits in the memory, found from three exact evaluations of the peak."""

from __future__ import annotations

import pytest

from archcalc.errors import SpecError
from archcalc.training.memory import Fit, solve_fit


def test_the_largest_batch_that_fits():
    # 100 + 7·N ≤ 1,000: N ≤ 900/7 = 128.57…, so 128, whose peak is 100 + 896 = 996
    assert solve_fit(lambda n: 100 + 7 * n, 1000) == Fit(1000, 128, 996, 100, 7)
    # one byte per sample: 150 − 100 = 50 samples exactly
    assert solve_fit(lambda n: 100 + n, 150) == Fit(150, 50, 150, 100, 1)


def test_not_even_one_sample_fits():
    # 100 + 10 > 50: batch 0, and the peak reported is batch 1's, 110
    assert solve_fit(lambda n: 100 + 10 * n, 50) == Fit(50, 0, 110, 100, 10)


@pytest.mark.parametrize("peak", [lambda n: 100 + n * n, lambda n: 100, lambda n: 100 - n])
def test_a_peak_not_affine_in_the_batch_or_not_growing_is_refused(peak):
    with pytest.raises(SpecError, match="--fit: the peak is not affine in the batch"):
        solve_fit(peak, 1000)


def test_a_step_with_no_backward_at_all(tmp_path):
    """A max pool on the network input: no parameter and no input that needs a gradient, so
    autograd keeps nothing and the backward has no transient; the peak is the live input
    batch, 1·4·4 floats, and the output, 1·2·2: (16 + 4)·4 bytes."""
    from archcalc.analysis import analyse, load_network
    from archcalc.training.memory import analyse_training

    path = tmp_path / "net.yaml"
    path.write_text("name: t\ninput: [1, 4, 4]\nlayers:\n  - maxpool: {kernel: 2}\n")
    network = load_network(path)
    step = analyse_training(network, analyse(network), "sgd", "cpu", 1, ())
    assert (step.saved_bytes, step.grad_bytes, step.transient_bytes) == (0, 0, 0)
    assert step.peak_bytes == step.live_bytes == (16 + 4) * 4
