"""TensorFlow-style dtype objects (``tracefn.float32`` ...) over numpy dtypes.

A ``DType`` prints as ``tf.float32`` and compares equal to the numpy dtype it wraps, so both
``x.dtype == tf.float32`` and ``x.dtype == np.float32`` hold.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DType", "as_dtype"]


class DType:
    """A tensor element type. ``tracefn.float32.as_numpy_dtype is numpy.float32``."""

    __slots__ = ("np", "name")

    def __init__(self, np_dtype):
        self.np = np.dtype(np_dtype)
        self.name = _NAMES.get(self.np.name, self.np.name)

    @property
    def as_numpy_dtype(self):
        return self.np.type

    @property
    def is_floating(self) -> bool:
        return self.np.kind == "f" or self.name == "bfloat16"

    @property
    def is_integer(self) -> bool:
        return self.np.kind in "iu"

    @property
    def is_bool(self) -> bool:
        return self.np.kind == "b"

    @property
    def is_complex(self) -> bool:
        return self.np.kind == "c"

    @property
    def is_numeric(self) -> bool:
        return self.np.kind in "iufcb" or self.name == "bfloat16"

    @property
    def min(self):
        return np.finfo(self.np).min if self.is_floating else np.iinfo(self.np).min

    @property
    def max(self):
        return np.finfo(self.np).max if self.is_floating else np.iinfo(self.np).max

    @property
    def size(self) -> int:
        return self.np.itemsize

    def __eq__(self, other):
        if isinstance(other, DType):
            return self.np == other.np
        try:
            return self.np == np.dtype(other)
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.np)

    def __repr__(self):
        return f"tf.{self.name}"

    def __str__(self):
        return f"<dtype: '{self.name}'>"

    def __reduce__(self):
        return (as_dtype, (self.name,))


_NAMES = {"bool": "bool", "str": "string", "object": "string"}
_CACHE: dict = {}


def as_dtype(value) -> DType:
    """Convert a DType, numpy dtype, Python type or name (``"float32"``) to a ``DType``."""
    if isinstance(value, DType):
        return value
    try:
        return _CACHE[value]
    except (KeyError, TypeError):
        pass
    if value is float:
        result = float32
    elif value is int:
        result = int32
    elif value is bool:
        result = bool_
    elif value == "string" or value is str:
        result = string
    else:
        if hasattr(value, "dtype") and not isinstance(value, type):
            value = value.dtype
        try:
            np_dtype = np.dtype(value)
            # one DType per numpy dtype, as in TF: tf.as_dtype(np.float32) is tf.float32
            result = _INTERNED.get(np_dtype) or DType(np_dtype)
        except TypeError:
            raise TypeError(f"Cannot convert {value!r} to a tracefn dtype.") from None
    try:
        _CACHE[value] = result
    except TypeError:
        pass
    return result


import ml_dtypes  # noqa: E402  (jax's dependency; gives numpy a bfloat16)

float16 = half = DType(np.float16)
bfloat16 = DType(ml_dtypes.bfloat16)
float32 = DType(np.float32)
float64 = double = DType(np.float64)
int8 = DType(np.int8)
int16 = DType(np.int16)
int32 = DType(np.int32)
int64 = DType(np.int64)
uint8 = DType(np.uint8)
uint16 = DType(np.uint16)
uint32 = DType(np.uint32)
uint64 = DType(np.uint64)
bool_ = DType(np.bool_)
complex64 = DType(np.complex64)
complex128 = DType(np.complex128)
string = DType(np.object_)
_INTERNED = {d.np: d for d in (
    float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
    bool_, complex64, complex128, string)}  # fmt: skip
