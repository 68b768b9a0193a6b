"""``tracefn.function``: trace Python into a graph once per call signature, run it compiled.

A call builds the cache key from its arguments (tensors by shape and dtype, Python scalars by
type and value, containers structurally, variables by spec and aliasing, other objects by
identity), finds or traces a ``ConcreteFunction`` and runs its jitted program: the arrays of
the variables it touches go in, the written ones come back and are stored. The hot path is one
key walk, one dict lookup, one list of arrays, one jitted call and one write-back loop.
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import threading
import types
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import config
from .cache_key import (
    arg_key,
    describe_change,
    detector_for,
    key_skeleton,
    relax,
    spec_compatible,
    spec_of,
)  # fmt: skip
from .concrete import ConcreteFunction
from .control_flow import call_p
from .errors import filter_traceback
from .ir import Graph, TensorType, clone
from .lowering import LoweredGraph
from .tensor import EagerTensor, SymbolicTensor, Tensor, TensorSpec
from .tracing import Trace, _tls, convert_to_tensor, current_trace
from .variables import STATE_LOCK, Variable, trace_read

__all__ = ["function", "Function", "ConcreteFunction"]

logger = logging.getLogger("tracefn")

_V1_MESSAGE = (
    "tf.function only supports singleton tf.Variables created on the first call. Make sure the "
    "tf.Variable is only created once or created outside tf.function. See "
    "https://www.tensorflow.org/guide/function#creating_tfvariables for more information."
)
_BOUND = "_tracefn_functions"  # instance attribute holding its bound tracefn functions
_V4_MESSAGE = "Creating variables on a non-first call to a function decorated with tf.function."


# ---------------------------------------------------------------------- nested function call


# ------------------------------------------------------------------------------- Function


class Function:
    """A Python function traced and compiled per input signature. Create with
    ``tracefn.function``."""

    def __init__(self, python_function: Callable, input_signature=None, autograph: bool = True,
                 reduce_retracing: bool = False, jit_compile=None, name: str | None = None,
                 experimental_autograph_options=None, experimental_relax_shapes=None,
                 _detector=None):  # fmt: skip
        functools.update_wrapper(self, python_function, updated=())
        self._python_function = python_function
        self._name = name or getattr(python_function, "__name__", "function")
        self._autograph = autograph
        from .autograph.experimental import feature_names

        self._features = feature_names(experimental_autograph_options)
        self._reduce_retracing = bool(reduce_retracing or experimental_relax_shapes)
        self._input_signature = None if input_signature is None else list(input_signature)
        self._cache: dict = {}
        self._concrete: list = []  # (skeleton, specs, cf), newest last
        self._last_key = None
        self._trace_count = 0
        self._first_created: bool | None = None
        self._lock = threading.RLock()
        self._detector = _detector or detector_for(python_function)
        self._proxies: dict = {}
        self._init_signature(python_function)

    def _init_signature(self, fn):
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        self._sig = sig
        params = list(sig.parameters.values()) if sig else []
        self._param_names = [p.name for p in params]
        simple = all(p.kind == p.POSITIONAL_OR_KEYWORD for p in params) and sig is not None
        self._n_pos = len(params) if simple else -1
        # Positional calls that leave out defaulted parameters: the defaults to append, per
        # number of arguments given (canonicalization without inspect on the hot path, T4).
        self._tails: dict[int, tuple] = {}
        if simple:
            for n in range(len(params), -1, -1):
                self._tails[n] = tuple(p.default for p in params[n:])
                if n and params[n - 1].default is inspect.Parameter.empty:
                    break

    # ---------------------------------------------------------------- descriptor (T8)
    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        # The bound function lives on the instance, so it dies with it (a weak-keyed cache
        # would keep it alive through the bound method) and unhashable instances work too.
        store = getattr(instance, "__dict__", None)
        if store is None:
            return self._bind(instance)
        bound = store.setdefault(_BOUND, {}).get(id(self))
        if bound is None or bound._python_function.__self__ is not instance:  # a copy's own
            bound = store[_BOUND][id(self)] = self._bind(instance)
        return bound

    def _bind(self, instance) -> Function:
        bound = Function(types.MethodType(self._python_function, instance),
                         input_signature=self._input_signature, autograph=self._autograph,
                         reduce_retracing=self._reduce_retracing, name=self._name,
                         _detector=self._detector)  # fmt: skip
        bound._features = self._features
        return bound

    @property
    def python_function(self) -> Callable:
        return self._python_function

    def experimental_get_tracing_count(self) -> int:
        """How many times this function traced its Python body."""
        return self._trace_count

    # ------------------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        try:
            if config.RUN_EAGERLY:
                return self._python_function(*args, **kwargs)
            if _tls.stack:
                return self._call_in_trace(args, kwargs)
            self._detector.calls += 1
            if self._input_signature is not None:
                return self._call_with_signature(args, kwargs)
            tail = None if kwargs else self._tails.get(len(args))
            params = (args + tail if tail else args) if tail is not None else (
                self._canonicalize(args, kwargs))  # fmt: skip
            arrays: list = []
            avars: list = []
            parts = []
            for p in params:
                if type(p) is EagerTensor:  # the common case inlined (same key as arg_key)
                    a = p._array
                    arrays.append(a)
                    aval = a.aval
                    parts.append(("T", aval.shape, aval.dtype))
                else:
                    parts.append(arg_key(p, arrays, avars))
            key = tuple(parts)
            cf = self._cache.get(key)
            if cf is None:
                cf = self._miss(key, params, arrays, avars)
            if avars and cf._captured_ids and not cf._captured_ids.isdisjoint(map(id, avars)):
                cf = self._alias_miss(key, params, arrays, avars, cf)
            if _tls.tapes:
                return self._call_taped(cf, params, arrays, avars)
            return cf._call_flat(arrays, avars)
        except Exception as e:  # zero-cost until raised: point the traceback at user code
            raise e.with_traceback(filter_traceback(e.__traceback__)) from e.__cause__

    def _call_taped(self, cf, params, arrays, avars):
        """An eager call under a GradientTape: run it, and record it as one ``call`` op with
        the variables' values before the call, so the tape can differentiate through it."""
        vs = cf._captured + list(avars)
        with STATE_LOCK:  # the values before the call, which donates the written buffers
            before = {id(v): jnp.array(v._value, copy=True) for v in vs}
        traced_vars = cf.graph.variables[len(cf._captured) :]
        region = clone(cf.graph, {id(a): b for a, b in zip(traced_vars, avars) if a is not b})
        result = cf._call_flat(arrays, avars)
        args = [_tensor_arg(p) for p in _tensor_leaves(params)]
        leaves = jax.tree_util.tree_leaves(result, is_leaf=lambda x: isinstance(x, Tensor))
        outs = [None] * cf._n_out
        for leaf, slot in zip(leaves, cf._out_leaves):
            if type(slot) is int:
                outs[slot] = leaf
        for tape in list(_tls.tapes):
            tape._record_call(region, args, outs, before, self._name)
        return result

    def _canonicalize(self, args, kwargs) -> tuple:
        """The arguments bound to the signature in parameter order, defaults applied (T4)."""
        if self._sig is None:
            return tuple(args) + ((kwargs,) if kwargs else ())
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self._name}() got invalid arguments: {e}") from None
        bound.apply_defaults()
        return tuple(bound.arguments.values())

    def _bind_partial(self, args, kwargs, specs) -> tuple:
        """Bind a ConcreteFunction call: Python parameters fixed at trace time may be left out
        (they default to their traced value)."""
        if self._sig is None:
            return tuple(args)
        try:
            bound = self._sig.bind_partial(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self._name}() got invalid arguments: {e}") from None
        bound.apply_defaults()
        out = []
        for name, spec in zip(self._param_names, specs):
            if name in bound.arguments:
                out.append(bound.arguments[name])
            elif isinstance(spec, (TensorSpec, Variable)):
                raise TypeError(f"{self._name}() missing required argument {name!r}")
            else:
                out.append(spec)
        return tuple(out)

    def _unbind(self, params) -> tuple[list, dict]:
        if self._sig is None:
            return list(params), {}
        args, kwargs = [], {}
        for p, value in zip(self._sig.parameters.values(), params):
            if p.kind == p.VAR_POSITIONAL:
                args.extend(value)
            elif p.kind == p.VAR_KEYWORD:
                kwargs.update(value)
            elif p.kind == p.KEYWORD_ONLY:
                kwargs[p.name] = value
            else:
                args.append(value)
        return args, kwargs

    def _miss(self, key, params, arrays, avars, aliased=frozenset()) -> ConcreteFunction:
        with self._lock:
            cf = self._cache.get(key)
            if cf is not None:
                return cf
            skeleton = key_skeleton(key)
            call_specs = [spec_of(a) for a in arrays]
            cf = self._find_compatible(skeleton, call_specs)
            if cf is None:
                specs = self._relaxed_specs(skeleton, call_specs)
                reason = self._explain(key)
                cf = self._trace(params, arrays, avars, specs, skeleton, reason, aliased)
            self._cache[key] = cf
            self._last_key = key
            return cf

    def _alias_miss(self, key, params, arrays, avars, cf):
        # A variable argument is also a variable the trace captured: a different aliasing
        # pattern, so it gets its own trace (T7).
        alias = tuple(i for i, v in enumerate(avars) if id(v) in cf._captured_ids)
        aliased = frozenset(id(avars[i]) for i in alias)
        return self._miss(key + (("captured-alias", alias),), params, arrays, avars, aliased)

    def _find_compatible(self, skeleton, call_specs):
        best = None
        for skel, specs, cf in self._concrete:
            if skel == skeleton and all(map(spec_compatible, specs, call_specs)):
                unknown = sum(s[0] is None or None in s[0] for s in specs)
                if best is None or unknown < best[0]:
                    best = (unknown, cf)  # the most specific match (T13)
        return None if best is None else best[1]

    def _relaxed_specs(self, skeleton, call_specs):
        if not self._reduce_retracing:
            return call_specs
        for skel, specs, _ in reversed(self._concrete):
            if skel == skeleton:
                return [relax(a, b) for a, b in zip(specs, call_specs)]
        return call_specs

    def _explain(self, key) -> str:
        if self._last_key is None:
            return ""
        names = self._param_names
        changes = []
        old = self._last_key
        if len(old) == len(key):
            for i, (a, b) in enumerate(zip(old, key)):
                changes += describe_change(a, b, repr(names[i]) if i < len(names) else f"#{i}")
        reason = "; ".join(changes) or "a new combination of arguments"
        logger.debug("tracefn: retracing %s because %s", self._name, reason)
        return reason

    def _call_with_signature(self, args, kwargs):
        n = len(self._input_signature)
        arrays, avars = [], []
        try:
            if self._sig is not None:
                bound = self._sig.bind(*args, **kwargs)
                bound.apply_defaults()
                params = tuple(bound.arguments.values())
            else:
                params = tuple(args)
            if len(args) > n and self._n_pos != -1 and len(args) > len(self._param_names):
                raise TypeError("too many positional arguments")
            for p, spec in zip(params[:n], self._input_signature):
                _bind_to_spec(p, spec, arrays, avars)
        except TypeError as e:
            raise TypeError(
                f"Binding inputs to tf.function failed due to `{e}`. Received args: {args} and "
                f"kwargs: {kwargs} for signature: {self._input_signature}."
            ) from None
        key = ("signature",) + tuple(arg_key(p, [], []) for p in params[n:])
        cf = self._cache.get(key)
        if cf is None:
            with self._lock:
                cf = self._cache.get(key)
                if cf is None:
                    flat = _flat_specs(self._input_signature)
                    specs = [(s.shape._dims, s.dtype.np) for s in flat]
                    full = tuple(self._input_signature) + tuple(params[n:])
                    cf = self._trace(full, arrays, avars, specs, key, self._explain(key))
                    self._cache[key] = cf
                    self._last_key = key
        return cf._call_flat(arrays, avars)

    # ---------------------------------------------------------------------------- traces
    def get_concrete_function(self, *args, **kwargs) -> ConcreteFunction:
        """The trace for these arguments (TensorSpecs or values), traced if needed (T16)."""
        if self._input_signature is not None and not args and not kwargs:
            args = tuple(self._input_signature)
        return self._lookup(args, kwargs)[0]

    def _lookup(self, args, kwargs):
        """The trace for a call (found or made) and the call's arrays and variables; the slow
        path used by ``get_concrete_function`` and calls inside a trace."""
        params = self._canonicalize(args, kwargs)
        arrays, avars = [], []
        key = tuple(arg_key(p, arrays, avars) for p in params)
        cf = self._cache.get(key)
        if cf is None:
            cf = self._miss(key, params, arrays, avars)
        return cf, arrays, avars

    def _trace(self, params, arrays, avars, specs, skeleton, reason,
               aliased=frozenset()) -> ConcreteFunction:  # fmt: skip
        if current_trace() is None:
            self._detector.on_trace(self._python_function, reason)
        first = self._first_created is None
        created: list = []
        cf = self._trace_once(params, arrays, avars, specs, created if first else None, aliased)
        if first:
            self._first_created = bool(created)
            if created:
                # TF's rule: a function that created variables is traced again with creation
                # disallowed; a body that creates them unconditionally fails here (V1).
                cf = self._trace_once(params, arrays, avars, specs, None, aliased)
        self._concrete.append((key_skeleton(skeleton), specs, cf))
        return cf

    def _policy(self, created: list | None):
        def policy(var):
            if created is not None:
                created.append(var)
            elif self._first_created:
                raise ValueError(_V1_MESSAGE)
            else:
                raise ValueError(_V4_MESSAGE)

        return policy

    def _trace_once(self, params, arrays, avars, specs, created, aliased) -> ConcreteFunction:
        self._trace_count += 1
        trace = Trace(self._name, creation_policy=self._policy(created))
        trace.features = self._features
        proxies = {id(v): self._proxy(i, v) for i, v in enumerate(avars) if id(v) not in aliased}
        with trace:
            inputs = iter(zip(arrays, specs))
            sym = tuple(_symbolic(p, inputs, trace, self._param_name(i), proxies)
                        for i, p in enumerate(params))  # fmt: skip
            args, kwargs = self._unbind(sym)
            result = self._converted()(*args, **kwargs)
            out_tree, out_leaves, structured = _collect_outputs(trace, result)
        slots = [proxies.get(id(v), v) for v in avars]
        return self._finish(trace, slots, out_tree, out_leaves, structured, sym, specs)

    def _proxy(self, index: int, var: Variable) -> Variable:
        """The stand-in traced for variable argument ``index``: the graph names the argument
        slot, never the variable passed when tracing (the body may also use that one by
        closure, spec T7). One per slot and spec, so a retrace (V2) sees the same object."""
        key = (index, var.dtype, tuple(var.shape), var._sharding)
        proxy = self._proxies.get(key)
        if proxy is None:
            proxy = self._proxies[key] = object.__new__(type(var))
        proxy.__dict__.update(var.__dict__)
        return proxy

    def _param_name(self, i: int) -> str:
        return self._param_names[i] if i < len(self._param_names) else f"arg{i}"

    def _converted(self) -> Callable:
        if not self._autograph:
            return self._python_function
        try:
            from .autograph import convert
        except ImportError:
            return self._python_function
        return convert(self._python_function)

    def _finish(self, trace, avars, out_tree, out_leaves, structured, sym, specs):
        graph = trace.graph
        touched = _touched_variables(graph)
        arg_ids = {id(v) for v in avars}
        captured = [v for v in touched if id(v) not in arg_ids]
        graph.variables = captured + list(avars)
        if config.VERIFY_GRAPHS:
            from .verify import verify

            verify(graph)
        lowered = LoweredGraph(graph, graph.variables)
        signature = (tuple(_spec_tree(p) for p in sym[: len(self._param_names) or None]), {})
        return ConcreteFunction(self, graph, lowered, captured, len(avars), out_tree, out_leaves,
                                specs, signature, structured)  # fmt: skip

    # --------------------------------------------------------------- calls inside a trace
    def _call_in_trace(self, args, kwargs):
        """A call while another function (or a TF1 graph) is being traced: the callee's graph
        is inlined as a ``call`` op, with its variable arguments bound to the caller's (T19)."""
        outer = current_trace()
        cf, arrays, avars = self._lookup(args, kwargs)
        traced_vars = cf.graph.variables[len(cf._captured) :]
        var_map = {id(a): b for a, b in zip(traced_vars, avars) if a is not b}
        region = clone(cf.graph, var_map)
        values = [outer.value_of(convert_to_tensor(a) if not isinstance(a, Tensor) else a)
                  for a in arrays]  # fmt: skip
        outs = outer.emit(call_p, values, {"fn": self._name}, [v.type for v in region.outputs],
                          regions=[region], name=self._name)  # fmt: skip
        leaves = [outs[x] if type(x) is int else x for x in cf._out_leaves]
        return cf._out_tree.unflatten(leaves)

    def __repr__(self):
        return f"<tracefn.function {self._name}>"


def _tensor_leaves(x) -> list:
    """The tensor-like leaves of call arguments, in the order ``arg_key`` collects their arrays."""
    if isinstance(x, (EagerTensor, jax.Array, np.ndarray, np.generic)):
        return [x]
    if isinstance(x, dict):
        return [t for k in sorted(x, key=repr) for t in _tensor_leaves(x[k])]
    if isinstance(x, (list, tuple)):
        return [t for e in x for t in _tensor_leaves(e)]
    return []


def _tensor_arg(a):
    return a if isinstance(a, Tensor) else convert_to_tensor(a)


def _touched_variables(graph: Graph) -> list:
    seen: dict[int, Any] = {}
    for op in graph.walk():
        var = op.attrs.get("var")
        if var is not None:
            seen.setdefault(id(var), var)
    return list(seen.values())


def _symbolic(p, inputs, trace: Trace, name: str, proxies: dict):
    """Replace the tensor leaves of argument ``p`` with the trace's inputs, in key order, and
    variable arguments with their slots' stand-ins."""
    t = type(p)
    if isinstance(p, Variable):
        return proxies.get(id(p), p)
    if t is EagerTensor or isinstance(p, (jax.Array, np.ndarray, np.generic, SymbolicTensor,
                                          TensorSpec)):  # fmt: skip
        array, (shape, dtype) = next(inputs)
        s = trace.new_input(TensorType(shape, dtype), name=name)
        if not isinstance(array, (TensorSpec, SymbolicTensor)):
            trace.concrete[id(s.value)] = array
        return s
    if isinstance(p, dict):  # inputs are consumed in key order; the dict keeps its own order
        mapped = {k: _symbolic(p[k], inputs, trace, name, proxies) for k in sorted(p, key=repr)}
        out = copy.copy(p)
        out.update((k, mapped[k]) for k in p)
        return out
    if isinstance(p, tuple) and hasattr(p, "_fields"):
        return t(*(_symbolic(e, inputs, trace, name, proxies) for e in p))
    if isinstance(p, (tuple, list)):
        items = [_symbolic(e, inputs, trace, name, proxies) for e in p]
        return t(items) if t in (tuple, list) else _rebuild_sequence(p, items)
    return p


def _rebuild_sequence(p, items):
    """A list/tuple subclass rebuilt from its traced items (a plain list if its constructor
    wants other arguments)."""
    try:
        return type(p)(items)
    except TypeError:
        return list(items)


def _spec_tree(p):
    if isinstance(p, SymbolicTensor):
        return TensorSpec(p.shape, p.dtype, name=p.name.split(":")[0])
    if type(p) in (list, tuple):
        return type(p)(_spec_tree(e) for e in p)
    if type(p) is dict:
        return {k: _spec_tree(v) for k, v in p.items()}
    return p


def _is_out_leaf(x) -> bool:
    return isinstance(x, (Tensor, Variable)) or hasattr(x, "_tracefn_read")


def _collect_outputs(trace: Trace, result):
    """Flatten the Python return value: tensors and variables (their final value, spec V6)
    become graph outputs, Python numbers become tensors, strings stay constants (T17)."""
    leaves, tree = jax.tree_util.tree_flatten(result, is_leaf=_is_out_leaf)
    out_leaves, structured, values = [], [], []
    for leaf in leaves:
        if isinstance(leaf, (str, bytes)):
            const = EagerTensor(np.asarray(leaf.encode() if isinstance(leaf, str) else leaf,
                                           dtype=object))  # fmt: skip
            out_leaves.append(const)
            structured.append(const)
            continue
        if isinstance(leaf, Variable):
            t = trace_read(trace, leaf)
        elif _is_out_leaf(leaf) or isinstance(leaf, (int, float, bool, np.ndarray, np.generic,
                                                     jax.Array)):  # fmt: skip
            t = convert_to_tensor(leaf)
        else:
            out_leaves.append(leaf)
            structured.append(leaf)
            continue
        values.append(trace.value_of(t))
        out_leaves.append(len(values) - 1)
        structured.append(t)
    trace.graph.outputs = values
    return tree, out_leaves, tree.unflatten(structured)


def _flat_specs(signature) -> list:
    out = []
    for s in signature:
        if isinstance(s, TensorSpec):
            out.append(s)
        elif isinstance(s, (list, tuple)):
            out += _flat_specs(s)
        elif isinstance(s, dict):
            out += _flat_specs([s[k] for k in sorted(s, key=repr)])
    return out


def _bind_to_spec(p, spec, arrays: list, avars: list) -> None:
    """Check and convert one argument against an ``input_signature`` entry (T11)."""
    if isinstance(spec, TensorSpec):
        if isinstance(p, Variable):
            t = p._tracefn_read()  # exposed: a call that writes it copies before donating
        elif isinstance(p, Tensor):
            t = p
        else:
            try:
                t = convert_to_tensor(p, dtype=spec.dtype)
            except TypeError:
                raise TypeError(f"Cannot convert {p!r} to EagerTensor of dtype "
                                f"{spec.dtype.name}") from None  # fmt: skip
        got = TensorSpec(t.shape, t.dtype)
        if t.dtype != spec.dtype or not spec.shape.is_compatible_with(t.shape):
            raise TypeError(f"Can not cast {got} to {spec}")
        arrays.append(t._array)
    elif isinstance(spec, (list, tuple)):
        if not isinstance(p, (list, tuple)) or len(p) != len(spec):
            raise TypeError(f"Can not cast {p!r} to {spec!r}")
        for a, s in zip(p, spec):
            _bind_to_spec(a, s, arrays, avars)
    elif isinstance(spec, dict):
        if not isinstance(p, dict) or set(p) != set(spec):
            raise TypeError(f"{p!r} has different keys with the TraceType Dict[{spec!r}]")
        for k in sorted(spec, key=repr):
            _bind_to_spec(p[k], spec[k], arrays, avars)
    else:
        raise TypeError(f"Unsupported input_signature entry {spec!r}")


# ------------------------------------------------------------------------------ decorator


def function(func: Callable | None = None, input_signature=None, autograph: bool = True,
             jit_compile=None, reduce_retracing: bool = False, experimental_relax_shapes=None,
             experimental_autograph_options=None, name: str | None = None,
             steps_per_execution: int | None = None, experimental_implements=None,
             experimental_attributes=None, experimental_follow_type_hints=None):  # fmt: skip
    """Compile ``func`` (TF's ``tf.function``): trace it per input signature into tracefn's IR
    and run it as one XLA program with the variables it touches threaded through.

    >>> import tracefn as tf
    >>> v = tf.Variable(0)
    >>> @tf.function
    ... def step(): v.assign_add(1); return v.read_value()
    >>> int(step())
    1

    ``steps_per_execution=K`` compiles K steps into one call over K stacked batches (a
    ``lax.scan``; see ``tracefn.fused.multi_step``).
    """

    def decorate(fn):
        if steps_per_execution is not None:
            from .fused import multi_step  # the fused layer sits above this module

            return multi_step(fn, steps_per_execution=steps_per_execution)
        return Function(fn, input_signature=input_signature, autograph=autograph,
                        reduce_retracing=reduce_retracing,
                        experimental_relax_shapes=experimental_relax_shapes,
                        experimental_autograph_options=experimental_autograph_options,
                        name=name)  # fmt: skip

    return decorate if func is None else decorate(func)
