"""tracefn: TensorFlow's stateful programming model on JAX and XLA.

``import tracefn as tf`` gives ``tf.function``, ``tf.Variable``, ``tf.Module`` and TF's ops;
a ``@tf.function`` traces Python into tracefn's IR and runs it as one ``jax.jit`` program that
takes the variables it touches as inputs and returns their new values.
"""

import jax as _jax

# TF has float64 and int64 tensors; jax needs x64 mode for them. tracefn always passes explicit
# dtypes, so this changes no tracefn default (Python floats stay float32, ints int32).
_jax.config.update("jax_enable_x64", True)

from . import (  # noqa: E402  # noqa: E402
    autograph,
    config,
    debugging,
    distribute,  # noqa: E402  (registers the strategy placement hook)
    dtypes,
    errors,
    experimental,
    fused,
    initializers,
    keras,
    losses,
    math,
    metrics,
    nn,
    optimizers,
    schedules,
)
from . import random_ops as random  # noqa: E402
from .array_ops import (  # noqa: E402
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
from .control_flow import case, cond, while_loop  # noqa: E402
from .dtypes import (  # noqa: E402
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
from .dtypes import (
    bool_ as bool,
)
from .function import ConcreteFunction, Function, function  # noqa: E402
from .gradients import GradientTape, UnconnectedGradients  # noqa: E402
from .initializers import (  # noqa: E402
    constant_initializer,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    zeros_initializer,
)  # fmt: skip
from .io_ops import print  # noqa: E402
from .ir import Graph as IRGraph  # noqa: E402
from .math_ops import (  # noqa: E402
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
from .module import Module  # noqa: E402
from .tensor import EagerTensor, SymbolicTensor, Tensor, TensorShape, TensorSpec  # noqa: E402
from .tracing import convert_to_tensor, name_scope  # noqa: E402
from .variables import IndexedSlices, Variable, init_scope  # noqa: E402

newaxis = None


def is_tensor(x) -> bool:
    """True for tracefn tensors (eager or traced)."""
    return isinstance(x, Tensor)


def executing_eagerly() -> bool:
    """False while a function or graph is being traced."""
    from .tracing import current_trace

    return current_trace() is None


__all__ = [
    "autograph", "config", "debugging", "dtypes", "errors", "experimental", "math", "nn",
    "distribute", "fused", "initializers", "keras", "losses", "metrics", "optimizers", "random",
    "schedules",
    "constant_initializer", "ones_initializer", "random_normal_initializer",
    "random_uniform_initializer", "zeros_initializer",
    "argsort", "broadcast_to", "concat", "constant", "expand_dims", "eye", "fill", "gather",
    "gather_nd", "linspace", "matrix_band_part", "one_hot", "ones", "ones_like", "pad", "range",
    "rank", "reshape", "reverse", "shape", "size", "sort", "split", "squeeze", "stack", "tile",
    "transpose", "unstack", "where", "zeros", "zeros_like",
    "case", "cond", "while_loop",
    "DType", "as_dtype", "bfloat16", "bool", "complex64", "complex128", "double", "float16",
    "float32", "float64", "half", "int8", "int16", "int32", "int64", "string", "uint8",
    "uint16", "uint32", "uint64",
    "ConcreteFunction", "Function", "function", "GradientTape", "UnconnectedGradients", "print",
    "IRGraph",
    "abs", "add", "add_n", "argmax", "argmin", "cast", "clip_by_global_norm", "clip_by_norm",
    "clip_by_value", "cos", "cumsum", "divide", "einsum", "equal", "exp", "floor", "floordiv",
    "global_norm", "greater", "greater_equal", "identity", "less", "less_equal", "log",
    "logical_and", "logical_not", "logical_or", "matmul", "maximum", "minimum", "mod",
    "multiply", "negative", "not_equal", "pow", "reduce_all", "reduce_any", "reduce_logsumexp",
    "reduce_max", "reduce_mean", "reduce_min", "reduce_prod", "reduce_std", "reduce_sum",
    "reduce_variance", "round", "rsqrt", "sigmoid", "sign", "sin", "sqrt", "square",
    "squared_difference", "stop_gradient", "subtract", "tan", "tanh", "tensordot", "truediv",
    "Module", "EagerTensor", "SymbolicTensor", "Tensor", "TensorShape", "TensorSpec",
    "convert_to_tensor", "name_scope", "IndexedSlices", "Variable", "init_scope", "newaxis",
    "is_tensor", "executing_eagerly",
]  # fmt: skip

# TF1 graphs and sessions live in compat.v1, which star-imports this module: import it last.
from . import compat  # noqa: E402
from .compat.v1.device import DeviceSpec, device  # noqa: E402
from .compat.v1.graph import Graph  # noqa: E402
from .compat.v1.graph_ops import control_dependencies, group, no_op  # noqa: E402

__all__ += ["compat", "DeviceSpec", "device", "Graph", "control_dependencies", "group", "no_op"]
