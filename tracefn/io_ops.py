"""``tracefn.print``: prints at every call of a compiled function, in program order (spec S1).

Eagerly it prints at once. Inside a trace it is a ``print`` op with an ``io`` effect that lowers
to an ordered ``jax.experimental.io_callback``, so prints come out in program order on every
call, unlike Python's ``print`` which runs only while tracing.
"""

from __future__ import annotations

import functools
import sys

import numpy as np
from jax.experimental import io_callback

from .ir import Primitive, register
from .tensor import Tensor
from .tracing import convert_to_tensor, current_trace

__all__ = ["print"]

_print = print


def format_value(x) -> str:
    """TF's print format: ``[1 2 3]``, ``1.5``, strings as they are."""
    if isinstance(x, (bytes, np.bytes_)):
        return x.decode()
    a = np.asarray(x)
    if a.dtype == object:
        return str(a.item().decode() if isinstance(a.item(), bytes) else a.item())
    if a.ndim == 0:
        return _scalar(a.item())
    return np.array2string(a, separator=" ", max_line_width=10**6,
                           formatter={"float_kind": _scalar, "bool": _scalar})  # fmt: skip


def _scalar(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (float, np.floating)):
        return f"{v:g}"
    return str(v)


def _emit(template, stream_name, sep, end, *arrays):
    it = iter(arrays)
    parts = [format_value(next(it)) if item is _TENSOR else item for item in template]
    stream = sys.stderr if stream_name == "stderr" else sys.stdout
    _print(sep.join(parts), end=end, file=stream, flush=True)


_TENSOR = object()


def _lower_print(ctx, op, ins):
    a = op.attrs
    fn = functools.partial(_emit, a["_template"], a["stream"], a["sep"], a["end"])
    io_callback(fn, None, *ins, ordered=True)
    return []


print_p = register(Primitive("print", lower=_lower_print, effect="io",
                             abstract_eval=lambda types, attrs: ()))  # fmt: skip


def print(*inputs, output_stream=None, summarize=3, sep: str = " ", end: str = "\n", name=None):
    """Print ``inputs`` (tensors, variables, Python values) when this op runs.

    Like ``tf.print``: goes to ``sys.stderr`` unless ``output_stream=sys.stdout``; inside a
    ``tracefn.function`` it prints at every call, after the ops before it."""
    stream = "stdout" if output_stream is sys.stdout or output_stream == "stdout" else "stderr"
    template, tensors = [], []
    for x in inputs:
        if isinstance(x, Tensor) or hasattr(x, "_tracefn_read"):
            template.append(_TENSOR)
            tensors.append(convert_to_tensor(x))
        else:
            template.append(x if isinstance(x, str) else format_value(x))
    trace = current_trace()
    if trace is None:
        _emit(template, stream, sep, end, *[t._array for t in tensors])
        return None
    shown = tuple("<tensor>" if t is _TENSOR else t for t in template)
    trace.emit(print_p, [trace.value_of(t) for t in tensors],
               {"format": shown, "_template": tuple(template), "stream": stream, "sep": sep,
                "end": end}, [])  # fmt: skip
    return None
