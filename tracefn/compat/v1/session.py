"""``Session``: runs parts of a TF1 graph. Variable values live in the session (spec C7).

``run(fetches, feed_dict)`` flattens the fetches (tensors, variables, assignments, ops, names;
nested in lists, tuples, namedtuples and dicts), finds or builds the program for this
combination of fetches and fed shapes (``program.py``), gathers the arrays of the variables it
touches from the session's own store, runs it, stores the written arrays back and returns the
fetched values as numpy in the fetches' structure. Two sessions on one graph share nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ...errors import FailedPreconditionError
from ...tensor import EagerTensor, SymbolicTensor, TensorShape
from ...variables import Variable
from .graph import Graph, GraphTensor, Operation, get_default_graph
from .graph_variables import GraphVariable, _UnreadVariable
from .program import Program, compile_plan, make_plan

__all__ = ["Session", "InteractiveSession", "get_default_session", "eval_tensor", "run_op"]


class _SessionStack(threading.local):
    def __init__(self):
        self.stack: list[Session] = []


_sessions = _SessionStack()


def get_default_session() -> Session | None:
    """The innermost session entered with ``with sess:`` / ``sess.as_default()``."""
    return _sessions.stack[-1] if _sessions.stack else None


class Session:
    """A TF1 session on ``graph`` (default: the default graph).

    >>> with Session() as sess:                               # doctest: +SKIP
    ...     sess.run(tf.global_variables_initializer())
    ...     print(sess.run(v))
    """

    def __init__(self, target: str = "", graph: Graph | None = None, config=None):
        self.graph = graph if graph is not None else get_default_graph()
        self._store: dict[int, Any] = {}  # id(variable) -> its array in this session
        self._keep: dict[int, Any] = {}  # the variables, so their ids stay theirs
        self._plans: dict = {}
        self._programs: dict = {}
        self._rng = np.random.default_rng()  # entropy for unseeded random ops
        self._lock = threading.RLock()
        self._closed = False
        self._contexts: list = []

    # ------------------------------------------------------------------------- running
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Run what ``fetches`` need; returns their values (numpy) in the same structure."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        if not self.graph.ir.ops:
            raise RuntimeError("The Session graph is empty. Add operations to the graph before "
                               "calling run().")  # fmt: skip
        leaves: list = []
        rebuild = _flatten(fetches, leaves)
        items = [self._fetch_item(x) for x in leaves]
        feeds = self._feeds(feed_dict or {})
        key = (tuple(k for k, _ in items), tuple((id(v), a.shape, a.dtype) for v, a in feeds))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(items, feeds)
        with self._lock:
            initialized = {id(v) for v in plan.queries if id(v) in self._store}
            flags = tuple(id(v) in initialized for v in plan.queries)
            program = self._programs.get((key, flags))
            if program is None:
                program = self._programs[(key, flags)] = compile_plan(plan, initialized)
            results = iter(self._execute(program, [a for _, a in feeds]))
        values = [None if k[0] == "o" else next(results) for k, _ in items]
        return rebuild(iter(values))

    def _fetch_item(self, x) -> tuple:
        if isinstance(x, str):
            x = self.graph.as_graph_element(x)
        if isinstance(x, Operation):
            self._check_graph(x, x.graph)
            return ("o", id(x._op)), x
        if isinstance(x, _UnreadVariable):
            self._check_graph(x, x.graph)
            return ("u", id(x._write_op)), x
        if isinstance(x, GraphVariable):
            self._check_graph(x, x.graph)
            return ("v", id(x)), x
        if isinstance(x, GraphTensor):
            self._check_graph(x, x.graph)
            if x.region is not self.graph.ir:
                raise ValueError(f"Fetch argument {x!r} is computed inside a control-flow "
                                 "branch or loop body; fetch the result of the cond or "
                                 "while_loop instead.")  # fmt: skip
            return ("t", id(x.value)), x
        if isinstance(x, Variable):  # an eager variable: its value as this session sees it
            return ("v", id(x)), x
        raise TypeError(
            f"Fetch argument {x!r} has invalid type {type(x)}, must be a string or Tensor. "
            f"(Can not convert a {type(x).__name__} into a Tensor or Operation.)"
        )

    def _check_graph(self, x, graph) -> None:
        if graph is not self.graph:
            raise ValueError(f"Fetch argument {x!r} cannot be interpreted as a Tensor. (Tensor "
                             f"{x!r} is not an element of this graph.)")  # fmt: skip

    def _feeds(self, feed_dict) -> list[tuple]:
        feeds = []
        for t, value in feed_dict.items():
            t = self.graph.as_graph_element(t) if isinstance(t, str) else t
            if not isinstance(t, SymbolicTensor) or t.trace is not self.graph._trace:
                raise TypeError(f"The key {t!r} of feed_dict is not a tensor of this graph.")
            value = value.numpy() if isinstance(value, EagerTensor) else value
            array = np.asarray(value, dtype=t.dtype.np)
            if not t.shape.is_compatible_with(array.shape):
                raise ValueError(f"Cannot feed value of shape {TensorShape(array.shape)} for "
                                 f"Tensor {t.name}, which has shape {t.shape}")  # fmt: skip
            feeds.append((t.value, array))
        return feeds

    def _plan(self, items, feeds):
        outputs, targets = [], []
        for (kind, _), x in items:
            if kind == "t":
                outputs.append(("t", x.value))
            elif kind == "v":
                outputs.append(("v", x))
            elif kind == "u":
                targets.append(x._write_op)
                outputs.append(("v", x._var))
            else:
                targets.append(x._op)
        return make_plan(self.graph, outputs, targets, [v for v, _ in feeds], [x for _, x in items])

    def _execute(self, program: Program, feed_arrays: list) -> list:
        for var, op in program.needs.values():
            if id(var) not in self._store and not _self_initializing(var):
                raise FailedPreconditionError(_uninitialized_message(var, op))
        state = [self._array(v) for v in program.state_vars]
        state, feed_arrays = _co_locate(program.state_vars, state, feed_arrays)
        res = program.lowered.jitted(*state, *feed_arrays)
        n = program.lowered.n_out
        for v, a in zip(program.written, res[n:]):
            self._store[id(v)] = _placed(v, a)
            self._keep[id(v)] = v
        return [_numpy(res[x]) if kind == "run" else x for kind, x in program.outs]

    def _array(self, var):
        a = self._store.get(id(var))
        if a is None:
            first = getattr(var, "initial_state", None)
            if first is not None:  # a random op's state: seeded, or fresh entropy per session
                a = self._store[id(var)] = first(self._rng)
                self._keep[id(var)] = var
            elif not isinstance(var, GraphVariable) and hasattr(var, "_value"):
                a = self._store[id(var)] = jnp.array(var._value, copy=True)  # an eager variable
                self._keep[id(var)] = var
            else:  # written before it is read: any array of the right type will do
                a = jnp.zeros(tuple(var.shape), var.dtype.np)
        return a

    def _load(self, var, value) -> None:
        array = jnp.asarray(np.asarray(value, dtype=var.dtype.np))
        with self._lock:
            self._store[id(var)] = _placed(var, array)
            self._keep[id(var)] = var

    # --- the interface tracefn.saver.Saver uses
    def _tracefn_read_vars(self, variables) -> list:
        """Host copies of the variables' values in this session, read at one point."""
        with self._lock:
            for v in variables:
                if id(v) not in self._store and not _self_initializing(v):
                    raise FailedPreconditionError(
                        f"Attempting to save uninitialized variable {v.name!r}: run its "
                        "initializer first."
                    )
            return [np.array(self._array(v)) for v in variables]

    def _tracefn_write_vars(self, variables, arrays) -> None:
        """Set the variables (all or nothing: every array was checked by the caller) and mark
        them initialized."""
        placed = [_placed(v, jnp.asarray(a)) for v, a in zip(variables, arrays)]
        with self._lock:
            for v, a in zip(variables, placed):
                self._store[id(v)] = a
                self._keep[id(v)] = v

    def make_callable(self, fetches, feed_list=None) -> Callable:
        """A function running ``fetches`` with its arguments fed to ``feed_list``."""
        feed_list = list(feed_list or [])
        return lambda *values: self.run(fetches, dict(zip(feed_list, values)))

    def list_devices(self) -> list:
        from .device import tf_device_name

        return [tf_device_name(d) for d in jax.devices()]

    # ------------------------------------------------------------------------ contexts
    @contextlib.contextmanager
    def as_default(self) -> Iterator[Session]:
        """Make this the default session (``Tensor.eval()``, ``Operation.run()``)."""
        _sessions.stack.append(self)
        try:
            yield self
        finally:
            _sessions.stack.remove(self)

    def __enter__(self) -> Session:
        stack = contextlib.ExitStack()
        stack.enter_context(self.graph.as_default())
        stack.enter_context(self.as_default())
        self._contexts.append(stack)
        return self

    def __exit__(self, *exc):
        self._contexts.pop().close()
        self.close()

    def close(self) -> None:
        """Free the session's variable values; later ``run`` calls raise ``RuntimeError``."""
        self._closed = True
        self._store.clear()
        self._keep.clear()

    def __repr__(self):
        return f"<tracefn.compat.v1.Session on {self.graph!r}>"


class InteractiveSession(Session):
    """A session that makes itself (and its graph) the default when created, for shells."""

    def __init__(self, target: str = "", graph: Graph | None = None, config=None):
        super().__init__(target, graph, config)
        self._interactive = contextlib.ExitStack()
        self._interactive.enter_context(self.graph.as_default())
        self._interactive.enter_context(self.as_default())

    def close(self) -> None:
        if not self._closed:
            self._interactive.close()
        super().close()


def _self_initializing(var) -> bool:
    return hasattr(var, "initial_state") or (
        not isinstance(var, GraphVariable) and hasattr(var, "_value"))  # fmt: skip


def _uninitialized_message(var, op) -> str:
    name = var._name
    return (
        f"Could not find variable {name}. This could mean that the variable has been deleted. "
        "In TF1, it can also mean the variable is uninitialized. Debug info: container=localhost, "
        f"status error message=Resource localhost/{name}/class tensorflow::Var does not exist."
        f"\n\t [[{{{{node {op.name}}}}}]]"
    )


def _co_locate(state_vars, state: list, feeds: list) -> tuple[list, list]:
    """A program runs where its placed state lives (``tracefn.device``): move every input to
    the first placed variable's device."""
    devices = [d for d in (getattr(v, "_placement", None) for v in state_vars) if d is not None]
    if not devices:
        return state, feeds
    put = lambda a: jax.device_put(a, devices[0])  # noqa: E731
    return [put(a) for a in state], [put(a) for a in feeds]


def _placed(var, array):
    device = getattr(var, "_placement", None)
    return array if device is None else jax.device_put(array, device)


def _numpy(array):
    out = np.array(array)  # a copy: later runs donate the program's buffers
    return out[()] if out.ndim == 0 else out


def _flatten(x, leaves: list) -> Callable:
    """Append the leaves of ``x`` to ``leaves``; returns a function rebuilding the structure
    from an iterator of leaf values."""
    if isinstance(x, dict):
        parts = {k: _flatten(v, leaves) for k, v in x.items()}
        return lambda it: type(x)((k, f(it)) for k, f in parts.items())
    if isinstance(x, (list, tuple)):
        parts = [_flatten(v, leaves) for v in x]
        if hasattr(x, "_fields"):
            return lambda it: type(x)(*[f(it) for f in parts])
        return lambda it: type(x)([f(it) for f in parts])
    leaves.append(x)
    return next


# ------------------------------------------------------------------ eval() and run() helpers


def eval_tensor(t, feed_dict=None, session: Session | None = None):
    """``t.eval()``: the value of ``t`` in ``session`` (default: the default session)."""
    session = session or get_default_session()
    if session is None:
        raise ValueError(
            "Cannot evaluate tensor using `eval()`: No default session is registered. Use `with "
            "sess.as_default()` or pass an explicit session to `eval(session=sess)`"
        )
    if getattr(t, "graph", session.graph) is not session.graph:
        raise ValueError("Cannot use the given session to evaluate tensor: the tensor's graph "
                         "is different from the session's graph.")  # fmt: skip
    return session.run(t, feed_dict)


def run_op(op: Operation, feed_dict=None, session: Session | None = None) -> None:
    """``op.run()``: run ``op`` in ``session`` (default: the default session)."""
    session = session or get_default_session()
    if session is None:
        raise ValueError(
            "Cannot execute operation using `run()`: No default session is registered. Use "
            "`with sess.as_default():` or pass an explicit session to `run(session=sess)`"
        )
    if op.graph is not session.graph:
        raise ValueError("Cannot use the given session to execute operation: the operation's "
                         "graph is different from the session's graph.")  # fmt: skip
    session.run(op, feed_dict)
