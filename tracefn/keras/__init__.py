"""``tracefn.keras``: Keras's names for tracefn's training pieces, so code such as
``tf.keras.optimizers.Adam``, ``tf.keras.metrics.Mean``, ``tf.keras.losses.MeanSquaredError``
and ``tf.keras.initializers.GlorotUniform`` runs unchanged. Each submodule is an alias of the
tracefn module of the same name; layers and models are not provided.
"""

from . import initializers, losses, metrics, optimizers

__all__ = ["initializers", "losses", "metrics", "optimizers"]
