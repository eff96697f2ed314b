"""``python -m archcalc`` and the ``archcalc`` command: the CLI, with its imports run while the
cyclic garbage collector waits (archcalc.collector says why: the tens of thousands of objects
that importing click, pydantic and archcalc creates all live as long as the process, so the
collector's passes over them free nothing; they were a twentieth of a cold report)."""

import gc


def run() -> None:
    collecting = gc.isenabled()
    gc.disable()
    try:
        from archcalc.cli import main
    finally:
        if collecting:
            gc.enable()
    main()


if __name__ == "__main__":
    run()
