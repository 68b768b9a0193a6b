"""``tracefn.experimental.jax_op``: call any jax-traceable function on tracefn tensors.

The wrapped function becomes one ``jax_call`` op in traced graphs (its shape rule derived with
``jax.eval_shape``, like every op), so jax, optax or flax code composes with tracefn code in
eager mode, inside ``tracefn.function`` and under ``GradientTape``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax

from .primitives import defprim
from .tensor import Tensor
from .tracing import bind, convert_to_tensor

__all__ = ["jax_op", "run_steps", "multi_step"]


def _impl(*xs, fn, in_tree):
    return tuple(jax.tree_util.tree_leaves(fn(*in_tree.unflatten(xs))))


jax_call_p = defprim("jax_call", _impl, multiple_results=True)


def _is_leaf(x) -> bool:
    return isinstance(x, Tensor) or hasattr(x, "_tracefn_read")


@functools.lru_cache(maxsize=4096)
def _out_tree(fn, in_tree, specs):
    structs = [jax.ShapeDtypeStruct(s, d) for s, d in specs]
    out = jax.eval_shape(lambda *xs: fn(*in_tree.unflatten(xs)), *structs)
    return jax.tree_util.tree_structure(out)


def jax_op(fn: Callable) -> Callable:
    """Wrap ``fn`` (a function of jax arrays) so it takes and returns tracefn tensors.

    >>> import jax.numpy as jnp, tracefn as tf
    >>> logaddexp = tf.experimental.jax_op(jnp.logaddexp)
    >>> float(logaddexp(tf.constant(0.0), tf.constant(0.0)))  # doctest: +ELLIPSIS
    0.693...
    """

    @functools.wraps(fn)
    def op(*args):
        leaves, in_tree = jax.tree_util.tree_flatten(args, is_leaf=_is_leaf)
        tensors = [convert_to_tensor(x) for x in leaves]
        specs = tuple((tuple(t.shape), t.dtype.np) for t in tensors)
        outs = bind(jax_call_p, *tensors, fn=fn, in_tree=in_tree)
        return _out_tree(fn, in_tree, specs).unflatten(outs)

    return op


def run_steps(step, *stacked, **kwargs):
    """Run ``step`` once per leading-axis slice of ``stacked`` in ONE compiled call
    (``lax.scan``); see ``tracefn.fused.run_steps``."""
    from .fused import run_steps as _run_steps

    return _run_steps(step, *stacked, **kwargs)


def multi_step(step, steps_per_execution: int):
    """``step`` compiled to run ``steps_per_execution`` steps per call; see ``tracefn.fused``."""
    from .fused import multi_step as _multi_step

    return _multi_step(step, steps_per_execution=steps_per_execution)
