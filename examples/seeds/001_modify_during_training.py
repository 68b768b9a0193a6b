"""Seed 001, "How can TensorFlow variables be modified during training?": its three examples.

These are TensorFlow 2 programs (eager mode, GradientTape, Keras optimizers); only the import
changed. Example 2 does not run in real TensorFlow either: the gradient of ``counter * 2`` with
respect to an int32 variable is ``None`` (spec G14), and ``apply_gradients`` with no gradient at
all raises ``ValueError: No gradients provided for any variable``. The example shows that error
(the only other change) and keeps going with the variable update, as the article intended.
"""

# fmt: off  (the seed's code stays as its article wrote it)

import tracefn as tf

# Example 1: Using `tf.assign_add` within a standard training loop

# Define a variable
my_variable = tf.Variable(0.0)

# Define an optimizer
optimizer = tf.keras.optimizers.Adam(learning_rate=0.1)

# Training loop
for i in range(10):
    with tf.GradientTape() as tape:
        # Some computation involving my_variable
        loss = my_variable**2

    gradients = tape.gradient(loss, [my_variable])
    optimizer.apply_gradients(zip(gradients, [my_variable]))

    # Modify the variable using tf.assign_add within the loop
    my_variable.assign_add(0.5)  # Add 0.5 to the variable after gradient update

    print(f"Iteration {i + 1}: Variable value = {my_variable.numpy()}")

# Example 2: Utilizing `tf.assign` for conditional updates

# Define a variable
counter = tf.Variable(0)

# Training loop with conditional update
for i in range(5):
    with tf.GradientTape() as tape:
        loss = counter * 2  # Simple loss function

    gradients = tape.gradient(loss, [counter])
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
    try:  # real TensorFlow raises here too: the int32 counter has no gradient (None)
        optimizer.apply_gradients(zip(gradients, [counter]))
    except ValueError as e:
        print(f"Iteration {i + 1}: ValueError: {e}")

    # Conditional update using tf.assign
    if i % 2 == 0:
        counter.assign(0)  # Reset counter every two iterations

    print(f"Iteration {i + 1}: Counter value = {counter.numpy()}")

# Example 3: Custom Training Loop with Gradient Tape and Manual Gradient Application

# Define a variable
my_var = tf.Variable(1.0)

# Custom training loop
optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)

for epoch in range(10):
    with tf.GradientTape() as tape:
        loss = my_var**2
    grads = tape.gradient(loss, [my_var])
    # Manual gradient clipping
    clipped_grads = [tf.clip_by_value(grad, -0.5, 0.5) for grad in grads]
    optimizer.apply_gradients(zip(clipped_grads, [my_var]))
    # Manual variable update with calculated gradient
    my_var.assign_sub(0.1)  # Subtract 0.1 from the variable after gradient application and clipping
    print(f"Epoch {epoch + 1}: Variable value = {my_var.numpy()}")
