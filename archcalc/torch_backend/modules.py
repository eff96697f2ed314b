"""The PyTorch modules that have no ready-made ``torch.nn`` form: merges, LeNet-5's
connection-table conv, trainable subsampling and RBF output.

Each is written so that ``sum(p.numel() for p in parameters())`` equals the op's static
params and ``FlopCounterMode`` / 2 equals its static macs, exactly: the work that archcalc
counts as multiply-accumulates goes through a conv or a matmul (which FlopCounterMode
counts), and nothing else does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Concat(nn.Module):
    """Channel concatenation of two or more feature maps."""

    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class Add(nn.Module):
    """Element-wise sum. ``inplace`` names an input no other layer reads, which is then
    summed into in place, as torchvision's ``out += identity`` does (saves an allocation)."""

    def __init__(self, inplace: int | None = None):
        super().__init__()
        self.inplace = inplace

    def forward(self, *xs):
        if self.inplace is None:
            out, rest = xs[0] + xs[1], xs[2:]
        else:
            out, rest = xs[self.inplace], xs[: self.inplace] + xs[self.inplace + 1 :]
        for x in rest:
            out = out.add_(x)
        return out


class TableConv(nn.Module):
    """A convolution where output map j reads only the input maps ``table[j]`` (LeNet-5's C3).

    Output maps are grouped by how many inputs they read; each group is one grouped conv
    over the gathered inputs, so the parameters hold only the used weights
    (Σ_j |table_j|·k_h·k_w + bias) and FlopCounterMode counts only the used products.
    """

    def __init__(self, table: list[list[int]], kernel, stride, padding, dilation, bias: bool):
        super().__init__()
        self.conv_args = {"stride": stride, "padding": padding, "dilation": dilation}
        sizes = sorted({len(sources) for sources in table})
        self.weights = nn.ParameterList()
        order = []
        for index, size in enumerate(sizes):
            maps = [j for j, sources in enumerate(table) if len(sources) == size]
            gather = torch.tensor([i for j in maps for i in table[j]], dtype=torch.long)
            self.register_buffer(f"gather{index}", gather, persistent=False)
            self.weights.append(nn.Parameter(torch.empty(len(maps), size, *kernel)))
            order += maps
        # where each output map sits after the groups are concatenated
        self.register_buffer("order", torch.tensor([order.index(j) for j in range(len(table))]), persistent=False)
        self.bias = nn.Parameter(torch.zeros(len(table))) if bias else None
        for weight in self.weights:
            nn.init.kaiming_uniform_(weight, a=5**0.5)

    def forward(self, x):
        parts = []
        for index, weight in enumerate(self.weights):
            gathered = x.index_select(1, getattr(self, f"gather{index}"))
            parts.append(F.conv2d(gathered, weight, groups=weight.shape[0], **self.conv_args))
        out = torch.cat(parts, dim=1).index_select(1, self.order)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out


class Subsample(nn.Module):
    """LeNet-5's trainable subsampling: y_c = w_c · Σ_{k×k} x_c + b_c.

    The window sum is an average pool with divisor 1 (not a mac); the coefficient is a
    depthwise 1×1 conv, so FlopCounterMode counts exactly one mac per output element.
    """

    def __init__(self, channels: int, kernel, stride, padding, ceil_mode: bool):
        super().__init__()
        self.pool_args = {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil_mode}
        self.weight = nn.Parameter(torch.full((channels, 1, 1, 1), 0.25))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        summed = F.avg_pool2d(x, count_include_pad=True, divisor_override=1, **self.pool_args)
        return F.conv2d(summed, self.weight, self.bias, groups=self.weight.shape[0])


class RBF(nn.Module):
    """LeNet-5's Euclidean RBF output, y_j = Σ_i (x_i − w_ij)², with fixed weights (a buffer).

    Written as ‖x‖² − 2·x·wⱼ + ‖wⱼ‖² so that the F·out products are one matmul, which
    FlopCounterMode counts as F·out macs; the squared norms are element-wise work.
    """

    def __init__(self, features: int, out: int):
        super().__init__()
        # LeCun's prototypes were ±1 bitmaps of the characters; random ±1 ones stand in
        self.register_buffer("weight", torch.randint(0, 2, (out, features)).float() * 2 - 1)

    def forward(self, x):
        weight = self.weight
        return x.pow(2).sum(1, keepdim=True) - 2 * (x @ weight.t()) + weight.pow(2).sum(1)


class Scale(nn.Module):
    """y = factor · x, a fixed hyper-parameter (Inception-ResNet's residual scaling): an
    element-wise product, which FlopCounterMode does not count, as archcalc counts no macs."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor
