"""``tracefn.fused``: K steps in one compiled call (``scan_steps`` op, ``lax.scan`` with the
written variables in the carry) give the same results as K calls; one-op state updates."""

import numpy as np
import pytest

import tracefn as tf
from tracefn import fused
from tracefn import metrics as M
from tracefn import optimizers as O
from tracefn import random_ops as R

K = 6
RNG = np.random.default_rng(0)
XS = RNG.normal(size=(K, 8, 3)).astype(np.float32)
YS = RNG.integers(0, 2, size=(K, 8)).astype(np.int32)


class Trainer(tf.Module):
    """A tiny classifier with Adam and a metric: state in parameters, slots and the metric."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2))
        self.b = tf.Variable(np.zeros(2, np.float32))
        self.opt = O.Adam(0.05)
        self.acc = M.SparseCategoricalAccuracy()
        self.loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(self, x, y):
        with tf.GradientTape() as tape:
            logits = x @ self.w + self.b
            loss = self.loss_fn(y, logits)
        grads = tape.gradient(loss, [self.w, self.b])
        self.opt.apply_gradients(zip(grads, [self.w, self.b]))
        self.acc.update_state(y, logits)
        return loss


def state_of(t: Trainer):
    return [np.asarray(v) for v in (t.w, t.b, t.acc.total, t.opt.iterations)]


def test_run_steps_equals_separate_compiled_calls():
    single, fused_t = Trainer(), Trainer()
    step = tf.function(single.step)
    losses = [float(step(XS[i], YS[i])) for i in range(K)]
    stacked = fused.run_steps(fused_t.step, XS, YS)
    np.testing.assert_allclose(np.asarray(stacked), losses, rtol=1e-5)
    for a, b in zip(state_of(single), state_of(fused_t)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # a second fused call continues from the state the first one left
    more = fused.run_steps(fused_t.step, XS, YS)
    losses2 = [float(step(XS[i], YS[i])) for i in range(K)]
    np.testing.assert_allclose(np.asarray(more), losses2, rtol=1e-5)


def test_multi_step_is_one_scan_op_carrying_the_written_variables():
    t = Trainer()
    train = fused.multi_step(t.step)
    train(XS, YS)
    graph = train.get_concrete_function(XS, YS).graph
    (scan,) = [op for op in graph.ops if op.prim.name == "scan_steps"]
    assert scan.attrs["length"] == K and tuple(scan.outputs[0].type.shape) == (K,)
    written = {id(v) for v in scan.attrs["_writes"]}
    assert {id(t.w), id(t.b), id(t.acc.total), id(t.opt.iterations)} <= written
    assert int(t.opt.iterations) == K


def test_printed_scan_op():
    v = tf.Variable(1.0)
    train = fused.multi_step(lambda x: v.assign(v * x))
    out = train(np.full([3], 2.0, np.float32))
    assert np.asarray(out).tolist() == [2.0, 4.0, 8.0] and float(v) == 8.0
    text = str(train.get_concrete_function(np.ones([3], np.float32)).graph)
    assert text.startswith("{ lambda v0:Var[f32[]] ; a:f32[3]. let\n"
                           "    b:f32[3] = scan_steps[length=3 unroll=1] a\n"
                           "      step { c:f32[]. let\n")  # fmt: skip


def test_scan_inside_a_user_function_with_nested_inputs_and_outputs():
    total = tf.Variable(0.0)

    def step(batch):
        total.assign_add(tf.reduce_sum(batch["x"]) * batch["scale"])
        return {"total": total.read_value(), "twice": batch["x"] * 2.0}

    @tf.function
    def train(batches):
        return fused.run_steps(step, batches)

    batches = {"x": np.ones((4, 2), np.float32), "scale": np.arange(4, dtype=np.float32)}
    out = train(batches)
    assert np.asarray(out["total"]).tolist() == [0.0, 2.0, 6.0, 12.0]
    assert np.asarray(out["twice"]).shape == (4, 2)


def test_random_draws_differ_per_step_and_match_separate_calls():
    g1, g2 = R.Generator.from_seed(3), R.Generator.from_seed(3)
    fused_draws = np.asarray(fused.run_steps(lambda _: g1.uniform([2]), np.zeros(4, np.float32)))
    f = tf.function(lambda: g2.uniform([2]))
    separate = np.stack([np.asarray(f()) for _ in range(4)])
    np.testing.assert_allclose(fused_draws, separate)
    assert len({row.tobytes() for row in fused_draws}) == 4


def test_step_without_outputs_and_with_a_traced_condition():
    m = M.Mean()
    counter = tf.Variable(0)

    def step(x):
        counter.assign_add(1)
        tf.cond(counter % 2 == 0, m.reset_state, lambda: None)
        m.update_state(x)

    result = fused.run_steps(step, np.arange(5, dtype=np.float32))
    assert result is None
    assert int(counter) == 5 and float(m.result()) == pytest.approx((3.0 + 4.0) / 2)


def test_mismatched_step_counts_raise():
    with pytest.raises(ValueError, match="same known leading dimension"):
        fused.run_steps(lambda a, b: a, np.ones((3, 2)), np.ones((4, 2)))
    train = fused.multi_step(lambda a: a, steps_per_execution=4)
    assert np.asarray(train(np.ones((4, 2), np.float32))).shape == (4, 2)
    with pytest.raises(ValueError, match="steps_per_execution=4 steps, got 3"):
        train(np.ones((3, 2), np.float32))


def test_fused_update_is_one_op_over_a_pytree_of_variables():
    a, b = tf.Variable(1.0), tf.Variable(np.ones(2, np.float32))

    def bump(state, x):
        return {"a": state["a"] + x, "b": state["b"] * x}, state["a"] * 10

    aux = fused.fused_update(bump, {"a": a, "b": b}, tf.constant(2.0))
    assert float(a) == 3.0 and np.asarray(b).tolist() == [2.0, 2.0] and float(aux) == 10.0

    @tf.function
    def f(x):
        return fused.fused_update(bump, {"a": a, "b": b}, x)

    assert float(f(tf.constant(1.0))) == 30.0
    graph = f.get_concrete_function(tf.constant(1.0)).graph
    assert [op.prim.name for op in graph.ops].count("jax_call") == 1
