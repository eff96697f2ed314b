"""Compiling and analysing without the cyclic garbage collector.

Why: a network's compile and analysis allocate a few hundred small objects per layer that
all stay alive (layers, shapes, fields, counts) and form almost no reference cycles, so the
collector's passes find nothing to free — yet each full pass walks every object alive, and
on a 100,000-layer spec they doubled the cost per layer (46 µs against 21 µs for the compile,
40 against 27 for the analysis: benchmarks/suite.py, depth sweep). Objects without cycles are
still freed at once by reference counting; what cyclic garbage the work leaves is collected
by the collector's next pass once it is enabled again.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def paused(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` run with the collector disabled; its previous state restored after
    (calls nest: only the outermost one enables it again)."""

    @functools.wraps(function)
    def run(*args, **kwargs) -> T:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return run
