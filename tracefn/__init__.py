"""tracefn: TensorFlow's stateful programming model on JAX and XLA.

``import tracefn as tf`` gives ``tf.function``, ``tf.Variable``, ``tf.Module``,
``tf.GradientTape`` and TF's ops; a ``@tf.function`` traces Python into tracefn's IR and runs it
as one ``jax.jit`` program that takes the variables it touches as inputs and returns their new
values. ``tracefn.compat.v1`` has TF1's graphs, sessions and variable scopes.

This module is the public API and nothing else.
"""
# ruff: noqa: E402, I001  (the order below is deliberate: layers first, compat.v1 last)

import jax as _jax

# TF has float64 and int64 tensors; jax needs x64 mode for them. tracefn always passes explicit
# dtypes, so this changes no tracefn default (Python floats stay float32, ints int32).
_jax.config.update("jax_enable_x64", True)

from . import autograph, config, debugging, dtypes, errors, experimental, math, nn
from .array_ops import (
    argsort,
    broadcast_to,
    concat,
    constant,
    expand_dims,
    eye,
    fill,
    gather,
    gather_nd,
    linspace,
    matrix_band_part,
    one_hot,
    ones,
    ones_like,
    pad,
    range,
    rank,
    reshape,
    reverse,
    shape,
    size,
    sort,
    split,
    squeeze,
    stack,
    tile,
    transpose,
    unstack,
    where,
    zeros,
    zeros_like,
)
from .control_flow import case, cond, while_loop
from .dtypes import (
    DType,
    as_dtype,
    bfloat16,
    complex64,
    complex128,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
)
from .dtypes import bool_ as bool
from .function import ConcreteFunction, Function, function
from .gradients import GradientTape, UnconnectedGradients
from .io_ops import print
from .ir import Graph as IRGraph
from .math_ops import (
    abs,
    add,
    add_n,
    argmax,
    argmin,
    cast,
    clip_by_global_norm,
    clip_by_norm,
    clip_by_value,
    cos,
    cumsum,
    divide,
    einsum,
    equal,
    exp,
    floor,
    floordiv,
    global_norm,
    greater,
    greater_equal,
    identity,
    less,
    less_equal,
    log,
    logical_and,
    logical_not,
    logical_or,
    matmul,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    pow,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_std,
    reduce_sum,
    reduce_variance,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    squared_difference,
    stop_gradient,
    subtract,
    tan,
    tanh,
    tensordot,
    truediv,
)
from .module import Module
from .tensor import EagerTensor, SymbolicTensor, Tensor, TensorShape, TensorSpec
from .tensor_array import TensorArray
from .tracing import convert_to_tensor, name_scope
from .variables import IndexedSlices, Variable, init_scope

# Training, distribution, checkpoints: layers above function/Variable.
from . import fused, initializers, keras, losses, metrics, optimizers, schedules
from . import random_ops as random
from . import distribute  # also registers the strategies' variable-placement hook
from . import saved_model, train
from .initializers import (
    constant_initializer,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    zeros_initializer,
)

newaxis = None


def is_tensor(x) -> bool:
    """True for tracefn tensors (eager or traced)."""
    return isinstance(x, Tensor)


def executing_eagerly() -> bool:
    """False while a function or graph is being traced."""
    from .tracing import current_trace

    return current_trace() is None


__all__ = [
    # namespaces
    "autograph", "config", "debugging", "distribute", "dtypes", "errors",
    "experimental", "fused", "initializers", "keras", "losses", "math", "metrics", "nn",
    "optimizers", "random", "saved_model", "schedules", "train",
    # tensors, variables, functions
    "Tensor", "EagerTensor", "SymbolicTensor", "TensorShape", "TensorSpec", "IndexedSlices",
    "TensorArray",
    "Variable", "Module", "Function", "ConcreteFunction", "function", "GradientTape",
    "UnconnectedGradients", "IRGraph", "convert_to_tensor", "name_scope", "init_scope", "print",
    "is_tensor", "executing_eagerly", "newaxis", "case", "cond", "while_loop",
    "constant_initializer", "ones_initializer", "random_normal_initializer",
    "random_uniform_initializer", "zeros_initializer",
    # dtypes
    "bool", "DType", "as_dtype", "bfloat16", "complex64", "complex128", "double", "float16",
    "float32", "float64", "half", "int8", "int16", "int32", "int64", "string", "uint8",
    "uint16", "uint32", "uint64",
    # ops
    "argsort", "broadcast_to", "concat", "constant", "expand_dims", "eye", "fill", "gather",
    "gather_nd", "linspace", "matrix_band_part", "one_hot", "ones", "ones_like", "pad",
    "range", "rank", "reshape", "reverse", "shape", "size", "sort", "split", "squeeze",
    "stack", "tile", "transpose", "unstack", "where", "zeros", "zeros_like", "abs", "add",
    "add_n", "argmax", "argmin", "cast", "clip_by_global_norm", "clip_by_norm",
    "clip_by_value", "cos", "cumsum", "divide", "einsum", "equal", "exp", "floor", "floordiv",
    "global_norm", "greater", "greater_equal", "identity", "less", "less_equal", "log",
    "logical_and", "logical_not", "logical_or", "matmul", "maximum", "minimum", "mod",
    "multiply", "negative", "not_equal", "pow", "reduce_all", "reduce_any", "reduce_logsumexp",
    "reduce_max", "reduce_mean", "reduce_min", "reduce_prod", "reduce_std", "reduce_sum",
    "reduce_variance", "round", "rsqrt", "sigmoid", "sign", "sin", "sqrt", "square",
    "squared_difference", "stop_gradient", "subtract", "tan", "tanh", "tensordot", "truediv",
]  # fmt: skip

# TF1 graphs and sessions live in compat.v1, which star-imports this module (its ``__all__``,
# complete above): import it last.
from . import compat
from .compat.v1.device import DeviceSpec, device
from .compat.v1.graph import Graph
from .compat.v1.graph_ops import control_dependencies, group, no_op

__all__ += ["compat", "DeviceSpec", "Graph", "control_dependencies", "device", "group", "no_op"]
