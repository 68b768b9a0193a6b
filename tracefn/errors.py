"""Every exception tracefn raises, in one place.

The classes mirror TensorFlow's (so ``except tf.errors.InvalidArgumentError`` code keeps working)
and subclass the Python built-in TF's own classes derive from, so ``except ValueError`` works too.
Each docstring says what causes the error and how to fix it.
"""

from __future__ import annotations


class OpError(Exception):
    """Base of the errors raised while running a computation (TF's ``tf.errors.OpError``)."""

    def __init__(self, message: str, node_def=None, op=None):
        super().__init__(message)
        self.message = message
        self.op = op


class InvalidArgumentError(OpError, ValueError):
    """An op received an argument it cannot use (wrong dtype or shape for a compiled function,
    a failed run-time assertion). Fix the input named in the message."""


class FailedPreconditionError(OpError):
    """The system cannot run the op, e.g. a variable read before it was initialized in a
    Session. Run its initializer: ``sess.run(tf.compat.v1.global_variables_initializer())``."""


class NotFoundError(OpError):
    """A file, checkpoint or name does not exist."""


class DataLossError(OpError):
    """Stored data is damaged (a truncated or corrupted checkpoint file). Restore from another
    checkpoint; nothing was changed."""


class UnimplementedError(OpError):
    """The operation is not implemented by tracefn."""


class OperatorNotAllowedInGraphError(TypeError):
    """A traced tensor was used where Python needs a concrete value (``bool(t)``, ``if t`` with
    autograph off, iterating a tensor of unknown length). Use ``tracefn.cond`` / autograph, or
    compute the value outside the traced function."""


class InaccessibleTensorError(ValueError):
    """A tensor created inside a traced region (a loop or branch body) was used outside it, e.g.
    appended to a Python list inside a traced loop. Return it from the region instead."""


class TracingError(RuntimeError):
    """tracefn could not trace the function; the message names the cause and the user's line."""


class VerificationError(Exception):
    """The IR verifier found a malformed graph. This is a bug in tracefn or in a custom op; the
    message names the op and the rule it breaks."""


def filter_traceback(tb):
    """``tb`` without tracefn's own frames, so an error raised while tracing points at the
    user's lines (set ``TRACEFN_FULL_TRACEBACKS=1`` to keep every frame)."""
    import os

    if os.environ.get("TRACEFN_FULL_TRACEBACKS"):
        return tb
    package = os.path.dirname(os.path.abspath(__file__))
    frames = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(package):
            frames.append(tb)
        tb = tb.tb_next
    for a, b in zip(frames, frames[1:]):
        a.tb_next = b
    if frames:
        frames[-1].tb_next = None
        return frames[0]
    return None
