"""``tracefn.math``: TensorFlow's ``tf.math`` names."""

from .math_ops import *  # noqa: F401,F403
from .math_ops import (  # noqa: F401
    abs, acos, add, add_n, argmax, argmin, asin, atan, atan2, ceil, cos, cosh, count_nonzero,
    cumsum, divide, divide_no_nan, equal, erf, exp, expm1, floor, floordiv, floormod, greater,
    greater_equal, is_finite, is_inf, is_nan, less, less_equal, log, log1p, logical_and,
    logical_not, logical_or, logical_xor, maximum, minimum, mod, multiply, negative, not_equal,
    pow, reciprocal, reduce_all, reduce_any, reduce_logsumexp, reduce_max, reduce_mean,
    reduce_min, reduce_prod, reduce_std, reduce_sum, reduce_variance, round, rsqrt, sigmoid,
    sign, sin, sinh, sqrt, square, squared_difference, subtract, tan, tanh, truediv,
)
from .nn_ops import l2_normalize, softplus  # noqa: F401
