"""``tracefn.keras.optimizers``: an alias of ``tracefn.optimizers``."""

from .. import optimizers as _module
from ._alias import reexport

__all__ = reexport(_module, globals())

from .. import schedules  # noqa: E402

__all__ += ["schedules"]
