"""What a traced value stands for while the PyTorch front end walks the graph.

A tensor is the output of an archcalc layer (``Tensor``) in one of three layouts: a feature
map (``chw``), the same map permuted channels-last (``hwc``: ConvNeXt's LayerNorm and Linear
act on the last axis there, archcalc's `layernorm` and `linear` act on the channels — the
same function, so a permute itself is no layer), or a vector (``flat``). A model's own
tensor (``Param``: a get_attr, maybe reshaped) becomes part of the layer that uses it. The
other refs are the middle of a pattern (channel shuffle's view–transpose–view, the parts of
a chunk or split) or a number the model computed from a tensor's shape (``Size``), which
is how a size stays symbolic (``F.interpolate(x, size=input.shape[-2:])``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tensor:
    name: str
    layout: str = "chw"  # chw, hwc, flat


@dataclass(frozen=True)
class Param:
    key: str  # the model's state_dict key


@dataclass(frozen=True)
class Size:
    """A number or tuple computed from the shape of ``of``."""

    of: Tensor


@dataclass(frozen=True)
class Shuffle:
    """x.view(N, g, C/g, H, W), and then transposed (1, 2): channel shuffle's first two steps."""

    of: Tensor
    groups: int
    transposed: bool = False


@dataclass(frozen=True)
class Parts:
    """x.chunk(n, 1) or x.split(sizes, 1) before getitem picks one part."""

    of: Tensor
    kind: str  # chunk, split
    spec: Any  # chunks, or the list of part sizes


@dataclass(frozen=True)
class Unknown:
    """The value of an operation already reported as unsupported: whatever uses it is not reported again."""


UNKNOWN = Unknown()
