"""``tracefn.compat.v1.initializers``: TF1's ``tf.compat.v1.initializers`` names."""

from . import init_ops, state_ops
from .init_ops import he_normal, he_uniform, lecun_normal, lecun_uniform

constant = init_ops.Constant
glorot_normal = init_ops.GlorotNormal
glorot_uniform = init_ops.GlorotUniform
ones = init_ops.Ones
random_normal = init_ops.RandomNormal
random_uniform = init_ops.RandomUniform
truncated_normal = init_ops.TruncatedNormal
variance_scaling = init_ops.VarianceScaling
zeros = init_ops.Zeros
global_variables = state_ops.global_variables_initializer
local_variables = state_ops.local_variables_initializer
variables = state_ops.variables_initializer

__all__ = [
    "constant", "glorot_normal", "glorot_uniform", "ones", "random_normal", "random_uniform",
    "truncated_normal", "variance_scaling", "zeros", "he_normal", "he_uniform", "lecun_normal",
    "lecun_uniform", "global_variables", "local_variables", "variables",
]  # fmt: skip
