"""Optimizers (``tracefn.optimizers``, alias ``tracefn.keras.optimizers``) with Keras's names
and arguments and optax's update rules.

Each optimizer describes its rule as an optax ``GradientTransformation`` built from the
learning rate (``_transform(lr)``). Its state lives in Variables: ``iterations`` (int64), the
learning rate (a float32 Variable unless a Variable or a schedule is given) and, per trainable
variable, the leaves of the optax state for that variable ("slots": moments, counts), made
non-trainable on the first ``apply_gradients`` that sees the variable. Inside a function's
first trace that creation is allowed and the function is traced again, as in TF.

``apply_gradients`` is one fused op however many variables it updates: it reads the
parameters, slots, ``iterations`` and learning rate, runs clipping, weight decay and optax's
update for every variable in one ``jax_call``, and writes everything back.

>>> import tracefn as tf
>>> w = tf.Variable(1.0)
>>> opt = tf.keras.optimizers.SGD(learning_rate=0.1)
>>> _ = opt.apply_gradients([(tf.constant(2.0), w)]); round(float(w), 6)
0.8
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import schedules
from .fused import fused_update, read_state
from .primitives import P
from .tensor import Tensor
from .tracing import bind, convert_to_tensor
from .variables import IndexedSlices, Variable

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam", "Lion",
    "schedules", "get",
]  # fmt: skip

_NO_GRADIENTS = (
    "No gradients provided for any variable: {names}. Provided `grads_and_vars` is {pairs}."
)


class Optimizer:
    """Base class. Subclasses define ``_transform(lr) -> optax.GradientTransformation``.

    Arguments shared by all optimizers (Keras's): ``learning_rate`` (float, Variable or
    schedule), ``weight_decay`` (decoupled: ``p -= lr * weight_decay * p`` before the update),
    ``clipnorm`` (clip each gradient by its norm), ``clipvalue`` (clip each element),
    ``global_clipnorm`` (clip all gradients by their global norm)."""

    def __init__(self, learning_rate=0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None,
                 **kwargs):  # fmt: skip
        if kwargs.pop("lr", None) is not None:
            raise ValueError("Argument `lr` is no longer supported; use `learning_rate`.")
        for key in ("use_ema", "gradient_accumulation_steps", "loss_scale_factor"):
            if kwargs.pop(key, None):
                raise NotImplementedError(f"{type(self).__name__}: `{key}` is not supported.")
        for key in ("ema_momentum", "ema_overwrite_frequency", "jit_compile"):
            kwargs.pop(key, None)  # no effect without the features above / always compiled
        if kwargs:
            raise TypeError(f"Unknown arguments for {type(self).__name__}: {sorted(kwargs)}")
        if sum(x is not None for x in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        self.name = name or type(self).__name__.lower()
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self._iterations = Variable(np.int64(0), trainable=False, name=f"{self.name}/iteration")
        self._learning_rate = self._make_learning_rate(learning_rate)
        self._slots: dict[int, Any] = {}  # id(variable) -> optax state with Variable leaves
        self._slot_owner: dict[int, Variable] = {}  # keeps the ids above valid
        self._apply_fn = self._make_apply_fn()

    # ------------------------------------------------------------------ learning rate
    def _make_learning_rate(self, lr):
        if isinstance(lr, Variable) or callable(lr):
            return lr
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number, Tensor)):
            raise TypeError(f"{type(self).__name__}: learning_rate must be a number, a Variable, "
                            f"a schedule or a callable, got {lr!r}")  # fmt: skip
        return Variable(np.float32(lr), trainable=False, name=f"{self.name}/learning_rate")

    @property
    def iterations(self) -> Variable:
        """The number of ``apply_gradients`` calls so far (an int64 Variable)."""
        return self._iterations

    @property
    def learning_rate(self):
        """The learning-rate Variable, or the schedule's value at ``iterations``."""
        return self._current_learning_rate(public=True)

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        current = self._learning_rate
        plain = not isinstance(value, Variable) and not callable(value)
        if isinstance(current, Variable) and plain:
            current.assign(np.asarray(value, current.dtype.np))  # compiled steps see it
        else:
            self._learning_rate = self._make_learning_rate(value)

    lr = learning_rate

    def _current_learning_rate(self, public: bool = False):
        """A schedule is evaluated on ``iterations``; another callable is called with no
        arguments (Keras's rule); a Variable is itself (``public``) or its read."""
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return lr if public else read_state(lr)
        if isinstance(lr, schedules.LearningRateSchedule):
            return lr(read_state(self._iterations))
        return lr()

    # -------------------------------------------------------------------------- slots
    def _transform(self, lr) -> optax.GradientTransformation:
        raise NotImplementedError

    def build(self, var_list: Sequence[Variable]) -> None:
        """Create the slots of the variables in ``var_list`` that have none yet; a checkpoint
        restored earlier then fills the new slots with their saved values."""
        created = False
        for var in var_list:
            if id(var) not in self._slots:
                self._slots[id(var)] = self._make_slots(var)
                self._slot_owner[id(var)] = var
                created = True
        if created:
            from .checkpoint import restore_deferred  # checkpoints sit above optimizers

            restore_deferred()

    def _checkpoint_children(self) -> dict:
        """What a ``tracefn.train.Checkpoint`` saves: the step count, the learning rate if it
        is a variable, and the slots keyed by their variable (so they are named by that
        variable's path, whatever the order the slots were created in)."""
        children = {"iterations": self._iterations,
                    "slots": {self._slot_owner[k]: s for k, s in self._slots.items()}}  # fmt: skip
        if isinstance(self._learning_rate, Variable):
            children["learning_rate"] = self._learning_rate
        return children

    def _make_slots(self, var: Variable):
        # The optax state's structure does not depend on the learning rate; its values are
        # computed eagerly from the variable's current value.
        state = self._transform(1.0).init(var._tracefn_array())
        paths, tree = jax.tree_util.tree_flatten_with_path(state)
        slots = [Variable(leaf, trainable=False, name=f"{self.name}/{var._name}/{_slot_name(p)}")
                 for p, leaf in paths]  # fmt: skip
        return tree.unflatten(slots)

    @property
    def variables(self) -> list[Variable]:
        """``iterations``, the learning-rate Variable (if any) and every slot."""
        out = [self._iterations]
        if isinstance(self._learning_rate, Variable):
            out.append(self._learning_rate)
        for state in self._slots.values():
            out += jax.tree_util.tree_leaves(state, is_leaf=_is_var)
        return out

    # ------------------------------------------------------------------------ updates
    def apply_gradients(self, grads_and_vars: Iterable, name=None, **kwargs) -> Variable:
        """Apply ``(gradient, variable)`` pairs as one fused update; returns ``iterations``.
        ``None`` gradients are skipped with a warning; all ``None`` is a ``ValueError``."""
        pairs = list(grads_and_vars)
        kept = [(g, v) for g, v in pairs if g is not None]
        if not kept:
            names = ([v.name for _, v in pairs],)
            raise ValueError(_NO_GRADIENTS.format(names=names, pairs=tuple(pairs)))
        if len(kept) < len(pairs):
            missing = [v.name for g, v in pairs if g is None]
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                          "loss. If you're using `model.compile()`, did you forget to provide a "
                          "`loss` argument?", stacklevel=2)  # fmt: skip
        variables = [_check_variable(v) for _, v in kept]
        grads = [_dense(g, v) for g, v in kept]
        self.build(variables)
        slots = [self._slots[id(v)] for v in variables]
        state = (self._iterations, variables, slots)
        fused_update(self._apply_fn, state, grads, self._current_learning_rate())
        return self._iterations

    def apply(self, grads: Sequence, trainable_variables: Sequence[Variable]) -> Variable:
        """Keras 3's form of ``apply_gradients``."""
        return self.apply_gradients(zip(grads, trainable_variables))

    def minimize(self, loss, var_list, tape=None) -> Variable:
        """Compute gradients of ``loss`` (a callable, or a tensor recorded by ``tape``) with
        respect to ``var_list`` (a list or a callable returning one) and apply them."""
        from .gradients import GradientTape

        if callable(loss):
            tape = tape or GradientTape()
            with tape:
                loss_value = loss()
        elif tape is None:
            raise ValueError("`tape` is required when a `Tensor` loss is passed. Received: "
                             f"loss={loss}, tape={tape}.")  # fmt: skip
        else:
            loss_value = loss
        var_list = list(var_list() if callable(var_list) else var_list)
        grads = tape.gradient(loss_value, var_list)
        return self.apply_gradients(zip(grads, var_list))

    def _make_apply_fn(self) -> Callable:
        """The jax function of the fused update, made once (it keys the compiled kernels)."""

        def apply_gradients(state, grads, lr):
            iterations, params, slots = state
            lr = jnp.asarray(lr, jnp.float32)
            decay = self._decoupled_weight_decay()
            grads = self._clip([g.astype(p.dtype) for g, p in zip(grads, params)])
            tx = self._transform(lr)
            new_params, new_slots = [], []
            for g, p, s in zip(grads, params, slots):
                if decay:
                    p = p - (lr * decay).astype(p.dtype) * p
                updates, s_new = tx.update(g, s, p)
                new_params.append((p + updates).astype(p.dtype))
                new_slots.append(jax.tree_util.tree_map(_like, s_new, s))
            return (iterations + 1, new_params, new_slots), None

        apply_gradients.__name__ = f"{self.name}_apply_gradients"
        return apply_gradients

    def _decoupled_weight_decay(self) -> float | None:
        return self.weight_decay  # AdamW and Lion apply theirs inside the optax rule

    def _clip(self, grads: list) -> list:
        if self.clipvalue is not None:
            return [jnp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            return [_clip_norm(g, _norm([g]), self.clipnorm) for g in grads]
        if self.global_clipnorm is not None:
            norm = _norm(grads)
            return [_clip_norm(g, norm, self.global_clipnorm) for g in grads]
        return grads

    # ------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        lr = self._learning_rate
        return {"name": self.name, "learning_rate": float(lr) if isinstance(lr, Variable) else lr,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}  # fmt: skip

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _is_var(x) -> bool:
    return isinstance(x, Variable)


def _like(new, old):
    return jnp.asarray(new, old.dtype).reshape(old.shape)


def _norm(grads: list):
    return jnp.sqrt(sum(jnp.sum(jnp.square(g.astype(jnp.float32))) for g in grads))


def _clip_norm(g, norm, limit):
    scale = limit / jnp.maximum(norm, limit)
    return (g * scale).astype(g.dtype)


def _slot_name(path) -> str:
    names = [str(getattr(k, "name", getattr(k, "key", ""))) for k in path]
    return "/".join(n for n in names if n) or "state"


def _check_variable(v) -> Variable:
    if not isinstance(v, Variable):
        raise TypeError(f"apply_gradients: expected tf.Variable objects to update, got {v!r}")
    return v


def _dense(g, v: Variable) -> Tensor:
    """A dense gradient: IndexedSlices become a scatter-add into zeros."""
    if isinstance(g, IndexedSlices):
        zeros = bind(P.zeros, shape=tuple(v.shape), dtype=v.dtype)
        idx = bind(P.expand_dims, g.indices, axis=-1)
        return bind(P.scatter_nd_update, zeros, idx, g.values, mode="add")
    g = g if isinstance(g, Tensor) else convert_to_tensor(g, dtype=v.dtype)
    if g.shape.is_fully_defined() and v.shape.is_fully_defined() and g.shape != v.shape:
        raise ValueError(f"apply_gradients: the gradient for variable {v.name!r} has shape "
                         f"{g.shape}, but the variable has shape {v.shape}")  # fmt: skip
    return g


# ----------------------------------------------------------------------------- optimizers


class SGD(Optimizer):
    """Gradient descent, with (Nesterov) momentum if ``momentum > 0`` (optax ``sgd``)."""

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs):  # fmt: skip
        if not 0.0 <= momentum <= 1.0:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        super().__init__(learning_rate, **kwargs)

    def _transform(self, lr):
        return optax.sgd(lr, momentum=self.momentum or None, nesterov=self.nesterov)


class Adam(Optimizer):
    """Adam (optax ``adam``; ``amsgrad=True``: optax ``amsgrad``)."""

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs):  # fmt: skip
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad
        super().__init__(learning_rate, **kwargs)

    def _transform(self, lr):
        rule = optax.amsgrad if self.amsgrad else optax.adam
        return rule(lr, b1=self.beta_1, b2=self.beta_2, eps=self.epsilon)


class AdamW(Adam):
    """Adam with decoupled weight decay (optax ``adamw``)."""

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 **kwargs):  # fmt: skip
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=weight_decay, **kwargs)  # fmt: skip

    def _decoupled_weight_decay(self) -> None:
        return None

    def _transform(self, lr):
        if self.amsgrad:
            return optax.chain(optax.scale_by_amsgrad(self.beta_1, self.beta_2, self.epsilon),
                               optax.add_decayed_weights(self.weight_decay),
                               optax.scale_by_learning_rate(lr))  # fmt: skip
        return optax.adamw(lr, b1=self.beta_1, b2=self.beta_2, eps=self.epsilon,
                           weight_decay=self.weight_decay)  # fmt: skip


class RMSprop(Optimizer):
    """RMSprop (optax ``rmsprop``: epsilon inside the square root, as Keras)."""

    def __init__(self, learning_rate=0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs):  # fmt: skip
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered
        super().__init__(learning_rate, **kwargs)

    def _transform(self, lr):
        return optax.rmsprop(lr, decay=self.rho, eps=self.epsilon, centered=self.centered,
                             momentum=self.momentum or None)  # fmt: skip


class Adagrad(Optimizer):
    """Adagrad (optax ``adagrad``)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs):  # fmt: skip
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon
        super().__init__(learning_rate, **kwargs)

    def _transform(self, lr):
        return optax.adagrad(lr, initial_accumulator_value=self.initial_accumulator_value,
                             eps=self.epsilon)  # fmt: skip


class Adamax(Optimizer):
    """Adamax, Adam with the infinity norm (optax ``adamax``)."""

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs):  # fmt: skip
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        super().__init__(learning_rate, **kwargs)

    def _transform(self, lr):
        return optax.adamax(lr, b1=self.beta_1, b2=self.beta_2, eps=self.epsilon)


class Nadam(Adamax):
    """Adam with Nesterov momentum (optax ``nadam``)."""

    def _transform(self, lr):
        return optax.nadam(lr, b1=self.beta_1, b2=self.beta_2, eps=self.epsilon)


class Lion(Optimizer):
    """Lion, the sign of an interpolated momentum (optax ``lion``)."""

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 **kwargs):  # fmt: skip
        self.beta_1, self.beta_2 = beta_1, beta_2
        super().__init__(learning_rate, **kwargs)

    def _transform(self, lr):
        return optax.lion(lr, b1=self.beta_1, b2=self.beta_2, weight_decay=0.0)


_BY_NAME = {c.__name__.lower(): c for c in (SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, Nadam,
                                             Lion)}  # fmt: skip


def get(identifier) -> Optimizer:
    """An optimizer from a name (``"adam"``) or an instance (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")
