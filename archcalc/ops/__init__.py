"""The op registry: one unit per op kind, looked up by the spec's key.

Registering a kind twice, or looking up a kind nobody registered, raises — an unknown op
is never silently counted as zero.
"""

from __future__ import annotations

from archcalc.errors import SpecError, suggest
from archcalc.ops.activation import (
    ELU,
    GELU,
    Dropout,
    Flatten,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    Identity,
    LeakyReLU,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    StochasticDepth,
    Tanh,
)
from archcalc.ops.adaptive import AdaptiveAvgPool, AdaptiveMaxPool
from archcalc.ops.base import Op, Resampling, Shape, Window
from archcalc.ops.channels import ChannelShuffle, Chunk, Crop, Pad, Slice
from archcalc.ops.conv import Conv
from archcalc.ops.linear import RBF, Linear
from archcalc.ops.merge import Add, Concat, Mul
from archcalc.ops.norm import LRN, BatchNorm, GroupNorm, LayerNorm
from archcalc.ops.pool import AvgPool, GlobalAvgPool, MaxPool, Subsample
from archcalc.ops.resample import ConvTranspose, Upsample
from archcalc.ops.scale import LayerScale, Scale

REGISTRY: dict[str, type[Op]] = {}


def register(cls: type[Op]) -> type[Op]:
    kind = cls.model_fields["kind"].default
    if not isinstance(kind, str):
        raise TypeError(f"{cls.__name__} must declare `kind: Literal[...] = ...`")
    if kind in REGISTRY:
        raise ValueError(f"op kind {kind!r} registered twice ({REGISTRY[kind].__name__} and {cls.__name__})")
    REGISTRY[kind] = cls
    return cls


def lookup(kind: str) -> type[Op]:
    try:
        return REGISTRY[kind]
    except KeyError:
        raise SpecError(f"unknown op {kind!r}{suggest(kind, REGISTRY)}") from None


for _cls in (
    Conv,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    AdaptiveAvgPool,
    Subsample,
    Linear,
    RBF,
    BatchNorm,
    LRN,
    ReLU,
    Tanh,
    Sigmoid,
    Softmax,
    Dropout,
    Identity,
    Flatten,
    Concat,
    Add,
    Scale,
    # issue 11: the vocabulary of networks since 2016
    AdaptiveMaxPool,
    ConvTranspose,
    Upsample,
    Mul,
    ReLU6,
    LeakyReLU,
    PReLU,
    ELU,
    GELU,
    SiLU,
    Hardswish,
    Hardsigmoid,
    Mish,
    Hardtanh,
    LayerNorm,
    GroupNorm,
    LayerScale,
    Slice,
    Chunk,
    ChannelShuffle,
    Pad,
    Crop,
    StochasticDepth,
):
    register(_cls)

__all__ = ["REGISTRY", "Op", "Resampling", "Shape", "Window", "lookup", "register"]
