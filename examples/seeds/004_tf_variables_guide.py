"""Seed 004, the TensorFlow 1 "Variables" guide: each of its snippets on tracefn.

Changed: the import (a TF1 program: ``import tensorflow as tf`` -> ``import tracefn.compat.v1 as
tf``), graph mode switched on, and ``print`` calls added so the snippets show what they do.
The guide's sections are separate snippets (several create a variable named ``v``), so the
default graph is reset between them. The guide leaves out the body of ``conv_relu``; it is the
one from the original guide. Device placement: a machine without a second GPU has no
``/device:GPU:1``; TensorFlow then refuses to place the variable unless soft placement is on,
and so does tracefn (the snippet shows the error, then turns soft placement on).
"""

# fmt: off  (the seed's code stays as its article wrote it)

import tracefn.compat.v1 as tf

tf.disable_eager_execution()

# --- Creating a Variable
my_variable = tf.get_variable("my_variable", [1, 2, 3])

my_int_variable = tf.get_variable(
    "my_int_variable", [1, 2, 3], dtype=tf.int32, initializer=tf.zeros_initializer
)

other_variable = tf.get_variable(
    "other_variable", dtype=tf.int32, initializer=tf.constant([23, 42])
)

for var in (my_variable, my_int_variable, other_variable):
    print(var.name, var.dtype.name, var.shape)

# --- Variable collections
my_local = tf.get_variable("my_local", shape=(), collections=[tf.GraphKeys.LOCAL_VARIABLES])

tf.add_to_collection("my_collection_name", my_local)

print("my_collection_name:", [v.name for v in tf.get_collection("my_collection_name")])
print("global:", [v.name for v in tf.global_variables()])
print("trainable:", [v.name for v in tf.trainable_variables()])
print("local:", [v.name for v in tf.local_variables()])

# --- Initializing variables
session = tf.Session()
print(session.run(tf.report_uninitialized_variables()))
session.run(my_variable.initializer)
print(session.run(tf.report_uninitialized_variables()))
session.run(tf.global_variables_initializer())
# Now all variables are initialized (the global ones: my_local is a local variable).
print(session.run(tf.report_uninitialized_variables()))
print(
    "my_variable:", session.run(my_variable).shape, "other_variable:", session.run(other_variable)
)
session.close()

# --- Device placement
tf.reset_default_graph()
try:
    with tf.device("/device:GPU:1"):
        v = tf.get_variable("v", [1])
except tf.errors.InvalidArgumentError as e:
    print("InvalidArgumentError:", str(e).split(". Make sure")[0])
    tf.config.set_soft_device_placement(True)
    with tf.device("/device:GPU:1"):
        v = tf.get_variable("v", [1])
print("v is on", v.device)

# --- Initializing a variable from another one: initialized_value()
tf.reset_default_graph()
v = tf.get_variable("v", shape=(), initializer=tf.zeros_initializer())
w = tf.get_variable("w", initializer=v.initialized_value() + 1)
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    print("v:", sess.run(v), "w:", sess.run(w))

# --- Using variables
tf.reset_default_graph()
v = tf.get_variable("v", shape=(), initializer=tf.zeros_initializer())
assignment = v.assign_add(1)
with tf.Session() as sess:
    tf.global_variables_initializer().run()
    print(sess.run(assignment))  # or assignment.op.run(), or assignment.eval()
    assignment.op.run()
    print(assignment.eval())

# --- Sharing variables
tf.reset_default_graph()


def conv_relu(input, kernel_shape, bias_shape):
    # Create variable named "weights".
    weights = tf.get_variable("weights", kernel_shape, initializer=tf.random_normal_initializer())
    # Create variable named "biases".
    biases = tf.get_variable("biases", bias_shape, initializer=tf.constant_initializer(0.0))
    conv = tf.nn.conv2d(input, weights, strides=[1, 1, 1, 1], padding="SAME")
    return tf.nn.relu(conv + biases)


input1 = tf.random_normal([1, 10, 10, 32])
input2 = tf.random_normal([1, 20, 20, 32])
x = conv_relu(input1, kernel_shape=[5, 5, 32, 32], bias_shape=[32])
try:
    x = conv_relu(x, kernel_shape=[5, 5, 32, 32], bias_shape=[32])  # This fails.
except ValueError as e:
    print("ValueError:", e)


def my_image_filter(input_images):
    with tf.variable_scope("conv1"):
        # Variables created here will be named "conv1/weights", "conv1/biases".
        relu1 = conv_relu(input_images, [5, 5, 32, 32], [32])
    with tf.variable_scope("conv2"):
        # Variables created here will be named "conv2/weights", "conv2/biases".
        return conv_relu(relu1, [5, 5, 32, 32], [32])


tf.reset_default_graph()
input1 = tf.random_normal([1, 10, 10, 32])
input2 = tf.random_normal([1, 20, 20, 32])
with tf.variable_scope("model"):
    output1 = my_image_filter(input1)
with tf.variable_scope("model", reuse=True):
    output2 = my_image_filter(input2)
print("reuse=True:", [v.name for v in tf.global_variables()])

tf.reset_default_graph()
input1 = tf.random_normal([1, 10, 10, 32])
input2 = tf.random_normal([1, 20, 20, 32])
with tf.variable_scope("model") as scope:
    output1 = my_image_filter(input1)
    scope.reuse_variables()
    output2 = my_image_filter(input2)
print("reuse_variables():", [v.name for v in tf.global_variables()])

tf.reset_default_graph()
input1 = tf.random_normal([1, 10, 10, 32])
input2 = tf.random_normal([1, 20, 20, 32])
with tf.variable_scope("model") as scope:
    output1 = my_image_filter(input1)
with tf.variable_scope(scope, reuse=True):
    output2 = my_image_filter(input2)
print("scope object:", [v.name for v in tf.global_variables()])

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    out1, out2 = sess.run([output1, output2])
    print("output shapes:", out1.shape, out2.shape)
