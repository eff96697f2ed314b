"""Each op's training rules proven on PyTorch, field by field: for every registered op, small
networks that use it in each of its forms (and on the network input, where no gradient flows
in) run one observed training step on the CPU, and what autograd keeps, the backward's
multiply-adds and the optimizer state must be what archcalc derives (tests.test_training_torch's
checks). The random networks there mix the ops; these make sure each form is met at least once.
"""

from __future__ import annotations

import pytest

from archcalc.analysis import load_network
from archcalc.ops import REGISTRY
from tests.test_training_torch import failures, prove

CONV = "conv: {out: 4, kernel: 1}"  # first, so that the op's input needs a gradient

#: kind → layer lists on a (4, 6, 6) input; a list that does not start with CONV puts the op on
#: the network input (no input gradient: outside autograd unless it has parameters)
CASES: dict[str, list[str]] = {
    "conv": ["conv: {out: 4, kernel: 3, padding: 1, groups: 2}", "conv: {out: 2, kernel: 3, dilation: 2, bias: false}, relu",
             f"{CONV}, conv: {{kernel: 1, connection_table: [[0, 1], [2], [0, 1, 3]]}}"],
    "maxpool": [f"{CONV}, maxpool: {{kernel: 3, stride: 2, ceil_mode: true}}"],
    "avgpool": [f"{CONV}, avgpool: {{kernel: 2}}"],
    "subsample": [f"{CONV}, subsample: {{kernel: 2}}", "subsample: {kernel: 2}"],
    "globalavgpool": [f"{CONV}, globalavgpool"],
    "adaptiveavgpool": [f"{CONV}, adaptiveavgpool: {{out: 4}}", f"{CONV}, adaptiveavgpool: {{out: 1}}"],
    "adaptivemaxpool": [f"{CONV}, adaptivemaxpool: {{out: [4, 3]}}", f"{CONV}, adaptivemaxpool: {{out: 1}}",
                        "adaptivemaxpool: {out: 2}, conv: {out: 2, kernel: 1}"],
    "linear": [f"{CONV}, flatten, linear: {{out: 3}}", f"{CONV}, linear: {{out: 3}}, gelu, linear: {{out: 4, bias: false}}",
               f"{CONV}, layernorm, linear: {{out: 2}}", "linear: {out: 3}, relu"],
    "rbf": [f"{CONV}, flatten, rbf: {{out: 3}}"],
    "bn": [f"{CONV}, bn", f"{CONV}, bn: {{affine: false}}"],
    "lrn": [f"{CONV}, lrn: {{size: 3}}"],
    "relu": [f"{CONV}, relu", "relu, conv: {out: 2, kernel: 1}"],
    "tanh": [f"{CONV}, tanh"],
    "sigmoid": [f"{CONV}, sigmoid"],
    "softmax": [f"{CONV}, flatten, softmax"],
    "dropout": [f"{CONV}, dropout: {{p: 0.5}}", f"{CONV}, dropout: {{p: 0}}, relu", f"{CONV}, dropout: {{p: 1}}"],
    "identity": [f"{CONV}, identity, relu"],
    "flatten": [f"{CONV}, flatten, relu"],
    "concat": [f"{CONV}, concat: {{branches: [[{CONV}], identity]}}"],
    "add": [f"{CONV}, add: {{branches: [[{CONV}], identity]}}"],
    "scale": [f"{CONV}, scale: {{factor: 0.2}}"],
    "mul": [
        f"{CONV}, mul: {{branches: [identity, [globalavgpool, {CONV}, sigmoid]]}}",  # squeeze-and-excitation
        f"{CONV}, mul: {{branches: [[conv: {{out: 1, kernel: 1}}, sigmoid], identity]}}",  # spatial attention
        f"{CONV}, mul: {{branches: [[globalavgpool, {CONV}], identity, [conv: {{out: 1, kernel: 1}}]]}}",  # a partial product kept
        f"{CONV}, mul: {{branches: [identity, identity]}}",  # x·x: one storage
        f"mul: {{branches: [[{CONV}], identity]}}, relu",  # the input factor needs no gradient: only it is kept
    ],
    "relu6": [f"{CONV}, relu6"],
    "leakyrelu": [f"{CONV}, leakyrelu: {{slope: 0.2}}"],
    "prelu": [f"{CONV}, prelu", f"{CONV}, prelu: {{per_channel: true}}", "prelu: {per_channel: true}", f"{CONV}, flatten, prelu"],
    "elu": [f"{CONV}, elu: {{alpha: 0.5}}"],
    "gelu": [f"{CONV}, gelu", f"{CONV}, gelu: {{approximate: tanh}}"],
    "silu": [f"{CONV}, silu"],
    "hardswish": [f"{CONV}, hardswish"],
    "hardsigmoid": [f"{CONV}, hardsigmoid"],
    "mish": [f"{CONV}, mish"],
    "hardtanh": [f"{CONV}, hardtanh: {{min: -0.5, max: 2}}"],
    "layernorm": [f"{CONV}, layernorm", f"{CONV}, layernorm: {{affine: false}}", f"{CONV}, layernorm: {{bias: false}}",
                  f"{CONV}, flatten, layernorm", "layernorm"],
    "groupnorm": [f"{CONV}, groupnorm: {{groups: 2}}", f"{CONV}, groupnorm: {{groups: 4, affine: false}}", "groupnorm: {groups: 1}"],
    "layerscale": [f"{CONV}, layerscale", f"{CONV}, flatten, layerscale", "layerscale: {init: 0.5}"],
    "convtranspose": [
        f"{CONV}, convtranspose: {{out: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1, groups: 2}}",
        f"{CONV}, convtranspose: {{out: 2, kernel: 2, stride: 2, bias: false}}",
        f"{CONV}, convtranspose: {{out: 2, kernel: 3, dilation: 2}}",
        "convtranspose: {out: 2, kernel: 3, stride: 2}, relu",
    ],
    "upsample": [f"{CONV}, upsample: {{scale: 2}}", f"{CONV}, upsample: {{size: 7, mode: bilinear}}",
                 f"{CONV}, upsample: {{size: 9, mode: bilinear, align_corners: true}}"],
    "slice": [f"{CONV}, slice: {{start: 1, stop: 3}}, relu", "slice: {stop: 2}, conv: {out: 2, kernel: 1}"],
    "chunk": [f"{CONV}, chunk: {{chunks: 2, index: 1}}, sigmoid", f"{CONV}, chunk: {{chunks: 3, index: 0}}, relu",
              f"{CONV}, chunk: {{chunks: 1, index: 0}}, identity, relu"],
    "channel_shuffle": [f"{CONV}, channel_shuffle: {{groups: 2}}, relu", f"{CONV}, channel_shuffle: {{groups: 1}}, relu",
                        f"{CONV}, channel_shuffle: {{groups: 4}}, tanh"],
    "pad": [f"{CONV}, pad: {{padding: [1, 0, 0, 2]}}, relu", f"{CONV}, pad: {{padding: 0}}"],
    "crop": [f"{CONV}, crop: {{size: 3}}, relu", "crop: {size: [3, 4]}, conv: {out: 2, kernel: 1}"],
    "stochastic_depth": [f"{CONV}, stochastic_depth: {{p: 0.5}}", f"{CONV}, stochastic_depth: {{p: 0.5, mode: batch}}",
                         f"{CONV}, stochastic_depth: {{p: 0}}, relu", f"{CONV}, stochastic_depth: {{p: 1}}",
                         f"{CONV}, flatten, stochastic_depth: {{p: 0.2}}"],
}  # fmt: skip

#: a crop and an upsampling sized by a second input, which passes no gradient on (it gives only
#: its size): the layers after them compute no input gradient
REFERENCE = """\
name: reference
input: [2, 6, 6]
layers:
  - maxpool: {name: p, kernel: 1}
  - conv: {name: c, out: 2, kernel: 3}
  - crop: {name: k, from: [p, c]}
  - upsample: {name: u, from: [k, p]}
  - conv: {name: after, out: 2, kernel: 1}
  - concat: {from: [after, u, p]}
"""


def test_every_registered_op_has_cases():
    assert set(CASES) == set(REGISTRY), f"add {sorted(set(REGISTRY) - set(CASES))} to CASES"


@pytest.mark.parametrize(("kind", "layers"), [(kind, layers) for kind, forms in CASES.items() for layers in forms])
def test_each_op_saves_and_computes_what_its_rules_say(write_spec, kind, layers):
    network = load_network(write_spec(f"name: {kind}\ninput: [4, 6, 6]\nlayers: [{layers}]\n"))
    checks, _ = prove(network, "adam")
    assert not failures(checks)


def test_a_reference_input_passes_no_gradient_on(write_spec):
    from archcalc.analysis import analyse
    from archcalc.training.memory import analyse_training

    network = load_network(write_spec(REFERENCE))
    layers = {layer.name: layer for layer in analyse_training(network, analyse(network)).layers}
    assert layers["k"].inputs_need_grad == (False, False) and not layers["k"].requires_grad
    assert layers["after"].backward_input_macs == 0
    # c feeds only k's size: no gradient reaches it, so it has no backward and no weight gradient
    assert layers["c"].requires_grad and not layers["c"].backward and layers["c"].backward_weight_macs == 0
    assert all(layer.backward for name, layer in layers.items() if name not in ("c",) and layer.requires_grad)
    checks, _ = prove(network, "adam")  # no state for c, whose weights get no gradient
    assert not failures(checks)
