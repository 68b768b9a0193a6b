"""The ops layer: every primitive defined once, with its jax implementation.

A primitive's shape/dtype rule is derived from its implementation with ``jax.eval_shape``
(unknown dims become symbolic dims of ``jax.export``, and come back as ``None``), so no rule is
written twice. Eager execution runs a primitive through a cached ``jax.jit`` kernel per
(primitive, attributes); jax caches the compiled executable per input types behind it.
Lowering calls ``impl`` inside the traced program. Attribute values must be hashable.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .ir import PRIMITIVES, Primitive, TensorType, register

__all__ = ["defprim", "abstract_eval", "eager_kernel", "attrs_key", "P"]


# ------------------------------------------------------------------ rules derived from impl


def attrs_key(attrs: dict) -> tuple:
    return tuple(sorted(attrs.items())) if attrs else ()


_symbolic_dims: dict[int, tuple] = {}


def _sym_dims(n: int) -> tuple:
    """``n`` distinct symbolic dimensions, made once per count and reused."""
    if n not in _symbolic_dims:
        names = ", ".join(f"_d{i}" for i in range(n))
        _symbolic_dims[n] = jax.export.symbolic_shape(names) if n else ()
    return _symbolic_dims[n]


def _to_struct(types, dims):
    structs, k = [], 0
    for t in types:
        shape = []
        for d in t.shape:
            if d is None:
                shape.append(dims[k])
                k += 1
            else:
                shape.append(d)
        structs.append(jax.ShapeDtypeStruct(tuple(shape), t.dtype.np))
    return structs


def _from_struct(s) -> TensorType:
    shape = tuple(d if isinstance(d, (int, np.integer)) else None for d in s.shape)
    return TensorType(shape, s.dtype)


@functools.lru_cache(maxsize=8192)
def _eval_cached(prim: Primitive, types: tuple, key: tuple) -> tuple:
    attrs = dict(key)
    if any(t.shape is None for t in types):
        return _eval_unknown_rank(prim, types, attrs)
    n_unknown = sum(d is None for t in types for d in t.shape)
    try:
        return _eval_with(prim, types, attrs, _sym_dims(n_unknown))
    except Exception:
        if not n_unknown:
            raise
        error = sys.exc_info()[1]
    # Distinct symbols cannot broadcast against each other ([None,1] - [None,1]) nor against
    # known sizes ([None] * [2]): retry with one shared symbol, then with unknown sizes of 1
    # (whose size-1 results come back unknown). The lowered program sees the real shapes.
    try:
        return _eval_with(prim, types, attrs, _sym_dims(1) * n_unknown)
    except Exception:
        pass
    try:
        outs = _eval_with(prim, types, attrs, (1,) * n_unknown)
    except Exception:
        raise error from None
    return tuple(TensorType(tuple(None if d == 1 else d for d in o.shape), o.dtype) for o in outs)


def _eval_with(prim: Primitive, types: tuple, attrs: dict, dims) -> tuple:
    structs = _to_struct(types, dims)
    out = jax.eval_shape(functools.partial(prim.impl, **attrs), *structs)
    outs = out if prim.multiple_results else (out,)
    return tuple(_from_struct(o) for o in jax.tree_util.tree_leaves(outs))


def _eval_unknown_rank(prim: Primitive, types: tuple, attrs: dict) -> tuple:
    # A value of unknown rank (TensorSpec(None)) has no jax stand-in; keep the dtype from a
    # scalar stand-in and leave the shape unknown. The lowered program sees real shapes.
    scalars = [TensorType(() if t.shape is None else t.shape, t.dtype) for t in types]
    try:
        outs = _eval_cached(prim, tuple(scalars), attrs_key(attrs))
    except Exception:
        return (TensorType(None, types[0].dtype),)
    return tuple(TensorType(None, o.dtype) for o in outs)


def abstract_eval(prim: Primitive, types, attrs: dict) -> tuple:
    """Output types of ``prim`` applied to inputs of ``types`` (cached)."""
    return _eval_cached(prim, tuple(types), attrs_key(attrs))


def _default_rule(prim: Primitive) -> Callable:
    return lambda types, attrs: abstract_eval(prim, types, attrs)


_kernels: dict = {}
_MAX_KERNELS = 4096


def eager_kernel(prim: Primitive, key: tuple) -> Callable:
    """The jitted kernel running ``prim`` with attributes ``key`` (see ``attrs_key``)."""
    k = (prim, key)
    fn = _kernels.get(k)
    if fn is None:
        if len(_kernels) >= _MAX_KERNELS:  # attributes may hold user objects: stay bounded
            _kernels.clear()
        fn = _kernels[k] = jax.jit(functools.partial(prim.impl, **dict(key)))
    return fn


def defprim(name: str, impl: Callable | None = None, **kw) -> Primitive:
    """Register a primitive; its shape rule defaults to ``jax.eval_shape`` of ``impl``."""
    prim = Primitive(name, impl, **kw)
    if prim.abstract_eval is None and impl is not None:
        prim.abstract_eval = _default_rule(prim)
    return register(prim)


class _Table:
    """``P.add`` is the registered primitive named ``add``."""

    def __getattr__(self, name):
        try:
            return PRIMITIVES[name]
        except KeyError:
            raise AttributeError(f"no primitive named {name!r}") from None


P = _Table()


# ------------------------------------------------------------------------------ definitions


def _unary(name, fn):
    defprim(name, lambda x: fn(x))


def _binary(name, fn):
    defprim(name, lambda x, y: fn(x, y))


for _n, _f in {
    "negative": jnp.negative, "abs": jnp.abs, "sign": jnp.sign, "exp": jnp.exp,
    "log": jnp.log, "sqrt": jnp.sqrt, "rsqrt": lax.rsqrt, "square": jnp.square,
    "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan, "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid, "floor": jnp.floor, "ceil": jnp.ceil,
    "round": jnp.round, "logical_not": jnp.logical_not, "log1p": jnp.log1p,
    "expm1": jnp.expm1, "reciprocal": jnp.reciprocal, "erf": jax.scipy.special.erf,
    "asin": jnp.arcsin, "acos": jnp.arccos, "atan": jnp.arctan, "sinh": jnp.sinh,
    "cosh": jnp.cosh, "is_nan": jnp.isnan, "is_inf": jnp.isinf, "is_finite": jnp.isfinite,
    "invert": jnp.invert, "relu": jax.nn.relu, "softplus": jax.nn.softplus,
    "softsign": jax.nn.soft_sign, "selu": jax.nn.selu, "silu": jax.nn.silu,
    "stop_gradient": lax.stop_gradient, "identity": lambda x: x,
    "copy": lambda x: jnp.array(x, copy=True),
}.items():  # fmt: skip
    _unary(_n, _f)


def _truediv(x, y):
    if jnp.issubdtype(x.dtype, jnp.integer):  # TF: int32 / int32 -> float64
        wide = jnp.float64 if x.dtype.itemsize >= 4 else jnp.float32
        return jnp.true_divide(x.astype(wide), y.astype(wide))
    return jnp.true_divide(x, y)


for _n, _f in {
    "add": jnp.add, "subtract": jnp.subtract, "multiply": jnp.multiply,
    "divide": _truediv, "floordiv": jnp.floor_divide, "mod": jnp.mod, "pow": jnp.power,
    "maximum": jnp.maximum, "minimum": jnp.minimum, "atan2": jnp.arctan2,
    "equal": jnp.equal, "not_equal": jnp.not_equal, "less": jnp.less,
    "less_equal": jnp.less_equal, "greater": jnp.greater, "greater_equal": jnp.greater_equal,
    "logical_and": jnp.logical_and, "logical_or": jnp.logical_or,
    "logical_xor": jnp.logical_xor, "bitwise_and": jnp.bitwise_and,
    "bitwise_or": jnp.bitwise_or, "bitwise_xor": jnp.bitwise_xor,
    "squared_difference": lambda x, y: jnp.square(x - y),
    "divide_no_nan": lambda x, y: jnp.where(y == 0, jnp.zeros_like(x), x / jnp.where(y == 0, 1, y)),
}.items():  # fmt: skip
    _binary(_n, _f)

defprim("matmul", lambda a, b, transpose_a=False, transpose_b=False: jnp.matmul(
    jnp.swapaxes(a, -1, -2) if transpose_a else a,
    jnp.swapaxes(b, -1, -2) if transpose_b else b))  # fmt: skip


def _reduction(name, fn):
    defprim(name, lambda x, axis=None, keepdims=False: fn(x, axis=axis, keepdims=keepdims))


def _mean(x, axis=None, keepdims=False):
    if jnp.issubdtype(x.dtype, jnp.integer):  # TF: integer mean truncates, keeps the dtype
        n = x.size if axis is None else np.prod([x.shape[a] for a in axis])
        total = jnp.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)
        # lax.div rounds toward zero like TF's C++ division (`//` would floor: mean(-1, -2) = -2)
        return lax.div(total, jnp.asarray(max(n, 1), x.dtype))
    return jnp.mean(x, axis=axis, keepdims=keepdims)


for _n, _f in {
    "reduce_sum": lambda x, axis, keepdims: jnp.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype),
    "reduce_prod": lambda x, axis, keepdims: jnp.prod(x, axis=axis, keepdims=keepdims,
                                                      dtype=x.dtype),
    "reduce_mean": _mean, "reduce_max": jnp.max, "reduce_min": jnp.min,
    "reduce_any": jnp.any, "reduce_all": jnp.all,
    "reduce_logsumexp": lambda x, axis, keepdims: jax.nn.logsumexp(x, axis=axis, keepdims=keepdims),
    "reduce_variance": jnp.var, "reduce_std": jnp.std,
}.items():  # fmt: skip
    _reduction(_n, _f)

defprim("argmax", lambda x, axis=0, output_type=None: jnp.argmax(x, axis=axis).astype(
    output_type.np))  # fmt: skip
defprim("argmin", lambda x, axis=0, output_type=None: jnp.argmin(x, axis=axis).astype(
    output_type.np))  # fmt: skip
defprim("cumsum", lambda x, axis=0, exclusive=False, reverse=False: _cumulative(
    jnp.cumsum, x, axis, exclusive, reverse))  # fmt: skip


def _cumulative(fn, x, axis, exclusive, reverse):
    if reverse:
        x = jnp.flip(x, axis)
    out = fn(x, axis=axis, dtype=x.dtype)
    if exclusive:
        out = out - x
    return jnp.flip(out, axis) if reverse else out


defprim("reshape", lambda x, shape: jnp.reshape(x, shape))
defprim("transpose", lambda x, perm=None: jnp.transpose(x, perm))
defprim("expand_dims", lambda x, axis: jnp.expand_dims(x, axis))
defprim("squeeze", lambda x, axis=None: jnp.squeeze(x, axis))
defprim("concat", lambda *xs, axis: jnp.concatenate(xs, axis=axis))
defprim("stack", lambda *xs, axis=0: jnp.stack(xs, axis=axis))
defprim("unstack", lambda x, axis=0: tuple(jnp.moveaxis(x, axis, 0)), multiple_results=True)
defprim("split", lambda x, sizes, axis=0: tuple(jnp.split(x, np.cumsum(sizes)[:-1], axis=axis)),
        multiple_results=True)  # fmt: skip
defprim("tile", lambda x, multiples: jnp.tile(x, multiples))
defprim("broadcast_to", lambda x, shape: jnp.broadcast_to(x, shape))
defprim("reverse", lambda x, axis: jnp.flip(x, axis))
defprim("pad", lambda x, paddings, constant_values=0: jnp.pad(
    x, paddings, constant_values=constant_values))  # fmt: skip
defprim("gather", lambda x, idx, axis=0, batch_dims=0: _gather(x, idx, axis, batch_dims))
defprim("gather_nd", lambda x, idx: x[tuple(jnp.moveaxis(idx, -1, 0))])
defprim("one_hot", lambda idx, depth, on_value=1.0, off_value=0.0, axis=-1, dtype=None: jnp.where(
    jax.nn.one_hot(idx, depth, axis=axis, dtype=jnp.bool_), on_value, off_value
).astype(dtype.np))  # fmt: skip
defprim("select", lambda c, x, y: jnp.where(c, x, y))
defprim("cast", lambda x, dtype: _cast(x, dtype))
defprim("bitcast", lambda x, dtype: lax.bitcast_convert_type(x, dtype.np))
defprim("shape_of", lambda x, out_type: jnp.asarray(x.shape, dtype=out_type.np))
defprim("boolean_mask_count", lambda m: jnp.sum(m.astype(jnp.int32)))
defprim("sort", lambda x, axis=-1, descending=False: (
    -jnp.sort(-x, axis) if descending else jnp.sort(x, axis)))  # fmt: skip
defprim("argsort", lambda x, axis=-1, descending=False: jnp.argsort(
    -x if descending else x, axis).astype(jnp.int32))  # fmt: skip
defprim("top_k", lambda x, k: _top_k(x, k), multiple_results=True)
defprim("scatter_nd_update", lambda x, idx, upd, mode: _scatter(x, idx, upd, mode))
defprim("matrix_band_part", lambda x, lower, upper: _band(x, lower, upper))
defprim("einsum", lambda *xs, equation: jnp.einsum(equation, *xs))


def _top_k(x, k):
    values, indices = lax.top_k(x, k)
    return values, indices.astype(jnp.int32)


def _band(x, lower, upper):
    n, m = x.shape[-2:]
    i, j = jnp.arange(n)[:, None], jnp.arange(m)[None, :]
    keep = ((lower < 0) | (i - j <= lower)) & ((upper < 0) | (j - i <= upper))
    return jnp.where(keep, x, jnp.zeros_like(x))


def _scatter(x, idx, upd, mode):
    at = x.at[tuple(jnp.moveaxis(idx, -1, 0))]
    return {"update": at.set, "add": at.add, "sub": at.subtract, "max": at.max,
            "min": at.min, "mul": at.multiply}[mode](upd)  # fmt: skip


def _gather(x, idx, axis, batch_dims):
    if batch_dims == 0:
        return jnp.take(x, idx, axis=axis)
    fn = functools.partial(_gather, axis=axis - 1, batch_dims=batch_dims - 1)
    return jax.vmap(fn)(x, idx)


def _cast(x, dtype):
    if dtype.np.kind in "iu" and jnp.issubdtype(x.dtype, jnp.floating):
        x = jnp.trunc(x)  # TF casts float -> int by truncation toward zero
    if dtype.np.kind == "b":
        return x != 0
    return x.astype(dtype.np)


def _index_key(spec):
    """Decode a static index (see ``array_ops.encode_index``) into a numpy-style index."""
    out = []
    for item in spec:
        if item == "...":
            out.append(Ellipsis)
        elif item is None:
            out.append(None)
        elif isinstance(item, tuple):
            out.append(slice(*item))
        else:
            out.append(item)
    return tuple(out)


defprim("strided_slice", lambda x, spec: x[_index_key(spec)])
# Dynamic (tensor) indices: the static part is `spec`, where "t" marks a tensor index input.
defprim("dynamic_index", lambda x, *idx, spec: x[_dynamic_key(spec, idx)])


def _dynamic_key(spec, idx):
    it = iter(idx)
    return tuple(next(it) if item == "t" else k for item, k in zip(spec, _index_key(
        tuple(0 if s == "t" else s for s in spec))))  # fmt: skip


# creation ops: no tensor inputs; shape and dtype are attributes
defprim("fill", lambda value, shape: jnp.broadcast_to(value, shape))
defprim("zeros", lambda shape, dtype: jnp.zeros(shape, dtype.np))
defprim("ones", lambda shape, dtype: jnp.ones(shape, dtype.np))
defprim("eye", lambda n, m, dtype: jnp.eye(n, m, dtype=dtype.np))
defprim("range", lambda start, limit, delta, dtype: _range(start, limit, delta, dtype))
defprim("linspace", lambda start, stop, num, axis=0: jnp.linspace(start, stop, num, axis=axis))


def _range(start, limit, delta, dtype):
    n = int(max(0, np.ceil((limit - start) / delta)))
    return (start + delta * jnp.arange(n)).astype(dtype.np)


def _const_impl(*, value):
    return value


def _const_rule(types, attrs):
    v = attrs["value"]
    return (TensorType(np.shape(v), v.dtype),)


# A constant's value is an array: unhashable, so it is kept out of the kernel caches.
defprim("const", _const_impl, abstract_eval=_const_rule)

# nn
defprim("relu6", lambda x: jnp.clip(x, 0, 6).astype(x.dtype))
defprim("leaky_relu", lambda x, alpha=0.2: jax.nn.leaky_relu(x, alpha))
defprim("elu", lambda x: jax.nn.elu(x))
defprim("gelu", lambda x, approximate=False: jax.nn.gelu(x, approximate=approximate))
defprim("softmax", lambda x, axis=-1: jax.nn.softmax(x, axis=axis))
defprim("log_softmax", lambda x, axis=-1: jax.nn.log_softmax(x, axis=axis))
defprim("softmax_xent", lambda labels, logits, axis=-1: -jnp.sum(
    labels * jax.nn.log_softmax(logits, axis=axis), axis=axis))  # fmt: skip
defprim("sparse_softmax_xent", lambda labels, logits: -jnp.take_along_axis(
    jax.nn.log_softmax(logits, axis=-1), labels[..., None].astype(jnp.int32), axis=-1
)[..., 0])  # fmt: skip
defprim("sigmoid_xent", lambda labels, logits: jnp.maximum(logits, 0) - logits * labels
        + jnp.log1p(jnp.exp(-jnp.abs(logits))))  # fmt: skip
defprim("l2_loss", lambda x: jnp.sum(jnp.square(x)) / 2)
defprim("l2_normalize", lambda x, axis=None, epsilon=1e-12: x * lax.rsqrt(
    jnp.maximum(jnp.sum(jnp.square(x), axis=axis, keepdims=True), epsilon)))  # fmt: skip
defprim("bias_add", lambda x, b: x + b)
defprim("conv2d", lambda x, w, strides, padding: lax.conv_general_dilated(
    x, w, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC")))  # fmt: skip
defprim("clip_by_value", lambda x, lo, hi: jnp.minimum(jnp.maximum(x, lo), hi))
