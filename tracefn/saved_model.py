"""Export compiled functions with their variables: ``tracefn.saved_model.save`` / ``load``.

``save(obj, path)`` serializes, with ``jax.export``, the StableHLO of every trace of the
``tracefn.function``s found on ``obj`` (and of the given ``signatures``) as a pure function
``(state_arrays, input_arrays) -> (outputs, written_state)`` built from the trace's lowered
graph; ``None`` dimensions of the input specs become symbolic dimensions (shape polymorphism).
The values of the variables the traces capture are saved with ``checkpoint_storage``, keyed by
their object path from ``obj``. The directory is written under a staging name and renamed when
complete.

``load(path)`` needs neither the defining Python module nor its source: it creates fresh
``tracefn.Variable``s with the saved values, rebuilds the object's attribute tree of variables,
and attaches callables that pick the trace matching their arguments, run the deserialized
``Exported.call`` on the variables' current values and assign the written state back.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import export as jax_export

from . import checkpoint_storage as storage
from .checkpoint import snapshot
from .checkpoint_async import WRITER
from .checkpoint_graph import _children, named_variables
from .concrete import ConcreteFunction
from .errors import NotFoundError
from .function import Function
from .tensor import EagerTensor, Tensor, TensorSpec
from .tracing import convert_to_tensor
from .variables import STATE_LOCK, Variable

__all__ = ["save", "load", "LoadedFunction"]

logger = logging.getLogger("tracefn")

FORMAT = "tracefn-saved-model"
VERSION = 1
META_FILE = "saved_model.json"


# ----------------------------------------------------------------------------------- save


def save(obj: Any, export_dir: str, signatures=None, options=None,
         platforms: list[str] | None = None) -> None:  # fmt: skip
    """Export ``obj``'s traced ``tracefn.function``s and the variables they use.

    ``signatures``: a ``tracefn.function`` with an ``input_signature``, a ``ConcreteFunction``,
    or a dict ``{name: either}`` (a single one is named ``serving_default``). ``platforms``
    (e.g. ``["cpu", "cuda"]``) defaults to the current backend.

    >>> import tracefn as tf, tempfile
    >>> class Counter(tf.Module):
    ...     def __init__(self):
    ...         super().__init__(); self.n = tf.Variable(0)
    ...     @tf.function(input_signature=[])
    ...     def step(self):
    ...         self.n.assign_add(1); return self.n.read_value()
    >>> d = tempfile.mkdtemp() + "/m"
    >>> save(Counter(), d)
    >>> int(load(d).step())
    1
    """
    export_dir = os.path.abspath(os.fspath(export_dir))
    functions = _function_traces(obj)
    sigs = _signature_traces(signatures)
    all_cfs = [cf for cfs in functions.values() for cf in cfs] + list(sigs.values())
    variables = _captured_variables(all_cfs)
    keys = _variable_keys(obj, variables)
    staging = f"{export_dir}{storage.STAGING}-{os.getpid()}"
    storage.rmtree(staging)
    try:
        _write_staged(staging, functions, sigs, variables, keys, platforms)
    except BaseException:
        storage.rmtree(staging)  # nothing half-written is left behind
        raise
    storage.replace_dir(staging, export_dir)


def _write_staged(staging, functions, sigs, variables, keys, platforms) -> None:
    os.makedirs(os.path.join(staging, "functions"))
    index = {id(v): i for i, v in enumerate(variables)}
    files = _Files(staging, platforms)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "variables": [
            {"key": k, "name": v._name, "trainable": v.trainable} for k, v in zip(keys, variables)
        ],  # fmt: skip
        "functions": {n: [files.add(n, cf, index) for cf in cfs] for n, cfs in functions.items()},
        "signatures": {n: files.add(n, cf, index) for n, cf in sigs.items()},
    }
    WRITER.wait()
    values = snapshot(variables)
    storage.write(os.path.join(staging, "variables"), dict(zip(keys, values)),
                  {"kind": "saved_model"})  # fmt: skip
    with open(os.path.join(staging, META_FILE), "w") as f:
        json.dump(meta, f, indent=1)


def _function_traces(obj) -> dict[str, list[ConcreteFunction]]:
    """``{attribute name: traces}`` for the ``tracefn.function``s on ``obj``: every trace made
    so far, or the one for its ``input_signature`` when it was never called."""
    names = sorted({n for n in dir(type(obj)) if isinstance(getattr(type(obj), n, None), Function)}
                   | {n for n, v in vars(obj).items() if isinstance(v, Function)}
                   if hasattr(obj, "__dict__") else set())  # fmt: skip
    out = {}
    for name in names:
        if name.startswith("_") and name != "__call__":
            continue
        fn = getattr(obj, name)
        cfs = [cf for _, _, cf in fn._concrete if not cf._n_arg_vars]
        if not cfs and fn._input_signature is not None:
            cfs = [fn.get_concrete_function()]
        if cfs:
            out[name] = cfs
        else:
            logger.warning("tracefn.saved_model: %s was never traced and has no "
                           "input_signature; it is not exported.", name)  # fmt: skip
    return out


def _signature_traces(signatures) -> dict[str, ConcreteFunction]:
    if signatures is None:
        return {}
    if not isinstance(signatures, dict):
        signatures = {"serving_default": signatures}
    out = {}
    for name, s in signatures.items():
        if isinstance(s, Function):
            if s._input_signature is None:
                raise ValueError(f"Signature {name!r}: a tracefn.function needs an "
                                 "input_signature to be exported as a signature; pass "
                                 "fn.get_concrete_function(specs) instead.")  # fmt: skip
            s = s.get_concrete_function()
        if not isinstance(s, ConcreteFunction):
            raise TypeError(f"Signature {name!r} must be a tracefn.function or a "
                            f"ConcreteFunction, got {type(s).__name__}.")  # fmt: skip
        if s._n_arg_vars:
            raise ValueError(f"Signature {name!r} takes variables as arguments; exported "
                             "functions can only use variables they capture.")  # fmt: skip
        out[name] = s
    return out


def _captured_variables(cfs) -> list[Variable]:
    seen: dict[int, Variable] = {}
    for cf in cfs:
        for v in cf._captured:
            seen.setdefault(id(v), v)
    return list(seen.values())


def _variable_keys(obj, variables: list[Variable]) -> list[str]:
    """Each variable's object path from ``obj``; variables ``obj`` does not reach (captured
    from elsewhere) are kept under ``_untracked/<name>``."""
    roots = {name: child for name, child, _ in _children(obj)}
    path_of = {id(v): k for k, v in named_variables(roots).items()}
    keys, used = [], set()
    for v in variables:
        key = path_of.get(id(v)) or f"_untracked/{v._name}"
        base, n = key, 1
        while key in used:
            key, n = f"{base}_{n}", n + 1
        used.add(key)
        keys.append(key)
    return keys


class _Files:
    """Exports traces into ``<dir>/functions/<n>.bin`` and describes them in JSON."""

    def __init__(self, directory: str, platforms):
        self.directory = directory
        self.platforms = platforms
        self.count = 0
        self.done: dict[int, dict] = {}

    def add(self, name: str, cf: ConcreteFunction, index: dict[int, int]) -> dict:
        if id(cf) in self.done:
            return self.done[id(cf)]
        exported, shared_batch = _export(name, cf, self.platforms)
        file = f"functions/{self.count}.bin"
        self.count += 1
        with open(os.path.join(self.directory, file), "wb") as f:
            f.write(exported.serialize())
        entry = {
            "file": file,
            "state": [index[id(v)] for v in cf._captured],
            "written": list(cf._lowered.written),
            "n_out": cf._n_out,
            "shared_batch": shared_batch,
            "params": list(cf._function._param_names),
            "inputs": [_encode_input(s, name) for s in cf.structured_input_signature[0]],
            "outputs": _encode_output(cf, name),
        }
        self.done[id(cf)] = entry
        return entry


# ------------------------------------------------------------------------------ exporting


def _export(name: str, cf: ConcreteFunction, platforms) -> tuple[jax_export.Exported, bool]:
    """``jax.export`` of the trace as ``(state, args) -> (outputs, written_state)``, and
    whether its inputs share one leading (batch) dimension. Unknown dimensions become symbols:
    first each its own; if the program needs some of them equal (``x @ w - y`` with ``x`` and
    ``y`` of unknown batch size), then one ``batch`` symbol for every unknown leading one."""
    lowered, n_out = cf._lowered, cf._n_out

    def pure(state, args):
        res = lowered._fn(*state, *args)
        return list(res[:n_out]), list(res[n_out:])

    state = [jax.ShapeDtypeStruct(v._value.shape, v._value.dtype) for v in cf._captured]
    failures = []
    for shared in (False, True):
        try:
            args = _arg_avals(cf._input_specs, shared)
            return jax_export.export(jax.jit(pure), platforms=platforms)(state, args), shared
        except Exception as e:  # jax raises many types for programs it cannot export
            failures.append(f"{type(e).__name__}: {_first_line(e)}")
            if not any(s and s[0] is None for s, _ in cf._input_specs):
                break  # no unknown leading dimension to share
    raise ValueError(f"Cannot export {name!r} (trace {cf.graph.name!r}) with jax.export: "
                     + "; then, with a shared batch dimension: ".join(failures)
                     + ". (Programs that call back into Python, like tracefn.print, cannot be "
                     "exported.)")  # fmt: skip


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


def _arg_avals(specs, shared_batch: bool) -> list:
    """Input shapes for ``jax.export``: ``None`` dims become symbols ``d<input>_<axis>``, or
    ``batch`` for every leading one when ``shared_batch``."""
    names = {}
    for i, (shape, _) in enumerate(specs):
        if shape is None:
            raise ValueError("Cannot export an input of unknown rank; give it a TensorSpec "
                             "with a known number of dimensions.")  # fmt: skip
        for j, d in enumerate(shape):
            if d is None:
                names[i, j] = "batch" if shared_batch and j == 0 else f"d{i}_{j}"
    unique = list(dict.fromkeys(names.values()))
    symbols = dict(zip(unique, jax_export.symbolic_shape(", ".join(unique)))) if unique else {}
    return [jax.ShapeDtypeStruct(tuple(symbols[names[i, j]] if (i, j) in names else d
                                       for j, d in enumerate(shape)), dtype)
            for i, (shape, dtype) in enumerate(specs)]  # fmt: skip


# ------------------------------------------------------------------------ tree encodings

_JSON_SCALARS = (bool, int, float, str, type(None))


def _encode_input(spec, fn_name: str) -> dict:
    if isinstance(spec, TensorSpec):
        return {"spec": list(spec.shape._dims) if spec.shape._dims is not None else None,
                "dtype": spec.dtype.np.name}  # fmt: skip
    if isinstance(spec, (list, tuple)):
        return {type(spec).__name__ if type(spec) in (list, tuple) else "tuple":
                [_encode_input(s, fn_name) for s in spec]}  # fmt: skip
    if isinstance(spec, dict):
        return {"dict": [[k, _encode_input(v, fn_name)] for k, v in spec.items()]}
    if isinstance(spec, _JSON_SCALARS):
        return {"const": spec}
    raise TypeError(f"Cannot export {fn_name!r}: its argument {spec!r} "
                    f"({type(spec).__name__}) is neither a tensor nor a JSON value.")  # fmt: skip


class _Out:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _encode_output(cf: ConcreteFunction, fn_name: str) -> dict:
    marked = [_Out(x) if type(x) is int else x for x in cf._out_leaves]
    return _encode_out_tree(cf._out_tree.unflatten(marked), fn_name)


def _encode_out_tree(x, fn_name: str) -> dict:
    if isinstance(x, _Out):
        return {"out": x.index}
    if isinstance(x, (list, tuple)):
        return {"list" if isinstance(x, list) else "tuple":
                [_encode_out_tree(e, fn_name) for e in x]}  # fmt: skip
    if isinstance(x, dict):
        return {"dict": [[k, _encode_out_tree(v, fn_name)] for k, v in x.items()]}
    if isinstance(x, EagerTensor) and x._array.dtype == object:
        value = x._array.item()
        return {"const": value.decode() if isinstance(value, bytes) else value}
    if isinstance(x, _JSON_SCALARS):
        return {"const": x}
    raise TypeError(f"Cannot export {fn_name!r}: its output {x!r} is not a tensor, a JSON "
                    "value, or a list/tuple/dict of those.")  # fmt: skip


def _decode_output(node: dict, outs: list):
    kind, value = next(iter(node.items()))
    if kind == "out":
        return EagerTensor(outs[value])
    if kind in ("list", "tuple"):
        items = [_decode_output(e, outs) for e in value]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: _decode_output(v, outs) for k, v in value}
    return value


# ----------------------------------------------------------------------------------- load


def load(export_dir: str, tags=None, options=None) -> Any:
    """Load a directory written by ``save``: an object with the exported functions as
    attributes, ``signatures``, ``variables`` and the saved attribute tree of variables."""
    export_dir = os.path.abspath(os.fspath(export_dir))
    WRITER.wait()
    try:
        with open(os.path.join(export_dir, META_FILE)) as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise NotFoundError(f"No tracefn saved model at {export_dir}.") from None
    if meta.get("format") != FORMAT or meta.get("version", 0) > VERSION:
        raise ValueError(f"{export_dir} is not a saved model this tracefn can read.")
    keys = [v["key"] for v in meta["variables"]]
    values, _ = storage.read(os.path.join(export_dir, "variables"))
    variables = [Variable(values[v["key"]], name=v["name"], trainable=v["trainable"])
                 for v in meta["variables"]]  # fmt: skip
    root = _LoadedObject()
    for key, var in zip(keys, variables):
        _attach(root, key.split("/"), var)
    root._tracefn_variables = variables
    cache: dict[str, _Trace] = {}
    for name, entries in meta["functions"].items():
        traces = [_trace(export_dir, e, variables, cache) for e in entries]
        setattr(root, name, LoadedFunction(name, traces))
    root.signatures = {n: LoadedFunction(n, [_trace(export_dir, e, variables, cache)])
                       for n, e in meta["signatures"].items()}  # fmt: skip
    return root


class _LoadedObject:
    """An attribute tree restored from a saved model."""

    @property
    def variables(self) -> list:
        return list(getattr(self, "_tracefn_variables", []))

    @property
    def trainable_variables(self) -> list:
        return [v for v in self.variables if v.trainable]

    def __call__(self, *args, **kwargs):
        fn = vars(self).get("__call__")
        if fn is None:
            raise TypeError("This loaded object has no exported __call__.")
        return fn(*args, **kwargs)


def _attach(node, parts: list[str], var: Variable) -> None:
    for part in parts[:-1]:
        child = vars(node).get(part)
        if child is None:
            child = _LoadedObject()
            setattr(node, part, child)
        node = child
    setattr(node, parts[-1], var)


def _trace(export_dir: str, entry: dict, variables: list, cache: dict) -> _Trace:
    if entry["file"] not in cache:
        with open(os.path.join(export_dir, entry["file"]), "rb") as f:
            exported = jax_export.deserialize(bytearray(f.read()))
        cache[entry["file"]] = _Trace(entry, exported, variables)
    return cache[entry["file"]]


class _NoMatch(Exception):
    pass


class _Trace:
    """One exported trace: binds arguments to its input specs and runs it."""

    def __init__(self, entry: dict, exported, variables: list):
        self.entry = entry
        self.state = [variables[i] for i in entry["state"]]
        self.written = entry["written"]
        self.run = jax.jit(exported.call)

    def bind(self, args: tuple, kwargs: dict) -> list:
        params, specs = self.entry["params"], self.entry["inputs"]
        if len(args) > len(specs):
            raise _NoMatch(f"takes {len(specs)} arguments, got {len(args)}")
        values = list(args) + [kwargs.pop(p, _MISSING) for p in params[len(args) : len(specs)]]
        if kwargs:
            raise _NoMatch(f"unexpected keyword arguments {sorted(kwargs)}")
        arrays: list = []
        for p, v, s in zip(params, values, specs):
            _flatten(v, s, p, arrays)
        if self.entry.get("shared_batch"):
            _check_shared_batch(arrays, _flat_specs(specs))
        return arrays

    def call(self, arrays: list):
        # Gather, run and store under the lock every compiled call uses: atomic with them.
        with STATE_LOCK:
            outs, new_state = self.run([v._tracefn_array() for v in self.state], arrays)
            for i, a in zip(self.written, new_state):
                self.state[i].assign(a)
        return _decode_output(self.entry["outputs"], outs)

    def describe(self) -> str:
        return ", ".join(f"{p}: {_describe_spec(s)}"
                         for p, s in zip(self.entry["params"], self.entry["inputs"]))  # fmt: skip


_MISSING = object()


def _flatten(value, spec: dict, where: str, arrays: list) -> None:
    kind, s = next(iter(spec.items()))
    if kind == "spec":
        arrays.append(_tensor_for(value, spec, where))
    elif kind == "const":
        if value is not _MISSING and not (type(value) is type(s) and value == s):
            raise _NoMatch(f"{where} must be {s!r}, got {value!r}")
    elif kind in ("list", "tuple"):
        if not isinstance(value, (list, tuple)) or len(value) != len(s):
            raise _NoMatch(f"{where} must be a {kind} of {len(s)} elements")
        for i, (v, e) in enumerate(zip(value, s)):
            _flatten(v, e, f"{where}[{i}]", arrays)
    else:
        if not isinstance(value, dict) or set(value) != {k for k, _ in s}:
            raise _NoMatch(f"{where} must be a dict with keys {[k for k, _ in s]}")
        for k, e in s:
            _flatten(value[k], e, f"{where}[{k!r}]", arrays)


def _tensor_for(value, spec: dict, where: str):
    if value is _MISSING:
        raise _NoMatch(f"missing argument {where!r}")
    dtype = jnp.dtype(spec["dtype"])
    if isinstance(value, Variable):
        array = value._tracefn_array()
    elif isinstance(value, Tensor):
        array = value._array
    elif isinstance(value, (np.ndarray, np.generic, jax.Array)):
        array = value
    else:
        array = convert_to_tensor(value, dtype=dtype)._array
    if array.dtype != dtype:
        raise _NoMatch(f"{where} must be {dtype.name}, got {array.dtype}")
    shape = spec["spec"]
    if shape is not None and (len(array.shape) != len(shape) or any(
            d is not None and d != a for d, a in zip(shape, array.shape))):  # fmt: skip
        raise _NoMatch(f"{where} must have shape {tuple(shape)}, got {tuple(array.shape)}")
    return array


def _flat_specs(specs: list) -> list:
    out = []
    for spec in specs:
        kind, s = next(iter(spec.items()))
        if kind == "spec":
            out.append(spec)
        elif kind in ("list", "tuple"):
            out += _flat_specs(s)
        elif kind == "dict":
            out += _flat_specs([e for _, e in s])
    return out


def _check_shared_batch(arrays: list, specs: list) -> None:
    sizes = {a.shape[0] for a, s in zip(arrays, specs) if s["spec"] and s["spec"][0] is None}
    if len(sizes) > 1:
        raise _NoMatch(f"inputs of unknown batch size must share it (this export needs them "
                       f"equal), got sizes {sorted(sizes)}")  # fmt: skip


def _describe_spec(spec: dict) -> str:
    kind, s = next(iter(spec.items()))
    if kind == "spec":
        return f"{spec['dtype']}{s}"
    if kind == "const":
        return repr(s)
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {_describe_spec(e)}" for k, e in s) + "}"
    return f"{kind}(" + ", ".join(_describe_spec(e) for e in s) + ")"


class LoadedFunction:
    """A function restored by ``load``: calls the first exported trace its arguments fit."""

    def __init__(self, name: str, traces: list[_Trace]):
        self._name = name
        self._traces = traces

    def __call__(self, *args, **kwargs):
        reasons = []
        for trace in self._traces:
            try:
                arrays = trace.bind(args, dict(kwargs))
            except _NoMatch as e:
                reasons.append(f"({trace.describe()}): {e}")
                continue
            return trace.call(arrays)
        raise TypeError(f"Loaded function {self._name!r} has no exported trace for these "
                        "arguments. Exported traces: " + "; ".join(reasons))  # fmt: skip

    def __repr__(self):
        return f"<tracefn.saved_model.LoadedFunction {self._name}>"
