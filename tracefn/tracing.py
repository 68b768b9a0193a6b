"""Tracing: the context that records ops into a graph, and ``bind``, the one entry point of ops.

``bind(prim, *tensors, **attrs)`` runs the primitive at once on jax arrays when no trace is
active (eager mode, through a cached jitted kernel) and records an ``Op`` in the innermost open
region of the active ``Trace`` otherwise. Every op records the user's source line and a name
from the active name scopes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import dtypes
from .dtypes import DType, as_dtype
from .errors import InaccessibleTensorError
from .ir import Graph, Op, Primitive, TensorType, Value
from .primitives import P, attrs_key, eager_kernel
from .tensor import EagerTensor, SymbolicTensor, Tensor

__all__ = ["Trace", "bind", "convert_to_tensor", "current_trace", "name_scope", "user_source"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class _ThreadState(threading.local):
    """Per-thread trace stack and name-scope stack (``__init__`` runs once per thread)."""

    def __init__(self):
        self.stack: list = []
        self.scopes: list = []
        self.tapes: list = []  # active GradientTapes (see gradients.py), innermost last


_tls = _ThreadState()


def _stack() -> list:
    return _tls.stack


def current_trace() -> Trace | None:
    stack = _tls.stack
    return stack[-1] if stack else None


def _scopes() -> list:
    return _tls.scopes


# ----------------------------------------------------------------------- source and names


def user_source(skip: int = 1) -> tuple | None:
    """(file, line, function) of the innermost frame outside the tracefn package."""
    frame = sys._getframe(skip)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR) or "/tests/" in filename:
            return (filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


def scope_prefix() -> str:
    scopes = _scopes()
    return scopes[-1] if scopes else ""


@contextlib.contextmanager
def name_scope(name: str | None):
    """Prefix the names of ops and variables created inside with ``name/``.

    In eager mode and inside ``function`` names are not made unique (TF2 behaviour); while a
    TF1 graph is being built (``compat.v1``) they are, per graph."""
    scopes = _scopes()
    trace = current_trace()
    if name is None or name == "":
        scopes.append("")
    elif name.endswith("/"):
        scopes.append(name)
    elif trace is not None and trace.kind == "graph":  # TF1 graphs: ns, ns_1, ... (C5)
        scopes.append(trace.unique_name(name) + "/")
    else:
        scopes.append(scope_prefix() + name + "/")
    try:
        yield scopes[-1]
    finally:
        scopes.pop()


# ------------------------------------------------------------------------------- the trace


class Trace:
    """Records ops into ``graph``. ``regions`` is the stack of open regions (the graph itself,
    then the branch or loop body being traced); values may be used only while their region is
    open. ``concrete`` maps input values to arrays when the call's arguments are known, so that
    a variable's initial value computed in the trace can be evaluated at once."""

    def __init__(self, name: str = "graph", *, creation_policy=None, kind: str = "function"):
        self.graph = Graph(name=name)
        self.regions: list[Graph] = [self.graph]
        self.names: dict[str, int] = {}
        self.concrete: dict[int, Any] = {}
        self.creation_policy = creation_policy
        self.kind = kind
        self.features: frozenset = frozenset()  # autograph features (Feature.ASSERT_STATEMENTS)
        self._consts: dict[int, SymbolicTensor] = {}
        self._keep: list = []  # captured arrays, alive so the ids in _consts stay unique

    # --- context management
    def __enter__(self):
        _stack().append(self)
        return self

    def __exit__(self, *exc):
        popped = _stack().pop()
        assert popped is self, "trace stack corrupted"

    @contextlib.contextmanager
    def region(self, region: Graph):
        self.regions.append(region)
        try:
            yield region
        finally:
            self.regions.pop()

    # --- building
    def unique_name(self, base: str) -> str:
        name = scope_prefix() + base
        n = self.names.get(name, 0)
        self.names[name] = n + 1
        return name if n == 0 else f"{name}_{n}"

    def new_input(self, type: TensorType, name: str = "input", region: Graph | None = None):
        region = region or self.regions[-1]
        value = Value(type)
        region.inputs.append(value)
        return SymbolicTensor(value, self, region, f"{self.unique_name(name)}:0")

    def emit(self, prim: Primitive, values, attrs: dict, out_types, regions=(), name=None):
        op = Op(prim, values, attrs, out_types, regions, self.unique_name(name or prim.name),
                user_source(2))  # fmt: skip
        region = self.regions[-1]
        region.ops.append(op)
        if _tls.tapes:
            for tape in _tls.tapes:
                tape._record_traced(self, region, op)
        return [SymbolicTensor(v, self, region, f"{op.name}:{i}") for i, v in enumerate(op.outputs)]

    def value_of(self, x) -> Any:
        """The IR value for a bind input: a tensor of this trace, a captured eager tensor, or a
        variable (emits a read)."""
        if isinstance(x, SymbolicTensor):
            if x.trace is not self:
                raise _foreign_tensor(x)
            if not any(x.region is r for r in self.regions):
                raise InaccessibleTensorError(
                    f"{x!r} is out of scope and cannot be used here. Use return values, explicit "
                    "Python locals or TensorFlow collections to access it."
                )
            return x.value
        if isinstance(x, EagerTensor):
            return self.capture(x._array).value
        read = getattr(x, "_tracefn_read", None)
        if read is not None:
            return self.value_of(read())
        raise TypeError(f"Cannot use {type(x).__name__} {x!r} as a tensor.")

    def capture(self, array) -> SymbolicTensor:
        key = id(array)
        t = self._consts.get(key)
        if t is None or not any(t.region is r for r in self.regions):
            arr = np.asarray(array) if not isinstance(array, jax.Array) else array
            (t,) = self.emit(P.const, [], {"value": arr}, [TensorType(arr.shape, arr.dtype)],
                             name="Const")  # fmt: skip
            self._consts[key] = t
            self._keep.append(array)
        return t


def _foreign_tensor(x: SymbolicTensor) -> Exception:
    return InaccessibleTensorError(
        f"The tensor {x!r} belongs to another traced function ({x.trace.graph.name!r}) or to a "
        "trace that has finished, and cannot be used here. Tensors created inside a traced "
        "function are only valid inside it: return them instead of storing them in Python "
        "objects."
    )


# ------------------------------------------------------------------------------ conversion


def _infer_np(value, dtype: DType | None) -> np.ndarray:
    if dtype is not None:
        return _np_with_dtype(value, dtype)
    if isinstance(value, (np.ndarray, np.generic)):  # before float: np.float64 is a float
        return np.asarray(value)
    if value is None:
        raise TypeError(
            "Attempt to convert a value (None) with an unsupported type "
            "(<class 'NoneType'>) to a Tensor."
        )
    if isinstance(value, bool):
        return np.asarray(value, np.bool_)
    if isinstance(value, int):
        return np.asarray(value, np.int32 if -(2**31) <= value < 2**31 else np.int64)
    if isinstance(value, float):
        return np.asarray(value, np.float32)
    if isinstance(value, (str, bytes)):
        return np.asarray(value.encode() if isinstance(value, str) else value, dtype=object)
    arr = np.asarray(value)
    if arr.dtype == object and not _all_strings(value):
        raise TypeError(
            f"Attempt to convert a value ({value!r}) with an unsupported type "
            f"({type(value)}) to a Tensor."
        )
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype == np.int64 and (arr.size == 0 or (arr.min() >= -(2**31) and arr.max() < 2**31)):
        return arr.astype(np.int32)
    if arr.dtype.kind in "USO":
        return np.asarray(value, dtype=object)
    return arr


def _all_strings(value) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    return isinstance(value, (list, tuple)) and all(_all_strings(v) for v in value)


def _np_with_dtype(value, dtype: DType) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and dtype.is_integer and not np.all(np.equal(np.mod(arr, 1), 0)):
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtype.name}")
    if arr.dtype.kind in "fc" and dtype.is_bool:
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtype.name}")
    if arr.dtype.kind in "USO" and dtype != dtypes.string:
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtype.name}")
    return arr.astype(dtype.np)


def to_array(value, dtype: DType | None = None):
    """A jax array for a Python or numpy value."""
    arr = _infer_np(value, dtype)
    return arr if arr.dtype == object else jnp.asarray(arr)


def convert_to_tensor(value, dtype=None, name: str | None = None, dtype_hint=None) -> Tensor:
    """``value`` as a tensor of ``dtype`` (inferred TF-style if not given: Python floats are
    float32, ints int32). Tensors and variables pass through; a dtype mismatch is a TypeError."""
    dtype = None if dtype is None else as_dtype(dtype)
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype != dtype:
            raise TypeError(
                f"Tensor conversion requested dtype {dtype.name} for Tensor with dtype "
                f"{value.dtype.name}: {value!r}"
            )
        return value
    read = getattr(value, "_tracefn_read", None)
    if read is not None:
        return convert_to_tensor(read(), dtype)
    if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer):
        t = EagerTensor(value)
        if dtype is not None and t.dtype != dtype:
            raise TypeError(f"Tensor conversion requested dtype {dtype.name} for Tensor with "
                            f"dtype {t.dtype.name}")  # fmt: skip
        return t
    if isinstance(value, (list, tuple)) and any(_is_tensorlike(v) for v in _leaves(value)):
        from . import array_ops

        return array_ops.stack([convert_to_tensor(v, dtype) for v in value])
    if dtype is None and dtype_hint is not None:
        try:
            arr = to_array(value, as_dtype(dtype_hint))
        except TypeError:
            arr = to_array(value)
    else:
        arr = to_array(value, dtype)
    trace = current_trace()
    if trace is not None and arr.dtype != object:
        return trace.capture(arr)
    return EagerTensor(arr)


def _leaves(value):
    for v in value:
        if isinstance(v, (list, tuple)):
            yield from _leaves(v)
        else:
            yield v


def _is_tensorlike(v) -> bool:
    return isinstance(v, Tensor) or hasattr(v, "_tracefn_read")


# ------------------------------------------------------------------------------------ bind


def _eager_array(x):
    if isinstance(x, EagerTensor):
        return x._array
    if isinstance(x, SymbolicTensor):
        raise _foreign_tensor(x)
    array = getattr(x, "_tracefn_array", None)  # a Variable: its buffer, not a user tensor
    if array is not None:
        return array()
    return x


def bind(prim: Primitive, *args, **attrs) -> Any:
    """Apply ``prim`` to tensors ``args``: execute now (eager) or record it (tracing).

    Returns one tensor, or a list for multiple-result primitives."""
    trace = current_trace()
    if trace is None:
        arrays = [_eager_array(a) for a in args]
        try:
            out = eager_kernel(prim, attrs_key(attrs))(*arrays)
        except (TypeError, ValueError) as e:
            raise op_error(prim, [TensorType(a.shape, a.dtype) for a in arrays], e) from None
        outs = [EagerTensor(o) for o in out] if prim.multiple_results else [EagerTensor(out)]
        if _tls.tapes:
            for tape in _tls.tapes:
                tape._record_eager(prim, args, attrs, outs)
        return outs if prim.multiple_results else outs[0]
    values = [trace.value_of(a) for a in args]
    types = [v.type for v in values]
    try:
        out_types = prim.abstract_eval(types, attrs)
    except (TypeError, ValueError) as e:
        raise op_error(prim, types, e) from None
    outs = trace.emit(prim, values, attrs, out_types)
    return outs if prim.multiple_results else outs[0]


def op_error(prim: Primitive, types: Sequence[TensorType], e: Exception) -> Exception:
    """A TF-style error for an op that rejected its inputs: ValueError for shapes, TypeError for
    dtypes, naming the op and the input types, and where in the user's code it happened."""
    from .ir import type_str

    message = str(e).split("\n")[0]
    shapes = ", ".join(type_str(t) for t in types)
    src = user_source(2)
    where = f" (at {os.path.basename(src[0])}:{src[1]})" if src else ""
    kind = ValueError if _is_shape_error(message) else TypeError
    return kind(f"{prim.name}: {message}; inputs: {shapes}{where}")


def _is_shape_error(message: str) -> bool:
    lowered = message.lower()
    return any(w in lowered for w in ("shape", "dimension", "axis", "size", "rank", "broadcast"))
