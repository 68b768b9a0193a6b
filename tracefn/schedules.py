"""Learning-rate schedules (``tracefn.optimizers.schedules``, alias
``tracefn.keras.optimizers.schedules``), with Keras's names, arguments and formulas.

An optimizer evaluates its schedule on ``optimizer.iterations`` at every ``apply_gradients``;
each built-in schedule is one ``jax_call`` op. A user schedule subclasses
``LearningRateSchedule`` and writes ``__call__(step)`` with tracefn ops.

>>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> round(float(s(10)), 6)
0.05
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax.numpy as jnp

from .experimental import jax_op
from .tensor import Tensor

__all__ = [
    "LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay",
    "InverseTimeDecay", "PolynomialDecay",
]  # fmt: skip


class LearningRateSchedule:
    """Base class: ``schedule(step)`` gives the learning rate at ``step``."""

    def __call__(self, step) -> Tensor:
        raise NotImplementedError("A LearningRateSchedule must implement __call__(step).")

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        return cls(**config)


class _JaxSchedule(LearningRateSchedule):
    """A schedule computed by ``_compute(step)`` in jax: one op per evaluation."""

    _op_name = "schedule"

    def __call__(self, step) -> Tensor:
        op = self.__dict__.get("_op")
        if op is None:
            # Made once per schedule: the function object keys the op's compiled kernels.
            def compute(step):
                return self._compute(jnp.asarray(step, jnp.float32))

            compute.__name__ = self._op_name
            op = self._op = jax_op(compute)
        return op(step)

    def _compute(self, step):
        raise NotImplementedError


class ExponentialDecay(_JaxSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored if
    ``staircase``)."""

    _op_name = "exponential_decay"

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay"):  # fmt: skip
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0. Received: {decay_steps}")
        _set_decay(self, initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _compute(self, step):
        p = step / self.decay_steps
        p = jnp.floor(p) if self.staircase else p
        return self.initial_learning_rate * jnp.power(self.decay_rate, p)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}  # fmt: skip


class PiecewiseConstantDecay(_JaxSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, then ``values[-1]``."""

    _op_name = "piecewise_constant_decay"

    def __init__(self, boundaries: Sequence, values: Sequence, name: str = "PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of "
                f"length {len(values)}."
            )
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def _compute(self, step):
        index = jnp.sum(step > jnp.asarray(self.boundaries, jnp.float32))
        return jnp.asarray(self.values, jnp.float32)[index]

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(_JaxSchedule):
    """Cosine decay from ``initial_learning_rate`` (or, after a linear warmup of
    ``warmup_steps``, from ``warmup_target``) to ``alpha`` times it over ``decay_steps``."""

    _op_name = "cosine_decay"

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: int = 0):  # fmt: skip
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.alpha = float(alpha)
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, start):
        fraction = jnp.minimum(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + jnp.cos(math.pi * fraction))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def _compute(self, step):
        if self.warmup_target is None:
            return self._decay(step, self.initial_learning_rate)
        start, target = self.initial_learning_rate, float(self.warmup_target)
        warm = start + (target - start) * step / max(self.warmup_steps, 1)
        return jnp.where(step < self.warmup_steps, warm,
                         self._decay(step - self.warmup_steps, target))  # fmt: skip

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}  # fmt: skip


class InverseTimeDecay(_JaxSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``."""

    _op_name = "inverse_time_decay"

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay"):  # fmt: skip
        _set_decay(self, initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _compute(self, step):
        p = step / self.decay_steps
        p = jnp.floor(p) if self.staircase else p
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}  # fmt: skip


class PolynomialDecay(_JaxSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps`` along
    ``(1 - step / decay_steps) ** power``."""

    _op_name = "polynomial_decay"

    def __init__(self, initial_learning_rate: float, decay_steps: int,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay"):  # fmt: skip
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.cycle = bool(cycle)
        self.name = name

    def _compute(self, step):
        steps = float(self.decay_steps)
        if self.cycle:
            steps = steps * jnp.maximum(jnp.ceil(step / steps), 1.0)
        else:
            step = jnp.minimum(step, steps)
        frac = jnp.power(1.0 - step / steps, self.power)
        return (self.initial_learning_rate - self.end_learning_rate) * frac + (
            self.end_learning_rate)  # fmt: skip

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}  # fmt: skip


def _set_decay(schedule, initial_learning_rate, decay_steps, decay_rate, staircase, name):
    """The attributes shared by the exponential and inverse-time decays."""
    schedule.initial_learning_rate = float(initial_learning_rate)
    schedule.decay_steps = decay_steps
    schedule.decay_rate = float(decay_rate)
    schedule.staircase = bool(staircase)
    schedule.name = name
