"""AutoGraph for tracefn: Python control flow on traced tensors becomes staged control flow.

``convert(fn)`` rewrites ``fn``'s source so that ``if``/``while``/``for``, ``break``,
``continue``, ``return``, ``and``/``or``/``not`` and ``a if c else b`` call runtime operators
that run Python values as Python and traced values as ``cond`` / ``while_loop`` ops
(``tracefn.function`` does this when it traces, with ``autograph=True``)::

    def f(x):
        if x > 0:
            x = x * 2
        return x

    print(tracefn.autograph.to_source(f))   # the rewritten source

The pipeline, one module per step: ``parsing`` (source with the user's line numbers) ->
``canonicalize`` (jumps become flags) -> ``analysis`` (liveness, definedness) ->
``transformer`` (operator calls) -> ``conversion`` (compile with the user's closure, cache);
at run time ``operators`` dispatch on types and ``staging`` builds the staged ops, with the
checks of ``checks``.
"""

from . import experimental
from .conversion import (
    AutoGraphWarning,
    convert,
    converted_call,
    do_not_convert,
    is_converted,
    to_source,
)
from .operators import set_loop_options

__all__ = [
    "AutoGraphWarning",
    "convert",
    "converted_call",
    "do_not_convert",
    "experimental",
    "is_converted",
    "set_loop_options",
    "to_source",
]
