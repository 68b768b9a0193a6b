"""``gradients(ys, xs)`` on tracefn's IR: one op whose region is the forward computation.

The op's region is a copy of the ops between the ``xs`` and the ``ys`` (tensors among the xs
become the region's inputs; variables among them are read from the state as usual). Its
lowering interprets the region as a jax function of the xs and applies ``jax.vjp``: no
gradient rule is written by hand, jax differentiates the lowered program (DESIGN.md section 5).
Values the region uses but that do not depend on the xs are constants of the differentiation.
Works in TF1 graphs and inside ``tracefn.function``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ...ir import Graph as IRGraph
from ...ir import Op, Primitive, TensorType, Value, clone, register
from ...primitives import P
from ...tensor import SymbolicTensor, Tensor
from ...tracing import convert_to_tensor, current_trace
from ...variables import Variable, read_variable

__all__ = ["gradients"]


def _lower_gradients(ctx, op: Op, ins):
    xs = op.attrs["_xs"]  # per x: the variable, or None for a tensor
    n_t = sum(x is None for x in xs)
    cotangents = list(ins[n_t:])
    zeros = [jnp.zeros_like(t) for t in ins[:n_t]]  # the tensors' perturbations, at zero
    variables = [x for x in xs if x is not None]
    (region,) = op.regions

    def forward(var_values, perturbations):
        state = dict(ctx.state)
        state.update(zip(map(id, variables), var_values))
        outs, _ = ctx.run_region(region, perturbations, state)
        return outs

    primals = [ctx.state[id(v)] for v in variables]
    ys, vjp = jax.vjp(forward, primals, zeros)
    cts = cotangents or [jnp.ones_like(y) for y in ys]
    g_vars, g_tensors = vjp(list(cts))
    it_v, it_t = iter(g_vars), iter(g_tensors)
    return [next(it_t) if x is None else next(it_v) for x in xs]


gradients_p = register(Primitive("gradients", lower=_lower_gradients, regions=("forward",)))


def gradients(ys, xs, grad_ys=None, name: str = "gradients", colocate_gradients_with_ops=False,
              gate_gradients=False, aggregation_method=None, stop_gradients=None,
              unconnected_gradients="none") -> list:  # fmt: skip
    """The gradients of ``sum(ys)`` with respect to each of ``xs`` (tensors or variables), as a
    list; ``None`` for an x the ys do not depend on (zeros with
    ``unconnected_gradients="zero"``). ``grad_ys`` weights the ys."""
    trace = current_trace()
    if trace is None:
        raise RuntimeError("tf.gradients is not supported when eager execution is enabled. Use "
                           "tf.GradientTape instead.")  # fmt: skip
    ys = [convert_to_tensor(y) for y in _as_list(ys)]
    xs = _as_list(xs)
    region_ops = trace.regions[-1].ops
    sources = [_source(trace, x) for x in xs]
    dependent = _dependent_ops(region_ops, sources)
    ys_values = [trace.value_of(y) for y in ys]
    needed = _ancestors(region_ops, ys_values)
    forward = [op for op in region_ops if id(op) in dependent and id(op) in needed]
    connected = [_connected(s, forward) and _floating(x) for s, x in zip(sources, xs)]
    if not any(connected):
        return _unconnected(xs, [False] * len(xs), unconnected_gradients, [])
    kept = [s for s, c in zip(sources, connected) if c]
    outs = _emit(trace, kept, forward, ys_values, grad_ys, name)
    return _unconnected(xs, connected, unconnected_gradients, outs)


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _source(trace, x):
    """A variable (differentiated through its reads) or the IR value of a tensor."""
    if isinstance(x, Variable):
        return x
    if not isinstance(x, SymbolicTensor):
        raise TypeError(f"tf.gradients: xs must be tensors or variables of the graph, got {x!r}")
    return trace.value_of(x)


def _floating(x) -> bool:
    return x.dtype.is_floating or x.dtype.is_complex


def _reads(op: Op) -> set[int]:
    return {id(o.attrs["var"]) for o in [op, *(r for g in op.regions for r in g.walk())]
            if o.prim is read_variable}  # fmt: skip


def _region_values(op: Op) -> list[Value]:
    return [v for g in op.regions for o in g.walk() for v in o.inputs]


def _dependent_ops(ops: list[Op], sources: list) -> set[int]:
    """Ops whose result depends on a source: they read a source variable, or use a value
    computed from a source (directly or inside their regions)."""
    var_ids = {id(s) for s in sources if isinstance(s, Variable)}
    tainted = {id(s) for s in sources if isinstance(s, Value)}
    dependent = set()
    for op in ops:
        uses = list(op.inputs) + _region_values(op)
        if any(id(v) in tainted for v in uses) or _reads(op) & var_ids:
            dependent.add(id(op))
            tainted.update(id(v) for v in op.outputs)
    return dependent


def _ancestors(ops: list[Op], values: list[Value]) -> set[int]:
    position = {id(op): op for op in ops}
    needed: set[int] = set()
    stack = [v.producer for v in values if v.producer is not None]
    while stack:
        op = stack.pop()
        if id(op) in needed or id(op) not in position:
            continue
        needed.add(id(op))
        stack += [v.producer for v in list(op.inputs) + _region_values(op)
                  if v.producer is not None]  # fmt: skip
    return needed


def _connected(source, forward: list[Op]) -> bool:
    if isinstance(source, Variable):
        return any(id(source) in _reads(op) for op in forward)
    return any(source is v for op in forward for v in list(op.inputs) + _region_values(op))


def _emit(trace, sources: list, forward: list[Op], ys: list[Value], grad_ys, name: str):
    """The gradients op. A tensor source ``h`` enters the region as a perturbation ``e``
    (zero when run) added where ``h`` is computed, so d(ys)/de is the gradient with respect to
    ``h`` while gradients of other sources still flow through ``h``."""
    region = IRGraph(name="forward")
    vmap: dict[int, Any] = {}
    bumps = {}
    for s in sources:
        if isinstance(s, Value):
            bumps[id(s)] = e = Value(s.type)
            region.inputs.append(e)
    produced = {id(v) for op in forward for v in op.outputs}
    for s in sources:
        if isinstance(s, Value) and id(s) not in produced:
            region.ops.append(_bump(s, bumps[id(s)], vmap))
    for op in forward:
        new = Op(op.prim, [vmap.get(id(v), v) for v in op.inputs], dict(op.attrs),
                 [v.type for v in op.outputs], [clone(r, {}, vmap) for r in op.regions],
                 op.name, op.source)  # fmt: skip
        vmap.update(zip(map(id, op.outputs), new.outputs))
        region.ops.append(new)
        region.ops += [_bump(v, bumps[id(v)], vmap) for v in op.outputs if id(v) in bumps]
    region.outputs = [vmap.get(id(y), y) for y in ys]
    cts = [] if grad_ys is None else [trace.value_of(_cotangent(g, y))
                                      for g, y in zip(_as_list(grad_ys), ys)]  # fmt: skip
    xs = tuple(None if isinstance(s, Value) else s for s in sources)
    types = [s.type if isinstance(s, Value) else TensorType(s.shape, s.dtype) for s in sources]
    primals = [s for s in sources if isinstance(s, Value)]
    return trace.emit(gradients_p, primals + cts, {"_xs": xs, "n": len(xs)}, types,
                      regions=[region], name=name)  # fmt: skip


def _bump(value: Value, e: Value, vmap: dict) -> Op:
    """``value + e`` in the region; later uses of ``value`` see the sum."""
    op = Op(P.add, [vmap.get(id(value), value), e], {}, [value.type], name="gradients/bump")
    vmap[id(value)] = op.outputs[0]
    return op


def _cotangent(g, y: Value) -> Tensor:
    return convert_to_tensor(g, dtype=y.type.dtype)


def _unconnected(xs, connected, mode, outs) -> list:
    from ... import array_ops

    it = iter(outs)
    zero = str(getattr(mode, "value", mode)).lower() == "zero"
    result = []
    for x, c in zip(xs, connected):
        if c:
            result.append(next(it))
        else:
            result.append(array_ops.zeros(tuple(x.shape), x.dtype) if zero else None)
    return result
