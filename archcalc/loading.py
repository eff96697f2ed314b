"""Reading user files with bounded resources, and the strict YAML loader.

* ``read_text``: a regular file only (a FIFO would block forever, ``/dev/zero`` never ends),
  at most ``MAX_BYTES``, UTF-8.
* ``load_yaml``: PyYAML's safe loader — libyaml's ``CSafeLoader`` when installed (most of a
  big spec's time is in pure-Python scanning; the C loader keeps line marks too) — made strict:
  a key written twice in one mapping is an error naming both lines; ``.nan``, ``.inf`` and
  floats too large for a double (``1.0e309``) are refused; integers past Python's 4,300-digit
  text limit are refused. Before anything is constructed, the node tree is measured with its
  aliases expanded: more than ``MAX_NODES`` nodes (a "billion laughs" file), an alias that
  contains itself, or nesting deeper than ``MAX_DEPTH`` is refused, located.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from archcalc.errors import SpecError
from archcalc.wording import clip

#: the largest spec, claims or timings file read (the bundled specs are a few KB, the claims
#: 26 KB; a written-out 100,000-layer network, issue 16's depth target, is 2.3 MB); what such a
#: file may cost is bounded by MAX_NODES too
MAX_BYTES = 8 * 1024 * 1024
#: YAML nodes after alias expansion (the largest bundled spec has a few thousand)
MAX_NODES = 500_000
#: nesting of YAML lists and mappings (bundled specs nest about ten deep)
MAX_DEPTH = 100
#: Python's own limit on turning text into an int
MAX_DIGITS = 4300

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"
_STR, _INT, _SEQ, _MAP = (f"tag:yaml.org,2002:{name}" for name in ("str", "int", "seq", "map"))


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a pipe (FIFO)"), (stat.S_ISCHR, "a device"), (stat.S_ISSOCK, "a socket"))
    for test, name in kinds:
        if test(mode):
            return name
    return "not a regular file"


def read_text(path: str | Path, limit: int = MAX_BYTES) -> str:
    """The file's text: a regular file of at most ``limit`` bytes, in UTF-8."""
    file = str(path)
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # opening a FIFO must not wait for a writer
    except OSError as error:
        raise SpecError(f"cannot read the file: {error.strerror}", file=file) from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SpecError(f"expected a regular file, found {_kind(mode)}", file=file)
        try:
            data = handle.read(limit + 1)
        except OSError as error:
            raise SpecError(f"cannot read the file: {error.strerror}", file=file) from None
    if len(data) > limit:
        raise SpecError(f"the file is larger than {limit:,} bytes, the most archcalc reads (a spec is a few KB)", file=file)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(f"not UTF-8 text (byte {error.start} cannot be decoded)", file=file) from None


class StrictLoader(_Base):
    """The safe loader with duplicate keys, non-finite floats and huge integers refused."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            _no_duplicates(node)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            found = clip(str(node.value), 60)
            raise _at(node, f"expected a finite number, found {found} (NaN and infinity are not sizes or counts)")
        return value

    def construct_yaml_int(self, node):
        digits = sum(ch.isdigit() for ch in node.value)
        if digits > MAX_DIGITS:
            raise _at(node, f"an integer of {digits:,} digits is too large (at most {MAX_DIGITS:,})")
        return super().construct_yaml_int(node)

    def construct_plain(self, root):
        """``root``'s value if its nodes form a tree of at most MAX_NODES nodes, none deeper
        than MAX_DEPTH; else NOT_A_TREE (``measure``'s walk then names the limit). Counting
        while building spares a long spec a separate walk of its nodes."""
        self._nodes = 0
        try:
            return self.construct_tree(root, 1)
        except _NotATree:
            return NOT_A_TREE

    def construct_tree(self, node, depth):
        """The strings, integers, lists and mappings that make up nearly all of a spec, built
        directly in document order; any other node (a float, a bool, null, a merge key, another
        tag) by the safe constructor as before. PyYAML's general construction (aliases,
        recursive structures, two-step generators) was a third of reading a long spec. Only for
        a tree: a node reached twice (an alias) would be built twice."""
        self._nodes += 1
        if depth > MAX_DEPTH or self._nodes > MAX_NODES:
            raise _NotATree
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            if tag == _STR:
                return node.value
            if tag == _INT:
                return self.construct_yaml_int(node)
        elif isinstance(node, yaml.SequenceNode) and tag == _SEQ:
            return [self.construct_tree(child, depth + 1) for child in node.value]
        elif isinstance(node, yaml.MappingNode) and tag == _MAP and all(_plain_key(key) for key, _ in node.value):
            _no_duplicates(node)
            return {self.construct_tree(key, depth + 1): self.construct_tree(value, depth + 1) for key, value in node.value}
        return self.construct_object(node, deep=True)


class _NotATree(Exception):
    """Raised inside ``construct_tree`` when a limit is passed."""


NOT_A_TREE = object()


def _plain_key(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag in (_STR, _INT)


StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)
StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _at(node: yaml.Node, message: str) -> SpecError:
    """An error at ``node``'s line; ``load_yaml`` adds its path (``args.w``) from the tree."""
    error = SpecError(message, line=_line(node))
    error.node = node
    return error


def path_to(root: yaml.Node, target: yaml.Node) -> str | None:
    """The dotted path of keys and indices from ``root`` to ``target`` (a key node: its own key)."""
    stack: list[tuple[yaml.Node, tuple]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node is target:
            return ".".join(map(str, path)) or None
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, (*path, index)) for index, child in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack.extend([(key, (*path, name)), (value, (*path, name))])
    return None


def _no_duplicates(node: yaml.MappingNode) -> None:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
            continue
        key = (key_node.tag, key_node.value)
        if key in seen:
            name = clip(repr(key_node.value), 80)
            first, again = _line(seen[key]), _line(key_node)
            where = f"on line {first} and again on line {again}"
            if first == again:
                where = f"twice on line {first} (columns {seen[key].start_mark.column + 1} and {key_node.start_mark.column + 1})"
            raise _at(key_node, f"duplicate key {name}: written {where}; a mapping holds each key once")
        seen[key] = key_node


def measure(root: yaml.Node) -> bool:
    """Refuse a tree that expands past MAX_NODES, nests past MAX_DEPTH, or holds an alias
    that contains itself. Iterative, and each node's size is counted once (aliases share
    nodes), so measuring a billion laughs costs as much as its file. True when ``root`` is
    a plain tree (``_plain_tree``), which ``StrictLoader.construct_tree`` can build."""
    if _plain_tree(root):
        return True
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_NODES:
                raise SpecError(f"expands to more than {MAX_NODES:,} YAML nodes (aliases repeating aliases?)", line=_line(node))
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise SpecError("a YAML alias contains itself (an endless structure)", line=_line(node))
        if depth > MAX_DEPTH:
            raise SpecError(f"nests more than {MAX_DEPTH} levels deep", line=_line(node))
        on_path.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node) if id(child) not in sizes)
    return False


def _plain_tree(root: yaml.Node) -> bool:
    """True for what nearly every spec is: a tree (no node reached twice, so no alias) of at
    most MAX_NODES nodes, none deeper than MAX_DEPTH. One visit per node, where ``measure``'s
    general walk makes two and sums sizes (a sixth of reading a 100,000-layer spec); anything
    else — aliases, or a limit passed — is left to that walk, which names where."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH or id(node) in seen or len(seen) >= MAX_NODES:
            return False
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend([(child, depth + 1) for child in node.value])
        elif isinstance(node, yaml.MappingNode):
            stack.extend([(part, depth + 1) for pair in node.value for part in pair])
    return True


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(text: str, file: str) -> tuple[yaml.Node | None, Any]:
    """The root node (for error lines) and the constructed document of ``text``."""
    root = None
    try:
        loader = StrictLoader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None, None
            # without an anchor (no '&' anywhere) there is no alias, so the nodes form a tree
            if "&" not in text or measure(root):
                tree = loader.construct_plain(root)
                if tree is not NOT_A_TREE:
                    return root, tree
                measure(root)  # a limit passed: its walk names which, and where
            return root, loader.construct_document(root)
        finally:
            loader.dispose()
    except SpecError as error:
        node = getattr(error, "node", None)
        path = path_to(root, node) if node is not None and root is not None else None
        raise error.located(file=file, path=clip(path, 120) if path else None) from None
    except RecursionError:  # the pure-Python loader (no libyaml) composes recursively
        raise SpecError(f"nests too deeply to read (more than {MAX_DEPTH} levels)", file=file) from None
    except yaml.YAMLError as error:
        raise _yaml_error(error, file, text) from None


def _yaml_error(error: yaml.YAMLError, file: str, text: str) -> SpecError:
    if isinstance(error, yaml.reader.ReaderError):  # a character YAML does not allow (NUL, most controls)
        line = text.count("\n", 0, error.position) + 1
        code = error.character if isinstance(error.character, int) else ord(error.character)
        return SpecError(f"malformed YAML: the character U+{code:04X} is not allowed in YAML text", file=file, line=line)
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and context_mark:
        problem += f" ({context} on line {context_mark.line + 1})"
    return SpecError(f"malformed YAML: {clip(' '.join(problem.split()))}", file=file, line=mark.line + 1 if mark else None)


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "StrictLoader", "load_yaml", "measure", "read_text"]
