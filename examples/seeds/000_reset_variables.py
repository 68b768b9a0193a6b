"""Seed 000, "How can TensorFlow variables be reset?": its three examples on tracefn.

Changed from the article: the import (``import tensorflow as tf`` -> ``import tracefn as tf``)
and graph mode switched on, because the examples run TF1 sessions, which TensorFlow 2 (like
tracefn) runs only in graph mode. Each example is a separate program, so the default graph is
reset between them.
"""

# fmt: off  (the seed's code stays as its article wrote it)

import tracefn as tf
import tracefn.compat.v1  # noqa: F401  (provides tf.compat.v1)

tf.compat.v1.disable_eager_execution()

# Example 1: Re-initialization using `tf.compat.v1.assign`

# Define a variable
my_var = tf.compat.v1.Variable(tf.random.normal([2, 2]), name="my_variable")

# Initialize the variable (necessary for first run)
init_op = tf.compat.v1.global_variables_initializer()

with tf.compat.v1.Session() as sess:
    sess.run(init_op)
    print("Initial value:\n", sess.run(my_var))

    # Reset the variable to a constant value
    reset_op = tf.compat.v1.assign(my_var, tf.constant([[1.0, 2.0], [3.0, 4.0]]))
    sess.run(reset_op)
    print("Value after reset:\n", sess.run(my_var))

    # Resetting to a new random value
    reset_op = tf.compat.v1.assign(my_var, tf.random.normal([2, 2]))
    sess.run(reset_op)
    print("Value after another reset:\n", sess.run(my_var))

tf.compat.v1.reset_default_graph()

# Example 2: Re-initialization via `tf.compat.v1.variables_initializer`

# Define multiple variables
var1 = tf.compat.v1.Variable(tf.random.normal([1]), name="var1")
var2 = tf.compat.v1.Variable(tf.zeros([2, 2]), name="var2")

# Initialize all variables
init_op = tf.compat.v1.global_variables_initializer()

with tf.compat.v1.Session() as sess:
    sess.run(init_op)
    print("Initial values:\n var1:", sess.run(var1), "\n var2:\n", sess.run(var2))

    # Reset all variables to their initial values
    # (var1's initial value is random: the initializer draws a new value, as in TensorFlow.)
    sess.run(init_op)
    print("Values after reset:\n var1:", sess.run(var1), "\n var2:\n", sess.run(var2))

tf.compat.v1.reset_default_graph()

# Example 3: Conditional Resetting using `tf.function`


@tf.function
def conditional_reset(var, condition):
    if condition:
        return tf.compat.v1.assign(var, tf.zeros_like(var))
    else:
        return var


my_var = tf.compat.v1.Variable(tf.random.normal([3]))
init_op = tf.compat.v1.global_variables_initializer()

with tf.compat.v1.Session() as sess:
    sess.run(init_op)
    print("Initial value:", sess.run(my_var))

    # Reset if condition is True; otherwise, keep the value
    # (Called while the graph is being built, the function adds a call of its own graph.)
    reset_result = sess.run(conditional_reset(my_var, True))
    print("Value after conditional reset (True):", reset_result)

    # The variable was reset by the previous run, so it still reads zeros.
    reset_result = sess.run(conditional_reset(my_var, False))
    print("Value after conditional reset (False):", reset_result)
