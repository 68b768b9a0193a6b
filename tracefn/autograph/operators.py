"""Runtime operators that converted code calls instead of ``if``, ``while``, ``for``, ``and``,
``or``, ``not`` and ``a if c else b``.

Each decides at run time, from the type of its condition or iterable: a Python value runs the
construct as ordinary Python (only the taken path is traced, spec A1); a traced value (a
``SymbolicTensor``, or a tracefn Variable read inside a trace) builds staged control flow
(``staging``), whose regions are traced from the blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..control_flow import TracedRange
from ..tensor import SymbolicTensor
from ..tracing import convert_to_tensor, current_trace
from . import staging

__all__ = ["and_", "assert_stmt", "for_stmt", "if_exp", "if_stmt", "not_", "or_",
           "set_loop_options", "while_stmt"]  # fmt: skip

_WHILE_BECAME_TRACED = (
    "The condition of while loop started as non-Tensor, then changed to Tensor. This may happen "
    "either because variables changed type, or when a break or return statement inside the "
    "loop depends on a Tensor condition. In both cases, changing to a TF loop should remove "
    "the error."
)
_FOR_EXIT_TRACED = (
    "break and return statements which depend on a TF condition are not supported in Python "
    "for loops. Did you intend to make it a TF loop?"
)


def _is_traced(x: Any) -> bool:
    """Whether ``x`` is a value of the graph being traced: a SymbolicTensor, or a Variable
    (anything with ``_tracefn_read``) while a trace is active."""
    if isinstance(x, SymbolicTensor):
        return True
    return getattr(type(x), "_tracefn_read", None) is not None and current_trace() is not None


# ------------------------------------------------------------------------------- if


def if_stmt(cond, body: Callable, orelse: Callable | None, get_state: Callable | None,
            set_state: Callable | None, symbol_names: Sequence[str]) -> None:  # fmt: skip
    """``if cond: body() else: orelse()``; staged as a cond when ``cond`` is traced."""
    if _is_traced(cond):
        staging.cond_stmt(cond, body, orelse, get_state, set_state, symbol_names)
    elif cond:
        body()
    elif orelse is not None:
        orelse()


def if_exp(cond, if_true: Callable, if_false: Callable, expr_repr: str) -> Any:
    """``if_true() if cond else if_false()``, lazily."""
    if _is_traced(cond):
        return staging.cond_expr(cond, if_true, if_false, expr_repr)
    return if_true() if cond else if_false()


# -------------------------------------------------------------------------- logical


def and_(a: Callable, b: Callable) -> Any:
    """``a() and b()``: ``b`` runs only if needed; at run time too when ``a()`` is traced."""
    value = a()
    if _is_traced(value):
        return staging.logical_cond(value, b, lambda: value)
    return value and b()


def or_(a: Callable, b: Callable) -> Any:
    """``a() or b()``, lazily."""
    value = a()
    if _is_traced(value):
        return staging.logical_cond(value, lambda: value, b)
    return value or b()


def not_(x: Any) -> Any:
    """``not x``; a logical not op for traced values."""
    if _is_traced(x):
        from .. import math_ops

        return math_ops.logical_not(convert_to_tensor(x))
    return not x


# ---------------------------------------------------------------------------- loops


def _probe(test: Callable) -> Any:
    """Evaluate a loop condition once to choose Python or staged; traced values are probed in
    a scratch region so the probe leaves no ops behind."""
    with staging.scratch():
        return test()


def while_stmt(test: Callable, body: Callable, get_state: Callable | None,
               set_state: Callable | None, symbol_names: Sequence[str],
               opts: dict | None = None) -> None:  # fmt: skip
    """``while test(): body()``; a staged loop when the condition is traced."""
    first = _probe(test)
    if _is_traced(first):
        staging.while_loop(test, body, get_state, set_state, symbol_names, opts or {})
        return
    # The probe counts as the first test, so a Python loop evaluates it as often as before.
    if not first:
        return
    body()
    while _python_test(test, _WHILE_BECAME_TRACED):
        body()


def _python_test(test: Callable, message: str) -> Any:
    value = test()
    if _is_traced(value):
        raise NotImplementedError(message)
    return value


def for_stmt(iter_: Any, extra_test: Callable | None, body: Callable,
             get_state: Callable | None, set_state: Callable | None,
             symbol_names: Sequence[str], opts: dict | None = None) -> None:  # fmt: skip
    """``for x in iter_: body(x)``, stopping early when ``extra_test()`` is false (break,
    return). Traced ranges and tensors become staged loops; Python iterables are unrolled."""
    opts = opts or {}
    if isinstance(iter_, TracedRange):
        staging.range_for(iter_, extra_test, body, get_state, set_state, symbol_names, opts)
    elif _is_traced(iter_):
        staging.tensor_for(iter_, extra_test, body, get_state, set_state, symbol_names, opts)
    elif extra_test is None:
        for item in iter_:
            body(item)
    elif _python_test(extra_test, _FOR_EXIT_TRACED):
        for item in iter_:
            body(item)
            if not _python_test(extra_test, _FOR_EXIT_TRACED):
                break


def set_loop_options(parallel_iterations: int | None = None, swap_memory: bool | None = None,
                     maximum_iterations: int | None = None,
                     shape_invariants: list | None = None) -> None:  # fmt: skip
    """Options for the staged loop this call is the body of, e.g.
    ``set_loop_options(shape_invariants=[(x, tracefn.TensorShape([None]))])`` lets ``x``
    change shape across iterations. Autograph reads the call from the loop body's source; at
    run time it does nothing."""


def assert_stmt(test: Any, message: Callable) -> None:
    """``assert test, message()``. A traced ``test`` is a run-time ``tracefn.debugging.Assert``
    when the function was made with ``experimental_autograph_options=Feature.ASSERT_STATEMENTS``
    (or ``Feature.ALL``); otherwise it is used as a Python bool, which fails as in TF (A14)."""
    trace = current_trace()
    if _is_traced(test) and trace is not None and "ASSERT_STATEMENTS" in trace.features:
        from .. import debugging

        text = message()
        debugging.Assert(test, [] if text is None else [text])
        return
    if not test:
        text = message()
        raise AssertionError() if text is None else AssertionError(text)
