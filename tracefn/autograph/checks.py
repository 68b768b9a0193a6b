"""Consistency checks on the symbols of staged conds and loops, with TensorFlow's messages.

``control_flow.cond`` / ``while_loop`` would reject inconsistent branch outputs or loop
carries too, but only autograph knows the *Python names* of the values, so it checks first and
names the symbol and the branch at fault (spec A3, A5, A7).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from .. import dtypes
from ..tensor import Tensor, TensorShape
from .symbols import Undefined, UndefinedReturnValue

__all__ = [
    "dtype_of", "flatten", "is_tensorish", "shape_of", "verify_branch", "verify_cond_vars",
    "verify_loop_init", "verify_loop_vars",
]  # fmt: skip

_PY_SCALARS = (bool, int, float, complex, np.ndarray, np.generic)

COND_MISMATCH = (
    "true_fn and false_fn arguments to tf.cond must have the same number, type, and overall "
    "structure of return values."
)
RETURN_IN_LOOP = (
    "a return statement cannot be placed inside this TensorFlow loop; this may happen if a "
    "return statement depends on a static Python condition such as a hyperparameter"
)
SHAPE_HINT = "Use tf.autograph.experimental.set_loop_options to set shape invariants."


def flatten(value: Any) -> tuple[list, Any]:
    """Leaves and structure of a (nested tuple/list/dict) value; ``None`` counts as a leaf."""
    return jax.tree_util.tree_flatten(value, is_leaf=lambda x: x is None)


def is_variable(x: Any) -> bool:
    return getattr(type(x), "_tracefn_read", None) is not None


def is_tensorish(x: Any) -> bool:
    """Values a staged region can carry: tensors, variables and Python/numpy numbers."""
    return isinstance(x, (Tensor, *_PY_SCALARS)) or is_variable(x)


def dtype_of(x: Any) -> dtypes.DType:
    """The dtype ``x`` has as a tensor (TF's rules: Python ints are int32, floats float32)."""
    if isinstance(x, Tensor) or is_variable(x):
        return x.dtype
    if isinstance(x, bool):
        return dtypes.bool_
    if isinstance(x, int):
        return dtypes.int32 if -(2**31) <= x < 2**31 else dtypes.int64
    if isinstance(x, float):
        return dtypes.float32
    if isinstance(x, complex):
        return dtypes.complex64
    return dtypes.as_dtype(np.asarray(x).dtype)


def shape_of(x: Any) -> TensorShape:
    if isinstance(x, Tensor) or is_variable(x):
        return TensorShape(x.shape)
    return TensorShape(np.shape(x))


def _describe(value: Any) -> str:
    leaves, tree = flatten(value)
    kinds = ", ".join(type(leaf).__name__ for leaf in leaves)
    return f"{tree} with leaves ({kinds})"


def _structure_error(a: Any, b: Any, a_name: str, b_name: str) -> str | None:
    if flatten(a)[1] == flatten(b)[1]:
        return None
    return f"{a_name}: {_describe(a)}\n{b_name}: {_describe(b)}"


# --------------------------------------------------------------------------------- cond


def verify_branch(values: Sequence, names: Sequence[str] | None, branch: str) -> None:
    """Every symbol must be defined at the end of each branch (spec A3)."""
    for name, value in zip(names or (), values):
        if isinstance(value, Undefined):
            raise ValueError(f"'{name}' must also be initialized in the {branch} branch")
        if isinstance(value, UndefinedReturnValue):
            raise ValueError(f"the {branch} branch must also have a return statement.")


def verify_cond_vars(main: Sequence, orelse: Sequence, names: Sequence[str] | None) -> None:
    """Both branches must give each symbol the same structure and dtypes, and no None.
    ``names=None`` (``and``/``or`` on tensors) checks the whole output with tf.cond's message."""
    if names is None:
        error = _structure_error(main, orelse, "true_fn output", "false_fn output")
        if error is None:
            error = _leaf_mismatch(main, orelse)
        if error is not None:
            raise TypeError(f"{COND_MISMATCH}\n\n{error}")
        return
    for name, a, b in zip(names, main, orelse):
        error = _structure_error(a, b, "main branch", "else branch")
        if error is not None:
            raise TypeError(
                f"'{name}' must have the same nested structure in the main and else "
                f"branches:\n\n{error}"
            )
        for x, y in zip(flatten(a)[0], flatten(b)[0]):
            _verify_cond_leaf(name, x, y)


def _leaf_mismatch(a: Any, b: Any) -> str | None:
    for x, y in zip(flatten(a)[0], flatten(b)[0]):
        if is_tensorish(x) != is_tensorish(y) or (is_tensorish(x) and dtype_of(x) != dtype_of(y)):
            return f"true_fn output: {x!r}\nfalse_fn output: {y!r}"
    return None


def _verify_cond_leaf(name: str, main: Any, orelse: Any) -> None:
    if main is orelse and not is_tensorish(main):
        return  # the same Python object (e.g. None from two bare `return`s): no choice to make
    for value, branch in ((main, "main"), (orelse, "else")):
        if value is None:
            raise ValueError(f"'{name}' is None at the end of the {branch} branch.")
    if is_tensorish(main) and is_tensorish(orelse):
        a, b = dtype_of(main), dtype_of(orelse)
        if a != b:
            raise TypeError(
                f"'{name}' has dtype {a.name} in the main branch, but dtype {b.name} in the "
                "else branch"
            )
    elif main is not orelse:
        raise TypeError(
            f"'{name}' is a Python value that a tensor condition cannot choose: it is "
            f"{main!r} in the main branch and {orelse!r} in the else branch. Use tensors, or "
            "make the condition a Python value."
        )


# --------------------------------------------------------------------------------- loops


def verify_loop_init(init: Sequence, names: Sequence[str], extra: str | None = None) -> None:
    """Loop variables must be defined before a staged loop (spec A7, A11)."""
    for name, value in zip(names, init):
        if isinstance(value, UndefinedReturnValue):
            raise NotImplementedError(RETURN_IN_LOOP)
        message = None
        if value is None:
            message = f"'{name}' is not allowed to be None before the loop"
        elif isinstance(value, Undefined):
            message = f"'{name}' must be defined before the loop"
        if message is not None:
            raise ValueError(message + (f"\n{extra}" if extra else ""))


def _is_subshape(left: TensorShape, right: TensorShape) -> bool:
    """Whether ``left`` is at least as specific as ``right``."""
    if right.rank is None:
        return True
    if left.rank != right.rank:
        return False
    return all(r is None or l_ == r for l_, r in zip(left, right))


def verify_loop_vars(init, entry, exit_, names, invariants: dict) -> None:
    """After one traced iteration each symbol keeps its structure, dtype and shape (spec A7).
    ``invariants`` maps ``id(init leaf)`` to a shape invariant."""
    for name, i, a, b in zip(names, init, entry, exit_):
        error = _structure_error(a, b, "before the loop", "after one iteration")
        if error is not None:
            raise TypeError(f"'{name}' does not have the same nested structure after one "
                            f"iteration.\n\n{error}")  # fmt: skip
        leaves = zip(flatten(i)[0], flatten(a)[0], flatten(b)[0])
        for init_leaf, x, y in leaves:
            _verify_loop_leaf(name, init_leaf, x, y, invariants.get(id(init_leaf)))


def _verify_loop_leaf(name, init, entry, exit_, invariant) -> None:
    if exit_ is None:
        raise ValueError(f"'{name}' is None at the end of the iteration.")
    if not (is_tensorish(entry) and is_tensorish(exit_)):
        if entry is not exit_:
            raise TypeError(
                f"'{name}' is a Python value ({type(exit_).__name__}) that changes in a "
                "TensorFlow loop; only tensors can change from one iteration to the next."
            )
        return
    if dtype_of(entry) != dtype_of(exit_):
        raise TypeError(f"'{name}' has dtype {dtype_of(entry).name} before the loop, but "
                        f"dtype {dtype_of(exit_).name} after one iteration")  # fmt: skip
    exit_shape = shape_of(exit_)
    if invariant is None:
        if not _is_subshape(exit_shape, shape_of(entry)):
            raise ValueError(f"'{name}' has shape {shape_of(entry)} before the loop, but shape "
                             f"{exit_shape} after one iteration. {SHAPE_HINT}")  # fmt: skip
        return
    invariant = TensorShape(invariant)
    if not _is_subshape(shape_of(init), invariant):
        raise ValueError(f"'{name}' has shape {shape_of(init)} before the loop, which does not "
                         f"conform with the shape invariant {invariant}.")  # fmt: skip
    if not _is_subshape(exit_shape, invariant):
        raise ValueError(f"'{name}' has shape {exit_shape} after one iteration, which does not "
                         f"conform with the shape invariant {invariant}.")  # fmt: skip
