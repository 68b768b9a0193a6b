"""``tracefn.function``: tracing, the cache key and retracing (spec section 1) and side effects
(section 4), with the section 8 decisions."""

import gc
import logging
import sys

import numpy as np
import pytest

import tracefn as tf
from tracefn.errors import InvalidArgumentError


def count(f):
    return f.experimental_get_tracing_count()


def test_T1_tensors_keyed_by_dtype_and_shape():
    @tf.function
    def f(x):
        return x + 1

    f(tf.constant(1))
    assert int(f(tf.constant(2))) == 3 and count(f) == 1
    f(tf.constant(1.0))
    assert count(f) == 2
    f(tf.constant([1, 2]))
    assert count(f) == 3
    f(tf.constant([1, 2, 3]))
    assert count(f) == 4


def test_T2_python_scalars_keyed_by_type_and_value_section8():
    traced = []

    @tf.function
    def g(x):
        traced.append(x)
        return x

    g(1)
    g(1)
    g(2)
    assert count(g) == 2 and traced == [1, 2]
    # Section 8: 1, 1.0 and True are three keys, each returning its own dtype.
    assert g(1.0).dtype == tf.float32 and g(True).dtype == tf.bool and g(1).dtype == tf.int32
    assert count(g) == 4

    @tf.function
    def gs(s):
        return tf.constant(len(s))

    gs("a")
    gs("b")
    assert count(gs) == 2


def test_T3_containers_keyed_structurally():
    @tf.function
    def lst(x):
        return x[0]

    lst([1, 2])
    lst([2, 1])
    lst((1, 2))
    assert count(lst) == 3
    c = [tf.constant(i) for i in range(4)]
    lst([c[0], c[1]])
    lst([c[2], c[3]])
    assert count(lst) == 4
    lst([c[0], c[1], c[2]])
    assert count(lst) == 5

    @tf.function
    def h(d):
        return d["a"] * d["b"]

    assert int(h({"a": tf.constant(2), "b": 2})) == 4
    assert int(h({"b": 2, "a": tf.constant(5)})) == 10 and count(h) == 1
    assert int(h({"a": tf.constant(2), "b": 3})) == 6 and count(h) == 2


def test_T4_arguments_canonicalized():
    @tf.function
    def kp(x, y):
        return x + y

    x, y = tf.constant(1), tf.constant(2)
    kp(x, y)
    kp(x, y=y)
    kp(x=x, y=y)
    assert count(kp) == 1

    @tf.function
    def n(x, y=None):
        return x

    n(x)
    n(x, None)
    n(x, y=None)
    assert count(n) == 1


def test_T5_numpy_arrays_treated_like_tensors():
    kinds = []

    @tf.function
    def npf(x):
        kinds.append(type(x))
        return x * 2

    np.testing.assert_array_equal(npf(np.array([1, 2])).numpy(), [2, 4])
    np.testing.assert_array_equal(npf(np.array([3, 4])).numpy(), [6, 8])
    assert count(npf) == 1 and kinds == [tf.SymbolicTensor]


def test_T6_objects_keyed_by_identity_with_stale_values():
    class Obj:
        a = 2.0

    @tf.function
    def evaluate(o, x):
        return x * o.a

    o = Obj()
    assert float(evaluate(o, tf.constant(1.0))) == 2.0
    o.a = 5.0
    assert float(evaluate(o, tf.constant(1.0))) == 2.0 and count(evaluate) == 1
    o2 = Obj()
    evaluate(o2, tf.constant(1.0))
    assert count(evaluate) == 2
    # A trace keyed on a collected object never matches again.
    key_objects = [k for k in evaluate._cache]
    del o, o2
    gc.collect()
    evaluate(Obj(), tf.constant(1.0))
    assert count(evaluate) == 3 and len(key_objects) == 2


def test_T7_variables_keyed_by_spec_and_aliasing():
    v1, v2 = tf.Variable(1.0), tf.Variable(2.0)

    @tf.function
    def vf(v):
        v.assign_add(1.0)
        return v.read_value()

    assert float(vf(v1)) == 2.0 and float(vf(v2)) == 3.0
    assert count(vf) == 1 and float(v1) == 2.0 and float(v2) == 3.0

    @tf.function
    def two(a, b):
        a.assign_add(1.0)
        b.assign_add(10.0)
        return a + b

    assert float(two(v1, v2)) == 3.0 + 13.0
    assert float(two(v1, v1)) == 28.0 and float(v1) == 14.0
    assert count(two) == 2
    vf(tf.constant(1.0)) if False else None
    vi = tf.Variable(1)

    @tf.function
    def ident(v):
        return v + 0

    ident(v1)
    ident(vi)
    ident(tf.constant(1.0))
    assert count(ident) == 3


def test_T7_captured_variable_also_passed_as_argument():
    cap = tf.Variable(1.0)
    other = tf.Variable(5.0)

    @tf.function
    def f(v):
        cap.assign_add(1.0)
        v.assign_add(100.0)
        return cap + v

    f(other)
    assert float(cap) == 2.0 and float(other) == 105.0
    out = f(cap)  # aliasing: both writes hit `cap`
    assert float(cap) == 103.0 and float(out) == 206.0


def test_T8_method_function_per_instance():
    class M(tf.Module):
        @tf.function
        def __call__(self, x):
            return x * 2

    m1, m2 = M(), M()
    m1(tf.constant(1))
    m1(tf.constant(2))
    m2(tf.constant(1))
    assert count(m1.__call__) == 1 and count(m2.__call__) == 1
    assert m1.__call__ is m1.__call__


def test_T9_closures_frozen_and_captured_variables_read_each_call():
    k = 1

    @tf.function
    def cl(x):
        return x + k

    assert int(cl(tf.constant(0))) == 1
    k = 100  # noqa: F841
    assert int(cl(tf.constant(0))) == 1 and count(cl) == 1

    cv = tf.Variable(1.0)

    @tf.function
    def cap():
        return cv * 2

    assert float(cap()) == 2.0
    cv.assign(5.0)
    assert float(cap()) == 10.0 and count(cap) == 1


def test_T10_each_function_object_has_its_own_cache():
    def raw(x):
        return x

    tf.function(raw)(1)
    f2 = tf.function(raw)
    f2(1)
    assert count(f2) == 1


def test_T11_input_signature():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def f(x):
        return x * 2

    f(tf.constant([1, 2]))
    np.testing.assert_array_equal(f(tf.constant([1, 2, 3])).numpy(), [2, 4, 6])
    np.testing.assert_array_equal(f([1, 2, 3]).numpy(), [2, 4, 6])
    assert count(f) == 1
    with pytest.raises(
        TypeError,
        match=r"Binding inputs to tf.function failed due to `Can not "
        r"cast TensorSpec\(shape=\(1, 2\), dtype=tf.int32",
    ):
        f(tf.constant([[1, 2]]))
    with pytest.raises(TypeError, match="too many positional arguments"):
        f(tf.constant([1]), tf.constant([1]))
    with pytest.raises(TypeError, match=r"Cannot convert \[3.5\] to EagerTensor of dtype int32"):
        f([3.5])

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32)])
    def anyrank(x):
        return x + 1.0

    anyrank(tf.constant([2.0]))
    anyrank(tf.constant([[2.0, 3.0]]))
    assert float(anyrank(tf.constant(1.0))) == 2.0 and count(anyrank) == 1

    @tf.function(input_signature=[{"a": tf.TensorSpec([None]), "b": (tf.TensorSpec([]),)}])
    def nested(d):
        return tf.reduce_sum(d["a"]) + d["b"][0]

    assert float(nested({"a": tf.constant([1.0, 2.0]), "b": (tf.constant(3.0),)})) == 6.0
    with pytest.raises(TypeError, match="different keys"):
        nested({"a": tf.constant([1.0])})

    @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
    def lit(x, p=3):
        return x * p

    assert float(lit(tf.constant(2.0))) == 6.0


def test_T12_reduce_retracing_generalizes_shapes():
    @tf.function(reduce_retracing=True)
    def f(x):
        return x

    for s in ([1], [1, 2], [1, 2, 3], [[1]]):
        f(tf.constant(s))
    assert count(f) == 3
    shapes = [specs[0][0] for _, specs, _ in f._concrete]
    assert shapes == [(1,), (None,), None]

    @tf.function(reduce_retracing=True)
    def g(x):
        return x

    for s in ((2, 3), (4, 3), (5, 3), (5, 7)):
        g(tf.zeros(s))
    assert count(g) == 3
    assert [specs[0][0] for _, specs, _ in g._concrete] == [(2, 3), (None, 3), (None, None)]

    @tf.function(reduce_retracing=True)
    def p(i):
        return tf.constant(i)

    for i in range(3):
        p(i)
    assert count(p) == 3


def test_T13_most_specific_compatible_trace():
    @tf.function
    def ms(x):
        return x

    general = ms.get_concrete_function(tf.TensorSpec([None, None], tf.float32))
    ms(tf.zeros([1, 2]))
    assert count(ms) == 1
    exact = ms.get_concrete_function(tf.TensorSpec([1, 3], tf.float32))
    assert exact is general  # a subtype of an existing trace reuses it
    cols = ms.get_concrete_function(tf.TensorSpec([None, 5], tf.int32))
    ms(tf.zeros([3, 5], tf.int32))
    assert count(ms) == 2 and ms._cache[ms._last_key] is cols


def test_T14_tracing_count_counts_get_concrete_function_and_never_decreases():
    @tf.function
    def f(x):
        return x

    f.get_concrete_function(tf.TensorSpec([2], tf.int32))
    assert count(f) == 1
    f(tf.constant([1, 2]))
    assert count(f) == 1


def test_T15_retracing_warning_explains_the_change(caplog):
    @tf.function
    def w(x):
        return tf.constant(x)

    with caplog.at_level(logging.DEBUG, logger="tracefn"):
        for i in range(6):
            w(i)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith("5 out of the last 5 calls to <function")
    assert warnings[1].startswith("6 out of the last 6 calls")
    assert "triggered tf.function retracing" in warnings[0]
    assert "'x': Python value 3 -> 4" in warnings[0]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("'x': Python value 0 -> 1" in m for m in debug)


def test_T15_retrace_reason_names_shape_and_dtype(caplog):
    @tf.function
    def f(x, y):
        return x

    with caplog.at_level(logging.DEBUG, logger="tracefn"):
        f(tf.zeros([2]), 1)
        f(tf.zeros([3]), 1)
        f(tf.zeros([3], tf.int32), 1)
    debug = " | ".join(r.getMessage() for r in caplog.records)
    assert "'x': shape (2,) -> (3,)" in debug
    assert "'x': dtype float32 -> int32" in debug


def test_T16_get_concrete_function():
    @tf.function
    def c(x, y=2):
        return {"out": x * y, "pair": (x, x + 1)}

    spec = tf.TensorSpec([None, 3], tf.float32)
    cf = c.get_concrete_function(spec)
    assert c.get_concrete_function(spec) is cf
    assert cf.structured_input_signature == ((tf.TensorSpec([None, 3], tf.float32, "x"), 2), {})
    assert set(cf.structured_outputs) == {"out", "pair"} and len(cf.outputs) == 3
    assert cf.structured_outputs["out"].shape == tf.TensorShape([None, 3])
    out = cf(tf.ones([2, 3]))
    np.testing.assert_array_equal(out["out"].numpy(), np.full((2, 3), 2.0))
    # Section 8: a concrete function checks shapes and dtypes.
    with pytest.raises(TypeError, match=r"Argument 'x'.*TensorSpec\(shape=\(None, 3\)"):
        cf(tf.ones([2, 4]))
    with pytest.raises(
        InvalidArgumentError, match="expected to be a float32 tensor but is a int32 tensor"
    ):
        cf(tf.ones([2, 3], tf.int32))
    with pytest.raises(TypeError, match="Can not cast"):
        cf(1.0)

    @tf.function
    def pw(a, b):
        return a**b

    sq = pw.get_concrete_function(a=tf.TensorSpec(None, tf.float32), b=2)
    assert float(sq(tf.constant(10.0))) == 100.0
    with pytest.raises(TypeError, match=r"Can not cast 3 to Literal\[2\]"):
        sq(tf.constant(10.0), b=3)
    assert "Input Parameters:" in cf.pretty_printed_signature()


def test_T16_concrete_function_variables_and_stablehlo():
    w = tf.Variable([1.0, 2.0], name="w")
    n = tf.Variable(0, trainable=False, name="n")

    @tf.function
    def step(x):
        n.assign_add(1)
        return tf.reduce_sum(w * x)

    cf = step.get_concrete_function(tf.TensorSpec([2], tf.float32))
    assert cf.variables == [n, w] or cf.variables == [w, n]
    assert cf.trainable_variables == [w]
    assert set(map(id, cf.captured_inputs)) == {id(w), id(n)}
    text = cf.as_text()
    assert "stablehlo.multiply" in text and "tf.aliasing_output" in text


def test_T17_return_values():
    v = tf.Variable(3.0)

    @tf.function
    def f(x):
        return 5, "s", x, None, v

    five, s, x, none, vv = f(tf.constant(1.0))
    assert five.dtype == tf.int32 and int(five) == 5
    assert s.numpy() == b"s" and none is None
    assert isinstance(vv, tf.Tensor) and float(vv) == 3.0


def test_T18_run_functions_eagerly():
    seen = []

    @tf.function
    def f(x):
        seen.append(x.numpy())
        return x

    tf.config.run_functions_eagerly(True)
    f(tf.constant(1))
    f(tf.constant(1))
    assert seen == [1, 1] and count(f) == 0
    tf.config.run_functions_eagerly(False)


def test_T19_nested_functions_trace_inner_once():
    v = tf.Variable(0.0)

    @tf.function
    def inner(x):
        v.assign_add(x)
        return x * 2

    @tf.function
    def outer(x):
        return inner(x) + inner(x)

    assert float(outer(tf.constant(1.0))) == 4.0
    assert count(inner) == 1 and float(v) == 2.0
    assert "call[fn=inner]" in str(outer.get_concrete_function(tf.constant(1.0)).graph)

    w = tf.Variable(10.0)

    @tf.function
    def inner_var(var):
        var.assign_add(1.0)
        return var.read_value()

    @tf.function
    def outer2():
        return inner_var(v) + inner_var(w)

    assert float(outer2()) == 3.0 + 11.0 and float(w) == 11.0


def test_S1_python_side_effects_only_while_tracing(capfd):
    log = []

    @tf.function
    def f(x):
        print("py", x)
        log.append(1)
        tf.print("tf", x)
        return x

    for i in (1, 2, 3):
        f(tf.constant(i))
    out, err = capfd.readouterr()
    assert out.count("py") == 1 and 'Tensor("x:0", shape=(), dtype=int32)' in out
    assert err.splitlines() == ["tf 1", "tf 2", "tf 3"] and len(log) == 1


def test_S1_print_in_program_order(capfd):
    v = tf.Variable(0)

    @tf.function
    def f():
        v.assign(1)
        tf.print(v)
        v.assign(v * 10)
        tf.print(v, output_stream=sys.stderr)
        v.assign_add(5)
        return v.read_value()

    assert int(f()) == 15
    assert capfd.readouterr().err.splitlines() == ["1", "10"]


def test_S3_trace_time_python_state_is_frozen():
    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.v = tf.Variable(0)
            self.counter = 0

        @tf.function
        def __call__(self):
            if self.counter == 0:
                self.counter += 1
                self.v.assign_add(1)
            return self.v.read_value()

    m = Model()
    assert [int(m()) for _ in range(3)] == [1, 2, 3]


def test_S4_leaked_tensor_is_unusable():
    leaked = []

    @tf.function
    def f(x):
        leaked.append(x * 2)
        return x

    f(tf.constant(1.0))
    with pytest.raises(AttributeError, match="has no attribute 'numpy'"):
        leaked[0].numpy()
    with pytest.raises(tf.errors.InaccessibleTensorError, match="another traced function"):
        tf.add(leaked[0], 1.0)

    @tf.function
    def g(y):
        return y + leaked[0]

    with pytest.raises(tf.errors.InaccessibleTensorError):
        g(tf.constant(1.0))


def test_S5_init_scope_runs_eagerly():
    seen = []

    @tf.function
    def f(x):
        with tf.init_scope():
            seen.append(tf.executing_eagerly())
        return x

    f(tf.constant(1))
    assert seen == [True]


def test_hot_path_traces_once_for_a_thousand_calls():
    counter = tf.Variable(0)

    @tf.function
    def step():
        counter.assign_add(1)

    for _ in range(1000):
        step()
    assert int(counter) == 1000 and count(step) == 1


def test_errors_point_at_the_users_line():
    import traceback

    @tf.function
    def f(x):
        return tf.matmul(x, x)  # the failing line

    with pytest.raises(ValueError, match="matmul: Shape must be rank >= 2") as info:
        f(tf.constant(1.0))
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].line == "return tf.matmul(x, x)  # the failing line"
    assert not any("/tracefn/" in fr.filename and fr.name != "__call__" for fr in frames)


def test_T15_functions_created_in_a_loop_share_the_detector(caplog):
    def make():
        return tf.function(lambda x: x + 1)

    with caplog.at_level(logging.WARNING, logger="tracefn"):
        for i in range(7):
            make()(tf.constant(i))
    warnings = [r for r in caplog.records if "triggered tf.function retracing" in r.getMessage()]
    assert len(warnings) == 2


def test_name_scope_names_ops():
    @tf.function
    def f(x):
        with tf.name_scope("dense"):
            y = tf.matmul(x, x)
            y = tf.matmul(y, x)
        return y

    g = f.get_concrete_function(tf.TensorSpec([2, 2], tf.float32)).graph
    assert [op.name for op in g.ops] == ["dense/matmul", "dense/matmul_1"]
    from tracefn import ir

    assert "# dense/matmul_1" in ir.pretty(g, names=True)
