"""TF1 random ops. In a graph each random op keeps its own generator state in the Session.

A graph random op is one ``random`` op whose region reads its state (a threefry key), draws,
and writes the advanced key back, so running it again (re-running an initializer, fetching an
``initial_value``) draws new numbers (spec C7, C8). The state lives in each session: a new
session starts the op's sequence afresh, from the op's seed when the graph has one
(``set_random_seed``: fresh sessions reproduce the sequence) and from fresh entropy otherwise.

Eagerly these functions use ``tracefn.random_ops`` when it exists, else a small seeded
process-wide generator.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ... import dtypes, math_ops
from ...dtypes import as_dtype
from ...ir import Graph as IRGraph
from ...ir import Primitive, register
from ...primitives import defprim
from ...tensor import EagerTensor, Tensor, TensorShape
from ...tracing import bind, convert_to_tensor, current_trace
from ...variables import trace_read, trace_write
from .graph import building_graph, get_default_graph

__all__ = ["random_normal", "random_uniform", "truncated_normal", "set_random_seed", "get_seed"]

DEFAULT_GRAPH_SEED = 87654321


def _draw(key, *, dist: str, shape: tuple, dtype, minval=0, maxval=1):
    next_key, sub = jax.random.split(key)
    dt = dtype.np
    if dist == "normal":
        x = jax.random.normal(sub, shape, dt)
    elif dist == "truncated_normal":
        x = jax.random.truncated_normal(sub, -2.0, 2.0, shape, dt)
    elif dist == "randint":
        x = jax.random.randint(sub, shape, minval, maxval, dt)
    else:
        x = jax.random.uniform(sub, shape, dt)
    return next_key, x


# One draw from a key: (the next key, the sample). Pure; the state lives outside.
draw_p = defprim("random_draw", _draw, multiple_results=True)


def _lower_random(ctx, op, ins):
    outs, _ = ctx.run_region(op.regions[0], ins, state=ctx.state)
    return outs


# A stateful random op of a graph: its region reads the op's key, draws, writes the next key.
random_p = register(Primitive("random", lower=_lower_random, regions=("body",)))


class RandomState:
    """The generator state of one graph random op: a threefry key, kept by each Session (the
    session initializes it itself; it is in no collection and needs no initializer)."""

    shape = TensorShape((2,))
    dtype = dtypes.uint32
    trainable = False

    def __init__(self, name: str, seed: tuple | None):
        self._name = name + "/state"
        self.seed = seed

    @property
    def name(self) -> str:
        return self._name + ":0"

    def initial_state(self, rng: np.random.Generator):
        """The key a new session starts from."""
        if self.seed is None:
            data = rng.integers(0, 2**32, size=2, dtype=np.uint32)
        else:
            data = np.random.SeedSequence([int(s) for s in self.seed]).generate_state(2)
        return jnp.asarray(data, dtype=jnp.uint32)

    def __repr__(self):
        return f"<random state {self._name!r} seed={self.seed}>"


def get_seed(op_seed: int | None) -> tuple:
    """TF's seed rule: (graph seed, op seed); an op with no seed in a seeded graph gets the
    number of ops built so far, so rebuilding the same graph gives the same sequences."""
    graph = get_default_graph()
    if graph.seed is not None:
        return graph.seed, len(graph.ir.ops) if op_seed is None else op_seed
    if op_seed is not None:
        return DEFAULT_GRAPH_SEED, op_seed
    return None, None


def set_random_seed(seed: int | None) -> None:
    """Seed the graph being built: random ops built after this draw reproducible sequences
    (fresh sessions repeat them, spec C7). Eagerly, seed the global generator instead."""
    get_default_graph().seed = seed
    if building_graph() is not None:
        return
    _Eager.key = None if seed is None else jax.random.PRNGKey(seed)
    try:
        from ... import random_ops

        random_ops.set_seed(seed)
    except (ImportError, AttributeError):
        pass


# ---------------------------------------------------------------------------------- draws


def _graph_draw(graph, attrs: dict, seed, name: str):
    trace = graph._trace
    seeds = get_seed(seed)
    op_name = trace.unique_name(name, mark_as_used=False)  # the name emit will give the op
    state = RandomState(op_name, None if seeds[0] is None else seeds)
    region = IRGraph(name=name)
    with trace.region(region):
        key = trace_read(trace, state)
        next_key, x = bind(draw_p, key, **attrs)
        trace_write(trace, state, next_key)
        region.outputs = [x.value]
    (out,) = trace.emit(random_p, [], {k: attrs[k] for k in ("dist", "shape", "dtype")},
                        [x.value.type], regions=[region], name=name)  # fmt: skip
    return out


class _Eager:
    key = None


def _eager_draw(attrs: dict, seed):
    if current_trace() is not None:
        raise NotImplementedError(
            "compat.v1 random ops inside a tracefn.function need tracefn.random (a threaded "
            "generator); use tracefn.random.normal/uniform there."
        )
    if _Eager.key is None:
        _Eager.key = jax.random.PRNGKey(int(np.random.SeedSequence().generate_state(1)[0]))
    _Eager.key, key = jax.random.split(_Eager.key)
    if seed is not None:
        key = jax.random.fold_in(key, seed)
    return bind(draw_p, EagerTensor(key), **attrs)[1]


def _draw_tensor(dist: str, shape, dtype, seed, name: str, **bounds) -> Tensor:
    attrs = {"dist": dist, "shape": _static_shape(shape), "dtype": as_dtype(dtype), **bounds}
    graph = building_graph()
    if graph is not None:
        return _graph_draw(graph, attrs, seed, name)
    return _eager_draw(attrs, seed)


def _static_shape(shape) -> tuple:
    if isinstance(shape, EagerTensor):
        shape = shape.numpy().tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _tf2(name: str):
    """``tracefn.random_ops.<name>`` for eager draws, when that module exists."""
    if building_graph() is not None:
        return None
    try:
        from ... import random_ops
    except ImportError:
        return None
    return getattr(random_ops, name, None)


def _scale(x: Tensor, scale, shift) -> Tensor:
    if not (isinstance(scale, (int, float)) and scale == 1):
        x = math_ops.multiply(x, convert_to_tensor(scale, dtype=x.dtype))
    if not (isinstance(shift, (int, float)) and shift == 0):
        x = math_ops.add(x, convert_to_tensor(shift, dtype=x.dtype))
    return x


def random_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None,
                  name=None) -> Tensor:  # fmt: skip
    """Normal samples (TF1's ``tf.random_normal``); in a graph each run draws anew."""
    tf2 = _tf2("normal")
    if tf2 is not None:
        return tf2(shape, mean=mean, stddev=stddev, dtype=dtype, seed=seed)
    x = _draw_tensor("normal", shape, dtype, seed, name or "random_normal")
    return _scale(x, stddev, mean)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None,
                     name=None) -> Tensor:  # fmt: skip
    """Normal samples cut at two standard deviations (TF's ``tf.truncated_normal``)."""
    tf2 = _tf2("truncated_normal")
    if tf2 is not None:
        return tf2(shape, mean=mean, stddev=stddev, dtype=dtype, seed=seed)
    x = _draw_tensor("truncated_normal", shape, dtype, seed, name or "truncated_normal")
    return _scale(x, stddev, mean)


def random_uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None,
                   name=None) -> Tensor:  # fmt: skip
    """Uniform samples in ``[minval, maxval)`` (``maxval`` defaults to 1 for floats)."""
    dtype = as_dtype(dtype)
    tf2 = _tf2("uniform")
    if tf2 is not None:
        return tf2(shape, minval=minval, maxval=maxval, dtype=dtype, seed=seed)
    name = name or "random_uniform"
    if dtype.is_integer:
        if maxval is None:
            raise ValueError(f"Must specify maxval for integer dtype {dtype!r}")
        return _draw_tensor("randint", shape, dtype, seed, name, minval=int(minval),
                            maxval=int(maxval))  # fmt: skip
    maxval = 1 if maxval is None else maxval
    x = _draw_tensor("uniform", shape, dtype, seed, name)
    if isinstance(maxval, Tensor) or isinstance(minval, Tensor):
        return _scale(x, math_ops.subtract(maxval, minval), minval)
    return _scale(x, maxval - minval, minval)
