"""``tracefn.optimizers``: numerics against optax applied by hand (eager and compiled), slots
as Variables made on first use, learning rates and schedules, clipping, gradient edge cases."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import tracefn as tf
from tracefn import optimizers as O

W0 = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
B0 = np.array([0.5, -0.25], np.float32)
STEPS = 3


def grads_of(w, b):
    """A gradient that depends on the parameters, so rules with state are exercised."""
    return [w * 2.0 + 1.0, b * 3.0 - 0.5]


def optax_reference(tx, steps=STEPS):
    params = [jnp.asarray(W0), jnp.asarray(B0)]
    state = tx.init(params)
    for _ in range(steps):
        updates, state = tx.update(grads_of(*params), state, params)
        params = optax.apply_updates(params, updates)
    return [np.asarray(p) for p in params]


def run_tracefn(opt, compiled: bool, steps=STEPS):
    w, b = tf.Variable(W0), tf.Variable(B0)

    def step():
        opt.apply_gradients(zip(grads_of(w, b), [w, b]))

    fn = tf.function(step) if compiled else step
    for _ in range(steps):
        fn()
    return [w.numpy(), b.numpy()], fn


CASES = {
    "sgd": (lambda: O.SGD(0.1), lambda: optax.sgd(0.1)),
    "sgd_momentum": (lambda: O.SGD(0.1, momentum=0.9), lambda: optax.sgd(0.1, 0.9)),
    "sgd_nesterov": (lambda: O.SGD(0.1, momentum=0.9, nesterov=True),
                     lambda: optax.sgd(0.1, 0.9, nesterov=True)),
    "adam": (lambda: O.Adam(0.1), lambda: optax.adam(0.1, eps=1e-7)),
    "amsgrad": (lambda: O.Adam(0.1, amsgrad=True), lambda: optax.amsgrad(0.1, eps=1e-7)),
    "adamw": (lambda: O.AdamW(0.1, weight_decay=0.1),
              lambda: optax.adamw(0.1, eps=1e-7, weight_decay=0.1)),
    "rmsprop": (lambda: O.RMSprop(0.1), lambda: optax.rmsprop(0.1, eps=1e-7)),
    "rmsprop_centered_momentum": (lambda: O.RMSprop(0.1, momentum=0.5, centered=True),
                                  lambda: optax.rmsprop(0.1, eps=1e-7, centered=True,
                                                        momentum=0.5)),
    "adagrad": (lambda: O.Adagrad(0.1), lambda: optax.adagrad(0.1, eps=1e-7)),
    "adamax": (lambda: O.Adamax(0.1), lambda: optax.adamax(0.1, eps=1e-7)),
    "nadam": (lambda: O.Nadam(0.1), lambda: optax.nadam(0.1, eps=1e-7)),
    "lion": (lambda: O.Lion(0.1), lambda: optax.lion(0.1, weight_decay=0.0)),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_optax_by_hand(case):
    make_opt, make_tx = CASES[case]
    got, _ = run_tracefn(make_opt(), compiled=True)
    for g, e in zip(got, optax_reference(make_tx())):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["sgd_momentum", "adam", "rmsprop"])
def test_eager_apply_matches_optax_by_hand(case):
    # Eagerly the same fused update runs as one kernel; a few rules cover that path.
    make_opt, make_tx = CASES[case]
    got, _ = run_tracefn(make_opt(), compiled=False)
    for g, e in zip(got, optax_reference(make_tx())):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def clip_each_by_norm(limit):
    """Keras's ``clipnorm``: each gradient tensor clipped by its own L2 norm."""

    def clip(updates, params):
        return [g * jnp.minimum(1.0, limit / jnp.linalg.norm(g)) for g in updates]

    return optax.stateless(clip)


@pytest.mark.parametrize("kwargs,clip", [
    ({"clipvalue": 0.5}, optax.clip(0.5)),
    ({"global_clipnorm": 1.0}, optax.clip_by_global_norm(1.0)),
    ({"clipnorm": 1.0}, clip_each_by_norm(1.0)),
], ids=["clipvalue", "global_clipnorm", "clipnorm"])  # fmt: skip
def test_clipping_matches_optax(kwargs, clip):
    got, _ = run_tracefn(O.Adam(0.1, **kwargs), compiled=True)
    expected = optax_reference(optax.chain(clip, optax.adam(0.1, eps=1e-7)))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and"):
        O.SGD(clipnorm=1.0, global_clipnorm=1.0)


def test_decoupled_weight_decay():
    got, _ = run_tracefn(O.SGD(0.1, weight_decay=0.5), compiled=True, steps=1)
    w = W0 - 0.1 * 0.5 * W0
    np.testing.assert_allclose(got[0], w - 0.1 * grads_of(W0, B0)[0], rtol=1e-6)


def test_slots_are_variables_made_on_first_apply_and_function_traces_twice():
    opt = O.Adam(0.1)
    assert opt.variables == [opt.iterations, opt.learning_rate]
    _, fn = run_tracefn(opt, compiled=True)
    slots = opt.variables[2:]
    # per variable: adam's count, mu and nu
    assert len(slots) == 6 and all(not v.trainable for v in slots)
    assert any(v.name == "adam/Variable/mu:0" for v in slots)
    assert fn.experimental_get_tracing_count() == 2  # the first trace created the slots
    assert int(opt.iterations) == STEPS and opt.iterations.dtype == tf.int64


def test_apply_is_one_fused_op():
    opt = O.Adam(0.1)
    w, b = tf.Variable(W0), tf.Variable(B0)

    @tf.function
    def step():
        opt.apply_gradients(zip(grads_of(w, b), [w, b]))

    graph = step.get_concrete_function().graph
    calls = [op for op in graph.walk() if op.prim.name == "jax_call"]
    assert len(calls) == 1 and calls[0].attrs["fn"].__name__ == "adam_apply_gradients"
    assert {id(v) for v in graph.writes} == {id(v) for v in [w, b, *opt.variables]} - {
        id(opt.learning_rate)}  # fmt: skip


def test_learning_rate_variable_changes_without_retracing():
    opt = O.SGD(0.1)
    w = tf.Variable(1.0)

    @tf.function
    def step():
        opt.apply_gradients([(tf.constant(1.0), w)])

    step()
    opt.learning_rate = 0.5  # assigns the learning-rate variable
    step()
    assert float(w) == pytest.approx(1.0 - 0.1 - 0.5)
    lr = tf.Variable(0.25)
    opt2 = O.SGD(learning_rate=lr)
    opt2.apply_gradients([(tf.constant(1.0), w)])
    lr.assign(0.0)
    opt2.apply_gradients([(tf.constant(1.0), w)])
    assert float(w) == pytest.approx(0.4 - 0.25)
    assert step.experimental_get_tracing_count() == 1  # SGD without momentum has no slots
    opt3 = O.SGD(learning_rate=lambda: 0.5)  # a callable without arguments (Keras)
    opt3.apply_gradients([(tf.constant(1.0), w)])
    assert float(w) == pytest.approx(0.15 - 0.5)


def test_schedules_match_keras_formulas():
    S = O.schedules
    e = S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert float(e(5)) == pytest.approx(0.1 * 0.5**0.5)
    s = S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert float(s(15)) == pytest.approx(0.05)
    p = S.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [float(p(x)) for x in (0, 10, 11, 20, 21)] == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.1])
    c = S.CosineDecay(1.0, decay_steps=10, alpha=0.1)
    assert float(c(5)) == pytest.approx(0.9 * 0.5 + 0.1) and float(c(50)) == pytest.approx(0.1)
    w = S.CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
    assert float(w(2)) == pytest.approx(0.5) and float(w(4)) == pytest.approx(1.0)
    assert float(S.InverseTimeDecay(1.0, 10, 1.0)(10)) == pytest.approx(0.5)
    assert float(S.PolynomialDecay(1.0, 10, 0.0)(5)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="1 less than the length of values"):
        S.PiecewiseConstantDecay([1, 2], [1.0])
    assert tf.keras.optimizers.schedules.CosineDecay is S.CosineDecay


def test_schedule_is_evaluated_on_iterations():
    sched = O.schedules.PiecewiseConstantDecay([1], [1.0, 0.1])
    opt = O.SGD(sched)
    w = tf.Variable(0.0)

    @tf.function
    def step():
        opt.apply_gradients([(tf.constant(1.0), w)])

    for _ in range(3):
        step()
    assert float(w) == pytest.approx(-(1.0 + 1.0 + 0.1))  # iterations 0, 1, 2
    assert float(opt.learning_rate) == pytest.approx(0.1)


def test_none_gradients_are_skipped_with_a_warning():
    opt = O.SGD(1.0)
    a, b = tf.Variable(1.0, name="a"), tf.Variable(1.0, name="b")
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['b:0'\]"):
        opt.apply_gradients([(tf.constant(1.0), a), (None, b)])
    assert float(a) == 0.0 and float(b) == 1.0


def test_all_none_gradients_raise_tf_error():
    a = tf.Variable(1.0, name="a")
    with pytest.raises(ValueError, match=r"No gradients provided for any variable: \(\['a:0'\],\)"):
        O.Adam().apply_gradients([(None, a)])


def test_minimize_with_callable_and_tensor_loss():
    w = tf.Variable(3.0)
    opt = O.SGD(0.1)
    for _ in range(60):
        opt.minimize(lambda: (w - 1.0) ** 2, [w])
    assert float(w) == pytest.approx(1.0, abs=1e-4)
    with tf.GradientTape() as tape:
        loss = w * 2.0
    opt.minimize(loss, lambda: [w], tape=tape)
    assert float(w) == pytest.approx(0.8, abs=1e-4)
    with pytest.raises(ValueError, match="`tape` is required when a `Tensor` loss is passed"):
        opt.minimize(loss, [w])


def test_indexed_slices_gradient():
    emb = tf.Variable(np.zeros((4, 2), np.float32))
    grad = tf.IndexedSlices(tf.constant([[1.0, 1.0], [2.0, 2.0]]), tf.constant([1, 1]))
    O.SGD(1.0).apply_gradients([(grad, emb)])
    assert emb.numpy().tolist() == [[0, 0], [-3, -3], [0, 0], [0, 0]]


def test_keras_alias_and_get():
    opt = tf.keras.optimizers.Adam(learning_rate=0.1)
    assert isinstance(opt, O.Adam) and float(opt.learning_rate) == pytest.approx(0.1)
    assert isinstance(O.get("rmsprop"), O.RMSprop)
    assert O.SGD(0.2, momentum=0.5).get_config()["learning_rate"] == pytest.approx(0.2)
    with pytest.raises(TypeError, match="expected tf.Variable"):
        O.SGD().apply_gradients([(tf.constant(1.0), tf.constant(1.0))])
