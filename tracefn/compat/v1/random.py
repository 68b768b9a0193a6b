"""``tracefn.compat.v1.random``: TF1's ``tf.compat.v1.random`` names."""

from .random_ops import get_seed, random_normal, random_uniform, set_random_seed, truncated_normal

normal = random_normal
uniform = random_uniform

__all__ = ["normal", "uniform", "truncated_normal", "set_random_seed", "get_seed"]
