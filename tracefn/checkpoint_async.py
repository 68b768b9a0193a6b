"""The background checkpoint writer: one save in flight at a time, awaited before the next.

A save blocks the caller only while the variables' arrays are copied to host memory; the files
are written by a background thread. A save still running is awaited by the next save, by every
read of a checkpoint in this process, by ``wait()`` and at interpreter exit (see the end). A failed
background save raises its exception from the next ``wait()``, so no failure goes unnoticed.
"""

from __future__ import annotations

import atexit
import concurrent.futures.thread  # noqa: F401  (registers its exit hook before ours: see end)
import logging
import threading
from collections.abc import Callable

__all__ = ["WRITER", "Writer"]

logger = logging.getLogger("tracefn")


class Writer:
    """Runs checkpoint jobs one at a time on a background thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._what = ""

    def submit(self, job: Callable[[], None], what: str) -> None:
        """Run ``job`` in the background after the previous job has finished."""
        with self._lock:
            self._join()
            self._what = what
            self._thread = threading.Thread(target=self._run, args=(job,),
                                            name="tracefn-checkpoint-writer")  # fmt: skip
            self._thread.start()

    def _run(self, job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as e:  # kept for the next wait(): a failed save must surface
            logger.error("tracefn: asynchronous checkpoint save of %s failed: %r", self._what, e)
            self._error = e

    def wait(self) -> None:
        """Wait for the save in flight; re-raise its exception if it failed."""
        with self._lock:
            self._join()

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    @property
    def busy(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def _at_exit(self) -> None:
        try:
            self.wait()
        except BaseException:  # already logged by _run; exiting anyway
            pass


WRITER = Writer()
# The save in flight must finish while the interpreter is still whole: orbax hands work to
# thread pools that refuse new work once shutdown begins. ``threading._register_atexit`` hooks
# run first in ``threading._shutdown``, before those pools close (last registered, first run),
# unlike ``atexit`` hooks, which run after it.
_register = getattr(threading, "_register_atexit", None)
(_register or atexit.register)(WRITER._at_exit)
