"""Putting arrays on shardings, and explaining placements that cannot meet in one program.

Every array a strategy places goes through ``place``: on one process it is a
``jax.device_put``; across processes the array is assembled from each process's identical
host copy with ``jax.make_array_from_callback`` (``device_put`` cannot build an array whose
devices are not all addressable here).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec, Sharding

__all__ = ["place", "broadcast_from_process_0", "check_spec", "describe", "placement_error",
           "is_device_mismatch"]  # fmt: skip


def place(value: Any, sharding: Sharding, fresh: bool = False) -> jax.Array:
    """``value`` (a jax array or host data) on ``sharding``; a no-op if it is there already.

    ``fresh=True`` guarantees a new buffer: a new variable's array must not alias its initial
    value, which a compiled call would otherwise delete when it donates the variable."""
    if isinstance(value, jax.Array) and _has_sharding(value, sharding) and not fresh:
        return value
    if sharding.is_fully_addressable:
        if fresh and isinstance(value, jax.Array):
            value = jnp.copy(value)  # device_put may alias its input's buffer
        return jax.device_put(value, sharding)
    host = np.asarray(value)  # process-local and identical in every process
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _has_sharding(array: jax.Array, sharding: Sharding) -> bool:
    try:
        return array.sharding.is_equivalent_to(sharding, array.ndim)
    except (AttributeError, TypeError, ValueError):
        return False


def broadcast_from_process_0(value: Any) -> np.ndarray:
    """Process 0's value of ``value``, in every process (a collective: every process calls
    it, in the same order). TF's multi-worker strategy initializes variables the same way."""
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(np.asarray(value)))


def check_spec(name: str, shape: tuple, spec: PartitionSpec, mesh: Mesh, why: str) -> None:
    """Raise a ValueError naming ``name`` if ``spec`` cannot shard an array of ``shape``."""
    if len(spec) > len(shape):
        raise ValueError(f"{why} gives {name} of shape {tuple(shape)} the sharding {spec}, "
                         f"which names {len(spec)} dimensions; it has {len(shape)}.")  # fmt: skip
    for dim, (size, axes) in enumerate(zip(shape, spec)):
        names = () if axes is None else (axes if isinstance(axes, tuple) else (axes,))
        unknown = [a for a in names if a not in mesh.shape]
        if unknown:
            raise ValueError(f"{why} shards {name} over mesh axis {unknown[0]!r}; the mesh has "
                             f"axes {tuple(mesh.axis_names)}.")  # fmt: skip
        parts = int(np.prod([mesh.shape[a] for a in names])) if names else 1
        if size % parts:
            raise ValueError(f"{why} splits dimension {dim} (size {size}) of {name} into "
                             f"{parts} parts over mesh axes {names}, which does not divide "
                             "evenly. Choose a shape divisible by the mesh size, or another "
                             "rule.")  # fmt: skip


def describe(array: Any) -> str:
    """Where ``array`` lives, in words: ``'device 3'``, ``'replicated over 8 devices'``..."""
    sharding = getattr(array, "sharding", None)
    if sharding is None:
        return "host memory"
    devices = sorted(d.id for d in sharding.device_set)
    if len(devices) == 1:
        committed = getattr(array, "committed", True)
        return f"device {devices[0]}" + ("" if committed else " (uncommitted)")
    spec = getattr(sharding, "spec", None)
    if spec is not None and all(s is None for s in spec):
        return f"replicated over devices {devices}"
    return f"sharded {spec if spec is not None else sharding} over devices {devices}"


def is_device_mismatch(error: BaseException) -> bool:
    """Whether ``error`` is jax refusing to run one program over arrays on different devices."""
    text = str(error)
    return isinstance(error, ValueError) and (
        "incompatible devices" in text or "different device" in text or "device_set" in text
    )


def placement_error(variables: Iterable, error: BaseException, where: str) -> ValueError:
    """A ValueError that lists where each variable of a failed call lives and says how to
    fix it (jax's own message numbers positional arguments, not variables)."""
    lines = [f"{v.name}: {describe(getattr(v, '_value', None))}" for v in variables]
    listing = "\n  ".join(lines) if lines else "(no variables)"
    return ValueError(
        f"{where}: its inputs live on different devices, so they cannot meet in one XLA "
        f"program. Variables:\n  {listing}\nCreate every variable of the step inside the same "
        "`strategy.scope()` (a variable committed to one device, with `tf.device` or "
        "`jax.device_put`, cannot join a step on the strategy's devices), or move it first.\n"
        f"jax said: {error}"
    )
