"""``tracefn.compat``: TensorFlow's compatibility namespaces.

``import tracefn.compat.v1 as tf`` runs TF1 programs (graphs, sessions, variable scopes,
collections, TF1 optimizers) on tracefn's IR; see ``tracefn/compat/v1/__init__.py``.
"""

from . import v1

__all__ = ["v1"]
