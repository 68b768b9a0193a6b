"""What one ``Session.run`` executes: the graph pruned to its fetches, lowered to one program.

``make_plan`` walks back from the fetched values and the fetched ops (assignments, initializers,
train ops) through data inputs, values used inside regions, and control dependencies; fed
values stop the walk. The needed ops keep their program order. ``compile_plan`` copies them
into a fresh IR graph whose inputs are the fed values, resolves the initialization queries
(``is_variable_initialized``, ``initialized_value``, ``report_uninitialized_variables``) with
what the session knows, appends a read for each fetched variable (its value after the run) and
lowers the result with ``LoweredGraph``: one ``jax.jit`` program with the touched variables as
explicit, donated state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import config
from ...errors import InvalidArgumentError
from ...ir import Graph as IRGraph
from ...ir import Op, TensorType, Value, clone
from ...lowering import LoweredGraph
from ...primitives import P
from ...variables import assign_variable, read_variable
from .graph import Graph, placeholder_message, placeholder_p
from .graph_variables import initialized_value_p, is_initialized_p, report_uninitialized_p

__all__ = ["Plan", "Program", "make_plan", "compile_plan"]

_QUERIES = (is_initialized_p, initialized_value_p, report_uninitialized_p)


class Plan:
    """The needed ops of a (fetches, feeds) combination. ``outputs`` are ``("t", value)`` or
    ``("v", variable)``; ``queries`` the variables whose initialization the program asks."""

    __slots__ = ("ops", "outputs", "fed", "queries", "keep")

    def __init__(self, ops, outputs, fed, queries, keep):
        self.ops = ops
        self.outputs = outputs
        self.fed = fed
        self.queries = queries
        self.keep = keep  # the fetched objects, so the ids in the cache key stay theirs


class Program:
    """A compiled plan: ``lowered`` runs it; ``needs`` maps the variables it reads before
    writing them to the op that reads them; ``outs`` says for each fetch output whether it is
    the k-th program output (``("run", k)``) or known statically (``("static", array)``)."""

    __slots__ = ("lowered", "state_vars", "needs", "outs", "written")

    def __init__(self, lowered, state_vars, needs, outs):
        self.lowered = lowered
        self.state_vars = state_vars
        self.needs = needs
        self.outs = outs
        self.written = [state_vars[i] for i in lowered.written]


# ------------------------------------------------------------------------------- pruning


def make_plan(graph: Graph, outputs: list, targets: list[Op], fed: list[Value], keep) -> Plan:
    fed_ids = {id(v) for v in fed}
    starts = [v.producer for kind, v in outputs if kind == "t" and id(v) not in fed_ids]
    needed = _needed(graph, [p for p in starts if p is not None] + list(targets), fed_ids)
    ops = [op for op in graph.ir.ops if id(op) in needed]
    queries: dict[int, Any] = {}
    for op in ops:
        if op.prim in _QUERIES:
            for var in op.attrs.get("_vars", (op.attrs.get("_var"),)):
                queries.setdefault(id(var), var)
    return Plan(ops, outputs, fed, list(queries.values()), keep)


def _needed(graph: Graph, start: list[Op], fed_ids: set[int]) -> set[int]:
    needed: set[int] = set()
    stack = list(start)
    memo = graph._stores.setdefault("uses", {})
    while stack:
        op = stack.pop()
        if id(op) in needed:
            continue
        needed.add(id(op))
        if op.prim is placeholder_p:
            raise InvalidArgumentError(placeholder_message(op))
        for v in _uses(op, memo):
            if id(v) not in fed_ids and v.producer is not None:
                stack.append(v.producer)
        stack.extend(graph._control.get(id(op), ()))
        stack.extend(graph._companions.get(id(op), ()))
    return needed


def _uses(op: Op, memo: dict) -> list[Value]:
    """The values ``op`` uses: its inputs and the outer values its regions use."""
    uses = memo.get(id(op))
    if uses is None:
        uses = memo[id(op)] = list(op.inputs) + [v for r in op.regions for v in _free_values(r)]
    return uses


def _free_values(region: IRGraph) -> list[Value]:
    defined = {id(v) for v in region.inputs}
    free = []
    for op in region.ops:
        inner = list(op.inputs) + [v for r in op.regions for v in _free_values(r)]
        free += [v for v in inner if id(v) not in defined]
        defined.update(id(v) for v in op.outputs)
    return free


# ----------------------------------------------------------------------------- compiling


def compile_plan(plan: Plan, initialized: set[int]) -> Program:
    """Lower ``plan`` for a session in which the variables ``initialized`` (ids) have values."""
    vmap: dict[int, Value] = {}
    inputs = []
    for v in plan.fed:
        vmap[id(v)] = nv = Value(v.type)
        inputs.append(nv)
    static: dict[int, np.ndarray] = {}
    ops: list[Op] = []
    for op in plan.ops:
        ops += _copy_op(op, vmap, static, initialized)
    outs, values = [], []
    for kind, x in plan.outputs:
        if kind == "v":
            read = Op(read_variable, [], {"var": x}, [TensorType(x.shape, x.dtype)],
                      name=x._name + "/Read/ReadVariableOp")  # fmt: skip
            ops.append(read)
            value = read.outputs[0]
        else:
            value = vmap.get(id(x), x)
        if id(value) in static:
            outs.append(("static", static[id(value)]))
        else:
            outs.append(("run", len(values)))
            values.append(value)
    graph = IRGraph(inputs, ops, values, name="session_run")
    graph.variables = graph.reads + [v for v in graph.writes if all(v is not r for r in
                                                                     graph.reads)]  # fmt: skip
    if config.VERIFY_GRAPHS:
        from ...verify import verify

        verify(graph)
    return Program(LoweredGraph(graph, graph.variables), graph.variables, _needs(graph.ops), outs)


def _copy_op(op: Op, vmap: dict, static: dict, initialized: set[int]) -> list[Op]:
    """``op`` for the program: a copy on the mapped values, or the answer of a query."""
    out = op.outputs[0] if op.outputs else None
    if op.prim is is_initialized_p:
        flag = np.asarray(id(op.attrs["_var"]) in initialized)
        return _new(Op(P.const, [], {"value": flag}, [out.type], name=op.name), op, vmap)
    if op.prim is initialized_value_p:
        var = op.attrs["_var"]
        if id(var) not in initialized:
            vmap[id(out)] = vmap.get(id(op.inputs[0]), op.inputs[0])
            return []
        return _new(Op(read_variable, [], {"var": var}, [out.type], name=op.name), op, vmap)
    if op.prim is report_uninitialized_p:
        names = [v._name.encode() for v in op.attrs["_vars"] if id(v) not in initialized]
        static[id(out)] = np.array(names, dtype=object)
        return []
    if op.prim is P.const and op.attrs["value"].dtype == object:
        static[id(out)] = op.attrs["value"]  # strings cannot enter a jax program
        return []
    if any(id(vmap.get(id(v), v)) in static for v in op.inputs):
        raise NotImplementedError(f"{op.name}: string tensors can be fetched from a Session, but "
                                  "tracefn cannot compute on them.")  # fmt: skip
    regions = [clone(r, {}, vmap) for r in op.regions]
    new = Op(op.prim, [vmap.get(id(v), v) for v in op.inputs], dict(op.attrs),
             [v.type for v in op.outputs], regions, op.name, op.source)  # fmt: skip
    return _new(new, op, vmap)


def _new(new: Op, old: Op, vmap: dict) -> list[Op]:
    vmap.update(zip(map(id, old.outputs), new.outputs))
    return [new]


# ------------------------------------------------------------------------ state analysis


def _needs(ops: list[Op]) -> dict[int, tuple]:
    """Variables the program reads before it writes them: ``id -> (variable, reading op)``.
    Only these must have a value in the session; the others are written first."""
    needs: dict[int, tuple] = {}
    _scan(ops, set(), needs, conditional=False)
    return needs


def _scan(ops, written: set[int], needs: dict, conditional: bool) -> None:
    for op in ops:
        var = op.attrs.get("var")
        if op.prim is assign_variable:
            if conditional:  # a write that may not happen: the old value is carried
                _need(var, op, written, needs)
            else:
                written.add(id(var))
        elif op.prim is read_variable:
            _need(var, op, written, needs)
        elif op.prim.name == "call":  # an inlined function: its body runs unconditionally
            for region in op.regions:
                _scan(region.ops, written, needs, conditional)
        else:
            for region in op.regions:
                _scan(region.ops, set(written), needs, conditional=True)


def _need(var, op, written: set[int], needs: dict) -> None:
    if id(var) not in written:
        needs.setdefault(id(var), (var, op))
