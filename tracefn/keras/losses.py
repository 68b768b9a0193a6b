"""``tracefn.keras.losses``: an alias of ``tracefn.losses``."""

from .. import losses as _module
from ._alias import reexport

__all__ = reexport(_module, globals())
