"""Fusion: many variable updates in one op, and many training steps in one compiled call.

``fused_update(fn, variables, *args)`` runs ``fn`` (a jax function of the variables' arrays and
``args``) as ONE ``jax_call`` op and writes every variable it returns; optimizers and metrics use
it so an update is one op whatever the number of variables, eagerly one kernel launch.

``run_steps(step, *stacked)`` runs ``step`` once per slice of the stacked inputs in one compiled
program: inside a trace it is a ``scan_steps`` op whose region is the step, lowered to
``lax.scan`` with the variables the step writes in the carry (as ``cond`` and ``while`` carry
theirs). K steps in one call give the same results as K separate calls of the compiled step.

>>> import numpy as np, tracefn as tf
>>> from tracefn.fused import run_steps
>>> v = tf.Variable(0.0)
>>> def step(x):
...     v.assign_add(x)
...     return v.read_value()
>>> run_steps(step, np.arange(4, dtype=np.float32)).numpy()
array([0., 1., 3., 6.], dtype=float32)
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import jax
from jax import lax

from .experimental import jax_op
from .function import Function, function
from .ir import Graph, Op, Primitive, TensorType, register
from .tensor import EagerTensor, Tensor
from .tracing import convert_to_tensor, current_trace
from .variables import STATE_LOCK, Variable

__all__ = ["fused_update", "run_steps", "scan_steps", "multi_step"]


# ---------------------------------------------------------------------- fused state updates


def _replace(_var, new):
    return new


def read_state(var: Variable):
    """``var`` as an input of a fused op: the variable itself inside a trace (the op reads it);
    eagerly its current array, without marking the buffer as shared with a user tensor."""
    if current_trace() is not None:
        return var
    return EagerTensor(var._tracefn_array())


def store_state(var: Variable, value: Tensor) -> None:
    """Write ``value`` (an op output nobody else holds) into ``var``; eagerly without a copy."""
    var._update(_replace, value)


def _is_var(x) -> bool:
    return isinstance(x, Variable)


def fused_update(fn: Callable, variables: Any, *args) -> Any:
    """Apply ``new_arrays, aux = fn(arrays, *args)`` as one op and store ``new_arrays`` in
    ``variables`` (a pytree of Variables; ``fn`` gets and returns arrays in its structure);
    returns ``aux`` as tensors. ``fn`` must be the same object on every call (it keys the
    compiled kernels) and return arrays of the variables' dtypes and shapes."""
    var_leaves, tree = jax.tree_util.tree_flatten(variables, is_leaf=_is_var)
    with STATE_LOCK:  # eagerly: read, update and store atomically (no lost concurrent update)
        states = tree.unflatten([read_state(v) for v in var_leaves])
        new, aux = jax_op(fn)(states, *args)
        new_leaves = jax.tree_util.tree_leaves(new, is_leaf=_is_leaf)
        if len(new_leaves) != len(var_leaves):  # check before storing anything
            name = getattr(fn, "__name__", fn)
            raise ValueError(f"fused_update: {name} returned {len(new_leaves)} arrays for "
                             f"{len(var_leaves)} variables")  # fmt: skip
        for var, value in zip(var_leaves, new_leaves):
            store_state(var, value)
    return aux


# ----------------------------------------------------------------------------- scan op


def _lower_scan(ctx, op: Op, ins):
    (body,) = op.regions
    ids = [id(v) for v in op.attrs["_writes"]]

    def step(carry, xs):
        state = dict(ctx.state)
        state.update(zip(ids, carry))
        outs, state = ctx.run_region(body, list(xs), state)
        return [state[k] for k in ids], outs

    init = [ctx.state[k] for k in ids]
    carry, ys = lax.scan(step, init, list(ins), length=op.attrs["length"],
                         unroll=op.attrs.get("unroll", 1))  # fmt: skip
    ctx.state.update(zip(ids, carry))
    return ys


def _verify_scan(op: Op) -> str | None:
    (body,) = op.regions
    n = op.attrs["length"]
    if len(op.inputs) != len(body.inputs):
        return "the step region's inputs do not match the stacked inputs"
    for x, v in zip(op.inputs, body.inputs):
        if x.type != TensorType((n,) + tuple(v.type.shape), v.type.dtype):
            return f"a stacked input of type {x.type} does not stack {n} step inputs {v.type}"
    for y, v in zip(op.outputs, body.outputs):
        if y.type != TensorType((n,) + tuple(v.type.shape), v.type.dtype):
            return f"the output {y.type} does not stack {n} step outputs {v.type}"
    if {id(v) for v in body.writes} != {id(v) for v in op.attrs["_writes"]}:
        return "the variables written by the step are not the op's carried state"
    return None


scan_steps_p = register(Primitive("scan_steps", lower=_lower_scan, regions=("step",),
                                  verify=_verify_scan))  # fmt: skip


def _is_leaf(x) -> bool:
    return isinstance(x, Tensor) or hasattr(x, "_tracefn_read")


_STEP_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _as_function(step_fn: Callable) -> Callable:
    """``step_fn`` as a ``tracefn.function`` (autograph, its own trace cache), made once."""
    if isinstance(step_fn, Function):
        return step_fn
    owner = getattr(step_fn, "__self__", None)
    plain = getattr(step_fn, "__func__", step_fn)
    try:
        fn = _STEP_FUNCTIONS.get(plain)
        if fn is None:
            fn = _STEP_FUNCTIONS[plain] = function(plain)
    except TypeError:  # not weak-referenceable (a builtin): trace it afresh
        fn = function(plain)
    return fn if owner is None else fn.__get__(owner)


def _stack_length(xs: list) -> int:
    lengths = {x.shape[0] for x in xs if x.shape.rank}
    if len(lengths) != 1 or None in lengths or any(not x.shape.rank for x in xs):
        shapes = ", ".join(str(x.shape) for x in xs)
        raise ValueError(f"run_steps: every stacked input needs the same known leading "
                         f"dimension (the number of steps); got shapes {shapes}")  # fmt: skip
    return lengths.pop()


def scan_steps(step_fn: Callable, *stacked, unroll: int = 1) -> Any:
    """Inside a trace: one ``scan_steps`` op running ``step_fn`` on each slice ``i`` of the
    stacked inputs; returns the step's outputs stacked along a new first axis."""
    trace = current_trace()
    if trace is None:
        return run_steps(step_fn, *stacked, unroll=unroll)
    step = _as_function(step_fn)
    leaves, tree = jax.tree_util.tree_flatten(stacked, is_leaf=_is_leaf)
    xs = [convert_to_tensor(x) for x in leaves]
    n = _stack_length(xs)
    body = Graph(name="step")
    with trace.region(body):
        slices = [trace.new_input(TensorType(tuple(x.shape)[1:], x.dtype), "step_input", body)
                  for x in xs]  # fmt: skip
        result = step(*tree.unflatten(slices))
        out_leaves, out_tree = jax.tree_util.tree_flatten(result, is_leaf=_is_leaf)
        outs = [convert_to_tensor(o) for o in out_leaves]
        body.outputs = [trace.value_of(o) for o in outs]
    types = [TensorType((n,) + tuple(v.type.shape), v.type.dtype) for v in body.outputs]
    attrs = {"length": n, "unroll": int(unroll), "_writes": tuple(body.writes)}
    ys = trace.emit(scan_steps_p, [trace.value_of(x) for x in xs], attrs, types, regions=[body],
                    name="scan_steps")  # fmt: skip
    return out_tree.unflatten(ys)


_RUNNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def multi_step(step_fn: Callable, unroll: int = 1,
               steps_per_execution: int | None = None) -> Function:  # fmt: skip
    """A compiled function taking K stacked batches and running ``step_fn`` on each, in one
    call (Keras's ``steps_per_execution``); it returns the step's outputs stacked. With
    ``steps_per_execution`` the stacked inputs must hold exactly that many steps.

    >>> import numpy as np, tracefn as tf
    >>> v = tf.Variable(1.0)
    >>> train = multi_step(lambda x: v.assign(v * x))
    >>> float(train(np.full([3], 2.0, np.float32))[-1])
    8.0
    """

    def run(*stacked):
        if steps_per_execution is not None:
            _check_steps(stacked, steps_per_execution, run.__name__)
        return scan_steps(step_fn, *stacked, unroll=unroll)

    name = getattr(step_fn, "__name__", "step")
    run.__name__ = f"{name}_steps"
    return function(run, autograph=False)


def _check_steps(stacked, expected: int, name: str) -> None:
    leaves = jax.tree_util.tree_leaves(stacked, is_leaf=_is_leaf)
    n = _stack_length([convert_to_tensor(x) for x in leaves])
    if n != expected:
        raise ValueError(f"{name}: expected inputs stacking steps_per_execution={expected} "
                         f"steps, got {n}")  # fmt: skip


def run_steps(step_fn: Callable, *stacked, unroll: int = 1) -> Any:
    """Run ``step_fn`` on each slice of the stacked inputs (leading axis = the number of steps)
    as one compiled call; returns the outputs stacked. Inside a traced function this is the
    ``scan_steps`` op itself. The compiled runner is cached per ``step_fn``."""
    if current_trace() is not None:
        return scan_steps(step_fn, *stacked, unroll=unroll)
    key = getattr(step_fn, "__func__", step_fn)
    owner = getattr(step_fn, "__self__", None)
    try:
        runners = _RUNNERS.setdefault(key, {})
    except TypeError:
        runners = {}
    runner = runners.get((id(owner), unroll))
    if runner is None:
        runner = runners[(id(owner), unroll)] = multi_step(step_fn, unroll)
    return runner(*stacked)
