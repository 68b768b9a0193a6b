"""Tensors, shapes and specs.

A ``Tensor`` is either an ``EagerTensor`` (holds a jax array) or a ``SymbolicTensor`` (an SSA
value of a graph being traced). Both share TensorFlow's API; the arithmetic operators are
attached by ``math_ops`` (the op layer sits above this one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from .dtypes import DType, as_dtype
from .errors import OperatorNotAllowedInGraphError

__all__ = ["TensorShape", "TensorSpec", "Tensor", "EagerTensor", "SymbolicTensor"]


class TensorShape:
    """A possibly partially known shape: ``TensorShape([None, 3])``; ``TensorShape(None)`` has
    unknown rank. Compares equal to tuples and lists of the same dims."""

    __slots__ = ("_dims",)

    def __init__(self, dims):
        if isinstance(dims, TensorShape):
            dims = dims._dims
        if dims is None:
            self._dims = None
        elif isinstance(dims, (int, np.integer)):
            self._dims = (int(dims),)
        else:
            self._dims = tuple(None if d is None else int(d) for d in dims)

    @property
    def rank(self):
        return None if self._dims is None else len(self._dims)

    ndims = rank

    @property
    def dims(self):
        return None if self._dims is None else list(self._dims)

    def as_list(self) -> list:
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self._dims)

    def is_fully_defined(self) -> bool:
        return self._dims is not None and None not in self._dims

    def num_elements(self):
        return int(np.prod(self._dims)) if self.is_fully_defined() else None

    def is_compatible_with(self, other) -> bool:
        other = TensorShape(other)
        if self._dims is None or other._dims is None:
            return True
        if len(self._dims) != len(other._dims):
            return False
        return all(a is None or b is None or a == b for a, b in zip(self._dims, other._dims))

    def most_specific_compatible_shape(self, other) -> TensorShape:
        other = TensorShape(other)
        if self._dims is None or other._dims is None or len(self._dims) != len(other._dims):
            return TensorShape(None)
        return TensorShape([a if a == b else None for a, b in zip(self._dims, other._dims)])

    def __iter__(self):
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(self._dims)

    def __len__(self):
        if self._dims is None:
            raise ValueError("Cannot take the length of shape with unknown rank.")
        return len(self._dims)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return TensorShape(self._dims[key])
        return self._dims[key]

    def __eq__(self, other):
        try:
            other = TensorShape(other)
        except TypeError:
            return NotImplemented
        return self._dims == other._dims

    def __hash__(self):
        return hash(self._dims)

    def __bool__(self):
        return self._dims is not None

    def __repr__(self):
        return "TensorShape(None)" if self._dims is None else f"TensorShape({list(self._dims)})"

    def __str__(self):
        if self._dims is None:
            return "<unknown>"
        if len(self._dims) == 1:
            return f"({self._dims[0]},)"
        return "(" + ", ".join(str(d) for d in self._dims) + ")"


class TensorSpec:
    """Describes a tensor argument: ``TensorSpec(shape, dtype=float32, name=None)``.

    ``None`` dims accept any size; ``shape=None`` accepts any rank."""

    __slots__ = ("shape", "dtype", "name")

    def __init__(self, shape=None, dtype=dtypes.float32, name: str | None = None):
        self.shape = TensorShape(shape)
        self.dtype = as_dtype(dtype)
        self.name = name

    @classmethod
    def from_tensor(cls, t, name=None) -> TensorSpec:
        return cls(t.shape, t.dtype, name)

    def is_compatible_with(self, other) -> bool:
        return self.dtype == other.dtype and self.shape.is_compatible_with(other.shape)

    def __eq__(self, other):
        return (
            isinstance(other, TensorSpec)
            and self.shape == other.shape
            and self.dtype == other.dtype
            and self.name == other.name
        )

    def __hash__(self):
        return hash((self.shape, self.dtype, self.name))

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r})"


_BOOL_MESSAGE = (
    "Using a symbolic `tf.Tensor` as a Python `bool` is not allowed. You can attempt the "
    "following resolutions to the problem: If you are running in Graph mode, use Eager "
    "execution mode or decorate this function with @tf.function. If you are using AutoGraph, "
    "you can try decorating this function with @tf.function. If that does not work, then you "
    "may be using an unsupported feature or your source code may not be visible to AutoGraph."
)


class Tensor:
    """A multi-dimensional array of one dtype. See ``EagerTensor`` and ``SymbolicTensor``."""

    __slots__ = ()
    __array_priority__ = 100  # numpy defers to our operators: np_array + tensor -> Tensor

    # TF2 tensors compare elementwise, so they cannot be hashed; use ``ref()`` as a dict key.
    def __hash__(self):
        raise TypeError("Tensor is unhashable. Instead, use tensor.ref() as the input.")

    def ref(self):
        return Ref(self)

    @property
    def ndim(self) -> int:
        return self.shape.rank

    def get_shape(self) -> TensorShape:
        return self.shape

    def __len__(self):
        if self.shape.rank is None or self.shape.rank == 0 or self.shape[0] is None:
            raise TypeError(f"len is not well defined for a tensor of shape {self.shape}.")
        return self.shape[0]


class Ref:
    """A hashable reference to a tensor or variable (``x.ref()``), compared by identity."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def deref(self):
        return self.obj

    def __hash__(self):
        return id(self.obj)

    def __eq__(self, other):
        return isinstance(other, Ref) and other.obj is self.obj


class EagerTensor(Tensor):
    """A tensor with a value: wraps a jax array."""

    __slots__ = ("_array", "__weakref__")

    def __init__(self, array):
        self._array = array

    @property
    def dtype(self) -> DType:
        return as_dtype(self._array.dtype)

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._array.shape)

    def numpy(self) -> np.ndarray:
        """A numpy copy of the value (a copy: it stays valid whatever happens to the tensor);
        a numpy scalar for a 0-d tensor, as in TF."""
        a = np.array(self._array)
        return a[()] if a.ndim == 0 else a

    def __array__(self, dtype=None, copy=None):
        out = np.asarray(self._array)
        return out.astype(dtype) if dtype is not None else out

    def __bool__(self):
        return bool(self._array)

    def __float__(self):
        return float(self._array)

    def __int__(self):
        return int(self._array)

    def __index__(self):
        return int(self._array)

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        return (EagerTensor(a) for a in self._array)

    def __repr__(self):
        return (
            f"<tf.Tensor: shape={self.shape}, dtype={self.dtype.name}, "
            f"numpy={_multiline(_np_repr(np.asarray(self._array)))}>"
        )

    def __str__(self):
        text = _multiline(str(np.asarray(self._array)))
        return f"tf.Tensor({text}, shape={self.shape}, dtype={self.dtype.name})"

    def __format__(self, spec):
        return format(self.numpy(), spec) if spec else str(self)

    def __reduce__(self):
        return (_rebuild_eager, (np.array(self._array),))


def _rebuild_eager(value):
    import jax.numpy as jnp

    return EagerTensor(jnp.asarray(value))


def _multiline(text: str) -> str:
    # As TF prints it: a value of several lines starts on a line of its own, so the rows align.
    return "\n" + text if "\n" in text else text


def _np_repr(a: np.ndarray) -> str:
    if a.ndim == 0:
        return repr(a.item()) if a.dtype.kind != "b" else repr(bool(a))
    return repr(a)


class SymbolicTensor(Tensor):
    """A value inside a graph being traced. It has a type but no value; Python code that needs a
    concrete value (``bool``, ``.numpy()``) raises an error explaining why."""

    __slots__ = ("value", "trace", "region", "name")

    def __init__(self, value, trace, region, name: str):
        self.value = value
        self.trace = trace
        self.region = region
        self.name = name

    @property
    def dtype(self) -> DType:
        return self.value.type.dtype

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self.value.type.shape)

    @property
    def op(self):
        return self.value.producer

    @property
    def graph(self):
        return self.trace.graph

    def numpy(self):
        raise AttributeError(
            f"'SymbolicTensor' object {self.name!r} has no attribute 'numpy': it is a value "
            "inside a traced function, which has no value until the compiled function runs. "
            "Return it from the function to get its value."
        )

    def __bool__(self):
        raise OperatorNotAllowedInGraphError(_BOOL_MESSAGE)

    def __iter__(self):
        if self.shape.rank is None or self.shape.rank == 0 or self.shape[0] is None:
            raise OperatorNotAllowedInGraphError(
                "Iterating over a symbolic `tf.Tensor` of unknown length is not allowed. "
                "Use tracefn.range or a for loop converted by autograph."
            )
        from . import array_ops

        return iter(array_ops.unstack(self))

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"Cannot convert the symbolic tensor {self.name!r} to a numpy array: it has no value "
            "while the function is being traced. Use tracefn ops (not numpy) on it."
        )

    def __index__(self):
        raise TypeError(f"A symbolic tensor ({self.name!r}) cannot be used as a Python index.")

    def __repr__(self):
        return f"<tf.Tensor '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    def __str__(self):
        return f'Tensor("{self.name}", shape={self.shape}, dtype={self.dtype.name})'


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)
