"""TF1 variable functions: ``Variable``, ``assign*``, initializer ops and initialization queries
(spec C6-C9).

``global_variables_initializer()`` is a ``NoOp`` depending on the initializer of every variable
in ``GLOBAL_VARIABLES``; running it again resets them (random ones re-sample: spec section 0,
claim (a) is false). ``report_uninitialized_variables`` and ``is_variable_initialized`` are
answered by the session from its own store.
"""

from __future__ import annotations

import numpy as np

from ... import array_ops, dtypes
from ...variables import Variable as _Variable
from .collections import GraphKeys, global_variables, local_variables
from .graph import Operation, building_graph
from .graph_ops import group, no_op
from .graph_variables import GraphVariable, emit_is_initialized, emit_report

__all__ = [
    "Variable", "VariableV1", "assign", "assign_add", "assign_sub", "global_variables_initializer",
    "initialize_all_variables", "local_variables_initializer", "initialize_local_variables",
    "variables_initializer", "initialize_variables", "report_uninitialized_variables",
    "is_variable_initialized",
]  # fmt: skip


class _V1Meta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, _Variable)

    def __subclasscheck__(cls, sub) -> bool:
        return issubclass(sub, _Variable)


class VariableV1(_Variable, metaclass=_V1Meta):
    """TF1's ``tf.Variable(initial_value, trainable, collections, ...)``: makes a
    ``tracefn.Variable`` (a graph variable while a graph is built). With ``collections``
    containing ``LOCAL_VARIABLES`` and no ``trainable``, it is not trainable (spec section 8)."""

    def __new__(cls, initial_value=None, trainable=None, collections=None, validate_shape=True,
                caching_device=None, name=None, variable_def=None, dtype=None,
                expected_shape=None, import_scope=None, constraint=None, use_resource=None,
                synchronization=None, aggregation=None, shape=None):  # fmt: skip
        if trainable is None:
            trainable = not is_local(collections)
        return _Variable(initial_value, trainable=trainable, name=name, dtype=dtype, shape=shape,
                         validate_shape=validate_shape, collections=collections)  # fmt: skip


Variable = VariableV1


def is_local(collections) -> bool:
    names = collections or ()
    return GraphKeys.LOCAL_VARIABLES in names and GraphKeys.GLOBAL_VARIABLES not in names


# ------------------------------------------------------------------------------- assignment


def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    """``ref.assign(value)``; in a graph, fetching the result runs the assignment (V6)."""
    return ref.assign(value, name=name)


def assign_add(ref, value, use_locking=None, name=None):
    return ref.assign_add(value, name=name)


def assign_sub(ref, value, use_locking=None, name=None):
    return ref.assign_sub(value, name=name)


# ------------------------------------------------------------------------------ initializers


def variables_initializer(var_list, name: str = "init") -> Operation | None:
    """An op running the initializers of ``var_list`` (a ``NoOp`` if empty; None eagerly)."""
    if building_graph() is None:
        return None
    if not var_list:
        return no_op(name)
    return group(*[v.initializer for v in var_list], name=name)


initialize_variables = variables_initializer


def global_variables_initializer() -> Operation | None:
    """Initializes every variable of ``GLOBAL_VARIABLES`` (not the local ones, spec C6)."""
    return variables_initializer(global_variables(), name="init")


initialize_all_variables = global_variables_initializer


def local_variables_initializer() -> Operation | None:
    return variables_initializer(local_variables(), name="init")


initialize_local_variables = local_variables_initializer


def report_uninitialized_variables(var_list=None, name="report_uninitialized_variables"):
    """The names (bytes) of the variables of ``var_list`` (default: global and local) that
    the session running it has not initialized."""
    graph = building_graph()
    if graph is None:  # eagerly every variable has its value
        return array_ops.constant(np.array([], dtype=object), dtypes.string)
    if var_list is None:
        var_list = global_variables() + local_variables()
    return emit_report(graph, [v for v in var_list if isinstance(v, GraphVariable)])


def is_variable_initialized(variable):
    """A bool tensor: whether the session running it has initialized ``variable``."""
    graph = building_graph()
    if graph is None or not isinstance(variable, GraphVariable):
        return array_ops.constant(True)
    return emit_is_initialized(graph, variable)
