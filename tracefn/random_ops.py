"""``tracefn.random``: random numbers whose state is a Variable holding a jax PRNG key.

Every stateful draw is three ops: read the generator's key variable, one ``random_*`` op that
splits the key and draws (``new_key, sample = random_normal[...] key ...``), and a write of the
new key. So inside a compiled function the key is threaded state like any other variable:
each call gives fresh numbers, reproducibly from the seed, and a loop body draws new numbers
per iteration.

Seeds follow TF2: ``set_seed(s)`` restarts the global generator (draws without ``seed=``) and
every op-seed sequence; a draw with ``seed=k`` is deterministic per (global seed, ``k``) and
still advances per call (TF's stateful kernel per op seed). ``stateless_*`` draw from a key
given by the caller and keep no state.

>>> import tracefn as tf
>>> tf.random.set_seed(0)
>>> a = tf.random.uniform([2])
>>> tf.random.set_seed(0)
>>> bool((tf.random.uniform([2]) == a).numpy().all())
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from . import dtypes
from .dtypes import as_dtype
from .primitives import defprim
from .tensor import Tensor
from .tracing import bind, convert_to_tensor, current_trace
from .variables import Variable, init_scope

__all__ = [
    "set_seed", "get_seed", "normal", "uniform", "truncated_normal", "shuffle", "categorical",
    "stateless_normal", "stateless_uniform", "stateless_truncated_normal", "Generator",
    "get_global_generator", "set_global_generator",
]  # fmt: skip

# TF's graph-level seed when only an op seed is given: op-seeded draws are deterministic even
# before set_seed is called.
DEFAULT_GLOBAL_SEED = 87654321


# ------------------------------------------------------------------------------ primitives


def _split(key):
    """``(new raw key, subkey)`` from a raw uint32[2] threefry key."""
    new, sub = jax.random.split(jax.random.wrap_key_data(key))
    return jax.random.key_data(new), sub


def _uniform(key, minval, maxval, *, shape, dtype):
    new, sub = _split(key)
    if jnp.issubdtype(dtype.np, jnp.integer):
        return new, jax.random.randint(sub, shape, minval, maxval, dtype.np)
    return new, jax.random.uniform(sub, shape, dtype.np, minval, maxval)


def _normal(key, mean, stddev, *, shape, dtype):
    new, sub = _split(key)
    return new, mean + stddev * jax.random.normal(sub, shape, dtype.np)


def _truncated(key, mean, stddev, *, shape, dtype):
    # TF re-draws values more than two standard deviations from the mean.
    new, sub = _split(key)
    return new, mean + stddev * jax.random.truncated_normal(sub, -2.0, 2.0, shape, dtype.np)


def _shuffle(key, x):
    new, sub = _split(key)
    return new, jax.random.permutation(sub, x, axis=0)


def _categorical(key, logits, *, num_samples, dtype):
    new, sub = _split(key)
    draws = jax.random.categorical(sub, logits, axis=-1, shape=(num_samples, logits.shape[0]))
    return new, draws.T.astype(dtype.np)


random_uniform_p = defprim("random_uniform", _uniform, multiple_results=True)
random_normal_p = defprim("random_normal", _normal, multiple_results=True)
random_truncated_normal_p = defprim("random_truncated_normal", _truncated, multiple_results=True)
random_shuffle_p = defprim("random_shuffle", _shuffle, multiple_results=True)
random_categorical_p = defprim("random_categorical", _categorical, multiple_results=True)


def _raw_key(seed: int):
    return jax.random.key_data(jax.random.key(seed % (2**63)))


# ------------------------------------------------------------------------------- Generator


def _replace(_var, new):
    return new


class Generator:
    """A random number generator whose state (a jax PRNG key) is a non-trainable Variable.

    >>> import tracefn as tf
    >>> g = tf.random.Generator.from_seed(1)
    >>> g.normal([2, 3]).shape
    TensorShape([2, 3])
    """

    def __init__(self, copy_from: Generator | None = None, state=None, alg=None):
        if copy_from is not None:
            state = copy_from.state.numpy()
        if state is None:
            state = _raw_key(_entropy())
        self._state_var = Variable(state, trainable=False, name="generator_state",
                                   dtype=dtypes.uint32, collections=[])  # fmt: skip

    @classmethod
    def from_seed(cls, seed: int, alg=None) -> Generator:
        return cls(state=_raw_key(int(seed)))

    @classmethod
    def from_non_deterministic_state(cls, alg=None) -> Generator:
        return cls()

    @property
    def state(self) -> Variable:
        """The key variable (uint32[2])."""
        return self._state_var

    @property
    def algorithm(self) -> str:
        return "threefry"

    def reset_from_seed(self, seed: int) -> None:
        self._state_var.assign(_raw_key(int(seed)))

    def reset(self, state) -> None:
        self._state_var.assign(state)

    # --- draws
    def _draw(self, prim, *inputs, **attrs) -> Tensor:
        state = self._state_var
        new_key, sample = bind(prim, state, *inputs, **attrs)
        state._update(_replace, new_key)  # no copy: nobody else holds the new key
        return sample

    def uniform(self, shape, minval=0, maxval=None, dtype=dtypes.float32, name=None) -> Tensor:
        """Uniform in ``[minval, maxval)``; integer dtypes need ``maxval``."""
        dtype = as_dtype(dtype)
        lo, hi = _uniform_bounds(minval, maxval, dtype)
        return self._draw(random_uniform_p, lo, hi, shape=_shape(shape), dtype=dtype)

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None) -> Tensor:
        dtype = _float(dtype, "normal")
        mean, stddev = convert_to_tensor(mean, dtype), convert_to_tensor(stddev, dtype)
        return self._draw(random_normal_p, mean, stddev, shape=_shape(shape), dtype=dtype)

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32,
                         name=None) -> Tensor:  # fmt: skip
        """Normal values, re-drawn when more than two ``stddev`` from ``mean``."""
        dtype = _float(dtype, "truncated_normal")
        mean, stddev = convert_to_tensor(mean, dtype), convert_to_tensor(stddev, dtype)
        return self._draw(random_truncated_normal_p, mean, stddev, shape=_shape(shape),
                          dtype=dtype)  # fmt: skip

    def shuffle(self, value) -> Tensor:
        return self._draw(random_shuffle_p, convert_to_tensor(value))

    def categorical(self, logits, num_samples: int, dtype=dtypes.int64) -> Tensor:
        logits = convert_to_tensor(logits)
        return self._draw(random_categorical_p, logits, num_samples=int(num_samples),
                          dtype=as_dtype(dtype))  # fmt: skip

    def split(self, count: int = 1) -> list[Generator]:
        """``count`` new independent generators; this one advances. Runs eagerly (at trace
        time inside a function), since it creates variables."""
        with init_scope():
            keys = jax.random.split(jax.random.wrap_key_data(self._state_var.numpy()), count + 1)
            data = jax.random.key_data(keys)
            self._state_var.assign(data[0])
            return [Generator(state=data[i + 1]) for i in range(count)]

    def __repr__(self):
        return f"<tracefn.random.Generator state={self._state_var._name!r}>"


def _shape(shape) -> tuple:
    if isinstance(shape, Tensor) or hasattr(shape, "_tracefn_read"):
        shape = shape.numpy()  # a traced shape has no concrete value: numpy() raises clearly
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(d) for d in shape)


def _float(dtype, op: str):
    dtype = as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"{op}: expected a floating point dtype, got {dtype.name}")
    return dtype


def _entropy() -> int:
    return int.from_bytes(os.urandom(8), "little") >> 1


# ----------------------------------------------------------------------- global and op seeds


class _Seeds:
    """The global seed, the global generator and one generator per op seed (made lazily)."""

    global_seed: int | None = None
    global_generator: Generator | None = None
    op_generators: dict[int, Generator] = {}


def _op_key(op_seed: int):
    base = DEFAULT_GLOBAL_SEED if _Seeds.global_seed is None else _Seeds.global_seed
    return jax.random.key_data(jax.random.fold_in(jax.random.key(base), op_seed % (2**31)))


def _lazy_generator(make) -> Generator:
    # The state variable is created outside any trace: it belongs to the process, not to the
    # function being traced, so it never counts as a variable created by that function.
    with init_scope():
        return make()


def get_global_generator() -> Generator:
    """The generator used by draws without ``seed=`` (made on first use)."""
    if _Seeds.global_generator is None:
        seed = _Seeds.global_seed
        _Seeds.global_generator = _lazy_generator(
            lambda: Generator() if seed is None else Generator.from_seed(seed)
        )
    return _Seeds.global_generator


def set_global_generator(generator: Generator) -> None:
    _Seeds.global_generator = generator


def _generator(seed: int | None) -> Generator:
    if seed is None:
        return get_global_generator()
    seed = int(seed)
    gen = _Seeds.op_generators.get(seed)
    if gen is None:
        gen = _Seeds.op_generators[seed] = _lazy_generator(lambda: Generator(state=_op_key(seed)))
    return gen


def set_seed(seed: int | None) -> None:
    """Set the global seed: restarts the global generator and every op-seed sequence, also
    inside functions already compiled (their key variables are reset). While a TF1 graph is
    being built it seeds that graph (``compat.v1.set_random_seed``)."""
    v1 = _graph_mode()
    if v1 is not None:
        v1.set_random_seed(seed)
        return
    _Seeds.global_seed = None if seed is None else int(seed)
    with init_scope():
        if _Seeds.global_generator is not None:
            if seed is None:
                _Seeds.global_generator.reset(_raw_key(_entropy()))
            else:
                _Seeds.global_generator.reset_from_seed(seed)
        for op_seed, gen in _Seeds.op_generators.items():
            gen.reset(_op_key(op_seed))


def get_seed(op_seed: int | None) -> tuple[int | None, int | None]:
    """``(global seed, op seed)`` as TF's ``tf.compat.v1.get_seed`` reports them."""
    if _Seeds.global_seed is None and op_seed is None:
        return None, None
    glob = DEFAULT_GLOBAL_SEED if _Seeds.global_seed is None else _Seeds.global_seed
    return glob, op_seed


# --------------------------------------------------------------------------- stateful draws


def _graph_mode():
    """The compat.v1 random ops while a TF1 graph is being built: there the random state lives
    in each Session (fresh sessions start anew, spec C7), not in a process-wide variable."""
    trace = current_trace()
    if trace is None or trace.kind != "graph":
        return None
    from .compat.v1 import random_ops as v1

    return v1


def uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None) -> Tensor:
    """Uniform values in ``[minval, maxval)`` (TF's ``tf.random.uniform``)."""
    v1 = _graph_mode()
    if v1 is not None:
        return v1.random_uniform(shape, minval, maxval, dtype, seed, name)
    return _generator(seed).uniform(shape, minval, maxval, dtype)


def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None) -> Tensor:
    """Normally distributed values (TF's ``tf.random.normal``)."""
    v1 = _graph_mode()
    if v1 is not None:
        return v1.random_normal(shape, mean, stddev, dtype, seed, name)
    return _generator(seed).normal(shape, mean, stddev, dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None,
                     name=None) -> Tensor:  # fmt: skip
    """Normal values with those beyond two ``stddev`` re-drawn (TF's ``truncated_normal``)."""
    v1 = _graph_mode()
    if v1 is not None:
        return v1.truncated_normal(shape, mean, stddev, dtype, seed, name)
    return _generator(seed).truncated_normal(shape, mean, stddev, dtype)


def shuffle(value, seed=None, name=None) -> Tensor:
    """``value`` with its first dimension randomly permuted."""
    return _generator(seed).shuffle(value)


def categorical(logits, num_samples: int, dtype=dtypes.int64, seed=None, name=None) -> Tensor:
    """``[batch, num_samples]`` class indices drawn from unnormalized log-probabilities."""
    return _generator(seed).categorical(logits, num_samples, dtype)


# -------------------------------------------------------------------------- stateless draws


def _seed_key(seed: Sequence[int] | Tensor):
    """A raw key from a TF stateless seed (a pair of integers)."""
    t = convert_to_tensor(seed)
    if tuple(t.shape) != (2,):
        raise ValueError(f"A stateless seed must have shape [2], got {t.shape}")
    from . import math_ops

    return math_ops.cast(t, dtypes.uint32)


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=dtypes.float32,
                      name=None) -> Tensor:  # fmt: skip
    """Uniform values that depend only on ``shape`` and the ``seed`` pair."""
    dtype = as_dtype(dtype)
    lo, hi = _uniform_bounds(minval, maxval, dtype)
    return bind(random_uniform_p, _seed_key(seed), lo, hi, shape=_shape(shape), dtype=dtype)[1]


def _uniform_bounds(minval, maxval, dtype):
    """``minval``, ``maxval`` as tensors; ``maxval`` defaults to 1 for floats only (TF)."""
    if maxval is None:
        if dtype.is_integer:
            raise ValueError(f"Must specify maxval for integer dtype {dtype!r}.")
        maxval = 1
    return convert_to_tensor(minval, dtype), convert_to_tensor(maxval, dtype)


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32,
                     name=None) -> Tensor:  # fmt: skip
    dtype = _float(dtype, "stateless_normal")
    mean, stddev = convert_to_tensor(mean, dtype), convert_to_tensor(stddev, dtype)
    return bind(random_normal_p, _seed_key(seed), mean, stddev, shape=_shape(shape),
                dtype=dtype)[1]  # fmt: skip


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32,
                               name=None) -> Tensor:  # fmt: skip
    dtype = _float(dtype, "stateless_truncated_normal")
    mean, stddev = convert_to_tensor(mean, dtype), convert_to_tensor(stddev, dtype)
    return bind(random_truncated_normal_p, _seed_key(seed), mean, stddev, shape=_shape(shape),
                dtype=dtype)[1]  # fmt: skip
