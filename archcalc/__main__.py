"""``python -m archcalc`` and the ``archcalc`` command: the CLI, with its imports run while the
cyclic garbage collector waits (archcalc.collector says why: the tens of thousands of objects
that importing click, pydantic and archcalc creates all live as long as the process, so the
collector's passes over them free nothing; they were a twentieth of a cold report), and
without pydantic's plugin loader (see ``without_pydantic_plugins``)."""

import sys
import types

from archcalc.collector import paused

#: the module of pydantic's that finds its plugins (pydantic 2: pydantic/plugin/_loader.py)
PLUGIN_LOADER = "pydantic.plugin._loader"


def without_pydantic_plugins() -> None:
    """What ``PYDANTIC_DISABLE_PLUGINS=__all__`` does, without its cost: pydantic plugins
    observe validations (logfire, for one), and the CLI validates only its own specs, so there
    is nothing for them to see; but finding them imports importlib.metadata and reads every
    installed distribution's entry points — about 25 ms, an eighth of a cold report. The
    loader's module is stood in for by one whose ``get_plugins`` finds none. Only the command
    does this (never ``import archcalc``, so a program that uses archcalc keeps its plugins);
    should pydantic stop importing that module, the stand-in is never read, and nothing else
    changes."""
    if PLUGIN_LOADER not in sys.modules:
        stand_in = types.ModuleType(PLUGIN_LOADER, "archcalc's command: no pydantic plugins")
        stand_in.get_plugins = lambda: ()
        sys.modules[PLUGIN_LOADER] = stand_in


def _cli():
    from archcalc.cli import main

    return main


def run() -> None:
    without_pydantic_plugins()
    paused(_cli)()()


if __name__ == "__main__":
    run()
