"""Elementwise math, reductions and matmul with TensorFlow's names, arguments and dtype rules.

Dtype rules (TF's): a Python value or numpy array next to a tensor takes the tensor's dtype;
two tensors of different dtypes are a ``TypeError`` naming both (no silent promotion).
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .dtypes import as_dtype
from .primitives import P
from .tensor import Tensor
from .tracing import bind, convert_to_tensor

__all__ = []  # the public names are re-exported by tracefn/__init__.py


def _is_tensorlike(x) -> bool:
    return isinstance(x, Tensor) or hasattr(x, "_tracefn_read")


def binary_operands(x, y, op: str):
    """Convert ``x`` and ``y`` to tensors of one dtype, following TF's rules."""
    xt, yt = _is_tensorlike(x), _is_tensorlike(y)
    if xt and yt:
        if x.dtype != y.dtype:
            raise TypeError(
                f"{op}: the operands have different dtypes, x: {x.dtype.name} and y: "
                f"{y.dtype.name}. tracefn (like TensorFlow) does not promote dtypes; cast one "
                f"with tf.cast(..., tf.{y.dtype.name}) first."
            )
        return x, y
    if xt:
        return x, convert_to_tensor(y, dtype=x.dtype)
    if yt:
        return convert_to_tensor(x, dtype=y.dtype), y
    x = convert_to_tensor(x)
    return x, convert_to_tensor(y, dtype=x.dtype)


def _numeric(x, op: str):
    if x.dtype == dtypes.string:
        raise TypeError(f"{op}: expected a numeric tensor, got a tensor of dtype string: {x!r}")
    return x


def _binary(prim, opname):
    def fn(x, y, name=None):
        x, y = binary_operands(x, y, opname)
        return bind(prim, _numeric(x, opname), _numeric(y, opname))

    fn.__name__ = opname
    fn.__doc__ = f"Elementwise ``{opname}(x, y)`` with broadcasting (TF's ``tf.{opname}``)."
    return fn


def _floating(x, op: str):
    # TF defines these ops for float and complex types only: tf.sqrt(int32) is a TypeError, where
    # jax would silently promote the integers to float.
    if x.dtype.is_integer or x.dtype.is_bool:
        raise TypeError(
            f"{op}: expected a float or complex tensor, got dtype {x.dtype.name}; cast it first "
            f"with tf.cast(x, tf.float32)."
        )
    return x


def _convert(x, op: str):
    """``convert_to_tensor`` whose error names the op being built."""
    try:
        return convert_to_tensor(x)
    except TypeError as e:
        raise TypeError(f"{op}: {e}") from None


def _unary(prim, opname, float_only=False):
    def fn(x, name=None):
        x = _numeric(_convert(x, opname), opname)
        return bind(prim, _floating(x, opname) if float_only else x)

    fn.__name__ = opname
    fn.__doc__ = f"Elementwise ``{opname}(x)`` (TF's ``tf.math.{opname}``)."
    return fn


add = _binary(P.add, "add")
subtract = _binary(P.subtract, "subtract")
multiply = _binary(P.multiply, "multiply")
divide = truediv = _binary(P.divide, "divide")
floordiv = floor_div = _binary(P.floordiv, "floordiv")
mod = floormod = _binary(P.mod, "mod")
pow = _binary(P.pow, "pow")
maximum = _binary(P.maximum, "maximum")
minimum = _binary(P.minimum, "minimum")
squared_difference = _binary(P.squared_difference, "squared_difference")
divide_no_nan = _binary(P.divide_no_nan, "divide_no_nan")
atan2 = _binary(P.atan2, "atan2")
equal = _binary(P.equal, "equal")
not_equal = _binary(P.not_equal, "not_equal")
less = _binary(P.less, "less")
less_equal = _binary(P.less_equal, "less_equal")
greater = _binary(P.greater, "greater")
greater_equal = _binary(P.greater_equal, "greater_equal")
logical_and = _binary(P.logical_and, "logical_and")
logical_or = _binary(P.logical_or, "logical_or")
logical_xor = _binary(P.logical_xor, "logical_xor")

negative = _unary(P.negative, "negative")
abs = _unary(P.abs, "abs")
sign = _unary(P.sign, "sign")
exp = _unary(P.exp, "exp", float_only=True)
log = _unary(P.log, "log", float_only=True)
log1p = _unary(P.log1p, "log1p", float_only=True)
expm1 = _unary(P.expm1, "expm1", float_only=True)
sqrt = _unary(P.sqrt, "sqrt", float_only=True)
rsqrt = _unary(P.rsqrt, "rsqrt", float_only=True)
square = _unary(P.square, "square")
reciprocal = _unary(P.reciprocal, "reciprocal")
sin = _unary(P.sin, "sin", float_only=True)
cos = _unary(P.cos, "cos", float_only=True)
tan = _unary(P.tan, "tan", float_only=True)
asin = _unary(P.asin, "asin", float_only=True)
acos = _unary(P.acos, "acos", float_only=True)
atan = _unary(P.atan, "atan", float_only=True)
sinh = _unary(P.sinh, "sinh", float_only=True)
cosh = _unary(P.cosh, "cosh", float_only=True)
tanh = _unary(P.tanh, "tanh", float_only=True)
sigmoid = _unary(P.sigmoid, "sigmoid", float_only=True)
erf = _unary(P.erf, "erf", float_only=True)
floor = _unary(P.floor, "floor", float_only=True)
ceil = _unary(P.ceil, "ceil", float_only=True)
round = _unary(P.round, "round")
logical_not = _unary(P.logical_not, "logical_not")
is_nan = _unary(P.is_nan, "is_nan", float_only=True)
is_inf = _unary(P.is_inf, "is_inf", float_only=True)
is_finite = _unary(P.is_finite, "is_finite", float_only=True)


def add_n(inputs, name=None):
    """Sum of a list of tensors of one shape and dtype."""
    inputs = list(inputs)
    out = inputs[0]
    for x in inputs[1:]:
        out = add(out, x)
    return convert_to_tensor(out)


def cast(x, dtype, name=None):
    """``x`` converted to ``dtype`` (floats to ints truncate toward zero, as in TF)."""
    dtype = as_dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype == dtype:
        return x
    return bind(P.cast, x, dtype=dtype)


def stop_gradient(x, name=None):
    """``x``, with no gradient flowing through it."""
    return bind(P.stop_gradient, convert_to_tensor(x))


def identity(x, name=None):
    return bind(P.identity, convert_to_tensor(x))


# ------------------------------------------------------------------------------ reductions


def normalize_axis(axis, rank, op: str):
    """``axis`` (int, list or None) as a tuple of non-negative ints, checked against ``rank``."""
    if axis is None:
        return None
    if isinstance(axis, Tensor):
        axis = axis.numpy().tolist()
    axes = (int(axis),) if isinstance(axis, (int, np.integer)) else tuple(int(a) for a in axis)
    if rank is None:
        return axes
    out = []
    for a in axes:
        if not -rank <= a < max(rank, 1):
            raise ValueError(
                f"{op}: Invalid reduction dimension {a} for input with {rank} dimensions."
            )
        out.append(a % rank if rank else 0)
    return tuple(out)


def _reduction(prim, opname, bool_only=False):
    def fn(input_tensor, axis=None, keepdims=False, name=None):
        x = _numeric(convert_to_tensor(input_tensor), opname)
        if bool_only and not x.dtype.is_bool:
            raise TypeError(f"{opname}: expected a bool tensor, got dtype {x.dtype.name}")
        axes = normalize_axis(axis, x.shape.rank, opname)
        return bind(prim, x, axis=axes, keepdims=bool(keepdims))

    fn.__name__ = opname
    fn.__doc__ = (
        f"``{opname}`` over ``axis`` (all axes if None); ``keepdims`` keeps reduced axes as 1."
    )
    return fn


reduce_sum = _reduction(P.reduce_sum, "reduce_sum")
reduce_mean = _reduction(P.reduce_mean, "reduce_mean")
reduce_max = _reduction(P.reduce_max, "reduce_max")
reduce_min = _reduction(P.reduce_min, "reduce_min")
reduce_prod = _reduction(P.reduce_prod, "reduce_prod")
reduce_any = _reduction(P.reduce_any, "reduce_any", bool_only=True)
reduce_all = _reduction(P.reduce_all, "reduce_all", bool_only=True)
reduce_logsumexp = _reduction(P.reduce_logsumexp, "reduce_logsumexp")
reduce_variance = _reduction(P.reduce_variance, "reduce_variance")
reduce_std = _reduction(P.reduce_std, "reduce_std")


def _arg_reduction(prim, opname):
    def fn(input, axis=None, output_type=dtypes.int64, name=None):
        x = convert_to_tensor(input)
        axis = 0 if axis is None else axis
        (axis,) = normalize_axis(axis, x.shape.rank, opname)
        return bind(prim, x, axis=axis, output_type=as_dtype(output_type))

    fn.__name__ = opname
    fn.__doc__ = f"Index of the {opname[3:]} along ``axis`` (default 0), as ``output_type``."
    return fn


argmax = _arg_reduction(P.argmax, "argmax")
argmin = _arg_reduction(P.argmin, "argmin")


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    x = convert_to_tensor(x)
    (axis,) = normalize_axis(axis, x.shape.rank, "cumsum")
    return bind(P.cumsum, x, axis=axis, exclusive=exclusive, reverse=reverse)


def count_nonzero(input, axis=None, keepdims=False, dtype=dtypes.int64, name=None):
    x = convert_to_tensor(input)
    return reduce_sum(cast(not_equal(x, 0), dtype), axis=axis, keepdims=keepdims)


# ----------------------------------------------------------------------------------- matmul


def matmul(a, b, transpose_a=False, transpose_b=False, name=None):
    """Matrix product of the last two axes (batched over leading axes)."""
    a, b = binary_operands(a, b, "matmul")
    sa, sb = a.shape, b.shape
    if sa.rank is not None and sb.rank is not None:
        if sa.rank < 2 or sb.rank < 2:
            raise ValueError(
                f"matmul: Shape must be rank >= 2 but is rank {min(sa.rank, sb.rank)} for "
                f"'MatMul' with input shapes: {_dims(sa)}, {_dims(sb)}."
            )
        ka = sa[-2] if transpose_a else sa[-1]
        kb = sb[-1] if transpose_b else sb[-2]
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(
                f"matmul: Dimensions must be equal, but are {ka} and {kb} for 'MatMul' with "
                f"input shapes: {_dims(sa)}, {_dims(sb)}."
            )
    return bind(P.matmul, a, b, transpose_a=bool(transpose_a), transpose_b=bool(transpose_b))


def _dims(shape) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def tensordot(a, b, axes, name=None):
    from .primitives import P as _P  # noqa: F401

    a, b = binary_operands(a, b, "tensordot")
    if isinstance(axes, int):
        la = "".join(chr(97 + i) for i in range(a.shape.rank))
        lb = la[a.shape.rank - axes :] + "".join(chr(110 + i) for i in range(b.shape.rank - axes))
        out = la[: a.shape.rank - axes] + lb[axes:]
        return einsum(f"{la},{lb}->{out}", a, b)
    raise NotImplementedError("tensordot with explicit axis lists; use tracefn.einsum")


def einsum(equation, *inputs, name=None):
    xs = [convert_to_tensor(x) for x in inputs]
    return bind(P.einsum, *xs, equation=equation)


# ------------------------------------------------------------------------------- clipping


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Clamp ``t`` elementwise into ``[clip_value_min, clip_value_max]``."""
    t = convert_to_tensor(t)
    lo = convert_to_tensor(clip_value_min, dtype=t.dtype)
    hi = convert_to_tensor(clip_value_max, dtype=t.dtype)
    return bind(P.clip_by_value, t, lo, hi)


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """Scale ``t`` so that its L2 norm (over ``axes``) is at most ``clip_norm``."""
    t = convert_to_tensor(t)
    l2sum = reduce_sum(square(t), axis=axes, keepdims=True)
    clip_norm = convert_to_tensor(clip_norm, dtype=t.dtype)
    norm = sqrt(l2sum)
    scale = divide(clip_norm, maximum(norm, clip_norm))
    return multiply(t, scale)


def global_norm(t_list, name=None):
    """sqrt(sum of squared L2 norms) of the tensors in ``t_list`` (``None`` entries skipped)."""
    ts = [convert_to_tensor(t) for t in t_list if t is not None]
    return sqrt(add_n([reduce_sum(square(t)) for t in ts]))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scale all of ``t_list`` by ``clip_norm / max(global_norm, clip_norm)``; returns
    ``(clipped_list, global_norm)``."""
    t_list = list(t_list)
    norm = global_norm(t_list) if use_norm is None else convert_to_tensor(use_norm)
    clip_norm = convert_to_tensor(clip_norm, dtype=norm.dtype)
    scale = divide(clip_norm, maximum(norm, clip_norm))
    out = [None if t is None else multiply(convert_to_tensor(t), cast(scale, t.dtype))
           for t in t_list]  # fmt: skip
    return out, norm
