"""Seed 002, "Why does repeatedly initializing TensorFlow global variables yield the same
results?": its three examples on tracefn.

The article's claim is FALSE (spec section 0, claim (a)): running the initializer again in the
same session DOES reset a variable to its initial value, and random initial values are drawn
anew. tracefn does what TensorFlow does; the comments mark where the output differs from the
article's claim. Changed: the import (these are TF1 programs: ``import tensorflow as tf`` ->
``import tracefn.compat.v1 as tf``) and graph mode switched on, as TF1 code needs in TF2.
"""

# fmt: off  (the seed's code stays as its article wrote it)

import tracefn.compat.v1 as tf

tf.disable_eager_execution()

# Example 1: Basic Variable Initialization

# Create a variable with initial value 1.0
var = tf.Variable(1.0, name="my_variable")

# Create the initialization operation
init_op = tf.global_variables_initializer()

# Start a session
with tf.Session() as sess:
    # Initialize the variable
    sess.run(init_op)
    print("Value after first init:", sess.run(var))

    # Initialize the variable again
    sess.run(init_op)
    print("Value after second init:", sess.run(var))

    # Explicitly assign a new value
    assign_op = var.assign(2.0)
    sess.run(assign_op)
    print("Value after explicit assignment:", sess.run(var))

    # Initialize again
    sess.run(init_op)
    # The article claims 2.0 here; TensorFlow (and tracefn) print 1.0: the initializer resets.
    print("Value after init, following assignment:", sess.run(var))

tf.reset_default_graph()

# Example 2: Counter Example with Increment

# Create a variable starting at 0.
counter = tf.Variable(0, name="counter")

# Define an increment operation
increment_op = counter.assign_add(1)

init_op = tf.global_variables_initializer()

with tf.Session() as sess:
    sess.run(init_op)  # Initialize
    print("Initial Counter:", sess.run(counter))

    # Execute increment and print
    for _ in range(3):
        sess.run(increment_op)
        print("Counter:", sess.run(counter))

    sess.run(init_op)
    # The article claims 3 here; TensorFlow (and tracefn) print 0: the initializer resets.
    print("Counter after second init:", sess.run(counter))

tf.reset_default_graph()

# Example 3: Initialization with Random Values
import numpy as np  # noqa: E402,F401  (imported by the article's example)

# Define a variable using random normal initialization
rand_var = tf.Variable(tf.random_normal([5]), name="rand_var")

init_op = tf.global_variables_initializer()

with tf.Session() as sess:
    sess.run(init_op)
    print("Random variable first init:", sess.run(rand_var))
    sess.run(init_op)
    # The article claims the same numbers as the first init; TensorFlow (and tracefn) draw new
    # ones: re-running the initializer re-samples the random initial value.
    print("Random variable second init:", sess.run(rand_var))

    rand_assign = rand_var.assign(tf.random_normal([5]))
    sess.run(rand_assign)

    print("Random variable after assigning new random:", sess.run(rand_var))

    sess.run(init_op)
    # Again a fresh draw of the initial value, not the assigned numbers.
    print("Random variable init after assigning random:", sess.run(rand_var))
