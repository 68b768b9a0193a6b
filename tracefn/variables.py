"""``tracefn.Variable``: a handle to mutable state.

Outside a trace a variable's current array lives in its ``_value`` slot (the default state
store); reads and writes act at once. Inside a trace, reading emits a ``read_variable`` op and
``assign*`` emit ``assign_variable`` ops, so a traced graph states which variables it reads and
writes; the lowered program takes them as inputs and returns the written ones.

Donation safety: compiled calls donate the buffers of the variables they write. A buffer that a
user-visible tensor shares (``convert_to_tensor(v)``) is recorded in ``EXPOSED``; before a
compiled call donates such a buffer, the variable gets a private copy (``unshare``), so values a
user holds never become "deleted arrays". Eager assignment always stores a copy.

Every change of a ``_value`` goes through this module or ``function``'s write-back and bumps
``STATE.version``; a compiled function reuses the list of arrays it gathered on its last call
while the version shows that nothing else wrote any variable since.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .dtypes import as_dtype
from .ir import TensorType
from .primitives import P, defprim, eager_kernel
from .tensor import EagerTensor, Ref, SymbolicTensor, Tensor, TensorShape
from .tracing import _tls, bind, convert_to_tensor, current_trace, scope_prefix, to_array

__all__ = ["Variable", "IndexedSlices", "STATE_LOCK", "STATE", "EXPOSED"]

# All reads-for-compiled-calls, compiled calls, eager reads and write-backs happen under this
# lock, so concurrent calls touching the same variables never lose an update and never read a
# buffer another thread is donating. Reentrant: an eager update reads the variable under it.
STATE_LOCK = threading.RLock()


class _StateVersion:
    __slots__ = ("version",)

    def __init__(self):
        self.version = 0


STATE = _StateVersion()
# id(variable) -> weak reference, for variables whose current buffer a user tensor (or an
# eager kernel still running) may share; the reference's callback drops a dead variable.
EXPOSED: dict[int, weakref.ref] = {}


def _expose(var) -> None:
    """Record (with STATE_LOCK held) that ``var``'s current buffer is shared: a compiled call
    that writes ``var`` copies it first instead of donating it (``unshare``)."""
    key = id(var)
    if key not in EXPOSED:
        # The dict is bound now: at interpreter exit the module's globals may be gone.
        EXPOSED[key] = weakref.ref(var, lambda _, key=key, exposed=EXPOSED: exposed.pop(key, None))


def _no_impl(**_):
    raise RuntimeError("variable ops are interpreted by the lowering, not run as kernels")


read_variable = defprim(
    "read_variable", _no_impl, effect="read",
    abstract_eval=lambda types, attrs: (TensorType(attrs["var"].shape, attrs["var"].dtype),),
)  # fmt: skip
assign_variable = defprim(
    "assign_variable", _no_impl, effect="write", abstract_eval=lambda types, attrs: (),
)  # fmt: skip

_copy = eager_kernel(P.copy, ())
_IADD_MESSAGE = (
    "`variable += value` with `tf.Variable`s is not supported. Use `variable.assign_add(value)` "
    "to modify the variable, or `out = variable + value` if you need to get a new output Tensor."
)


class IndexedSlices:
    """Sparse rows of a tensor: ``values[i]`` is row ``indices[i]`` (TF's ``tf.IndexedSlices``)."""

    def __init__(self, values, indices, dense_shape=None):
        self.values = convert_to_tensor(values)
        self.indices = convert_to_tensor(indices)
        self.dense_shape = dense_shape


class Variable:
    """A tensor-like handle to state that persists across calls.

    >>> v = Variable(1.0)
    >>> _ = v.assign_add(2.0)
    >>> float(v)
    3.0
    """

    _counter = 0
    __array_priority__ = 100  # numpy defers to our operators: np_array @ variable -> Tensor
    # The sharding the variable's array keeps, set by tracefn.distribute when a strategy
    # places a new variable; None: wherever its computations put it.
    _sharding = None
    _device = None  # a device string set by tracefn.device(...) (graph variables too)

    def __new__(cls, *args, **kwargs):
        if cls is Variable and _building_graph():
            cls = _graph_variable_class()
        return object.__new__(cls)

    def __init__(
        self,
        initial_value: Any = None,
        trainable: bool = True,
        name: str | None = None,
        dtype=None,
        shape=None,
        validate_shape: bool = True,
        *,
        caching_device=None,
        constraint=None,
        synchronization=None,
        aggregation=None,
        import_scope=None,
        experimental_enable_variable_lifting=None,
        collections=None,
        device=None,
    ):
        """TF's arguments; ``caching_device``, ``constraint``, ``synchronization``,
        ``aggregation`` and ``import_scope`` are accepted and ignored (single-program SPMD
        needs none of them); an unknown keyword is a TypeError, as in TF."""
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        self._dtype = None if dtype is None else as_dtype(dtype)
        init_fn = _initial_value_fn(initial_value, self._dtype)
        value = init_fn()
        self._dtype = as_dtype(value.dtype)
        self._shape = TensorShape(value.shape if shape is None else shape)
        if not self._shape.is_compatible_with(value.shape):
            raise ValueError(f"The initial value's shape ({TensorShape(value.shape)}) is not "
                             f"compatible with the explicitly supplied `shape` argument "
                             f"({self._shape}).")  # fmt: skip
        self._init_fn = init_fn
        self._initial_array = value
        self._value = _copy(value)  # compiled calls donate _value; the initial value stays
        self.trainable = bool(trainable)
        self._name = scope_prefix() + (name or "Variable")
        self._device = device
        self.collections = collections
        Variable._counter += 1
        self._id = Variable._counter
        _on_create(self)

    # ------------------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        return self._name + ":0"

    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        return self._shape

    @property
    def ndim(self) -> int:
        return self._shape.rank

    def get_shape(self) -> TensorShape:
        return self._shape

    @property
    def device(self) -> str:
        if self._device:
            return self._device
        devs = getattr(self._value, "devices", lambda: set())()
        return str(next(iter(devs))) if devs else ""

    @property
    def initial_value(self) -> Tensor:
        return EagerTensor(self._initial_array)

    @property
    def handle(self):
        return self

    @property
    def op(self):
        return self

    # ---------------------------------------------------------------------------- reading
    def _tracefn_array(self):
        """The current array, for an eager kernel or a host copy. Marked exposed, so that a
        compiled call on another thread copies it rather than donating it mid-use."""
        with STATE_LOCK:
            _expose(self)
            return self._value

    def _tracefn_read(self) -> Tensor:
        trace = current_trace()
        if trace is not None:
            return trace_read(trace, self)
        with STATE_LOCK:
            _expose(self)
            t = EagerTensor(self._value)
        if _tls.tapes:  # an eager read under a GradientTape: the tensor stands for the variable
            for tape in _tls.tapes:
                tape._record_eager_read(self, t)
        return t

    def read_value(self) -> Tensor:
        """A snapshot of the value: later assignments do not change it (spec V7)."""
        trace = current_trace()
        if trace is not None:
            return bind(P.identity, trace_read(trace, self))
        with STATE_LOCK:
            return EagerTensor(_copy(self._value))

    def value(self) -> Tensor:
        return self.read_value()

    def numpy(self) -> np.ndarray:
        if current_trace() is not None:
            return self._tracefn_read().numpy()  # raises the symbolic-tensor error
        with STATE_LOCK:
            a = np.array(self._value)
        return a[()] if a.ndim == 0 else a

    def __array__(self, dtype=None, copy=None):
        out = np.array(self._eager("numpy conversion"))
        return out if dtype is None else out.astype(dtype)

    def __float__(self):
        return float(self._eager("float()"))

    def __int__(self):
        return int(self._eager("int()"))

    def __index__(self):
        return int(self._eager("index"))

    def __bool__(self):
        return bool(self._tracefn_read())

    def __len__(self):
        return len(self._tracefn_read())

    def __iter__(self):
        return iter(self._tracefn_read())

    def _eager(self, what):
        if current_trace() is not None:
            raise TypeError(f"{what} of variable {self.name!r} needs a concrete value, which a "
                            "traced function does not have; use tracefn ops instead.")  # fmt: skip
        with STATE_LOCK:
            return np.array(self._value)

    # ---------------------------------------------------------------------------- writing
    def _convert(self, value, op: str) -> Tensor:
        try:
            t = convert_to_tensor(value, dtype=self._dtype)
        except TypeError as e:
            if not isinstance(value, Tensor) and not hasattr(value, "_tracefn_read"):
                raise  # TF's own message for Python values (spec V9)
            raise TypeError(f"{op} to variable {self.name!r} ({self._dtype.name}): {e}") from None
        if not self._shape.is_compatible_with(t.shape):
            raise ValueError(
                f"Cannot assign value to variable ' {self.name}': Shape mismatch.The variable "
                f"shape {self._shape}, and the assigned value shape {t.shape} are incompatible."
            )
        return t

    def _write(self, t: Tensor):
        """Store ``t``. Eager writes keep a private copy, so a later donation never deletes an
        array the caller still holds."""
        trace = current_trace()
        if trace is not None:
            trace_write(trace, self, t)
            return
        array = _copy(t._array if isinstance(t, EagerTensor) else t._tracefn_array())
        if self._sharding is not None:
            array = place_array(array, self._sharding)
        with STATE_LOCK:
            self._value = array
            EXPOSED.pop(id(self), None)
            STATE.version += 1

    def _update(self, fn: Callable, *args) -> None:
        """``self = fn(self, *args)``; eagerly the read, the kernel and the store happen under
        ``STATE_LOCK``, so concurrent updates never lose one."""
        trace = current_trace()
        if trace is not None:
            trace_write(trace, self, fn(self, *args))
            return
        with STATE_LOCK:
            array = fn(self, *args)._array
            self._value = array if self._sharding is None else place_array(array, self._sharding)
            EXPOSED.pop(id(self), None)
            STATE.version += 1

    def assign(self, value, use_locking=None, name=None, read_value: bool = True):
        """Set the value; returns the variable itself (reads see later writes, spec V6), or
        ``None`` with ``read_value=False``."""
        self._write(self._convert(value, "assign"))
        return self if read_value else None

    def assign_add(self, delta, use_locking=None, name=None, read_value: bool = True):
        self._update(_add, self._convert(delta, "assign_add"))
        return self if read_value else None

    def assign_sub(self, delta, use_locking=None, name=None, read_value: bool = True):
        self._update(_sub, self._convert(delta, "assign_sub"))
        return self if read_value else None

    def _scatter(self, sparse: IndexedSlices, mode: str):
        if not hasattr(sparse, "indices") or not hasattr(sparse, "values"):
            raise TypeError(f"scatter_{mode} on variable {self.name!r} takes a "
                            f"tf.IndexedSlices(values, indices), got {sparse!r}")  # fmt: skip
        idx = convert_to_tensor(sparse.indices)
        values = convert_to_tensor(sparse.values, dtype=self._dtype)
        idx2 = bind(P.expand_dims, idx, axis=-1)
        self._update(_scatter, idx2, values, mode)
        return self

    def scatter_update(self, sparse_delta: IndexedSlices, use_locking=False, name=None):
        """Set rows ``sparse_delta.indices`` to ``sparse_delta.values``."""
        return self._scatter(sparse_delta, "update")

    def scatter_add(self, sparse_delta: IndexedSlices, use_locking=False, name=None):
        return self._scatter(sparse_delta, "add")

    def scatter_sub(self, sparse_delta: IndexedSlices, use_locking=False, name=None):
        return self._scatter(sparse_delta, "sub")

    def scatter_max(self, sparse_delta: IndexedSlices, use_locking=False, name=None):
        return self._scatter(sparse_delta, "max")

    def scatter_min(self, sparse_delta: IndexedSlices, use_locking=False, name=None):
        return self._scatter(sparse_delta, "min")

    def scatter_nd_update(self, indices, updates, name=None):
        idx = convert_to_tensor(indices)
        self._update(_scatter, idx, convert_to_tensor(updates, dtype=self._dtype), "update")
        return self

    # ---------------------------------------------------------------- TF1-era conveniences
    def initialized_value(self):
        """The current value (the initial value if the variable is not initialized yet); section
        8 of the spec: works in TF2 style too."""
        return self.read_value()

    def set_shape(self, shape):
        """Narrow the static shape; it must stay compatible with the current value."""
        shape = TensorShape(shape)
        if not shape.is_compatible_with(self._shape):
            raise ValueError(f"Cannot set the shape of variable {self.name!r} to {shape}: it "
                             f"has shape {self._shape}")  # fmt: skip
        self._shape = shape

    def __iadd__(self, other):
        raise RuntimeError(_IADD_MESSAGE)

    __isub__ = __imul__ = __itruediv__ = __iadd__

    def __hash__(self):
        return id(self)

    def ref(self):
        """A hashable reference, usable as a dict key (``ref.deref()`` gives the variable)."""
        return Ref(self)

    def experimental_ref(self):
        return self.ref()

    def __repr__(self):
        if current_trace() is not None:
            return f"<tf.Variable '{self.name}' shape={self._shape} dtype={self._dtype.name}>"
        return (
            f"<tf.Variable '{self.name}' shape={self._shape} dtype={self._dtype.name}, "
            f"numpy={_np_repr(self._eager('repr'))}>"
        )

    def __reduce__(self):
        raise TypeError(f"Variable {self.name!r} cannot be pickled; use tracefn.train.Checkpoint.")


def _np_repr(a):
    return repr(a.item()) if a.ndim == 0 else repr(a)


def _add(v, t):
    return bind(P.add, v, t)


def _sub(v, t):
    return bind(P.subtract, v, t)


def _scatter(v, indices, values, mode):
    return bind(P.scatter_nd_update, v, indices, values, mode=mode)


# -------------------------------------------------------------------------- initial values


def _initial_value_fn(initial_value, dtype) -> Callable[[], Any]:
    """A function computing the variable's (next) initial array. Re-running it re-evaluates
    the initial value: constants give the same array, random initializers their next draw."""
    if callable(initial_value) and not isinstance(initial_value, (Tensor, Variable)):
        fn = initial_value

        def compute():
            with _outside_trace():
                return _as_array(fn(), dtype)

        return compute
    if isinstance(initial_value, SymbolicTensor):
        array = _as_array(evaluate_symbolic(initial_value), dtype)
        return lambda: array
    if isinstance(initial_value, Variable):
        array = _copy(initial_value._value if dtype is None else _as_array(initial_value, dtype))
        return lambda: array
    array = _as_array(initial_value, dtype)
    return lambda: array


def _as_array(value, dtype):
    if isinstance(value, Variable):
        value = EagerTensor(value._value)
    if isinstance(value, EagerTensor):
        if dtype is not None and value.dtype != dtype:
            from . import math_ops

            value = math_ops.cast(value, dtype)
        return _copy(value._array)
    if isinstance(value, SymbolicTensor):
        return _as_array(evaluate_symbolic(value), dtype)
    if isinstance(value, jax.Array):
        return _copy(value if dtype is None else value.astype(dtype.np))
    arr = to_array(value, dtype)
    if arr.dtype == object:
        raise TypeError(f"string variables are not supported (XLA programs hold numbers "
                        f"only): {value!r}")  # fmt: skip
    return jnp.array(arr, copy=True)


class _outside_trace:
    """Run code eagerly even while a trace is active (TF's ``init_scope``)."""

    def __enter__(self):
        from .tracing import _stack

        self.saved = list(_stack())
        _stack().clear()

    def __exit__(self, *exc):
        from .tracing import _stack

        _stack().extend(self.saved)


init_scope = _outside_trace


def evaluate_symbolic(t: SymbolicTensor) -> EagerTensor:
    """The concrete value of a traced tensor, computed from the call's concrete inputs (used
    for initial values that depend on a function's arguments, spec V2)."""
    trace = t.trace
    memo: dict[int, Any] = dict(trace.concrete)

    def value(v):
        if id(v) in memo:
            return memo[id(v)]
        op = v.producer
        if op is None:
            raise ValueError(
                "A variable's initial value depends on a function argument whose value is not "
                "known (the function is being traced from a TensorSpec). Create the variable "
                "outside the function, or call the function with real arguments first."
            )
        if op.prim is read_variable:
            result = [op.var._value]
        elif op.prim is P.const:
            result = [op.attrs["value"]]
        elif op.regions or op.prim.effect:
            raise ValueError(
                f"A variable's initial value depends on {op.prim.name!r} "
                "(control flow or state), which cannot be evaluated eagerly."
            )
        else:
            out = op.prim.impl(*[value(i) for i in op.inputs], **op.attrs)
            result = list(out) if op.prim.multiple_results else [out]
        for o, r in zip(op.outputs, result):
            memo[id(o)] = r
        return memo[id(v)]

    return EagerTensor(jnp.asarray(value(t.value)))


# ------------------------------------------------------------------------------ in a trace


def trace_read(trace, var: Variable) -> SymbolicTensor:
    (out,) = trace.emit(read_variable, [], {"var": var},
                        [TensorType(var.shape, var.dtype)], name=var._name + "/Read")  # fmt: skip
    return out


def trace_write(trace, var: Variable, t: Tensor) -> None:
    trace.emit(assign_variable, [trace.value_of(t)], {"var": var}, [], name=var._name + "/Assign")


def _on_create(var: Variable) -> None:
    trace = current_trace()
    if trace is not None and trace.creation_policy is not None:
        trace.creation_policy(var)
    for hook in CREATION_HOOKS:
        hook(var)


# ------------------------------------------------------------------- TF1 graph mode (compat)
# While a compat.v1 graph is being built (a trace of kind "graph" is innermost), creating a
# Variable makes a graph variable instead: its initial value is a computation in the graph and
# its value lives in each Session. All of that is in tracefn/compat/v1/graph_variables.py; the
# eager and function paths above never see it.


def _building_graph() -> bool:
    stack = _tls.stack
    return bool(stack) and stack[-1].kind == "graph"


def _graph_variable_class() -> type:
    from .compat.v1.graph_variables import GraphVariable

    return GraphVariable


def place_array(array, sharding):
    """``array`` on ``sharding`` (a no-op when it is there already). Across processes a
    process-local array becomes a global one, from each process's identical copy."""
    if array.sharding.is_equivalent_to(sharding, array.ndim):
        return array
    if sharding.is_fully_addressable:
        return jax.device_put(array, sharding)
    host = np.asarray(array)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


# Hooks called with every new variable (compat.v1 collections, distribution strategies).
CREATION_HOOKS: list[Callable[[Variable], None]] = []


def unshare(variables) -> bool:
    """Give each variable in ``variables`` whose buffer a user tensor shares a private copy.
    Call with ``STATE_LOCK`` held; returns whether any variable changed buffer."""
    changed = False
    for v in variables:
        if EXPOSED.pop(id(v), None) is not None:
            v._value = _copy(v._value)
            changed = True
    if changed:
        STATE.version += 1
    return changed


from .array_ops import overload_operators  # noqa: E402

overload_operators(Variable)
Variable.__hash__ = lambda self: id(self)
Variable.__eq__ = lambda self, other: (other is self) if isinstance(other, Variable) else (
    _tensor_eq(self, other))  # fmt: skip


def _tensor_eq(self, other):
    from .array_ops import OPERATORS

    return OPERATORS["__eq__"](self, other)
