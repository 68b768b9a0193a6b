"""``tracefn.device``: place variables on a device, eagerly and in TF1 graphs (issue 6 item 7).

``with tracefn.device("/device:GPU:1"): v = tracefn.Variable(...)`` puts ``v``'s array on that
jax device; compiled calls then run where their state lives (jax runs a program on the device
of its committed inputs). In a TF1 graph the variable's value is put there in every session.
A device that does not exist raises ``InvalidArgumentError`` listing the available devices,
unless soft placement is on (``tracefn.config.set_soft_device_placement(True)``): then the
variable goes to the default device with a warning. ``None`` clears the enclosing device.
A function ``var -> device string`` may stand for the name (a device function).
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from collections.abc import Callable, Iterator

import jax
from jax.sharding import SingleDeviceSharding

from ... import config
from ...errors import InvalidArgumentError
from ...variables import CREATION_HOOKS

__all__ = ["device", "DeviceSpec", "tf_device_name"]

_SPEC = re.compile(
    r"^(?:/job:(?P<job>[^/]+))?(?:/replica:(?P<replica>\d+))?(?:/task:(?P<task>\d+))?"
    r"(?:/?device:|/)?(?:(?P<type>[A-Za-z_]+)(?::(?P<index>\d+|\*))?)?$"
)


class _DeviceStack(threading.local):
    def __init__(self):
        self.stack: list = []


_devices = _DeviceStack()


class DeviceSpec:
    """A parsed device name: ``device_type`` (``"CPU"``, ``"GPU"``, ``"TPU"``) and ``index``."""

    def __init__(self, device_type: str | None = None, device_index: int | None = None):
        self.device_type = None if device_type is None else device_type.upper()
        self.device_index = device_index

    @classmethod
    def from_string(cls, spec: str) -> DeviceSpec:
        m = _SPEC.match(spec.strip())
        if m is None:
            raise ValueError(f"Unknown attribute: '{spec}' in '{spec}'")
        index = m.group("index")
        return cls(m.group("type"), None if index in (None, "*") else int(index))

    def to_string(self) -> str:
        if self.device_type is None:
            return ""
        return f"/device:{self.device_type}:{0 if self.device_index is None else self.device_index}"


@contextlib.contextmanager
def device(device_name_or_function: str | Callable | None) -> Iterator[None]:
    """Variables created inside are placed on this device (see the module docstring)."""
    spec = device_name_or_function
    if isinstance(spec, str):
        DeviceSpec.from_string(spec)  # a malformed name fails here, like TF
    _devices.stack.append(spec)
    try:
        yield
    finally:
        _devices.stack.pop()


def current_device():
    """The innermost device name or function (``None``: no placement)."""
    return _devices.stack[-1] if _devices.stack else None


def tf_device_name(d) -> str:
    """TF's full name of jax device ``d``: ``/job:localhost/replica:0/task:0/device:CPU:0``."""
    kind = "GPU" if d.platform in ("gpu", "cuda", "rocm") else d.platform.upper()
    index = _local_devices(kind).index(d) if d in _local_devices(kind) else d.id
    return f"/job:localhost/replica:0/task:0/device:{kind}:{index}"


def _local_devices(kind: str) -> list:
    platform = {"GPU": "gpu"}.get(kind, kind.lower())
    try:
        return list(jax.devices(platform))
    except RuntimeError:  # no backend of this kind on this machine
        return []


def resolve(spec: str, what: str):
    """The jax device named by ``spec`` for variable ``what``; raises or (soft placement)
    falls back to the default device with a warning."""
    parsed = DeviceSpec.from_string(spec)
    if parsed.device_type is None:
        return None
    candidates = _local_devices(parsed.device_type)
    index = parsed.device_index or 0
    if index < len(candidates):
        return candidates[index]
    available = ", ".join(tf_device_name(d) for d in jax.devices())
    if config.SOFT_DEVICE_PLACEMENT:
        fallback = jax.devices()[0]
        warnings.warn(f"Variable {what} was placed on {parsed.to_string()}, which does not "
                      f"exist; soft device placement puts it on {tf_device_name(fallback)}. "
                      f"Available devices: [ {available} ].", stacklevel=4)  # fmt: skip
        return fallback
    raise InvalidArgumentError(
        f"Cannot assign a device for operation {what}: node {what} was explicitly assigned to "
        f"{parsed.to_string()} but available devices are [ {available} ]. Make sure the device "
        "specification refers to a valid device."
    )


def _spec_for(var) -> str | None:
    spec = current_device()
    return spec(var) if callable(spec) else spec


def graph_placement(var) -> None:
    """Place a new graph variable: its value goes to the device in every session."""
    spec = _spec_for(var)
    dev = resolve(spec, var._name) if spec else None
    var._device, var._placement = (_job_task(spec), None) if dev is None else (
        tf_device_name(dev), dev)  # fmt: skip
    if dev is not None:
        var._sharding = SingleDeviceSharding(dev)


def _job_task(spec: str | None) -> str | None:
    """A device string naming only a job/task (``/job:ps/task:1``, from a device function such
    as ``replica_device_setter``): recorded on the variable; no local device is implied."""
    if not spec:
        return None
    from ...distribute.device_setter import DeviceSpec as FullSpec  # parses job/replica/task

    return FullSpec.from_string(spec).to_string()


def _place_eager(var) -> None:
    """Creation hook: put a new eager variable's array on the current device."""
    if not _devices.stack or not hasattr(var, "_value"):
        return
    spec = _spec_for(var)
    dev = resolve(spec, var._name) if spec else None
    if dev is None and spec:
        var._device = _job_task(spec)
    if dev is not None:
        # The sharding pins the variable to the device: eager writes and compiled calls put
        # its new values back there (Variable._write, LoweredGraph's out_shardings).
        var._sharding = SingleDeviceSharding(dev)
        var._value = jax.device_put(var._value, dev)
        var._device = tf_device_name(dev)
        var._placement = dev


if _place_eager not in CREATION_HOOKS:  # placement first: later hooks see the placed array
    CREATION_HOOKS.insert(0, _place_eager)
