"""Ops under their TF1 names and signatures (``to_float``, ``div``, ``reduce_sum(...,
reduction_indices=, keep_dims=)``, ...), for ``import tracefn.compat.v1 as tf``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ... import array_ops, dtypes, math_ops
from ...dtypes import as_dtype
from ...ir import TensorType
from ...primitives import P
from ...tensor import Tensor
from ...tracing import to_array
from .graph import building_graph

__all__ = [
    "constant", "to_float", "to_double", "to_int32", "to_int64", "div", "reduce_sum", "reduce_mean",
    "reduce_max", "reduce_min", "reduce_prod", "reduce_any", "reduce_all", "reduce_logsumexp",
    "arg_max", "arg_min",
]  # fmt: skip


def _cast_to(dtype) -> Callable:
    def fn(x, name=None):
        return math_ops.cast(x, dtype)

    fn.__name__ = f"to_{dtype.name}"
    return fn


to_float = _cast_to(dtypes.float32)
to_double = _cast_to(dtypes.float64)
to_int32 = _cast_to(dtypes.int32)
to_int64 = _cast_to(dtypes.int64)


def div(x, y, name=None):
    """TF1's ``div``: floor division for integers, true division for floats."""
    x, y = math_ops.binary_operands(x, y, "div")
    return math_ops.floordiv(x, y) if x.dtype.is_integer else math_ops.divide(x, y)


def _tf1_reduction(fn) -> Callable:
    def reduce(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
               keep_dims=None):  # fmt: skip
        axis = reduction_indices if axis is None else axis
        keepdims = keep_dims if keepdims is None else keepdims
        return fn(input_tensor, axis=axis, keepdims=bool(keepdims))

    reduce.__name__ = fn.__name__
    reduce.__doc__ = fn.__doc__
    return reduce


reduce_sum = _tf1_reduction(math_ops.reduce_sum)
reduce_mean = _tf1_reduction(math_ops.reduce_mean)
reduce_max = _tf1_reduction(math_ops.reduce_max)
reduce_min = _tf1_reduction(math_ops.reduce_min)
reduce_prod = _tf1_reduction(math_ops.reduce_prod)
reduce_any = _tf1_reduction(math_ops.reduce_any)
reduce_all = _tf1_reduction(math_ops.reduce_all)
reduce_logsumexp = _tf1_reduction(math_ops.reduce_logsumexp)


def arg_max(input, dimension=None, name=None, output_type=dtypes.int64):
    return math_ops.argmax(input, axis=0 if dimension is None else dimension,
                           output_type=output_type)  # fmt: skip


def arg_min(input, dimension=None, name=None, output_type=dtypes.int64):
    return math_ops.argmin(input, axis=0 if dimension is None else dimension,
                           output_type=output_type)  # fmt: skip


def constant(value, dtype=None, shape=None, name: str = "Const", verify_shape: bool = False):
    """TF1's ``constant``: in a graph, an op named ``name``; with ``shape``, a scalar is
    broadcast and a shorter list padded with its last element."""
    graph = building_graph()
    if graph is None or isinstance(value, Tensor) or hasattr(value, "_tracefn_read"):
        return array_ops.constant(value, dtype, shape)
    array = np.asarray(to_array(value, None if dtype is None else as_dtype(dtype)))
    if shape is not None:
        array = _fill(array, tuple(int(d) for d in shape), verify_shape)
    (t,) = graph._trace.emit(P.const, [], {"value": array},
                             [TensorType(array.shape, array.dtype)], name=name)  # fmt: skip
    return t


def _fill(array: np.ndarray, shape: tuple, verify: bool) -> np.ndarray:
    size = int(np.prod(shape))
    flat = array.ravel()
    if verify and array.shape != shape:
        raise TypeError(f"Expected Tensor's shape: {shape}, got {array.shape}.")
    if flat.size > size:
        raise TypeError(f"Too many elements provided. Needed at most {size}, but received "
                        f"{flat.size}")  # fmt: skip
    if 0 < flat.size < size:
        flat = np.concatenate([flat, np.full(size - flat.size, flat[-1], flat.dtype)])
    return flat.reshape(shape)
