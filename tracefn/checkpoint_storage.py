"""Checkpoint storage: named host arrays written atomically with orbax, read back verified.

A checkpoint is one directory. orbax writes it (tensorstore/OCDBT arrays plus a JSON item) into
a temporary directory and renames it when complete; tracefn gives orbax a *staging* name and
renames the staged directory to its final name itself, so a checkpoint path either does not
exist or holds a complete checkpoint, whatever moment the process is killed at. The JSON item is
tracefn's manifest: for every name the array's shape, dtype and CRC-32, checked on every read,
so a truncated or corrupted file raises ``DataLossError`` naming the variable instead of
restoring wrong values.

The directory's ``checkpoint`` state file (TensorFlow's text format) names the latest checkpoint;
it is replaced atomically and only after the checkpoint it names is complete.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import zlib
from collections.abc import Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from . import errors
from .errors import NotFoundError, OpError

__all__ = ["DataLossError", "write", "read", "read_manifest", "exists", "read_state",
           "write_state", "latest_checkpoint", "remove", "host_copies", "check_storable",
           "replace_dir", "rmtree", "clean_leftovers", "load_orbax"]  # fmt: skip

logger = logging.getLogger("tracefn")

FORMAT = "tracefn-checkpoint"
VERSION = 1
STATE_FILE = "checkpoint"
# Suffixes of directories that are never checkpoints: staged writes and removals in progress,
# and orbax's own temporaries. ``latest_checkpoint`` ignores them; managers delete them.
STAGING = ".tracefn-staging"
DELETING = ".tracefn-deleting"
ORBAX_TMP = ".orbax-checkpoint-tmp"


if hasattr(errors, "DataLossError"):
    DataLossError = errors.DataLossError
else:  # until ``errors`` defines it (requested in the checkpoint report)

    class DataLossError(OpError):
        """A checkpoint file is truncated or corrupted (its CRC-32 does not match what was
        written). Restore an earlier checkpoint; the message names the affected variables."""


# ---------------------------------------------------------------------------- host copies


def host_copies(arrays: Sequence) -> list[np.ndarray]:
    """Private host copies of device arrays: all transfers are started before the first wait.
    The copies are owned by the caller, so later donation of the device buffers is harmless."""
    for a in arrays:
        start = getattr(a, "copy_to_host_async", None)
        if start is not None:
            start()
    return [np.array(a, copy=True) for a in arrays]


def load_orbax():
    """Import orbax (a third of a second, once)."""
    import orbax.checkpoint as ocp

    return ocp


def _crc(a: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(a).reshape(-1).view(np.uint8))


# --------------------------------------------------------------------------------- writing


def write(path: str, arrays: Mapping[str, np.ndarray], meta: dict | None = None) -> None:
    """Write ``arrays`` (name -> host array) as checkpoint ``path``, atomically: ``path``
    appears complete or not at all. An existing ``path`` is replaced."""
    ocp = load_orbax()
    path = os.path.abspath(path)
    entries, stored = _manifest_entries(arrays)
    manifest = {"format": FORMAT, "version": VERSION, "entries": entries, "meta": meta or {}}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staging = f"{path}{STAGING}-{os.getpid()}"
    rmtree(staging)
    items = {"tracefn": ocp.args.JsonSave(manifest)}
    if stored:  # orbax refuses an empty tree and zero-size arrays: those live in the manifest
        items["arrays"] = ocp.args.StandardSave(stored)
    ocp.Checkpointer(ocp.CompositeCheckpointHandler()).save(staging, ocp.args.Composite(**items))
    replace_dir(staging, path)


def check_storable(arrays: Mapping[str, np.ndarray]) -> None:
    """Raise ``TypeError`` naming a value no checkpoint can hold (strings, Python objects)."""
    for name, a in arrays.items():
        if np.asarray(a).dtype == object:
            raise TypeError(f"Cannot checkpoint {name!r}: its dtype (object: strings or Python "
                            "objects) has no file format.")  # fmt: skip


def _manifest_entries(arrays: Mapping[str, np.ndarray]) -> tuple[dict, dict]:
    check_storable(arrays)
    entries, stored = {}, {}
    for i, (name, a) in enumerate(arrays.items()):
        a = np.asarray(a)
        key = f"a{i}"
        entries[name] = {"key": key, "shape": list(a.shape), "dtype": a.dtype.name,
                         "crc32": _crc(a)}  # fmt: skip
        if a.size:
            stored[key] = a
    return entries, stored


def replace_dir(staging: str, path: str) -> None:
    """Rename the complete ``staging`` directory to ``path``. An old ``path`` is first renamed
    away (a directory cannot be renamed onto a non-empty one), then deleted."""
    old = None
    if os.path.lexists(path):
        old = f"{path}{DELETING}-{os.getpid()}"
        rmtree(old)
        os.rename(path, old)
    os.rename(staging, path)
    _fsync_dir(os.path.dirname(path))
    if old is not None:
        rmtree(old)


def remove(path: str) -> None:
    """Delete checkpoint ``path``: renamed first, so a half-deleted directory never looks like
    a checkpoint."""
    if not os.path.lexists(path):
        return
    doomed = f"{os.path.abspath(path)}{DELETING}-{os.getpid()}"
    rmtree(doomed)
    os.rename(path, doomed)
    rmtree(doomed)


def rmtree(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------- reading


def exists(path: str) -> bool:
    """Whether ``path`` is a complete tracefn checkpoint."""
    return os.path.isfile(os.path.join(path, "tracefn", "metadata")) and not _is_temporary(path)


def _is_temporary(path: str) -> bool:
    base = os.path.basename(os.path.normpath(path))
    return any(s in base for s in (STAGING, DELETING, ORBAX_TMP))


def read_manifest(path: str) -> dict:
    """The manifest of checkpoint ``path``; raises ``NotFoundError`` or ``DataLossError``."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise NotFoundError(f"Failed to find any matching files for {path}: no checkpoint there.")
    file = os.path.join(path, "tracefn", "metadata")
    try:
        with open(file) as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise DataLossError(
            f"{path} is not a complete tracefn checkpoint: {file} is missing."
        ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise DataLossError(f"Checkpoint {path} is corrupted: its manifest {file} is not "
                            f"valid JSON ({e}).") from None  # fmt: skip
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataLossError(f"Checkpoint {path} is corrupted: {file} is not a tracefn manifest.")
    if manifest.get("version", 0) > VERSION:
        raise DataLossError(f"Checkpoint {path} was written by a newer tracefn (format "
                            f"version {manifest['version']} > {VERSION}).")  # fmt: skip
    return manifest


def read(path: str, names: Sequence[str] | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Read checkpoint ``path``: ``({name: array}, meta)``, every array checked against the
    manifest's shape, dtype and CRC-32. Reads all names, or only ``names`` that it holds."""
    ocp = load_orbax()
    path = os.path.abspath(path)
    manifest = read_manifest(path)
    entries = manifest["entries"]
    wanted = list(entries) if names is None else [n for n in names if n in entries]
    raw: dict = {}
    if any(np.prod(entries[n]["shape"], dtype=np.int64) for n in wanted):
        try:
            restored = ocp.Checkpointer(ocp.CompositeCheckpointHandler()).restore(
                path, ocp.args.Composite(arrays=ocp.args.StandardRestore())
            )
            raw = dict(restored["arrays"])
        except Exception as e:  # orbax/tensorstore report damage in many exception types
            raise _read_failure(path, entries, e) from None
    out = {n: _checked(path, n, entries[n], raw) for n in wanted}
    return out, manifest.get("meta", {})


def _read_failure(path: str, entries: dict, e: Exception) -> Exception:
    keys = set(re.findall(r"\b(a\d+)/", str(e)))
    names = [n for n, ent in entries.items() if ent["key"] in keys]
    which = (f"cannot read the value of {', '.join(map(repr, names))}" if names
             else "cannot read its arrays")  # fmt: skip
    first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
    return DataLossError(f"Checkpoint {path} is truncated or corrupted: {which} ({first}).")


def _checked(path: str, name: str, entry: dict, raw: dict) -> np.ndarray:
    shape, dtype = tuple(entry["shape"]), jnp.dtype(entry["dtype"])
    if not np.prod(shape, dtype=np.int64):
        a = np.zeros(shape, dtype)
    elif entry["key"] not in raw:
        raise DataLossError(f"Checkpoint {path} is corrupted: the value of {name!r} is missing.")
    else:
        a = np.asarray(raw[entry["key"]])
    if a.shape != shape or a.dtype != dtype:
        raise DataLossError(f"Checkpoint {path} is corrupted: the value of {name!r} reads as "
                            f"{a.dtype.name}{list(a.shape)}, the manifest says "
                            f"{dtype.name}{list(shape)}.")  # fmt: skip
    crc = _crc(a)
    if crc != entry["crc32"]:
        raise DataLossError(f"Checkpoint {path} is corrupted: the value of {name!r} fails "
                            f"its checksum (CRC-32 {crc:#010x}, written "
                            f"{entry['crc32']:#010x}).")  # fmt: skip
    return a


# ------------------------------------------------------------------------------ state file


def _quote(s: str) -> str:
    return json.dumps(s)


def write_state(directory: str, latest: str, all_paths: Sequence[str]) -> None:
    """Atomically replace ``directory/checkpoint`` (TensorFlow's CheckpointState text)."""
    directory = os.path.abspath(directory)
    lines = [f"model_checkpoint_path: {_quote(_relative(directory, latest))}"]
    lines += [f"all_model_checkpoint_paths: {_quote(_relative(directory, p))}" for p in all_paths]
    file = os.path.join(directory, STATE_FILE)
    tmp = f"{file}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, file)
    _fsync_dir(directory)


def _relative(directory: str, path: str) -> str:
    path = os.path.abspath(path)
    return os.path.basename(path) if os.path.dirname(path) == directory else path


def read_state(directory: str) -> tuple[str | None, list[str]]:
    """``(latest, all)`` absolute paths from ``directory/checkpoint``; ``(None, [])`` when the
    file is missing or unreadable."""
    directory = os.path.abspath(directory)
    try:
        with open(os.path.join(directory, STATE_FILE)) as f:
            text = f.read()
    except OSError:
        return None, []
    latest, all_paths = None, []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        try:
            value = json.loads(value.strip())
        except ValueError:
            continue
        if not isinstance(value, str):
            continue
        value = os.path.join(directory, value)
        if key.strip() == "model_checkpoint_path":
            latest = value
        elif key.strip() == "all_model_checkpoint_paths":
            all_paths.append(value)
    return latest, all_paths


_NUMBERED = re.compile(r"^(.*)-(\d+)$")


def latest_checkpoint(directory: str) -> str | None:
    """The newest complete checkpoint in ``directory``: the state file's, when it names a
    complete one, else the complete ``<prefix>-<n>`` with the highest ``n``."""
    latest, _ = read_state(directory)
    if latest is not None and exists(latest):
        return latest
    return _scan_latest(directory)


def _scan_latest(directory: str) -> str | None:
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    found = []
    for name in names:
        m = _NUMBERED.match(name)
        path = os.path.join(os.path.abspath(directory), name)
        if m and exists(path):
            found.append((int(m.group(2)), os.path.getmtime(path), path))
    return max(found)[2] if found else None


def leftovers(directory: str, prefix: str) -> list[str]:
    """Temporary directories of interrupted writes and removals of ``prefix-<n>``."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [os.path.join(directory, n) for n in names
            if n.startswith(prefix + "-") and _is_temporary(n)]  # fmt: skip


def clean_leftovers(directory: str, prefix: str) -> None:
    for path in leftovers(directory, prefix):
        logger.info("tracefn: removing %s, left by an interrupted checkpoint write", path)
        rmtree(path)
