"""``tracefn.TensorArray``: a list of tensors that traced loops can carry (spec A13).

XLA loops carry values of fixed shape, so a TensorArray written inside a traced loop is one
buffer of shape ``[size, *element_shape]``, updated in place by ``write`` and carried like any
loop variable (it is a jax pytree whose only child is the buffer). Outside traced loops it may
also grow like a Python list (``dynamic_size=True``, or no ``element_shape`` yet).
"""

from __future__ import annotations

import jax

from . import array_ops, dtypes
from .dtypes import as_dtype
from .primitives import P
from .tensor import SymbolicTensor, Tensor, TensorShape
from .tracing import bind, convert_to_tensor

__all__ = ["TensorArray"]


class TensorArray:
    """TF's ``tf.TensorArray``: ``ta = ta.write(i, x)``; ``ta.read(i)``; ``ta.stack()``.

    >>> import tracefn as tf
    >>> ta = tf.TensorArray(tf.int32, size=3, element_shape=[])
    >>> for i in range(3):
    ...     ta = ta.write(i, i * i)
    >>> ta.stack().numpy().tolist()
    [0, 1, 4]
    """

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None,
                 tensor_array_name=None, handle=None, flow=None, infer_shape=True,
                 element_shape=None, colocate_with_first_write_call=True, name=None):  # fmt: skip
        self.dtype = as_dtype(dtype)
        self._size = None if size is None else int(size)
        self._dynamic = bool(dynamic_size)
        shape = None if element_shape is None else TensorShape(element_shape)
        self._element_shape = shape if shape is not None and shape.is_fully_defined() else None
        self._buffer = None
        self._items: list = []
        if self._size and self._element_shape is not None:
            dims = [self._size, *self._element_shape.as_list()]
            self._buffer = array_ops.zeros(dims, self.dtype)

    # ---------------------------------------------------------------------- functional API
    def write(self, index, value, name=None) -> TensorArray:
        """A TensorArray with element ``index`` set to ``value``."""
        value = convert_to_tensor(value, dtype=self.dtype)
        traced = isinstance(index, SymbolicTensor) or isinstance(value, SymbolicTensor)
        out = self._copy()
        if self._buffer is None and traced and self._size:
            out._allocate(value)
        if out._buffer is not None:
            idx = bind(P.reshape, convert_to_tensor(index, dtype=dtypes.int32), shape=(1, 1))
            upd = bind(P.expand_dims, value, axis=0)
            out._buffer = bind(P.scatter_nd_update, out._buffer, idx, upd, mode="update")
            return out
        if isinstance(index, SymbolicTensor):
            raise ValueError(
                "A TensorArray written at a traced index needs a fixed size and element shape "
                "so that the loop can carry it as one buffer: use "
                "tf.TensorArray(dtype, size=n, element_shape=[...]) (XLA loops cannot grow a "
                "value; dynamic_size=True works only outside traced loops)."
            )
        i = int(index)
        if self._size is not None and not self._dynamic and i >= self._size:
            raise IndexError(f"TensorArray write index {i} is out of range for size {self._size}")
        out._items = out._items + [None] * (i + 1 - len(out._items))
        out._items[i] = value
        return out

    def read(self, index, name=None) -> Tensor:
        if self._buffer is not None:
            return array_ops.getitem(self._buffer, index)
        return self._items[int(index)]

    def stack(self, name=None) -> Tensor:
        """All elements, stacked along a new first axis."""
        if self._buffer is not None:
            return self._buffer
        if not self._items:
            shape = [0, *(self._element_shape.as_list() if self._element_shape else [])]
            return array_ops.zeros(shape, self.dtype)
        if any(x is None for x in self._items):
            raise ValueError("TensorArray.stack: some elements were never written")
        return array_ops.stack(self._items)

    def unstack(self, value, name=None) -> TensorArray:
        value = convert_to_tensor(value, dtype=self.dtype)
        out = self._copy()
        out._buffer, out._size = value, value.shape[0]
        out._element_shape = TensorShape(value.shape[1:])
        return out

    def gather(self, indices, name=None) -> Tensor:
        return array_ops.gather(self.stack(), indices)

    def concat(self, name=None) -> Tensor:
        return array_ops.concat(array_ops.unstack(self.stack()), axis=0)

    def size(self, name=None) -> Tensor:
        n = self._size if self._buffer is not None else len(self._items)
        return array_ops.constant(n, dtypes.int32)

    @property
    def element_shape(self) -> TensorShape:
        return self._element_shape or TensorShape(None)

    # ---------------------------------------------------------------------------- helpers
    def _copy(self) -> TensorArray:
        out = object.__new__(TensorArray)
        out.__dict__.update(self.__dict__)
        return out

    def _allocate(self, value: Tensor) -> None:
        self._element_shape = TensorShape(value.shape)
        self._buffer = array_ops.zeros([self._size, *value.shape.as_list()], self.dtype)


def _flatten(ta: TensorArray):
    meta = (ta.dtype, ta._size, ta._dynamic, ta._element_shape, ta._buffer is None)
    return ((ta._buffer,) if ta._buffer is not None else tuple(ta._items)), meta


def _unflatten(meta, children) -> TensorArray:
    ta = object.__new__(TensorArray)
    ta.dtype, ta._size, ta._dynamic, ta._element_shape, listed = meta
    ta._buffer = None if listed else children[0]
    ta._items = list(children) if listed else []
    return ta


# A pytree: cond and loops carry its buffer like any other value.
jax.tree_util.register_pytree_node(TensorArray, _flatten, _unflatten)
