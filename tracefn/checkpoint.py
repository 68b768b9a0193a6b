"""Object-based checkpoints: ``tracefn.train.Checkpoint``, ``CheckpointManager``,
``latest_checkpoint`` (TensorFlow's ``tf.train`` API).

A ``Checkpoint(model=m, optimizer=opt)`` names every variable it reaches by object path
(``model/dense/kernel``, see ``checkpoint_graph``) and saves ``{path: value}`` with
``checkpoint_storage`` (orbax underneath, atomic, checksummed). Saves are asynchronous by
default: ``save`` returns once the values are copied to host memory (``checkpoint_async``).

Restoring is all-or-nothing for the variables that exist: every value is read and checked
(checksum, shape, dtype) before the first variable changes. Values whose variables do not exist
yet (an optimizer's slots, created on its first step) are kept and assigned when the variable
appears under the right path: at every variable creation (``variables.CREATION_HOOKS``) and
whenever ``restore_deferred()`` is called, the tracked objects are walked again. A deferred value
is only ever assigned to a variable that nothing has written since its creation; a variable
that was already updated is reported by ``assert_consumed()`` instead of being overwritten.

>>> import tracefn as tf, tempfile
>>> v = tf.Variable(1.0)
>>> ckpt = Checkpoint(v=v)
>>> path = ckpt.save(tempfile.mkdtemp() + "/ckpt")
>>> _ = v.assign(5.0)
>>> ckpt.restore(path).assert_consumed() and float(v)
1.0
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import checkpoint_storage as storage
from .checkpoint_async import WRITER
from .checkpoint_graph import _children, named_variables
from .errors import InvalidArgumentError
from .tracing import convert_to_tensor, current_trace
from .variables import CREATION_HOOKS, STATE_LOCK, Variable, init_scope

__all__ = ["Checkpoint", "CheckpointManager", "CheckpointOptions", "CheckpointLoadStatus",
           "latest_checkpoint", "restore_deferred"]  # fmt: skip


class CheckpointOptions:
    """Options of ``save``/``write``/``restore`` (TF's ``tf.train.CheckpointOptions``).

    Unlike TensorFlow, asynchronous saving is on by default: ``save`` returns once the values
    are in host memory. Pass ``enable_async=False`` to return only when the files are written."""

    def __init__(self, experimental_io_device=None, experimental_enable_async_checkpoint=True,
                 experimental_write_callbacks=None, enable_async: bool | None = None,
                 **kwargs):  # fmt: skip
        self.experimental_io_device = experimental_io_device
        self.enable_async = bool(experimental_enable_async_checkpoint if enable_async is None
                                 else enable_async)  # fmt: skip
        self.experimental_write_callbacks = list(experimental_write_callbacks or [])


_DEFAULT_OPTIONS = CheckpointOptions()


# ------------------------------------------------------------------ checking and assigning


def snapshot(variables: Sequence[Variable]) -> list[np.ndarray]:
    """Host copies of the variables' current values, all taken at one point in program order
    (no compiled call can write a variable in between)."""
    with STATE_LOCK:
        return storage.host_copies([v._tracefn_array() for v in variables])


def check_compatible(pairs: Sequence[tuple[str, Variable, np.ndarray]], path: str) -> None:
    """Raise ``InvalidArgumentError`` naming every ``(name, variable, value)`` whose value has
    another dtype or shape than its variable."""
    problems = []
    for name, var, a in pairs:
        if a.dtype != var.dtype.np or not var.shape.is_compatible_with(a.shape):
            problems.append(f"{name!r} (variable {var.name!r}): the checkpoint holds "
                            f"{a.dtype.name}{list(a.shape)}, the variable is "
                            f"{var.dtype.np.name}{var.shape}")  # fmt: skip
    if problems:
        raise InvalidArgumentError(f"Cannot restore from {path}: " + "; ".join(problems)
                                   + ". No variable was changed.")  # fmt: skip


def assign_all(pairs: Sequence[tuple[str, Variable, np.ndarray]]) -> None:
    """Assign checked values. Conversions happen first, so a failure changes no variable."""
    with init_scope():  # a deferred restore may run while a function is being traced
        tensors = [convert_to_tensor(a, dtype=v.dtype) for _, v, a in pairs]
        for (_, var, _), t in zip(pairs, tensors):
            var.assign(t)


def _unwritten(var: Variable) -> bool:
    """False for a variable created while restorations were pending and written since: every
    write replaces the array object, so its array at creation is gone or no longer its value.
    Variables created before (not recorded) are restored when they appear, as in TF."""
    ref = _CREATED_VALUE.get(var)
    return ref is None or ref() is getattr(var, "_value", None)


def _eager_only(what: str) -> None:
    if current_trace() is not None:
        raise RuntimeError(f"Checkpoint.{what}() cannot run inside a tracefn.function or a "
                           "graph being built; call it eagerly, between steps.")  # fmt: skip


# ---------------------------------------------------------------------------- Checkpoint


class Checkpoint:
    """Groups objects to save and restore by object path (TF's ``tf.train.Checkpoint``).

    ``Checkpoint(model=m, optimizer=opt)``: the keyword arguments (and any attribute set later)
    are the tracked roots; ``save_counter`` numbers ``save`` calls and is saved too."""

    def __init__(self, root=None, **kwargs):
        if "save_counter" in kwargs:
            raise ValueError("'save_counter' is reserved: it numbers the checkpoint's saves.")
        self._root = root
        for name, obj in kwargs.items():
            if isinstance(obj, (int, float, str, bytes, bool)):
                raise ValueError(f"`Checkpoint` was expecting a trackable object (a Variable, "
                                 f"Module, optimizer, ...) for {name!r}, got {obj!r}.")  # fmt: skip
            setattr(self, name, obj)
        with init_scope():
            self.save_counter = Variable(0, dtype=np.int64, trainable=False, name="save_counter")
        self._lock = threading.RLock()
        self._pending: dict[str, np.ndarray] = {}
        self._pending_path = ""
        self._stale: set[str] = set()
        self._restores = 0

    def _roots(self) -> dict[str, Any]:
        roots = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        if self._root is not None:
            for name, child, _ in _children(self._root):
                roots.setdefault(name, child)
        return roots

    def _named(self) -> dict[str, Variable]:
        return named_variables(self._roots())

    # --- saving
    def save(self, file_prefix: str, options: CheckpointOptions | None = None) -> str:
        """Write ``<file_prefix>-<n>`` (``n`` = the incremented ``save_counter``), record it in
        the directory's ``checkpoint`` state file, and return its path."""
        _eager_only("save")
        self.save_counter.assign_add(1)
        path = f"{os.path.abspath(file_prefix)}-{int(self.save_counter)}"
        try:
            self._write(path, options, after=lambda: _record_latest(path))
        except BaseException:
            self.save_counter.assign_sub(1)  # nothing was saved: the numbering stays as it was
            raise
        return path

    def write(self, file_prefix: str, options: CheckpointOptions | None = None) -> str:
        """Write exactly ``file_prefix`` (no numbering, no state file); return the path."""
        _eager_only("write")
        path = os.path.abspath(file_prefix)
        self._write(path, options)
        return path

    def _write(self, path: str, options, after: Callable[[], None] | None = None) -> None:
        named = self._named()
        keys = list(named)
        WRITER.wait()  # the previous save finishes first (and reports its failure)
        storage.load_orbax()  # imported here, not on the writer thread (once, ~0.3 s)
        arrays = snapshot([named[k] for k in keys])
        storage.check_storable(dict(zip(keys, arrays)))  # fail here, not on the writer thread
        callbacks = (options or _DEFAULT_OPTIONS).experimental_write_callbacks

        def job():
            storage.write(path, dict(zip(keys, arrays)), {"kind": "object"})
            if after is not None:
                after()
            for cb in callbacks:
                cb(path)

        if (options or _DEFAULT_OPTIONS).enable_async:
            WRITER.submit(job, path)
        else:
            job()

    def sync(self) -> None:
        """Wait until an asynchronous save has finished writing."""
        WRITER.wait()

    # --- restoring
    def restore(self, save_path: str | None, options=None) -> CheckpointLoadStatus:
        """Restore the values saved at ``save_path``; ``None`` restores nothing (the idiom
        ``ckpt.restore(manager.latest_checkpoint)`` on a first run). Values for variables that
        do not exist yet are restored when those variables are created."""
        _eager_only("restore")
        if save_path is None:
            return CheckpointLoadStatus(self, None, set())
        return self.read(save_path, options)

    def read(self, save_path: str, options=None) -> CheckpointLoadStatus:
        """Like ``restore``, for checkpoints written with ``write``."""
        _eager_only("read")
        WRITER.wait()
        save_path = os.path.abspath(os.fspath(save_path))
        arrays, _ = storage.read(save_path)
        with self._lock:
            named = self._named()
            matched = [(k, named[k], arrays[k]) for k in named if k in arrays]
            check_compatible(matched, save_path)
            assign_all(matched)
            self._pending = {k: a for k, a in arrays.items() if k not in named}
            _track_pending(self)
            self._pending_path = save_path
            self._stale = set()
            self._restores += 1
            return CheckpointLoadStatus(self, save_path, set(arrays))

    def _restore_pending(self) -> None:
        """Assign the deferred values whose variables now exist and are still unwritten."""
        with self._lock:
            if not self._pending:
                return
            named = self._named()
            found = [(k, named[k], self._pending[k]) for k in list(self._pending) if k in named]
            fresh = [p for p in found if _unwritten(p[1])]
            for k, _, _ in found:
                del self._pending[k]
            _track_pending(self)
            self._stale.update(k for k, v, _ in found if not _unwritten(v))
            check_compatible(fresh, self._pending_path)
            assign_all(fresh)

    def __repr__(self):
        return f"<tracefn.train.Checkpoint {sorted(self._roots())}>"


def _record_latest(path: str) -> None:
    # As TensorFlow's Checkpoint.save: the state file names just the latest checkpoint (a
    # CheckpointManager keeps the list of the ones it manages).
    storage.write_state(os.path.dirname(path), path, [path])


# ------------------------------------------------------------------ deferred restoration

# Checkpoints holding values for variables not created yet. Held strongly, as TensorFlow's
# objects hold their deferred restorations: ``Checkpoint(opt=opt).restore(path)`` without
# keeping the Checkpoint still restores the slots ``opt`` creates later.
_PENDING: set = set()
# Variables created while restorations are pending -> a weak reference to their first array.
_CREATED_VALUE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_HOOK_STATE = threading.local()


def _track_pending(ckpt: Checkpoint) -> None:
    if ckpt._pending:
        _PENDING.add(ckpt)
    else:
        _PENDING.discard(ckpt)


def restore_deferred() -> None:
    """Assign the values that restored checkpoints hold for variables created since.

    Objects that create variables after their construction (an optimizer's slots on its first
    ``apply_gradients``, a layer built on its first call) call this once the new variables are
    reachable from their attributes, so the values are in place before the first use."""
    if getattr(_HOOK_STATE, "active", False):
        return  # a restore in progress created a variable: it is walked by that restore
    _HOOK_STATE.active = True
    try:
        for ckpt in list(_PENDING):
            ckpt._restore_pending()
    finally:
        _HOOK_STATE.active = False


def _on_variable_created(var: Variable) -> None:
    # The new variable is not attached to its owner yet (that happens after the constructor
    # returns), but every variable created before it is: restore those now.
    if _PENDING:
        try:
            _CREATED_VALUE[var] = weakref.ref(var._value)
        except (AttributeError, TypeError):  # no eager array (a graph variable): unrecorded
            pass
        restore_deferred()


CREATION_HOOKS.append(_on_variable_created)


# ------------------------------------------------------------------------- load status


class CheckpointLoadStatus:
    """The result of ``Checkpoint.restore``: assertions about how the checkpoint matched."""

    def __init__(self, checkpoint: Checkpoint, path: str | None, keys: set[str]):
        self._checkpoint = checkpoint
        self._path = path
        self._keys = keys
        self._restore_id = checkpoint._restores
        self._partial = False

    def _current(self) -> bool:
        return self._restore_id == self._checkpoint._restores

    def _unbound_objects(self) -> list[str]:
        named = self._checkpoint._named()
        return sorted(k for k in named if k not in self._keys and k != "save_counter")

    def _problems(self, consumed: bool) -> list[str]:
        if self._path is None:
            return ["No checkpoint specified (save_path=None); nothing is being restored."]
        ckpt = self._checkpoint
        ckpt._restore_pending()
        out = []
        if self._current() and ckpt._stale:
            out.append(f"Variables created after restoring {self._path} were updated before "
                       f"their saved values could be assigned: {sorted(ckpt._stale)}. "
                       "Call tracefn.checkpoint.restore_deferred() right after creating "
                       "them.")  # fmt: skip
        if consumed and self._current() and ckpt._pending:
            out.append(f"Unresolved objects in checkpoint {self._path}: values for "
                       f"{sorted(ckpt._pending)} were not matched to any variable.")  # fmt: skip
        unbound = self._unbound_objects()
        if unbound:
            out.append("Some Python objects were not bound to checkpointed values, likely due "
                       f"to changes in the Python program: {unbound}")  # fmt: skip
        return out

    def assert_consumed(self) -> CheckpointLoadStatus:
        """Every value in the checkpoint was restored and every tracked variable got one."""
        problems = self._problems(consumed=True)
        if problems:
            raise AssertionError(" ".join(problems))
        return self

    def assert_existing_objects_matched(self) -> CheckpointLoadStatus:
        """Every tracked variable that exists got a value (values for variables not created
        yet may remain)."""
        problems = self._problems(consumed=False)
        if problems:
            raise AssertionError(" ".join(problems))
        return self

    def assert_nontrivial_match(self) -> CheckpointLoadStatus:
        """At least one variable besides ``save_counter`` was restored."""
        named = self._checkpoint._named()
        if not any(k in self._keys for k in named if k != "save_counter"):
            raise AssertionError(f"Nothing except the root object matched a checkpointed "
                                 f"value from {self._path}.")  # fmt: skip
        return self

    def expect_partial(self) -> CheckpointLoadStatus:
        """Mark a partial restore as intended (TF silences its warnings; tracefn has none)."""
        self._partial = True
        return self

    def run_restore_ops(self, session=None) -> None:
        """Values are assigned eagerly by ``restore``; nothing is left to run."""

    def initialize_or_restore(self, session=None) -> None:
        """Values are assigned eagerly by ``restore``; nothing is left to run."""


# ---------------------------------------------------------------------- CheckpointManager


def latest_checkpoint(checkpoint_dir: str, latest_filename: str | None = None) -> str | None:
    """The newest complete checkpoint in ``checkpoint_dir``, or ``None``.

    Waits for this process's asynchronous save in flight, so a path ``save`` just returned is
    found; another process only ever sees complete checkpoints."""
    WRITER.wait()
    return storage.latest_checkpoint(checkpoint_dir)


class CheckpointManager:
    """Numbered checkpoints in one directory, the newest ``max_to_keep`` kept (TF's
    ``tf.train.CheckpointManager``).

    A checkpoint is recorded in the ``checkpoint`` state file only once it is complete, and old
    ones are deleted only after that, so a process killed at any moment leaves
    ``latest_checkpoint`` naming a complete checkpoint."""

    def __init__(self, checkpoint: Checkpoint, directory: str, max_to_keep: int | None,
                 keep_checkpoint_every_n_hours: float | None = None,
                 checkpoint_name: str = "ckpt", step_counter=None,
                 checkpoint_interval: int | None = None, init_fn=None):  # fmt: skip
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError(f"max_to_keep must be positive or None, got {max_to_keep}.")
        if checkpoint_interval is not None and step_counter is None:
            raise ValueError("`step_counter` should be passed if `checkpoint_interval` is set.")
        self._checkpoint = checkpoint
        self._directory = os.path.abspath(os.fspath(directory))
        self._max_to_keep = max_to_keep
        self._keep_hours = keep_checkpoint_every_n_hours
        self._prefix = os.path.join(self._directory, checkpoint_name)
        self._step_counter = step_counter
        self._checkpoint_interval = checkpoint_interval
        self._last_step: int | None = None
        self._init_fn = init_fn
        WRITER.wait()
        os.makedirs(self._directory, exist_ok=True)
        storage.clean_leftovers(self._directory, checkpoint_name)
        latest, all_paths = storage.read_state(self._directory)
        paths = [p for p in all_paths if storage.exists(p)]
        if latest is not None and storage.exists(latest) and latest not in paths:
            paths.append(latest)
        self._checkpoints = paths
        self._last_preserved = time.time()

    @property
    def directory(self) -> str:
        return self._directory

    @property
    def checkpoint(self) -> Checkpoint:
        return self._checkpoint

    @property
    def checkpoints(self) -> list[str]:
        """The managed checkpoints, oldest first."""
        return list(self._checkpoints)

    @property
    def latest_checkpoint(self) -> str | None:
        return self._checkpoints[-1] if self._checkpoints else None

    @property
    def checkpoint_interval(self) -> int | None:
        return self._checkpoint_interval

    def save(self, checkpoint_number=None, check_interval: bool = True,
             options: CheckpointOptions | None = None) -> str | None:  # fmt: skip
        """Save ``<directory>/<checkpoint_name>-<n>``; returns its path, or ``None`` when
        ``checkpoint_interval`` steps have not passed since the last save."""
        _eager_only("save")
        if check_interval and not self._interval_passed():
            return None
        ckpt = self._checkpoint
        ckpt.save_counter.assign_add(1)
        number = int(ckpt.save_counter if checkpoint_number is None else checkpoint_number)
        path = f"{self._prefix}-{number}"
        kept = [p for p in self._checkpoints if p != path] + [path]
        doomed = self._doomed(kept)
        if self._max_to_keep is not None:  # older ones are deleted or, kept per hours, let go
            kept = kept[-self._max_to_keep :]
        directory = self._directory

        def after():  # state file first, deletions after: the state never names a deleted one
            storage.write_state(directory, path, kept)
            for p in doomed:
                storage.remove(p)

        try:
            ckpt._write(path, options, after)
        except BaseException:
            ckpt.save_counter.assign_sub(1)  # a failed save leaves the manager as it was
            raise
        self._checkpoints = kept
        return path

    def _doomed(self, kept: list[str]) -> list[str]:
        if self._max_to_keep is None or len(kept) <= self._max_to_keep:
            return []
        old = kept[: len(kept) - self._max_to_keep]
        if self._keep_hours is None:
            return old
        doomed = []
        for p in old:  # keep one checkpoint per `keep_checkpoint_every_n_hours` forever
            made = os.path.getmtime(p) if os.path.exists(p) else time.time()
            if made - self._last_preserved >= self._keep_hours * 3600:
                self._last_preserved = made
            else:
                doomed.append(p)
        return doomed

    def _interval_passed(self) -> bool:
        if self._checkpoint_interval is None:
            return True
        step = int(self._step_counter)
        if self._last_step is not None and step < self._last_step + self._checkpoint_interval:
            return False
        self._last_step = step
        return True

    def restore_or_initialize(self) -> str | None:
        """Restore the latest checkpoint and return its path, or run ``init_fn`` and return
        ``None`` when there is none."""
        if self.latest_checkpoint is not None:
            self._checkpoint.restore(self.latest_checkpoint)
            return self.latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None
