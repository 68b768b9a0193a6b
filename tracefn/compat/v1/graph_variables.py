"""Variables of TF1 graphs (spec C6-C9): the handle is in the graph, the value in each Session.

``tracefn.Variable(...)`` called while a graph is being built makes a ``GraphVariable``
(``Variable.__new__`` dispatches here). Its initial value is a computation in the graph and its
initializer is the IR op ``v <- initial_value``; nothing runs until a ``Session`` runs it. A new
session starts with every variable uninitialized, and re-running an initializer re-evaluates the
initial value (random initializers draw again, spec section 0 (a)).

In graph mode ``v.assign(x)`` returns an ``_UnreadVariable`` (spec V6, TF1 paragraph): fetching
it runs the write and gives the new value, so ``sess.run(v.assign_add(1))`` increments on every
run; used in an op it reads ``v`` after the write.

Three ops ask the session about initialization: ``is_variable_initialized``,
``initialized_value`` (C9: the current value if initialized, else the initial value) and
``report_uninitialized_variables``. The session resolves them before compiling (the answer is
part of the compiled program's cache key), so no program ever reads an uninitialized variable.
"""

from __future__ import annotations

from typing import Any

from ... import dtypes, tracing
from ...array_ops import overload_operators
from ...dtypes import as_dtype
from ...ir import Graph as IRGraph
from ...ir import Op, Primitive, TensorType, clone, register
from ...tensor import EagerTensor, Tensor, TensorShape
from ...tracing import convert_to_tensor, current_trace
from ...variables import Variable, read_variable, trace_read, trace_write
from .collections import GraphKeys
from .graph import GraphTensor, GraphTrace, Operation, building_graph

__all__ = ["GraphVariable", "is_initialized_p", "initialized_value_p", "report_uninitialized_p"]


# ----------------------------------------------------------------------------- primitives


def _resolved_by_session(ctx, op, ins):
    raise NotImplementedError(
        f"{op.prim.name} asks a compat.v1 Session whether variables are initialized; it can "
        "only be run by Session.run, not inside a tracefn.function."
    )


def _prim(name: str, rule) -> Primitive:
    return register(Primitive(name, lower=_resolved_by_session, abstract_eval=rule))


is_initialized_p = _prim("is_variable_initialized",
                         lambda types, attrs: (TensorType((), dtypes.bool_),))  # fmt: skip
initialized_value_p = _prim("initialized_value", lambda types, attrs: (types[0],))
report_uninitialized_p = _prim(
    "report_uninitialized_variables", lambda types, attrs: (TensorType((None,), dtypes.string),)
)


def emit_is_initialized(graph, var) -> GraphTensor:
    (t,) = graph._trace.emit(is_initialized_p, [], {"name": var._name, "_var": var},
                             [TensorType((), dtypes.bool_)], name="IsInitialized")  # fmt: skip
    return t


def emit_initialized_value(graph, var) -> GraphTensor:
    init = var._initial_value.value
    (t,) = graph._trace.emit(initialized_value_p, [init], {"name": var._name, "_var": var},
                             [init.type], name=var._name + "/initialized_value")  # fmt: skip
    return t


def emit_report(graph, variables) -> GraphTensor:
    (t,) = graph._trace.emit(report_uninitialized_p, [], {"_vars": tuple(variables)},
                             [TensorType((None,), dtypes.string)],
                             name="report_uninitialized_variables")  # fmt: skip
    return t


# ------------------------------------------------------------------------------ variables


def _no_value(var) -> NotImplementedError:
    return NotImplementedError(
        f"numpy() is only available when eager execution is enabled. Variable {var.name!r} "
        "belongs to a tf.compat.v1 Graph and its value lives in a Session: use sess.run(v) or "
        "v.eval(session=sess)."
    )


class GraphVariable(Variable):
    """A variable of a TF1 graph. Create it with ``tracefn.Variable`` (or ``compat.v1``'s
    ``Variable``/``get_variable``) while a graph is being built."""

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None, shape=None,
                 validate_shape=True, **kwargs):  # fmt: skip
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        graph = building_graph()
        trace = graph._trace
        self._graph = graph
        base = (name or "Variable").split(":")[0]
        self._name = trace.unique_name(base, mark_as_used=False)
        from .device import graph_placement

        graph_placement(self)  # may raise: nothing is built yet
        self._name = trace.unique_name(base)
        with _at_root(graph), tracing.name_scope(self._name + "/"):
            init = _initial_tensor(graph, initial_value, dtype)
            init = guard_initial_value(graph, init)
        self._dtype = init.dtype
        self._shape = TensorShape(init.shape if shape is None else shape)
        if not validate_shape:
            self._shape = TensorShape(None)
        elif not self._shape.is_compatible_with(init.shape):
            raise ValueError(
                f"The initial value's shape ({init.shape}) is not compatible with the "
                f"explicitly supplied `shape` argument ({self._shape})."
            )
        self._initial_value = init
        self.trainable = bool(trainable)
        with _at_root(graph):
            trace_write(trace, self, init)
        self._initializer_op = trace.graph.ops[-1]
        self.collections = _collections(kwargs.get("collections"), self.trainable)
        graph.add_to_collections(self.collections, self)
        Variable._counter += 1
        self._id = Variable._counter

    # ----------------------------------------------------------------------- properties
    @property
    def graph(self):
        return self._graph

    @property
    def device(self) -> str:
        return self._device or ""

    @property
    def initial_value(self) -> GraphTensor:
        return self._initial_value

    @property
    def initializer(self) -> Operation:
        return self._graph.operation(self._initializer_op)

    @property
    def op(self) -> Operation:
        return self.initializer

    def initialized_value(self) -> GraphTensor:
        """The current value if the variable is initialized, else its initial value (TF1's
        documented behaviour; spec section 8)."""
        if current_trace() is not self._graph._trace:  # inside a function: the value
            return self.read_value()
        return emit_initialized_value(self._graph, self)

    def is_initialized(self, name=None) -> GraphTensor:
        self._check_graph(current_trace())
        return emit_is_initialized(self._graph, self)

    # -------------------------------------------------------------------------- reading
    def _check_graph(self, trace) -> None:
        if trace is None:
            raise _no_value(self)
        if isinstance(trace, GraphTrace) and trace is not self._graph._trace:
            raise ValueError(f"Tensor {self!r} must be from the same graph as the tensors it is "
                             "used with (it belongs to another tf.Graph).")  # fmt: skip

    def _tracefn_read(self) -> Tensor:
        self._check_graph(current_trace())
        return super()._tracefn_read()

    def read_value(self) -> Tensor:
        self._check_graph(current_trace())
        return super().read_value()

    def _tracefn_array(self):
        raise _no_value(self)

    def numpy(self):
        raise _no_value(self)

    def _eager(self, what):
        raise _no_value(self)

    def eval(self, session=None):
        from .session import eval_tensor

        return eval_tensor(self, None, session)

    def load(self, value, session=None) -> None:
        """Write ``value`` into the variable in ``session`` without adding ops (TF1)."""
        from .session import get_default_session

        (session or get_default_session())._load(self, value)

    # -------------------------------------------------------------------------- writing
    def _graph_write(self, method, args, read_value: bool):
        trace = current_trace()
        if not isinstance(trace, GraphTrace) or trace.regions[-1] is not trace.graph:
            return method(*args, read_value=read_value)  # inside a function: TF2 behaviour
        self._check_graph(trace)
        method(*args)
        write = trace.graph.ops[-1]
        if not read_value:
            return self._graph.operation(write)
        return _UnreadVariable(self, write)

    def assign(self, value, use_locking=None, name=None, read_value: bool = True):
        return self._graph_write(super().assign, (value,), read_value)

    def assign_add(self, delta, use_locking=None, name=None, read_value: bool = True):
        return self._graph_write(super().assign_add, (delta,), read_value)

    def assign_sub(self, delta, use_locking=None, name=None, read_value: bool = True):
        return self._graph_write(super().assign_sub, (delta,), read_value)

    def _scatter(self, sparse, mode: str):
        scatter = super()._scatter
        return self._graph_write(lambda s, read_value=True: scatter(s, mode), (sparse,), True)

    def __repr__(self):
        return f"<tf.Variable '{self.name}' shape={self._shape} dtype={self._dtype.name}>"


class _at_root:
    """Build a variable's initial value and initializer at the top level of the graph, with no
    control dependencies, even inside a traced branch (TF's ``init_scope``)."""

    def __init__(self, graph):
        self.trace = graph._trace
        self.graph = graph

    def __enter__(self):
        self.regions, self.trace.regions = self.trace.regions, [self.trace.graph]
        self.graph._control_stack.append(None)

    def __exit__(self, *exc):
        self.trace.regions = self.regions
        self.graph._control_stack.pop()


def _initial_tensor(graph, initial_value, dtype) -> GraphTensor:
    if callable(initial_value) and not isinstance(initial_value, (Tensor, Variable)):
        with tracing.name_scope("Initializer"):
            initial_value = initial_value()
    t = convert_to_tensor(initial_value, dtype=None if dtype is None else as_dtype(dtype))
    if isinstance(t, EagerTensor):
        t = graph._trace.capture(t._array)
    return t


def _collections(collections, trainable: bool) -> list[str]:
    names = [GraphKeys.GLOBAL_VARIABLES] if collections is None else list(collections)
    if trainable and GraphKeys.TRAINABLE_VARIABLES not in names:
        names.append(GraphKeys.TRAINABLE_VARIABLES)
    return names


# ----------------------------------------------------------------------- unread variables


class _UnreadVariable:
    """What ``v.assign(...)`` returns in graph mode: fetching it runs the write and gives the
    variable's new value; used in an op it reads the variable after the write."""

    def __init__(self, var: GraphVariable, write_op: Op):
        self._var = var
        self._write_op = write_op

    name = property(lambda self: self._var.name)
    dtype = property(lambda self: self._var.dtype)
    shape = property(lambda self: self._var.shape)
    graph = property(lambda self: self._var.graph)
    device = property(lambda self: self._var.device)

    def get_shape(self) -> TensorShape:
        return self._var.shape

    @property
    def op(self) -> Operation:
        return self._var.graph.operation(self._write_op)

    def _tracefn_read(self) -> Tensor:
        trace = current_trace()
        graph = self._var.graph
        if trace is not graph._trace or trace.regions[-1] is not trace.graph:
            return self._var._tracefn_read()
        t = trace_read(trace, self._var)
        read = trace.graph.ops[-1]
        graph._control.setdefault(id(read), []).append(self._write_op)
        return t

    def read_value(self) -> Tensor:
        return self._tracefn_read()

    def value(self) -> Tensor:
        return self._tracefn_read()

    def eval(self, session=None):
        from .session import eval_tensor

        return eval_tensor(self, None, session)

    def numpy(self):
        raise _no_value(self._var)

    def assign(self, value, use_locking=None, name=None, read_value: bool = True):
        return self._var.assign(value, read_value=read_value)

    def assign_add(self, delta, use_locking=None, name=None, read_value: bool = True):
        return self._var.assign_add(delta, read_value=read_value)

    def assign_sub(self, delta, use_locking=None, name=None, read_value: bool = True):
        return self._var.assign_sub(delta, read_value=read_value)

    def __repr__(self):
        return f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"


overload_operators(_UnreadVariable)
_UnreadVariable.__hash__ = object.__hash__


# ------------------------------------------------------------------- initial value guard


def guard_initial_value(graph, t: GraphTensor) -> GraphTensor:
    """TF's rewrite of an initial value that reads other variables (spec C8): the computation
    is copied with each read of a variable ``a`` replaced by ``a.initialized_value()``, so
    ``Variable(a * 2)`` can be initialized together with ``a`` (or before it) in any order."""
    ops = _reading_ancestors(graph.ir, t.value)
    if not ops:
        return t
    vmap: dict[int, Any] = {}
    trace = graph._trace
    for op in ops:
        var = op.attrs.get("var")
        if op.prim is read_variable and isinstance(var, GraphVariable):
            vmap[id(op.outputs[0])] = emit_initialized_value(graph, var).value
            continue
        ins = [vmap.get(id(v), v) for v in op.inputs]
        regions = [clone(r, {}, vmap) for r in op.regions]
        outs = trace.emit(op.prim, ins, dict(op.attrs), [v.type for v in op.outputs], regions,
                          name=op.name.rsplit("/", 1)[-1])  # fmt: skip
        vmap.update((id(a), b.value) for a, b in zip(op.outputs, outs))
    value = vmap[id(t.value)]
    return GraphTensor(value, trace, trace.graph, f"{value.producer.name}:{value.index}")


def _reading_ancestors(root: IRGraph, value) -> list[Op]:
    """The ops between reads of graph variables and ``value``, in program order (empty when
    ``value`` reads no variable)."""
    tainted: dict[int, bool] = {}

    def visit(op: Op) -> bool:
        if id(op) not in tainted:
            tainted[id(op)] = False  # cycles are impossible in SSA; this guards re-entry
            reads = op.prim is read_variable and isinstance(op.attrs.get("var"), GraphVariable)
            deps = [visit(v.producer) for v in op.inputs if v.producer is not None]
            tainted[id(op)] = reads or any(deps)
        return tainted[id(op)]

    if value.producer is None or not visit(value.producer):
        return []
    return [op for op in root.ops if tainted.get(id(op))]
