"""``tracefn.autograph.experimental``: the names TF keeps under ``tf.autograph.experimental``."""

from .conversion import do_not_convert
from .operators import set_loop_options

__all__ = ["do_not_convert", "set_loop_options"]
