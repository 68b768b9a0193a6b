"""TensorArray (spec A13): grows in Python loops, carried as one buffer by traced loops."""

import numpy as np
import pytest

import tracefn as tf


def test_A13_tensor_array_in_a_python_loop():
    ta = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
    for i in range(4):
        ta = ta.write(i, i * i)
    assert ta.stack().numpy().tolist() == [0, 1, 4, 9] and int(ta.size()) == 4
    assert int(ta.read(2)) == 4


def test_A13_tensor_array_in_a_traced_loop():
    @tf.function
    def squares(n):
        ta = tf.TensorArray(tf.int32, size=4, element_shape=[])
        for i in tf.range(n):
            ta = ta.write(i, i * i)
        return ta.stack()

    assert squares(tf.constant(4)).numpy().tolist() == [0, 1, 4, 9]
    graph = str(squares.get_concrete_function(tf.constant(4)).graph)
    assert "while" in graph and "scatter_nd_update" in graph


def test_A13_growing_tensor_array_in_a_traced_loop_is_a_clear_error():
    @tf.function
    def grow(n):
        ta = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
        for i in tf.range(n):
            ta = ta.write(i, i * i)
        return ta.stack()

    with pytest.raises(ValueError, match="needs a fixed size and element shape"):
        grow(tf.constant(4))


def test_tensor_array_unstack_gather():
    ta = tf.TensorArray(tf.float32, size=3).unstack(
        tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    )
    np.testing.assert_array_equal(ta.gather([2, 0]).numpy(), [[5.0, 6.0], [1.0, 2.0]])
    np.testing.assert_array_equal(ta.concat().numpy(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
