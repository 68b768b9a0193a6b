"""``tracefn.nn``: activations and losses with TensorFlow's names and arguments."""

from __future__ import annotations

from . import math_ops
from .primitives import P
from .tracing import bind, convert_to_tensor

__all__ = [
    "relu", "relu6", "gelu", "elu", "selu", "silu", "swish", "softplus", "softsign", "sigmoid",
    "tanh", "leaky_relu", "softmax", "log_softmax", "softmax_cross_entropy_with_logits",
    "sparse_softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits", "l2_loss",
    "l2_normalize", "bias_add", "moments", "dropout",
]  # fmt: skip


def _float(x, op):
    # TF defines activations and losses for floats only (jax would promote ints to float).
    x = convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(f"{op}: expected a float tensor, got dtype {x.dtype.name}")
    return x


def _real(x, op):
    # relu and relu6 are the exceptions: TF also defines them for integers.
    x = convert_to_tensor(x)
    if not (x.dtype.is_floating or x.dtype.is_integer):
        raise TypeError(f"{op}: expected a numeric tensor, got dtype {x.dtype.name}")
    return x


def relu(features, name=None):
    return bind(P.relu, _real(features, "relu"))


def relu6(features, name=None):
    return bind(P.relu6, _real(features, "relu6"))


def gelu(features, approximate=False, name=None):
    return bind(P.gelu, _float(features, "gelu"), approximate=bool(approximate))


def elu(features, name=None):
    return bind(P.elu, _float(features, "elu"))


def selu(features, name=None):
    return bind(P.selu, _float(features, "selu"))


def silu(features, beta=1.0, name=None):
    return bind(P.silu, _float(features, "silu"))


swish = silu


def softplus(features, name=None):
    return bind(P.softplus, _float(features, "softplus"))


def softsign(features, name=None):
    return bind(P.softsign, _float(features, "softsign"))


sigmoid = math_ops.sigmoid
tanh = math_ops.tanh


def leaky_relu(features, alpha=0.2, name=None):
    return bind(P.leaky_relu, _float(features, "leaky_relu"), alpha=float(alpha))


def softmax(logits, axis=None, name=None):
    return bind(P.softmax, _float(logits, "softmax"), axis=-1 if axis is None else axis)


def log_softmax(logits, axis=None, name=None):
    return bind(P.log_softmax, _float(logits, "log_softmax"), axis=-1 if axis is None else axis)


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Cross entropy between the distributions ``labels`` and ``softmax(logits)`` along axis."""
    logits = _float(logits, "softmax_cross_entropy_with_logits")
    labels = convert_to_tensor(labels, dtype=logits.dtype)
    if labels.shape.is_fully_defined() and logits.shape.is_fully_defined():
        if tuple(labels.shape) != tuple(logits.shape):
            raise ValueError(f"softmax_cross_entropy_with_logits: labels shape {labels.shape} "
                             f"and logits shape {logits.shape} must be equal")  # fmt: skip
    return bind(P.softmax_xent, labels, logits, axis=axis)


def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    """Cross entropy of integer class ``labels`` (shape ``[batch]``) and ``logits``
    (``[batch, classes]``)."""
    logits = _float(logits, "sparse_softmax_cross_entropy_with_logits")
    labels = convert_to_tensor(labels)
    if not labels.dtype.is_integer:
        raise TypeError(f"sparse_softmax_cross_entropy_with_logits: labels must be integers, "
                        f"got {labels.dtype.name}")  # fmt: skip
    if labels.shape.rank is not None and logits.shape.rank is not None:
        if labels.shape.rank != logits.shape.rank - 1:
            raise ValueError(f"sparse_softmax_cross_entropy_with_logits: Rank mismatch: Rank of "
                             f"labels (received {labels.shape.rank}) should equal rank of logits "
                             f"minus 1 (received {logits.shape.rank}).")  # fmt: skip
    return bind(P.sparse_softmax_xent, labels, logits)


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    logits = _float(logits, "sigmoid_cross_entropy_with_logits")
    labels = convert_to_tensor(labels, dtype=logits.dtype)
    return bind(P.sigmoid_xent, labels, logits)


def l2_loss(t, name=None):
    """``sum(t ** 2) / 2``."""
    return bind(P.l2_loss, _float(t, "l2_loss"))


def l2_normalize(x, axis=None, epsilon=1e-12, name=None):
    x = _float(x, "l2_normalize")
    axis = math_ops.normalize_axis(axis, x.shape.rank, "l2_normalize")
    return bind(P.l2_normalize, x, axis=axis, epsilon=float(epsilon))


def bias_add(value, bias, data_format=None, name=None):
    value, bias = math_ops.binary_operands(value, bias, "bias_add")
    return bind(P.bias_add, value, bias)


def moments(x, axes, shift=None, keepdims=False, name=None):
    mean = math_ops.reduce_mean(x, axis=axes, keepdims=True)
    var = math_ops.reduce_mean(math_ops.squared_difference(x, mean), axis=axes, keepdims=keepdims)
    if not keepdims:
        mean = math_ops.reduce_mean(x, axis=axes)
    return mean, var


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    from . import random_ops

    x = convert_to_tensor(x)
    keep = math_ops.greater_equal(random_ops.uniform(tuple(x.shape), seed=seed), rate)
    return math_ops.multiply(x, math_ops.cast(keep, x.dtype)) / (1.0 - rate)
