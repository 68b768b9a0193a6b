"""Staged control flow: ``cond`` and ``while_loop`` ops with regions, and their lowering.

Outside a trace (or with a Python predicate) they run as plain Python. Inside a trace each
branch or loop part is traced into a region; variables written in a region are state the op
carries: ``cond`` lowers to ``lax.cond`` over the union of the variables either branch writes
(the other branch passes them through), ``while`` to ``lax.while_loop`` with the written
variables in the carry. Autograph's operators (``tracefn.autograph``) build on these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from . import dtypes
from .errors import OperatorNotAllowedInGraphError
from .ir import Graph, Op, Primitive, TensorType, register
from .tensor import SymbolicTensor, Tensor
from .tracing import Trace, convert_to_tensor, current_trace

__all__ = ["cond", "while_loop", "TracedRange", "traced_range", "case"]


def _is_leaf(x) -> bool:
    return isinstance(x, Tensor) or hasattr(x, "_tracefn_read")


def _flatten(tree):
    return jax.tree_util.tree_flatten(tree, is_leaf=_is_leaf)


def _written(regions) -> tuple:
    seen: dict[int, Any] = {}
    for r in regions:
        for v in r.writes:
            seen.setdefault(id(v), v)
    return tuple(seen.values())


# ------------------------------------------------------------------------------------ cond


def _lower_cond(ctx, op: Op, ins):
    written = op.attrs["_writes"]

    def branch(region):
        def run(operand):
            state = dict(ctx.state)
            state.update(zip(map(id, written), operand))
            outs, state = ctx.run_region(region, [], state)
            return outs, [state[id(v)] for v in written]

        return run

    carried = [ctx.state[id(v)] for v in written]
    true_r, false_r = op.regions
    outs, new_state = lax.cond(ins[0], branch(true_r), branch(false_r), carried)
    ctx.state.update(zip(map(id, written), new_state))
    return outs


def _verify_cond(op: Op) -> str | None:
    if len(op.inputs) != 1 or op.inputs[0].type.dtype != dtypes.bool_:
        return "the predicate of a cond must be one bool value"
    for label, region in zip(("true", "false"), op.regions):
        if [v.type for v in region.outputs] != [v.type for v in op.outputs]:
            return f"the {label} branch's output types differ from the op's outputs"
    written = {id(v) for v in _written(op.regions)}
    if written != {id(v) for v in op.attrs["_writes"]}:
        return "the variables written by the branches are not the op's carried state"
    return None


cond_p = register(Primitive("cond", lower=_lower_cond, regions=("true", "false"),
                            verify=_verify_cond))  # fmt: skip


def _trace_branch(trace: Trace, fn: Callable, label: str):
    region = Graph(name=label)
    with trace.region(region):
        result = fn()
        leaves, tree = _flatten(result)
        tensors = [_as_output(x, label) for x in leaves]
        region.outputs = [trace.value_of(t) for t in tensors]
    return region, tree, tensors


def _as_output(x, label: str) -> Tensor:
    if x is None:
        raise ValueError(f"The {label} branch returned None; both branches must return values.")
    return convert_to_tensor(x)


def cond(pred, true_fn: Callable | None = None, false_fn: Callable | None = None, name=None):
    """``true_fn()`` if ``pred`` else ``false_fn()``. With a traced ``pred`` both branches are
    traced and the result is a ``cond`` op (only the chosen branch runs); the branches must
    return the same structure and dtypes. Variables assigned in either branch are carried."""
    if not isinstance(pred, SymbolicTensor) and not _is_traced_var(pred):
        return true_fn() if bool(pred) else false_fn()
    trace = current_trace()
    pred = convert_to_tensor(pred)
    if pred.dtype != dtypes.bool_ or (pred.shape.rank not in (0, None)):
        raise TypeError(f"cond: the predicate must be a bool scalar, got {pred!r}")
    t_region, t_tree, t_out = _trace_branch(trace, true_fn, "true")
    f_region, f_tree, f_out = _trace_branch(trace, false_fn, "false")
    _check_branches(t_tree, f_tree, t_out, f_out)
    written = _written([t_region, f_region])
    outs = trace.emit(cond_p, [trace.value_of(pred)], {"_writes": written},
                      [v.type for v in t_region.outputs], regions=[t_region, f_region])  # fmt: skip
    return t_tree.unflatten(outs)


def _is_traced_var(x) -> bool:
    return hasattr(x, "_tracefn_array") and current_trace() is not None


def _check_branches(t_tree, f_tree, t_out, f_out):
    if t_tree != f_tree:
        raise TypeError(
            "true_fn and false_fn arguments to tf.cond must have the same number, type, and "
            f"overall structure of return values. true_fn output: {t_tree}, false_fn output: "
            f"{f_tree}"
        )
    for i, (a, b) in enumerate(zip(t_out, f_out)):
        if a.dtype != b.dtype:
            raise TypeError(
                "true_fn and false_fn arguments to tf.cond must have the same number, type, and "
                f"overall structure of return values. Output #{i} has dtype {a.dtype.name} in "
                f"the true branch but {b.dtype.name} in the false branch."
            )
        if a.shape != b.shape:
            raise ValueError(
                f"cond: output #{i} has shape {a.shape} in the true branch but {b.shape} in the "
                "false branch. XLA programs have static shapes, so both branches must produce "
                "the same shape (pad or reshape one of them)."
            )


def case(branch_fns, default=None, exclusive=False, name="case"):
    """The first ``fn`` whose ``pred`` holds in ``[(pred, fn), ...]``, else ``default()``."""
    pairs = list(branch_fns.items() if isinstance(branch_fns, dict) else branch_fns)
    if default is None:
        pairs, (_, default) = pairs[:-1], pairs[-1]
    result = default
    for pred, fn in reversed(pairs):
        result = lambda p=pred, f=fn, r=result: cond(p, f, r if callable(r) else (lambda: r))
    return result()


# ----------------------------------------------------------------------------------- while


def _lower_while(ctx, op: Op, ins):
    written = op.attrs["_writes"]
    ids = list(map(id, written))
    cond_r, body_r = op.regions

    def run(region, carry):
        values, carried = carry
        state = dict(ctx.state)
        state.update(zip(ids, carried))
        outs, state = ctx.run_region(region, values, state)
        return outs, [state[k] for k in ids]

    def cond_fn(carry):
        return run(cond_r, carry)[0][0]

    def body_fn(carry):
        return tuple(run(body_r, carry))

    init = (list(ins), [ctx.state[k] for k in ids])
    max_iters = op.attrs.get("max_iters")
    if max_iters is None:
        outs, carried = lax.while_loop(cond_fn, body_fn, init)
    else:
        outs, carried = _bounded(cond_fn, body_fn, init, max_iters)
    ctx.state.update(zip(ids, carried))
    return outs


def _bounded(cond_fn, body_fn, init, max_iters: int):
    """A loop of at most ``max_iters`` steps as a ``lax.scan`` (reverse-differentiable, unlike
    ``lax.while_loop``): each step runs the body only while the condition still holds."""

    def step(carry, _):
        values, done = carry
        go = jnp.logical_and(jnp.logical_not(done), cond_fn(values))
        values = lax.cond(go, body_fn, lambda c: c, values)
        return (values, jnp.logical_or(done, jnp.logical_not(go))), None

    (final, _), _ = lax.scan(step, (init, jnp.asarray(False)), None, length=max_iters)
    return final


def _verify_while(op: Op) -> str | None:
    cond_r, body_r = op.regions
    carried = [v.type for v in op.inputs]
    for label, region in (("cond", cond_r), ("body", body_r)):
        if [v.type for v in region.inputs] != carried:
            return f"the {label} region's inputs do not match the loop's carried values"
    if [v.type for v in body_r.outputs] != carried:
        return "the body's outputs do not match the loop's carried values"
    if len(cond_r.outputs) != 1 or cond_r.outputs[0].type != TensorType((), dtypes.bool_):
        return "the cond region must return one bool scalar"
    if {id(v) for v in _written(op.regions)} != {id(v) for v in op.attrs["_writes"]}:
        return "the variables written by the loop are not the op's carried state"
    return None


while_p = register(Primitive("while", lower=_lower_while, regions=("cond", "body"),
                             verify=_verify_while))  # fmt: skip


def while_loop(cond: Callable, body: Callable, loop_vars, shape_invariants=None,
               parallel_iterations=10, back_prop=True, swap_memory=False,
               maximum_iterations=None, name=None):  # fmt: skip
    """Repeat ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)``; returns the final
    loop variables in their structure. Inside a trace this is one ``while`` op: the loop
    variables keep their dtype and shape; variables written by the body are carried."""
    single = not isinstance(loop_vars, (list, tuple))
    trace = current_trace()
    if trace is None:
        return _python_while(cond, body, loop_vars, maximum_iterations, single)
    leaves, tree = _flatten(loop_vars)
    init = [convert_to_tensor(x) for x in leaves]
    max_iters = _static_int(maximum_iterations)
    if maximum_iterations is not None and max_iters is None:
        return _bounded_while(cond, body, loop_vars, maximum_iterations, single)
    types = [TensorType(t.shape._dims, t.dtype) for t in init]

    def call(fn, region_inputs):
        vals = tree.unflatten(region_inputs)
        return fn(vals) if single else fn(*vals)

    cond_r = Graph(name="cond")
    with trace.region(cond_r):
        xs = [trace.new_input(t, "loop_var", cond_r) for t in types]
        c = convert_to_tensor(call(cond, xs))
        if c.dtype != dtypes.bool_ or c.shape.rank != 0:
            raise TypeError(f"while_loop: cond must return a bool scalar, got {c!r}")
        cond_r.outputs = [trace.value_of(c)]
    body_r = Graph(name="body")
    with trace.region(body_r):
        xs = [trace.new_input(t, "loop_var", body_r) for t in types]
        out = call(body, xs)
        if single and isinstance(out, (list, tuple)) and len(out) == 1:
            out = out[0]
        out_leaves, out_tree = _flatten(out)
        if out_tree != tree:
            raise TypeError(f"while_loop: the body returned structure {out_tree}, but the loop "
                            f"variables have structure {tree}.")  # fmt: skip
        outs = [convert_to_tensor(x) for x in out_leaves]
        _check_carry(init, outs)
        body_r.outputs = [trace.value_of(t) for t in outs]
    written = _written([cond_r, body_r])
    attrs = {"_writes": written} if max_iters is None else {"max_iters": max_iters,
                                                             "_writes": written}  # fmt: skip
    result = trace.emit(while_p, [trace.value_of(t) for t in init], attrs, types,
                        regions=[cond_r, body_r])  # fmt: skip
    return tree.unflatten(result)


def _static_int(n):
    """``n`` as a Python int if it is known while tracing (a bound for ``lax.scan``)."""
    if n is None or isinstance(n, SymbolicTensor):
        return None
    if isinstance(n, Tensor):
        return int(n.numpy())
    return int(n)


def _check_carry(init, outs):
    for i, (a, b) in enumerate(zip(init, outs)):
        if a.dtype != b.dtype:
            raise TypeError(f"while_loop: loop variable #{i} has dtype {a.dtype.name} before "
                            f"the loop, but dtype {b.dtype.name} after one iteration.")  # fmt: skip
        if a.shape != b.shape:
            raise ValueError(
                f"while_loop: loop variable #{i} has shape {a.shape} before the loop, but shape "
                f"{b.shape} after one iteration. XLA loops carry values of one static shape; "
                "preallocate the full size (e.g. with tracefn.zeros) and write into it."
            )


def _bounded_while(cond, body, loop_vars, maximum_iterations, single):
    """A loop with at most ``maximum_iterations`` steps: an extra counter in the carry."""
    n = convert_to_tensor(maximum_iterations, dtype=dtypes.int32)
    vals = (loop_vars,) if single else tuple(loop_vars)

    def c(i, *xs):
        from . import math_ops

        return math_ops.logical_and(math_ops.less(i, n), convert_to_tensor(cond(*xs)))

    def b(i, *xs):
        out = body(*xs)
        out = (out,) if single else tuple(out)
        return (i + 1,) + out

    result = while_loop(c, b, (convert_to_tensor(0),) + vals)[1:]
    return result[0] if single else type(loop_vars)(result)


def _python_while(cond, body, loop_vars, maximum_iterations, single):
    vals = loop_vars
    i = 0
    while maximum_iterations is None or i < int(maximum_iterations):
        go = cond(vals) if single else cond(*vals)
        if not bool(go):
            break
        vals = body(vals) if single else body(*vals)
        i += 1
    return vals


# ------------------------------------------------------------------------------------ call


def _lower_call(ctx, op: Op, ins):
    (region,) = op.regions
    # A call recorded by an eager GradientTape carries the variables' values at call time.
    state = dict(op.attrs["_state"]) if "_state" in op.attrs else ctx.state
    outs, _ = ctx.run_region(region, ins, state=state)
    return outs


# A nested tracefn.function, inlined: its graph is the region, its arguments the inputs.
call_p = register(Primitive("call", lower=_lower_call, regions=("body",)))


# ----------------------------------------------------------------------------------- range


class TracedRange:
    """``tracefn.range(n)`` with a traced bound: a loop description for autograph's ``for``
    (``for i in tf.range(n)`` becomes one ``while`` op). It cannot be iterated in Python."""

    def __init__(self, start, limit, delta, dtype):
        if dtype is None:  # like the eager path: float if any bound is a float
            kinds = [getattr(v, "dtype", None) for v in (start, limit, delta)]
            floats = [k for k in kinds if k is not None and k.is_floating]
            py_float = any(isinstance(v, float) for v in (start, limit, delta))
            dtype = floats[0] if floats else (dtypes.float32 if py_float else None)
            ints = [k for k in kinds if k is not None and k.is_integer]
            dtype = dtype or (ints[0] if ints else dtypes.int32)
        dtype = dtypes.as_dtype(dtype)
        self.start = convert_to_tensor(start, dtype=dtype)
        self.limit = convert_to_tensor(limit, dtype=dtype)
        self.delta = convert_to_tensor(delta, dtype=dtype)
        self.dtype = dtype

    def __iter__(self):
        raise OperatorNotAllowedInGraphError(
            "Iterating over tracefn.range with a traced bound is not allowed in Python: use "
            "it in a `for` loop of a function converted by autograph (the default in "
            "tracefn.function), or use tracefn.while_loop."
        )

    def __repr__(self):
        return f"TracedRange(start={self.start}, limit={self.limit}, delta={self.delta})"


def traced_range(start, limit, delta, dtype) -> TracedRange:
    return TracedRange(start, limit, delta, dtype)
