"""TF1 collections (spec C6): named lists of objects kept by the default graph.

Variables join ``GLOBAL_VARIABLES`` (and ``TRAINABLE_VARIABLES`` when trainable) when they are
created; ``get_local_variable`` puts them in ``LOCAL_VARIABLES`` only (section 8: a local
variable is never trainable unless ``trainable=True`` is passed).
"""

from __future__ import annotations

__all__ = [
    "GraphKeys", "add_to_collection", "add_to_collections", "get_collection",
    "get_collection_ref", "global_variables", "local_variables", "trainable_variables",
    "model_variables", "moving_average_variables", "all_variables",
]  # fmt: skip


class GraphKeys:
    """The standard collection names (TF's ``tf.compat.v1.GraphKeys``)."""

    GLOBAL_VARIABLES = "variables"
    VARIABLES = GLOBAL_VARIABLES
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    TRAINABLE_RESOURCE_VARIABLES = "trainable_resource_variables"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    CONCATENATED_VARIABLES = "concatenated_variables"
    GLOBAL_STEP = "global_step"
    EVAL_STEP = "eval_step"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    REGULARIZATION_LOSSES = "regularization_losses"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    SAVERS = "savers"
    SAVEABLE_OBJECTS = "saveable_objects"
    RESOURCES = "resources"
    LOCAL_RESOURCES = "local_resources"
    WEIGHTS = "weights"
    BIASES = "biases"
    ACTIVATIONS = "activations"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    READY_FOR_LOCAL_INIT_OP = "ready_for_local_init_op"
    SUMMARY_OP = "summary_op"
    TRAIN_OP = "train_op"
    COND_CONTEXT = "cond_context"
    WHILE_CONTEXT = "while_context"


def _graph():
    from .graph import get_default_graph

    return get_default_graph()


def add_to_collection(name: str, value) -> None:
    """Append ``value`` to collection ``name`` of the default graph (any string is a name)."""
    _graph().add_to_collection(name, value)


def add_to_collections(names, value) -> None:
    _graph().add_to_collections(names, value)


def get_collection(key: str, scope: str | None = None) -> list:
    """A copy of collection ``key``; with ``scope``, only items whose ``name`` matches it (a
    regular expression, matched at the start)."""
    return _graph().get_collection(key, scope)


def get_collection_ref(key: str) -> list:
    """The collection list itself: changes to it change the collection."""
    return _graph().get_collection_ref(key)


def global_variables(scope: str | None = None) -> list:
    return get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


all_variables = global_variables


def local_variables(scope: str | None = None) -> list:
    return get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def trainable_variables(scope: str | None = None) -> list:
    return get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def model_variables(scope: str | None = None) -> list:
    return get_collection(GraphKeys.MODEL_VARIABLES, scope)


def moving_average_variables(scope: str | None = None) -> list:
    return get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, scope)
