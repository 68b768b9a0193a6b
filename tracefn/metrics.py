"""``tracefn.metrics`` (alias ``tracefn.keras.metrics``): streaming metrics whose state lives in
non-trainable Variables, so they accumulate across calls of compiled steps.

``update_state`` is one fused op (reads of the state, one ``jax_call``, writes), eagerly one
kernel; ``result`` reads the state; ``reset_state`` assigns zeros, so a reset decided by a
traced condition (``tracefn.cond(step % 10 == 0, metric.reset_state, lambda: None)``) lowers
to a ``lax.cond`` over the metric's variables. Semantics follow Keras 3: values are reduced
per sample, weighted by ``sample_weight``, and averaged over the samples seen.

>>> import tracefn as tf
>>> m = tf.keras.metrics.Mean()
>>> m.update_state([1.0, 2.0, 3.0]); float(m.result())
2.0
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

from . import dtypes
from .dtypes import as_dtype
from .experimental import jax_op
from .fused import fused_update
from .primitives import P
from .tensor import Tensor
from .tracing import bind, convert_to_tensor
from .variables import Variable

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "mean_squared_error", "mean_absolute_error",
]  # fmt: skip


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Metric:
    """Base class: state variables made with ``add_variable``; subclasses define
    ``update_state`` and ``result``."""

    def __init__(self, name: str | None = None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self._dtype = as_dtype(dtype or dtypes.float32)
        self._variables: list[Variable] = []

    @property
    def dtype(self):
        return self._dtype

    @property
    def variables(self) -> list[Variable]:
        return list(self._variables)

    non_trainable_variables = variables

    @property
    def trainable_variables(self) -> list[Variable]:
        return []

    def add_variable(self, shape=(), initializer="zeros", dtype=None, name=None) -> Variable:
        dtype = as_dtype(dtype or self._dtype)
        value = np.zeros(shape, dtype.np) if initializer == "zeros" else initializer(shape, dtype)
        var = Variable(value, trainable=False, name=f"{self.name}/{name or 'state'}", dtype=dtype)
        self._variables.append(var)
        return var

    add_weight = add_variable

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError

    def result(self) -> Tensor:
        raise NotImplementedError

    def reset_state(self) -> None:
        """Set every state variable to zero (inside a trace: writes of the zeros)."""
        for v in self._variables:
            v.assign(np.zeros(tuple(v.shape), v.dtype.np), read_value=False)

    reset_states = reset_state

    def __call__(self, *args, **kwargs) -> Tensor:
        """``update_state(...)``, then ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self._dtype.name}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


# ------------------------------------------------------------- per-sample reduction (jax)


def _same_rank(values, weight):
    """Keras's ``squeeze_or_expand_to_same_rank``: ranks that differ by one are aligned."""
    if values.ndim == weight.ndim + 1:
        return (jnp.squeeze(values, -1), weight) if values.shape[-1] == 1 else (
            values, jnp.expand_dims(weight, -1))  # fmt: skip
    if weight.ndim == values.ndim + 1:
        return (values, jnp.squeeze(weight, -1)) if weight.shape[-1] == 1 else (
            jnp.expand_dims(values, -1), weight)  # fmt: skip
    return values, weight


def _samplewise(values, weight, reduce, dtype):
    """Keras's ``reduce_to_samplewise_values``: per-sample values (weighted) and weights."""
    values = values.astype(dtype)
    if weight is not None:
        weight = weight.astype(dtype)
        values, weight = _same_rank(values, weight)
        if values.ndim > weight.ndim:
            values = reduce(values, axis=tuple(range(weight.ndim, values.ndim)))
        weight = jnp.broadcast_to(weight, values.shape)
        values = values * weight
        if weight.ndim > 1:
            weight = reduce(weight, axis=tuple(range(1, weight.ndim)))
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, weight


@functools.cache
def _mean_update(values_fn: Callable | None, dtype: np.dtype, fn_kwargs: tuple) -> Callable:
    """The fused update ``(total, count), inputs -> (new total, new count)``, made once per
    (per-sample function, dtype, arguments) so every instance shares its compiled kernels."""
    kwargs = dict(fn_kwargs)

    def update(state, args, weight):
        total, count = state
        values = args[0] if values_fn is None else values_fn(*args, **kwargs)
        values, weight = _samplewise(values, weight, jnp.mean, dtype)
        if weight is not None:
            n = jnp.sum(weight)
        else:
            n = values.shape[0] if values.ndim >= 1 else 1
        return [total + jnp.sum(values), count + jnp.asarray(n, dtype)], None

    update.__name__ = f"{getattr(values_fn, '__name__', 'mean').lstrip('_')}_update"
    return update


def _sum_update(state, values, weight):
    (total,) = state
    values, _ = _samplewise(values, weight, jnp.sum, total.dtype)
    return [total + jnp.sum(values)], None


def _weight(sample_weight):
    return None if sample_weight is None else convert_to_tensor(sample_weight)


# ----------------------------------------------------------------------------- reductions


class Mean(Metric):
    """The (weighted) mean of the values seen: ``total / count``.

    >>> m = Mean(); float(m([1.0, 3.0], sample_weight=[1.0, 0.0]))
    1.0
    """

    def __init__(self, name: str = "mean", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable(name="total")
        self.count = self.add_variable(name="count")
        self._update_fn = _mean_update(None, self._dtype.np, ())

    def update_state(self, values, sample_weight=None) -> None:
        fused_update(self._update_fn, [self.total, self.count], (convert_to_tensor(values),),
                     _weight(sample_weight))  # fmt: skip

    def result(self) -> Tensor:
        return bind(P.divide_no_nan, self.total, self.count)


class Sum(Metric):
    """The (weighted) sum of the values seen."""

    def __init__(self, name: str = "sum", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable(name="total")

    def update_state(self, values, sample_weight=None) -> None:
        fused_update(_sum_update, [self.total], convert_to_tensor(values), _weight(sample_weight))

    def result(self) -> Tensor:
        return bind(P.identity, self.total)


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)`` per sample (Keras's wrapper); ``fn`` is a
    jax function."""

    def __init__(self, fn: Callable, name: str | None = None, dtype=None, **kwargs):
        super().__init__(name or fn.__name__, dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        self._update_fn = _mean_update(fn, self._dtype.np, tuple(sorted(kwargs.items())))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        args = (convert_to_tensor(y_true), convert_to_tensor(y_pred))
        fused_update(self._update_fn, [self.total, self.count], args, _weight(sample_weight))

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}


# ------------------------------------------------------------------- per-sample functions


def _aligned(y_true, y_pred):
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return jnp.squeeze(y_true, -1), y_pred
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        return y_true, jnp.squeeze(y_pred, -1)
    return y_true, y_pred


def _accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred``."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return (y_true == y_pred.astype(y_true.dtype)).astype(jnp.float32)


def _binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """Mean over the last axis of ``y_true == (y_pred > threshold)``."""
    y_true, y_pred = _aligned(y_true, y_pred)
    hit = y_true.astype(jnp.float32) == (y_pred > threshold).astype(jnp.float32)
    return jnp.mean(hit.astype(jnp.float32), axis=-1)


def _categorical_accuracy(y_true, y_pred):
    """1.0 where the argmax of the one-hot ``y_true`` equals the argmax of ``y_pred``."""
    return (jnp.argmax(y_true, -1) == jnp.argmax(y_pred, -1)).astype(jnp.float32)


def _sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label ``y_true`` equals the argmax of ``y_pred``."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = jnp.squeeze(y_true, -1)
    return (y_true.astype(jnp.int64) == jnp.argmax(y_pred, -1)).astype(jnp.float32)


def _mean_squared_error(y_true, y_pred):
    y_true, y_pred = _aligned(y_true, y_pred)
    return jnp.mean(jnp.square(y_true.astype(y_pred.dtype) - y_pred), axis=-1)


def _mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _aligned(y_true, y_pred)
    return jnp.mean(jnp.abs(y_true.astype(y_pred.dtype) - y_pred), axis=-1)


# The per-sample functions on tensors (Keras's ``keras.metrics.accuracy`` and friends).
accuracy = jax_op(_accuracy)
binary_accuracy = jax_op(_binary_accuracy)
categorical_accuracy = jax_op(_categorical_accuracy)
sparse_categorical_accuracy = jax_op(_sparse_categorical_accuracy)
mean_squared_error = jax_op(_mean_squared_error)
mean_absolute_error = jax_op(_mean_absolute_error)


# ----------------------------------------------------------------------- wrapped metrics


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels."""

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(_accuracy, name, dtype)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(_binary_accuracy, name, dtype, threshold=float(threshold))


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the predictions matches the argmax of one-hot labels."""

    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        super().__init__(_categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the predictions matches integer labels.

    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state([1, 0], [[0.1, 0.9], [0.2, 0.8]]); float(m.result())
    0.5
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        super().__init__(_sparse_categorical_accuracy, name, dtype)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_squared_error", dtype=None):
        super().__init__(_mean_squared_error, name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_absolute_error", dtype=None):
        super().__init__(_mean_absolute_error, name, dtype)
