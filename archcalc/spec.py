"""The spec language: YAML (safe loader only) validated by pydantic.

A layer entry is written ``kind: {fields}`` (or a bare ``kind``). Before validation it is
normalised to ``{"kind": kind, **fields}`` and validated by that op's own model (or as a
block call), located as a discriminated union would locate it: ``layers.3.conv.stride``.
Only the kinds a spec uses have their validators built (the op models' ``defer_build``).
Layer lists inside blocks and branches are validated the same way when the graph builder
reaches them (after block arguments are substituted).
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from archcalc.errors import ArchcalcError, SpecError
from archcalc.expressions import ExpressionError
from archcalc.language.functions import FUNCTIONS
from archcalc.language.values import TYPES, from_yaml
from archcalc.loading import load_yaml, read_text
from archcalc.ops import REGISTRY, Op
from archcalc.ops.base import Names
from archcalc.wording import first_and_rest, shown

#: the most specs one chain of `extends:` may pass through
MAX_EXTENDS = 32
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
COMMON_FIELDS = ("name", "from", "repeat", "training_only", "for", "if")
#: names an argument or `let` cannot take: the input's shape, `input`, the constants
RESERVED = ("C_in", "H_in", "W_in", "F_in", "input", "true", "false", "null")


def _check_names(values: dict[str, Any], what: str, *, types: bool = False) -> dict[str, Any]:
    """Argument and `let` names are identifiers that no op, field, function or constant
    uses; their values are numbers, true/false, text, null or lists (never a mapping)."""
    for name, value in values.items():
        taken = name in REGISTRY or name in COMMON_FIELDS or name in RESERVED or name in FUNCTIONS or keyword.iskeyword(name)
        if not isinstance(name, str) or not IDENTIFIER.match(name) or taken:
            raise ValueError(f"{what} name {shown(name)} must be an identifier that is not an op, a field, a function or a reserved name")
        if types and value == "float":
            raise ValueError(f"argument {shown(name)}: write `number` (archcalc's numbers are exact rationals), not `float`")
        try:
            from_yaml(value)
        except ExpressionError as error:
            raise ValueError(f"{what} {shown(name)}: {error}") from None
    return values


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BlockCall(BaseModel):
    """A use of a user-defined block; every key besides the common ones is an argument."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    kind: str
    name: str | None = None
    inputs: Names | None = Field(default=None, alias="from")
    repeat: Annotated[int, Field(ge=0)] = 1
    training_only: bool = False

    @property
    def args(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class BlockDef(Strict):
    """``args`` maps each argument to a default value, or to a type word when the call must
    give it: ``int``, ``number`` (an exact rational), ``bool``, ``str`` (a word) or ``list``.
    ``let`` names values computed from the arguments and the input's shape (C_in, H_in,
    W_in; F_in for a flat input), in order, each seeing the ones before it.

    ``numbered``: unnamed layers (and unnamed block instances) inside are named 0, 1, 2, …
    in order, as PyTorch names an ``nn.Sequential``'s children. ``inline``: the block is a
    macro: its layers join the caller's scope (and numbering) instead of a scope of their
    own, so a call names nothing; `from: input` inside it is the call's input.
    """

    args: dict[str, Any] = {}
    let: dict[str, Any] = {}
    layers: list[Any] = Field(min_length=1)
    doc: str | None = None
    numbered: bool = False
    inline: bool = False

    @model_validator(mode="after")
    def _one_naming(self):
        if self.numbered and self.inline:
            raise ValueError("a block is either `numbered` (a scope of its own) or `inline` (no scope), not both")
        return self

    @field_validator("args")
    @classmethod
    def _identifiers(cls, args):
        return _check_names(args, "argument", types=True)

    @field_validator("let")
    @classmethod
    def _lets(cls, lets):
        return _check_names(lets, "let")


class Spec(Strict):
    name: str
    source: str | None = None
    notes: str | None = None
    input: list[Annotated[int, Field(gt=0)] | str] = Field(min_length=1, max_length=3)
    #: network-level arguments (with their values) usable in `layers` and every block, e.g.
    #: `repeat: stage3`; a spec that `extends:` another overrides them
    args: dict[str, Any] = {}
    #: values computed from the arguments (and the input's shape), in order
    let: dict[str, Any] = {}
    blocks: dict[str, BlockDef] = {}
    layers: list[Any] = Field(min_length=1)
    #: the layers the network returns: a list, or labels → layers; by default the last layer
    outputs: Annotated[list[str], Field(min_length=1)] | Annotated[dict[str, str], Field(min_length=1)] | None = None

    @field_validator("input")
    @classmethod
    def _names(cls, dims):
        if len(dims) not in (1, 3):
            raise ValueError(f"expected [C, H, W] or [features], found {len(dims)} dimensions")
        for dim in dims:
            if isinstance(dim, str) and not IDENTIFIER.match(dim):
                raise ValueError(f"an input dimension is a positive integer or a name, found {shown(dim)}")
        return dims

    @field_validator("args")
    @classmethod
    def _args(cls, args):
        for name, value in args.items():
            if isinstance(value, str) and value in TYPES:
                raise ValueError(f"network argument {shown(name)} needs a value, found the type word {shown(value)}")
        return _check_names(args, "argument")

    @field_validator("let")
    @classmethod
    def _lets(cls, lets):
        return _check_names(lets, "let")

    @field_validator("blocks")
    @classmethod
    def _block_names(cls, blocks):
        for name in blocks:
            if name in REGISTRY:
                raise ValueError(f"block name {shown(name)} is already an op")
        return blocks

    @model_validator(mode="after")
    def _names_apart(self):
        """An argument may name an op (`- act`), so no argument or `let` is called like a block."""
        scopes = [("network", self.args), ("network", self.let)]
        scopes += [(f"block {name}", names) for name, block in self.blocks.items() for names in (block.args, block.let)]
        for where, names in scopes:
            clash = [name for name in names if name in self.blocks]
            if clash:
                raise ValueError(f"{where}: {shown(clash[0])} is both an argument (or let) and a block")
        return self


# --- layer entries -------------------------------------------------------------------
def normalise_entry(raw: Any) -> Any:
    """``relu`` / ``{conv: {...}}`` / ``{concat: [[...], [...]]}`` → ``{"kind": ..., ...}``."""
    if isinstance(raw, str):
        return {"kind": raw}
    if isinstance(raw, dict) and len(raw) == 1:
        ((kind, fields),) = raw.items()
        if fields is None:
            return {"kind": kind}
        if isinstance(fields, list):
            return {"kind": kind, "branches": fields}
        if isinstance(fields, dict):
            if "kind" in fields:
                raise ValueError("`kind` is not a field; the key before the fields names the op")
            return {"kind": kind, **fields}
        raise ValueError(f"expected fields of {shown(kind)} as a mapping, found {type(fields).__name__} {shown(fields)}")
    if isinstance(raw, dict):
        keys = ", ".join(map(str, raw))
        raise ValueError(f"expected one key naming the op (`conv: {{...}}`), found several: {keys}; indent the fields under the op")
    raise ValueError(f"expected a layer (`relu` or `conv: {{...}}`), found {shown(raw)}")


def _tag(value: Any) -> str:
    if isinstance(value, dict):
        kind = value.get("kind")
        return kind if kind in REGISTRY else "block"
    return "block"


Entry = Union[Op, BlockCall]  # noqa: UP007


def normalised(raw: Any, loc: tuple) -> dict[str, Any]:
    """``normalise_entry``, with its error located at ``loc``."""
    try:
        return normalise_entry(raw)
    except ValueError as error:
        raise SpecError(str(error), path=dotted(loc)) from None


def validate_entry(raw: Any, loc: tuple) -> Entry:
    """Validate one layer entry; errors come back as SpecError located at ``loc``."""
    return validate_normal(normalised(raw, loc), loc)


def validate_normal(normal: dict[str, Any], loc: tuple) -> Entry:
    """Validate a normalised entry (``{"kind": …, **fields}``), located at ``loc``."""
    tag = _tag(normal)
    # the op's own model, not a union of every kind: only the kinds a spec uses get their
    # validators built (Op's defer_build); errors are located under the tag as a tagged
    # union locates them (``layers.3.conv.stride``)
    model = REGISTRY[tag] if tag != "block" else BlockCall
    try:
        return model.model_validate(normal, strict=True)
    except ValidationError as error:
        problem = pydantic_error(error, loc + (tag,), normal, lambda at: _known_fields((tag, *at)))
        if tag == "block":  # the union's tag for a block call is the user's block name
            at, written = dotted(loc) + ".block", dotted(loc) + f".{normal.get('kind')}"
            problem.path = problem.path.replace(at, written, 1) if problem.path else problem.path
            problem.message = problem.message.replace(at, written)
        raise problem from None


# --- loading -----------------------------------------------------------------------
class Source:
    """The YAML node trees behind a spec (its own file and any it `extends`), to map a
    path such as ``layers.3.conv`` to the file and line that wrote it."""

    def __init__(self, file: str, root: yaml.Node | None):
        self.file = file
        self.documents: dict[str, yaml.Node | None] = {file: root}
        self.owners: dict[tuple, str] = {}  # ("layers",) or ("blocks", name) → file

    def file_of(self, loc: tuple) -> str:
        return self.owners.get(tuple(loc[:2]), self.owners.get(tuple(loc[:1]), self.file))

    def line(self, loc: tuple) -> int | None:
        node, best = self.documents.get(self.file_of(loc)), None
        for key in loc:
            if node is None:
                break
            best = node.start_mark.line + 1
            node = _child(node, key)
        if node is not None:
            best = node.start_mark.line + 1
        return best

    def locate(self, error: SpecError, loc: tuple) -> SpecError:
        return self.blame(error.located(file=self.file_of(loc), line=self.line(loc)))

    def blame(self, error: ArchcalcError) -> ArchcalcError:
        """An error located in a spec this one `extends` also names this one: the user ran it."""
        if error.file and error.file != self.file and error.file in self.documents and not getattr(error, "blamed", False):
            error.message += f" (inherited by {self.file} through `extends:`)"
            error.blamed = True
        return error


def _child(node: yaml.Node, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return node.value[key]
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return value_node
        # an op entry `{conv: {...}}` is one mapping deeper than its normalised form
        if len(node.value) == 1:
            return _child(node.value[0][1], key)
    return None


def load_spec(path: str | Path) -> tuple[Spec, Source]:
    """Load, resolve `extends:`, and validate a spec file (or the spec imported from a model
    reference such as torchvision:resnet50: archcalc/importers)."""
    path = _imported(path)
    data, source = _load_document(Path(path), ())
    try:
        spec = Spec.model_validate(data, strict=True)
    except ValidationError as error:
        problem = pydantic_error(error, (), data)
        raise source.locate(problem, problem.loc) from None
    return spec, source


def _imported(path: str | Path) -> str | Path:
    from archcalc.references import is_reference  # without importing the importers

    if not is_reference(str(path)):
        return path
    from archcalc.importers import spec_path

    return spec_path(path)


def _load_document(path: Path, chain: tuple[Path, ...]) -> tuple[dict, Source]:
    file = str(path)
    root, data = parse_yaml(path)
    source = Source(file, root)
    if not isinstance(data, dict):
        raise SpecError(f"expected a mapping with name, input and layers, found {type(data).__name__}", file=file, line=1)
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return data, source
    if not isinstance(parent_name, str):
        raise SpecError(f"extends: expected a path to another spec, found {shown(parent_name)}", file=file, line=source.line(("extends",)))
    line = source.line(("extends",))
    parent_path = (path.parent / Path(parent_name)).resolve()  # relative: to this spec's folder, wherever archcalc runs
    if parent_path in chain or parent_path == path.resolve():
        raise SpecError(f"extends: {shown(parent_name)} extends this spec again (a cycle)", file=file, line=line)
    if len(chain) >= MAX_EXTENDS:
        raise SpecError(f"extends: more than {MAX_EXTENDS} specs extend one another in a chain", file=file, line=line)
    if not parent_path.exists():
        raise SpecError(f"extends: expected a spec file, found nothing at {parent_path}", file=file, line=line)
    try:
        parent, parent_source = _load_document(parent_path, chain + (path.resolve(),))
    except ArchcalcError as error:
        if error.file == str(parent_path) and not getattr(error, "blamed", False):  # the parent's own text: name both
            error.message += f" (in the spec that {file}:{line} extends)"
            error.blamed = True
        raise
    return _inherit(data, parent, source, parent_source), source


def _inherit(child: dict, parent: dict, source: Source, parent_source: Source) -> dict:
    """The child's keys replace the parent's; `args` and `blocks` merge entry by entry.
    Every part remembers the file it came from, so errors point at the right file."""
    merged = {**parent, **child}
    owners = {(key,): source.file if key in child else parent_source.file_of((key,)) for key in merged}
    for key in ("args", "let", "blocks"):
        mine, theirs = child.get(key), parent.get(key)
        if isinstance(mine, dict) and isinstance(theirs, dict):
            merged[key] = {**theirs, **mine}
        for name in merged.get(key) or {}:
            in_child = isinstance(mine, dict) and name in mine
            owners[(key, name)] = source.file if in_child else parent_source.file_of((key, name))
    source.documents.update(parent_source.documents)
    source.owners = owners
    return merged


def parse_yaml(path: Path) -> tuple[yaml.Node | None, Any]:
    """The root node and document of a YAML file, read with bounded resources (archcalc.loading)."""
    return load_yaml(read_text(path), str(path))


# --- error wording -----------------------------------------------------------------------
def dotted(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def pydantic_error(error: ValidationError, prefix: tuple, data: Any, known_of=None) -> SpecError:
    """Pydantic's errors in archcalc's words (archcalc.wording): the first problem located
    at its path (``.loc``, for its line), the others listed after it."""
    loc, message = first_and_rest(error, prefix, known_of or _known_fields)
    result = SpecError(message, path=dotted(loc))
    result.loc = loc
    return result


def _known_fields(loc: tuple) -> list[str]:
    for part in reversed(loc[:-1]):
        if isinstance(part, str) and part in REGISTRY:
            return [f.alias or name for name, f in REGISTRY[part].model_fields.items() if name != "kind"] + ["for", "if"]
    if len(loc) == 3 and loc[0] == "blocks":
        return list(BlockDef.model_fields)
    return list(Spec.model_fields)
