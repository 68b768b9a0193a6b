"""Losses (``tracefn.losses``, alias ``tracefn.keras.losses``) with Keras's names, arguments
and formulas, written with tracefn ops so that they read well in a printed graph and
``GradientTape`` differentiates them like any other code.

A ``Loss`` object computes per-sample values, weights them by ``sample_weight`` and reduces
them (``"sum_over_batch_size"``, the default: the mean; ``"sum"``; ``"none"``).

>>> import tracefn as tf
>>> mse = tf.keras.losses.MeanSquaredError()
>>> float(mse([[0.0, 1.0]], [[1.0, 1.0]]))
0.5
"""

from __future__ import annotations

from collections.abc import Callable

from . import dtypes, math_ops, nn_ops
from .array_ops import squeeze
from .tensor import Tensor
from .tracing import convert_to_tensor

__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError",
    "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
    "mean_squared_error", "mean_absolute_error", "sparse_categorical_crossentropy",
    "categorical_crossentropy", "binary_crossentropy",
]  # fmt: skip

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [eps, 1 - eps]
_REDUCTIONS = ("sum_over_batch_size", "sum", "none", "auto", None)


def _pred_true(y_true, y_pred):
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true)
    if y_true.dtype != y_pred.dtype:
        y_true = math_ops.cast(y_true, y_pred.dtype)
    return y_true, y_pred


def mean_squared_error(y_true, y_pred) -> Tensor:
    """``mean(square(y_true - y_pred), axis=-1)``."""
    y_true, y_pred = _pred_true(y_true, y_pred)
    return math_ops.reduce_mean(math_ops.squared_difference(y_pred, y_true), axis=-1)


def mean_absolute_error(y_true, y_pred) -> Tensor:
    y_true, y_pred = _pred_true(y_true, y_pred)
    return math_ops.reduce_mean(math_ops.abs(y_pred - y_true), axis=-1)


def _clipped_log(p: Tensor) -> Tensor:
    return math_ops.log(math_ops.clip_by_value(p, EPSILON, 1.0 - EPSILON))


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False,
                                    axis: int = -1) -> Tensor:  # fmt: skip
    """Cross entropy of integer labels and predicted probabilities (or logits)."""
    y_pred = convert_to_tensor(y_pred)
    labels = convert_to_tensor(y_true)
    if labels.shape.rank == y_pred.shape.rank and labels.shape.rank and labels.shape[-1] == 1:
        labels = squeeze(labels, -1)
    if not labels.dtype.is_integer:
        labels = math_ops.cast(labels, dtypes.int32)
    logits = y_pred if from_logits else _clipped_log(y_pred)  # Keras: log p acts as logits
    return nn_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Tensor:  # fmt: skip
    """Cross entropy of one-hot (or soft) labels and predicted probabilities (or logits)."""
    y_true, y_pred = _pred_true(y_true, y_pred)
    if label_smoothing:
        classes = y_pred.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    if from_logits:
        return nn_ops.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred, axis=axis)
    probs = y_pred / math_ops.reduce_sum(y_pred, axis=axis, keepdims=True)
    return math_ops.negative(math_ops.reduce_sum(y_true * _clipped_log(probs), axis=axis))


def binary_crossentropy(y_true, y_pred, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> Tensor:  # fmt: skip
    """Mean over ``axis`` of the binary cross entropy of labels in [0, 1]."""
    y_true, y_pred = _pred_true(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = nn_ops.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    else:
        p = math_ops.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON)
        values = math_ops.negative(y_true * math_ops.log(p) + (1.0 - y_true) * math_ops.log(
            1.0 - p))  # fmt: skip
    return math_ops.reduce_mean(values, axis=axis)


# --------------------------------------------------------------------------- Loss objects


class Loss:
    """Base class: ``call(y_true, y_pred)`` gives per-sample losses; ``__call__`` weights and
    reduces them."""

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                             f"{_REDUCTIONS[:3]}. Received: reduction={reduction}")  # fmt: skip
        self.name = name or type(self).__name__
        self.reduction = "sum_over_batch_size" if reduction in ("auto", None) else reduction

    def call(self, y_true, y_pred) -> Tensor:
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        values = self.call(y_true, y_pred)
        if sample_weight is not None:
            values = values * _aligned_weight(sample_weight, values)
        if self.reduction == "none":
            return values
        if self.reduction == "sum":
            return math_ops.reduce_sum(values)
        return math_ops.reduce_mean(values)  # sum over batch size

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}


def _aligned_weight(weight, values: Tensor) -> Tensor:
    w = convert_to_tensor(weight)
    if w.dtype != values.dtype:
        w = math_ops.cast(w, values.dtype)
    if w.shape.rank == (values.shape.rank or 0) + 1 and w.shape[-1] == 1:
        w = squeeze(w, -1)
    return w


class LossFunctionWrapper(Loss):
    """A ``Loss`` from a per-sample function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(self, fn: Callable, reduction="sum_over_batch_size", name=None, **kwargs):
        super().__init__(name or fn.__name__, reduction)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred) -> Tensor:
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(mean_squared_error, reduction, name)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(mean_absolute_error, reduction, name)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross entropy of integer labels; ``from_logits=True`` takes unnormalized scores.

    >>> loss = SparseCategoricalCrossentropy(from_logits=True)
    >>> round(float(loss([0], [[0.0, 0.0]])), 4)
    0.6931
    """

    def __init__(self, from_logits: bool = False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", ignore_class=None):  # fmt: skip
        if ignore_class is not None:
            raise NotImplementedError("SparseCategoricalCrossentropy: ignore_class")
        super().__init__(sparse_categorical_crossentropy, reduction, name,
                         from_logits=from_logits)  # fmt: skip


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy"):  # fmt: skip
        super().__init__(categorical_crossentropy, reduction, name, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)  # fmt: skip


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name="binary_crossentropy"):  # fmt: skip
        super().__init__(binary_crossentropy, reduction, name, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)  # fmt: skip


# Keras's short aliases.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
