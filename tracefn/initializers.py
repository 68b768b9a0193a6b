"""Initializers (``tracefn.initializers``, alias ``tracefn.keras.initializers``): callables
``init(shape, dtype=tf.float32)`` returning a tensor, with Keras's names and formulas.

Initial values are computed eagerly, also when an initializer is called inside a traced
function (TF lifts variable initialization out of the function the same way), so
``tf.Variable(init(shape))`` in a function's first trace gets a concrete value.

Seeds: without ``seed`` a random initializer draws from the global generator, so each call
gives new values and ``tracefn.random.set_seed`` makes them reproducible; with an integer
``seed`` every call returns the same values (Keras's rule). A subclass that sets
``_advance_seeded = True`` instead draws the next values of the seed's sequence on each call
(TF1's initializer re-run semantics, for ``compat.v1``).

>>> import tracefn as tf
>>> w = tf.keras.initializers.GlorotUniform(seed=0)((3, 4))
>>> bool((abs(w.numpy()) <= (6 / 7) ** 0.5).all())
True
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from . import dtypes, random_ops
from .dtypes import as_dtype
from .tensor import EagerTensor, Tensor
from .variables import init_scope

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal",
    "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal", "Identity", "get",
]  # fmt: skip


def _shape(shape) -> tuple:
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(d) for d in shape)


class Initializer:
    """Base class: ``__call__(shape, dtype=None)`` returns a tensor of that shape."""

    def __call__(self, shape, dtype=None, **kwargs) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def __call__(self, shape, dtype=None, **kwargs) -> Tensor:
        return EagerTensor(jnp.zeros(_shape(shape), as_dtype(dtype or dtypes.float32).np))


class Ones(Initializer):
    def __call__(self, shape, dtype=None, **kwargs) -> Tensor:
        return EagerTensor(jnp.ones(_shape(shape), as_dtype(dtype or dtypes.float32).np))


class Constant(Initializer):
    """``value`` broadcast to the shape (or reshaped, if it has as many elements)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None, **kwargs) -> Tensor:
        shape = _shape(shape)
        value = np.asarray(self.value, as_dtype(dtype or dtypes.float32).np)
        if value.size == math.prod(shape) and value.shape != shape and value.ndim > 0:
            return EagerTensor(jnp.asarray(value.reshape(shape)))
        return EagerTensor(jnp.broadcast_to(jnp.asarray(value), shape))

    def get_config(self) -> dict:
        return {"value": self.value}


# ------------------------------------------------------------------------- random draws


class _Random(Initializer):
    """Random initializers: ``_draw`` picks the generator from the seed (module docstring)."""

    _advance_seeded = False

    def __init__(self, seed: int | None = None):
        self.seed = seed

    def _draw(self, kind: str, shape: tuple, dtype, **params) -> Tensor:
        dtype = as_dtype(dtype or dtypes.float32)
        if not dtype.is_floating:
            raise ValueError(f"{type(self).__name__}: expected a floating point dtype, got "
                             f"{dtype.name}")  # fmt: skip
        with init_scope():
            if self.seed is None or self._advance_seeded:
                fn = getattr(random_ops, kind)
                return fn(shape, dtype=dtype, seed=self.seed, **params)
            fn = getattr(random_ops, "stateless_" + kind)
            return fn(shape, seed=(int(self.seed), 0), dtype=dtype, **params)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class RandomNormal(_Random):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None, **kwargs) -> Tensor:
        return self._draw("normal", _shape(shape), dtype, mean=self.mean, stddev=self.stddev)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal values re-drawn beyond two standard deviations."""

    def __call__(self, shape, dtype=None, **kwargs) -> Tensor:
        return self._draw("truncated_normal", _shape(shape), dtype, mean=self.mean,
                          stddev=self.stddev)  # fmt: skip


class RandomUniform(_Random):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None, **kwargs) -> Tensor:
        return self._draw("uniform", _shape(shape), dtype, minval=self.minval,
                          maxval=self.maxval)  # fmt: skip

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def compute_fans(shape: tuple) -> tuple[float, float]:
    """``(fan_in, fan_out)``: a dense kernel ``[in, out]``, or a conv kernel ``[..., in, out]``
    whose receptive field multiplies both."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class VarianceScaling(_Random):
    """Values with variance ``scale / n``, where ``n`` is the fan in, the fan out or their
    average (``mode``), drawn from a truncated normal, a normal or a uniform distribution."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None):  # fmt: skip
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError("Invalid `mode` argument: expected one of {'fan_in', 'fan_out', "
                             f"'fan_avg'}}. Received: mode={mode}")  # fmt: skip
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError("Invalid `distribution` argument: expected one of {'uniform', "
                             "'truncated_normal', 'untruncated_normal'}. Received: "
                             f"distribution={distribution}")  # fmt: skip
        super().__init__(seed)
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype=None, **kwargs) -> Tensor:
        shape = _shape(shape)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return self._draw("uniform", shape, dtype, minval=-limit, maxval=limit)
        if self.distribution == "truncated_normal":
            # The standard deviation of a unit normal truncated to [-2, 2].
            stddev = math.sqrt(variance) / 0.87962566103423978
            return self._draw("truncated_normal", shape, dtype, stddev=stddev)
        return self._draw("normal", shape, dtype, stddev=math.sqrt(variance))

    def get_config(self) -> dict:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}  # fmt: skip


def _preset(name: str, scale: float, mode: str, distribution: str, doc: str):
    def __init__(self, seed: int | None = None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                          "__doc__": doc})  # fmt: skip


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Uniform in ``±sqrt(6 / (fan_in + fan_out))`` (Xavier).")  # fmt: skip
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal, stddev ``sqrt(2 / (fan_in + fan_out))``.")  # fmt: skip
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "Truncated normal, stddev ``sqrt(2 / fan_in)``.")  # fmt: skip
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform",
                    "Uniform in ``±sqrt(6 / fan_in)``.")  # fmt: skip
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "Truncated normal, stddev ``sqrt(1 / fan_in)``.")  # fmt: skip
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform",
                       "Uniform in ``±sqrt(3 / fan_in)``.")  # fmt: skip


class Orthogonal(_Random):
    """An orthogonal matrix (of the shape flattened to 2-D), times ``gain``: the Q of the QR
    decomposition of a normal matrix, signs fixed by the diagonal of R."""

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None, **kwargs) -> Tensor:
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")  # fmt: skip
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = (max(rows, cols), min(rows, cols))
        a = self._draw("normal", flat, dtype)._array
        q, r = jnp.linalg.qr(a)
        q = q * jnp.sign(jnp.diag(r))
        if rows < cols:
            q = q.T
        return EagerTensor((self.gain * q).reshape(shape).astype(a.dtype))

    def get_config(self) -> dict:
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None, **kwargs) -> Tensor:
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")  # fmt: skip
        dtype = as_dtype(dtype or dtypes.float32)
        return EagerTensor(self.gain * jnp.eye(*shape, dtype=dtype.np))

    def get_config(self) -> dict:
        return {"gain": self.gain}


# TF2's core names and Keras's lowercase aliases.
zeros_initializer, ones_initializer, constant_initializer = Zeros, Ones, Constant
random_normal_initializer, random_uniform_initializer = RandomNormal, RandomUniform
zeros, ones, constant = Zeros, Ones, Constant
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
orthogonal, identity, variance_scaling = Orthogonal, Identity, VarianceScaling
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal

_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform, "orthogonal": Orthogonal,
    "identity": Identity,
}  # fmt: skip


def get(identifier) -> Initializer | None:
    """An initializer from a name (``"glorot_uniform"`` or ``"GlorotUniform"``), a class, or
    an instance (returned as is)."""
    if identifier is None or isinstance(identifier, Initializer) or callable(identifier) and (
        not isinstance(identifier, type)):  # fmt: skip
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, str):
        key = identifier if identifier in _BY_NAME else _snake(identifier)
        if key in _BY_NAME:
            return _BY_NAME[key]()
    raise ValueError(f"Could not interpret initializer identifier: {identifier}")


def _snake(name: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
