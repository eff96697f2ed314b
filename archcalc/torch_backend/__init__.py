"""The PyTorch backend of ``archcalc run``: the analysed graph as a ``torch.fx.GraphModule``
(build), the checks of every static number against it (checks), and its timing (timing).

torch is an optional extra: nothing here imports it until a function needs it, and then
``require_torch`` turns its absence into a one-line error.
"""

from __future__ import annotations

from archcalc.errors import ArchcalcError


class RunError(ArchcalcError):
    """The run cannot happen as asked (no torch, no such device, a symbolic input)."""


def require_torch():
    try:
        import torch
    except ImportError:
        raise RunError(
            "archcalc run needs PyTorch, which is not installed: pip install -e '.[torch]' in a checkout (or bash scripts/setup --test)"
        ) from None
    return torch
