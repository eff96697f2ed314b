"""The torchvision builders that specs/torchvision/ reproduces, as data, and how to build
them without computing anything (shared by the parity and transplant tests).

A new torchvision spec is ``specs/torchvision/NAME.yaml`` plus one line in ``MODELS``
(and its name out of ``PENDING``): the parity and transplant tests pick it up from there.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
import torchvision

from tests.conftest import ROOT

SPECS = ROOT / "specs" / "torchvision"
Size = tuple[int, int]

#: the transformers of torchvision.models: not convolutional networks, no spec planned
TRANSFORMERS = ("vit_", "swin_", "maxvit")
SEGMENTATION = frozenset(torchvision.models.list_models(module=torchvision.models.segmentation))


@dataclass(frozen=True)
class Documented:
    """The configuration that torchvision's weights document, where it is not the builder's
    default: what a spec extending NAME.yaml overrides (YAML) and the builder's arguments.
    The segmentation weights come with the auxiliary head (loading them sets aux_loss=True),
    so their num_params and _ops count it."""

    spec: str
    kwargs: dict


@dataclass(frozen=True)
class Builder:
    """How a builder is tested.

    standard: its default input size (the weights' crop size); other: a second, valid,
    non-square size where the adaptive pools no longer see their target grid; aux: the
    top-level modules of its auxiliary heads (training-only layers in the spec); kwargs:
    builder arguments beyond ``weights=None``; small: the input of the transplant test
    (float64, so as small as the model allows while every stage still sees a non-square map;
    VGG and AlexNet: large enough that the classifier's flatten sees more than one position;
    the segmentation models: large enough that the first atrous rate, 12, reaches into the
    map); documented: the configuration the weights' documentation counts, if not this one.
    """

    standard: Size
    other: Size
    aux: tuple[str, ...] = ()
    kwargs: dict = field(default_factory=dict)
    small: Size = (32, 48)
    documented: Documented | None = None


#: a segmentation spec's aux head turned on: its second output, as torchvision returns {"out", "aux"}
SEGMENTATION_AUX = Documented("args: {aux_loss: true}\noutputs: {out: upsample1, aux: upsample2}\n", {"aux_loss": True})
AUX_ON = {"aux_logits": True, "init_weights": False}  # GoogLeNet and Inception-v3 with their aux heads

MODELS: dict[str, Builder] = {
    "alexnet": Builder((224, 224), (256, 320), small=(64, 96)),
    "vgg11": Builder((224, 224), (160, 200), small=(64, 96)),
    "vgg11_bn": Builder((224, 224), (160, 200), small=(64, 96)),
    "vgg13": Builder((224, 224), (160, 200), small=(64, 96)),
    "vgg13_bn": Builder((224, 224), (160, 200), small=(64, 96)),
    "vgg16": Builder((224, 224), (160, 200), small=(64, 96)),
    "vgg16_bn": Builder((224, 224), (160, 200), small=(64, 96)),
    "vgg19": Builder((224, 224), (160, 200), small=(64, 96)),
    "vgg19_bn": Builder((224, 224), (160, 200), small=(64, 96)),
    "googlenet": Builder((224, 224), (256, 200), aux=("aux1", "aux2"), kwargs=AUX_ON),
    "inception_v3": Builder((299, 299), (342, 320), aux=("AuxLogits",), kwargs=AUX_ON, small=(80, 96)),
    "resnet18": Builder((224, 224), (192, 160)),
    "resnet34": Builder((224, 224), (192, 160)),
    "resnet50": Builder((224, 224), (192, 160)),
    "resnet101": Builder((224, 224), (192, 160)),
    "resnet152": Builder((224, 224), (192, 160)),
    "resnext50_32x4d": Builder((224, 224), (192, 160)),
    "resnext101_32x8d": Builder((224, 224), (192, 160)),
    "resnext101_64x4d": Builder((224, 224), (192, 160)),
    "wide_resnet50_2": Builder((224, 224), (192, 160)),
    "wide_resnet101_2": Builder((224, 224), (192, 160)),
    "squeezenet1_0": Builder((224, 224), (256, 240)),
    "squeezenet1_1": Builder((224, 224), (256, 240)),
    "mobilenet_v2": Builder((224, 224), (200, 264)),
    "mobilenet_v3_large": Builder((224, 224), (200, 264)),
    "mobilenet_v3_small": Builder((224, 224), (200, 264)),
    "shufflenet_v2_x0_5": Builder((224, 224), (256, 320)),
    "shufflenet_v2_x1_0": Builder((224, 224), (256, 320)),
    "shufflenet_v2_x1_5": Builder((224, 224), (256, 320)),
    "shufflenet_v2_x2_0": Builder((224, 224), (256, 320)),
    "densenet121": Builder((224, 224), (256, 320)),
    "densenet161": Builder((224, 224), (256, 320)),
    "densenet169": Builder((224, 224), (256, 320)),
    "densenet201": Builder((224, 224), (256, 320)),
    "mnasnet0_5": Builder((224, 224), (200, 264)),
    "mnasnet0_75": Builder((224, 224), (200, 264)),
    "mnasnet1_0": Builder((224, 224), (200, 264)),
    "mnasnet1_3": Builder((224, 224), (200, 264)),
    "lraspp_mobilenet_v3_large": Builder((520, 520), (200, 264)),
    "deeplabv3_mobilenet_v3_large": Builder((520, 520), (375, 500), small=(64, 128), documented=SEGMENTATION_AUX),
    "fcn_resnet50": Builder((520, 520), (375, 500), small=(64, 128), documented=SEGMENTATION_AUX),
    "fcn_resnet101": Builder((520, 520), (375, 500), small=(64, 128), documented=SEGMENTATION_AUX),
    "deeplabv3_resnet50": Builder((520, 520), (375, 500), small=(64, 128), documented=SEGMENTATION_AUX),
    "deeplabv3_resnet101": Builder((520, 520), (375, 500), small=(64, 128), documented=SEGMENTATION_AUX),
    "regnet_x_400mf": Builder((224, 224), (256, 320)),
    "regnet_x_800mf": Builder((224, 224), (256, 320)),
    "regnet_x_1_6gf": Builder((224, 224), (256, 320)),
    "regnet_x_3_2gf": Builder((224, 224), (256, 320)),
    "regnet_x_8gf": Builder((224, 224), (256, 320)),
    "regnet_x_16gf": Builder((224, 224), (256, 320)),
    "regnet_x_32gf": Builder((224, 224), (256, 320)),
    "regnet_y_400mf": Builder((224, 224), (256, 320)),
    "regnet_y_800mf": Builder((224, 224), (256, 320)),
    "regnet_y_1_6gf": Builder((224, 224), (256, 320)),
    "regnet_y_3_2gf": Builder((224, 224), (256, 320)),
    "regnet_y_8gf": Builder((224, 224), (256, 320)),
    "regnet_y_16gf": Builder((224, 224), (256, 320)),
    "regnet_y_32gf": Builder((224, 224), (256, 320)),
    "regnet_y_128gf": Builder((224, 224), (256, 320)),
    "efficientnet_b0": Builder((224, 224), (256, 320)),
    "efficientnet_b1": Builder((240, 240), (256, 320)),
    "efficientnet_b2": Builder((288, 288), (256, 320)),
    "efficientnet_b3": Builder((300, 300), (256, 320)),
    "efficientnet_b4": Builder((380, 380), (256, 320)),
    "efficientnet_b5": Builder((456, 456), (256, 320)),
    "efficientnet_b6": Builder((528, 528), (256, 320)),
    "efficientnet_b7": Builder((600, 600), (256, 320)),
    "efficientnet_v2_s": Builder((384, 384), (256, 320)),
    "efficientnet_v2_m": Builder((480, 480), (256, 320)),
    "efficientnet_v2_l": Builder((480, 480), (256, 320)),
    "convnext_tiny": Builder((224, 224), (256, 320)),
    "convnext_small": Builder((224, 224), (256, 320)),
    "convnext_base": Builder((224, 224), (256, 320)),
    "convnext_large": Builder((224, 224), (256, 320)),
}

#: torchvision's CNN builders that have no spec yet (issue 12): each leaves this set for a
#: line in MODELS when its spec lands
PENDING: frozenset[str] = frozenset()


def cnn_builders() -> set[str]:
    """Every convolutional builder of torchvision.models and torchvision.models.segmentation."""
    classification = torchvision.models.list_models(module=torchvision.models)
    return {name for name in classification if not name.startswith(TRANSFORMERS)} | SEGMENTATION


def build(name: str, meta: bool = True) -> torch.nn.Module:
    """torchvision's model with ``weights=None``; on the meta device unless ``meta=False``:
    every parameter and buffer has its shape and no storage, so a forward pass costs no compute."""
    kwargs = dict(MODELS[name].kwargs) if name in MODELS else {}
    if name in SEGMENTATION:
        kwargs.setdefault("weights_backbone", None)  # the default would download ImageNet weights
    with on_meta() if meta else contextlib.nullcontext():
        return torchvision.models.get_model(name, weights=None, **kwargs)


@contextlib.contextmanager
def on_meta():
    """Parameters and buffers go to the meta device as modules register them.

    Not ``with torch.device("meta")``: that puts every tensor on meta, and the RegNet
    builders compute their stage widths with torch tensors (``.tolist()`` has no data on
    meta). Here only what a module registers moves; the builders' own arithmetic runs on
    the CPU as usual, and the weight initialisers then run on meta, for free.
    """
    module = torch.nn.Module
    register_parameter, register_buffer = module.register_parameter, module.register_buffer

    def parameter_on_meta(self, name, param):
        if param is not None and param.device.type != "meta":
            param = torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register_parameter(self, name, param)

    def buffer_on_meta(self, name, tensor, persistent=True):
        register_buffer(self, name, None if tensor is None else tensor.to("meta"), persistent)

    module.register_parameter, module.register_buffer = parameter_on_meta, buffer_on_meta
    try:
        yield
    finally:
        module.register_parameter, module.register_buffer = register_parameter, register_buffer
