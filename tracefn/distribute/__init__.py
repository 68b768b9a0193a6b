"""``tracefn.distribute``: many devices and many hosts on JAX's SPMD engine.

- ``MirroredStrategy``: data parallelism over this process's devices.
- ``MultiWorkerMirroredStrategy``: the same over the devices of several processes
  (``jax.distributed``).
- ``MeshStrategy``: a device mesh plus name rules that shard large variables (model
  parallelism), combined with data parallelism along its ``batch`` axis.

Variables created in ``strategy.scope()`` are placed on the strategy's mesh; compiled
functions follow the placement and XLA inserts the communication. See ``strategy.py``.
"""

from .device_setter import DeviceSpec, replica_device_setter, resolve_device
from .hlo import collective_bytes, compiled_text, count_collectives
from .input import DistributedDataset, InputContext
from .multi_worker import ClusterConfig, MultiWorkerMirroredStrategy, cluster_config
from .strategy import (
    MeshStrategy,
    MirroredStrategy,
    ReduceOp,
    Strategy,
    get_strategy,
    has_strategy,
)

__all__ = [
    "MirroredStrategy", "MultiWorkerMirroredStrategy", "MeshStrategy", "Strategy", "ReduceOp",
    "get_strategy", "has_strategy", "DistributedDataset", "InputContext", "ClusterConfig",
    "cluster_config", "DeviceSpec", "replica_device_setter", "resolve_device", "compiled_text",
    "count_collectives", "collective_bytes",
]  # fmt: skip
