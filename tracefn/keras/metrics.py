"""``tracefn.keras.metrics``: an alias of ``tracefn.metrics``."""

from .. import metrics as _module
from ._alias import reexport

__all__ = reexport(_module, globals())
