"""TF1 device placement: ``replica_device_setter`` and device strings.

``replica_device_setter(ps_tasks=2)`` returns a *device function* ``op -> device string``, as
in TensorFlow: variables go round-robin to ``/job:ps/task:0``, ``/job:ps/task:1``, ...; every
other op goes to the worker device; a device the op already names is merged in (its fields win).
``resolve_device`` turns a string into a local jax device when it names a device type
(``/gpu:1``); job and task alone (``/job:ps/task:1``) name other processes of a TF cluster,
which a single jax process does not have, so they constrain nothing: keep them as the
variable's ``device`` string.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import jax

__all__ = ["DeviceSpec", "replica_device_setter", "resolve_device", "STANDARD_PS_OPS"]

logger = logging.getLogger("tracefn")

# TensorFlow's list (python/training/device_setter.py): the ops that hold state.
STANDARD_PS_OPS = (
    "Variable", "VariableV2", "AutoReloadVariable", "MutableHashTable", "MutableHashTableV2",
    "MutableHashTableOfTensors", "MutableHashTableOfTensorsV2", "MutableDenseHashTable",
    "MutableDenseHashTableV2", "VarHandleOp", "BoostedTreesEnsembleResourceHandleOp",
    "BoostedTreesQuantileStreamResourceHandleOp", "ResourceConditionalAccumulator",
    "DecisionTree", "DecisionTreeResource", "TreeEnsembleVariable",
    "StatsAccumulatorScalar", "StatsAccumulatorTensor",
)  # fmt: skip

_FIELDS = ("job", "replica", "task", "device_type", "device_index")


class DeviceSpec:
    """A parsed device string: ``/job:ps/replica:0/task:1/device:GPU:0`` (any part optional;
    ``/cpu:0`` and ``GPU:1`` are accepted too)."""

    __slots__ = _FIELDS

    def __init__(self, job=None, replica=None, task=None, device_type=None, device_index=None):
        self.job, self.replica, self.task = job, replica, task
        self.device_type, self.device_index = device_type, device_index

    @classmethod
    def from_string(cls, spec: str | None) -> DeviceSpec:
        out = cls()
        for part in (spec or "").split("/"):
            if part:
                out._parse_part(part, spec)
        return out

    def _parse_part(self, part: str, spec: str) -> None:
        key, _, rest = part.partition(":")
        low = key.lower()
        if low in ("job", "replica", "task") and rest:
            setattr(self, low, rest if low == "job" else int(rest))
        elif low == "device" and rest:
            self._parse_part(rest, spec)
        elif low in ("cpu", "gpu", "tpu") or key.isupper():
            self.device_type = key.upper()
            self.device_index = None if rest in ("", "*") else int(rest)
        else:
            raise ValueError(f"Unknown attribute: '{part}' in '{spec}'")

    def make_merged_spec(self, other: DeviceSpec) -> DeviceSpec:
        """This spec with the fields ``other`` sets replaced by ``other``'s."""
        values = [getattr(other, f) if getattr(other, f) is not None else getattr(self, f)
                  for f in _FIELDS]  # fmt: skip
        return DeviceSpec(*values)

    def replace(self, **fields) -> DeviceSpec:
        values = {f: getattr(self, f) for f in _FIELDS}
        values.update(fields)
        return DeviceSpec(**values)

    def to_string(self) -> str:
        out = ""
        for field in ("job", "replica", "task"):
            if getattr(self, field) is not None:
                out += f"/{field}:{getattr(self, field)}"
        if self.device_type is not None:
            index = "*" if self.device_index is None else self.device_index
            out += f"/device:{self.device_type}:{index}"
        return out

    def __repr__(self):
        return f"DeviceSpec({self.to_string()!r})"


class _RoundRobin:
    """TF's default ``ps_strategy``: the next parameter-server task, cyclically."""

    def __init__(self, num_tasks: int):
        self._num_tasks = num_tasks
        self._next = 0

    def __call__(self, op) -> int:
        task = self._next
        self._next = (self._next + 1) % self._num_tasks
        return task


def replica_device_setter(ps_tasks: int = 0, ps_device: str = "/job:ps",
                          worker_device: str = "/job:worker", merge_devices: bool = True,
                          cluster=None, ps_ops: Sequence[str] | None = None,
                          ps_strategy: Callable[[Any], int] | None = None,
                          ) -> Callable[[Any], str] | None:  # fmt: skip
    """A device function placing variables on parameter-server tasks (round-robin) and every
    other op on ``worker_device``, for ``tracefn.device(...)``. ``None`` when there are no
    parameter-server tasks, as in TensorFlow.

    >>> setter = replica_device_setter(ps_tasks=2)
    >>> [setter(op) for op in ("VariableV2", "VariableV2", "MatMul", "VarHandleOp")]
    ['/job:ps/task:0', '/job:ps/task:1', '/job:worker', '/job:ps/task:0']
    """
    if cluster is not None:
        jobs = cluster.as_dict() if hasattr(cluster, "as_dict") else dict(cluster)
        ps_job = DeviceSpec.from_string(ps_device).job
        if not jobs.get(ps_job):
            return None
        ps_tasks = len(jobs[ps_job])
    if ps_tasks == 0:
        return None
    if not merge_devices:
        logger.warning("DEPRECATION: It is recommended to set merge_devices=true in "
                       "replica_device_setter")  # fmt: skip
    ps_strategy = _RoundRobin(ps_tasks) if ps_strategy is None else ps_strategy
    if not callable(ps_strategy):
        raise TypeError("ps_strategy must be callable")
    ps_ops = frozenset(STANDARD_PS_OPS if ps_ops is None else ps_ops)
    return _Chooser(ps_tasks, ps_device, worker_device, merge_devices, ps_ops, ps_strategy)


class _Chooser:
    """The device function ``replica_device_setter`` returns (TF's ``_ReplicaDeviceChooser``)."""

    def __init__(self, ps_tasks, ps_device, worker_device, merge_devices, ps_ops, ps_strategy):
        self._ps_tasks, self._ps_device, self._worker_device = ps_tasks, ps_device, worker_device
        self._merge, self._ps_ops, self._ps_strategy = merge_devices, ps_ops, ps_strategy

    def __call__(self, op) -> str:
        device = op_device(op)
        if not self._merge and device:
            return device
        current = DeviceSpec.from_string(device)
        if self._ps_tasks and self._ps_device and op_type(op) in self._ps_ops:
            ps = DeviceSpec.from_string(self._ps_device)
            # The task is chosen only when the op's own job (if any) is the ps job.
            if ps.job and (not current.job or current.job == ps.job):
                ps = ps.replace(task=self._ps_strategy(op))
            return ps.make_merged_spec(current).to_string()
        worker = DeviceSpec.from_string(self._worker_device)
        return worker.make_merged_spec(current).to_string()


def op_type(op: Any) -> str:
    """The TF op type of ``op``: a tracefn Variable is a ``VarHandleOp``; an object with a
    ``type`` (TF's ``Operation``) gives it; a tracefn IR op gives its primitive's name; a
    string is taken as the type itself."""
    from ..variables import Variable

    if isinstance(op, Variable):
        return "VarHandleOp"
    if isinstance(op, str):
        return op
    kind = getattr(op, "type", None)
    if isinstance(kind, str):
        return kind
    node_def = getattr(op, "node_def", None)
    if node_def is not None:
        return node_def.op
    prim = getattr(op, "prim", None)
    return getattr(prim, "name", type(op).__name__)


def op_device(op: Any) -> str:
    """The device ``op`` already asks for (``''`` if none)."""
    from ..variables import Variable

    if isinstance(op, Variable):
        return op._device or ""
    if isinstance(op, str):
        return ""
    device = getattr(op, "device", None)
    if device is None:
        device = getattr(op, "attrs", {}).get("device")
    return device or ""


def resolve_device(spec: str | DeviceSpec | jax.Device | None) -> jax.Device | None:
    """The local jax device a TF device string names (``None`` for no constraint).

    ``/gpu:1`` is local GPU 1; a device type this machine lacks falls back to the default
    backend (TF's soft placement); a spec without a device type (``/job:ps/task:3``)
    constrains nothing."""
    if spec is None or isinstance(spec, jax.Device):
        return spec
    spec = DeviceSpec.from_string(spec) if isinstance(spec, str) else spec
    if spec.device_type is None:
        return None
    devices = _local_devices(spec.device_type.lower())
    index = spec.device_index or 0
    if index >= len(devices):
        raise ValueError(f"Device {spec.to_string()!r} does not exist: this process has "
                         f"{len(devices)} {devices[0].platform} device(s).")  # fmt: skip
    return devices[index]


def _local_devices(platform: str) -> list:
    try:
        return jax.local_devices(backend=platform)
    except RuntimeError:  # no such backend here: soft placement on the default one
        return jax.local_devices()
