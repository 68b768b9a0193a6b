"""Name-based checkpoints for TF1-style programs: ``Saver`` (``tf.compat.v1.train.Saver``).

Values are keyed by variable name (``dense/kernel``), the way TF1 graphs name them. In graph mode
the values live in a session, so the saver talks to it through two methods only:

* ``sess._tracefn_read_vars(variables) -> list[np.ndarray]``: host copies of the variables'
  current values in that session, taken together (no step runs in between);
* ``sess._tracefn_write_vars(variables, arrays)``: set all of them (all or nothing), marking them
  initialized; the arrays were checked to have each variable's dtype and shape.

With ``sess=None`` (eager programs) the variables are read and assigned directly. Files are
written with ``checkpoint_storage`` (atomic, checksummed), synchronously, as TF1's saver does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import checkpoint_storage as storage
from .checkpoint import assign_all, check_compatible, snapshot
from .checkpoint_async import WRITER
from .errors import NotFoundError
from .variables import Variable

__all__ = ["Saver"]


class Saver:
    """Saves and restores variables by name (TF's ``tf.compat.v1.train.Saver``).

    ``var_list``: a list of variables (keyed by their names) or a dict ``{name: variable}``;
    ``None`` means every global variable (``tracefn.compat.v1.global_variables()``).
    Restoring requires a value for every variable; with ``var_list=None`` a checkpoint value
    that no variable has is an error too (pass an explicit ``var_list`` to restore a subset)."""

    def __init__(self, var_list=None, reshape: bool = False, sharded: bool = False,
                 max_to_keep: int | None = 5, keep_checkpoint_every_n_hours: float = 10000.0,
                 name: str | None = None, restore_sequentially: bool = False, saver_def=None,
                 builder=None, defer_build: bool = False, allow_empty: bool = False,
                 write_version: int = 2, pad_step_number: bool = False,
                 save_relative_paths: bool = False, filename: str | None = None):  # fmt: skip
        self._strict = var_list is None
        self._vars = _by_name(_global_variables() if var_list is None else var_list)
        if not self._vars and not allow_empty:
            raise ValueError("No variables to save")
        self._max_to_keep = max_to_keep
        self._pad = pad_step_number
        self._last: list[str] = []

    # --------------------------------------------------------------------------- saving
    def save(self, sess, save_path: str, global_step=None, latest_filename: str | None = None,
             meta_graph_suffix: str = "meta", write_meta_graph: bool = True,
             write_state: bool = True, strip_default_attrs: bool = False,
             save_debug_info: bool = False) -> str:  # fmt: skip
        """Write the variables' values to ``save_path`` (``save_path-<global_step>`` when a
        step is given) and return that path. Older checkpoints beyond ``max_to_keep`` are
        deleted once the new one is recorded in the directory's ``checkpoint`` file."""
        path = os.path.abspath(os.fspath(save_path))
        if global_step is not None:
            step = _step_value(sess, global_step)
            path = f"{path}-{step:08d}" if self._pad else f"{path}-{step}"
        names = list(self._vars)
        arrays = read_values(sess, [self._vars[n] for n in names])
        WRITER.wait()  # an asynchronous object-based save may be writing the same directory
        storage.write(path, dict(zip(names, arrays)), {"kind": "name"})
        if write_state:
            self._record(path)
        return path

    def _record(self, path: str) -> None:
        self._last = [p for p in self._last if p != path] + [path]
        doomed = []
        if self._max_to_keep and len(self._last) > self._max_to_keep:
            doomed, self._last = self._last[: -self._max_to_keep], self._last[-self._max_to_keep :]
        storage.write_state(os.path.dirname(path), path, self._last)
        for p in doomed:  # after the state file moved on: it never names a deleted checkpoint
            storage.remove(p)

    @property
    def last_checkpoints(self) -> list[str]:
        return list(self._last)

    def set_last_checkpoints(self, last_checkpoints: Sequence[str]) -> None:
        self._last = list(last_checkpoints)

    def recover_last_checkpoints(self, checkpoint_paths: Sequence[str]) -> None:
        self._last = [p for p in checkpoint_paths if storage.exists(p)]

    # ------------------------------------------------------------------------ restoring
    def restore(self, sess, save_path: str) -> None:
        """Set every variable to its value in ``save_path``, all or nothing: a missing or
        unexpected name, another shape or dtype, a damaged file each raise an error naming the
        variable, and leave every variable unchanged."""
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        path = os.path.abspath(os.fspath(save_path))
        if not os.path.exists(path):
            raise ValueError(f"The passed save_path is not a valid checkpoint: {save_path}")
        WRITER.wait()
        arrays, _ = storage.read(path)
        self._check_names(path, arrays)
        names = list(self._vars)
        pairs = [(n, self._vars[n], arrays[n]) for n in names]
        check_compatible(pairs, path)
        write_values(sess, [v for _, v, _ in pairs], [a for _, _, a in pairs])

    def _check_names(self, path: str, arrays: Mapping[str, np.ndarray]) -> None:
        missing = [n for n in self._vars if n not in arrays]
        if missing:
            shown = ", ".join(f"{n!r} ({_describe(self._vars[n])})" for n in missing)
            raise NotFoundError(f"Key {missing[0]} not found in checkpoint {path}: it holds no "
                                f"value for {shown}. No variable was changed.")  # fmt: skip
        extra = sorted(n for n in arrays if n not in self._vars)
        if extra and self._strict:
            raise NotFoundError(f"Checkpoint {path} holds values for names that no variable "
                                f"has: {extra}. Restore a subset with Saver(var_list=...). No "
                                "variable was changed.")  # fmt: skip

    def as_saver_def(self):
        raise NotImplementedError("tracefn's Saver has no SaverDef protocol buffer.")


# ---------------------------------------------------------------------------- helpers


def read_values(sess, variables: Sequence[Variable]) -> list[np.ndarray]:
    """The variables' values as host arrays: from ``sess`` in graph mode, else directly."""
    if sess is None:
        return snapshot(variables)
    return [np.asarray(a) for a in _session(sess)._tracefn_read_vars(list(variables))]


def write_values(sess, variables: Sequence[Variable], arrays: Sequence[np.ndarray]) -> None:
    if sess is None:
        assign_all([("", v, a) for v, a in zip(variables, arrays)])
    else:
        _session(sess)._tracefn_write_vars(list(variables), list(arrays))


def _session(sess):
    if not hasattr(sess, "_tracefn_read_vars") or not hasattr(sess, "_tracefn_write_vars"):
        raise TypeError(f"Saver needs a tracefn.compat.v1.Session (or None in eager mode), "
                        f"got {type(sess).__name__}.")  # fmt: skip
    return sess


def _by_name(var_list) -> dict[str, Variable]:
    if isinstance(var_list, Mapping):
        items = list(var_list.items())
    else:
        items = [(_op_name(v), v) for v in var_list]
    out: dict[str, Variable] = {}
    for name, v in items:
        if name in out and out[name] is not v:
            raise ValueError(f"At least two variables have the same name: {name}")
        out[name] = v
    return out


def _op_name(v: Any) -> str:
    name = getattr(v, "_name", None) or v.name
    return name[:-2] if name.endswith(":0") else name


def _describe(v: Variable) -> str:
    return f"variable {v.name!r}, {v.dtype.np.name}{v.shape}"


def _global_variables() -> list:
    try:
        from .compat.v1 import global_variables
    except ImportError:
        return []
    return list(global_variables())


def _step_value(sess, step) -> int:
    if isinstance(step, (int, np.integer)):
        return int(step)
    if isinstance(step, Variable):
        return int(read_values(sess, [step])[0])
    if sess is not None and hasattr(sess, "run"):
        return int(sess.run(step))
    return int(np.asarray(step))
