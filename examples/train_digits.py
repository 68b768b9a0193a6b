"""Train an MLP on scikit-learn's bundled 8x8 digits with a compiled tracefn training step.

TensorFlow-style code: a ``tf.Module`` model, ``GradientTape``, a Keras Adam optimizer with a
cosine schedule, a loss object and metrics whose state is reset at the start of every epoch
*inside* the compiled step (a Python ``if`` on a traced value: autograph makes it a ``cond``,
lowered to ``lax.cond`` over the metrics' variables). The whole step is one XLA program that
takes the model, optimizer and metric variables as inputs and returns their new values.

Run with ``make demo`` (or ``python examples/train_digits.py``). Prints the step's IR, the
training progress, the per-step time of the compiled step against the same step run eagerly,
and the test accuracy.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import tracefn as tf

BATCH = 32
EPOCHS = 30
SIZES = (64, 128, 64, 10)


class MLP(tf.Module):
    """Dense layers with ReLU between them; Glorot-uniform kernels, zero biases."""

    def __init__(self, sizes, seed: int = 0):
        super().__init__()
        self.layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            init = tf.keras.initializers.GlorotUniform(seed=seed + i)
            kernel = tf.Variable(init((n_in, n_out)), name=f"dense_{i}/kernel")
            bias = tf.Variable(np.zeros(n_out, np.float32), name=f"dense_{i}/bias")
            self.layers.append((kernel, bias))

    def __call__(self, x):
        for i, (kernel, bias) in enumerate(self.layers):
            x = tf.matmul(x, kernel) + bias
            if i < len(self.layers) - 1:
                x = tf.nn.relu(x)
        return x


def load_data():
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    return train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


def make_training(steps_per_epoch: int):
    """The model, optimizer and metrics, and the training step (a plain Python function)."""
    model = MLP(SIZES)
    schedule = tf.keras.optimizers.schedules.CosineDecay(
        5e-3, decay_steps=EPOCHS * steps_per_epoch, alpha=0.1)  # fmt: skip
    optimizer = tf.keras.optimizers.Adam(learning_rate=schedule)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_loss = tf.keras.metrics.Mean(name="train_loss")
    train_acc = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")
    steps = tf.Variable(0, trainable=False, name="steps")

    def train_step(x, y):
        if steps % steps_per_epoch == 0:  # a new epoch: reset the metrics (a traced cond)
            train_loss.reset_state()
            train_acc.reset_state()
        steps.assign_add(1)
        with tf.GradientTape() as tape:
            logits = model(x)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        train_loss.update_state(loss)
        train_acc.update_state(y, logits)
        return loss

    return model, train_step, (train_loss, train_acc)


def train(step, x_train, y_train, metrics, steps_per_epoch: int) -> None:
    rng = np.random.default_rng(0)
    train_loss, train_acc = metrics
    with tqdm(total=EPOCHS * steps_per_epoch, unit="step", desc="training") as bar:
        for _ in range(EPOCHS):
            order = rng.permutation(len(x_train))
            for i in range(steps_per_epoch):  # the last partial batch is dropped: one shape
                idx = order[i * BATCH : (i + 1) * BATCH]
                step(x_train[idx], y_train[idx])
                bar.update()
            bar.set_postfix(loss=f"{float(train_loss.result()):.4f}",
                            accuracy=f"{float(train_acc.result()):.4f}")  # fmt: skip


def time_per_step(step, x, y, n: int) -> float:
    step(x, y)  # warm (and compiled, for the compiled step)
    t0 = time.perf_counter()
    for _ in range(n):
        loss = step(x, y)
    float(loss)  # wait for the last step's result
    return (time.perf_counter() - t0) / n


def main() -> float:
    x_train, x_test, y_train, y_test = load_data()
    steps_per_epoch = len(x_train) // BATCH
    model, train_step, metrics = make_training(steps_per_epoch)
    compiled_step = tf.function(train_step)

    print("The compiled training step, as tracefn IR:\n")
    print(compiled_step.get_concrete_function(x_train[:BATCH], y_train[:BATCH]).graph)
    print()
    train(compiled_step, x_train, y_train, metrics, steps_per_epoch)

    predict = tf.function(lambda x: tf.argmax(model(x), axis=-1, output_type=tf.int32))
    accuracy = float(np.mean(predict(x_test).numpy() == y_test))

    xb, yb = tf.constant(x_train[:BATCH]), tf.constant(y_train[:BATCH])
    compiled = time_per_step(compiled_step, xb, yb, 300)
    eager = time_per_step(train_step, xb, yb, 20)
    print(f"\nper-step time: compiled {compiled * 1e3:.3f} ms, eager {eager * 1e3:.2f} ms "
          f"({eager / compiled:.0f}x faster compiled)")  # fmt: skip
    print(f"test accuracy: {accuracy:.4f} ({len(y_test)} test images)")
    return accuracy


if __name__ == "__main__":
    acc = main()
    if acc < 0.95:
        raise SystemExit(f"test accuracy {acc:.4f} is below 0.95")
