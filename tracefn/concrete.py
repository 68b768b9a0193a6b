"""``ConcreteFunction``: one trace of a function, its IR graph and its compiled program.

``_call_flat`` is the hot path of every compiled call: gather the variables' arrays (reusing
the list from the last call while no other code wrote a variable), call the jitted program,
store the written arrays back, all under ``STATE_LOCK`` so the write-back is atomic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from .cache_key import shape_str
from .errors import InvalidArgumentError
from .ir import Graph
from .lowering import LoweredGraph
from .tensor import EagerTensor, Tensor, TensorSpec
from .tracing import convert_to_tensor
from .variables import EXPOSED, STATE, STATE_LOCK, Variable, unshare

_acquire, _release = STATE_LOCK.acquire, STATE_LOCK.release

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
        _acquire()  # explicit acquire/release: a third of the cost of `with` on this path
        try:
            if EXPOSED and unshare(written):
                self._state_version = -1
            if self._state_version == STATE.version:
                state = self._state  # nothing else wrote a variable since our last call
            else:
                state = self._state = [v._value for v in self._captured]
            self._state_version = -1  # the call donates buffers in `state`
            try:
                res = self._jitted(*state, *arrays)
            except ValueError as e:
                _raise_if_placement(self._captured, e, self.name)
                raise
            i = n
            for v in written:
                state[self._written_pos[i - n]] = v._value = res[i]
                i += 1
            version = STATE.version = STATE.version + 1
            self._state_version = version
        finally:
            _release()
        if self._single_plain:
            return EagerTensor(res[0])
        return self._build_outputs(res)

    def _call_with_arg_vars(self, arrays, avars):
        vs = self._captured + list(avars)
        written = [vs[i] for i in self._written_pos]
        with STATE_LOCK:
            if EXPOSED:
                unshare(written)
            try:
                res = self._jitted(*[v._value for v in vs], *arrays)
            except ValueError as e:
                _raise_if_placement(vs, e, self.name)
                raise
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
        vs = self._captured + [v for v in self.graph.variables[len(self._captured) :]]
        avals = [jax.ShapeDtypeStruct(v._value.shape, v._value.dtype) for v in vs]
        for shape, dtype in self._input_specs:
            if shape is None or None in shape:
                raise ValueError("as_text() needs fully known input shapes; this trace has "
                                 f"an input of shape {shape_str(shape)}.")  # fmt: skip
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


def _raise_if_placement(variables, error: ValueError, name: str) -> None:
    """jax refuses a program whose inputs live on different devices and numbers them as
    positional arguments; name the variables and where each lives instead."""
    from .distribute.placement import is_device_mismatch, placement_error

    if is_device_mismatch(error):
        raise placement_error(variables, error, f"tf.function {name!r}") from None
