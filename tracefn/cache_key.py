"""The cache key of a ``function`` call and the explanation of a retrace.

Tensors are keyed by shape and dtype, Python scalars by type and value (spec section 8),
containers structurally, variables by spec plus aliasing, other objects by identity through a
weak reference. ``describe_change`` turns two keys into the reason a call retraced.
"""

from __future__ import annotations

import collections
import logging
import weakref
from typing import Any

import jax
import numpy as np

from .tensor import EagerTensor, SymbolicTensor, TensorShape, TensorSpec
from .variables import Variable

logger = logging.getLogger("tracefn")

# ---------------------------------------------------------------------------------- keys


class _WeakKey:
    """Keys an arbitrary object by identity (or its own ``__eq__``/``__hash__``) through a
    weak reference, so a trace keyed on a dead object can never match again (spec T6)."""

    __slots__ = ("ref", "hash", "__weakref__")

    def __init__(self, obj):
        try:
            self.ref = weakref.ref(obj)
        except TypeError:
            self.ref = lambda obj=obj: obj  # not weak-referenceable: hold it
        try:
            custom = type(obj).__hash__ is not object.__hash__
            self.hash = hash(obj) if custom else id(obj)
        except TypeError:
            self.hash = id(obj)

    def __hash__(self):
        return self.hash

    def __eq__(self, other):
        if not isinstance(other, _WeakKey):
            return False
        a, b = self.ref(), other.ref()
        if a is None or b is None:
            return False
        return a is b or (type(a).__eq__ is not object.__eq__ and _safe_eq(a, b))

    def __repr__(self):
        return f"<object {self.ref()!r}>"


def _safe_eq(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


_SCALARS = frozenset({int, float, bool, str, bytes, type(None), complex})


def arg_key(x, arrays: list, avars: list):
    """The cache key of one argument; appends its arrays and variables (in order)."""
    t = type(x)
    if t is EagerTensor:
        a = x._array
        arrays.append(a)
        aval = a.aval  # a C++ attribute: cheaper than the .shape/.dtype properties
        return ("T", aval.shape, aval.dtype)
    if t in _SCALARS:
        return (t, x)
    if t is tuple or t is list:
        return (t, tuple([arg_key(e, arrays, avars) for e in x]))
    if isinstance(x, dict):  # OrderedDict, defaultdict too: structurally, key order ignored
        return (t, tuple([(k, arg_key(x[k], arrays, avars)) for k in sorted(x, key=repr)]))
    if isinstance(x, Variable):
        for i, u in enumerate(avars):
            if u is x:
                return ("alias", i)
        avars.append(x)
        return (Variable, x.dtype.np, tuple(x.shape), x._sharding)
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise TypeError(f"A numpy array of dtype object cannot be a tensor argument: {x!r}")
        arrays.append(x)  # jax transfers it in the jitted call: no per-call conversion here
        return ("T", x.shape, x.dtype)
    if isinstance(x, jax.core.Tracer):
        raise TypeError(
            "A tracefn.function was called on a jax tracer (inside jax.jit, grad or vmap). "
            "Call it outside jax transformations, or wrap jax code for tracefn with "
            "tracefn.experimental.jax_op instead."
        )
    if isinstance(x, (jax.Array, np.generic)) and not isinstance(x, jax.core.Tracer):
        a = x if isinstance(x, jax.Array) else np.asarray(x)
        arrays.append(a)
        return ("T", a.shape, a.dtype)
    if isinstance(x, SymbolicTensor):
        arrays.append(x)
        return ("T", x.shape._dims, x.dtype.np)
    if isinstance(x, TensorSpec):
        arrays.append(x)
        return ("T", x.shape._dims, x.dtype.np)
    if isinstance(x, (tuple, list)):  # namedtuples and other subclasses: structurally
        return (t, tuple([arg_key(e, arrays, avars) for e in x]))
    return _WeakKey(x)


def key_skeleton(key):
    """The key with tensor entries replaced by ``"T"``: calls with equal skeletons differ only
    in tensor shapes, so they may share a trace with relaxed shapes (T12, T13)."""
    if type(key) is tuple:
        if len(key) == 3 and key[0] == "T":
            return "T"
        return tuple(key_skeleton(k) for k in key)
    return key


def spec_of(a) -> tuple:
    if isinstance(a, TensorSpec):
        return (a.shape._dims, a.dtype.np)
    if isinstance(a, SymbolicTensor):
        return (a.shape._dims, a.dtype.np)
    return (tuple(a.shape), a.dtype)


def spec_compatible(spec: tuple, call: tuple) -> bool:
    shape, dtype = spec
    if dtype != call[1]:
        return False
    if shape is None:
        return True
    if call[0] is None or len(shape) != len(call[0]):
        return False
    return all(d is None or d == c for d, c in zip(shape, call[0]))


def relax(old: tuple, new: tuple) -> tuple:
    return (TensorShape(old[0]).most_specific_compatible_shape(TensorShape(new[0]))._dims, new[1])


# --------------------------------------------------------------------- retrace explanation


def describe_change(old, new, path: str) -> list[str]:
    """Human-readable differences between two argument keys (why a call retraced)."""
    if old == new:
        return []
    if type(old) is tuple and type(new) is tuple and old and new:
        if old[0] == "T" and new[0] == "T":
            parts = []
            if old[2] != new[2]:
                parts.append(f"{path}: dtype {np.dtype(old[2]).name} -> {np.dtype(new[2]).name}")
            if old[1] != new[1]:
                parts.append(f"{path}: shape {shape_str(old[1])} -> {shape_str(new[1])}")
            return parts
        if old[0] in _SCALARS and new[0] in _SCALARS:
            return [f"{path}: Python value {old[1]!r} -> {new[1]!r}"]
        if old[0] is Variable and new[0] is Variable:
            return [f"{path}: variable spec {old[1:]} -> {new[1:]}"]
        if old[0] == new[0] and old[0] in (list, tuple, dict) and len(old[1]) == len(new[1]):
            return _describe_container(old, new, path)
    if isinstance(old, _WeakKey) and isinstance(new, _WeakKey):
        return [f"{path}: a different Python object (objects are keyed by identity)"]
    return [f"{path}: {_kind(old)} -> {_kind(new)}"]


def _describe_container(old, new, path):
    out = []
    for i, (a, b) in enumerate(zip(old[1], new[1])):
        if old[0] is dict:
            out += describe_change(a[1], b[1], f"{path}[{a[0]!r}]")
        else:
            out += describe_change(a, b, f"{path}[{i}]")
    return out


def shape_str(shape) -> str:
    return str(TensorShape(shape))


def _kind(k) -> str:
    if type(k) is tuple and k:
        if k[0] == "T":
            return f"tensor {shape_str(k[1])} {np.dtype(k[2]).name}"
        if k[0] in _SCALARS:
            return f"Python {k[0].__name__} {k[1]!r}"
        if k[0] is Variable:
            return "a variable"
        if k[0] == "alias":
            return f"the same variable as variable argument #{k[1]}"
        return f"a {getattr(k[0], '__name__', k[0])}"
    return "a Python object"


class _RetraceDetector:
    """Counts calls and traces per Python code object (shared by every Function wrapping the
    same code, as in TF) and warns, at most twice, when most recent calls retraced (T15)."""

    __slots__ = ("calls", "traces", "warnings")

    def __init__(self):
        self.calls = 0
        self.traces: collections.deque = collections.deque(maxlen=10)
        self.warnings = 0

    def on_trace(self, fn, reason: str) -> None:
        self.traces.append(self.calls)
        window = min(self.calls, 10)
        traced = sum(1 for c in self.traces if c > self.calls - window)
        if traced >= 5 and self.warnings < 2:
            self.warnings += 1
            logger.warning(
                f"{traced} out of the last {window} calls to {fn} triggered tf.function "
                "retracing. Tracing is expensive and the excessive number of tracings could be "
                "due to (1) creating @tf.function repeatedly in a loop, (2) passing tensors with "
                "different shapes, (3) passing Python objects instead of tensors. For (1), "
                "please define your @tf.function outside of the loop. For (2), @tf.function has "
                "reduce_retracing=True option that can avoid unnecessary retracing. For (3), "
                "please refer to https://www.tensorflow.org/guide/function#controlling_retracing"
                " and https://www.tensorflow.org/api_docs/python/tf/function for  more details."
                + (f" Last retrace: {reason}." if reason else "")
            )


_detectors: weakref.WeakKeyDictionary[Any, _RetraceDetector] = weakref.WeakKeyDictionary()


def detector_for(fn) -> _RetraceDetector:
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
    if code is None:
        return _RetraceDetector()
    det = _detectors.get(code)
    if det is None:
        det = _detectors[code] = _RetraceDetector()
    return det
