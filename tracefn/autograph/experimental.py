"""``tracefn.autograph.experimental``: the names TF keeps under ``tf.autograph.experimental``."""

import enum

from .conversion import do_not_convert
from .operators import set_loop_options

__all__ = ["Feature", "do_not_convert", "set_loop_options"]


class Feature(enum.Enum):
    """Optional conversions (TF's ``tf.autograph.experimental.Feature``); tracefn acts on
    ``ASSERT_STATEMENTS`` (and ``ALL``), the others are accepted."""

    ALL = "ALL"
    AUTO_CONTROL_DEPS = "AUTO_CONTROL_DEPS"
    ASSERT_STATEMENTS = "ASSERT_STATEMENTS"
    BUILTIN_FUNCTIONS = "BUILTIN_FUNCTIONS"
    EQUALITY_OPERATORS = "EQUALITY_OPERATORS"
    LISTS = "LISTS"
    NAME_SCOPES = "NAME_SCOPES"


def feature_names(options) -> frozenset:
    """The enabled feature names of an ``experimental_autograph_options`` value."""
    if options is None:
        return frozenset()
    items = options if isinstance(options, (list, tuple, set, frozenset)) else [options]
    names = {getattr(o, "value", o) for o in items}
    return frozenset(f.value for f in Feature) if "ALL" in names else frozenset(names)
