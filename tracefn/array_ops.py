"""Creation, shape and indexing ops with TensorFlow's names, and the Tensor operators."""

from __future__ import annotations

import builtins

import numpy as np

from . import dtypes, math_ops
from .dtypes import as_dtype
from .primitives import P
from .tensor import EagerTensor, SymbolicTensor, Tensor
from .tracing import bind, convert_to_tensor, current_trace, to_array

__all__ = []


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """A tensor holding ``value`` (a Python value, numpy array or tensor), optionally broadcast
    to ``shape``."""
    if isinstance(value, Tensor) or hasattr(value, "_tracefn_read"):
        t = convert_to_tensor(value)
        t = math_ops.cast(t, dtype) if dtype is not None else t
    else:
        arr = to_array(value, None if dtype is None else as_dtype(dtype))
        trace = current_trace()
        t = trace.capture(arr) if trace is not None and arr.dtype != object else EagerTensor(arr)
    if shape is not None and tuple(t.shape) != tuple(shape):
        if t.shape.num_elements() == int(np.prod(shape)):
            return reshape(t, shape)
        return broadcast_to(t, shape)
    return t


def _shape_attr(shape, op: str) -> tuple:
    if isinstance(shape, Tensor):
        if isinstance(shape, SymbolicTensor):
            raise TypeError(f"{op}: the shape must be known while tracing, got {shape!r}")
        shape = shape.numpy().tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def zeros(shape, dtype=dtypes.float32, name=None):
    return bind(P.zeros, shape=_shape_attr(shape, "zeros"), dtype=as_dtype(dtype))


def ones(shape, dtype=dtypes.float32, name=None):
    return bind(P.ones, shape=_shape_attr(shape, "ones"), dtype=as_dtype(dtype))


def fill(dims, value, name=None):
    return bind(P.fill, convert_to_tensor(value), shape=_shape_attr(dims, "fill"))


def zeros_like(input, dtype=None, name=None):
    x = convert_to_tensor(input)
    return zeros(_known_shape(x, "zeros_like"), dtype or x.dtype)


def ones_like(input, dtype=None, name=None):
    x = convert_to_tensor(input)
    return ones(_known_shape(x, "ones_like"), dtype or x.dtype)


def _known_shape(x, op):
    if not x.shape.is_fully_defined():
        # Unknown dims: derive from the value itself so the shape follows the runtime input.
        raise NotImplementedError(f"{op} of a tensor with unknown shape {x.shape}")
    return tuple(x.shape)


def eye(num_rows, num_columns=None, dtype=dtypes.float32, name=None):
    return bind(P.eye, n=int(num_rows), m=int(num_columns or num_rows), dtype=as_dtype(dtype))


def range(start, limit=None, delta=1, dtype=None, name="range"):
    """``[start, start+delta, ...)`` below ``limit``, like Python's range (TF's ``tf.range``).

    With a traced bound inside ``function``, autograph turns ``for i in tf.range(n)`` into a
    loop op (see ``control_flow``)."""
    if limit is None:
        start, limit = 0, start
    vals = [start, limit, delta]
    if any(isinstance(v, SymbolicTensor) for v in vals):
        from . import control_flow

        return control_flow.traced_range(start, limit, delta, dtype)
    vals = [v.numpy().item() if isinstance(v, Tensor) else v for v in vals]
    if vals[2] == 0:
        raise ValueError("range: Requires delta != 0")
    if dtype is None:
        dtype = dtypes.float32 if any(isinstance(v, float) for v in vals) else dtypes.int32
    return bind(P.range, start=vals[0], limit=vals[1], delta=vals[2], dtype=as_dtype(dtype))


def linspace(start, stop, num, name=None, axis=0):
    start, stop = math_ops.binary_operands(start, stop, "linspace")
    if not start.dtype.is_floating:
        start, stop = math_ops.cast(start, dtypes.float32), math_ops.cast(stop, dtypes.float32)
    return bind(P.linspace, start, stop, num=int(num), axis=axis)


# ------------------------------------------------------------------------------------ shapes


def shape(input, out_type=dtypes.int32, name=None):
    x = convert_to_tensor(input)
    return bind(P.shape_of, x, out_type=as_dtype(out_type))


def size(input, out_type=dtypes.int32, name=None):
    return math_ops.reduce_prod(shape(input, out_type))


def rank(input, name=None):
    return constant(convert_to_tensor(input).shape.rank, dtypes.int32)


def reshape(tensor, shape, name=None):
    """``tensor`` with a new shape of the same size; one dim may be -1 (inferred)."""
    x = convert_to_tensor(tensor)
    new = _shape_attr(shape, "reshape")
    if x.shape.is_fully_defined():
        n = x.shape.num_elements()
        known = int(np.prod([d for d in new if d != -1]))
        bad = (-1 not in new and known != n) or (-1 in new and (known == 0 or n % known))
        if bad or list(new).count(-1) > 1:
            raise ValueError(
                f"reshape: Cannot reshape a tensor with {n} elements to shape "
                f"{list(new)} ({known} elements) for 'Reshape'."
            )
    return bind(P.reshape, x, shape=new)


def transpose(a, perm=None, conjugate=False, name="transpose"):
    x = convert_to_tensor(a)
    if perm is not None:
        perm = _shape_attr(perm, "transpose")
        if x.shape.rank is not None and sorted(perm) != list(builtins.range(x.shape.rank)):
            raise ValueError(
                f"transpose: perm {list(perm)} is not a permutation of the "
                f"{x.shape.rank} dimensions of a tensor of shape {x.shape}"
            )
    return bind(P.transpose, x, perm=perm)


def expand_dims(input, axis, name=None):
    x = convert_to_tensor(input)
    r = x.shape.rank
    if r is not None and not -(r + 1) <= axis <= r:
        raise ValueError(f"expand_dims: axis {axis} is out of range for a tensor of rank {r}")
    return bind(P.expand_dims, x, axis=int(axis))


def squeeze(input, axis=None, name=None):
    x = convert_to_tensor(input)
    if axis is not None:
        axes = math_ops.normalize_axis(axis, x.shape.rank, "squeeze")
        for a in axes:
            if x.shape.rank is not None and x.shape[a] not in (1, None):
                raise ValueError(
                    f"squeeze: Can not squeeze dim[{a}], expected a dimension of "
                    f"1, got {x.shape[a]} for a tensor of shape {x.shape}"
                )
        axis = axes
    return bind(P.squeeze, x, axis=axis)


def concat(values, axis, name="concat"):
    """Join ``values`` along ``axis``; all other dims must agree."""
    xs = _same_dtype([convert_to_tensor(v) for v in values], "concat")
    ranks = {x.shape.rank for x in xs if x.shape.rank is not None}
    if len(ranks) > 1:
        raise ValueError(f"concat: Shape must be equal rank, got shapes "
                         f"{[str(x.shape) for x in xs]}")  # fmt: skip
    rank_ = ranks.pop() if ranks else None
    (axis,) = math_ops.normalize_axis(axis, rank_, "concat") if rank_ else (axis,)
    if rank_ is not None:
        for d in builtins.range(rank_):
            sizes = {x.shape[d] for x in xs if x.shape[d] is not None}
            if d != axis and len(sizes) > 1:
                raise ValueError(f"concat: Dimension {d} in both shapes must be equal: shapes "
                                 f"are {[str(x.shape) for x in xs]}")  # fmt: skip
    return bind(P.concat, *xs, axis=axis)


def _same_dtype(xs, op):
    if len({x.dtype for x in xs}) > 1:
        raise TypeError(f"{op}: all inputs must have one dtype, got {[x.dtype.name for x in xs]}")
    return xs


def stack(values, axis=0, name="stack"):
    xs = _same_dtype([convert_to_tensor(v) for v in values], "stack")
    shapes = {tuple(x.shape) for x in xs if x.shape.is_fully_defined()}
    if len(shapes) > 1:
        raise ValueError(f"stack: Shapes of all inputs must match: got {sorted(shapes)}")
    return bind(P.stack, *xs, axis=int(axis))


def unstack(value, num=None, axis=0, name="unstack"):
    x = convert_to_tensor(value)
    return list(bind(P.unstack, x, axis=int(axis)))


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    x = convert_to_tensor(value)
    (axis,) = math_ops.normalize_axis(axis, x.shape.rank, "split")
    if isinstance(num_or_size_splits, int):
        n = x.shape[axis]
        if n % num_or_size_splits:
            raise ValueError(f"split: Dimension {axis} of size {n} is not divisible by "
                             f"{num_or_size_splits}")  # fmt: skip
        sizes = (n // num_or_size_splits,) * num_or_size_splits
    else:
        sizes = tuple(int(s) for s in num_or_size_splits)
    return list(bind(P.split, x, sizes=sizes, axis=axis))


def tile(input, multiples, name=None):
    x = convert_to_tensor(input)
    multiples = _shape_attr(multiples, "tile")
    # jnp.tile would quietly prepend dims for a short `multiples`; TF requires one per dim.
    if x.shape.rank is not None and len(multiples) != x.shape.rank:
        raise ValueError(f"tile: Expected multiples argument to be a vector of length "
                         f"{x.shape.rank} but got length {len(multiples)}")  # fmt: skip
    return bind(P.tile, x, multiples=multiples)


def broadcast_to(input, shape, name=None):
    x = convert_to_tensor(input)
    return bind(P.broadcast_to, x, shape=_shape_attr(shape, "broadcast_to"))


def reverse(tensor, axis, name=None):
    x = convert_to_tensor(tensor)
    return bind(P.reverse, x, axis=math_ops.normalize_axis(axis, x.shape.rank, "reverse"))


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    x = convert_to_tensor(tensor)
    pads = tuple(tuple(int(v) for v in p) for p in np.asarray(paddings).tolist())
    return bind(P.pad, x, paddings=pads, constant_values=constant_values)


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """Slices of ``params`` along ``axis`` at ``indices``."""
    x = convert_to_tensor(params)
    idx = convert_to_tensor(indices)
    if not idx.dtype.is_integer:
        raise TypeError(f"gather: indices must be an integer tensor, got {idx.dtype.name}")
    (axis,) = math_ops.normalize_axis(0 if axis is None else axis, x.shape.rank, "gather")
    return bind(P.gather, x, idx, axis=axis, batch_dims=int(batch_dims))


def gather_nd(params, indices, batch_dims=0, name=None):
    return bind(P.gather_nd, convert_to_tensor(params), convert_to_tensor(indices))


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    idx = convert_to_tensor(indices)
    if not idx.dtype.is_integer:  # jax would give float indices an all-off row silently
        raise TypeError(f"one_hot: indices must be an integer tensor, got {idx.dtype.name}")
    dtype = as_dtype(dtype or dtypes.float32)
    on = 1 if on_value is None else on_value
    off = 0 if off_value is None else off_value
    on, off = (v.numpy().item() if isinstance(v, Tensor) else v for v in (on, off))
    return bind(P.one_hot, idx, depth=int(depth), on_value=on, off_value=off,
                axis=-1 if axis is None else axis, dtype=dtype)  # fmt: skip


def where(condition, x=None, y=None, name=None):
    """Elementwise ``x`` where ``condition`` else ``y`` (both must be given)."""
    c = convert_to_tensor(condition)
    if x is None or y is None:
        raise NotImplementedError("where(condition) with one argument (indices of true entries)")
    if not c.dtype.is_bool:
        raise TypeError(f"where: condition must be a bool tensor, got {c.dtype.name}")
    x, y = math_ops.binary_operands(x, y, "where")
    return bind(P.select, c, x, y)


def sort(values, axis=-1, direction="ASCENDING", name=None):
    return bind(P.sort, convert_to_tensor(values), axis=axis, descending=direction == "DESCENDING")


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    x = convert_to_tensor(values)
    return bind(P.argsort, x, axis=axis, descending=direction == "DESCENDING")


def matrix_band_part(input, num_lower, num_upper, name=None):
    return bind(P.matrix_band_part, convert_to_tensor(input), lower=int(num_lower),
                upper=int(num_upper))  # fmt: skip


# ---------------------------------------------------------------------------------- indexing


def encode_index(key):
    """A static, hashable encoding of a numpy-style index; ``"t"`` marks tensor indices."""
    if not isinstance(key, tuple):
        key = (key,)
    spec, tensors = [], []
    for k in key:
        if k is Ellipsis:
            spec.append("...")
        elif k is None:
            spec.append(None)
        elif isinstance(k, slice):
            parts = [_static_int(p, "slice bound") for p in (k.start, k.stop, k.step)]
            spec.append(tuple(parts))
        elif isinstance(k, (int, np.integer)):
            spec.append(int(k))
        elif isinstance(k, EagerTensor) and k.shape.rank == 0:
            spec.append(int(k))
        elif isinstance(k, Tensor) or hasattr(k, "_tracefn_read"):
            spec.append("t")
            tensors.append(convert_to_tensor(k))
        else:
            raise TypeError(
                f"Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar "
                f"int32/int64 tensors are valid indices, got {k!r}"
            )
    return tuple(spec), tensors


def _static_int(p, what):
    if p is None or isinstance(p, (int, np.integer)):
        return None if p is None else int(p)
    if isinstance(p, EagerTensor):
        return int(p)
    raise TypeError(f"A {what} must be a Python int or an eager scalar, got {p!r}")


def getitem(tensor, key):
    """``tensor[key]``: ints, slices, ``...`` and ``None``; scalar tensors as indices."""
    x = convert_to_tensor(tensor)
    spec, tensors = encode_index(key)
    _check_static_bounds(x, spec)
    if tensors:
        return bind(P.dynamic_index, x, *tensors, spec=spec)
    return bind(P.strided_slice, x, spec=spec)


def _check_static_bounds(x, spec):
    if x.shape.rank is None or "..." in spec:
        return
    dim = 0
    for item in spec:
        if item is None:
            continue
        if dim >= x.shape.rank:
            raise ValueError(f"Index out of range: too many indices ({len(spec)}) for a tensor "
                             f"of rank {x.shape.rank} (shape {x.shape})")  # fmt: skip
        size = x.shape[dim]
        if isinstance(item, int) and size is not None and not -size <= item < size:
            raise ValueError(f"slice index {item} of dimension {dim} out of bounds for a "
                             f"tensor of shape {x.shape}")  # fmt: skip
        dim += 1


# --------------------------------------------------------------------------------- operators


def _rev(fn):
    return lambda self, other: fn(other, self)


def _eq(self, other):
    if other is None:
        return False
    if not (isinstance(other, (Tensor, int, float, bool, list, tuple, np.ndarray, np.generic))
            or hasattr(other, "_tracefn_read")):  # fmt: skip
        return False
    try:
        return math_ops.equal(self, other)
    except (ValueError, TypeError):
        return False


def _ne(self, other):
    result = _eq(self, other)
    return True if result is False else math_ops.logical_not(result)


def _logical_or_bitwise(logical, bitwise):
    def fn(x, y):
        x, y = math_ops.binary_operands(x, y, logical.__name__)
        if x.dtype.is_bool:
            return logical(x, y)
        return bind(bitwise, x, y)

    return fn


def _invert(x):
    x = convert_to_tensor(x)
    return math_ops.logical_not(x) if x.dtype.is_bool else bind(P.invert, x)


OPERATORS = {
    "__add__": math_ops.add, "__radd__": _rev(math_ops.add),
    "__sub__": math_ops.subtract, "__rsub__": _rev(math_ops.subtract),
    "__mul__": math_ops.multiply, "__rmul__": _rev(math_ops.multiply),
    "__truediv__": math_ops.divide, "__rtruediv__": _rev(math_ops.divide),
    "__floordiv__": math_ops.floordiv, "__rfloordiv__": _rev(math_ops.floordiv),
    "__mod__": math_ops.mod, "__rmod__": _rev(math_ops.mod),
    "__pow__": math_ops.pow, "__rpow__": _rev(math_ops.pow),
    "__matmul__": math_ops.matmul, "__rmatmul__": _rev(math_ops.matmul),
    "__lt__": math_ops.less, "__le__": math_ops.less_equal,
    "__gt__": math_ops.greater, "__ge__": math_ops.greater_equal,
    "__eq__": _eq, "__ne__": _ne,
    "__and__": _logical_or_bitwise(math_ops.logical_and, P.bitwise_and),
    "__rand__": _rev(_logical_or_bitwise(math_ops.logical_and, P.bitwise_and)),
    "__or__": _logical_or_bitwise(math_ops.logical_or, P.bitwise_or),
    "__ror__": _rev(_logical_or_bitwise(math_ops.logical_or, P.bitwise_or)),
    "__xor__": _logical_or_bitwise(math_ops.logical_xor, P.bitwise_xor),
    "__rxor__": _rev(_logical_or_bitwise(math_ops.logical_xor, P.bitwise_xor)),
    "__neg__": math_ops.negative, "__abs__": math_ops.abs, "__invert__": _invert,
    "__getitem__": getitem,
}  # fmt: skip


def overload_operators(cls) -> None:
    """Give ``cls`` (Tensor, Variable) TensorFlow's operators."""
    for name, fn in OPERATORS.items():
        setattr(cls, name, fn)


overload_operators(Tensor)
Tensor.eval = lambda self, feed_dict=None, session=None: _eval(self, feed_dict, session)


def _eval(t, feed_dict, session):
    if isinstance(t, EagerTensor):
        return t.numpy()
    from .compat.v1 import session as _session  # graph mode lives above this layer

    return _session.eval_tensor(t, feed_dict, session)
