"""GradientTape (spec section 5, G1-G21), eagerly and inside compiled functions."""

import logging

import numpy as np
import pytest

import tracefn as tf


def arr(t):
    return None if t is None else np.asarray(t.numpy()).tolist()


@pytest.fixture
def w():
    return tf.Variable([1.0, 2.0])


X = 3.0


def test_G1_constant_not_watched():
    x = tf.constant(X)
    with tf.GradientTape() as t:
        y = x * x
    assert t.gradient(y, x) is None


def test_G2_watch_and_G3_non_persistent_once():
    x = tf.constant(X)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
    assert float(t.gradient(y, x)) == 6.0
    with pytest.raises(
        RuntimeError,
        match="A non-persistent GradientTape can only be used to "
        r"compute one set of gradients \(or jacobians\)",
    ):
        t.gradient(y, x)


def test_G4_persistent():
    x = tf.constant(X)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        z = y * x
    assert float(t.gradient(y, x)) == 6.0 and float(t.gradient(z, x)) == 27.0


def test_G5_G6_G7_targets(w):
    with tf.GradientTape(persistent=True) as t:
        y = w * w
        ys = [w * 2, w * 3]
    assert arr(t.gradient(y, w)) == [2.0, 4.0]
    assert arr(t.gradient(ys, w)) == [5.0, 5.0]
    assert arr(t.gradient(y, w, output_gradients=tf.constant([1.0, 10.0]))) == [2.0, 40.0]


def test_G8_unconnected(w):
    u = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as t:
        y = w * 2
    assert t.gradient(y, u) is None
    assert float(t.gradient(y, u, unconnected_gradients=tf.UnconnectedGradients.ZERO)) == 0.0
    assert float(t.gradient(y, u, unconnected_gradients="zero")) == 0.0


def test_G9_nested_sources(w):
    u = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as t:
        y = tf.reduce_sum(w * 2)
    g = t.gradient(y, [w, u])
    assert arr(g[0]) == [2.0, 2.0] and g[1] is None
    assert arr(t.gradient(y, {"x": w})["x"]) == [2.0, 2.0]


def test_G10_stop_recording(w):
    with tf.GradientTape() as t:
        a = w * 2
        with t.stop_recording():
            b = w * 3
        y = tf.reduce_sum(a + b)
    assert arr(t.gradient(y, w)) == [2.0, 2.0]


def test_G11_stop_gradient(w):
    with tf.GradientTape() as t:
        y = tf.stop_gradient(w) * w
    assert arr(t.gradient(y, w)) == [1.0, 2.0]


def test_G12_G13_unwatched_variables(w):
    nt = tf.Variable(1.0, trainable=False)
    with tf.GradientTape() as t:
        y = nt * 2
    assert t.gradient(y, nt) is None
    with tf.GradientTape(watch_accessed_variables=False) as t:
        y = w * 2
    assert t.gradient(y, w) is None
    with tf.GradientTape(watch_accessed_variables=False) as t:
        t.watch(w)
        y = w * 2
    assert arr(t.gradient(y, w)) == [2.0, 2.0]


def test_G14_integer_sources(caplog):
    xi = tf.constant(3)
    with caplog.at_level(logging.WARNING, logger="tracefn"):
        with tf.GradientTape() as t:
            t.watch(xi)
            y = xi * xi
    assert t.gradient(y, xi) is None
    assert "The dtype of the watched tensor must be floating (e.g. tf.float32), got tf.int32" in (
        caplog.text)  # fmt: skip
    vi = tf.Variable(2)
    with tf.GradientTape() as t:
        y = vi * vi
    assert t.gradient(y, vi) is None


def test_G15_watch_python_value():
    with pytest.raises(
        ValueError,
        match="^Passed in object 1.0 of type 'float', not tf.Tensor or "
        "tf.Variable or ExtensionType.$",
    ):
        with tf.GradientTape() as t:
            t.watch(1.0)


def test_G16_gradient_inside_the_block():
    x = tf.constant(X)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
        assert float(t.gradient(y, x)) == 6.0


def test_G17_tape_inside_function():
    v = tf.Variable(1.0)

    @tf.function
    def f(x):
        with tf.GradientTape(persistent=True) as t:
            t.watch(x)
            y = x * x * x
        return t.gradient(y, x), t.gradient(y, v), t.gradient(y, v, unconnected_gradients="zero")

    g, none, zero = f(tf.constant(2.0))
    assert float(g) == 12.0 and none is None and float(zero) == 0.0
    assert "gradient[mode=vjp]" in str(f.get_concrete_function(tf.constant(2.0)).graph)


def test_G18_tape_around_function_call():
    u = tf.Variable(1.0)

    @tf.function
    def f(x):
        return x * x * u

    x = tf.constant(X)
    with tf.GradientTape() as t:
        t.watch(x)
        y = f(x)
    assert [float(g) for g in t.gradient(y, [x, u])] == [6.0, 9.0]


def test_G19_through_cond():
    @tf.function
    def f(x):
        with tf.GradientTape() as t:
            t.watch(x)
            y = tf.cond(x > 0, lambda: x * x, lambda: -x)
        return t.gradient(y, x)

    assert float(f(tf.constant(3.0))) == 6.0 and float(f(tf.constant(-3.0))) == -1.0


def test_G20_jacobian(w):
    with tf.GradientTape() as t:
        y = w * w
    assert arr(t.jacobian(y, w)) == [[2.0, 0.0], [0.0, 4.0]]


def test_G21_assign_restarts_the_chain():
    u = tf.Variable(1.0)
    with tf.GradientTape() as t:
        u.assign(u * 2)
        y = u * 1
    assert float(t.gradient(y, u)) == 1.0

    @tf.function
    def f():
        with tf.GradientTape() as t:
            u.assign(u * 2)
            y = u * u
        return t.gradient(y, u)

    assert float(f()) == 8.0 and float(u) == 4.0


def test_compiled_and_eager_gradients_agree():
    w = tf.Variable(np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2))
    b = tf.Variable(np.zeros(2, np.float32))
    x = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3) / 6)

    def loss_grads():
        with tf.GradientTape() as t:
            loss = tf.reduce_mean(tf.nn.softplus(x @ w + b))
        return t.gradient(loss, [w, b])

    eager = loss_grads()
    compiled = tf.function(loss_grads)()
    for a, c in zip(eager, compiled):
        np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-6)
    import jax
    import jax.numpy as jnp

    ref = jax.grad(lambda W, B: jnp.mean(jax.nn.softplus(x.numpy() @ W + B)), argnums=(0, 1))(
        w.numpy(), b.numpy())  # fmt: skip
    for a, r in zip(eager, ref):
        np.testing.assert_allclose(a.numpy(), r, rtol=1e-6)
