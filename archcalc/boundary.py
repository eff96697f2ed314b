"""The command line's boundary: every exception becomes one located line and a non-zero exit.

* A user error (ArchcalcError) prints its message and exits 2.
* An error of the machine, not of archcalc (a full disk, an unreadable file, no memory, a
  structure too deep to walk) is said in one line too, and exits 2.
* A closed output pipe (``archcalc report x | head -1``) ends quietly, as Unix tools do.
* Anything else is a bug: the line says it is an internal error and how to see the traceback
  (``--debug``); it exits 2 as well.

With ``--debug`` the traceback is printed first, then the same line, with the same status.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from archcalc.errors import ArchcalcError
from archcalc.wording import clip

USER_ERROR = 2
#: the longest line an error message prints (a safety net: values are cut in the messages)
LINE_LIMIT = 600


def guarded(call: Callable[[], Any], debug: bool) -> Any:
    """``call()``, with every exception turned into a message and an exit status."""
    try:
        result = call()
        _flush()  # a full disk or a closed pipe surfaces here, not at exit
        return result
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _say("archcalc: interrupted")
        sys.exit(130)
    except BaseException as error:  # noqa: BLE001 — the boundary: nothing passes as a traceback
        sys.exit(handle(error, debug))


def handle(error: BaseException, debug: bool) -> int:
    """Say what went wrong (the traceback first with ``debug``); returns the exit status."""
    if _closed_pipe(error):
        _silence_stdout()
        return 0
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    message = describe(error)
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EIO, errno.EPIPE):
        _silence_stdout()  # what stays in the buffer can never be written: drop it
    _say(message)
    return USER_ERROR


def describe(error: BaseException) -> str:
    """One line: ``archcalc: error: …`` for errors of the input or the machine, ``archcalc:
    internal error: …`` for archcalc's own."""
    if isinstance(error, ArchcalcError):
        return "archcalc: error: " + "\n".join(clip(line, LINE_LIMIT) for line in str(error).splitlines())
    known = _known(error)
    if known:
        return f"archcalc: error: {known}"
    detail = clip(f"{type(error).__name__}: {error}", LINE_LIMIT).replace("\n", " ")
    return f"archcalc: internal error (a bug in archcalc, please report it): {detail}; run again with --debug for the traceback"


def _known(error: BaseException) -> str | None:
    if isinstance(error, RecursionError):
        return "the input nests too deeply to analyse (a structure nested thousands of levels deep)"
    if isinstance(error, MemoryError):
        return "out of memory (the input asks for more than this machine has)"
    if isinstance(error, ValueError) and "integer string conversion" in str(error):
        return "a number has more than 4,300 digits: too large to write out"
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        what = "cannot write the output" if not error.filename else "cannot read or write it"
        return f"{where}{what}: {error.strerror or error}"
    return None


def _closed_pipe(error: BaseException) -> bool:
    return isinstance(error, BrokenPipeError) or (isinstance(error, OSError) and error.errno == errno.EPIPE and not error.filename)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and not stream.closed:
            stream.flush()


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that Python's flush at exit cannot fail again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _say(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr itself is gone: nothing more can be said
        pass


__all__ = ["USER_ERROR", "describe", "guarded", "handle"]
