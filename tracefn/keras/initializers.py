"""``tracefn.keras.initializers``: an alias of ``tracefn.initializers``."""

from .. import initializers as _module
from ._alias import reexport

__all__ = reexport(_module, globals())
