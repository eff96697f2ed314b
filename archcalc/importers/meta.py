"""Building a model on PyTorch's meta device: every parameter and buffer has its shape and
no storage, so building and tracing cost no memory and no compute (regnet_y_128gf too).

Not ``with torch.device("meta")``: that puts every tensor there, and some builders compute
with tensors (torchvision's RegNet derives its widths with ``.tolist()``, which has no data
on meta). Here only what a module registers moves; the builder's own arithmetic runs on the
CPU as usual, and the weight initialisers then run on meta, for free.
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def on_meta():
    from torch import nn

    module = nn.Module
    register_parameter, register_buffer = module.register_parameter, module.register_buffer

    def parameter_on_meta(self, name, param):
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register_parameter(self, name, param)

    def buffer_on_meta(self, name, tensor, persistent=True):
        register_buffer(self, name, None if tensor is None else tensor.to("meta"), persistent)

    module.register_parameter, module.register_buffer = parameter_on_meta, buffer_on_meta
    try:
        yield
    finally:
        module.register_parameter, module.register_buffer = register_parameter, register_buffer
