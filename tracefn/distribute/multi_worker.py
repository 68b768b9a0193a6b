"""``MultiWorkerMirroredStrategy``: data parallelism over the devices of several processes.

Each process runs the same program (multi-controller SPMD, as with ``jax.distributed``).
Creating the strategy joins the cluster with ``jax.distributed.initialize``; the mesh then
spans every process's devices, so a compiled step is one XLA program whose collectives cross
processes (on CPU through gloo). New variables take process 0's initial value, as in
TensorFlow, so differently seeded processes still start from the same model (``Strategy``
does this for every mesh that spans processes).

The cluster comes from, field by field, the first that gives it: the constructor's arguments,
a TF cluster resolver, ``TRACEFN_COORDINATOR`` / ``TRACEFN_NUM_PROCESSES`` /
``TRACEFN_PROCESS_ID``, then ``TF_CONFIG`` (chief first, then the workers; the first task's
address is the coordinator's).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from .strategy import MirroredStrategy, Strategy

__all__ = ["MultiWorkerMirroredStrategy", "ClusterConfig", "cluster_config"]


@dataclass(frozen=True)
class ClusterConfig:
    """Where the coordinator listens, how many processes join, and which one this is."""

    coordinator_address: str | None
    num_processes: int
    process_id: int


def cluster_config(coordinator_address: str | None = None, num_processes: int | None = None,
                   process_id: int | None = None, cluster_resolver=None,
                   environ: Mapping[str, str] | None = None) -> ClusterConfig:  # fmt: skip
    """Resolve the cluster from arguments, a resolver, ``TRACEFN_*`` variables, ``TF_CONFIG``."""
    env = os.environ if environ is None else environ
    sources = [
        {"coordinator_address": coordinator_address, "num_processes": num_processes,
         "process_id": process_id},
        _from_resolver(cluster_resolver),
        {"coordinator_address": env.get("TRACEFN_COORDINATOR"),
         "num_processes": env.get("TRACEFN_NUM_PROCESSES"),
         "process_id": env.get("TRACEFN_PROCESS_ID")},
        _from_tf_config(env.get("TF_CONFIG")),
    ]  # fmt: skip
    found = {k: next((s[k] for s in sources if s.get(k) not in (None, "")), None)
             for k in ("coordinator_address", "num_processes", "process_id")}  # fmt: skip
    n = int(found["num_processes"] or 1)
    if n > 1 and found["process_id"] is None:
        raise ValueError(f"A cluster of {n} processes needs this process's id: pass "
                         "process_id=, or set TRACEFN_PROCESS_ID or TF_CONFIG.")  # fmt: skip
    return ClusterConfig(found["coordinator_address"], n, int(found["process_id"] or 0))


def _tasks(jobs: Mapping[str, Any]) -> list[tuple[str, int, str]]:
    """(type, index, address) of the processes, in process-id order: chief, then workers."""
    return [(kind, i, addr) for kind in ("chief", "worker")
            for i, addr in enumerate(jobs.get(kind) or ())]  # fmt: skip


def _cluster_from(jobs: Mapping[str, Any], task_type: str, task_index: int) -> dict:
    tasks = _tasks(jobs)
    if not tasks:
        return {}
    ids = [n for n, (kind, i, _) in enumerate(tasks) if kind == task_type and i == task_index]
    if not ids:
        raise ValueError(f"TF_CONFIG task {task_type}:{task_index} is not a chief or worker "
                         "task of the cluster; MultiWorkerMirroredStrategy runs on "
                         "those.")  # fmt: skip
    return {"coordinator_address": tasks[0][2], "num_processes": len(tasks), "process_id": ids[0]}


def _from_tf_config(text: str | None) -> dict:
    if not text:
        return {}
    config = json.loads(text)
    task = config.get("task") or {}
    return _cluster_from(config.get("cluster") or {}, task.get("type", "worker"),
                         int(task.get("index", 0)))  # fmt: skip


def _from_resolver(resolver) -> dict:
    """A TF-style cluster resolver: ``cluster_spec().as_dict()``, ``task_type``, ``task_id``."""
    if resolver is None:
        return {}
    jobs = resolver.cluster_spec().as_dict()
    return _cluster_from(jobs, resolver.task_type or "worker", int(resolver.task_id or 0))


def initialize(config: ClusterConfig) -> None:
    """Join the cluster (once per process); a single process without a coordinator needs
    nothing."""
    if config.num_processes == 1 and config.coordinator_address is None:
        return
    if jax.distributed.is_initialized():
        if (jax.process_count(), jax.process_index()) != (config.num_processes,
                                                          config.process_id):  # fmt: skip
            raise ValueError(f"This process already joined a cluster as process "
                             f"{jax.process_index()} of {jax.process_count()}; the strategy "
                             f"asks for {config.process_id} of "
                             f"{config.num_processes}.")  # fmt: skip
        return
    if config.coordinator_address is None:
        raise ValueError("A multi-process strategy needs the coordinator's address: pass "
                         "coordinator_address='host:port', or set TRACEFN_COORDINATOR or "
                         "TF_CONFIG.")  # fmt: skip
    if jax.config.jax_cpu_collectives_implementation in (None, "", "none"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives
    try:
        jax.distributed.initialize(config.coordinator_address, config.num_processes,
                                   config.process_id)  # fmt: skip
    except RuntimeError as e:
        raise RuntimeError("MultiWorkerMirroredStrategy must be created before any tracefn or "
                           "jax computation runs in this process (jax joins the cluster "
                           f"before it starts its devices). jax said: {e}") from e  # fmt: skip


class MultiWorkerMirroredStrategy(MirroredStrategy):
    """``MirroredStrategy`` over every device of every process of a cluster.

    >>> # in each of 2 processes, with TRACEFN_COORDINATOR=localhost:1234,
    >>> # TRACEFN_NUM_PROCESSES=2 and TRACEFN_PROCESS_ID=0 or 1:
    >>> strategy = MultiWorkerMirroredStrategy()
    >>> strategy.num_replicas_in_sync   # devices of all processes
    2
    """

    def __init__(self, cluster_resolver=None, communication_options=None, *,
                 coordinator_address: str | None = None, num_processes: int | None = None,
                 process_id: int | None = None):  # fmt: skip
        self._cluster = cluster_config(coordinator_address, num_processes, process_id,
                                       cluster_resolver)  # fmt: skip
        initialize(self._cluster)
        Strategy.__init__(self, Mesh(np.array(jax.devices()), ("batch",)), "batch")

    @property
    def cluster(self) -> ClusterConfig:
        return self._cluster
