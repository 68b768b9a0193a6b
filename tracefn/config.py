"""Global switches: ``tracefn.config.run_functions_eagerly(True)`` and friends."""

from __future__ import annotations

__all__ = [
    "run_functions_eagerly", "functions_run_eagerly", "set_soft_device_placement",
    "get_soft_device_placement", "list_physical_devices", "list_logical_devices",
]  # fmt: skip

RUN_EAGERLY = False
# When True (the test suite sets it) every traced graph is checked by the IR verifier.
VERIFY_GRAPHS = False
SOFT_DEVICE_PLACEMENT = False


def run_functions_eagerly(run_eagerly: bool) -> None:
    """Make every ``tracefn.function`` call run its Python body eagerly (for debugging)."""
    global RUN_EAGERLY
    RUN_EAGERLY = bool(run_eagerly)


def functions_run_eagerly() -> bool:
    return RUN_EAGERLY


def set_soft_device_placement(enabled: bool) -> None:
    global SOFT_DEVICE_PLACEMENT
    SOFT_DEVICE_PLACEMENT = bool(enabled)


def get_soft_device_placement() -> bool:
    return SOFT_DEVICE_PLACEMENT


class PhysicalDevice:
    def __init__(self, name: str, device_type: str):
        self.name = name
        self.device_type = device_type

    def __repr__(self):
        return f"PhysicalDevice(name='{self.name}', device_type='{self.device_type}')"


def list_physical_devices(device_type: str | None = None) -> list:
    """The devices jax sees, named TF-style (``/physical_device:CPU:0``)."""
    import jax

    out = []
    for d in jax.devices():
        kind = "GPU" if d.platform in ("gpu", "cuda", "rocm") else d.platform.upper()
        if device_type is None or device_type.upper() == kind:
            out.append(PhysicalDevice(f"/physical_device:{kind}:{d.id}", kind))
    return out


list_logical_devices = list_physical_devices
