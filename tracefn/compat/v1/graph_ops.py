"""TF1 graph-building functions: ``name_scope`` (unique in graph mode), ``control_dependencies``,
``group``, ``no_op`` and ``placeholder``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ... import tracing
from ...dtypes import as_dtype
from ...ir import Op, TensorType
from ...tensor import SymbolicTensor, TensorShape
from .graph import Graph, GraphTensor, Operation, building_graph, no_op_p, placeholder_p

__all__ = ["name_scope", "control_dependencies", "group", "no_op", "placeholder"]


# ------------------------------------------------------------------ scopes and dependencies


@contextlib.contextmanager
def name_scope(name: str | None, default_name: str | None = None, values=None,
               skip_on_eager: bool = True) -> Iterator[str]:  # fmt: skip
    """TF1's ``name_scope``: in graph mode the scope is made unique (``ns``, ``ns_1``; C5); a
    name ending in ``/`` re-enters that exact scope; ``None`` or ``""`` resets to the root."""
    name = default_name if name is None else name
    graph = building_graph()
    if graph is None:
        with tracing.name_scope(name) as scope:
            yield scope
        return
    if not name:
        scope = ""
    elif name.endswith("/"):
        scope = name
    else:
        scope = graph.unique_name(name) + "/"
    with tracing.name_scope(scope or None) as s:
        yield s


def _targets(x) -> list[Op]:
    """The IR ops a control input stands for (an op, a tensor's producer, an assign)."""
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return [o for e in x for o in _targets(e)]
    if isinstance(x, Operation):
        return [x._op]
    if isinstance(x, Op):
        return [x]
    write = getattr(x, "_write_op", None)
    if write is not None:
        return [write]
    if isinstance(x, SymbolicTensor) and x.value.producer is not None:
        return [x.value.producer]
    initializer = getattr(x, "initializer", None)  # a graph variable: its initializer
    if isinstance(initializer, Operation):
        return [initializer._op]
    raise TypeError(f"Can not convert a {type(x).__name__} into a Tensor or Operation.")


@contextlib.contextmanager
def control_dependencies(control_inputs, graph: Graph | None = None) -> Iterator[None]:
    """Ops created inside run after ``control_inputs`` whenever they run (``None`` clears the
    enclosing dependencies). Eagerly ops run in program order anyway: a no-op."""
    graph = graph or building_graph()
    if graph is None:
        yield
        return
    graph._control_stack.append(None if control_inputs is None else _targets(control_inputs))
    try:
        yield
    finally:
        graph._control_stack.pop()


def _emit_no_op(graph: Graph, name: str, deps: list[Op]) -> Operation:
    graph._trace.emit(no_op_p, [], {}, [], name=name)
    op = graph.ir.ops[-1]
    if deps:
        graph._control[id(op)] = list(deps) + graph._control.get(id(op), [])
    return graph.operation(op)


def group(*inputs, name: str | None = None) -> Operation | None:
    """An op that runs all of ``inputs`` (ops, tensors, assignments); None eagerly."""
    graph = building_graph()
    if graph is None:
        return None
    return _emit_no_op(graph, name or "group_deps", _targets(list(inputs)))


def no_op(name: str | None = None) -> Operation | None:
    graph = building_graph()
    return None if graph is None else _emit_no_op(graph, name or "NoOp", [])


def placeholder(dtype, shape=None, name: str | None = None) -> GraphTensor:
    """A value fed at run time: ``sess.run(y, feed_dict={x: array})``. ``None`` dims (and
    ``shape=None``, any rank) accept any size."""
    graph = building_graph()
    if graph is None:
        raise RuntimeError("tf.placeholder() is not compatible with eager execution.")
    dims = TensorShape(shape)._dims
    dtype = as_dtype(dtype)
    (t,) = graph._trace.emit(placeholder_p, [], {"shape": dims, "dtype": dtype},
                             [TensorType(dims, dtype)], name=name or "Placeholder")  # fmt: skip
    return t
