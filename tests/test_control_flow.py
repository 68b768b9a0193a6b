"""The explicit control-flow API (``tracefn.cond``, ``tracefn.while_loop``) and its lowering:
variables written in regions are carried state; bounded loops are differentiable."""

import numpy as np
import pytest

import tracefn as tf


def test_cond_python_predicate_runs_one_branch():
    ran = []
    out = tf.cond(True, lambda: ran.append("t") or 1, lambda: ran.append("f") or 2)
    assert out == 1 and ran == ["t"]


def test_cond_carries_variables_written_in_either_branch():
    v, w = tf.Variable(5.0), tf.Variable(1.0)

    @tf.function
    def reset(x):
        def yes():
            v.assign(0.0)
            return x

        def no():
            w.assign_add(1.0)
            return -x

        return tf.cond(x > 0, yes, no)

    assert float(reset(tf.constant(2.0))) == 2.0 and float(v) == 0.0 and float(w) == 1.0
    v.assign(5.0)
    assert float(reset(tf.constant(-2.0))) == 2.0 and float(v) == 5.0 and float(w) == 2.0
    text = reset.get_concrete_function(tf.constant(1.0))._lowered.as_text(
        *[np.float32(0)] * 3)  # fmt: skip
    assert "stablehlo.case" in text or "stablehlo.if" in text


def test_cond_branch_mismatch_errors():
    @tf.function
    def dtype_mismatch(x):
        return tf.cond(x > 0, lambda: tf.constant(1), lambda: tf.constant(1.0))

    with pytest.raises(TypeError, match="same number, type, and overall structure"):
        dtype_mismatch(tf.constant(1.0))

    @tf.function
    def shape_mismatch(x):
        return tf.cond(x > 0, lambda: tf.zeros([2]), lambda: tf.zeros([3]))

    with pytest.raises(ValueError, match="static shapes"):
        shape_mismatch(tf.constant(1.0))


def test_print_inside_cond_runs_only_in_taken_branch(capfd):
    @tf.function
    def f(x):
        return tf.cond(x > 0, lambda: (tf.print("pos", x), x)[1], lambda: (tf.print("neg"), -x)[1])

    f(tf.constant(1))
    f(tf.constant(-1))
    assert capfd.readouterr().err.splitlines() == ["pos 1", "neg"]


def test_while_loop_eager_and_traced_agree():
    def loop(n):
        return tf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + i),
                             (tf.constant(0), tf.constant(0)))  # fmt: skip

    eager = loop(tf.constant(5))
    traced = tf.function(loop)(tf.constant(5))
    assert [int(t) for t in eager] == [int(t) for t in traced] == [5, 10]


def test_while_loop_carries_written_variables():
    acc = tf.Variable(0)

    @tf.function
    def f(n):
        def body(i):
            acc.assign_add(i)
            return i + 1

        return tf.while_loop(lambda i: i < n, body, tf.constant(0))

    assert int(f(tf.constant(4))) == 4 and int(acc) == 6


def test_while_loop_rejects_changing_shape_and_dtype():
    @tf.function
    def grow(x):
        return tf.while_loop(lambda x: tf.reduce_sum(x) < 10, lambda x: tf.concat([x, x], 0), x)

    with pytest.raises(ValueError, match="before the loop, but shape"):
        grow(tf.constant([1]))

    @tf.function
    def cast(x):
        return tf.while_loop(lambda x: x < 10, lambda x: tf.cast(x, tf.float32), x)

    with pytest.raises(TypeError, match="dtype int32 before the loop, but dtype float32"):
        cast(tf.constant(1))


def test_bounded_while_is_differentiable_and_stops_early():
    v = tf.Variable(0.0)

    @tf.function
    def f(x, n):
        with tf.GradientTape() as t:
            t.watch(x)

            def body(i, y):
                v.assign_add(1.0)
                return i + 1, y * x

            _, y = tf.while_loop(lambda i, y: i < n, body, (tf.constant(0), tf.constant(1.0)),
                                 maximum_iterations=5)  # fmt: skip
        return y, t.gradient(y, x)

    y, g = f(tf.constant(2.0), tf.constant(3))
    assert (float(y), float(g), float(v)) == (8.0, 12.0, 3.0)
    y, _ = f(tf.constant(2.0), tf.constant(50))
    assert float(y) == 32.0 and float(v) == 8.0
    assert "while[max_iters=5]" in str(f.get_concrete_function(
        tf.constant(2.0), tf.constant(3)).graph)  # fmt: skip


def test_case_picks_first_true_branch():
    @tf.function
    def f(x):
        return tf.case([(x < 0, lambda: tf.constant(-1)), (x < 10, lambda: tf.constant(1))],
                       default=lambda: tf.constant(100))  # fmt: skip

    assert [int(f(tf.constant(v))) for v in (-5, 5, 50)] == [-1, 1, 100]
