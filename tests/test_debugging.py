"""Run-time assertions (A14's tf.debugging part): eager, compiled, and atomic on failure."""

import pytest

import tracefn as tf


def test_assert_positive_eager_message():
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"assertion failed: \[neg!\] "
        r"\[Condition x > 0 did not hold element-wise:\] \[x = \] \[-1.0\]",
    ):
        tf.debugging.assert_positive(tf.constant(-1.0), message="neg!")
    assert tf.debugging.assert_positive(tf.constant(1.0)) is None


def test_failed_assertion_in_compiled_call_changes_no_variable():
    v = tf.Variable(1.0)

    @tf.function
    def f(x):
        v.assign_add(1.0)
        tf.debugging.assert_positive(x, message="neg!")
        return x * 2

    assert float(f(tf.constant(1.0))) == 2.0 and float(v) == 2.0
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[neg!\] \[Condition x > 0"):
        f(tf.constant(-1.0))
    assert float(v) == 2.0
    assert float(f(tf.constant(3.0))) == 6.0 and float(v) == 3.0


def test_assert_inside_cond_only_checks_taken_branch():
    @tf.function
    def f(x):
        return tf.cond(x > 0, lambda: x, lambda: (tf.debugging.Assert(x > -5, ["too small"]), x)[1])

    assert float(f(tf.constant(-1.0))) == -1.0
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[too small\]"):
        f(tf.constant(-10.0))


def test_assert_equal():
    with pytest.raises(tf.errors.InvalidArgumentError, match="x == y"):
        tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]))
