"""Re-export the public classes and functions of a tracefn module under a Keras name."""

from __future__ import annotations

from types import ModuleType


def reexport(module: ModuleType, namespace: dict) -> list[str]:
    """Copy ``module``'s public names defined in it (aliases included) into ``namespace``;
    returns them, for ``__all__``."""
    names = [k for k, v in vars(module).items() if not k.startswith("_")
             and getattr(v, "__module__", None) == module.__name__]  # fmt: skip
    namespace.update({k: getattr(module, k) for k in names})
    return names
