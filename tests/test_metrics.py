"""``tracefn.metrics``: values vs numpy, state in Variables, use inside compiled steps, and a
reset decided by a traced condition (lowered to ``lax.cond``)."""

import numpy as np
import pytest

import tracefn as tf
from tracefn import metrics as M

LABELS = np.array([0, 2, 1, 1], np.int32)
PROBS = np.array([[0.8, 0.1, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1], [0.1, 0.7, 0.2]],
                 np.float32)  # fmt: skip


def ops_named(graph, name):
    return [op for op in graph.walk() if op.prim.name == name]


def test_mean_streams_and_weights():
    m = M.Mean()
    m.update_state([1.0, 2.0, 3.0])
    assert float(m.result()) == 2.0
    m.update_state([10.0, 20.0], sample_weight=[1.0, 0.0])
    assert float(m.result()) == pytest.approx(16.0 / 4.0)
    assert float(m([[1.0, 3.0]])) == pytest.approx(18.0 / 5.0)  # per-sample mean of the row


def test_sum_and_empty_mean():
    s = M.Sum()
    assert float(s([1.0, 2.0])) == 3.0 and float(s(4.0)) == 7.0
    assert float(M.Mean().result()) == 0.0  # divide_no_nan before any update


def test_accuracy_metrics_match_numpy():
    sparse = M.SparseCategoricalAccuracy()
    sparse.update_state(LABELS, PROBS)
    expected = (PROBS.argmax(-1) == LABELS).mean()
    assert float(sparse.result()) == pytest.approx(expected)
    column = M.SparseCategoricalAccuracy()
    column.update_state(LABELS[:, None], PROBS)
    assert float(column.result()) == pytest.approx(expected)
    cat = M.CategoricalAccuracy()
    assert float(cat(np.eye(3, dtype=np.float32)[LABELS], PROBS)) == pytest.approx(expected)
    acc = M.Accuracy()
    assert float(acc([1, 2, 3, 4], [1, 2, 0, 4])) == 0.75
    binary = M.BinaryAccuracy(threshold=0.5)
    assert float(binary([[1.0], [0.0]], [[0.7], [0.6]])) == 0.5


def test_weighted_accuracy_and_mse():
    sparse = M.SparseCategoricalAccuracy()
    w = np.array([1.0, 0.0, 2.0, 1.0], np.float32)
    sparse.update_state(LABELS, PROBS, sample_weight=w)
    hits = (PROBS.argmax(-1) == LABELS).astype(np.float32)
    assert float(sparse.result()) == pytest.approx((hits * w).sum() / w.sum())
    mse = M.MeanSquaredError()
    y, p = np.ones((4, 3), np.float32), PROBS
    assert float(mse(y, p)) == pytest.approx(((y - p) ** 2).mean(), rel=1e-6)
    mae = M.MeanAbsoluteError()
    assert float(mae(y, p)) == pytest.approx(np.abs(y - p).mean(), rel=1e-6)


def test_reset_state_and_alias():
    m = M.Mean()
    m.update_state([5.0])
    m.reset_state()
    assert float(m.result()) == 0.0 and float(m.count) == 0.0
    m.update_state([5.0])
    m.reset_states()
    assert float(m.total) == 0.0


def test_state_is_non_trainable_variables():
    m = M.SparseCategoricalAccuracy()
    assert len(m.variables) == 2 and all(isinstance(v, tf.Variable) for v in m.variables)
    assert not any(v.trainable for v in m.variables) and m.trainable_variables == []
    assert m.total.name.startswith("sparse_categorical_accuracy/")


def test_metric_accumulates_across_compiled_calls_with_one_fused_op():
    acc = M.SparseCategoricalAccuracy()

    @tf.function
    def step(y, p):
        acc.update_state(y, p)
        return acc.result()

    r1 = float(step(LABELS[:2], PROBS[:2]))
    r2 = float(step(LABELS[2:], PROBS[2:]))
    assert r1 == 1.0 and r2 == pytest.approx((PROBS.argmax(-1) == LABELS).mean())
    graph = step.get_concrete_function(LABELS[:2], PROBS[:2]).graph
    assert len(ops_named(graph, "jax_call")) == 1
    assert step.experimental_get_tracing_count() == 1


def test_reset_decided_by_a_traced_condition_lowers_to_cond():
    m = M.Mean()
    counter = tf.Variable(0)

    @tf.function
    def step(x):
        counter.assign_add(1)
        tf.cond(counter % 3 == 0, m.reset_state, lambda: None)
        m.update_state(x)
        return m.result()

    results = [float(step(tf.constant(float(i)))) for i in range(7)]
    assert results == [0.0, 0.5, 2.0, 2.5, 3.0, 5.0, 5.5]
    graph = step.get_concrete_function(tf.constant(0.0)).graph
    (cond,) = ops_named(graph, "cond")
    assert {id(v) for v in cond.attrs["_writes"]} == {id(m.total), id(m.count)}


def test_metric_created_in_first_trace():
    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.metric = None

        @tf.function
        def __call__(self, x):
            if self.metric is None:
                self.metric = M.Mean()
            return self.metric(x)

    model = Model()
    assert float(model(tf.constant([2.0]))) == 2.0
    assert float(model(tf.constant([4.0]))) == 3.0


def test_per_sample_functions_on_tensors_and_keras_alias():
    hits = M.sparse_categorical_accuracy(tf.constant(LABELS), tf.constant(PROBS))
    assert np.asarray(hits).tolist() == (PROBS.argmax(-1) == LABELS).astype(float).tolist()
    assert tf.keras.metrics.Mean is M.Mean
    assert M.Mean(name="loss").get_config() == {"name": "loss", "dtype": "float32"}
