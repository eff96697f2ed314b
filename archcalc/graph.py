"""Compile a validated Spec into a networkx DiGraph of layers.

Entries are expanded one at a time (``archcalc.language.entries``: loops, conditions, name
templates, expressions in the names of their scope), blocks called (their arguments and
`let`s bound, their input's shape visible as C_in, H_in, W_in), ``repeat`` unrolled,
inline branches of ``concat``/``add`` wired, ``from:`` references resolved (forward
references too, so a cycle is possible and is reported), every shape computed
(``archcalc.shapes``) and the outputs checked (``archcalc.outputs``). Every node gets a
readable dotted path (``layer3.2.conv2``) that the report, the diagram and errors share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archcalc import outputs
from archcalc.dag import LayerGraph
from archcalc.errors import ArchcalcError, GraphError, SpecError, suggest
from archcalc.expressions import ExpressionError
from archcalc.language.entries import EntryError, Instance, expand
from archcalc.language.env import Env, bind_arguments, define, shape_names, value_of
from archcalc.ops import REGISTRY, Op
from archcalc.shapes import Shapes
from archcalc.spec import BlockCall, Source, Spec, dotted, normalised, validate_normal

INPUT = "input"
MAX_NODES = 100_000
#: entries expanded in all (a loop of conditions that are all false adds no layer, but takes time)
MAX_ENTRIES = 1_000_000


@dataclass
class Layer:
    """One node of the graph: an op instance at a path, with its ordered inputs."""

    name: str
    op: Op
    inputs: list[str]
    scopes: tuple[str, ...]  # enclosing block instances and branches, outermost first
    loc: tuple  # where the entry is written in the YAML, for error lines
    training_only: bool = False


@dataclass(frozen=True)
class ScopeInfo:
    """A block instance or an inline branch, for renderers that group layers by scope.

    ``kind`` is the block's name (``bottleneck``) or ``"branch"``. A block written with
    ``repeat: n > 1`` gives n instances ``base.0 … base.(n−1)``: each records ``group``
    (the base path), its ``index`` and the ``count`` n, so a diagram can draw them once, ×n.
    """

    path: str
    kind: str
    group: str | None = None
    index: int = 0
    count: int = 1


@dataclass(eq=False)
class _Ref:
    text: str
    scope: _Scope
    resolved: str | None = None  # fixed when its shape was needed while compiling


@dataclass
class _Scope:
    prefix: str  # "" at top level, else "layer1.0."
    input: str  # the node feeding this scope (`from: input`)
    parent: _Scope | None = None
    names: dict[str, str] = field(default_factory=dict)  # short name → node name
    counters: dict[str, int] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()
    numbered: bool = False  # unnamed layers are named 0, 1, 2, … as nn.Sequential's children
    env: Mapping[str, Any] = field(default_factory=dict)  # the names its expressions see


@dataclass
class Network:
    """The compiled graph, with what the analysis and the renderers need around it."""

    spec: Spec
    source: Source
    dag: LayerGraph
    layers: dict[str, Layer]  # declaration order
    input_shape: tuple
    scopes: dict[str, ScopeInfo] = field(default_factory=dict)  # path → block kind and repeat group
    shapes: dict[str, tuple] = field(default_factory=dict)  # node → output shape (the input's too)
    outputs: dict[str, str] = field(default_factory=dict)  # label → layer, in declared order
    order: list[str] = field(default_factory=list)  # every layer after what it reads, declaration order where free

    @property
    def graph(self):
        """The layer graph as a ``networkx.DiGraph`` (node attribute ``layer``), for users of
        networkx's algorithms; archcalc itself uses ``dag`` and never imports networkx."""
        return self.dag.to_networkx()

    def needs(self, label: str) -> set[str]:
        """The layers an output needs: itself and every layer it reads, directly or not."""
        return outputs.needed(self.dag, self.outputs[label], INPUT)


def compile_spec(spec: Spec, source: Source, input_shape: tuple) -> Network:
    builder = _Builder(spec, source, input_shape)
    try:
        top = _Scope(prefix="", input=INPUT, env=builder.network_env())
        last = builder.sequence(spec.layers, ("layers",), top, INPUT)
    except ArchcalcError as error:
        raise error.located(file=source.file) from None
    builder.resolve()
    dag = builder.to_graph()
    order = dag.topological()
    for name in order:
        builder.shapes.of(name)
    declared = builder.outputs(top, last)
    outputs.check_reached(dag, builder.layers, declared, INPUT, builder.locate_layer, order)
    layer_order = [name for name in order if name != INPUT]
    return Network(spec, source, dag, builder.layers, input_shape, builder.scopes(), builder.shapes.known, declared, layer_order)


class _Builder:
    def __init__(self, spec: Spec, source: Source, input_shape: tuple):
        self.spec = spec
        self.source = source
        self.layers: dict[str, Layer] = {}
        self.scope_entries: dict[tuple, list[tuple[str, str]]] = {}  # entry → its instances (path, kind)
        self.call_stack: list[str] = []
        self.instances: dict[str, str] = {}  # a block instance's full path → its last layer
        self.shapes = Shapes({INPUT: input_shape}, self.layers, source, self._resolve_now)
        self.input_shape = input_shape
        self.expanded = 0

    # --- names the expressions see ------------------------------------------------------------
    def network_env(self) -> Env:
        """Network arguments (a later one may use an earlier one), the input's shape, `let`s."""
        env = Env()
        for key, raw in self.spec.args.items():
            try:
                env.values[key] = value_of(raw, env)
            except ExpressionError as error:
                raise self._locate(SpecError(f"argument {key}: {error}"), ("args", key)) from None
        env.lazy.update(shape_names(lambda: self.input_shape, "the network's input"))
        self._define(env, self.spec.let, ("let",), "the network")
        self.base_env = Env()
        self.base_env.values.update({k: env[k] for k in [*self.spec.args, *self.spec.let]})
        return env

    def _define(self, env: Env, lets: dict, loc: tuple, where: str) -> None:
        for key in lets:
            try:
                define(env, {key: lets[key]}, where)
            except SpecError as error:
                raise self._locate(error, loc + (key,)) from None

    # --- entries ---------------------------------------------------------------------
    def sequence(self, raws: list[Any], loc: tuple, scope: _Scope, prev: str, training: bool = False) -> str:
        """Compile entries one after the other; returns the node the sequence ends on."""
        for index, raw in enumerate(raws):
            entry_loc = loc + (index,)
            for instance in self._expand(raw, entry_loc, scope):
                try:
                    entry = validate_normal(instance.raw, entry_loc)
                except SpecError as error:
                    raise self._locate(error, entry_loc) from None
                last = self.entry(entry, entry_loc, scope, prev, training or entry.training_only, instance)
                if not entry.training_only:  # a training-only side branch does not continue the chain
                    prev = last
        return prev

    def _expand(self, raw: Any, loc: tuple, scope: _Scope) -> list[Instance]:
        try:
            instances = expand(normalised(raw, loc), scope.env, loc)
        except EntryError as error:
            raise self._locate(error, error.loc) from None
        except SpecError as error:
            raise self._locate(error, loc) from None
        self.expanded += max(1, len(instances))
        if self.expanded > MAX_ENTRIES:
            raise self._locate(GraphError(f"the spec expands to more than {MAX_ENTRIES:,} entries"), loc)
        return instances

    def entry(self, entry, loc: tuple, scope: _Scope, prev: str, training: bool, instance: Instance) -> str:
        if entry.repeat == 0:
            return prev
        is_call = isinstance(entry, BlockCall)
        inline = is_call and self._inline(entry)
        if inline and entry.name:
            raise self._locate(GraphError(f"block {entry.kind!r} is inline: its layers join this scope, so a call takes no `name`"), loc)
        base = entry.name or (None if scope.numbered or inline else self._auto_name(scope, entry.kind))
        first_inputs = self._inputs(entry, scope, prev)
        last = prev
        for index in range(entry.repeat):
            if base is None:  # an inline block names nothing; a numbered scope counts each instance
                name = None if inline else self._auto_name(scope, entry.kind)
            else:
                name = base if entry.repeat == 1 else f"{base}.{index}"
            inputs = first_inputs if index == 0 else [last]
            if is_call:
                last = self.block(entry, loc, scope, name, inputs, training, instance.iteration)
            else:
                last = self.op(entry, loc, scope, name, inputs, training, instance.names)
        if entry.repeat > 1 and base is not None:
            self._declare(scope, base, last, loc)
        return last

    def _inline(self, call: BlockCall) -> bool:
        definition = self.spec.blocks.get(call.kind)
        return definition is not None and definition.inline

    def op(self, op: Op, loc: tuple, scope: _Scope, name: str, inputs: list, training: bool, names: Mapping) -> str:
        branches = getattr(op, "branches", None)
        if branches is not None:
            if op.inputs is not None:
                raise self._locate(GraphError(f"{op.kind} takes inline branches or `from:`, found both"), loc)
            inputs = [self.branch(raw, loc + ("branches", k), scope, inputs[0], training, names) for k, raw in enumerate(branches)]
        if op.arity == 1 and len(inputs) != 1:
            raise self._locate(GraphError(f"{op.kind} takes one input, found {len(inputs)} in `from:`"), loc)
        if op.arity is None and len(inputs) < 2:
            raise self._locate(GraphError(f"{op.kind} merges two or more inputs, found {len(inputs)}"), loc)
        full = self._declare(scope, name, None, loc)
        self.layers[full] = Layer(full, op, inputs, scope.scopes, loc, training)
        if len(self.layers) > MAX_NODES:
            raise self._locate(GraphError(f"the network expands to more than {MAX_NODES} layers"), loc)
        return full

    def branch(self, raw: Any, loc: tuple, scope: _Scope, start: str, training: bool, names: Mapping) -> str:
        """One inline branch: a list of entries, or `identity` / [] for the input itself; its
        entries see the names of the entry that holds it (its loop's names too)."""
        if raw == "identity" or raw == []:
            return start
        if not isinstance(raw, list):
            raw = [raw]
        name = self._auto_name(scope, "branch")
        self._declare(scope, name, "", loc)  # reserved: a branch is addressed through its layers
        inner = _Scope(scope.prefix + name + ".", start, scope, scopes=scope.scopes + (scope.prefix + name,), env=names)
        self.note_scope(scope.prefix + name, "branch", ("branch", scope.prefix + name))
        return self.sequence(raw, loc, inner, start, training)

    def block(self, call: BlockCall, loc: tuple, scope: _Scope, name: str | None, inputs: list, training: bool, iteration: int) -> str:
        """Expand a block call: in a scope of its own named ``name``, or, for an ``inline``
        block (``name`` None), in the caller's scope as if its layers were written there."""
        definition = self.spec.blocks.get(call.kind)
        if definition is None:
            known = list(REGISTRY) + list(self.spec.blocks)
            raise self._locate(SpecError(f"unknown op or block {call.kind!r}{suggest(call.kind, known)}"), loc)
        if call.kind in self.call_stack:
            raise self._locate(GraphError(f"block {call.kind!r} uses itself (via {' → '.join(self.call_stack)})"), loc)
        if len(inputs) != 1:
            raise self._locate(GraphError(f"a block takes one input, found {len(inputs)} in `from:`"), loc)
        full = None if name is None else scope.prefix + name
        env = self._block_env(call, definition, inputs[0], loc, full)
        if full is None:  # inline: the caller's names and numbering, but `input` is this call's input
            inner = _Scope(scope.prefix, inputs[0], scope.parent, scope.names, scope.counters, scope.scopes, scope.numbered, env)
        else:
            inner = _Scope(full + ".", inputs[0], None, scopes=scope.scopes + (full,), numbered=definition.numbered, env=env)
        body_loc = ("blocks", call.kind, "layers")
        self.call_stack.append(call.kind)
        if full is not None:  # the instances of one entry's `repeat` share (enclosing scope, entry, loop pass)
            self.note_scope(full, call.kind, (scope.prefix, loc, iteration))
        try:
            last = self.sequence(definition.layers, body_loc, inner, inputs[0], training)
        except ArchcalcError as error:
            if full and " (in " not in error.message:  # name the innermost instance only
                error.message += f" (in {full})"
            raise
        finally:
            self.call_stack.pop()
        if name is not None:
            self._declare(scope, name, last, loc)
            self.instances[full] = last  # `from: backbone.layer3` from outside the instance's scope
        return last

    def _block_env(self, call: BlockCall, definition, source, loc: tuple, full: str | None) -> Env:
        """Network arguments and `let`s, shadowed by the input's shape (C_in …), the block's
        arguments and its own `let`s."""
        env = Env(self.base_env)
        what = f"the input of {full or call.kind}"
        env.lazy.update(shape_names(lambda: self.shapes.of(self._resolve_now(source, loc)), what))
        try:
            bind_arguments(env, definition.args, call.args, call.kind)
        except SpecError as error:
            raise self._locate(error, loc) from None
        self._define(env, definition.let, ("blocks", call.kind, "let"), f"block {call.kind}")
        return env

    # --- scopes, for renderers -------------------------------------------------------------
    def note_scope(self, path: str, kind: str, entry: tuple) -> None:
        self.scope_entries.setdefault(entry, []).append((path, kind))

    def scopes(self) -> dict[str, ScopeInfo]:
        infos = {}
        for members in self.scope_entries.values():
            group = _group_path([path for path, _ in members]) if len(members) > 1 else None
            for index, (path, kind) in enumerate(members):
                infos[path] = ScopeInfo(path, kind, group, index, len(members))
        return infos

    # --- names -------------------------------------------------------------------------
    def _auto_name(self, scope: _Scope, kind: str) -> str:
        """conv1, relu2, … per kind; in a numbered scope 0, 1, 2, … whatever the kind."""
        counter = "" if scope.numbered else kind
        while True:
            scope.counters[counter] = scope.counters.get(counter, 0) + 1
            candidate = str(scope.counters[counter] - 1) if scope.numbered else f"{kind}{scope.counters[counter]}"
            if candidate not in scope.names:
                return candidate

    def _declare(self, scope: _Scope, name: str, target: str | None, loc: tuple) -> str:
        """Register ``name`` in ``scope`` (as the node itself, or as an alias of ``target``,
        e.g. a block instance of its last layer); returns the full name."""
        full = scope.prefix + name
        if name == INPUT or not name or any(c.isspace() for c in name):
            raise self._locate(GraphError(f"{name!r} is not a usable layer name"), loc)
        if name in scope.names or full in self.layers:
            raise self._locate(GraphError(f"duplicate layer name {full!r}"), loc)
        scope.names[name] = full if target is None else target
        return full

    def _inputs(self, entry, scope: _Scope, prev: str) -> list:
        if entry.inputs is None:
            return [prev]
        return [_Ref(text, scope) for text in entry.inputs]

    def resolve(self) -> None:
        """Resolve every `from:` once all names are known (forward references allowed)."""
        for layer in self.layers.values():
            layer.inputs = [self._resolve(ref, layer) if isinstance(ref, _Ref) else ref for ref in layer.inputs]

    def _resolve(self, ref: _Ref, layer: Layer) -> str:
        found = self._lookup(ref)
        if found is not None:
            return found
        known = list(ref.scope.names) + [INPUT]
        error = GraphError(f"`from: {ref.text}` names no layer{suggest(ref.text, known)}")
        return self._raise_at(error, layer)

    def _lookup(self, ref: _Ref | str) -> str | None:
        """The node a reference names, among the layers declared so far (None: none yet)."""
        if isinstance(ref, str):
            return ref
        if ref.resolved is not None:
            return ref.resolved
        scope: _Scope | None = ref.scope
        while scope is not None:
            if ref.text == INPUT:
                return self._lookup(scope.input)
            target = scope.names.get(ref.text)
            if isinstance(target, _Ref):
                return self._lookup(target)
            if target and target in self.layers:
                return target
            if scope.prefix + ref.text in self.layers:
                return scope.prefix + ref.text
            if scope.prefix + ref.text in self.instances:  # a block instance nested in another
                return self.instances[scope.prefix + ref.text]
            scope = scope.parent
        return ref.text if ref.text in self.layers else None

    def _resolve_now(self, ref: _Ref | str, where: Layer | tuple) -> str:
        """A reference whose shape is needed while compiling: it must name a layer declared
        above it (C_in of a block cannot wait for a layer written further down)."""
        found = self._lookup(ref)
        if found is None:
            error = GraphError(
                f"`from: {ref.text}` names no layer declared so far, but its shape is needed here "
                f"(a block's C_in, H_in, W_in or F_in); declare {ref.text!r} before it"
            )
            raise self._raise_at(error, where) if isinstance(where, Layer) else self._locate(error, where)
        if isinstance(ref, _Ref):
            ref.resolved = found
        return found

    def outputs(self, top: _Scope, last: str) -> dict[str, str]:
        def lookup(text: str) -> str | None:
            return self._lookup(_Ref(text, top)) if text != INPUT else None

        try:
            return outputs.declared(self.spec.outputs, last, lookup, list(top.names))
        except outputs.OutputError as error:
            raise self._locate(error, error.loc) from None

    def locate_layer(self, error: ArchcalcError, name: str) -> ArchcalcError:
        return self._raise_at(error, self.layers[name])

    def _raise_at(self, error: ArchcalcError, layer: Layer):
        raise error.located(
            file=self.source.file_of(layer.loc), line=self.source.line(layer.loc), path=f"{dotted(layer.loc)} ({layer.name})"
        )

    def _locate(self, error: ArchcalcError, loc: tuple) -> ArchcalcError:
        return error.located(file=self.source.file_of(loc), line=self.source.line(loc), path=dotted(loc))

    # --- graph ---------------------------------------------------------------------------
    def to_graph(self) -> LayerGraph:
        graph = LayerGraph()
        graph.add_node(INPUT)
        for name, layer in self.layers.items():  # every node first: insertion order is declaration order
            graph.add_node(name, layer=layer)
        for name, layer in self.layers.items():
            for source in layer.inputs:
                graph.add_edge(source, name)
        cycle = graph.find_cycle()
        if cycle is None:
            return graph
        path = " → ".join([*cycle, cycle[0]])
        first = self.layers[cycle[0]]
        raise self._locate(GraphError(f"the layers form a cycle: {path}"), first.loc)


def _group_path(paths: list[str]) -> str:
    """The name the instances of one `repeat` share: ``layer1`` for ``layer1.0 … layer1.2``;
    ``a.3–5`` when they were named one by one."""
    suffixes = [f".{index}" for index in range(len(paths))]
    bases = {path[: -len(suffix)] for path, suffix in zip(paths, suffixes, strict=True) if path.endswith(suffix)}
    if len(bases) == 1 and all(path.endswith(suffix) for path, suffix in zip(paths, suffixes, strict=True)):
        return bases.pop()
    return f"{paths[0]}–{paths[-1].rsplit('.', 1)[-1]}"
