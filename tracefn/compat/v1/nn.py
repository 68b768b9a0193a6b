"""``tracefn.compat.v1.nn``: ``tracefn.nn`` plus the TF1 ops it lacks (``conv2d``)."""

from __future__ import annotations

from tracefn.nn import *  # noqa: F401,F403

from ...primitives import P
from ...tracing import bind, convert_to_tensor


def conv2d(input, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True,
           data_format="NHWC", dilations=None, name=None, filters=None):  # fmt: skip
    """2-D convolution of an NHWC ``input`` with an HWIO ``filter`` (TF1's ``tf.nn.conv2d``);
    ``strides`` ``[1, sh, sw, 1]``, ``padding`` ``"SAME"`` or ``"VALID"``."""
    if data_format != "NHWC":
        raise NotImplementedError("conv2d: only data_format='NHWC' is supported.")
    x = convert_to_tensor(input)
    w = convert_to_tensor(filter if filter is not None else filters, dtype=x.dtype)
    strides = [1, 1, 1, 1] if strides is None else list(strides)
    strides = strides * 4 if len(strides) == 1 else strides
    spatial = tuple(int(s) for s in (strides[1:3] if len(strides) == 4 else strides))
    return bind(P.conv2d, x, w, strides=spatial, padding=str(padding).upper())
