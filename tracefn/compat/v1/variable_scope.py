"""``variable_scope`` and ``get_variable``: TF1's named, shareable variables (spec C1-C5, C10).

Each graph keeps a variable store: the variables ``get_variable`` created, by full name (the
variable-scope name, never the name scope: C5), the current variable scope, and how often each
scope name was opened (for ``default_name``). ``reuse`` governs only ``get_variable``
(``tf.Variable`` ignores it: C1); it is inherited by sub-scopes and cannot be switched back off
(C3). Section 8: eagerly and inside ``function`` the same rules hold (TF2 ignores ``reuse``
there); a function's re-trace gets back the variables its earlier trace created.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
from collections.abc import Iterator

from ... import dtypes
from ...dtypes import as_dtype
from ...tensor import Tensor, TensorShape
from ...tracing import current_trace, scope_prefix, to_array
from ...tracing import name_scope as _root_scope
from ...variables import Variable
from .collections import GraphKeys
from .graph import get_default_graph
from .graph_ops import name_scope
from .graph_variables import GraphVariable, _collections
from .init_ops import GlorotUniform, Zeros
from .state_ops import is_local

__all__ = [
    "AUTO_REUSE", "VariableScope", "variable_scope", "get_variable", "get_local_variable",
    "get_variable_scope",
]  # fmt: skip


class _ReuseMode(enum.Enum):
    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE


class VariableScope:
    """A variable scope: its full ``name``, ``reuse`` and the defaults (``initializer``,
    ``dtype``, ...) that ``get_variable`` calls inside it inherit."""

    def __init__(self, reuse, name: str = "", initializer=None, regularizer=None,
                 caching_device=None, partitioner=None, custom_getter=None, name_scope: str = "",
                 dtype=dtypes.float32, use_resource=None, constraint=None):  # fmt: skip
        self._reuse = reuse
        self._name = name
        self._name_scope = name_scope
        self._initializer = initializer
        self._regularizer = regularizer
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._dtype = as_dtype(dtype)
        self._use_resource = use_resource
        self._constraint = constraint

    name = property(lambda self: self._name)
    original_name_scope = property(lambda self: self._name_scope)
    reuse = property(lambda self: self._reuse)
    initializer = property(lambda self: self._initializer)
    regularizer = property(lambda self: self._regularizer)
    caching_device = property(lambda self: self._caching_device)
    partitioner = property(lambda self: self._partitioner)
    custom_getter = property(lambda self: self._custom_getter)
    dtype = property(lambda self: self._dtype)
    use_resource = property(lambda self: self._use_resource)
    constraint = property(lambda self: self._constraint)

    def reuse_variables(self) -> None:
        """From now on ``get_variable`` in this scope returns existing variables (C3)."""
        self._reuse = True

    def set_initializer(self, initializer) -> None:
        self._initializer = initializer

    def set_dtype(self, dtype) -> None:
        self._dtype = as_dtype(dtype)

    def set_regularizer(self, regularizer) -> None:
        self._regularizer = regularizer

    def set_custom_getter(self, custom_getter) -> None:
        self._custom_getter = custom_getter

    def set_caching_device(self, caching_device) -> None:
        self._caching_device = caching_device

    def set_partitioner(self, partitioner) -> None:
        self._partitioner = partitioner

    def set_use_resource(self, use_resource) -> None:
        self._use_resource = use_resource

    def get_variable(self, var_store, name, shape=None, dtype=None, initializer=None,
                     regularizer=None, reuse=None, trainable=None, collections=None,
                     caching_device=None, partitioner=None, validate_shape=True,
                     use_resource=None, custom_getter=None, constraint=None,
                     synchronization=None, aggregation=None) -> Variable:  # fmt: skip
        """``get_variable`` in this scope (see the module function)."""
        full = f"{self._name}/{name}" if self._name else name
        if dtype is not None and initializer is not None and not callable(initializer):
            init_dtype = _value_dtype(initializer)
            if init_dtype != as_dtype(dtype):
                raise ValueError(f"Initializer type '{init_dtype}' and explicit dtype "
                                 f"'{as_dtype(dtype)}' don't match.")  # fmt: skip
        if partitioner is not None or self._partitioner is not None:
            raise NotImplementedError("Partitioned variables are not supported by tracefn.")
        kwargs = dict(
            shape=shape, dtype=as_dtype(self._dtype if dtype is None else dtype),
            initializer=self._initializer if initializer is None else initializer,
            regularizer=self._regularizer if regularizer is None else regularizer,
            reuse=self._reuse if reuse is None else reuse, trainable=trainable,
            collections=collections, validate_shape=validate_shape,
        )  # fmt: skip
        getter = custom_getter or self._custom_getter
        if getter is not None:
            return getter(functools.partial(_true_getter, var_store), full, **kwargs)
        return _true_getter(var_store, full, **kwargs)

    def global_variables(self) -> list:
        return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, self._prefix())

    def trainable_variables(self) -> list:
        return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, self._prefix())

    def local_variables(self) -> list:
        return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, self._prefix())

    def get_collection(self, name: str) -> list:
        return get_default_graph().get_collection(name, self._prefix())

    def _prefix(self) -> str | None:
        return self._name + "/" if self._name else None

    def __repr__(self):
        return f"<VariableScope {self._name!r} reuse={self._reuse}>"


class _VariableStore:
    """A graph's ``get_variable`` state: variables by full name, the current scope, how often
    each scope name was opened."""

    def __init__(self):
        self.vars: dict[str, Variable] = {}
        self.owner: dict[str, int] = {}  # full name -> id of the trace that created it
        self.current = VariableScope(False)
        self.counts: dict[str, int] = {}

    def close_subscopes(self, name: str) -> None:
        for k in self.counts:
            if k.startswith(name + "/"):
                self.counts[k] = 0


def _store() -> _VariableStore:
    stores = get_default_graph()._stores
    store = stores.get("variable_scope")
    if store is None:
        store = stores["variable_scope"] = _VariableStore()
    return store


def get_variable_scope() -> VariableScope:
    """The current variable scope (the root scope, named ``""``, at top level)."""
    return _store().current


# -------------------------------------------------------------------------- get_variable


def get_variable(name: str, shape=None, dtype=None, initializer=None, regularizer=None,
                 trainable=None, collections=None, caching_device=None, partitioner=None,
                 validate_shape=True, use_resource=None, custom_getter=None, constraint=None,
                 synchronization=None, aggregation=None) -> Variable:  # fmt: skip
    """The variable ``<scope>/<name>``: created (float default initializer ``glorot_uniform``,
    integers and bools zeros: C4), or the existing one when the scope reuses (C2)."""
    return get_variable_scope().get_variable(
        _store(), name, shape=shape, dtype=dtype, initializer=initializer,
        regularizer=regularizer, trainable=trainable, collections=collections,
        partitioner=partitioner, validate_shape=validate_shape, custom_getter=custom_getter,
    )  # fmt: skip


def get_local_variable(name: str, shape=None, dtype=None, initializer=None, regularizer=None,
                       trainable=False, collections=None, caching_device=None,
                       partitioner=None, validate_shape=True, use_resource=None,
                       custom_getter=None, constraint=None, synchronization=None,
                       aggregation=None) -> Variable:  # fmt: skip
    """Like ``get_variable``, in ``LOCAL_VARIABLES`` only (C6)."""
    collections = list(collections or []) + [GraphKeys.LOCAL_VARIABLES]
    return get_variable(name, shape, dtype, initializer, regularizer, trainable, collections,
                        partitioner=partitioner, validate_shape=validate_shape,
                        custom_getter=custom_getter)  # fmt: skip


def _true_getter(store: _VariableStore, name: str, shape=None, dtype=dtypes.float32,
                 initializer=None, regularizer=None, reuse=None, trainable=None,
                 collections=None, validate_shape=True, **unused) -> Variable:  # fmt: skip
    from_value = initializer is not None and not callable(initializer)
    if shape is not None and from_value:
        raise ValueError("If initializer is a constant, do not specify shape.")
    shape = TensorShape(shape)
    found = store.vars.get(name)
    if found is not None:
        return _existing(store, name, found, shape, dtype, reuse)
    if reuse is True:
        raise ValueError(
            f"Variable {name} does not exist, or was not created with "
            "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in VarScope?"
        )
    init_val, var_dtype = _initial_value(name, shape, dtype, initializer, from_value)
    if trainable is None:
        trainable = not is_local(collections)
    collections = collections or [GraphKeys.GLOBAL_VARIABLES]
    with _root_scope(None):  # get_variable names ignore name scopes (C5)
        var = Variable(init_val, trainable=trainable, name=name, dtype=var_dtype,
                       validate_shape=validate_shape, collections=collections)  # fmt: skip
    if not isinstance(var, GraphVariable):  # eager and function mode keep collections too
        get_default_graph().add_to_collections(_collections(collections, trainable), var)
    store.vars[name] = var
    trace = current_trace()
    store.owner[name] = 0 if trace is None else id(trace)
    _regularize(name, var, regularizer)
    return var


def _existing(store, name, found, shape, dtype, reuse) -> Variable:
    if not reuse and not _retrace_of_creator(store, name):
        raise ValueError(f"Variable {name} already exists, disallowed. Did you mean to set "
                         "reuse=True or reuse=tf.AUTO_REUSE in VarScope?")  # fmt: skip
    if not shape.is_compatible_with(found.shape):
        raise ValueError(f"Trying to share variable {name}, but specified shape {shape} and "
                         f"found shape {found.shape}.")  # fmt: skip
    if dtype is not None and as_dtype(dtype) != found.dtype:
        raise ValueError(f"Trying to share variable {name}, but specified dtype "
                         f"{as_dtype(dtype).name} and found dtype {found.dtype.name}.")  # fmt: skip
    return found


def _retrace_of_creator(store, name) -> bool:
    """Inside ``function``, a trace other than the one that created the variable is a re-trace
    of the same program: it gets the variable back instead of an "already exists" error."""
    trace = current_trace()
    return trace is not None and trace.kind == "function" and store.owner[name] != id(trace)


def _initial_value(name, shape: TensorShape, dtype, initializer, from_value):
    """(initial value or function computing it, dtype to pass to ``Variable``)."""
    if from_value:
        return initializer, None
    if initializer is None:
        if shape.rank is None:
            raise ValueError(f"Variable {name} did not get an initializer, so its `shape` "
                             "argument must be specified.")  # fmt: skip
        initializer = _default_initializer(name, dtype)
    if inspect.isclass(initializer):
        initializer = initializer()
    if shape.is_fully_defined():
        return functools.partial(initializer, shape.as_list(), dtype=dtype), dtype
    if _takes_no_arguments(initializer):
        return initializer, None
    raise ValueError(
        "The initializer passed is not valid. It should be a callable with no arguments and the "
        "shape should not be provided or an instance of `tf.keras.initializers.*' and `shape` "
        "should be fully defined."
    )


def _default_initializer(name: str, dtype):
    dtype = as_dtype(dtype)
    if dtype.is_floating:
        return GlorotUniform()
    if dtype.is_integer or dtype.is_bool or dtype == dtypes.string:
        return Zeros()
    raise ValueError(f"An initializer for variable {name} of {dtype} is required")


def _takes_no_arguments(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in params)  # fmt: skip


def _value_dtype(value):
    if isinstance(value, Tensor) or hasattr(value, "_tracefn_read"):
        return value.dtype
    return as_dtype(to_array(value).dtype)


def _regularize(name: str, var, regularizer) -> None:
    if regularizer is None:
        return
    with name_scope(name + "/Regularizer/"):
        loss = regularizer(var)
    if loss is not None:
        get_default_graph().add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)


# ------------------------------------------------------------------------ variable_scope


@contextlib.contextmanager
def variable_scope(name_or_scope, default_name=None, values=None, initializer=None,
                   regularizer=None, caching_device=None, partitioner=None, custom_getter=None,
                   reuse=None, dtype=None, use_resource=None, constraint=None,
                   auxiliary_name_scope=True) -> Iterator[VariableScope]:  # fmt: skip
    """Open a variable scope (TF1's ``tf.variable_scope``): ``get_variable`` names inside are
    prefixed with its name, and it opens a name scope for ops (unique in graph mode: C5)."""
    if name_or_scope is None and default_name is None:
        raise TypeError("If default_name is None then name_or_scope is required")
    if name_or_scope is not None and not isinstance(name_or_scope, (str, VariableScope)):
        raise TypeError("VariableScope: name_or_scope must be a string or VariableScope.")
    reuse = None if reuse is False else reuse  # reuse=False means "inherit" (C3)
    store = _store()
    old = store.current
    overrides = dict(initializer=initializer, regularizer=regularizer, dtype=dtype,
                     caching_device=caching_device, partitioner=partitioner,
                     custom_getter=custom_getter, use_resource=use_resource,
                     constraint=constraint)  # fmt: skip
    with _name_scope_for(name_or_scope, default_name, auxiliary_name_scope) as ns:
        if isinstance(name_or_scope, VariableScope):
            new = _copy_scope(name_or_scope, name_or_scope.name, reuse or name_or_scope.reuse,
                              ns, overrides)  # fmt: skip
        else:
            base = name_or_scope or _unique_default(store, old, default_name)
            full = f"{old.name}/{base}" if old.name else base
            new = _copy_scope(old, full, reuse or old.reuse, ns, overrides)
        counts = dict(store.counts)
        store.counts[new.name] = store.counts.get(new.name, 0) + 1
        store.current = new
        try:
            yield new
        finally:
            store.current = old
            if isinstance(name_or_scope, VariableScope):
                store.counts = counts
                store.counts[new.name] = store.counts.get(new.name, 0) + 1
            else:
                store.close_subscopes(new.name)


def _copy_scope(src: VariableScope, name: str, reuse, ns: str, overrides: dict) -> VariableScope:
    values = {k: getattr(src, "_" + k) for k in overrides}
    values.update((k, v) for k, v in overrides.items() if v is not None)
    return VariableScope(reuse, name=name, name_scope=ns, **values)


@contextlib.contextmanager
def _name_scope_for(name_or_scope, default_name, auxiliary: bool) -> Iterator[str]:
    if not auxiliary:
        yield scope_prefix()
        return
    if isinstance(name_or_scope, VariableScope):  # re-entry by object: a new name scope (C5)
        base = name_or_scope.name.split("/")[-1]
    else:
        base = name_or_scope or default_name
    with name_scope(base) as ns:
        yield ns


def _unique_default(store: _VariableStore, old: VariableScope, prefix: str) -> str:
    """``prefix``, or ``prefix_N`` if a scope of that name was already opened here."""
    name = f"{old.name}/{prefix}" if old.name else prefix
    if store.counts.get(name, 0) == 0:
        return prefix
    i = 1
    while store.counts.get(f"{name}_{i}", 0) > 0:
        i += 1
    return f"{prefix}_{i}"
