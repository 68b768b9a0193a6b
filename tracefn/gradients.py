"""``GradientTape``: records ops as IR and differentiates them with ``jax.vjp``.

While a tape is active it records the ops run in its context: eagerly each executed op is
recorded as an IR ``Op`` (its external inputs remembered as constants); inside a trace the
ops emitted into the tape's region are recorded. ``gradient`` builds a function of
perturbations of the sources (each watched tensor, each read of a watched variable, gets
``+ delta``), replays the recorded ops with the lowering interpreter and applies ``jax.vjp``
at ``delta = 0``: jax differentiates, tracefn writes no gradient rule. Inside a trace the
gradient is one ``gradient`` op whose region is the replayed forward computation.

Assignments are not differentiable (spec G21): writes are not replayed and every variable
read is its own leaf, so the chain restarts at the value read.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .control_flow import call_p
from .ir import Graph, Op, Primitive, TensorType, Value, _clone_op, register
from .lowering import Interpreter
from .tensor import EagerTensor, SymbolicTensor, Tensor
from .tracing import _tls, convert_to_tensor, current_trace
from .variables import Variable, read_variable

__all__ = ["GradientTape", "UnconnectedGradients"]

logger = logging.getLogger("tracefn")


class UnconnectedGradients(enum.Enum):
    """What ``gradient`` returns for a source the target does not depend on."""

    NONE = "none"
    ZERO = "zero"


def _leaf(x) -> bool:
    return isinstance(x, (Tensor, Variable)) or x is None


def _flatten(tree):
    return jax.tree_util.tree_flatten(tree, is_leaf=_leaf)


class GradientTape:
    """Record operations for automatic differentiation (TF's ``tf.GradientTape``).

    >>> import tracefn as tf
    >>> x = tf.constant(3.0)
    >>> with tf.GradientTape() as t:
    ...     t.watch(x)
    ...     y = x * x
    >>> float(t.gradient(y, x))
    6.0
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self._persistent = persistent
        self._watch_accessed = watch_accessed_variables
        self._recording = False
        self._used = False
        self._reset()

    def _reset(self):
        self._ops: list[Op] = []
        self._vals: dict[int, Value] = {}  # id(EagerTensor) -> Value (eager recording)
        self._keep: list = []  # recorded eager tensors, alive so their ids stay unique
        self._consts: dict[int, Any] = {}  # id(Value) -> array of an external eager value
        self._var_reads: dict[int, Variable] = {}  # id(read Value) -> the variable read
        self._watched_vars: dict[int, Variable] = {}
        self._watched_vals: dict[int, Tensor] = {}

    # ----------------------------------------------------------------------------- context
    def __enter__(self) -> GradientTape:
        trace = current_trace()
        self._trace = trace
        self._region = trace.regions[-1] if trace is not None else None
        self._push()
        return self

    def __exit__(self, *exc):
        self._pop()

    def _push(self):
        self._recording = True
        _tls.tapes.append(self)

    def _pop(self):
        self._recording = False
        if self in _tls.tapes:
            _tls.tapes.remove(self)

    def stop_recording(self):
        """A context in which ops are not recorded (spec G10)."""
        tape = self

        class _Paused:
            def __enter__(self):
                tape._pop()

            def __exit__(self, *exc):
                tape._push()

        return _Paused()

    def reset(self):
        self._reset()

    def watched_variables(self) -> tuple:
        return tuple(self._watched_vars.values())

    # ----------------------------------------------------------------------------- watching
    def watch(self, tensor) -> None:
        """Differentiate with respect to ``tensor`` (a tensor, variable, or nest of them)."""
        for x in _flatten(tensor)[0]:
            if isinstance(x, Variable):
                self._watched_vars[id(x)] = x
            elif isinstance(x, Tensor):
                if not (x.dtype.is_floating or x.dtype.is_complex):
                    logger.warning("The dtype of the watched tensor must be floating (e.g. "
                                   f"tf.float32), got {x.dtype!r}")  # fmt: skip
                value = x.value if isinstance(x, SymbolicTensor) else self._eager_value(x)
                self._watched_vals[id(value)] = x
            else:
                raise ValueError(f"Passed in object {x!r} of type '{type(x).__name__}', not "
                                 "tf.Tensor or tf.Variable or ExtensionType.")  # fmt: skip

    def _auto_watch(self, var: Variable):
        if self._watch_accessed and var.trainable:
            self._watched_vars.setdefault(id(var), var)

    # ---------------------------------------------------------------------------- recording
    def _eager_value(self, x) -> Value:
        if isinstance(x, Variable):
            v = Value(TensorType(x.shape, x.dtype))
            self._consts[id(v)] = x._tracefn_array()  # exposed: later calls won't donate it
            self._var_reads[id(v)] = x
            self._auto_watch(x)
            return v
        v = self._vals.get(id(x))
        if v is None:
            array = x._array if isinstance(x, EagerTensor) else x
            v = self._vals[id(x)] = Value(TensorType(array.shape, array.dtype))
            self._consts[id(v)] = array
            self._keep.append(x)
        return v

    def _record_eager(self, prim, args, attrs, outs):
        if self._trace is not None:
            return
        op = Op(prim, [self._eager_value(a) for a in args], attrs,
                [TensorType(o._array.shape, o._array.dtype) for o in outs])  # fmt: skip
        self._ops.append(op)
        for t, v in zip(outs, op.outputs):
            self._vals[id(t)] = v
            self._keep.append(t)

    def _record_eager_read(self, var: Variable, t: EagerTensor):
        if self._trace is not None:
            return
        v = Value(TensorType(var.shape, var.dtype))
        self._vals[id(t)] = v
        self._keep.append(t)
        self._consts[id(v)] = t._array
        self._var_reads[id(v)] = var
        self._auto_watch(var)

    def _record_traced(self, trace, region, op: Op):
        if trace is not self._trace or region is not self._region:
            return
        self._ops.append(op)
        if op.prim is read_variable:
            self._var_reads[id(op.outputs[0])] = op.var
            self._auto_watch(op.var)
        for var in _nested_reads(op):  # read inside a cond/while/call body (spec G19)
            self._auto_watch(var)

    def _record_call(self, region: Graph, args, outs, state: dict, name: str):
        """An eager call of a compiled function under this tape (spec G18)."""
        if self._trace is not None:
            return
        for var in region.reads:
            self._auto_watch(var)
        op = Op(call_p, [self._eager_value(a) for a in args], {"fn": name, "_state": state},
                [TensorType(o._array.shape, o._array.dtype) for o in outs], [region])  # fmt: skip
        self._ops.append(op)
        for t, v in zip(outs, op.outputs):
            self._vals[id(t)] = v
            self._keep.append(t)

    # ---------------------------------------------------------------------------- gradients
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):  # fmt: skip
        """d(sum of ``target``)/d``sources``, in the structure of ``sources``."""
        return self._differentiate(target, sources, output_gradients, unconnected_gradients,
                                   jacobian=False)  # fmt: skip

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):  # fmt: skip
        """d``target``/d``sources`` with shape ``target.shape + source.shape`` (spec G20)."""
        return self._differentiate(target, sources, None, unconnected_gradients, jacobian=True)

    def _differentiate(self, target, sources, output_gradients, unconnected, jacobian):
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one "
                               "set of gradients (or jacobians)")  # fmt: skip
        zero = UnconnectedGradients(unconnected) == UnconnectedGradients.ZERO
        targets = _flatten(target)[0]
        src_leaves, src_tree = _flatten(sources)
        _check_args(targets, src_leaves, output_gradients)
        self._used = True  # only a valid request uses up a non-persistent tape
        plan = _Plan(self, targets, src_leaves)
        if self._trace is None:
            grads = plan.eager(output_gradients, jacobian)
        else:
            grads = plan.traced(output_gradients, jacobian)
        out = [_fill(g, s, zero, targets, jacobian) for g, s in zip(grads, src_leaves)]
        if not self._persistent:
            self._reset()
        return src_tree.unflatten(out)


def _check_args(targets, sources, output_gradients) -> None:
    for i, s in enumerate(sources):
        if s is not None and not isinstance(s, (Tensor, Variable)):
            raise TypeError(f"GradientTape.gradient: source #{i} is a {type(s).__name__} "
                            f"({s!r}), not a tf.Tensor or tf.Variable")  # fmt: skip
    for i, t in enumerate(targets):
        if t is not None and not isinstance(t, (Tensor, Variable)):
            raise TypeError(f"GradientTape.gradient: target #{i} is a {type(t).__name__} "
                            f"({t!r}), not a tf.Tensor or tf.Variable")  # fmt: skip
    if output_gradients is None:
        return
    grads = output_gradients if isinstance(output_gradients, (list, tuple)) else [
        output_gradients]  # fmt: skip
    if len(grads) != len(targets):
        raise ValueError(f"GradientTape.gradient: {len(grads)} output_gradients for "
                         f"{len(targets)} targets")  # fmt: skip
    for i, (g, t) in enumerate(zip(grads, targets)):
        shape = tuple(getattr(g, "shape", np.shape(g)))
        if t is not None and t.shape.is_fully_defined() and shape != tuple(t.shape):
            raise ValueError(f"GradientTape.gradient: output_gradients[{i}] has shape {shape} "
                             f"but target #{i} has shape {tuple(t.shape)}")  # fmt: skip


def _fill(grad, source, zero: bool, targets, jacobian: bool):
    if grad is not None or not zero or source is None:
        return grad
    from . import array_ops

    shape = tuple(source.shape)
    if jacobian:
        shape = tuple(targets[0].shape) + shape
    return array_ops.zeros(shape, source.dtype)


class _Plan:
    """Which recorded values each source perturbs, and which sources the targets reach."""

    def __init__(self, tape: GradientTape, targets, sources):
        self.tape = tape
        self.targets = [self._value_of(t) for t in targets]
        self.target_tensors = targets
        self.sources = sources
        # perturb[id(Value)] = index of the source whose delta is added to that value
        self.perturb: dict[int, int] = {}
        self.var_delta: dict[int, int] = {}  # id(var) -> source index, for nested reads
        for i, s in enumerate(sources):
            self._plan_source(i, s)
        self.connected = self._connected()

    def _value_of(self, t):
        if isinstance(t, SymbolicTensor):
            return t.value
        if isinstance(t, Variable):
            return None
        return self.tape._vals.get(id(t)) if t is not None else None

    def _plan_source(self, i: int, s):
        tape = self.tape
        if s is None or not (s.dtype.is_floating or s.dtype.is_complex):
            return
        if isinstance(s, Variable):
            if id(s) not in tape._watched_vars:
                return
            for vid, var in tape._var_reads.items():
                if var is s:
                    self.perturb[vid] = i
            self.var_delta[id(s)] = i
            return
        value = self._value_of(s)
        if value is not None and id(value) in tape._watched_vals:
            self.perturb[id(value)] = i

    def _connected(self) -> set:
        """Sources the targets depend on (walking the recorded ops backwards)."""
        producers = {id(o): op for op in self.tape._ops for o in op.outputs}
        seen: set[int] = set()
        found: set[int] = set()
        stack = [v for v in self.targets if v is not None]
        while stack:
            v = stack.pop()
            if id(v) in seen:
                continue
            seen.add(id(v))
            if id(v) in self.perturb:
                found.add(self.perturb[id(v)])
            op = producers.get(id(v))
            if op is None:
                continue
            stack.extend(op.inputs)
            stack.extend(_region_uses(op))
            for var in _nested_reads(op):
                if id(var) in self.var_delta:
                    found.add(self.var_delta[id(var)])
        return found

    def _active(self) -> list[int]:
        return sorted(self.connected)

    # --- eager: replay with jax.vjp now
    def eager(self, output_gradients, jacobian: bool) -> list:
        active = self._active()
        if not active or any(t is None for t in self.targets):
            return [None] * len(self.sources)
        tape = self.tape
        ops = [op for op in tape._ops if op.prim.effect is None or op.regions]
        slot = {i: k for k, i in enumerate(active)}

        def f(deltas):
            env = dict(tape._consts)
            for vid, i in self.perturb.items():
                if vid in env and i in slot:
                    env[vid] = env[vid] + deltas[slot[i]]
            read_delta = {vid: deltas[slot[i]] for vid, i in self.var_delta.items() if i in slot}
            interp = Interpreter(env, {}, read_delta)
            for op in ops:
                interp.run([op])
                for o in op.outputs:
                    i = self.perturb.get(id(o))
                    if i is not None and i in slot:
                        env[id(o)] = env[id(o)] + deltas[slot[i]]
            return [env[id(v)] for v in self.targets]

        zeros = [jnp.zeros(tuple(self.sources[i].shape), self.sources[i].dtype.np) for i in active]
        grads = _apply(f, zeros, self._cotangents(output_gradients), jacobian)
        out: list = [None] * len(self.sources)
        for k, i in enumerate(active):
            out[i] = EagerTensor(grads[k].astype(self.sources[i].dtype.np))
        return out

    def _cotangents(self, output_gradients):
        if output_gradients is None:
            return None
        grads = output_gradients if isinstance(output_gradients, (list, tuple)) else [
            output_gradients]  # fmt: skip
        return [convert_to_tensor(g, dtype=t.dtype) for g, t in zip(grads, self.target_tensors)]

    # --- traced: one gradient op
    def traced(self, output_gradients, jacobian: bool) -> list:
        active = self._active()
        if not active:
            return [None] * len(self.sources)
        trace = self.tape._trace
        region, leaves = self._region(active)
        cts = self._cotangents(output_gradients)
        operands = [trace.value_of(x) for x in leaves] + (
            [trace.value_of(c) for c in cts] if cts is not None else [])  # fmt: skip
        src_types = [TensorType(tuple(self.sources[i].shape), self.sources[i].dtype)
                     for i in active]  # fmt: skip
        if jacobian:
            t = self.targets[0].type
            out_types = [TensorType(tuple(t.shape) + tuple(s.shape), s.dtype) for s in src_types]
        else:
            out_types = src_types
        attrs = {"mode": "jacobian" if jacobian else "vjp", "_leaf_src": self._leaf_src,
                 "_src_types": tuple(src_types), "_var_delta": self._region_var_delta(active),
                 "_has_cts": cts is not None}  # fmt: skip
        outs = trace.emit(gradient_p, operands, attrs, out_types, regions=[region],
                          name="gradients")  # fmt: skip
        result: list = [None] * len(self.sources)
        for k, i in enumerate(active):
            result[i] = outs[k]
        return result

    def _region_var_delta(self, active) -> tuple:
        slot = {i: k for k, i in enumerate(active)}
        return tuple((var, slot[i]) for vid, i in self.var_delta.items() if i in slot
                     for var in [self.sources[i]])  # fmt: skip

    def _region(self, active):
        """The forward ops as a region whose inputs are the perturbed leaves."""
        slot = {i: k for k, i in enumerate(active)}
        region = Graph(name="forward")
        vmap: dict[int, Value] = {}
        leaves, leaf_src = [], []

        def leaf(v: Value, i: int):
            nv = Value(v.type)
            region.inputs.append(nv)
            vmap[id(v)] = nv
            leaves.append(_tensor_for(self.tape._trace, v))
            leaf_src.append(slot[i])

        recorded = {id(o) for op in self.tape._ops for o in op.outputs}
        for vid, i in self.perturb.items():
            v = _value_by_id(self.tape, vid)
            if v is not None and vid not in recorded and i in slot:
                leaf(v, i)  # watched, but computed before the tape (or an input)
        for op in self.tape._ops:
            if op.prim.effect and not op.regions:
                for o in op.outputs:  # a read: its value is a leaf (perturbed if watched)
                    if self.perturb.get(id(o)) in slot:
                        leaf(o, self.perturb[id(o)])
                continue
            region.ops.append(_clone_op(op, vmap, {}))
            for o in op.outputs:
                if self.perturb.get(id(o)) in slot:
                    leaf(o, self.perturb[id(o)])
        region.outputs = [vmap.get(id(v), v) for v in self.targets]
        self._leaf_src = tuple(leaf_src)
        return region, leaves


def _value_by_id(tape, vid):
    for t in tape._watched_vals.values():
        if isinstance(t, SymbolicTensor) and id(t.value) == vid:
            return t.value
    return None


def _tensor_for(trace, v: Value) -> SymbolicTensor:
    return SymbolicTensor(v, trace, trace.regions[0], "leaf")


def _region_uses(op: Op):
    """Values the regions of ``op`` use (values of enclosing graphs are used directly)."""
    for region in op.regions:
        yield from region.outputs
        for inner in region.walk():
            yield from inner.inputs


def _nested_reads(op: Op):
    for region in op.regions:
        yield from region.reads


def _apply(f, zeros, cotangents, jacobian: bool):
    if jacobian:
        jac = jax.jacrev(lambda d: f(d)[0])(zeros)
        return list(jac)
    outs, vjp = jax.vjp(f, zeros)
    cts = [jnp.ones_like(o) for o in outs] if cotangents is None else [
        c._array if isinstance(c, EagerTensor) else c for c in cotangents]  # fmt: skip
    (grads,) = vjp(cts)
    return grads


def _lower_gradient(ctx, op: Op, ins):
    a = op.attrs
    (region,) = op.regions
    n_leaf = len(a["_leaf_src"])
    fwd, cts = ins[:n_leaf], (ins[n_leaf:] if a["_has_cts"] else None)

    def f(deltas):
        args = [x + deltas[k] for x, k in zip(fwd, a["_leaf_src"])]
        sub = Interpreter(ctx.env, ctx.state, {id(var): deltas[k] for var, k in a["_var_delta"]})
        outs, _ = sub.run_region(region, args)
        return outs

    zeros = [jnp.zeros(t.shape, t.dtype.np) for t in a["_src_types"]]
    try:
        grads = _apply(f, zeros, cts, a["mode"] == "jacobian")
    except ValueError as e:
        if "Reverse-mode differentiation does not work for lax.while_loop" not in str(e):
            raise
        where = f" (gradient at {op.source[0]}:{op.source[1]})" if op.source else ""
        raise ValueError(
            "GradientTape cannot differentiate through a loop whose number of iterations is "
            f"only known at run time{where}: XLA's while loops are not reverse-differentiable. "
            "Give the loop a static bound: tf.while_loop(..., maximum_iterations=N), or loop "
            "over a Python range or a tensor of static length."
        ) from None
    return [g.astype(t.dtype.np) for g, t in zip(grads, a["_src_types"])]


gradient_p = register(Primitive("gradient", lower=_lower_gradient, regions=("forward",)))
