"""The Tensor API: construction, conversion to Python and numpy, TF's printed forms, operators,
indexing (eager and traced), TensorShape, TensorSpec and dtypes."""

import pickle

import numpy as np
import pytest

import tracefn as tf
from tracefn.errors import OperatorNotAllowedInGraphError

X = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
Y = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
I = np.array([[3, -2, 5, 1], [4, 7, -6, 2], [1, 1, 3, -4]], np.int32)
J = np.array([[2, 3, -2, 1], [1, 4, 3, 5], [2, -1, 1, 3]], np.int32)
BA, BB = I > 0, J > 1


def run(fn, args, traced):
    tensors = [tf.constant(a) for a in args]
    # autograph=False: the table's lambdas have no control flow, and autograph cannot read the
    # source of a lambda that shares its line with another
    call = tf.function(lambda *a: fn(*a), autograph=False) if traced else fn
    return call(*tensors)


def case(name, fn, *args):
    """One row: ``fn`` on tensors of ``args`` must equal ``fn`` on the numpy ``args``."""
    return pytest.param(fn, args, id=name)


def check(out, expected):
    expected = np.asarray(expected)
    assert isinstance(out, tf.Tensor)
    assert out.dtype == expected.dtype, (out.dtype, expected.dtype)
    assert tuple(out.shape) == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


# --------------------------------------------------------------------------- printed forms


@pytest.mark.parametrize(
    "value, text",
    [(np.float32([1, 2]),
      "<tf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>"),
     (1.5, "<tf.Tensor: shape=(), dtype=float32, numpy=1.5>"),
     (3, "<tf.Tensor: shape=(), dtype=int32, numpy=3>"),
     (True, "<tf.Tensor: shape=(), dtype=bool, numpy=True>"),
     ([1, 2], "<tf.Tensor: shape=(2,), dtype=int32, numpy=array([1, 2], dtype=int32)>"),
     ([[1.0], [2.0]], "<tf.Tensor: shape=(2, 1), dtype=float32, numpy=\narray([[1.],\n       "
                      "[2.]], dtype=float32)>"),
     ("ab", "<tf.Tensor: shape=(), dtype=string, numpy=b'ab'>")])  # fmt: skip
def test_repr(value, text):
    assert repr(tf.constant(value)) == text


@pytest.mark.parametrize(
    "value, text",
    [([1.0, 2.0], "tf.Tensor([1. 2.], shape=(2,), dtype=float32)"),
     (2.5, "tf.Tensor(2.5, shape=(), dtype=float32)"),
     ([[1, 2], [3, 4]], "tf.Tensor(\n[[1 2]\n [3 4]], shape=(2, 2), dtype=int32)")])  # fmt: skip
def test_str(value, text):
    assert str(tf.constant(value)) == text


def test_symbolic_tensor_forms():
    seen = {}

    @tf.function
    def f(x):
        seen["repr"], seen["str"] = repr(x), str(x)
        return x

    f(tf.constant(X))
    assert seen["repr"].startswith("<tf.Tensor '") and "shape=(3, 4) dtype=float32>" in seen["repr"]
    assert seen["str"].startswith('Tensor("') and "shape=(3, 4), dtype=float32)" in seen["str"]


# ---------------------------------------------------------------------------- construction


def test_constant_and_convert_to_tensor():
    t = tf.constant(X)
    assert isinstance(t, tf.EagerTensor) and tf.is_tensor(t) and not tf.is_tensor(X)
    assert tf.convert_to_tensor(t) is t
    check(tf.convert_to_tensor([[1, 2]], dtype=tf.float32), np.float32([[1, 2]]))
    check(tf.constant(2.0, shape=[2, 2]), np.full((2, 2), 2, np.float32))
    check(tf.constant([1, 2, 3, 4], shape=[2, 2]), np.int32([[1, 2], [3, 4]]))
    check(tf.constant(t, dtype=tf.int32), X.astype(np.int32))
    check(tf.convert_to_tensor([tf.constant(1.0), 2.0]), np.float32([1, 2]))
    check(tf.convert_to_tensor(1, dtype_hint=tf.float32), np.float32(1))
    s = tf.convert_to_tensor("x", dtype_hint=tf.float32)
    assert s.dtype == tf.string and s.numpy() == b"x"


def test_convert_to_tensor_dtype_mismatch():
    with pytest.raises(TypeError, match="requested dtype int32 for Tensor with dtype float32"):
        tf.convert_to_tensor(tf.constant(X), dtype=tf.int32)


# ------------------------------------------------------------------- python and numpy views


def test_numpy_shape_dtype_ndim():
    t = tf.constant(X)
    a = t.numpy()
    assert type(a) is np.ndarray and a.dtype == np.float32
    np.testing.assert_array_equal(a, X)
    a[0, 0] = 100  # a copy: the tensor is unchanged
    assert t.numpy()[0, 0] == X[0, 0]
    assert t.shape == (3, 4) and isinstance(t.shape, tf.TensorShape) and t.get_shape() == [3, 4]
    assert t.dtype == tf.float32 and t.dtype is not None
    assert t.ndim == 2 and tf.constant(1).ndim == 0
    assert len(t) == 3


def test_array_protocol():
    t = tf.constant(X)
    np.testing.assert_array_equal(np.asarray(t), X)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    np.testing.assert_allclose(np.sin(t), np.sin(X))


@pytest.mark.parametrize(
    "value, conv, expected",
    [(2.5, float, 2.5), (7, int, 7), (2.7, int, 2), (True, bool, True), (0.0, bool, False),
     (3, float, 3.0), (np.int64(5), int, 5)])  # fmt: skip
def test_python_scalars(value, conv, expected):
    out = conv(tf.constant(value))
    assert type(out) is conv and out == expected


def test_python_scalars_of_non_scalars():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tf.constant([1, 2]))
    with pytest.raises(TypeError):
        float(tf.constant([1.0, 2.0]))
    assert [10, 20, 30][tf.constant(1)] == 20  # __index__


def test_iteration_over_first_axis():
    rows = list(tf.constant(X))
    assert len(rows) == 3 and all(isinstance(r, tf.Tensor) for r in rows)
    for r, x in zip(rows, X):
        check(r, x)
    with pytest.raises(TypeError, match="scalar"):
        iter(tf.constant(1.0))
    out = tf.function(lambda t: tf.stack([r * 2 for r in t]))(tf.constant(X))
    check(out, X * 2)


def test_tensors_are_unhashable_use_ref():
    t = tf.constant(1)
    with pytest.raises(TypeError, match="unhashable"):
        hash(t)
    d = {t.ref(): 1}
    assert d[t.ref()] == 1 and t.ref().deref() is t


def test_pickle_eager_tensor():
    check(pickle.loads(pickle.dumps(tf.constant(X))), X)


def test_symbolic_tensor_has_no_value():
    seen = {}

    @tf.function
    def f(x):
        seen["meta"] = (x.shape, x.dtype, x.ndim)
        with pytest.raises(AttributeError, match="no attribute 'numpy'"):
            x.numpy()
        with pytest.raises(OperatorNotAllowedInGraphError):
            bool(x)
        with pytest.raises(TypeError, match="numpy array"):
            np.asarray(x)
        return x

    f(tf.constant(X))
    assert seen["meta"] == (tf.TensorShape([3, 4]), tf.float32, 2)


# ------------------------------------------------------------------------------ operators

OPERATORS = [
    case("add", lambda a, b: a + b, X, Y),
    case("radd_scalar", lambda a: 1 + a, X),
    case("sub", lambda a, b: a - b, I, J),
    case("rsub_scalar", lambda a: 1.5 - a, X),
    case("mul", lambda a, b: a * b, X, Y),
    case("mul_scalar", lambda a: a * 3, I),
    case("truediv", lambda a, b: a / b, X, Y + 2),
    case("truediv_int_is_float64", lambda a, b: a / b, I, J),
    case("rtruediv", lambda a: 1.0 / a, Y + 2),
    case("floordiv", lambda a, b: a // b, I, J),
    case("mod", lambda a, b: a % b, I, J),
    case("pow", lambda a: a**2, X),
    case("rpow", lambda a: 2.0**a, Y),
    case("matmul", lambda a, b: a @ b, X, Y.T.copy()),
    case("neg", lambda a: -a, X),
    case("abs", lambda a: abs(a), I),
    case("lt", lambda a, b: a < b, X, Y),
    case("le", lambda a, b: a <= b, I, J),
    case("gt", lambda a: a > 0, X),
    case("ge", lambda a, b: a >= b, I, J),
    case("eq", lambda a, b: a == b, I, np.where(BA, I, J)),
    case("ne", lambda a: a != 1, I),
    case("and", lambda a, b: a & b, BA, BB),
    case("or", lambda a, b: a | b, BA, BB),
    case("xor", lambda a, b: a ^ b, BA, BB),
    case("invert", lambda a: ~a, BA),
    case("bitwise_and", lambda a, b: a & b, I, J),
    case("bitwise_or", lambda a, b: a | b, I, J),
    case("bitwise_invert", lambda a: ~a, I),
    case("numpy_left", lambda a: np.float32(2) * a, X),
]


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("fn, args", OPERATORS)
def test_operator(fn, args, traced):
    check(run(fn, args, traced), fn(*args))


def test_numpy_array_operand_gives_tensor():
    out = np.ones(4, np.float32) + tf.constant(X)
    assert isinstance(out, tf.Tensor)
    check(out, X + 1)


def test_eq_with_other_objects():
    t = tf.constant([1, 2])
    assert (t == None) is False and (t != None) is True  # noqa: E711
    assert (t == "a") is False


def test_operator_dtype_errors():
    with pytest.raises(TypeError, match="float32.*int32"):
        tf.constant(X) + tf.constant(I)
    with pytest.raises(TypeError, match="float32.*int32"):
        tf.constant(X) @ tf.constant(I.T.copy())
    with pytest.raises(ValueError, match="matmul"):
        tf.constant(X) @ tf.constant(X)


# ------------------------------------------------------------------------------- indexing

K = np.int32(1)
INDEXING = [
    case("int", lambda a: a[1], X),
    case("negative_int", lambda a: a[-1], X),
    case("two_ints", lambda a: a[1, -2], X),
    case("slice_step", lambda a: a[1:, ::2], X),
    case("slice_open", lambda a: a[:2], X),
    case("ellipsis", lambda a: a[..., 0], X),
    case("ellipsis_mid", lambda a: a[1, ..., 2:], X),
    case("newaxis", lambda a: a[None], X),
    case("newaxis_mid", lambda a: a[:, tf.newaxis, 1], X),
    case("negative_step", lambda a: a[::-1], X),
    case("negative_step_bounds", lambda a: a[2:0:-1, 3::-2], X),
    case("negative_start", lambda a: a[-2:, -3:-1], X),
    case("out_of_range_slice", lambda a: a[1:10], X),
    case("empty_slice", lambda a: a[2:1], X),
    case("scalar_tensor_index", lambda a, k: a[k], X, K),
    case("scalar_tensor_index_neg", lambda a, k: a[:, -k], X, K),
    case("scalar_tensor_with_slice", lambda a, k: a[1:, k], I, K),
    case("int64_tensor_index", lambda a, k: a[k], X, np.int64(2)),
]


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("fn, args", INDEXING)
def test_getitem(fn, args, traced):
    check(run(fn, args, traced), fn(*args))


@pytest.mark.parametrize(
    "key, kind, match",
    [(5, ValueError, "out of bounds"), (-4, ValueError, "out of bounds"),
     ((0, 0, 0), ValueError, "too many indices"), ([0, 1], TypeError, "valid indices"),
     (1.5, TypeError, "valid indices"), (slice(0.5, None), TypeError, "slice bound")])  # fmt: skip
def test_getitem_errors(key, kind, match):
    with pytest.raises(kind, match=match):
        tf.constant(X)[key]


# ---------------------------------------------------------------------------- TensorShape


def test_tensor_shape_known():
    s = tf.TensorShape([2, 3])
    assert s.rank == s.ndims == len(s) == 2 and s.dims == [2, 3] and s.as_list() == [2, 3]
    assert s == (2, 3) and s == [2, 3] and s == tf.TensorShape((2, 3)) and s != (3, 2)
    assert s[0] == 2 and s[-1] == 3 and s[1:] == tf.TensorShape([3]) and list(s) == [2, 3]
    assert s.is_fully_defined() and s.num_elements() == 6 and bool(s)
    assert repr(s) == "TensorShape([2, 3])" and str(s) == "(2, 3)"
    assert str(tf.TensorShape([4])) == "(4,)" and str(tf.TensorShape([])) == "()"
    assert tf.TensorShape(5) == (5,) and tf.TensorShape([]).num_elements() == 1
    assert hash(s) == hash(tf.TensorShape([2, 3]))


def test_tensor_shape_partial_and_unknown():
    p, u = tf.TensorShape([None, 3]), tf.TensorShape(None)
    assert p.rank == 2 and not p.is_fully_defined() and p.num_elements() is None
    assert repr(p) == "TensorShape([None, 3])" and str(p) == "(None, 3)"
    assert p.is_compatible_with([5, 3]) and not p.is_compatible_with([5, 4])
    assert not p.is_compatible_with([3]) and u.is_compatible_with([1, 2, 3])
    assert tf.TensorShape([2, 3]).most_specific_compatible_shape([4, 3]) == p
    assert tf.TensorShape([2]).most_specific_compatible_shape([2, 3]).rank is None
    assert u.rank is None and u.dims is None and not bool(u)
    assert repr(u) == "TensorShape(None)" and str(u) == "<unknown>"
    for bad in (u.as_list, lambda: len(u), lambda: iter(u)):
        with pytest.raises(ValueError, match="unknown"):
            bad()


# ----------------------------------------------------------------------------- TensorSpec


def test_tensor_spec():
    s = tf.TensorSpec([None, 3], tf.float32, name="x")
    assert repr(s) == "TensorSpec(shape=(None, 3), dtype=tf.float32, name='x')"
    assert s.shape == tf.TensorShape([None, 3]) and s.dtype == tf.float32 and s.name == "x"
    assert tf.TensorSpec([2]).dtype == tf.float32 and tf.TensorSpec().shape.rank is None
    assert s == tf.TensorSpec((None, 3), "float32", "x") and s != tf.TensorSpec((None, 3))
    assert hash(s) == hash(tf.TensorSpec((None, 3), tf.float32, "x"))
    assert s.is_compatible_with(tf.constant(np.ones((5, 3), np.float32)))
    assert not s.is_compatible_with(tf.constant(np.ones((5, 3), np.float64)))
    assert not s.is_compatible_with(tf.constant(np.ones((5, 2), np.float32)))
    assert tf.TensorSpec.from_tensor(tf.constant(I)) == tf.TensorSpec([3, 4], tf.int32)


# --------------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize(
    "dtype, name, np_type",
    [(tf.float16, "float16", np.float16), (tf.float32, "float32", np.float32),
     (tf.float64, "float64", np.float64), (tf.int8, "int8", np.int8),
     (tf.int32, "int32", np.int32), (tf.int64, "int64", np.int64), (tf.uint8, "uint8", np.uint8),
     (tf.bool, "bool", np.bool_), (tf.complex64, "complex64", np.complex64)])  # fmt: skip
def test_dtype(dtype, name, np_type):
    assert repr(dtype) == f"tf.{name}" and str(dtype) == f"<dtype: '{name}'>"
    assert dtype.name == name and dtype.as_numpy_dtype is np_type
    assert dtype == np_type and dtype == name and dtype == tf.as_dtype(name)
    assert tf.as_dtype(np_type) is dtype and tf.as_dtype(np.dtype(np_type)) is dtype
    assert hash(dtype) == hash(np.dtype(np_type))
    assert pickle.loads(pickle.dumps(dtype)) == dtype
    assert tf.constant(np.zeros(1, np_type)).dtype == dtype


def test_dtype_properties():
    assert tf.float32.is_floating and not tf.float32.is_integer and tf.bfloat16.is_floating
    assert tf.int32.is_integer and tf.uint8.is_integer and not tf.int32.is_floating
    assert tf.bool.is_bool and tf.complex64.is_complex and not tf.string.is_numeric
    assert tf.int8.min == -128 and tf.uint8.max == 255 and tf.float32.max == np.finfo("f4").max
    assert tf.float64.size == 8 and tf.double is tf.float64 and tf.half is tf.float16
    assert repr(tf.string) == "tf.string" and repr(tf.bfloat16) == "tf.bfloat16"
    assert tf.as_dtype(float) == tf.float32 and tf.as_dtype(int) == tf.int32
    assert tf.as_dtype(bool) == tf.bool and tf.as_dtype(str) == tf.string
    assert tf.float32 != tf.float64 and tf.float32 != "not a dtype"
    with pytest.raises(TypeError, match="tracefn dtype"):
        tf.as_dtype("not a dtype")
