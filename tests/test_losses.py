"""``tracefn.losses``: Keras's formulas, reductions and sample weights, and gradients."""

import numpy as np
import pytest

import tracefn as tf
from tracefn import losses as L

LOGITS = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]], np.float32)
LABELS = np.array([0, 2], np.int32)


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_sparse_categorical_crossentropy_from_logits_and_probs():
    expected = -log_softmax(LOGITS)[np.arange(2), LABELS]
    loss = L.SparseCategoricalCrossentropy(from_logits=True)
    assert float(loss(LABELS, LOGITS)) == pytest.approx(expected.mean(), rel=1e-6)
    probs = np.exp(log_softmax(LOGITS))
    assert float(L.SparseCategoricalCrossentropy()(LABELS[:, None], probs)) == pytest.approx(
        expected.mean(), rel=1e-5)  # fmt: skip


def test_categorical_crossentropy_and_label_smoothing():
    onehot = np.eye(3, dtype=np.float32)[LABELS]
    expected = -(onehot * log_softmax(LOGITS)).sum(-1)
    loss = L.CategoricalCrossentropy(from_logits=True)
    assert float(loss(onehot, LOGITS)) == pytest.approx(expected.mean(), rel=1e-6)
    smooth = onehot * 0.9 + 0.1 / 3
    expected_s = -(smooth * log_softmax(LOGITS)).sum(-1).mean()
    loss_s = L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    assert float(loss_s(onehot, LOGITS)) == pytest.approx(expected_s, rel=1e-6)


def test_binary_crossentropy():
    y, p = np.array([[1.0, 0.0]], np.float32), np.array([[0.8, 0.3]], np.float32)
    expected = -(np.log(0.8) + np.log(0.7)) / 2
    assert float(L.BinaryCrossentropy()(y, p)) == pytest.approx(expected, rel=1e-6)
    logits = np.log(p / (1 - p))
    assert float(L.BinaryCrossentropy(from_logits=True)(y, logits)) == pytest.approx(
        expected, rel=1e-5)  # fmt: skip


def test_reductions_and_sample_weight():
    y, p = np.zeros((2, 2), np.float32), np.array([[1.0, 1.0], [2.0, 0.0]], np.float32)
    per_sample = [1.0, 2.0]
    assert np.asarray(L.MeanSquaredError(reduction="none")(y, p)).tolist() == per_sample
    assert float(L.MeanSquaredError(reduction="sum")(y, p)) == 3.0
    assert float(L.MeanSquaredError()(y, p)) == 1.5
    assert float(L.MeanSquaredError()(y, p, sample_weight=[[2.0], [0.0]])) == 1.0  # (2+0)/2
    assert float(L.mean_absolute_error(y, p)[1]) == 1.0
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
        L.MeanSquaredError(reduction="max")


def test_loss_is_differentiable_inside_a_function():
    w = tf.Variable(np.zeros((3, 3), np.float32))
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def grad():
        with tf.GradientTape() as tape:
            loss = loss_fn(LABELS, tf.constant(LOGITS) @ w)
        return tape.gradient(loss, w)

    g = np.asarray(grad())
    probs = np.full((2, 3), 1 / 3, np.float32)
    expected = LOGITS.T @ (probs - np.eye(3, dtype=np.float32)[LABELS]) / 2
    assert np.allclose(g, expected, atol=1e-6)
