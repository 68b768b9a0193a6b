"""Distribution strategies on JAX's SPMD engine: a ``Mesh``, shardings, one ``jax.jit`` program.

A strategy owns a ``jax.sharding.Mesh``. A variable created inside ``strategy.scope()`` is
placed once, when it is created (a hook in ``tracefn.variables.CREATION_HOOKS``): replicated by
``MirroredStrategy``, sharded by name rules by ``MeshStrategy``; the sharding is also recorded
on the variable (``_sharding``). Batches are sharded along the mesh's batch axis. A compiled
function then receives committed, sharded arrays: ``jax.jit`` follows those shardings and XLA's
SPMD partitioner inserts the collectives (the gradient all-reduce of data parallelism, the
all-gathers of model parallelism). Nothing here writes a collective by hand.

Global view: ``strategy.run(fn, args)`` calls ``fn`` once, on global values (the whole batch,
sharded over the devices). What TensorFlow computes per replica and then combines across
replicas, XLA computes directly over the global batch, so ``strategy.reduce(op, v, axis=None)``
returns ``v`` unchanged: it is already the cross-replica value.
"""

from __future__ import annotations

import contextlib
import enum
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .. import variables
from ..tensor import EagerTensor, Tensor
from .device_setter import resolve_device
from .input import DistributedDataset, InputContext, distribute_batch, per_replica_pieces
from .placement import (
    broadcast_from_process_0,
    check_spec,
    is_device_mismatch,
    place,
    placement_error,
)

__all__ = ["Strategy", "MirroredStrategy", "MeshStrategy", "ReduceOp", "get_strategy",
           "has_strategy"]  # fmt: skip


class ReduceOp(enum.Enum):
    """How ``Strategy.reduce`` combines values: ``SUM`` or ``MEAN``."""

    SUM = "SUM"
    MEAN = "MEAN"

    @staticmethod
    def from_any(op: ReduceOp | str) -> ReduceOp:
        if isinstance(op, ReduceOp):
            return op
        try:
            return ReduceOp[str(op).upper()]
        except KeyError:
            raise ValueError(f"reduce_op must be ReduceOp.SUM, ReduceOp.MEAN, 'SUM' or "
                             f"'MEAN', got {op!r}") from None  # fmt: skip


class _Stack(threading.local):
    def __init__(self):
        self.items: list[Strategy] = []


_STACK = _Stack()  # strategies whose scope is open, per thread (TF's scopes are per thread)


def get_strategy() -> Strategy:
    """The strategy whose ``scope()`` is open, else the default (single-device) strategy."""
    items = _STACK.items
    return items[-1] if items else _DEFAULT


def has_strategy() -> bool:
    """Whether a (non-default) strategy's ``scope()`` is open."""
    return bool(_STACK.items)


def _place_new_variable(var) -> None:
    items = _STACK.items
    if items:
        items[-1]._place_variable(var)


# Placement first: the hooks after it (checkpoint restores) see the placed array.
if _place_new_variable not in variables.CREATION_HOOKS:
    variables.CREATION_HOOKS.insert(0, _place_new_variable)


class Strategy:
    """A mesh of devices, the axis batches are split along, and where new variables go.

    Subclasses choose the mesh and ``variable_sharding``; this class does the rest."""

    def __init__(self, mesh: Mesh | None, batch_axis: str | None = "batch"):
        self._mesh = mesh
        names = () if mesh is None else mesh.axis_names
        self._batch_axis = batch_axis if batch_axis in names else None

    # ------------------------------------------------------------------------ properties
    @property
    def mesh(self) -> Mesh | None:
        """The ``jax.sharding.Mesh`` this strategy runs on (``None`` for the default one)."""
        return self._mesh

    @property
    def num_replicas_in_sync(self) -> int:
        """How many slices a batch is split into: the size of the mesh's batch axis."""
        return 1 if self._batch_axis is None else int(self._mesh.shape[self._batch_axis])

    @property
    def _num_local_replicas(self) -> int:
        return max(1, self.num_replicas_in_sync // jax.process_count())

    # ---------------------------------------------------------------------------- scope
    @contextlib.contextmanager
    def scope(self) -> Iterator[Strategy]:
        """Variables created inside are placed by this strategy; ``get_strategy()`` is it."""
        items = _STACK.items
        if items and items[-1] is not self:
            raise ValueError("Mixing different tf.distribute.Strategy objects: a scope of "
                             f"{type(items[-1]).__name__} is already open; close it before "
                             f"entering {type(self).__name__}.scope().")  # fmt: skip
        items.append(self)
        try:
            yield self
        finally:
            items.pop()

    def variable_sharding(self, var) -> NamedSharding:
        """The sharding a variable created in this strategy's scope gets (replicated here)."""
        return NamedSharding(self._mesh, PartitionSpec())

    def _place_variable(self, var) -> None:
        # The variable is brand new: nothing has read its array, so replacing it is safe; the
        # version bump tells compiled functions' cached state lists that arrays changed.
        sharding = self.variable_sharding(var)
        var._sharding = sharding
        var._value = place(self._initial_host_value(var), sharding, fresh=True)
        variables.STATE.version += 1

    def _initial_host_value(self, var) -> Any:
        # Across processes every process must hold the same value: process 0's (as TF's
        # multi-worker strategy does), whatever each process's seed drew.
        if self._mesh.is_multi_process:
            return broadcast_from_process_0(var._value)
        return var._value

    def batch_sharding(self, ndim: int) -> NamedSharding:
        """The sharding of a batch array of rank ``ndim``: split along axis 0 over the batch
        axis, replicated over the others (and for scalars)."""
        if ndim == 0 or self._batch_axis is None:
            return NamedSharding(self._mesh, PartitionSpec())
        return NamedSharding(self._mesh, PartitionSpec(self._batch_axis))

    # ------------------------------------------------------------------------------ run
    def run(self, fn: Callable, args: Sequence = (), kwargs: dict | None = None,
            options=None) -> Any:  # fmt: skip
        """Call ``fn(*args, **kwargs)`` in this strategy's scope, once, on the global values
        (SPMD): XLA partitions the computation over the devices the inputs live on."""
        with self.scope():
            try:
                return fn(*args, **(kwargs or {}))
            except ValueError as e:
                if not is_device_mismatch(e):
                    raise
                where = f"{type(self).__name__}.run({getattr(fn, '__name__', fn)!r})"
                raise placement_error(_variables_of(fn), e, where) from None

    def reduce(self, reduce_op: ReduceOp | str, value: Any, axis: int | None = None) -> Any:
        """Combine ``value`` across replicas. Values computed by ``run`` are global already,
        so with ``axis=None`` this returns them unchanged; with an ``axis`` it also sums or
        averages along that axis of the global value (TF: across replicas and that axis)."""
        op = ReduceOp.from_any(reduce_op)
        if axis is None:
            return value
        from .. import math_ops

        fn = math_ops.reduce_sum if op is ReduceOp.SUM else math_ops.reduce_mean
        return jax.tree_util.tree_map(lambda t: fn(t, axis=axis), value, is_leaf=_is_tensor)

    def experimental_local_results(self, value: Any) -> tuple:
        """The pieces of ``value`` on this process's replicas: a batch-sharded tensor split
        along axis 0, a replicated one once per local replica."""
        if not isinstance(value, EagerTensor) or self._batch_axis is None:
            return (value,) * self._num_local_replicas
        return tuple(EagerTensor(a) for a in per_replica_pieces(value._array, self))

    # ---------------------------------------------------------------------------- input
    def experimental_distribute_dataset(self, dataset, options=None) -> DistributedDataset:
        """Iterate ``dataset`` (numpy/array batches, or tuples/dicts of them) with every
        array split along axis 0 over the replicas. Across processes each process iterates
        the same global batches and keeps its slices."""
        return DistributedDataset(self, lambda: iter(dataset), local=False)

    def distribute_datasets_from_function(self, dataset_fn: Callable, options=None
                                          ) -> DistributedDataset:  # fmt: skip
        """``dataset_fn(InputContext)`` gives this process's dataset, batched per replica
        (``ctx.get_per_replica_batch_size(global_batch)``); each step takes one batch per
        local replica, as in TensorFlow."""
        ctx = InputContext(jax.process_count(), jax.process_index(), self.num_replicas_in_sync)
        return DistributedDataset(self, lambda: iter(dataset_fn(ctx)), local=True)

    def _distribute_batch(self, batch: Any, local: bool = False) -> Any:
        return distribute_batch(self, batch, local)

    def __repr__(self):
        shape = None if self._mesh is None else dict(self._mesh.shape)
        return f"<{type(self).__name__} mesh={shape}>"


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def _variables_of(fn) -> list:
    """The variables of the traces of a tracefn Function (for placement errors)."""
    seen: dict[int, Any] = {}
    for _, _, cf in getattr(fn, "_concrete", ()):
        for v in cf.variables:
            seen.setdefault(id(v), v)
    return list(seen.values())


class _DefaultStrategy(Strategy):
    """No distribution: one device, variables left where tracefn puts them."""

    def __init__(self):
        super().__init__(None, None)

    @contextlib.contextmanager
    def scope(self) -> Iterator[Strategy]:
        yield self

    def _distribute_batch(self, batch: Any, local: bool = False) -> Any:
        return jax.tree_util.tree_map(_as_tensor, batch, is_leaf=_is_tensor)

    def run(self, fn: Callable, args: Sequence = (), kwargs: dict | None = None, options=None):
        return fn(*args, **(kwargs or {}))


def _as_tensor(x):
    from ..tracing import convert_to_tensor

    return convert_to_tensor(x)


_DEFAULT = _DefaultStrategy()


class MirroredStrategy(Strategy):
    """Data parallelism over this process's devices: variables replicated on every device,
    batches split along axis 0, gradients summed by the all-reduce XLA inserts.

    >>> strategy = MirroredStrategy()
    >>> with strategy.scope():
    ...     w = tf.Variable(tf.zeros([4, 2]))          # replicated on every device
    >>> for x, y in strategy.experimental_distribute_dataset(batches):
    ...     loss = strategy.run(train_step, args=(x, y))   # train_step: a tf.function
    """

    def __init__(self, devices: Sequence | None = None, cross_device_ops=None):
        if devices is None:
            devs = jax.local_devices()
        else:
            devs = [resolve_device(d) for d in devices]
            if None in devs:
                raise ValueError(f"Each device must name a device type, got {list(devices)}")
        if len({d.id for d in devs}) != len(devs):
            raise ValueError(f"MirroredStrategy got a device twice: {list(devices or devs)}")
        super().__init__(Mesh(np.array(devs), ("batch",)), "batch")


class MeshStrategy(Strategy):
    """Model (and data) parallelism on a device mesh: a variable whose name matches a rule's
    regular expression is sharded with that rule's ``PartitionSpec`` (first match wins;
    otherwise replicated); batches are split along ``batch_axis`` if the mesh has it.

    >>> strategy = MeshStrategy((2, 4), ("batch", "model"),
    ...                         rules=[(r"dense/kernel", P(None, "model"))])
    """

    def __init__(self, mesh_shape: Sequence[int] | None = None,
                 axis_names: Sequence[str] = ("batch", "model"),
                 rules: Sequence[tuple[str, Any]] = (), devices: Sequence | None = None,
                 mesh: Mesh | None = None, batch_axis: str | None = "batch"):  # fmt: skip
        if mesh is None:
            mesh = _make_mesh(mesh_shape, tuple(axis_names), devices)
        self._rules = [(re.compile(p), _as_spec(s)) for p, s in rules]
        super().__init__(mesh, batch_axis)

    def variable_sharding(self, var) -> NamedSharding:
        name = var.name.rsplit(":", 1)[0]
        for pattern, spec in self._rules:
            if pattern.search(name):
                why = f"MeshStrategy rule {pattern.pattern!r}"
                check_spec(f"variable {name!r}", tuple(var.shape), spec, self._mesh, why)
                return NamedSharding(self._mesh, spec)
        return NamedSharding(self._mesh, PartitionSpec())


def _as_spec(spec) -> PartitionSpec:
    if isinstance(spec, PartitionSpec):
        return spec
    if spec is None or isinstance(spec, str):
        return PartitionSpec(spec)
    return PartitionSpec(*spec)


def _make_mesh(shape, names: tuple, devices) -> Mesh:
    devs = jax.devices() if devices is None else [resolve_device(d) for d in devices]
    shape = (len(devs),) if shape is None else tuple(int(s) for s in shape)
    if len(shape) != len(names):
        raise ValueError(f"mesh_shape {shape} has {len(shape)} axes but axis_names "
                         f"{names} has {len(names)}.")  # fmt: skip
    if int(np.prod(shape)) != len(devs):
        raise ValueError(f"mesh_shape {shape} needs {int(np.prod(shape))} devices; "
                         f"{len(devs)} are available.")  # fmt: skip
    return Mesh(np.array(devs).reshape(shape), names)
