"""``tracefn.Variable`` eagerly and inside functions (spec section 2), and the reliability
guarantees of compiled calls: atomic write-back, no lost updates, donation-safe snapshots."""

import threading

import jax
import numpy as np
import pytest

import tracefn as tf


def count(f):
    return f.experimental_get_tracing_count()


V1_MESSAGE = "tf.function only supports singleton tf.Variables created on the first call"


def test_V1_unconditional_creation_fails_on_first_call():
    @tf.function
    def f(x):
        v = tf.Variable(1.0)
        return v + x

    with pytest.raises(ValueError, match=V1_MESSAGE):
        f(1.0)
    with pytest.raises(ValueError, match=V1_MESSAGE):
        f(2.0)


def test_V2_guarded_creation_with_argument_dependent_initial_value():
    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.v = None
            self.runs = 0

        @tf.function
        def __call__(self, x):
            self.runs += 1
            if self.v is None:
                self.v = tf.Variable(tf.ones_like(x) * 2)
            return self.v * x

    m = M()
    assert float(m(tf.constant(3.0))) == 6.0
    assert m.runs >= 1 and count(m.__call__) == 2
    assert float(m(tf.constant(3.0))) == 6.0 and count(m.__call__) == 2
    assert m.v.shape == tf.TensorShape([]) and float(m.v) == 2.0


def test_V3_retrace_without_creation_is_fine_but_new_variables_fail():
    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.vs = {}

        @tf.function
        def __call__(self, x):
            rank = len(x.shape)
            if rank not in self.vs:
                self.vs[rank] = tf.Variable(tf.zeros_like(x))
            return self.vs[rank] + x

    m = M()
    m(tf.constant(1.0))
    with pytest.raises(ValueError, match=V1_MESSAGE):
        m(tf.constant([1.0, 2.0]))

    class N(tf.Module):
        def __init__(self):
            super().__init__()
            self.v = None

        @tf.function
        def __call__(self, x):
            if self.v is None:
                self.v = tf.Variable(2.0)
            return self.v * x

    n = N()
    n(tf.constant(3.0))
    np.testing.assert_array_equal(n(tf.constant([1.0, 2.0])).numpy(), [2.0, 4.0])


def test_V4_creation_on_a_non_first_call():
    holder = {}

    @tf.function
    def lazy(flag):
        if flag and "v" not in holder:
            holder["v"] = tf.Variable(7.0)
        return 0.0

    assert float(lazy(False)) == 0.0
    with pytest.raises(
        ValueError,
        match="^Creating variables on a non-first call to a function decorated with tf.function.$",
    ):
        lazy(True)


def test_V5_stateful_ops_in_program_order():
    w = tf.Variable(1.0)

    @tf.function
    def order():
        a = w.read_value()
        w.assign(2.0)
        b = w.read_value()
        w.assign_add(3.0)
        c = w + 0
        return a, b, c

    assert [float(t) for t in order()] == [1.0, 2.0, 5.0]

    @tf.function
    def only_effect():
        w.assign_add(1.0)

    w.assign(0.0)
    only_effect()
    only_effect()
    assert float(w) == 2.0


def test_V6_assign_returns_a_lazy_handle():
    v = tf.Variable(1.0)

    @tf.function
    def a():
        r1 = v.assign(10.0)
        y = r1 + 0
        v.assign_add(1.0)
        return y, r1

    y, r1 = a()
    assert (float(y), float(r1)) == (10.0, 11.0)
    r = v.assign(5.0)
    v.assign_add(1.0)
    assert float(r) == 6.0
    assert v.assign(1.0, read_value=False) is None

    @tf.function
    def ret():
        return v.assign(3.0)

    out = ret()
    assert isinstance(out, tf.Tensor) and float(out) == 3.0


def test_V7_read_value_is_a_snapshot_alias_is_not():
    v = tf.Variable(1.0)

    @tf.function
    def snap():
        x = v.read_value()
        v.assign(2.0)
        return x

    @tf.function
    def alias():
        x = v
        v.assign(2.0)
        return x + 0

    @tf.function
    def computed():
        x = v * 1
        v.assign(2.0)
        return x

    assert float(snap()) == 1.0
    v.assign(1.0)
    assert float(alias()) == 2.0
    v.assign(1.0)
    assert float(computed()) == 1.0


def test_V8_inplace_add_rejected():
    v = tf.Variable(1.0)
    with pytest.raises(RuntimeError, match=r"`variable \+= value` with `tf.Variable`s is not"):
        v += 1

    @tf.function
    def f():
        w = v
        w += 1
        return w

    with pytest.raises(RuntimeError, match="assign_add"):
        f()
    assert float(v) == 1.0


def test_V9_dtype_and_shape_rules():
    assert tf.Variable(1).dtype == tf.int32
    assert tf.Variable(1.0).dtype == tf.float32
    assert tf.Variable(1, dtype=tf.float32).dtype == tf.float32
    assert tf.Variable(1.0).trainable
    with pytest.raises(TypeError, match="^Cannot convert 1.5 to EagerTensor of dtype int32$"):
        tf.Variable(1).assign(1.5)
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(
        ValueError,
        match=r"^Cannot assign value to variable ' Variable:0': Shape "
        r"mismatch.The variable shape \(2,\), and the assigned value shape \(3,\) "
        r"are incompatible.$",
    ):
        v.assign([1.0, 2.0, 3.0])

    @tf.function
    def f():
        v.assign([1.0, 2.0, 3.0])

    with pytest.raises(ValueError, match="Shape mismatch"):
        f()
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_V10_captured_and_passed_variables():
    va = tf.Variable(1.0)

    @tf.function
    def arg(d):
        d["v"].assign_add(1.0)
        return d["v"].read_value()

    assert float(arg({"v": va})) == 2.0 and float(va) == 2.0
    cv = tf.Variable(3.0)

    @tf.function
    def cap():
        return cv + 1.0

    cf = cap.get_concrete_function()
    assert cf.captured_inputs == [cv] and cf.variables == [cv]


def test_V11_names_not_uniquified_eagerly():
    a, b = tf.Variable(1.0, name="x"), tf.Variable(1.0, name="x")
    assert a.name == b.name == "x:0" and a is not b
    assert tf.Variable(1.0).name == "Variable:0"
    with tf.name_scope("ns"):
        assert tf.Variable(1.0, name="nv").name == "ns/nv:0"


def test_V13_module_tracking_order():
    class Sub(tf.Module):
        def __init__(self):
            super().__init__()
            self.c = tf.Variable(1.0, name="c")

    class Outer(tf.Module):
        def __init__(self):
            super().__init__(name="outer")
            self.a = tf.Variable(1.0, name="a")
            self.b = tf.Variable(1.0, name="b", trainable=False)
            self.lst = [tf.Variable(1.0, name="d")]
            self.sub = Sub()
            with self.name_scope:
                self.w = tf.Variable(1.0, name="w")

    m = Outer()
    assert [v.name for v in m.variables] == ["a:0", "b:0", "d:0", "c:0", "outer/w:0"]
    assert [v.name for v in m.trainable_variables] == ["a:0", "d:0", "c:0", "outer/w:0"]
    assert m.submodules == (m.sub,)


def test_variable_api_surface():
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="m")
    assert v.shape == (2, 2) and v.ndim == 2 and v.dtype == tf.float32
    np.testing.assert_array_equal((v @ v).numpy(), np.array([[7, 10], [15, 22]], np.float32))
    np.testing.assert_array_equal(v[0].numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(v), v.numpy())
    np.testing.assert_array_equal(v.initial_value.numpy(), v.numpy())
    v.scatter_update(tf.IndexedSlices(tf.constant([[9.0, 9.0]]), tf.constant([1])))
    np.testing.assert_array_equal(v.numpy(), [[1.0, 2.0], [9.0, 9.0]])
    v.scatter_add(tf.IndexedSlices(tf.constant([[1.0, 1.0]]), tf.constant([0])))
    np.testing.assert_array_equal(v.numpy(), [[2.0, 3.0], [9.0, 9.0]])
    assert "numpy=" in repr(v) and "'m:0'" in repr(v)
    lazy = tf.Variable(lambda: tf.ones([3]), dtype=tf.float32)
    np.testing.assert_array_equal(lazy.numpy(), [1, 1, 1])
    assert tf.Variable(tf.constant([1, 2]), dtype=tf.float32).dtype == tf.float32


def test_scatter_inside_function():
    v = tf.Variable(tf.zeros([4]))

    @tf.function
    def f(i, x):
        v.scatter_update(tf.IndexedSlices(x, i))
        return v.read_value()

    np.testing.assert_array_equal(f(tf.constant([2]), tf.constant([5.0])).numpy(), [0, 0, 5, 0])


# ------------------------------------------------------------------------------ reliability


def test_failed_trace_changes_no_variable():
    a, b = tf.Variable(1.0), tf.Variable(2.0)

    @tf.function
    def f(x):
        a.assign(100.0)
        b.assign_add(x)
        return tf.matmul(x, x)  # rank error while tracing, after the assigns were recorded

    with pytest.raises(ValueError, match="matmul"):
        f(tf.constant(1.0))
    assert float(a) == 1.0 and float(b) == 2.0
    assert isinstance(a._value, jax.Array) and not isinstance(a._value, jax.core.Tracer)


def test_failed_run_time_check_changes_no_variable():
    a = tf.Variable([1.0, 2.0])

    @tf.function
    def f(x):
        a.assign(x)
        return a.read_value()

    f(tf.constant([3.0, 4.0]))
    with pytest.raises(TypeError):
        f.get_concrete_function(tf.TensorSpec([2], tf.float32))(tf.constant([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(a.numpy(), [3.0, 4.0])


def test_concurrent_calls_lose_no_update():
    v = tf.Variable(0)

    @tf.function
    def inc():
        v.assign_add(1)

    inc()
    v.assign(0)

    def worker():
        for _ in range(500):
            inc()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert int(v) == 4000


def test_snapshots_survive_donation():
    v = tf.Variable([1.0, 2.0])

    @tf.function
    def step():
        v.assign(v * 10.0)

    step()  # compiled, donating v's buffer
    snap, val, arr = v.read_value(), v.value(), v.numpy()
    alias = tf.convert_to_tensor(v)
    ident = tf.identity(v)
    step()
    step()
    np.testing.assert_array_equal(snap.numpy(), [10.0, 20.0])
    np.testing.assert_array_equal(val.numpy(), [10.0, 20.0])
    np.testing.assert_array_equal(arr, [10.0, 20.0])
    np.testing.assert_array_equal(alias.numpy(), [10.0, 20.0])
    np.testing.assert_array_equal(ident.numpy(), [10.0, 20.0])
    np.testing.assert_array_equal(v.numpy(), [1000.0, 2000.0])


def test_assigned_user_tensor_survives_donation():
    t = tf.constant([1.0, 2.0])
    v = tf.Variable(t)
    w = tf.Variable([0.0, 0.0])
    w.assign(t)

    @tf.function
    def step():
        v.assign_add(v)
        w.assign_add(w)

    step()
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(v.numpy(), [2.0, 4.0])


def test_output_of_one_call_survives_the_next():
    v = tf.Variable(0.0)

    @tf.function
    def step():
        v.assign_add(1.0)
        return v.read_value()

    outs = [step() for _ in range(5)]
    assert [float(o) for o in outs] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_eager_writes_between_calls_are_seen():
    v, w = tf.Variable(1.0), tf.Variable(0.0)

    @tf.function
    def step():
        w.assign_add(v)

    step()
    v.assign(10.0)
    step()
    assert float(w) == 11.0

    @tf.function
    def other():
        v.assign(100.0)

    other()
    step()
    assert float(w) == 111.0
