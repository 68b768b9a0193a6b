"""Seed 003, "Why isn't TensorFlow reusing variables?": its three examples on tracefn.

Changed: the import (``import tensorflow as tf`` -> ``import tracefn as tf``) and graph mode
switched on (the examples run TF1 sessions). Each example is a separate program, so the default
graph is reset between them.

Two of the article's claims are wrong about TensorFlow, and tracefn does what TensorFlow does:
- Example 2 (spec section 0, claim (b)): ``reuse=AUTO_REUSE`` does not make two ``tf.Variable``
  calls share a variable; ``reuse`` governs only ``get_variable``. The two variables are
  ``my_scope/my_var:0`` and ``my_scope_1/my_var:0``, so assigning 5 to ``var2`` leaves ``var1``
  at 0: the output is 0, 0, 0, 5, not 0, 0, 5, 5.
- Example 3: ``get_variable`` with ``reuse=True`` only finds variables that ``get_variable``
  created; a ``tf.Variable`` of that name does not count (spec C2), so TensorFlow raises
  ``ValueError``. The example prints that error, then runs the version that works (``var1`` made
  with ``get_variable``), which gives the output the article expected.
"""

# fmt: off  (the seed's code stays as its article wrote it)

import tracefn as tf
import tracefn.compat.v1  # noqa: F401  (provides tf.compat.v1)

tf.compat.v1.disable_eager_execution()

# Example 1: Unintended Variable Creation


def create_variable():
    with tf.name_scope("my_scope"):
        var = tf.Variable(0, name="my_var", dtype=tf.int32)
        return var


var1 = create_variable()
var2 = create_variable()

with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    print(sess.run(var1))
    print(sess.run(var2))

tf.compat.v1.reset_default_graph()

# Example 2: Reusing Variables with `tf.variable_scope` and `reuse=tf.compat.v1.AUTO_REUSE`


def create_or_reuse_variable():
    with tf.compat.v1.variable_scope("my_scope", reuse=tf.compat.v1.AUTO_REUSE):
        var = tf.Variable(0, name="my_var", dtype=tf.int32)
        return var


var1 = create_or_reuse_variable()
var2 = create_or_reuse_variable()
# added: two distinct variables, my_scope/my_var:0 and my_scope_1/my_var:0
print(var1.name, var2.name)

with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    print(sess.run(var1))
    print(sess.run(var2))
    var2_assigned = tf.compat.v1.assign(var2, 5)
    sess.run(var2_assigned)
    print(sess.run(var1))  # 0, not 5 as the article claims: var1 is another variable
    print(sess.run(var2))

tf.compat.v1.reset_default_graph()

# Example 3: Explicitly Retrieving Existing Variables

with tf.compat.v1.variable_scope("my_scope"):
    var1 = tf.Variable(0, name="my_var", dtype=tf.int32)

try:
    with tf.compat.v1.variable_scope("my_scope", reuse=True):
        var2 = tf.compat.v1.get_variable("my_var", dtype=tf.int32)
except ValueError as e:  # what TensorFlow raises: var1 was not created by get_variable
    print("ValueError:", e)

# The version that works: create var1 with get_variable, then retrieve it with reuse=True.
tf.compat.v1.reset_default_graph()

with tf.compat.v1.variable_scope("my_scope"):
    var1 = tf.compat.v1.get_variable("my_var", dtype=tf.int32, initializer=tf.constant(0))

with tf.compat.v1.variable_scope("my_scope", reuse=True):
    var2 = tf.compat.v1.get_variable("my_var", dtype=tf.int32)


with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    print(sess.run(var1))
    print(sess.run(var2))
    var2_assigned = tf.compat.v1.assign(var2, 5)
    sess.run(var2_assigned)
    print(sess.run(var1))
    print(sess.run(var2))
