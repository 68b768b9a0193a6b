"""Lowering: interpret a graph with jax inside ``jax.jit``, state threaded explicitly.

The interpreter keeps two environments: ``env`` maps IR values to jax values, ``state`` maps
variables (by id) to their current jax arrays. Ordinary ops call their primitive's ``impl``;
ops with regions or effects call their primitive's ``lower(ctx, op, inputs)`` rule, which may
run regions with ``ctx.run_region``. ``lower_graph`` wraps the result as one ``jax.jit``
function ``(*state_arrays, *input_arrays) -> [*outputs, *written_state]`` that donates the
arrays of the variables it writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax

from .ir import Graph, Op
from .variables import assign_variable, read_variable

__all__ = ["Interpreter", "lower_graph", "LoweredGraph"]


class Interpreter:
    """One evaluation of ops on jax values: ``env`` (values) and ``state`` (variables).

    ``read_delta`` (used by gradients) maps ``id(var)`` to a perturbation added to every read
    of that variable, so ``jax.vjp`` can differentiate a region with respect to variables."""

    __slots__ = ("env", "state", "read_delta")

    def __init__(self, env: dict, state: dict, read_delta: dict | None = None):
        self.env = env
        self.state = state
        self.read_delta = read_delta

    def run(self, ops: Sequence[Op]) -> None:
        env = self.env
        for op in ops:
            prim = op.prim
            ins = [env[id(v)] for v in op.inputs]
            try:
                if prim.lower is not None:
                    outs = prim.lower(self, op, ins)
                else:
                    out = prim.impl(*ins, **op.attrs)
                    outs = out if prim.multiple_results else (out,)
            except TypeError as e:  # jax rejected the real shapes (e.g. unknown dims that differ)
                raise _op_failure(op, ins, e) from None
            for v, o in zip(op.outputs, outs):
                env[id(v)] = o

    def run_region(self, region: Graph, args: Sequence[Any], state: dict | None = None):
        """Run ``region`` on ``args``; returns ``(outputs, state)``. Values of the enclosing
        graphs stay visible; ``state`` (default: a copy of the current one) is updated."""
        state = dict(self.state) if state is None else state
        sub = Interpreter(dict(self.env), state, self.read_delta)
        sub.env.update(zip(map(id, region.inputs), args))
        sub.run(region.ops)
        return [sub.env[id(v)] for v in region.outputs], sub.state


def _op_failure(op: Op, ins, e: Exception) -> Exception:
    """The error of an op that fails on the call's real shapes, naming it and the user line."""
    shapes = ", ".join(f"{getattr(x, 'dtype', '?')}{list(getattr(x, 'shape', ()))}" for x in ins)
    where = f" (at {op.source[0]}:{op.source[1]})" if op.source else ""
    kind = ValueError if "shape" in str(e).lower() else TypeError
    return kind(f"{op.name}: {str(e).splitlines()[0]}; inputs: {shapes}{where}")


def _lower_read(ctx: Interpreter, op: Op, ins):
    value = ctx.state[id(op.var)]
    if ctx.read_delta and id(op.var) in ctx.read_delta:
        value = value + ctx.read_delta[id(op.var)]
    return [value]


def _lower_assign(ctx: Interpreter, op: Op, ins):
    ctx.state[id(op.var)] = ins[0]
    return []


read_variable.lower = _lower_read
assign_variable.lower = _lower_assign


class LoweredGraph:
    """A graph lowered to one jitted function over ``state_vars`` (read or written variables)
    and the graph's inputs. ``written`` lists the positions in ``state_vars`` it writes."""

    def __init__(self, graph: Graph, state_vars: Sequence[Any]):
        self.graph = graph
        self.state_ids = [id(v) for v in state_vars]
        written_ids = {id(v) for v in graph.writes}
        self.written = [i for i, k in enumerate(self.state_ids) if k in written_ids]
        self.n_state = len(self.state_ids)
        self.n_out = len(graph.outputs)
        # Written variables that a strategy placed keep their sharding: XLA would otherwise
        # choose the output sharding from the computation (tracefn.distribute).
        shardings = [getattr(v, "_sharding", None) for v in state_vars]
        outs = [None] * self.n_out + [shardings[i] for i in self.written]
        pinned = {"out_shardings": outs} if any(s is not None for s in outs) else {}
        if any(op.prim.effect == "assert" for op in graph.walk()):
            self.jitted = _checked(self._fn, pinned)
        else:
            self.jitted = jax.jit(self._fn, donate_argnums=tuple(self.written), **pinned)

    def _fn(self, *arrays):
        n = self.n_state
        state = dict(zip(self.state_ids, arrays[:n]))
        env = dict(zip(map(id, self.graph.inputs), arrays[n:]))
        Interpreter(env, state).run(self.graph.ops)
        outs = [env[id(v)] for v in self.graph.outputs]
        return outs + [state[self.state_ids[i]] for i in self.written]

    def as_text(self, *avals, dialect: str = "stablehlo") -> str:
        """The program as StableHLO (MLIR) text for inputs of the given shapes/dtypes."""
        return self.jitted.lower(*avals).as_text(dialect=dialect)


def _checked(fn, pinned: dict):
    """``fn`` with run-time assertions (``checkify``), compiled without donation: a failed
    assertion raises before any variable is written, and no input buffer was consumed."""
    from jax.experimental import checkify

    from .errors import InvalidArgumentError

    if pinned:
        pinned = {"out_shardings": (None, pinned["out_shardings"])}
    inner = jax.jit(checkify.checkify(fn, errors=checkify.user_checks), **pinned)

    def call(*arrays):
        err, res = inner(*arrays)
        message = err.get()
        if message is not None:
            raise InvalidArgumentError(message.replace(" (`check` failed)", ""))
        return res

    call.lower = inner.lower
    return call


def lower_graph(graph: Graph, state_vars: Sequence[Any]) -> LoweredGraph:
    return LoweredGraph(graph, state_vars)
