"""Where a spec argument points: a file when one exists, else a bundled network by name.

``archcalc report resnet50`` and ``archcalc report torchvision/mobilenet_v2`` read the zoo
that ships inside the package (``archcalc.zoo``, which pyproject.toml maps onto the
repository's ``specs/``); a path that exists always wins. The zoo is discovered by listing
its folder, never from a list written here.
"""

from __future__ import annotations

import difflib
import importlib.util
from functools import cache
from pathlib import Path

from archcalc.errors import SpecError

SUFFIX = ".yaml"
NOT_NETWORKS = ("claims",)  # folders of the zoo that hold claims files, not networks


@cache
def zoo_root() -> Path | None:
    """The bundled specs: a checkout's own ``specs/`` (so an editable install, or a run from the
    repository, reads the specs beside its code), else the installed ``archcalc.zoo``."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "specs").is_dir():
        return checkout / "specs"
    try:
        found = importlib.util.find_spec("archcalc.zoo")
    except ImportError:
        found = None
    locations = list(found.submodule_search_locations or []) if found is not None else []
    return Path(locations[0]) if locations else None


def bundled() -> dict[str, Path]:
    """Every bundled network: its name (the path below the zoo, without ``.yaml``) → its file."""
    root = zoo_root()
    if root is None:
        return {}
    found = {}
    for path in sorted(root.rglob(f"*{SUFFIX}")):
        relative = path.relative_to(root)
        if relative.parts[0] not in NOT_NETWORKS:
            found[relative.with_suffix("").as_posix()] = path
    return found


def resolve_spec(argument: str | Path) -> Path:
    """``argument`` as a file when it exists; else the bundled network of that name (``resnet50``,
    ``torchvision/mobilenet_v2``, ``specs/vgg16.yaml`` from any folder); else a located error
    that names the closest bundled networks."""
    path = Path(argument)
    if path.exists():
        return path
    from archcalc.references import is_reference

    if is_reference(str(argument)):  # torchvision:resnet50 and the like: load_spec imports it
        return path
    zoo = bundled()
    name = _name(str(argument))
    if name in zoo:
        return zoo[name]
    close = difflib.get_close_matches(name, list(zoo), n=3, cutoff=0.6)
    close += [n for n in zoo if n.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1] and n not in close]  # vgg16 → torchvision/vgg16 too
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    message = f"cannot read the file: no such file, and no bundled network of that name{hint} (`archcalc list` shows them)"
    raise SpecError(message, file=str(argument))


def _name(argument: str) -> str:
    """``specs/vgg16.yaml`` → ``vgg16``; ``torchvision/vgg16.yaml`` → ``torchvision/vgg16``."""
    text = argument.replace("\\", "/").removesuffix(SUFFIX)
    return text.removeprefix("./").removeprefix("specs/")
