"""``python -m archcalc`` and the ``archcalc`` command: the CLI, with its imports run while the
cyclic garbage collector waits (archcalc.collector says why: the tens of thousands of objects
that importing click, pydantic and archcalc creates all live as long as the process, so the
collector's passes over them free nothing; they were a twentieth of a cold report)."""

from archcalc.collector import paused


def _cli():
    from archcalc.cli import main

    return main


def run() -> None:
    paused(_cli)()()


if __name__ == "__main__":
    run()
