"""Naming the variables of an object graph by path, for object-based checkpoints.

``named_variables({"model": m, "optimizer": opt})`` walks breadth-first from the roots and names
every variable it reaches by the shortest path of attribute names, list indices and dict keys:
``model/dense/kernel``, ``optimizer/iterations``. Shortest-first, with children in a fixed order,
gives every variable one canonical name, the same in the process that saves and in the one that
restores, even when several paths lead to it.

The children of an object are, in this order of preference:

* ``obj._checkpoint_children()`` when the object defines it: a dict ``{name: child}``. Optimizers
  and metrics define it to choose stable names for their state;
* the entries of a dict (by key; a ``Variable`` key, or its ``ref()``, is named by that
  variable's own path, so optimizer slots keyed by their primary variable get names like
  ``optimizer/m/model/dense/kernel`` that do not depend on the order of a variable list), the
  elements of a list or tuple (by index);
* otherwise the instance attributes (``vars(obj)``), in name order, of Modules and of ordinary
  user objects; attributes named ``_tracefn*`` are private to tracefn and skipped.

Values that cannot hold variables (numbers, strings, arrays, tensors, functions, classes, Python
modules, compiled ``tracefn.function`` objects) are not entered.
"""

from __future__ import annotations

import types
from collections import deque
from typing import Any

import numpy as np

from .concrete import ConcreteFunction
from .function import Function
from .tensor import Tensor
from .variables import Variable

__all__ = ["named_variables"]

_LEAVES = (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic, Tensor,
           type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType)  # fmt: skip
_MAX_DEPTH = 64


def named_variables(roots: dict[str, Any]) -> dict[str, Variable]:
    """``{path: variable}`` for every variable reachable from ``roots``, each under its
    shortest path (see the module docstring)."""
    walk = _Walk()
    walk.run(sorted(roots.items()))
    return walk.named


class _Walk:
    def __init__(self):
        self.named: dict[str, Variable] = {}
        self.path_of: dict[int, str] = {}
        self.seen: set[int] = set()

    def run(self, start) -> None:
        queue = deque((name, obj, 1) for name, obj in start)
        keyed: list = []  # dict entries keyed by variables: named once all paths are known
        while queue or keyed:
            if not queue:
                queue.extend((f"{p}/{self._key_name(k)}", v, d) for p, k, v, d in keyed)
                keyed = []
                continue
            path, obj, depth = queue.popleft()
            if isinstance(obj, Variable):
                self._add(path, obj)
            elif id(obj) not in self.seen and depth <= _MAX_DEPTH:
                self.seen.add(id(obj))
                for name, child, key_var in _children(obj):
                    if key_var is not None:
                        keyed.append((path, key_var, child, depth + 1))
                    else:
                        queue.append((f"{path}/{name}", child, depth + 1))

    def _add(self, path: str, var: Variable) -> None:
        if id(var) in self.path_of:
            return  # already named by a shorter (or earlier) path
        other = self.named.get(path)
        if other is not None:
            raise ValueError(f"Two different variables would be checkpointed under the same "
                             f"name {path!r}: {other.name!r} and {var.name!r}. Rename a "
                             "dict key or attribute so their paths differ.")  # fmt: skip
        self.named[path] = var
        self.path_of[id(var)] = path

    def _key_name(self, var: Variable) -> str:
        return self.path_of.get(id(var)) or var._name


def _children(obj) -> list[tuple[str, Any, Variable | None]]:
    """``(name, child, key_variable)`` for the children of ``obj``; ``key_variable`` is set for
    dict entries keyed by a variable (their name is that variable's path)."""
    custom = getattr(type(obj), "_checkpoint_children", None)
    if custom is not None:
        return _dict_children(obj._checkpoint_children())
    if isinstance(obj, dict):
        return _dict_children(obj)
    if isinstance(obj, (list, tuple)):
        return [(str(i), x, None) for i, x in enumerate(obj) if _may_hold_variables(x)]
    if not _is_plain_object(obj):
        return []
    return [(k, v, None) for k, v in sorted(vars(obj).items())
            if not k.startswith("_tracefn") and _may_hold_variables(v)]  # fmt: skip


def _dict_children(d: dict) -> list:
    out = []
    for k in sorted(d, key=_sort_key):
        v = d[k]
        if not _may_hold_variables(v):
            continue
        key_var = k.deref() if hasattr(k, "deref") else k
        if isinstance(key_var, Variable):
            out.append(("", v, key_var))
        else:
            out.append((str(k), v, None))
    return out


def _sort_key(k) -> tuple:
    # Variable keys compare by their (stable) names, other keys by repr: never by id().
    return (1, k.deref()._name) if hasattr(k, "deref") else (
        (1, k._name) if isinstance(k, Variable) else (0, repr(k)))  # fmt: skip


def _may_hold_variables(x) -> bool:
    return isinstance(x, (Variable, dict, list, tuple)) or not isinstance(x, _LEAVES)


def _is_plain_object(obj) -> bool:
    """Objects whose attributes are walked: Modules, optimizers, metrics and other user
    objects; not compiled functions, jax/numpy objects or objects without a ``__dict__``."""
    if not hasattr(obj, "__dict__") or isinstance(obj, (_LEAVES, Function, ConcreteFunction)):
        return False
    module = type(obj).__module__ or ""
    return not module.startswith(("jax", "jaxlib", "numpy", "builtins", "threading", "logging"))
