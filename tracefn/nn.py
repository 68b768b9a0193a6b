"""``tracefn.nn``: TensorFlow's ``tf.nn`` names."""

from .nn_ops import (  # noqa: F401
    bias_add, dropout, elu, gelu, l2_loss, l2_normalize, leaky_relu, log_softmax, moments,
    relu, relu6, selu, sigmoid, sigmoid_cross_entropy_with_logits, silu, softmax,
    softmax_cross_entropy_with_logits, softplus, softsign, sparse_softmax_cross_entropy_with_logits,
    swish, tanh,
)
