"""The PyTorch modules that have no ready-made ``torch.nn`` form: merges, LeNet-5's
connection-table conv, trainable subsampling and RBF output, resizing and cropping, channel
slices, and the channels-last layers of ConvNeXt (LayerNorm2d, Linear on each position,
layer scale).

Parameter names and shapes are torchvision's (``weight``/``bias`` of nn.Linear and
nn.LayerNorm, a (C, 1, 1) layer scale), so a torchvision state dict maps onto a spec-built
model layer by layer.

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


class Mul(nn.Module):
    """Element-wise product of two or more tensors, with PyTorch's broadcasting (an SE gate)."""

    def forward(self, *xs):
        out = xs[0] * xs[1]
        for x in xs[2:]:
            out = out * x
        return out


class Resize(nn.Module):
    """F.interpolate to a fixed size, or to the spatial size of a second input."""

    def __init__(self, size: tuple | None, mode: str, align_corners: bool | None):
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners

    def forward(self, x, reference=None):
        size = self.size if reference is None else reference.shape[-2:]
        return F.interpolate(x, size=size, mode=self.mode, align_corners=self.align_corners)


class Crop(nn.Module):
    """x[:, :, top:top + height, left:left + width]; a second input only gave the size."""

    def __init__(self, top: int, left: int, height: int, width: int):
        super().__init__()
        self.top, self.left, self.height, self.width = top, left, height, width

    def forward(self, x, reference=None):
        return x[:, :, self.top : self.top + self.height, self.left : self.left + self.width]


class Slice(nn.Module):
    """Channels start … stop − 1 (a view)."""

    def __init__(self, start: int, stop: int):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x):
        return x[:, self.start : self.stop]


class Chunk(nn.Module):
    """x.chunk(chunks, dim=1)[index], ShuffleNetV2's split (a view)."""

    def __init__(self, chunks: int, index: int):
        super().__init__()
        self.chunks, self.index = chunks, index

    def forward(self, x):
        return x.chunk(self.chunks, dim=1)[self.index]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels at each position of an (N, C, H, W) tensor, as torchvision's
    ConvNeXt writes it (channels last, F.layer_norm, channels first): ``weight``, ``bias`` (C,)."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ChannelLinear(nn.Linear):
    """nn.Linear applied to the channels at each position of an (N, C, H, W) tensor, as on a
    channels-last one (ConvNeXt's block): ``weight`` (out, C), ``bias`` (out,) — computed as the
    1×1 convolution it is. A convolution keeps its input for the backward whatever its memory
    layout; F.linear on the permuted tensor keeps the input itself when it is channels last
    (after a LayerNorm2d) but a channels-last copy of an NCHW one (N·C·H·W more), which no
    static rule could tell apart (archcalc.training)."""

    def forward(self, x):
        return F.conv2d(x, self.weight[:, :, None, None], self.bias)


class LayerScale(nn.Module):
    """y = weight · x, one learnt factor per channel; ``weight`` is (C, 1, 1) as torchvision's
    ConvNeXt stores its ``layer_scale`` (or (F,) on a flat input)."""

    def __init__(self, shape: tuple, init: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full(shape, float(init)))

    def forward(self, x):
        return self.weight * x
