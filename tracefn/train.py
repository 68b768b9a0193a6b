"""``tracefn.train``: checkpoints (TF's ``tf.train``)."""

from .checkpoint import Checkpoint, CheckpointManager, CheckpointOptions, latest_checkpoint

__all__ = ["Checkpoint", "CheckpointManager", "CheckpointOptions", "latest_checkpoint"]
