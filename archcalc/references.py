"""Whether a command's argument names a model to import (``torchvision:resnet50``,
``timm:NAME``, ``package.module:callable``, ``model.onnx``) rather than a spec file.

Its own module, depending on nothing, because every command asks it of every argument: the
importers (archcalc.importers) are imported only once the answer is yes.
"""

from __future__ import annotations

import re

#: ``package.module:callable`` (dotted names on both sides of one colon)
CALLABLE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_reference(text: str) -> bool:
    text = str(text)
    if text.lower().endswith(".onnx"):
        return True
    if text.startswith(("torchvision:", "timm:")):
        return True
    return bool(CALLABLE.match(text)) and not text.endswith((".yaml", ".yml"))


__all__ = ["CALLABLE", "is_reference"]
