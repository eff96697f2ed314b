"""Convolution: dense, grouped, dilated, asymmetric, or with an explicit connection table."""

from typing import Literal

from pydantic import PositiveInt, model_validator

from archcalc.derivation import shape_values, window_formulas, window_values
from archcalc.errors import OpError
from archcalc.expressions import Value, always, equal, exact_div
from archcalc.ops.base import NonNegativePair, Op, PositivePair, Shape, Window, kernel_text, numel, require_rank, spatial_out
from archcalc.training.rules import WEIGHTED, Saved, TrainingRules


class Conv(Op):
    """2-D convolution.

    shape:   C_out = out;  H_out = ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1, per axis
    params:  out · (C_in/groups) · k_h·k_w  (+ out biases); with a connection table,
             Σ_j |table_j| · k_h·k_w (+ out) — LeNet-5's C3
    macs:    H_out·W_out · out · (C_in/groups) · k_h·k_w (table: Σ_j |table_j| instead)
    connections: (fan-in + 1 if bias) × output units, i.e. (weights per map + bias) · H_out·W_out
    rf:      a window of k, s, p, d per axis
    """

    kind: Literal["conv"] = "conv"
    weighted = True
    out: PositiveInt | None = None
    kernel: PositivePair
    stride: PositivePair = (1, 1)
    padding: NonNegativePair = (0, 0)
    dilation: PositivePair = (1, 1)
    groups: PositiveInt = 1
    bias: bool = True
    connection_table: list[list[int]] | None = None

    def derivation_formulas(self, inputs: list[Shape]) -> dict[str, str]:
        # with a connection table, T = Σ_j |table_j| replaces C_out·C_in/g (LeNet-5's C3)
        weights = "T*k_h*k_w" if self.connection_table is not None else "C_out*(C/g)*k_h*k_w" if self.groups > 1 else "C_out*C*k_h*k_w"
        bias = " + C_out" if self.bias else ""
        formulas = {
            "C_out": "n_out",
            **window_formulas(),
            "params": weights + bias,
            "buffers": "0",
            "macs": f"{weights}*H_out*W_out",
            "connections": f"({weights}{bias})*H_out*W_out",
        }
        if self.connection_table is not None:  # T is not a field of the spec: say what it is where it is used
            total = sum(len(sources) for sources in self.connection_table)
            note = f"T = Σ_j |table_j| = {total}: the input maps that the {len(self.connection_table)} output maps read, summed"
            formulas.update({q: (formulas[q], note) for q in ("params", "macs", "connections")})
        return formulas

    def derivation_values(self, inputs: list[Shape], out: Shape) -> dict[str, Value]:
        values = {**shape_values(inputs, out), **window_values(self.window(inputs)), "n_out": self.out_channels, "g": self.groups}
        if self.connection_table is not None:
            values["T"] = sum(len(sources) for sources in self.connection_table)
        return values

    @model_validator(mode="after")
    def _check_table(self):
        table = self.connection_table
        if table is None:
            if self.out is None:
                raise ValueError("conv needs `out` (the number of output maps)")
            return self
        if not table:
            raise ValueError("connection_table needs at least one output map")
        if self.groups != 1:
            raise ValueError("a connection table replaces groups: leave groups at 1")
        if self.out is not None and self.out != len(table):
            raise ValueError(f"out is {self.out} but the connection table lists {len(table)} output maps")
        for j, sources in enumerate(table):
            if not sources or len(set(sources)) != len(sources) or min(sources) < 0:
                raise ValueError(f"connection_table[{j}] must list distinct input maps (≥ 0), found {sources}")
        return self

    @property
    def out_channels(self) -> int:
        return self.out if self.out is not None else len(self.connection_table)

    def window(self, inputs: list[Shape]) -> Window:
        return Window(self.kernel, self.stride, self.padding, self.dilation)

    def output_shape(self, inputs: list[Shape]) -> Shape:
        require_rank(inputs[0], 3, self.kind)  # before the channel checks, which assume (C, H, W)
        self._check_channels(inputs[0][0])
        return spatial_out(inputs, self, self.window(inputs), self.out_channels)

    def _check_channels(self, channels: Value) -> None:
        if self.connection_table is not None:
            highest = max(max(sources) for sources in self.connection_table)
            if always(highest, ">=", channels):
                raise OpError(f"connection table reads input map {highest}, but the input has {channels} maps")
            return
        for what, count in (("input", channels), ("output", self.out)):
            if equal(count % self.groups, 0) is False:  # undecidable for symbolic C: allowed
                raise OpError(f"groups must divide the {what} channels: expected a divisor of {count}, found groups={self.groups}")

    def weights_per_map(self, inputs: list[Shape]) -> list[Value] | Value:
        """Weighted inputs of one output unit (its fan-in without bias)."""
        kh, kw = self.kernel
        if self.connection_table is not None:
            return [len(sources) * kh * kw for sources in self.connection_table]
        return exact_div(inputs[0][0], self.groups) * kh * kw

    def _total_weights(self, inputs: list[Shape]) -> Value:
        per_map = self.weights_per_map(inputs)
        if isinstance(per_map, list):
            return sum(per_map)
        return per_map * self.out_channels

    def params(self, inputs: list[Shape], out: Shape) -> Value:
        return self._total_weights(inputs) + (self.out_channels if self.bias else 0)

    def macs(self, inputs: list[Shape], out: Shape) -> Value:
        return self._total_weights(inputs) * out[1] * out[2]

    def connections(self, inputs: list[Shape], out: Shape) -> Value:
        return self.params(inputs, out) * out[1] * out[2]

    def bias_flops(self, inputs: list[Shape], out: Shape) -> Value:
        return numel(out) if self.bias else 0

    def label(self) -> str:
        text = f"conv {kernel_text(self.kernel, self.stride)}, {self.out_channels}"
        if self.groups != 1:
            text += f", groups {self.groups}"
        if self.dilation != (1, 1):
            text += f", dilation {self.dilation[0]}"
        if self.connection_table is not None:
            text += ", partial table"
        return text

    def to_torch(self, inputs: list[Shape], out: Shape):
        """nn.Conv2d; with a connection table, one grouped conv per fan-in size (TableConv)."""
        from torch import nn

        from archcalc.torch_backend import modules

        if self.connection_table is not None:
            return modules.TableConv(self.connection_table, self.kernel, self.stride, self.padding, self.dilation, self.bias)
        return nn.Conv2d(inputs[0][0], self.out, self.kernel, self.stride, self.padding, self.dilation, self.groups, self.bias)

    # --- training ---------------------------------------------------------------------------
    def training_rules(self, inputs: list[Shape], out: Shape) -> TrainingRules:
        """saved: the input (the weight gradient correlates it with the output's gradient); with
        a connection table, the gathered inputs instead, N·T·H·W (each group's conv keeps its
        own gathered input; the gather keeps only its index). backward: N·macs for each gradient."""
        if self.connection_table is not None:
            return TrainingRules((Saved("gathered", "N*T*H*W"),), **WEIGHTED)
        return TrainingRules((Saved("input"),), **WEIGHTED)
