"""The IR verifier: checks a graph is well formed, or raises ``VerificationError`` naming the op.

Rules: every value is defined once and before use (an op in a region may use the values of its
enclosing graphs defined before the op that owns the region); each op's output types agree with
its primitive's shape rule; each primitive's own region rule holds (branches of a cond agree,
loop carries keep their types); reads and writes name variables the top-level graph declares.
Tests run it on every graph tracefn builds (``tracefn.config.verify_graphs``).
"""

from __future__ import annotations

from .errors import VerificationError
from .ir import Graph, Op, TensorType, type_str

__all__ = ["verify", "types_compatible"]


def types_compatible(declared: TensorType, inferred: TensorType) -> bool:
    """``declared`` is at most as precise as ``inferred``: same dtype, and equal dims where both
    are known (``None`` dims and unknown ranks match anything)."""
    if declared.dtype != inferred.dtype:
        return False
    if declared.shape is None or inferred.shape is None:
        return True
    if len(declared.shape) != len(inferred.shape):
        return False
    return all(a is None or b is None or a == b for a, b in zip(declared.shape, inferred.shape))


def _fail(op: Op | None, message: str):
    where = f" in op {op.name!r} ({op.prim.name})" if op is not None else ""
    if op is not None and op.source:
        where += f" at {op.source[0]}:{op.source[1]}"
    raise VerificationError(f"IR verification failed{where}: {message}")


class _Scope:
    def __init__(self, parent=None):
        self.parent = parent
        self.defined: set[int] = set()

    def has(self, value) -> bool:
        scope = self
        while scope is not None:
            if id(value) in scope.defined:
                return True
            scope = scope.parent
        return False


def verify(graph: Graph) -> Graph:
    """Check ``graph`` (and every region in it); return it unchanged or raise."""
    declared = {id(v) for v in graph.variables}
    all_defined: set[int] = set()
    _verify_graph(graph, _Scope(), declared, all_defined)
    return graph


def _define(scope: _Scope, value, op, all_defined: set[int]):
    if id(value) in all_defined:
        _fail(op, f"value {value!r} is defined twice (single assignment broken)")
    all_defined.add(id(value))
    scope.defined.add(id(value))


def _verify_graph(graph: Graph, scope: _Scope, declared: set[int], all_defined: set[int]):
    for v in graph.inputs:
        _define(scope, v, None, all_defined)
    for op in graph.ops:
        _verify_op(op, scope, declared, all_defined)
    for i, v in enumerate(graph.outputs):
        if not scope.has(v):
            _fail(None, f"output #{i} of graph {graph.name!r} is not defined in the graph")


def _verify_op(op: Op, scope: _Scope, declared: set[int], all_defined: set[int]):
    for i, v in enumerate(op.inputs):
        if not scope.has(v):
            _fail(op, f"input #{i} ({type_str(v.type)}) is used before it is defined")
    if op.prim.effect in ("read", "write"):
        if op.var is None:
            _fail(op, "a variable read/write op has no 'var' attribute")
        if declared and id(op.var) not in declared:
            _fail(op, f"variable {getattr(op.var, 'name', op.var)!r} is not declared by the graph")
    for region in op.regions:
        _verify_graph(region, _Scope(scope), declared, all_defined)
    _check_types(op)
    if op.prim.verify is not None:
        message = op.prim.verify(op)
        if message:
            _fail(op, message)
    for v in op.outputs:
        if v.producer is not op:
            _fail(op, "an output value does not point back at its op")
        _define(scope, v, op, all_defined)


def _check_types(op: Op):
    rule = op.prim.abstract_eval
    if rule is None or op.regions:
        return
    try:
        inferred = rule([v.type for v in op.inputs], op.attrs)
    except Exception as e:  # the rule itself rejects the inputs
        _fail(op, f"the shape rule rejects the inputs: {e}")
    if len(inferred) != len(op.outputs):
        _fail(op, f"declares {len(op.outputs)} outputs but the shape rule gives {len(inferred)}")
    for i, (out, t) in enumerate(zip(op.outputs, inferred)):
        if not types_compatible(out.type, t):
            _fail(op, f"output #{i} is {type_str(out.type)} but the shape rule gives {type_str(t)}")
