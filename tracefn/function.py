"""``tracefn.function``: trace Python into a graph once per call signature, run it compiled.

A call builds the cache key from its arguments (tensors by shape and dtype, Python scalars by
type and value, containers structurally, variables by spec and aliasing, other objects by
identity), finds or traces a ``ConcreteFunction`` and runs its jitted program: the arrays of
the variables it touches go in, the written ones come back and are stored. The hot path is one
key walk, one dict lookup, one list of arrays, one jitted call and one write-back loop.
"""

from __future__ import annotations

import collections
import functools
import inspect
import logging
import threading
import types
import weakref
from typing import Any, Callable, Sequence

import jax
import numpy as np

from . import config
from .errors import InvalidArgumentError
from .ir import Graph, Primitive, TensorType, clone, register
from .lowering import LoweredGraph
from .tensor import EagerTensor, SymbolicTensor, Tensor, TensorShape, TensorSpec
from .tracing import Trace, convert_to_tensor, current_trace
from .variables import EXPOSED, STATE, STATE_LOCK, Variable, trace_read, unshare
from .tracing import _tls

__all__ = ["function", "Function", "ConcreteFunction"]

logger = logging.getLogger("tracefn")

_V1_MESSAGE = (
    "tf.function only supports singleton tf.Variables created on the first call. Make sure the "
    "tf.Variable is only created once or created outside tf.function. See "
    "https://www.tensorflow.org/guide/function#creating_tfvariables for more information."
)
_V4_MESSAGE = "Creating variables on a non-first call to a function decorated with tf.function."


# ---------------------------------------------------------------------------------- keys


class _WeakKey:
    """Keys an arbitrary object by identity (or its own ``__eq__``/``__hash__``) through a
    weak reference, so a trace keyed on a dead object can never match again (spec T6)."""

    __slots__ = ("ref", "hash", "__weakref__")

    def __init__(self, obj):
        try:
            self.ref = weakref.ref(obj)
        except TypeError:
            self.ref = lambda obj=obj: obj  # not weak-referenceable: hold it
        try:
            custom = type(obj).__hash__ is not object.__hash__
            self.hash = hash(obj) if custom else id(obj)
        except TypeError:
            self.hash = id(obj)

    def __hash__(self):
        return self.hash

    def __eq__(self, other):
        if not isinstance(other, _WeakKey):
            return False
        a, b = self.ref(), other.ref()
        if a is None or b is None:
            return False
        return a is b or (type(a).__eq__ is not object.__eq__ and _safe_eq(a, b))

    def __repr__(self):
        return f"<object {self.ref()!r}>"


def _safe_eq(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


_SCALARS = frozenset({int, float, bool, str, bytes, type(None), complex})


def _key(x, arrays: list, avars: list):
    """The cache key of one argument; appends its arrays and variables (in order)."""
    t = type(x)
    if t is EagerTensor:
        a = x._array
        arrays.append(a)
        return ("T", a.shape, a.dtype)
    if t in _SCALARS:
        return (t, x)
    if t is tuple or t is list:
        return (t, tuple([_key(e, arrays, avars) for e in x]))
    if t is dict:
        return (dict, tuple([(k, _key(x[k], arrays, avars)) for k in sorted(x, key=repr)]))
    if isinstance(x, Variable):
        for i, u in enumerate(avars):
            if u is x:
                return ("alias", i)
        avars.append(x)
        return (Variable, x.dtype.np, tuple(x.shape))
    if isinstance(x, (jax.Array, np.ndarray, np.generic)) and not isinstance(x, jax.core.Tracer):
        a = x if isinstance(x, jax.Array) else convert_to_tensor(x)._array
        arrays.append(a)
        return ("T", a.shape, a.dtype)
    if isinstance(x, SymbolicTensor):
        arrays.append(x)
        return ("T", x.shape._dims, x.dtype.np)
    if isinstance(x, TensorSpec):
        arrays.append(x)
        return ("T", x.shape._dims, x.dtype.np)
    if isinstance(x, tuple):  # namedtuple
        return (t, tuple([_key(e, arrays, avars) for e in x]))
    return _WeakKey(x)


def _skeleton(key):
    """The key with tensor entries replaced by ``"T"``: calls with equal skeletons differ only
    in tensor shapes, so they may share a trace with relaxed shapes (T12, T13)."""
    if type(key) is tuple:
        if len(key) == 3 and key[0] == "T":
            return "T"
        return tuple(_skeleton(k) for k in key)
    return key


def _spec_of(a) -> tuple:
    if isinstance(a, TensorSpec):
        return (a.shape._dims, a.dtype.np)
    if isinstance(a, SymbolicTensor):
        return (a.shape._dims, a.dtype.np)
    return (tuple(a.shape), a.dtype)


def _compatible(spec: tuple, call: tuple) -> bool:
    shape, dtype = spec
    if dtype != call[1]:
        return False
    if shape is None:
        return True
    if call[0] is None or len(shape) != len(call[0]):
        return False
    return all(d is None or d == c for d, c in zip(shape, call[0]))


def _relax(old: tuple, new: tuple) -> tuple:
    return (TensorShape(old[0]).most_specific_compatible_shape(TensorShape(new[0]))._dims, new[1])


# --------------------------------------------------------------------- retrace explanation


def describe_change(old, new, path: str) -> list[str]:
    """Human-readable differences between two argument keys (why a call retraced)."""
    if old == new:
        return []
    if type(old) is tuple and type(new) is tuple and old and new:
        if old[0] == "T" and new[0] == "T":
            parts = []
            if old[2] != new[2]:
                parts.append(f"{path}: dtype {np.dtype(old[2]).name} -> {np.dtype(new[2]).name}")
            if old[1] != new[1]:
                parts.append(f"{path}: shape {_shape_str(old[1])} -> {_shape_str(new[1])}")
            return parts
        if old[0] in _SCALARS and new[0] in _SCALARS:
            return [f"{path}: Python value {old[1]!r} -> {new[1]!r}"]
        if old[0] is Variable and new[0] is Variable:
            return [f"{path}: variable spec {old[1:]} -> {new[1:]}"]
        if old[0] == new[0] and old[0] in (list, tuple, dict) and len(old[1]) == len(new[1]):
            return _describe_container(old, new, path)
    if isinstance(old, _WeakKey) and isinstance(new, _WeakKey):
        return [f"{path}: a different Python object (objects are keyed by identity)"]
    return [f"{path}: {_kind(old)} -> {_kind(new)}"]


def _describe_container(old, new, path):
    out = []
    for i, (a, b) in enumerate(zip(old[1], new[1])):
        if old[0] is dict:
            out += describe_change(a[1], b[1], f"{path}[{a[0]!r}]")
        else:
            out += describe_change(a, b, f"{path}[{i}]")
    return out


def _shape_str(shape) -> str:
    return str(TensorShape(shape))


def _kind(k) -> str:
    if type(k) is tuple and k:
        if k[0] == "T":
            return f"tensor {_shape_str(k[1])} {np.dtype(k[2]).name}"
        if k[0] in _SCALARS:
            return f"Python {k[0].__name__} {k[1]!r}"
        if k[0] is Variable:
            return "a variable"
        if k[0] == "alias":
            return f"the same variable as variable argument #{k[1]}"
        return f"a {getattr(k[0], '__name__', k[0])}"
    return "a Python object"


class _RetraceDetector:
    """Counts calls and traces per Python code object (shared by every Function wrapping the
    same code, as in TF) and warns, at most twice, when most recent calls retraced (T15)."""

    __slots__ = ("calls", "traces", "warnings")

    def __init__(self):
        self.calls = 0
        self.traces: collections.deque = collections.deque(maxlen=10)
        self.warnings = 0

    def on_trace(self, fn, reason: str) -> None:
        self.traces.append(self.calls)
        window = min(self.calls, 10)
        traced = sum(1 for c in self.traces if c > self.calls - window)
        if traced >= 5 and self.warnings < 2:
            self.warnings += 1
            logger.warning(
                f"{traced} out of the last {window} calls to {fn} triggered tf.function "
                "retracing. Tracing is expensive and the excessive number of tracings could be "
                "due to (1) creating @tf.function repeatedly in a loop, (2) passing tensors with "
                "different shapes, (3) passing Python objects instead of tensors. For (1), "
                "please define your @tf.function outside of the loop. For (2), @tf.function has "
                "reduce_retracing=True option that can avoid unnecessary retracing. For (3), "
                "please refer to https://www.tensorflow.org/guide/function#controlling_retracing"
                " and https://www.tensorflow.org/api_docs/python/tf/function for  more details."
                + (f" Last retrace: {reason}." if reason else "")
            )


_detectors: "weakref.WeakKeyDictionary[Any, _RetraceDetector]" = weakref.WeakKeyDictionary()


def _detector_for(fn) -> _RetraceDetector:
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
    if code is None:
        return _RetraceDetector()
    det = _detectors.get(code)
    if det is None:
        det = _detectors[code] = _RetraceDetector()
    return det


# -------------------------------------------------------------------- concrete functions


class ConcreteFunction:
    """One trace of a function: its IR graph and the compiled program.

    ``graph`` prints the IR (variables read and written in its header); ``as_text()`` gives the
    compiled program's StableHLO; calling it checks the arguments against
    ``structured_input_signature``."""

    def __init__(self, function, graph: Graph, lowered: LoweredGraph, captured: list,
                 n_arg_vars: int, out_tree, out_leaves: list, input_specs: list,
                 structured_input_signature, structured_outputs):  # fmt: skip
        self._function = function
        self.graph = graph
        self._lowered = lowered
        self._jitted = lowered.jitted
        self._captured = captured
        self._captured_ids = frozenset(id(v) for v in captured)
        self._n_arg_vars = n_arg_vars
        self._n_out = lowered.n_out
        self._written_pos = lowered.written
        self._written_captured = [captured[i] for i in lowered.written if i < len(captured)]
        self._out_tree = out_tree
        self._out_leaves = out_leaves  # ints: graph output index; others: constants
        self._plain_outputs = all(type(x) is int for x in out_leaves)
        self._single = out_tree.num_leaves == 1 and jax.tree_util.treedef_is_leaf(out_tree)
        self._single_plain = self._single and self._plain_outputs
        self._state: list = []
        self._state_version = -1
        self._input_specs = input_specs  # flat (shape, dtype) of the tensor inputs
        self.structured_input_signature = structured_input_signature
        self.structured_outputs = structured_outputs

    # --- the hot path
    def _call_flat(self, arrays: Sequence, avars: Sequence) -> Any:
        if avars:
            return self._call_with_arg_vars(arrays, avars)
        written = self._written_captured
        n = self._n_out
        with STATE_LOCK:
            if EXPOSED and unshare(written):
                self._state_version = -1
            if self._state_version == STATE.version:
                state = self._state  # nothing else wrote a variable since our last call
            else:
                state = self._state = [v._value for v in self._captured]
            self._state_version = -1  # the call donates buffers in `state`
            res = self._jitted(*state, *arrays)
            for v, a, i in zip(written, res[n:], self._written_pos):
                v._value = a
                state[i] = a
            STATE.version += 1
            self._state_version = STATE.version
        if self._single_plain:
            return EagerTensor(res[0])
        return self._build_outputs(res)

    def _call_with_arg_vars(self, arrays, avars):
        vs = self._captured + list(avars)
        written = [vs[i] for i in self._written_pos]
        with STATE_LOCK:
            if EXPOSED:
                unshare(written)
            res = self._jitted(*[v._value for v in vs], *arrays)
            for v, a in zip(written, res[self._n_out :]):
                v._value = a
            STATE.version += 1
        if self._single_plain:
            return EagerTensor(res[0])
        return self._build_outputs(res)

    def _build_outputs(self, res):
        leaves = [EagerTensor(res[x]) if type(x) is int else x for x in self._out_leaves]
        return self._out_tree.unflatten(leaves)

    # --- direct calls
    def __call__(self, *args, **kwargs):
        specs_args = self.structured_input_signature[0]
        params = self._function._bind_partial(args, kwargs, specs_args)
        arrays, avars = [], []
        names = self._function._param_names
        for i, (p, spec) in enumerate(zip(params, specs_args)):
            name = names[i] if i < len(names) else f"#{i}"
            _check_against(p, spec, name, arrays, avars)
        return self._call_flat(arrays, avars)

    # --- introspection
    @property
    def variables(self) -> list:
        return list(self.graph.variables)

    @property
    def trainable_variables(self) -> list:
        return [v for v in self.graph.variables if v.trainable]

    @property
    def captured_inputs(self) -> list:
        return list(self._captured)

    @property
    def outputs(self) -> list:
        return [x for x in jax.tree_util.tree_leaves(self.structured_outputs)
                if isinstance(x, Tensor)]  # fmt: skip

    @property
    def inputs(self) -> list:
        return list(self.graph.inputs)

    @property
    def name(self) -> str:
        return self.graph.name

    def as_text(self, dialect: str = "stablehlo") -> str:
        """The compiled program of this trace as StableHLO text (MLIR), for the current
        variables and the traced input shapes (unknown dims need real arguments: use
        ``function.experimental_get_compiler_ir`` style calls with concrete inputs)."""
        vs = self._captured + [v for v in self.graph.variables[len(self._captured):]]
        avals = [jax.ShapeDtypeStruct(v._value.shape, v._value.dtype) for v in vs]
        for shape, dtype in self._input_specs:
            if shape is None or None in shape:
                raise ValueError("as_text() needs fully known input shapes; this trace has "
                                 f"an input of shape {_shape_str(shape)}.")  # fmt: skip
            avals.append(jax.ShapeDtypeStruct(shape, dtype))
        return self._lowered.as_text(*avals, dialect=dialect)

    def pretty_printed_signature(self) -> str:
        names = self._function._param_names
        lines = ["Input Parameters:"]
        for i, spec in enumerate(self.structured_input_signature[0]):
            name = names[i] if i < len(names) else f"arg{i}"
            shown = spec if isinstance(spec, (TensorSpec, Variable)) else f"Literal[{spec!r}]"
            lines.append(f"  {name} (POSITIONAL_OR_KEYWORD): {shown}")
        lines.append("Output Type:")
        lines.append(f"  {self.structured_outputs!r}")
        lines.append("Captures:")
        lines += [f"  {v.name}: {TensorSpec(v.shape, v.dtype)}" for v in self._captured] or [
            "  None"
        ]
        return "\n".join(lines)

    def __repr__(self):
        return f"<ConcreteFunction {self.graph.name} at 0x{id(self):X}>"


def _check_against(p, spec, name, arrays, avars):
    """Check one argument of a direct ConcreteFunction call (section 8: shapes are checked)."""
    if isinstance(spec, TensorSpec):
        if isinstance(p, Variable) or hasattr(p, "_tracefn_array"):
            t = EagerTensor(p._tracefn_array())
        elif isinstance(p, Tensor):
            t = p
        elif isinstance(p, (int, float, bool, list, tuple, np.ndarray)):
            got = convert_to_tensor(p)
            if not spec.is_compatible_with(got):
                raise TypeError(f"Can not cast {TensorSpec(got.shape, got.dtype)} to {spec} "
                                f"(argument {name!r})")  # fmt: skip
            t = convert_to_tensor(p, dtype=spec.dtype)
        else:
            raise TypeError(f"Argument {name!r} must be a tensor matching {spec}, got {p!r}")
        if t.dtype != spec.dtype:
            raise InvalidArgumentError(
                f"cannot compute {name!r}: argument {name!r} was expected to be a "
                f"{spec.dtype.name} tensor but is a {t.dtype.name} tensor"
            )
        if not spec.shape.is_compatible_with(t.shape):
            raise TypeError(f"Argument {name!r}: expected a tensor compatible with {spec}, got "
                            f"shape {t.shape} ({TensorSpec(t.shape, t.dtype)}).")  # fmt: skip
        arrays.append(t._array)
    elif isinstance(spec, Variable):
        if not isinstance(p, Variable) or p.dtype != spec.dtype or p.shape != spec.shape:
            raise TypeError(f"Argument {name!r} must be a variable like {spec!r}, got {p!r}")
        avars.append(p)
    elif isinstance(spec, (list, tuple)) and isinstance(p, (list, tuple)):
        if len(p) != len(spec):
            raise TypeError(f"Argument {name!r}: expected {len(spec)} elements, got {len(p)}")
        for i, (a, s) in enumerate(zip(p, spec)):
            _check_against(a, s, f"{name}[{i}]", arrays, avars)
    elif isinstance(spec, dict) and isinstance(p, dict):
        if set(p) != set(spec):
            raise TypeError(f"Argument {name!r} has different keys: {sorted(p)} vs {sorted(spec)}")
        for k in sorted(spec, key=repr):
            _check_against(p[k], spec[k], f"{name}[{k!r}]", arrays, avars)
    elif type(p) is not type(spec) or p != spec:
        raise TypeError(f"Can not cast {p!r} to Literal[{spec!r}] (argument {name!r})")


# ---------------------------------------------------------------------- nested function call


def _lower_call(ctx, op, ins):
    (region,) = op.regions
    outs, _ = ctx.run_region(region, ins, state=ctx.state)
    return outs


call_p = register(Primitive("call", lower=_lower_call, regions=("body",)))


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
        self._autograph_options = experimental_autograph_options
        self._reduce_retracing = bool(reduce_retracing or experimental_relax_shapes)
        self._input_signature = None if input_signature is None else list(input_signature)
        self._cache: dict = {}
        self._concrete: list = []  # (skeleton, specs, cf), newest last
        self._last_key = None
        self._trace_count = 0
        self._first_created: bool | None = None
        self._lock = threading.RLock()
        self._detector = _detector or _detector_for(python_function)
        self._bound: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
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

    # ---------------------------------------------------------------- descriptor (T8)
    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        try:
            return self._bound[instance]
        except (KeyError, TypeError):
            pass
        bound = Function(types.MethodType(self._python_function, instance),
                         input_signature=self._input_signature, autograph=self._autograph,
                         reduce_retracing=self._reduce_retracing, name=self._name,
                         _detector=self._detector)  # fmt: skip
        try:
            self._bound[instance] = bound
        except TypeError:
            pass
        return bound

    @property
    def python_function(self) -> Callable:
        return self._python_function

    def experimental_get_tracing_count(self) -> int:
        """How many times this function traced its Python body."""
        return self._trace_count

    # ------------------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        if config.RUN_EAGERLY:
            return self._python_function(*args, **kwargs)
        if _tls.stack:
            return self._call_in_trace(args, kwargs)
        self._detector.calls += 1
        if self._input_signature is not None:
            return self._call_with_signature(args, kwargs)
        params = args if (not kwargs and len(args) == self._n_pos) else (
            self._canonicalize(args, kwargs))  # fmt: skip
        arrays: list = []
        avars: list = []
        key = tuple([_key(p, arrays, avars) for p in params])
        cf = self._cache.get(key)
        if cf is None:
            cf = self._miss(key, params, arrays, avars)
        elif avars and cf._captured_ids and not cf._captured_ids.isdisjoint(map(id, avars)):
            cf = self._alias_miss(key, params, arrays, avars, cf)
        return cf._call_flat(arrays, avars)

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

    def _miss(self, key, params, arrays, avars) -> ConcreteFunction:
        with self._lock:
            cf = self._cache.get(key)
            if cf is not None:
                return cf
            skeleton = _skeleton(key)
            call_specs = [_spec_of(a) for a in arrays]
            cf = self._find_compatible(skeleton, call_specs)
            if cf is None:
                specs = self._relaxed_specs(skeleton, call_specs)
                reason = self._explain(key)
                cf = self._trace(params, arrays, avars, specs, skeleton, reason)
            self._cache[key] = cf
            self._last_key = key
            return cf

    def _alias_miss(self, key, params, arrays, avars, cf):
        # A variable argument is also a variable the trace captured: a different aliasing
        # pattern, so it gets its own trace (T7).
        alias = tuple(i for i, v in enumerate(avars) if id(v) in cf._captured_ids)
        return self._miss(key + (("captured-alias", alias),), params, arrays, avars)

    def _find_compatible(self, skeleton, call_specs):
        best = None
        for skel, specs, cf in self._concrete:
            if skel == skeleton and all(map(_compatible, specs, call_specs)):
                unknown = sum(s[0] is None or None in s[0] for s in specs)
                if best is None or unknown < best[0]:
                    best = (unknown, cf)  # the most specific match (T13)
        return None if best is None else best[1]

    def _relaxed_specs(self, skeleton, call_specs):
        if not self._reduce_retracing:
            return call_specs
        for skel, specs, _ in reversed(self._concrete):
            if skel == skeleton:
                return [_relax(a, b) for a, b in zip(specs, call_specs)]
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
        key = ("signature",) + tuple(_key(p, [], []) for p in params[n:])
        cf = self._cache.get(key)
        if cf is None:
            with self._lock:
                cf = self._cache.get(key)
                if cf is None:
                    specs = [(s.shape._dims, s.dtype.np) for s in _flat_specs(self._input_signature)]
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
        params = self._canonicalize(args, kwargs)
        arrays, avars = [], []
        key = tuple(_key(p, arrays, avars) for p in params)
        cf = self._cache.get(key)
        if cf is None:
            cf = self._miss(key, params, arrays, avars)
        return cf

    def _trace(self, params, arrays, avars, specs, skeleton, reason) -> ConcreteFunction:
        if current_trace() is None:
            self._detector.on_trace(self._python_function, reason)
        first = self._first_created is None
        created: list = []
        cf = self._trace_once(params, arrays, avars, specs, created if first else None)
        if first:
            self._first_created = bool(created)
            if created:
                # TF's rule: a function that created variables is traced again with creation
                # disallowed; a body that creates them unconditionally fails here (V1).
                cf = self._trace_once(params, arrays, avars, specs, None)
        self._concrete.append((_skeleton(skeleton), specs, cf))
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

    def _trace_once(self, params, arrays, avars, specs, created) -> ConcreteFunction:
        self._trace_count += 1
        trace = Trace(self._name, creation_policy=self._policy(created))
        with trace:
            inputs = iter(zip(arrays, specs))
            sym = tuple(_symbolic(p, inputs, trace, self._param_name(i))
                        for i, p in enumerate(params))  # fmt: skip
            args, kwargs = self._unbind(sym)
            result = self._converted()(*args, **kwargs)
            out_tree, out_leaves, structured = _collect_outputs(trace, result)
        return self._finish(trace, avars, out_tree, out_leaves, structured, sym, specs)

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
        params = self._canonicalize(args, kwargs)
        arrays, avars = [], []
        key = tuple(_key(p, arrays, avars) for p in params)
        cf = self._cache.get(key)
        if cf is None:
            cf = self._miss(key, params, arrays, avars)
        traced_vars = cf.graph.variables[len(cf._captured):]
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


def _touched_variables(graph: Graph) -> list:
    seen: dict[int, Any] = {}
    for op in graph.walk():
        var = op.attrs.get("var")
        if var is not None:
            seen.setdefault(id(var), var)
    return list(seen.values())


def _symbolic(p, inputs, trace: Trace, name: str):
    """Replace the tensor leaves of argument ``p`` with the trace's inputs, in key order."""
    t = type(p)
    if t is EagerTensor or isinstance(p, (jax.Array, np.ndarray, np.generic, SymbolicTensor,
                                          TensorSpec)):  # fmt: skip
        array, (shape, dtype) = next(inputs)
        s = trace.new_input(TensorType(shape, dtype), name=name)
        if not isinstance(array, (TensorSpec, SymbolicTensor)):
            trace.concrete[id(s.value)] = array
        return s
    if t is tuple or t is list:
        return t(_symbolic(e, inputs, trace, name) for e in p)
    if t is dict:
        return {k: _symbolic(p[k], inputs, trace, name) for k in sorted(p, key=repr)}
    if isinstance(p, tuple) and hasattr(p, "_fields"):
        return t(*(_symbolic(e, inputs, trace, name) for e in p))
    return p


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
            t = EagerTensor(p._value)
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
             experimental_autograph_options=None, name: str | None = None, **kwargs):  # fmt: skip
    """Compile ``func`` (TF's ``tf.function``): trace it per input signature into tracefn's IR
    and run it as one XLA program with the variables it touches threaded through.

    >>> import tracefn as tf
    >>> v = tf.Variable(0)
    >>> @tf.function
    ... def step(): v.assign_add(1); return v.read_value()
    >>> int(step())
    1
    """
    def decorate(fn):
        return Function(fn, input_signature=input_signature, autograph=autograph,
                        reduce_retracing=reduce_retracing,
                        experimental_relax_shapes=experimental_relax_shapes,
                        experimental_autograph_options=experimental_autograph_options,
                        name=name)  # fmt: skip

    return decorate if func is None else decorate(func)

