"""Run-time assertions (``tracefn.debugging``): ``Assert`` and the ``assert_*`` family.

Eagerly an assertion checks at once. Inside a trace it is an ``assert`` op; a graph holding one
is lowered through ``jax.experimental.checkify`` and compiled *without* donation, so when an
assertion fails at run time the call raises ``InvalidArgumentError`` and every variable keeps
its value (the write-back never happens and no buffer was consumed).
"""

from __future__ import annotations

import numpy as np
from jax.experimental import checkify

from .errors import InvalidArgumentError
from .ir import Primitive, register
from .math_ops import binary_operands, greater, greater_equal, less, less_equal, reduce_all
from .tensor import EagerTensor, Tensor
from .tracing import convert_to_tensor, current_trace

__all__ = [
    "Assert",
    "assert_equal",
    "assert_greater",
    "assert_greater_equal",
    "assert_less",
    "assert_less_equal",
    "assert_positive",
    "assert_non_negative",
    "assert_negative",
]


def _lower_assert(ctx, op, ins):
    checkify.check(ins[0], op.attrs["message"].replace("{", "{{").replace("}", "}}"))
    return []


assert_p = register(Primitive("assert", lower=_lower_assert, effect="assert",
                              abstract_eval=lambda types, attrs: ()))  # fmt: skip


def Assert(condition, data=(), summarize=None, name=None):  # noqa: N802 (TF's name)
    """Fail with ``InvalidArgumentError`` when the bool scalar ``condition`` is false; the
    message lists ``data`` (strings as they are, tensors by value when eager)."""
    cond = convert_to_tensor(condition)
    parts = [d if isinstance(d, str) else _show(d) for d in data]
    message = "assertion failed: " + " ".join(f"[{p}]" for p in parts)
    trace = current_trace()
    if trace is None:
        if not bool(np.all(cond.numpy())):
            raise InvalidArgumentError(message)
        return None
    trace.emit(assert_p, [trace.value_of(reduce_all(cond))], {"message": message}, [])
    return None


def _show(d) -> str:
    if isinstance(d, EagerTensor):
        return str(d.numpy())
    if isinstance(d, Tensor):
        return d.name
    return str(d)


def _comparison(fn, text: str):
    def check(x, y=None, message=None, summarize=None, name=None):
        unary = y is None
        x, y = binary_operands(x, 0 if unary else y, fn.__name__)
        header = [message] if message else []
        condition = f"Condition x {text} {'0' if unary else 'y'} did not hold element-wise:"
        shown = ["x = ", x] if unary else ["x = ", x, "y = ", y]
        return Assert(reduce_all(fn(x, y)), header + [condition, *shown])

    return check


assert_positive = _comparison(greater, ">")
assert_negative = _comparison(less, "<")
assert_non_negative = _comparison(greater_equal, ">=")
assert_greater = _comparison(greater, ">")
assert_greater_equal = _comparison(greater_equal, ">=")
assert_less = _comparison(less, "<")
assert_less_equal = _comparison(less_equal, "<=")


def assert_equal(x, y, message=None, summarize=None, name=None):
    from .math_ops import equal

    x, y = binary_operands(x, y, "assert_equal")
    header = [message] if message else []
    return Assert(
        reduce_all(equal(x, y)),
        header + ["Condition x == y did not hold element-wise:", "x = ", x, "y = ", y],
    )
