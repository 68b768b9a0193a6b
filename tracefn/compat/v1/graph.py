"""TF1 graphs on tracefn's IR: ``Graph``, the default graph, name scopes, control dependencies.

A ``Graph`` wraps a ``GraphTrace`` (a ``tracing.Trace`` of kind ``"graph"``). While the graph is
the default (``with g.as_default():``, or for the rest of the thread after
``disable_eager_execution()``) its trace is on the thread's trace stack, so every op built
through ``bind`` is recorded as an IR op instead of being executed. A ``Session`` later prunes
the graph to what its fetches need and runs that subgraph as one compiled program.

Unlike eager mode and ``function``, graph mode makes names unique per graph (spec C5): name
scopes ``ns``, ``ns_1``; variables ``Variable``, ``Variable_1``; ops ``add``, ``add_1``. Ops,
name scopes and variables share one namespace, as in TF (``Graph.unique_name``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ... import tracing
from ...errors import InvalidArgumentError
from ...ir import Op, Primitive, TensorType, pretty, register
from ...tensor import SymbolicTensor
from ...tracing import Trace, _tls, scope_prefix

__all__ = [
    "Graph", "GraphTensor", "Operation", "get_default_graph", "reset_default_graph",
    "disable_eager_execution", "enable_eager_execution", "executing_eagerly", "building_graph",
]  # fmt: skip


# ----------------------------------------------------------------------------- primitives


def _no_lowering(ctx, op, ins):
    return []


def _unfed_placeholder(ctx, op, ins):
    raise InvalidArgumentError(placeholder_message(op))


def placeholder_message(op: Op) -> str:
    t = op.outputs[0].type
    dims = "<unknown>" if t.shape is None else ",".join("?" if d is None else str(d)
                                                        for d in t.shape)  # fmt: skip
    shape = dims if t.shape is None else f"[{dims}]"
    dtype = {"float32": "float", "float64": "double"}.get(t.dtype.name, t.dtype.name)
    return (f"You must feed a value for placeholder tensor '{op.name}' with dtype {dtype} and "
            f"shape {shape}\n\t [[{{{{node {op.name}}}}}]]")  # fmt: skip


# A TF1 ``NoOp``: no inputs or outputs; it exists to carry control dependencies (``group``,
# ``global_variables_initializer``, train ops).
no_op_p = register(Primitive("no_op", lower=_no_lowering, abstract_eval=lambda types, a: ()))
# A value the session must feed. The session replaces fed values by program inputs, so the
# lowering of a placeholder op runs only when a needed placeholder was not fed.
placeholder_p = register(Primitive(
    "placeholder", lower=_unfed_placeholder,
    abstract_eval=lambda types, attrs: (TensorType(attrs["shape"], attrs["dtype"]),),
))  # fmt: skip

_TF_TYPES = {
    "no_op": "NoOp", "placeholder": "Placeholder", "const": "Const", "add": "AddV2",
    "subtract": "Sub", "multiply": "Mul", "divide": "RealDiv", "matmul": "MatMul",
    "read_variable": "ReadVariableOp", "assign_variable": "AssignVariableOp",
    "identity": "Identity", "call": "PartitionedCall",
}  # fmt: skip
_RANDOM_TYPES = {"normal": "RandomStandardNormal", "uniform": "RandomUniform",
                 "truncated_normal": "TruncatedNormal", "randint": "RandomUniformInt"}  # fmt: skip


# ---------------------------------------------------------------------------- the trace


class GraphTrace(Trace):
    """The trace of a TF1 graph: TF's unique naming, control dependencies, a name index, and
    tensors that know their ``Graph``."""

    def __init__(self, graph: Graph):
        super().__init__("graph", kind="graph")
        self.compat_graph = graph

    def unique_name(self, base: str, mark_as_used: bool = True) -> str:
        """TF's ``Graph.unique_name``: ``base`` under the current name scope, with ``_1``,
        ``_2``... appended if taken (case-insensitively, as TF compares names)."""
        if base.endswith("/"):  # a name scope's own name: the op takes it exactly (TF)
            return base[:-1]
        name = scope_prefix() + base
        key = name.lower()
        i = self.names.get(key, 0)
        if mark_as_used:
            self.names[key] = i + 1
        if i > 0:
            base_key = key
            while key in self.names:
                key = f"{base_key}_{i}"
                i += 1
            if mark_as_used:
                self.names[key] = 1
            name = f"{name}_{i - 1}"
        return name

    def emit(self, prim, values, attrs, out_types, regions=(), name=None):
        graph = self.compat_graph
        if graph._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")
        outs = super().emit(prim, values, attrs, out_types, regions, name)
        region = self.regions[-1]
        if region is self.graph:
            graph._register(region.ops[-1])
        return [GraphTensor(t.value, self, t.region, t.name) for t in outs]


class GraphTensor(SymbolicTensor):
    """A tensor of a TF1 graph: ``.op`` is its ``Operation``, ``.graph`` its ``Graph``,
    ``.eval()`` runs it in the default session."""

    __slots__ = ()

    @property
    def op(self) -> Operation | None:
        producer = self.value.producer
        return None if producer is None else self.trace.compat_graph.operation(producer)

    @property
    def graph(self) -> Graph:
        return self.trace.compat_graph

    @property
    def device(self) -> str:
        return ""

    @property
    def value_index(self) -> int:
        return self.value.index

    def __hash__(self):
        # Graph tensors are hashable by identity, as in TF graph mode (feed_dict keys).
        return id(self)


class Operation:
    """A TF1 ``tf.Operation``: a view of one IR op of a graph. ``run()`` executes it in the
    default session. Attributes of the IR op (``prim``, ``attrs``, ``regions``) show through."""

    __slots__ = ("_op", "_graph")

    def __init__(self, op: Op, graph: Graph):
        self._op = op
        self._graph = graph

    name = property(lambda self: self._op.name)
    graph = property(lambda self: self._graph)
    device = property(lambda self: "")

    @property
    def type(self) -> str:
        name = self._op.prim.name
        if name == "random":
            return _RANDOM_TYPES[self._op.attrs["dist"]]
        return _TF_TYPES.get(name, name)

    @property
    def outputs(self) -> list[GraphTensor]:
        trace = self._graph._trace
        return [GraphTensor(v, trace, trace.graph, f"{self.name}:{i}")
                for i, v in enumerate(self._op.outputs)]  # fmt: skip

    def values(self) -> tuple:
        return tuple(self.outputs)

    @property
    def inputs(self) -> list[GraphTensor]:
        trace = self._graph._trace
        return [GraphTensor(v, trace, trace.graph, _value_name(v)) for v in self._op.inputs]

    @property
    def control_inputs(self) -> list[Operation]:
        return [self._graph.operation(o) for o in self._graph._control.get(id(self._op), ())]

    def run(self, feed_dict=None, session=None) -> None:
        """Run this op in ``session`` (default: the default session)."""
        from .session import run_op

        run_op(self, feed_dict, session)

    def __getattr__(self, name):
        if name == "_op":
            raise AttributeError(name)
        return getattr(self._op, name)

    def __eq__(self, other):
        return isinstance(other, Operation) and other._op is self._op

    def __hash__(self):
        return id(self._op)

    def __repr__(self):
        return f"<tf.Operation '{self.name}' type={self.type}>"


def _value_name(v) -> str:
    return f"{v.producer.name}:{v.index}" if v.producer is not None else "input:0"


# ---------------------------------------------------------------------------- the graph


class Graph:
    """A TF1 graph (``tf.Graph``): ops recorded into tracefn's IR, collections, a seed.

    >>> g = Graph()
    >>> with g.as_default():
    ...     c = tracefn.constant(1.0) + 2.0
    >>> c.name
    'add:0'
    """

    def __init__(self):
        self._trace = GraphTrace(self)
        self._collections: dict[str, list] = {}
        self._control: dict[int, list[Op]] = {}  # id(op) -> ops it runs after
        self._companions: dict[int, list[Op]] = {}  # id(op) -> writes that run with it
        self._control_stack: list = []
        self._ops_by_name: dict[str, Op] = {}
        self._wrappers: dict[int, Operation] = {}
        self._finalized = False
        self._stores: dict[str, Any] = {}  # per-graph state of other modules (variable scopes)
        self.seed: int | None = None

    # --- default graph
    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        """Make this the default graph: ops built inside are recorded into it."""
        saved = list(_tls.scopes)
        if building_graph() is not self:
            _tls.scopes.clear()  # each graph has its own name scopes
        try:
            with self._trace:
                yield self
        finally:
            _tls.scopes[:] = saved

    @property
    def ir(self):
        """The IR graph holding this graph's ops (``print(g)`` prints it)."""
        return self._trace.graph

    def _register(self, op: Op) -> None:
        self._ops_by_name[op.name] = op
        deps = self._active_control_inputs()
        if deps:
            self._control[id(op)] = deps
        if op.prim.effect == "write" and hasattr(op.var, "_value") and op.inputs:
            # A write of eager state (e.g. a tracefn.random generator's key) runs whenever the
            # op computing the new value runs: together they are one stateful TF op.
            producer = op.inputs[0].producer
            if producer is not None:
                self._companions.setdefault(id(producer), []).append(op)

    def _active_control_inputs(self) -> list[Op]:
        deps: list[Op] = []
        for entry in reversed(self._control_stack):
            if entry is None:
                break
            deps.extend(o for o in entry if all(o is not d for d in deps))
        return deps

    def operation(self, op: Op) -> Operation:
        """The ``Operation`` view of IR op ``op`` (one object per op)."""
        w = self._wrappers.get(id(op))
        if w is None:
            w = self._wrappers[id(op)] = Operation(op, self)
        return w

    # --- lookup
    def get_operations(self) -> list[Operation]:
        return [self.operation(op) for op in self._trace.graph.ops]

    def get_operation_by_name(self, name: str) -> Operation:
        if ":" in name:
            raise ValueError(f"The name {name!r} appears to refer to a Tensor, not a Operation.")
        op = self._ops_by_name.get(name)
        if op is None:
            raise KeyError(f"The name {name!r} refers to an Operation not in the graph.")
        return self.operation(op)

    def get_tensor_by_name(self, name: str) -> GraphTensor:
        if ":" not in name:
            raise ValueError(
                f"The name {name!r} looks like an (invalid) Operation name, not a Tensor. Tensor "
                'names must be of the form "<op_name>:<output_index>".'
            )
        op_name, index = name.rsplit(":", 1)
        op = self._ops_by_name.get(op_name)
        prefix = f"The name {name!r} refers to a Tensor which does not exist. The operation, "
        if op is None:
            raise KeyError(prefix + f"{op_name!r}, does not exist in the graph.")
        if int(index) >= len(op.outputs):
            raise KeyError(prefix + f"{op_name!r}, exists but only has {len(op.outputs)} outputs.")
        return self.operation(op).outputs[int(index)]

    def as_graph_element(self, obj):
        """``obj`` (a tensor or op, or its name) as an element of this graph."""
        if isinstance(obj, str):
            return self.get_tensor_by_name(obj) if ":" in obj else self.get_operation_by_name(obj)
        return obj

    # --- building
    def finalize(self) -> None:
        """Make the graph read-only: adding an op raises ``RuntimeError``."""
        self._finalized = True

    @property
    def finalized(self) -> bool:
        return self._finalized

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        return self._trace.unique_name(name, mark_as_used)

    def get_name_scope(self) -> str:
        return scope_prefix().rstrip("/")

    def name_scope(self, name: str | None):
        from .graph_ops import name_scope

        return name_scope(name)

    def control_dependencies(self, control_inputs):
        from .graph_ops import control_dependencies

        return control_dependencies(control_inputs, graph=self)

    def device(self, device_name_or_function):
        from .device import device

        return device(device_name_or_function)

    building_function = False

    @property
    def version(self) -> int:
        return len(self._trace.graph.ops)

    # --- collections
    def add_to_collection(self, name: str, value) -> None:
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value) -> None:
        names = (names,) if isinstance(names, str) else set(names)
        for name in names:
            self.add_to_collection(name, value)

    def get_collection_ref(self, name: str) -> list:
        return self._collections.setdefault(name, [])

    def get_collection(self, name: str, scope: str | None = None) -> list:
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        import re

        pattern = re.compile(scope)
        return [x for x in items if hasattr(x, "name") and pattern.match(x.name)]

    def get_all_collection_keys(self) -> list[str]:
        return [k for k, v in self._collections.items() if v]

    def clear_collection(self, name: str) -> None:
        self._collections.pop(name, None)

    @property
    def collections(self) -> list[str]:
        return list(self._collections)

    def __str__(self):
        return pretty(self._trace.graph, names=True)

    def __repr__(self):
        return f"<tracefn.compat.v1.Graph: {len(self._trace.graph.ops)} ops>"


# ------------------------------------------------------------------------- default graph


class _Defaults:
    """The process's global default graph (TF has one even in eager mode) and whether graph
    mode was switched on with ``disable_eager_execution``."""

    graph = Graph()
    graph_mode = False


def building_graph() -> Graph | None:
    """The graph ops are being recorded into right now, or None (eager, or inside a function
    trace)."""
    stack = _tls.stack
    top = stack[-1] if stack else None
    return top.compat_graph if isinstance(top, GraphTrace) else None


def get_default_graph() -> Graph:
    """The innermost graph being built, else the global default graph."""
    for trace in reversed(_tls.stack):
        if isinstance(trace, GraphTrace):
            return trace.compat_graph
    return _Defaults.graph


def executing_eagerly() -> bool:
    return tracing.current_trace() is None


def disable_eager_execution() -> None:
    """Switch this thread to graph mode: from now on ops are recorded into the default graph
    and run with a ``Session`` (TF's ``tf.compat.v1.disable_eager_execution``)."""
    if not _Defaults.graph_mode:
        _Defaults.graph_mode = True
        _tls.stack.insert(0, _Defaults.graph._trace)


def enable_eager_execution(config=None, device_policy=None, execution_mode=None) -> None:
    """Leave graph mode (undoes ``disable_eager_execution`` on this thread)."""
    if _Defaults.graph_mode:
        _Defaults.graph_mode = False
        if _tls.stack and _tls.stack[0] is _Defaults.graph._trace:
            _tls.stack.pop(0)


def reset_default_graph() -> None:
    """Replace the global default graph by an empty one (collections, variable scopes and
    names start afresh)."""
    stack = _tls.stack
    base = 1 if _Defaults.graph_mode else 0
    if len(stack) > base:
        raise AssertionError(
            "Do not use tf.reset_default_graph() to clear nested graphs. If you need a cleared "
            "graph, exit the nesting and create a new graph."
        )
    _Defaults.graph = Graph()
    if _Defaults.graph_mode:
        stack[:] = [_Defaults.graph._trace]
