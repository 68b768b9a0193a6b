"""``tracefn.compat.v1.train``: TF1 optimizers (issue 6 item 6) and global-step helpers.

In a graph, ``optimizer.minimize(loss)`` adds one ``gradients`` op (jax differentiates the
forward region, see ``gradients.py``) and the update assignments, and returns a ``NoOp``
grouping them: ``sess.run(train_op)`` performs one step. Slots (momentum accumulators, Adam's
moments and beta powers) are non-trainable variables in ``GLOBAL_VARIABLES``, so
``global_variables_initializer()`` (run after ``minimize``) initializes them. The update rules
are TF1's. Eagerly, ``minimize`` takes a loss function and updates the variables at once.
"""

from __future__ import annotations

from ... import math_ops
from ...tensor import Tensor
from ...tracing import convert_to_tensor, current_trace
from ...tracing import name_scope as _root_scope
from ...variables import Variable
from .collections import GraphKeys, get_collection, trainable_variables
from .gradients import gradients
from .graph import building_graph, get_default_graph
from .graph_ops import control_dependencies, group, name_scope

__all__ = [
    "Optimizer", "GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer",
    "get_global_step", "get_or_create_global_step", "create_global_step", "exponential_decay",
]  # fmt: skip


class Optimizer:
    """Base class of TF1 optimizers: ``compute_gradients``, ``apply_gradients``,
    ``minimize``. Subclasses define ``_create_slots``, ``_apply_dense`` and ``_finish``."""

    GATE_NONE, GATE_OP, GATE_GRAPH = 0, 1, 2

    def __init__(self, use_locking: bool, name: str):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._name = name
        self._slots: dict[tuple, Variable] = {}

    def get_name(self) -> str:
        return self._name

    def minimize(self, loss, global_step=None, var_list=None, gate_gradients=GATE_OP,
                 aggregation_method=None, colocate_gradients_with_ops=False, name=None,
                 grad_loss=None):  # fmt: skip
        """``apply_gradients(compute_gradients(loss, var_list))``: one training step op."""
        grads_and_vars = self.compute_gradients(loss, var_list, grad_loss=grad_loss)
        if all(g is None for g, _ in grads_and_vars):
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not "
                f"support gradients, between variables {[str(v) for _, v in grads_and_vars]} "
                f"and loss {loss}."
            )
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(self, loss, var_list=None, gate_gradients=GATE_OP,
                          aggregation_method=None, colocate_gradients_with_ops=False,
                          grad_loss=None) -> list[tuple]:  # fmt: skip
        """``[(gradient or None, variable)]`` for ``var_list`` (default: the trainable
        variables of the graph)."""
        if var_list is None:
            var_list = trainable_variables() + get_collection(
                GraphKeys.TRAINABLE_RESOURCE_VARIABLES)  # fmt: skip
        var_list = list(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        if callable(loss):
            return list(zip(_eager_gradients(loss, var_list), var_list))
        return list(zip(gradients(loss, var_list, grad_ys=grad_loss), var_list))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Update each variable from its gradient (``None`` gradients are skipped); in a graph
        returns the op doing it, eagerly does it."""
        pairs = list(grads_and_vars)
        if not pairs:
            raise ValueError("No variables provided.")
        kept = [(g, v) for g, v in pairs if g is not None]
        if not kept:
            names = [str(v) for _, v in pairs]
            raise ValueError(f"No gradients provided for any variable: {names}.")
        with _root_scope(None):  # slots are named after their variable, at the top level
            self._create_slots([v for _, v in kept])
        with name_scope(name or self._name) as scope:
            updates = [self._apply_dense(convert_to_tensor(g), v) for g, v in kept]
            finish = self._finish(updates, scope or self._name)
            if global_step is None:
                return finish
            with control_dependencies([finish]):
                step = global_step.assign_add(1)
            return step.op if building_graph() is not None else None

    # ---------------------------------------------------------------------------- slots
    def _zeros_slot(self, var, slot_name: str, op_name: str) -> Variable:
        key = (slot_name, id(var))
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _track(Variable(_zeros_fn(var), trainable=False,
                                                      name=f"{var._name}/{op_name}"))  # fmt: skip
        return slot

    def get_slot(self, var, name: str) -> Variable | None:
        return self._slots.get((name, id(var)))

    def get_slot_names(self) -> list[str]:
        return sorted({k[0] for k in self._slots})

    def variables(self) -> list[Variable]:
        return list(self._slots.values())

    def _create_slots(self, var_list) -> None:
        pass

    def _finish(self, updates, name: str):
        return group(*updates, name=name)

    def _lr(self, var) -> Tensor:
        lr = self._learning_rate() if callable(self._learning_rate) else self._learning_rate
        return _as(lr, var)


def _as(x, var) -> Tensor:
    t = convert_to_tensor(x) if isinstance(x, Tensor) or hasattr(x, "_tracefn_read") else (
        convert_to_tensor(x, dtype=var.dtype))  # fmt: skip
    return t if t.dtype == var.dtype else math_ops.cast(t, var.dtype)


def _zeros_fn(var):
    from ... import array_ops

    return lambda: array_ops.zeros(tuple(var.shape), var.dtype)


def _track(var: Variable) -> Variable:
    """Eager slots join the default graph's ``GLOBAL_VARIABLES`` too (graph ones already do)."""
    if building_graph() is None:
        get_default_graph().add_to_collection(GraphKeys.GLOBAL_VARIABLES, var)
    return var


def _eager_gradients(loss_fn, var_list) -> list:
    """Gradients of ``loss_fn()`` eagerly: traced once into a function whose graph has a
    ``gradients`` op, then run."""
    if current_trace() is not None:
        return gradients(loss_fn(), var_list)
    from ...function import function

    return list(function(lambda: gradients(loss_fn(), var_list), autograph=False)())


class GradientDescentOptimizer(Optimizer):
    """``var -= learning_rate * grad``."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _apply_dense(self, grad, var):
        return var.assign_sub(math_ops.multiply(self._lr(var), grad))


class MomentumOptimizer(Optimizer):
    """``accum = momentum * accum + grad; var -= lr * accum`` (Nesterov:
    ``var -= lr * (grad + momentum * accum)``)."""

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum",
                 use_nesterov=False):  # fmt: skip
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        accum = self.get_slot(var, "momentum")
        m = _as(self._momentum, var)
        new = accum.assign(math_ops.add(math_ops.multiply(m, accum), grad))
        step = math_ops.add(grad, math_ops.multiply(m, new)) if self._use_nesterov else new
        return var.assign_sub(math_ops.multiply(self._lr(var), step))


class AdamOptimizer(Optimizer):
    """TF1's Adam: ``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``,
    ``var -= lr_t * m / (sqrt(v) + epsilon)``; ``beta1_power``/``beta2_power`` are variables."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 use_locking=False, name="Adam"):  # fmt: skip
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._beta1, self._beta2, self._epsilon = beta1, beta2, epsilon
        self._powers: dict[int, tuple] = {}

    def _create_slots(self, var_list):
        graph = id(building_graph())
        if graph not in self._powers:
            dtype = var_list[0].dtype
            self._powers[graph] = tuple(
                _track(Variable(float(b), trainable=False, name=n, dtype=dtype))
                for b, n in ((self._beta1, "beta1_power"), (self._beta2, "beta2_power"))
            )
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name + "_1")

    def _apply_dense(self, grad, var):
        b1p, b2p = self._powers[id(building_graph())]
        b1, b2, eps = (_as(x, var) for x in (self._beta1, self._beta2, self._epsilon))
        one = _as(1.0, var)
        lr = math_ops.divide(math_ops.multiply(self._lr(var), math_ops.sqrt(one - b2p)), one - b1p)
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        m_t = m.assign(b1 * m + (one - b1) * grad)
        v_t = v.assign(b2 * v + (one - b2) * grad * grad)
        return var.assign_sub(lr * m_t / (math_ops.sqrt(v_t) + eps))

    def _finish(self, updates, name):
        b1p, b2p = self._powers[id(building_graph())]
        with control_dependencies(updates):
            p1 = b1p.assign(b1p * _as(self._beta1, b1p))
            p2 = b2p.assign(b2p * _as(self._beta2, b2p))
        return group(*updates, p1, p2, name=name)


# --------------------------------------------------------------------------- global step


def get_global_step(graph=None):
    """The variable in the ``GLOBAL_STEP`` collection, or None."""
    items = (graph or get_default_graph()).get_collection(GraphKeys.GLOBAL_STEP)
    return items[0] if items else None


def create_global_step(graph=None):
    from ... import dtypes
    from .init_ops import Zeros
    from .variable_scope import get_variable

    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    return get_variable("global_step", shape=[], dtype=dtypes.int64, initializer=Zeros(),
                        trainable=False, collections=[GraphKeys.GLOBAL_VARIABLES,
                                                      GraphKeys.GLOBAL_STEP])  # fmt: skip


def get_or_create_global_step(graph=None):
    return get_global_step(graph) or create_global_step(graph)


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None) -> Tensor:  # fmt: skip
    """``learning_rate * decay_rate ** (global_step / decay_steps)`` (floored if staircase)."""
    from ... import dtypes

    lr = convert_to_tensor(learning_rate, dtype=dtypes.float32)
    p = math_ops.divide(math_ops.cast(global_step, dtypes.float32), float(decay_steps))
    if staircase:
        p = math_ops.floor(p)
    return lr * math_ops.pow(convert_to_tensor(float(decay_rate)), p)


# Savers and device setters are defined with the checkpoints and strategies; TF1 code finds
# them here, as tf.compat.v1.train.Saver and tf.compat.v1.train.replica_device_setter.
from ...checkpoint import latest_checkpoint  # noqa: E402
from ...distribute.device_setter import replica_device_setter  # noqa: E402
from ...saver import Saver  # noqa: E402

__all__ += ["Saver", "latest_checkpoint", "replica_device_setter"]
