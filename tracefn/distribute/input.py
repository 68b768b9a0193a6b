"""Distributed input: batches split along axis 0 over a strategy's replicas.

A global batch (``experimental_distribute_dataset``) is the same in every process; each
process materializes only the slices its devices hold. A per-process batch
(``distribute_datasets_from_function``) is this process's part; the processes' parts are
assembled, in process order, into one global array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

from ..tensor import EagerTensor, Tensor
from .placement import place

__all__ = ["DistributedDataset", "InputContext", "distribute_batch", "per_replica_pieces"]


class InputContext:
    """What a ``dataset_fn`` needs to know to build its process's part of the input."""

    def __init__(self, num_input_pipelines: int = 1, input_pipeline_id: int = 0,
                 num_replicas_in_sync: int = 1):  # fmt: skip
        self.num_input_pipelines = num_input_pipelines
        self.input_pipeline_id = input_pipeline_id
        self.num_replicas_in_sync = num_replicas_in_sync

    def get_per_replica_batch_size(self, global_batch_size: int) -> int:
        if global_batch_size % self.num_replicas_in_sync:
            raise ValueError(f"The `global_batch_size` {global_batch_size!r} is not "
                             "divisible by `num_replicas_in_sync` "
                             f"{self.num_replicas_in_sync!r}")  # fmt: skip
        return global_batch_size // self.num_replicas_in_sync

    def __repr__(self):
        return (f"InputContext(num_input_pipelines={self.num_input_pipelines}, "
                f"input_pipeline_id={self.input_pipeline_id}, "
                f"num_replicas_in_sync={self.num_replicas_in_sync})")  # fmt: skip


class DistributedDataset:
    """Iterates a dataset, yielding each batch distributed over the strategy's replicas."""

    def __init__(self, strategy, make_iterator: Callable[[], Iterator], local: bool):
        self._strategy = strategy
        self._make_iterator = make_iterator
        self._local = local

    def __iter__(self) -> Iterator:
        strategy = self._strategy
        if not self._local:
            for batch in self._make_iterator():
                yield strategy._distribute_batch(batch)
            return
        for group in _groups(self._make_iterator(), strategy._num_local_replicas):
            yield strategy._distribute_batch(_concatenate(group), local=True)


def _groups(it: Iterator, n: int) -> Iterator[list]:
    """Consecutive groups of ``n`` elements (TF: one per-replica batch for each local
    replica per step); a last, incomplete group is dropped."""
    group: list = []
    for element in it:
        group.append(element)
        if len(group) == n:
            yield group
            group = []


def _concatenate(group: list) -> Any:
    if len(group) == 1:
        return group[0]
    return jax.tree_util.tree_map(lambda *xs: np.concatenate([np.asarray(x) for x in xs]),
                                  *group, is_leaf=_is_tensor)  # fmt: skip


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def distribute_batch(strategy, batch: Any, local: bool = False) -> Any:
    """``batch`` (arrays, tensors, or tuples/lists/dicts of them) with every array split along
    axis 0 over ``strategy``'s replicas, as EagerTensors."""
    return jax.tree_util.tree_map(lambda x: _shard(strategy, x, local), batch, is_leaf=_is_tensor)


def _shard(strategy, x: Any, local: bool) -> EagerTensor:
    array = x._array if isinstance(x, EagerTensor) else x
    if not isinstance(array, jax.Array):
        array = np.asarray(array)
    sharding = strategy.batch_sharding(array.ndim)
    if array.ndim:
        parts = jax.process_count() if local else 1
        _check_divisible(array.shape[0] * parts, strategy.num_replicas_in_sync)
    if local:
        return EagerTensor(jax.make_array_from_process_local_data(sharding, np.asarray(array)))
    return EagerTensor(place(array, sharding))


def _check_divisible(batch_size: int, replicas: int) -> None:
    if batch_size % replicas:
        raise ValueError(f"A batch of {batch_size} examples cannot be split evenly over "
                         f"{replicas} replicas. Use a global batch size divisible by "
                         f"{replicas}, and drop the last, partial batch.")  # fmt: skip


def per_replica_pieces(array: jax.Array, strategy) -> list:
    """This process's per-replica pieces of ``array``: its axis-0 slices if it is split along
    the batch axis, else the whole array once per local replica."""
    spec = getattr(array.sharding, "spec", None)
    first = spec[0] if spec is not None and len(spec) else None
    axes = first if isinstance(first, tuple) else (first,)
    if array.ndim == 0 or strategy._batch_axis not in axes:
        return [array] * strategy._num_local_replicas
    pieces: dict[int, jax.Array] = {}
    for shard in array.addressable_shards:
        pieces.setdefault(shard.index[0].start or 0, shard.data)
    return [pieces[k] for k in sorted(pieces)]
