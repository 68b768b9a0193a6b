"""Every public op against plain numpy (or jax) in eager mode and inside ``tf.function``; TF's
dtype rules; and the errors ops raise (ValueError for shapes, TypeError for dtypes, each naming
the op)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tracefn as tf

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 3)).astype(np.float32)
Y = rng.standard_normal((2, 3)).astype(np.float32)
POS = rng.uniform(0.5, 2.0, (2, 3)).astype(np.float32)
M = rng.standard_normal((3, 4)).astype(np.float32)
B3 = rng.standard_normal((2, 2, 3)).astype(np.float32)
I = np.array([[1, -2, 3], [4, 5, -7]], np.int32)
J = np.array([[2, 3, -2], [1, 4, 3]], np.int32)
HALF = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, -0.6], np.float32)
BA = np.array([[True, False, True], [False, False, True]])
BB = np.array([[True, True, False], [False, True, True]])
LABELS = np.array([2, 0], np.int32)


def case(name, fn, ref, *args):
    """One row: ``fn`` (tracefn) applied to tensors of ``args`` must equal ``ref(*args)``."""
    return pytest.param(fn, ref, args, id=name)


def f32(ref):
    return lambda *a: np.asarray(ref(*a), np.float32)


def run(fn, args, traced):
    tensors = [tf.constant(a) for a in args]
    # autograph=False: the table's lambdas have no control flow, and autograph cannot read the
    # source of a lambda that shares its line with another
    call = tf.function(lambda *a: fn(*a), autograph=False) if traced else fn
    return call(*tensors)


def check(out, expected):
    outs = jax.tree_util.tree_leaves(out)
    exps = jax.tree_util.tree_leaves(expected)
    assert len(outs) == len(exps)
    for o, e in zip(outs, exps):
        assert isinstance(o, tf.Tensor)
        e = np.asarray(e)
        assert o.dtype == e.dtype, (o.dtype, e.dtype)
        assert tuple(o.shape) == e.shape
        np.testing.assert_allclose(o.numpy(), e, rtol=1e-5, atol=1e-6)


_erf = np.vectorize(math.erf, otypes=[np.float64])
_sig = lambda x: 1 / (1 + np.exp(-x))


def _log_softmax(x, axis=-1):
    z = x - x.max(axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis, keepdims=True))


def _clip_norm(x, c, axes=None):
    norm = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
    return (x * c / np.maximum(norm, c)).astype(x.dtype)


def _global_clip(xs, c):
    g = np.sqrt(sum(np.sum(x.astype(np.float64) ** 2) for x in xs)).astype(np.float32)
    return [x * np.float32(c / max(g, c)) for x in xs], g


ELEMENTWISE = [
    # binary arithmetic, float and int
    case("add", tf.add, np.add, X, Y),
    case("subtract", tf.subtract, np.subtract, X, Y),
    case("multiply", tf.multiply, np.multiply, X, Y),
    case("divide", tf.divide, np.divide, X, POS),
    case("pow", tf.pow, np.power, POS, Y),
    case("maximum", tf.maximum, np.maximum, X, Y),
    case("minimum", tf.minimum, np.minimum, X, Y),
    case("floordiv", tf.math.floordiv, np.floor_divide, X, POS),
    case("mod", tf.math.floormod, np.mod, X, POS),
    case("add_int", tf.add, np.add, I, J),
    case("multiply_int", tf.multiply, np.multiply, I, J),
    case("divide_int_is_float64", tf.divide, np.true_divide, I, J),  # TF: int32/int32 -> f64
    case("floordiv_int", tf.math.floordiv, np.floor_divide, I, J),
    case("mod_int", tf.math.floormod, np.mod, I, J),
    case("pow_int", tf.pow, np.power, I, np.abs(J)),
    case("maximum_int", tf.maximum, np.maximum, I, J),
    case("broadcast_add", tf.add, np.add, X, Y[0]),
    # comparisons
    case("equal", tf.equal, np.equal, X, np.where(BA, X, Y)),
    case("not_equal", tf.not_equal, np.not_equal, X, np.where(BA, X, Y)),
    case("less", tf.less, np.less, X, Y),
    case("less_equal", tf.less_equal, np.less_equal, I, J),
    case("greater", tf.greater, np.greater, X, Y),
    case("greater_equal", tf.greater_equal, np.greater_equal, I, J),
    case("logical_and", tf.logical_and, np.logical_and, BA, BB),
    case("logical_or", tf.logical_or, np.logical_or, BA, BB),
    case("logical_not", tf.logical_not, np.logical_not, BA),
    # unary
    case("negative", tf.negative, np.negative, X),
    case("negative_int", tf.negative, np.negative, I),
    case("abs", tf.abs, np.abs, X),
    case("abs_int", tf.abs, np.abs, I),
    case("sign", tf.sign, np.sign, X),
    case("sign_int", tf.sign, np.sign, I),
    case("exp", tf.exp, np.exp, X),
    case("log", tf.math.log, np.log, POS),
    case("sqrt", tf.sqrt, np.sqrt, POS),
    case("rsqrt", tf.math.rsqrt, lambda x: 1 / np.sqrt(x), POS),
    case("square", tf.square, np.square, X),
    case("square_int", tf.square, np.square, I),
    case("sin", tf.sin, np.sin, X),
    case("cos", tf.cos, np.cos, X),
    case("tanh", tf.tanh, np.tanh, X),
    case("sigmoid", tf.sigmoid, _sig, X),
    case("floor", tf.floor, np.floor, HALF),
    case("ceil", tf.math.ceil, np.ceil, HALF),
    case("round_half_to_even", tf.round, np.round, HALF),
    case("round_int", tf.round, np.round, I),
    case("stop_gradient", tf.stop_gradient, lambda x: x, X),
    case("cast_float_to_int_truncates", lambda x: tf.cast(x, tf.int32),
         lambda x: np.trunc(x).astype(np.int32), HALF),
    case("cast_int_to_float", lambda x: tf.cast(x, tf.float64), lambda x: x.astype(np.float64), I),
    case("cast_to_bool", lambda x: tf.cast(x, tf.bool), lambda x: x != 0, I),
    case("cast_bool_to_int", lambda x: tf.cast(x, tf.int32), lambda x: x.astype(np.int32), BA),
    case("clip_by_value", lambda x: tf.clip_by_value(x, -0.5, 0.5),
         lambda x: np.clip(x, -0.5, 0.5), X),
    case("clip_by_value_int", lambda x: tf.clip_by_value(x, -1, 3), lambda x: np.clip(x, -1, 3), I),
    case("where", tf.where, np.where, BA, X, Y),
    case("where_scalar", lambda c, x: tf.where(c, x, 0.0),
         lambda c, x: np.where(c, x, np.float32(0)), BA, X),
]  # fmt: skip

LINALG_AND_SHAPES = [
    case("matmul", tf.matmul, np.matmul, X, M),
    case("matmul_transpose_a", lambda a, b: tf.matmul(a, b, transpose_a=True),
         lambda a, b: a.T @ b, X, Y),
    case("matmul_transpose_b", lambda a, b: tf.matmul(a, b, transpose_b=True),
         lambda a, b: a @ b.T, X, Y),
    case("matmul_batched", tf.matmul, np.matmul, B3, M),
    case("matmul_int", tf.matmul, lambda a, b: (a @ b).astype(np.int32), I, J.T.copy()),
    case("argmax", tf.argmax, lambda x: np.argmax(x, 0), X),
    case("argmax_axis1", lambda x: tf.argmax(x, 1), lambda x: np.argmax(x, 1), X),
    case("argmin_axis_neg", lambda x: tf.argmin(x, -1), lambda x: np.argmin(x, -1), I),
    case("argmin_int32", lambda x: tf.argmin(x, 1, output_type=tf.int32),
         lambda x: np.argmin(x, 1).astype(np.int32), X),
    case("reshape", lambda x: tf.reshape(x, [3, 2]), lambda x: x.reshape(3, 2), X),
    case("reshape_infer", lambda x: tf.reshape(x, [-1]), lambda x: x.reshape(-1), X),
    case("reshape_scalar", lambda x: tf.reshape(x[0, :1], []), lambda x: x[0, 0], X),
    case("transpose", tf.transpose, np.transpose, X),
    case("transpose_perm", lambda x: tf.transpose(x, [2, 0, 1]),
         lambda x: np.transpose(x, [2, 0, 1]), B3),
    case("expand_dims", lambda x: tf.expand_dims(x, 0), lambda x: x[None], X),
    case("expand_dims_neg", lambda x: tf.expand_dims(x, -1), lambda x: x[..., None], X),
    case("squeeze", tf.squeeze, np.squeeze, X[:1, None]),
    case("squeeze_axis", lambda x: tf.squeeze(x, [1]), lambda x: np.squeeze(x, 1), X[:1, None]),
    case("concat", lambda a, b: tf.concat([a, b], 0), lambda a, b: np.concatenate([a, b]), X, Y),
    case("concat_neg_axis", lambda a, b: tf.concat([a, b], -1),
         lambda a, b: np.concatenate([a, b], -1), X, Y),
    case("stack", lambda a, b: tf.stack([a, b]), lambda a, b: np.stack([a, b]), X, Y),
    case("stack_axis1", lambda a, b: tf.stack([a, b], axis=1),
         lambda a, b: np.stack([a, b], 1), I, J),
    case("tile", lambda x: tf.tile(x, [2, 1]), lambda x: np.tile(x, [2, 1]), X),
    case("broadcast_to", lambda x: tf.broadcast_to(x, [2, 2, 3]),
         lambda x: np.broadcast_to(x, (2, 2, 3)), X),
    case("gather", tf.gather, lambda x, i: x[i], X, np.array([1, 0, 1], np.int32)),
    case("gather_axis1", lambda x, i: tf.gather(x, i, axis=1),
         lambda x, i: x[:, i], X, np.array([[2, 0]], np.int32)),
    case("one_hot", lambda i: tf.one_hot(i, 3), lambda i: np.eye(3, dtype=np.float32)[i], LABELS),
    case("one_hot_options", lambda i: tf.one_hot(i, 4, on_value=5, off_value=-1, axis=0,
                                                 dtype=tf.int32),
         lambda i: np.where(np.eye(4, dtype=bool)[i].T, 5, -1).astype(np.int32), LABELS),
]  # fmt: skip

CREATION = [
    case("zeros", lambda: tf.zeros((2, 3)), lambda: np.zeros((2, 3), np.float32)),
    case("zeros_int", lambda: tf.zeros([2], tf.int32), lambda: np.zeros(2, np.int32)),
    case("ones", lambda: tf.ones((2, 1), tf.float64), lambda: np.ones((2, 1))),
    case("fill", lambda: tf.fill((2, 2), 7), lambda: np.full((2, 2), 7, np.int32)),
    case("fill_float", lambda: tf.fill([3], 0.5), lambda: np.full(3, 0.5, np.float32)),
    case("zeros_like", tf.zeros_like, np.zeros_like, I),
    case("ones_like", tf.ones_like, np.ones_like, X),
    case("range", lambda: tf.range(5), lambda: np.arange(5, dtype=np.int32)),
    case("range_start_delta", lambda: tf.range(1, 8, 3), lambda: np.arange(1, 8, 3, np.int32)),
    case("range_negative_delta", lambda: tf.range(5, 0, -2), lambda: np.arange(5, 0, -2, np.int32)),
    case("range_float", lambda: tf.range(0.0, 1.0, 0.25), lambda: np.arange(0, 1, .25, np.float32)),
    case("range_dtype", lambda: tf.range(3, dtype=tf.float64), lambda: np.arange(3.0)),
    case("linspace", lambda: tf.linspace(0.0, 1.0, 5),
         lambda: np.linspace(0, 1, 5, dtype=np.float32)),
    case("eye", lambda: tf.eye(3), lambda: np.eye(3, dtype=np.float32)),
    case("eye_rect_int", lambda: tf.eye(2, 3, dtype=tf.int32),
         lambda: np.eye(2, 3, dtype=np.int32)),
]  # fmt: skip

NN = [
    case("relu", tf.nn.relu, lambda x: np.maximum(x, 0), X),
    case("relu_int", tf.nn.relu, lambda x: np.maximum(x, 0), I),
    case("relu6", tf.nn.relu6, lambda x: np.clip(x, 0, 6), X * 8),
    case("gelu", tf.nn.gelu, f32(lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))), X),
    case("gelu_approximate", lambda x: tf.nn.gelu(x, approximate=True),
         f32(lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))), X),
    case("elu", tf.nn.elu, lambda x: np.where(x > 0, x, np.expm1(x)), X),
    case("softplus", tf.nn.softplus, lambda x: np.log1p(np.exp(x)), X),
    case("nn_sigmoid", tf.nn.sigmoid, _sig, X),
    case("softmax", tf.nn.softmax, lambda x: np.exp(_log_softmax(x)), X),
    case("softmax_axis0", lambda x: tf.nn.softmax(x, axis=0),
         lambda x: np.exp(_log_softmax(x, 0)), X),
    case("log_softmax", tf.nn.log_softmax, _log_softmax, X),
    case("softmax_cross_entropy", tf.nn.softmax_cross_entropy_with_logits,
         lambda p, x: -np.sum(p * _log_softmax(x), -1), np.exp(_log_softmax(Y)), X),
    case("sparse_softmax_cross_entropy", tf.nn.sparse_softmax_cross_entropy_with_logits,
         lambda i, x: -_log_softmax(x)[np.arange(2), i], LABELS, X),
    case("l2_loss", tf.nn.l2_loss, lambda x: np.sum(x * x) / 2, X),
    case("clip_by_norm", lambda x: tf.clip_by_norm(x, 1.0), lambda x: _clip_norm(x, 1.0), X),
    case("clip_by_norm_noop", lambda x: tf.clip_by_norm(x, 100.0), lambda x: x, X),
    case("clip_by_norm_axes", lambda x: tf.clip_by_norm(x, 1.0, axes=[1]),
         lambda x: _clip_norm(x, 1.0, 1), X),
    case("clip_by_global_norm", lambda a, b: tf.clip_by_global_norm([a, b], 1.0),
         lambda a, b: _global_clip([a, b], 1.0), X, M),
]  # fmt: skip

JAX_OP = [
    case("jax_op", tf.experimental.jax_op(jnp.logaddexp), np.logaddexp, X, Y),
    case("jax_op_tuple", tf.experimental.jax_op(lambda a, b: (a + b, a @ b.T)),
         lambda a, b: (a + b, a @ b.T), X, Y),
    case("jax_op_pytree", lambda a, b: tf.experimental.jax_op(
        lambda d: {"s": d["a"] * 2, "n": jnp.sum(d["b"])})({"a": a, "b": b}),
         lambda a, b: {"n": np.sum(b), "s": a * 2}, X, I),
]  # fmt: skip

ALL = ELEMENTWISE + LINALG_AND_SHAPES + CREATION + NN + JAX_OP


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("fn, ref, args", ALL)
def test_op_matches_numpy(fn, ref, args, traced):
    check(run(fn, args, traced), ref(*args))


# ------------------------------------------------------------------------------ reductions

REDUCTIONS = [
    ("reduce_sum", tf.reduce_sum, np.sum, X),
    ("reduce_sum_int", tf.reduce_sum, np.sum, I),
    ("reduce_mean", tf.reduce_mean, np.mean, X),
    # TF's integer mean stays integer and truncates toward zero.
    ("reduce_mean_int", tf.reduce_mean, lambda a, **k: np.trunc(np.mean(a, **k)), I),
    ("reduce_max", tf.reduce_max, np.max, X),
    ("reduce_min", tf.reduce_min, np.min, I),
    ("reduce_prod", tf.reduce_prod, np.prod, X),
    ("reduce_any", tf.reduce_any, np.any, BA),
    ("reduce_all", tf.reduce_all, np.all, BA | BB),
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, [0, 1]])
@pytest.mark.parametrize("name, fn, ref, x", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_reduction(name, fn, ref, x, axis, keepdims):
    # TF keeps the input dtype (numpy widens int32 sums to int64)
    np_axis = None if axis is None else tuple(np.atleast_1d(axis))
    expected = np.asarray(ref(x, axis=np_axis, keepdims=keepdims)).astype(x.dtype)
    check(fn(x, axis=axis, keepdims=keepdims), expected)
    if keepdims:  # traced: the same for one setting per reduction and axis
        check(run(lambda t: fn(t, axis=axis, keepdims=True), [x], traced=True), expected)


@pytest.mark.parametrize(
    "name", ["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "sqrt", "exp",
             "log", "sin", "cos", "tanh", "sigmoid", "floor", "round", "abs", "sign",
             "negative", "square", "rsqrt", "equal", "less", "greater", "argmax", "argmin",
             "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
             "reduce_any", "reduce_all", "logical_and", "logical_or", "logical_not"])  # fmt: skip
def test_math_aliases(name):
    assert getattr(tf.math, name) is getattr(tf, name)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_nn_aliases(name):
    assert getattr(tf.nn, name) is getattr(tf, name)


def test_math_only_names():
    check(tf.math.log1p(POS), np.log1p(POS))
    check(tf.math.reciprocal(POS), 1 / POS)
    check(tf.math.softplus(X), np.log1p(np.exp(X)))
    check(tf.math.squared_difference(X, Y), (X - Y) ** 2)
    check(tf.math.divide_no_nan(X, np.float32([[0, 1, 2]])), np.float32([[0, 1, 0.5]]) * X)


# ---------------------------------------------------------------------------------- dtypes


def test_python_scalar_takes_the_tensor_dtype():
    check(tf.constant(X) + 1, X + 1)
    check(2 * tf.constant(I), 2 * I)
    check(tf.constant(X.astype(np.float64)) * 1.5, X.astype(np.float64) * 1.5)
    check(tf.maximum(tf.constant(I), 0), np.maximum(I, 0))
    check(tf.constant(HALF) < 0, HALF < 0)


@pytest.mark.parametrize(
    "value, dtype",
    [(1.5, tf.float32), (1, tf.int32), (True, tf.bool), ([1, 2.5], tf.float32), ([1, 2], tf.int32),
     (2**40, tf.int64), (np.ones(2, np.int64), tf.int64), (np.ones(2), tf.float64),
     ("a", tf.string), (np.int64(1), tf.int64), (np.float64(1), tf.float64)],
)  # fmt: skip
def test_default_dtypes(value, dtype):
    assert tf.constant(value).dtype == dtype
    assert tf.convert_to_tensor(value).dtype == dtype


def test_float_to_int_conversion_is_an_error():
    with pytest.raises(TypeError, match="Cannot convert 1.5 to EagerTensor of dtype int32"):
        tf.constant(1.5, dtype=tf.int32)
    with pytest.raises(TypeError, match="Cannot convert 1.5 to EagerTensor of dtype int32"):
        tf.constant(I) + 1.5
    assert tf.constant(2.0, dtype=tf.int32).dtype == tf.int32  # integral floats are fine


MIXERS = [tf.add, tf.subtract, tf.multiply, tf.divide, tf.maximum, tf.equal, tf.less, tf.matmul,
          lambda a, b: a + b, lambda a, b: tf.where(tf.ones((2, 3), tf.bool), a, b)]  # fmt: skip


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("fn", MIXERS)
def test_mixed_dtypes_are_a_type_error(fn, traced):
    with pytest.raises(TypeError, match=r"float32.*int32"):
        run(fn, [X, I], traced)


@pytest.mark.parametrize("fn", [tf.concat, tf.stack])
def test_mixed_dtypes_in_lists(fn):
    with pytest.raises(TypeError, match=f"{fn.__name__}.*float32.*int32"):
        fn([X, I], 0)


FLOAT_ONLY = [tf.exp, tf.math.log, tf.sqrt, tf.math.rsqrt, tf.sin, tf.cos, tf.tanh, tf.sigmoid,
              tf.floor, tf.math.ceil, tf.nn.gelu, tf.nn.elu, tf.nn.softplus, tf.nn.softmax,
              tf.nn.log_softmax, tf.nn.l2_loss]  # fmt: skip


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("fn", FLOAT_ONLY, ids=lambda f: f.__name__)
def test_float_only_ops_reject_integers(fn, traced):
    # TF has no int32 kernels for these; jax would promote to float silently.
    with pytest.raises(TypeError, match=rf"{fn.__name__}: .*int32"):
        run(fn, [I], traced)


@pytest.mark.parametrize(
    "fn, name",
    [(lambda: tf.add("a", 1), "add"), (lambda: tf.exp(tf.constant("a")), "exp"),
     (lambda: tf.reduce_sum(["a", "b"]), "reduce_sum"), (lambda: tf.abs(object()), "abs"),
     (lambda: tf.reduce_any(I), "reduce_any"), (lambda: tf.where(I, X, Y), "where"),
     (lambda: tf.gather(X, [0.5]), "gather"), (lambda: tf.one_hot([0.5], 3), "one_hot"),
     (lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(X[:, 0], X), "sparse_softmax")],
)  # fmt: skip
def test_type_errors_name_the_op(fn, name):
    with pytest.raises(TypeError, match=name):
        fn()


@pytest.mark.parametrize("value", [None, object()], ids=["None", "object"])
def test_constant_of_non_numeric_object(value):
    with pytest.raises((TypeError, ValueError)):
        tf.constant(value)


def test_non_numeric_python_operand():
    with pytest.raises(TypeError, match="Cannot convert 'a'"):
        tf.constant(X) + "a"
    with pytest.raises(TypeError, match="Cannot convert None"):
        tf.constant(X) * None


# ----------------------------------------------------------------------------------- shapes

SHAPE_ERRORS = [
    ("matmul", lambda a: tf.matmul(a, a)),
    ("matmul", lambda a: tf.matmul(a, a[0])),
    ("matmul", lambda a: a @ a),
    ("add", lambda a: a + tf.ones((2,))),
    ("reshape", lambda a: tf.reshape(a, [4])),
    ("reshape", lambda a: tf.reshape(a, [-1, -1])),
    ("reshape", lambda a: tf.reshape(a, [-1, 4])),
    ("reduce_sum", lambda a: tf.reduce_sum(a, axis=2)),
    ("reduce_max", lambda a: tf.reduce_max(a, axis=-3)),
    ("argmax", lambda a: tf.argmax(a, 2)),
    ("expand_dims", lambda a: tf.expand_dims(a, 3)),
    ("squeeze", lambda a: tf.squeeze(a, 0)),
    ("concat", lambda a: tf.concat([a, tf.transpose(a)], 0)),
    ("concat", lambda a: tf.concat([a, a[0]], 0)),
    ("stack", lambda a: tf.stack([a, a[0]])),
    ("tile", lambda a: tf.tile(a, [2])),
    ("broadcast_to", lambda a: tf.broadcast_to(a, [3, 3])),
    ("transpose", lambda a: tf.transpose(a, [0, 0])),
    ("gather", lambda a: tf.gather(a, [0], axis=2)),
    ("softmax_cross_entropy", lambda a: tf.nn.softmax_cross_entropy_with_logits(a[0], a)),
    ("sparse_softmax_cross_entropy", lambda a: tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.constant([[0]]), a)),
    ("jax_call", lambda a: tf.experimental.jax_op(jnp.matmul)(a, a)),
]  # fmt: skip


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("name, fn", SHAPE_ERRORS, ids=[f"{n}{i}" for i, (n, _) in
                                                        enumerate(SHAPE_ERRORS)])  # fmt: skip
def test_shape_errors_are_value_errors_naming_the_op(name, fn, traced):
    with pytest.raises(ValueError, match=name):
        run(fn, [X], traced)


def test_matmul_error_message():
    with pytest.raises(ValueError, match=r"Dimensions must be equal, but are 3 and 2"):
        tf.matmul(X, X)


def test_range_zero_delta():
    with pytest.raises(ValueError, match="range"):
        tf.range(0, 5, 0)
