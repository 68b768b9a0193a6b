"""``tracefn.random``: seeds, generators as threaded Variable state, distributions."""

import numpy as np
import pytest

import tracefn as tf
from tracefn import random_ops as R


def arr(t):
    return np.asarray(t)


def test_set_seed_restarts_the_global_sequence():
    R.set_seed(7)
    a, b = arr(R.uniform([4])), arr(R.uniform([4]))
    R.set_seed(7)
    assert np.array_equal(arr(R.uniform([4])), a)
    assert np.array_equal(arr(R.uniform([4])), b)
    assert not np.array_equal(a, b)
    R.set_seed(8)
    assert not np.array_equal(arr(R.uniform([4])), a)


def test_op_seed_is_deterministic_per_global_seed_and_advances_per_call():
    R.set_seed(1)
    a1, a2 = arr(R.normal([3], seed=5)), arr(R.normal([3], seed=5))
    other = arr(R.normal([3], seed=6))
    R.set_seed(1)
    assert np.array_equal(arr(R.normal([3], seed=5)), a1)
    assert np.array_equal(arr(R.normal([3], seed=5)), a2)
    assert not np.array_equal(a1, a2) and not np.array_equal(a1, other)
    R.set_seed(2)
    assert not np.array_equal(arr(R.normal([3], seed=5)), a1)


def test_random_in_compiled_function_is_fresh_each_call_and_reproducible():
    @tf.function
    def f():
        return R.uniform([3]), R.normal([2], seed=11)

    R.set_seed(3)
    first = [tuple(map(arr, f())) for _ in range(3)]
    assert not np.array_equal(first[0][0], first[1][0])
    assert not np.array_equal(first[1][1], first[2][1])
    R.set_seed(3)  # resets the key variables the compiled function reads
    again = [tuple(map(arr, f())) for _ in range(3)]
    for (a, b), (c, d) in zip(first, again):
        assert np.array_equal(a, c) and np.array_equal(b, d)
    assert f.experimental_get_tracing_count() == 1


def test_compiled_and_eager_draws_continue_one_sequence():
    g1, g2 = R.Generator.from_seed(4), R.Generator.from_seed(4)
    f = tf.function(lambda: g1.normal([2]))
    eager = [arr(g2.normal([2])) for _ in range(3)]
    assert np.array_equal(arr(g1.normal([2])), eager[0])
    assert np.array_equal(arr(f()), eager[1])
    assert np.array_equal(arr(f()), eager[2])


def test_random_op_prints_as_read_draw_write():
    g = R.Generator.from_seed(0)

    @tf.function
    def f():
        return g.uniform([2])

    assert str(f.get_concrete_function().graph) == (
        "{ lambda v0:Var[u32[2]] ; . let\n"
        "    a:f32[] = const[value=0.0]\n"
        "    b:f32[] = const[value=1.0]\n"
        "    c:u32[2] <- v0\n"
        "    d:u32[2] e:f32[2] = random_uniform[shape=(2,) dtype=float32] c a b\n"
        "    v0 <- d\n"
        "  in (e,) }"
    )


def test_key_variables_made_while_tracing_are_not_variables_of_the_function():
    @tf.function
    def f():
        return R.uniform([2], seed=424242)  # a new op seed: its key variable is made now

    f()
    f()
    assert f.experimental_get_tracing_count() == 1


def test_fresh_numbers_per_loop_iteration():
    g = R.Generator.from_seed(9)

    @tf.function
    def f():
        return tf.while_loop(lambda i, acc: i < 3, lambda i, acc: (i + 1, acc + g.uniform([])),
                             (0, 0.0))[1]  # fmt: skip

    ref = R.Generator.from_seed(9)
    draws = [float(ref.uniform([])) for _ in range(3)]
    assert float(f()) == pytest.approx(sum(draws), rel=1e-6)
    assert len(set(draws)) == 3


def test_generator_state_is_a_non_trainable_uncollected_variable():
    g = R.Generator.from_seed(1)
    assert isinstance(g.state, tf.Variable)
    assert not g.state.trainable and g.state.collections == []
    assert g.state.dtype == tf.uint32 and tuple(g.state.shape) == (2,)
    a = arr(g.normal([3]))
    g.reset_from_seed(1)
    assert np.array_equal(arr(g.normal([3])), a)


def test_generator_copy_and_split():
    g = R.Generator.from_seed(2)
    h = R.Generator(copy_from=g)
    assert np.array_equal(arr(g.uniform([2])), arr(h.uniform([2])))
    children = g.split(2)
    draws = [arr(c.uniform([4])) for c in children] + [arr(g.uniform([4]))]
    assert len({d.tobytes() for d in draws}) == 3


def test_uniform_bounds_and_integer_uniform():
    g = R.Generator.from_seed(0)
    x = arr(g.uniform([2000], minval=-2.0, maxval=3.0))
    assert x.min() >= -2.0 and x.max() < 3.0 and abs(x.mean() - 0.5) < 0.15
    i = arr(g.uniform([2000], minval=1, maxval=4, dtype=tf.int32))
    assert i.dtype == np.int32 and set(np.unique(i)) == {1, 2, 3}
    with pytest.raises(ValueError, match="Must specify maxval for integer dtype"):
        g.uniform([2], dtype=tf.int32)


def test_normal_and_truncated_normal_statistics():
    g = R.Generator.from_seed(0)
    x = arr(g.normal([20000], mean=1.0, stddev=2.0))
    assert abs(x.mean() - 1.0) < 0.05 and abs(x.std() - 2.0) < 0.05
    t = arr(g.truncated_normal([20000], mean=0.0, stddev=2.0))
    assert np.abs(t).max() <= 4.0 and abs(t.std() - 2.0 * 0.8796) < 0.05
    d = arr(R.normal([4], dtype=tf.float64))
    assert d.dtype == np.float64
    with pytest.raises(ValueError, match="floating point dtype"):
        R.normal([2], dtype=tf.int32)


def test_shuffle_and_categorical():
    R.set_seed(0)
    s = arr(R.shuffle(tf.range(10)))
    assert sorted(s.tolist()) == list(range(10))
    c = arr(R.categorical(tf.constant([[0.0, 20.0], [20.0, 0.0]]), 5))
    assert c.shape == (2, 5) and c.dtype == np.int64
    assert (c[0] == 1).all() and (c[1] == 0).all()


def test_stateless_draws_depend_only_on_the_seed():
    a = arr(R.stateless_normal([3], seed=[1, 2]))
    assert np.array_equal(a, arr(R.stateless_normal([3], seed=[1, 2])))
    assert not np.array_equal(a, arr(R.stateless_normal([3], seed=[1, 3])))
    u = arr(R.stateless_uniform([100], seed=(0, 0), minval=0, maxval=5, dtype=tf.int32))
    assert u.min() >= 0 and u.max() < 5
    t = arr(R.stateless_truncated_normal([1000], seed=(0, 1)))
    assert np.abs(t).max() <= 2.0
    with pytest.raises(ValueError, match="shape \\[2\\]"):
        R.stateless_normal([3], seed=[1, 2, 3])


def test_dropout_uses_the_random_ops():
    R.set_seed(0)
    y = arr(tf.nn.dropout(tf.ones([1000]), 0.5, seed=1))
    assert set(np.unique(y)) <= {0.0, 2.0} and 300 < (y == 0).sum() < 700
