"""Staged control flow: the operators' paths for traced conditions and iterables.

The converted code hands over its blocks as functions that communicate through the enclosing
function's variables, plus ``get_state`` / ``set_state`` to read and write the symbols the block
changes. Staging turns that into the functional form ``tracefn.control_flow`` takes:

    cond:  true_fn() -> outputs          set_state(init); body(); return get_state()
    loop:  body_fn(*carry) -> carry      set_state(carry); body(); return get_state()

Symbol values are flattened into tensor leaves (Python numbers become tensors, int -> int32);
leaves that are other Python objects stay out of the op and must not change.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import array_ops, control_flow, math_ops
from ..ir import Graph
from ..tensor import EagerTensor, SymbolicTensor, Tensor
from ..tracing import convert_to_tensor, current_trace
from . import checks
from .symbols import Undefined, UndefinedReturnValue

__all__ = ["cond_expr", "cond_stmt", "logical_cond", "range_for", "scratch", "tensor_for",
           "while_loop"]  # fmt: skip


@contextlib.contextmanager
def scratch():
    """Trace into a throw-away region: for probing a loop condition's type or a loop body's
    outputs without leaving ops in the graph."""
    trace = current_trace()
    if trace is None:
        yield
        return
    with trace.region(Graph(name="autograph_scratch")):
        yield


# -------------------------------------------------------------------------- tensor leaves


class _Carry:
    """The flattening of a state tuple: which leaves are tensors (carried through the op) and
    which are Python objects (kept aside)."""

    def __init__(self, state: Sequence):
        self.leaves, self.tree = checks.flatten(tuple(state))
        self.mask = [checks.is_tensorish(leaf) for leaf in self.leaves]

    def tensors(self) -> tuple:
        return tuple(convert_to_tensor(x) for x, t in zip(self.leaves, self.mask) if t)

    def rebuild(self, tensors: Sequence) -> tuple:
        it = iter(tensors)
        leaves = [next(it) if t else x for x, t in zip(self.leaves, self.mask)]
        return tuple(self.tree.unflatten(leaves))


def _pred(value: Any) -> Tensor:
    return convert_to_tensor(value)


# ----------------------------------------------------------------------------------- cond


def _staged_cond(pred, true_fn: Callable, false_fn: Callable, names) -> tuple:
    """``control_flow.cond`` over functions returning one value per name; checks the branches
    against each other first, naming the symbols (``names=None``: tf.cond's generic message)."""
    results: dict[str, tuple] = {}

    def wrap(fn: Callable, branch: str) -> Callable:
        def run():
            values = tuple(fn())
            checks.verify_branch(values, names, branch)
            results[branch] = values
            if len(results) == 2:
                checks.verify_cond_vars(results["main"], results["else"], names)
            return _Carry(values).tensors()

        return run

    flat = control_flow.cond(_pred(pred), wrap(true_fn, "main"), wrap(false_fn, "else"))
    return _Carry(results["main"]).rebuild(flat)


def cond_stmt(pred, body, orelse, get_state, set_state, names: Sequence[str]) -> None:
    """``if`` on a traced condition: both branches are traced, each starting from the state
    before the ``if``; the symbols they change become the cond's outputs."""
    init = tuple(get_state()) if get_state is not None else ()

    def branch(fn: Callable | None) -> Callable:
        def run():
            if set_state is not None:
                set_state(init)
            if fn is not None:
                fn()
            return get_state() if get_state is not None else ()

        return run

    outputs = _staged_cond(pred, branch(body), branch(orelse), names)
    if set_state is not None:
        set_state(outputs)


def cond_expr(pred, if_true: Callable, if_false: Callable, text: str) -> Any:
    """``a if c else b`` on a traced ``c``; errors name the condition's text, as TF does."""
    (value,) = _staged_cond(pred, lambda: (if_true(),), lambda: (if_false(),), (text,))
    return value


def logical_cond(pred, true_fn: Callable, false_fn: Callable) -> Any:
    """The lazy half of ``and``/``or`` on a traced first operand."""
    (value,) = _staged_cond(pred, lambda: (true_fn(),), lambda: (false_fn(),), None)
    return value


# ---------------------------------------------------------------------------------- loops


def _is_null(value: Any) -> bool:
    return value is None or isinstance(value, (Undefined, UndefinedReturnValue))


def _placeholder(like: Any) -> Any:
    """A value of the type of ``like`` (a symbol's value after one iteration), to carry a
    symbol that has no value before the loop (spec A8)."""
    leaves, tree = checks.flatten(like)
    if any(_is_null(leaf) or not checks.is_tensorish(leaf) for leaf in leaves):
        return like  # the init check reports it
    zeros = [
        array_ops.zeros([d or 0 for d in checks.shape_of(x)], checks.dtype_of(x)) for x in leaves
    ]
    return tree.unflatten(zeros)


def _as_tensors(value: Any) -> Any:
    """``value`` with its number leaves turned into tensors, as a loop carries them."""
    carry = _Carry((value,))
    return carry.rebuild(carry.tensors())[0]


def _define_undefined(body, get_state, set_state, init: tuple, names) -> tuple:
    """Give symbols first defined inside the loop a placeholder initial value, found by tracing
    the body once in a scratch region (TF does the same)."""
    nulls = [_is_null(v) for v in init]
    if not any(nulls):
        return init
    first, note = None, None
    try:
        with scratch():
            set_state(tuple(v if _is_null(v) else _as_tensors(v) for v in init))
            body()
            first = tuple(get_state())
    except (UnboundLocalError, TypeError, ValueError, KeyError) as e:
        note = ("Note: AutoGraph tried to define it automatically, but ran into a "
                f"{type(e).__name__}: {e}")  # fmt: skip
    finally:
        set_state(init)
    if first is None:
        checks.verify_loop_init(init, names, note)
        return init
    return tuple(_placeholder(f) if n else v for v, f, n in zip(init, first, nulls))


def _shape_invariants(opts: dict, carry: _Carry) -> dict:
    """``set_loop_options(shape_invariants=[(x, shape), ...])`` keyed by id of x's value."""
    pairs = opts.get("shape_invariants") or ()
    ids = {id(leaf) for leaf in carry.leaves}
    return {id(value): shape for value, shape in pairs if id(value) in ids}


def _accepts(fn: Callable, param: str) -> bool:
    try:
        return param in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def while_loop(test, body, get_state, set_state, names: Sequence[str], opts: dict) -> None:
    """A loop whose condition is traced: ``control_flow.while_loop`` over the symbols the body
    changes and that are live at the loop head."""
    get_state = get_state or (lambda: ())
    set_state = set_state or (lambda values: None)
    raw = tuple(get_state())
    init = _define_undefined(body, get_state, set_state, raw, names)
    checks.verify_loop_init(init, names)
    # Symbols that only the loop defines hold placeholders until the first iteration (A8).
    missing = [n for n, r, v in zip(names, raw, init) if _is_null(r) and not _is_null(v)]
    carry = _Carry(init)
    invariants = _shape_invariants(opts, carry)

    def cond_fn(*tensors):
        set_state(carry.rebuild(tensors))
        return _pred(test())

    def body_fn(*tensors):
        entry = carry.rebuild(tensors)
        set_state(entry)
        body()
        exit_ = tuple(get_state())
        checks.verify_loop_vars(init, entry, exit_, names, invariants)
        return _Carry(exit_).tensors()

    while_fn = control_flow.while_loop
    kwargs = {}
    if invariants and _accepts(while_fn, "shape_invariants"):
        kwargs["shape_invariants"] = [invariants.get(id(x)) for x, t in
                                      zip(carry.leaves, carry.mask) if t]  # fmt: skip
    if opts.get("maximum_iterations") is not None:
        kwargs["maximum_iterations"] = opts["maximum_iterations"]
    if missing:
        final = _run_at_least_once(while_fn, cond_fn, body_fn, carry.tensors(), kwargs, missing)
    else:
        final = while_fn(cond_fn, body_fn, carry.tensors(), **kwargs)
    set_state(carry.rebuild(final))


def _run_at_least_once(while_fn, cond_fn, body_fn, tensors, kwargs, missing) -> list:
    """The loop with a flag recording that the body ran; asserts it did at run time, since
    the symbols in ``missing`` only get values inside the body (TF's A8 assertion)."""
    from .. import debugging

    if "shape_invariants" in kwargs:
        kwargs = dict(kwargs, shape_invariants=[*kwargs["shape_invariants"], None])
    final = while_fn(lambda *ts: cond_fn(*ts[:-1]),
                     lambda *ts: [*body_fn(*ts[:-1]), array_ops.constant(True)],
                     [*tensors, array_ops.constant(False)], **kwargs)  # fmt: skip
    message = f"loop must iterate at least once to initialize {', '.join(missing)}"
    debugging.Assert(final[-1], [message])
    return list(final[:-1])


def _with_extra(main: Any, extra_test: Callable | None) -> Any:
    if extra_test is None:
        return main
    return math_ops.logical_and(main, _pred(extra_test()))


def _static(x: Any):
    """The Python value of a number, an eager scalar or a traced constant, else None."""
    if isinstance(x, EagerTensor):
        return x.numpy().item()
    if isinstance(x, SymbolicTensor):
        op = x.op
        is_const = op is not None and op.prim.name == "const"
        return np.asarray(op.attrs["value"]).item() if is_const else None
    return None if checks.is_variable(x) else x


def _index_loop(start, step: Callable, make_test: Callable, item: Callable, extra_test, body,
                get_state, set_state, names, opts, default_target=None) -> None:  # fmt: skip
    """A staged loop over an index ``i`` (the first carried value): ``body(item(i))``, then
    ``i = step(i)``, while ``make_test(i)``. ``default_target`` stands for the loop target
    when it has no value yet (the loop target of a range loop, spec A8)."""
    index = [start]
    target = opts.get("iterate_names")

    def aug_get_state():
        state = tuple(get_state()) if get_state is not None else ()
        state = tuple(
            index[0] if n == target and isinstance(v, Undefined) and default_target else v
            for n, v in zip(names, state)
        )  # fmt: skip
        return (index[0], *state)

    def aug_set_state(values):
        index[0] = values[0]
        if set_state is not None:
            set_state(tuple(values[1:]))

    def aug_body():
        body(item(index[0]))
        index[0] = step(index[0])

    def aug_test():
        return _with_extra(make_test(index[0]), extra_test)

    internal = ("<internal iterate>", *names)
    while_loop(aug_test, aug_body, aug_get_state, aug_set_state, internal, opts)


def range_for(rng, extra_test, body, get_state, set_state, names, opts: dict) -> None:
    """``for i in tracefn.range(...)`` with a traced bound: a loop over an int counter."""
    dtype = rng.dtype or _range_dtype(rng)
    start, limit, delta = (convert_to_tensor(v, dtype) if not isinstance(v, Tensor) else v
                           for v in (rng.start, rng.limit, rng.delta))  # fmt: skip
    sign = _static(rng.delta)

    def test(i):
        if sign is not None:
            return i < limit if sign >= 0 else i > limit
        up = math_ops.logical_and(delta >= 0, i < limit)
        return math_ops.logical_or(up, math_ops.logical_and(delta < 0, i > limit))

    _index_loop(start, lambda i: i + delta, test, lambda i: i, extra_test, body, get_state,
                set_state, names, opts, default_target=True)  # fmt: skip


def _range_dtype(rng):
    from .. import dtypes

    for v in (rng.start, rng.limit, rng.delta):
        if isinstance(v, Tensor) or checks.is_variable(v):
            return v.dtype
    return dtypes.float32 if any(isinstance(v, float) for v in (rng.start, rng.limit)) else (
        dtypes.int32)  # fmt: skip


def tensor_for(x, extra_test, body, get_state, set_state, names, opts: dict) -> None:
    """``for row in <traced tensor>``: a loop over the first axis."""
    x = convert_to_tensor(x)
    if x.shape.rank == 0:
        raise TypeError("Cannot iterate over a scalar tensor.")
    n = x.shape[0] if x.shape[0] is not None else array_ops.shape(x)[0]
    start = convert_to_tensor(0)
    _index_loop(start, lambda i: i + 1, lambda i: i < n, lambda i: x[i], extra_test, body,
                get_state, set_state, names, opts)  # fmt: skip
