"""Autograph, spec section 3 (A1-A18): each construct on traced inputs through
``tracefn.function``, compared with plain Python, plus the spec's error types and messages."""

import numpy as np
import pytest

import tracefn as tf
import tracefn.autograph as ag
from tracefn.errors import InaccessibleTensorError, OperatorNotAllowedInGraphError
from tracefn.tensor import SymbolicTensor


def c(x):
    return tf.constant(x)


def val(t):
    """A tensor (or nested tuple of tensors) as Python values."""
    if isinstance(t, (tuple, list)):
        return type(t)(val(x) for x in t)
    a = np.asarray(t)
    return a.item() if a.ndim == 0 else a.tolist()


def ops(fn, *args) -> list[str]:
    """Primitive names of every op (regions included) in ``fn``'s graph for ``args``."""
    return [op.prim.name for op in fn.get_concrete_function(*args).graph.walk()]


# ------------------------------------------------------------------------------------ A1


def test_A1_python_condition_runs_as_python():
    @tf.function
    def py_if(x, flag):
        if flag:
            x = x + 100
        return x

    assert val(py_if(c(1), True)) == 101
    assert val(py_if(c(1), False)) == 1
    assert "cond" not in ops(py_if, c(1), True)


def test_A1_is_none_stays_python():
    @tf.function
    def f(x, y=None):
        if y is None:
            y = x
        return x + y

    assert val(f(c(2))) == 4
    assert "cond" not in ops(f, c(2))


def test_A1_python_values_reassigned_in_tf_control_flow_become_tensors():
    seen = []

    @tf.function
    def f(x):
        i = 0
        if x > 0:
            i = 1
        seen.append(i)
        return i

    assert val(f(c(5))) == 1 and val(f(c(-5))) == 0
    assert isinstance(seen[0], SymbolicTensor)


# ------------------------------------------------------------------------------------ A2


def test_A2_tensor_if_traces_both_branches_runs_one(capsys):
    @tf.function
    def f(x):
        print("before")
        if x > 0:
            print("T")
            tf.print("t run")
            y = 1
        else:
            print("F")
            tf.print("f run")
            y = 2
        print("after")
        return y

    assert val(f(c(1))) == 1
    out = capsys.readouterr()
    assert out.out.split() == ["before", "T", "F", "after"]
    assert "t run" in out.err and "f run" not in out.err
    assert val(f(c(-1))) == 2
    out = capsys.readouterr()
    assert out.out == "" and "f run" in out.err and "t run" not in out.err
    assert f.experimental_get_tracing_count() == 1


def test_A2_elif_chains_nest():
    @tf.function
    def f(x):
        if x > 5:
            r = 2
        elif x > 0:
            r = 1
        else:
            r = 0
        return r

    assert [val(f(c(v))) for v in (7, 3, -1)] == [2, 1, 0]
    assert ops(f, c(1)).count("cond") == 2


def test_A2_bool_variable_condition_is_reread():
    flag = tf.Variable(True)

    @tf.function
    def f():
        if flag:
            r = 1
        else:
            r = 0
        return r

    assert val(f()) == 1
    flag.assign(False)
    assert val(f()) == 0
    assert f.experimental_get_tracing_count() == 1


# ------------------------------------------------------------------------------------ A3


def test_A3_symbol_only_in_if_branch_used_after():
    @tf.function
    def f(x):
        if x > 0:
            y = 1
        return y

    with pytest.raises(ValueError, match="'y' must also be initialized in the else branch"):
        f(c(1))


def test_A3_symbol_only_in_else_branch_used_after():
    @tf.function
    def f(x):
        if x > 0:
            pass
        else:
            y = 1
        return y

    with pytest.raises(ValueError, match="'y' must also be initialized in the main branch"):
        f(c(1))


def test_A3_symbol_local_to_branch_is_fine():
    @tf.function
    def f(x):
        if x > 0:
            y = x * 2
            x = y + 1
        return x

    assert val(f(c(3))) == 7 and val(f(c(-3))) == -3


def test_A3_none_in_a_branch():
    @tf.function
    def none_before(x):
        y = None
        if x > 0:
            y = 1
        return y

    @tf.function
    def none_in_if(x):
        if x > 0:
            y = None
        else:
            y = 1
        return y

    with pytest.raises(ValueError, match=r"^'y' is None at the end of the else branch\.$"):
        none_before(c(1))
    with pytest.raises(ValueError, match=r"^'y' is None at the end of the main branch\.$"):
        none_in_if(c(1))


def test_A3_dtype_mismatch():
    @tf.function
    def tensors(x):
        if x > 0:
            y = tf.constant(1)
        else:
            y = tf.constant(1.0)
        return y

    @tf.function
    def numbers(x):
        if x > 0:
            y = 1
        else:
            y = 2.0
        return y

    message = "^'y' has dtype int32 in the main branch, but dtype float32 in the else branch$"
    for f in (tensors, numbers):
        with pytest.raises(TypeError, match=message):
            f(c(1))


def test_A3_structure_mismatch():
    @tf.function
    def f(x):
        if x > 0:
            y = (x, x)
        else:
            y = x
        return y

    message = "'y' must have the same nested structure in the main and else branches:"
    with pytest.raises(TypeError, match=message):
        f(c(1))


def test_A3_return_only_in_if_branch():
    @tf.function
    def f(x):
        if x > 0:
            return x

    with pytest.raises(ValueError, match=r"the else branch must also have a return statement\."):
        f(c(1))


def test_A3_return_then_code_after_is_the_else_branch():
    @tf.function
    def f(x):
        if x > 0:
            return x
        return -x

    assert val(f(c(-2))) == 2 and val(f(c(3))) == 3
    assert ops(f, c(1)).count("cond") == 1


def test_A3_variable_assignment_in_branch_needs_no_checks():
    v = tf.Variable(5.0)

    @tf.function
    def cond_reset(x):
        if x > 0:
            v.assign(0.0)
        return v.read_value()

    assert val(cond_reset(c(1))) == 0.0 and val(v) == 0.0
    v.assign(5.0)
    assert val(cond_reset(c(-1))) == 5.0 and val(v) == 5.0


def test_A3_periodic_reset():
    v = tf.Variable(0)

    @tf.function
    def step(x, i):
        v.assign_add(x)
        if i % 3 == 0:
            v.assign(0)
        return v.read_value()

    assert [val(step(c(1), c(i))) for i in range(1, 8)] == [1, 2, 0, 1, 2, 0, 1]


def test_A3_python_flag_chooses_at_trace_time_ops_still_run():
    v = tf.Variable(100)

    @tf.function
    def py_reset(flag):
        if flag:
            v.assign(100)
        v.assign_add(1)
        return v.read_value()

    assert val(py_reset(True)) == 101
    assert val(py_reset(False)) == 102
    assert val(py_reset(True)) == 101


def test_A3_error_points_at_the_users_if():
    @tf.function
    def f(x):
        if x > 0:
            y = 1
        return y

    with pytest.raises(ValueError) as info:
        f(c(1))
    frames = [fr for fr in info.traceback if str(fr.path) == __file__]
    if_line = f.python_function.__code__.co_firstlineno + 2  # after `@tf.function`, `def`
    assert frames[-1].lineno + 1 == if_line  # pytest's lineno is 0-based


# ------------------------------------------------------------------------------------ A4


def test_A4_logical_operators_on_tensors():
    @tf.function
    def f(a, b):
        return (a > 0 and b > 0, a > 0 or b > 0, not a > 0)

    assert val(f(c(1), c(-1))) == (False, True, False)
    assert val(f(c(1), c(1))) == (True, True, False)


def test_A4_second_operand_is_lazy_at_run_time():
    v = tf.Variable(0)

    def bump():
        v.assign_add(1)
        return True

    @tf.function
    def f(a):
        return a > 0 and bump()

    assert val(f(c(-1))) is False and val(v) == 0
    assert val(f(c(1))) is True and val(v) == 1


def test_A4_python_first_operand_short_circuits_in_python():
    @tf.function
    def f(a):
        return True and a > 0, 0 or a

    out = f(c(3))
    assert val(out) == (True, 3)
    assert "cond" not in ops(f, c(3))


def test_A4_mixing_dtypes_fails():
    @tf.function
    def f(a):
        return a > 0 and 5

    message = "true_fn and false_fn arguments to tf.cond must have the same number, type"
    with pytest.raises(TypeError, match=message):
        f(c(1))


# ------------------------------------------------------------------------------------ A5


def test_A5_ternary():
    @tf.function
    def f(x):
        return 1 if x > 0 else -1

    assert val(f(c(3))) == 1 and val(f(c(-3))) == -1
    assert "cond" in ops(f, c(1))


def test_A5_ternary_dtype_mismatch_names_the_condition():
    @tf.function
    def f(x):
        return 1 if x > 0 else 2.0

    message = "'x > 0' has dtype int32 in the main branch, but dtype float32 in the else branch"
    with pytest.raises(TypeError, match=message):
        f(c(1))


# ------------------------------------------------------------------------------------ A6


def test_A6_tensor_while():
    @tf.function
    def f(n):
        i = 0
        s = 0
        while i < n:
            s += i
            i += 1
        return s, i

    assert val(f(c(5))) == (10, 5)
    assert val(f(c(0))) == (0, 0)
    assert ops(f, c(5)).count("while") == 1


def test_A6_python_while_is_unrolled():
    @tf.function
    def f(x):
        i = 0
        while i < 3:
            x = x + 1
            i += 1
        return x

    assert val(f(c(1))) == 4
    names = ops(f, c(1))
    assert names.count("add") == 3 and "while" not in names


# ------------------------------------------------------------------------------------ A7


def test_A7_loop_variable_dtype_must_not_change():
    @tf.function
    def f(n):
        x = 0
        i = 0
        while i < n:
            x = x + 0.5
            i += 1
        return x

    with pytest.raises(TypeError):
        f(c(3))

    @tf.function
    def g(n):
        x = tf.constant(0)
        i = 0
        while i < n:
            x = tf.cast(x, tf.float32)
            i += 1
        return x

    message = "^'x' has dtype int32 before the loop, but dtype float32 after one iteration$"
    with pytest.raises(TypeError, match=message):
        g(c(3))


def test_A7_loop_variable_shape_must_not_change():
    @tf.function
    def f(n):
        x = tf.constant([0])
        for i in tf.range(n):
            x = tf.concat([x, [i]], 0)
        return x

    message = (
        r"'x' has shape \(1,\) before the loop, but shape \(2,\) after one iteration\. "
        r"Use tf\.autograph\.experimental\.set_loop_options to set shape invariants\."
    )
    with pytest.raises(ValueError, match=message):
        f(c(3))


def test_A7_shape_invariants_are_accepted_but_xla_needs_static_shapes():
    # tracefn lowers to XLA, whose loops carry one static shape: a growing `x` stays an error
    # (control_flow's message), even with the invariant that TF accepts.
    @tf.function
    def f(n):
        x = tf.constant([0])
        for i in tf.range(n):
            ag.set_loop_options(shape_invariants=[(x, tf.TensorShape([None]))])
            x = tf.concat([x, [i]], 0)
        return x

    source = ag.to_source(f.python_function)
    assert "set_loop_options" not in source  # read from the body, passed as the loop's options
    assert "{'shape_invariants': [(x, ag__.converted_call(tf.TensorShape" in source
    with pytest.raises(ValueError, match="static shape"):
        f(c(3))


def test_A7_loop_variable_structure_must_not_change():
    @tf.function
    def f(n):
        x = (tf.constant(0), tf.constant(1))
        i = 0
        while i < n:
            x = tf.constant(2)
            i += 1
        return x

    message = "^'x' does not have the same nested structure after one iteration\\."
    with pytest.raises(TypeError, match=message):
        f(c(3))


def test_A7_loop_variable_none_at_end_of_iteration():
    @tf.function
    def f(n):
        x = tf.constant(0)
        i = 0
        while i < n:
            x = None
            i += 1
        return x

    with pytest.raises(ValueError, match=r"^'x' is None at the end of the iteration\.$"):
        f(c(3))


def test_A7_symbol_read_before_assignment_in_loop():
    @tf.function
    def f(n):
        for i in tf.range(n):
            s = s + i  # noqa: F821
        return s

    with pytest.raises(ValueError, match="'s' must be defined before the loop") as info:
        f(c(3))
    assert "tried to define it automatically" in str(info.value)
    assert "UnboundLocalError" in str(info.value)


# ------------------------------------------------------------------------------------ A8


def test_A8_symbol_first_defined_in_tf_loop():
    @tf.function
    def f(n):
        for i in tf.range(n):
            z = i * 10
        return z

    assert val(f(c(2))) == 10


def test_A8_none_before_tf_loop():
    @tf.function
    def f(n):
        x = None
        for i in tf.range(n):
            x = i
        return x

    assert val(f(c(3))) == 2


def test_A8_loop_target_after_the_loop():
    @tf.function
    def f(n):
        for i in tf.range(n):  # noqa: B007
            pass
        return i

    assert val(f(c(3))) == 2
    assert val(f(c(0))) == 0


def test_A8_zero_iterations_fail_at_run_time():
    @tf.function
    def f(n):
        for i in tf.range(n):
            z = i * 10
        return z

    assert val(f(c(2))) == 10
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"assertion failed: \[loop must "
        r"iterate at least once to initialize z\]",
    ):
        f(c(0))


# ------------------------------------------------------------------------------------ A9


def test_A9_range_of_tensor_is_one_loop():
    @tf.function
    def with_range(n):
        s = 0
        for i in range(n):
            s += i
        return s

    @tf.function
    def with_tf_range(n):
        s = 0
        for i in tf.range(n):
            s += i
        return s

    for f in (with_range, with_tf_range):
        assert val(f(c(5))) == 10
        assert ops(f, c(5)).count("while") == 1


def test_A9_tensor_iterates_over_first_dimension():
    @tf.function
    def f(x):
        s = tf.zeros([2], tf.int32)
        for row in x:
            s += row
        return s

    assert val(f(c([[1, 2], [3, 4]]))) == [4, 6]
    assert "while" in ops(f, c([[1, 2], [3, 4]]))


def test_A9_python_iterables_are_unrolled():
    @tf.function
    def f(s):
        for k in [1, 2, 3]:
            s = s * k
        return s

    @tf.function
    def g(x):
        s = 0
        for i in range(x.shape[0]):
            s += x[i]
        return s

    assert val(f(c(2))) == 12
    assert ops(f, c(2)).count("multiply") == 3
    assert val(g(c([1, 2, 3]))) == 6
    assert "while" not in ops(g, c([1, 2, 3]))


def test_A9_nested_tf_loops():
    @tf.function
    def f(n):
        s = 0
        for i in tf.range(n):
            for j in tf.range(i):  # noqa: B007
                s += 1
        return s

    assert val(f(c(4))) == 6


# ----------------------------------------------------------------------------------- A10


def test_A10_break_and_continue_in_tf_loops():
    @tf.function
    def brk(n):
        s = 0
        for i in tf.range(n):
            if i > 3:
                break
            s += i
        return s

    @tf.function
    def cont(n):
        s = 0
        for i in tf.range(n):
            if i % 2 == 0:
                continue
            s += i
        return s

    @tf.function
    def while_brk(n):
        i = 0
        while i < n:
            if i == 3:
                break
            i += 1
        return i

    assert val(brk(c(10))) == 6
    assert val(cont(c(6))) == 9
    assert val(while_brk(c(10))) == 3 and val(while_brk(c(2))) == 2


# ----------------------------------------------------------------------------------- A11


def test_A11_conditional_return_in_tf_loop():
    message = (
        "a return statement cannot be placed inside this TensorFlow loop; this may happen "
        "if a return statement depends on a static Python condition such as a "
        "hyperparameter"
    )

    @tf.function
    def in_for(n):
        for i in tf.range(n):
            if i > 2:
                return i
        return -1

    @tf.function
    def in_while(x):
        while x > 0:
            if x == 2:
                return x
            x -= 1
        return x

    for f in (in_for, in_while):
        with pytest.raises(NotImplementedError, match=message):
            f(c(5))


def test_A11_unconditional_return_in_while():
    @tf.function
    def f(x):
        while x > 0:
            return x
        return x

    assert val(f(c(3))) == 3


# ----------------------------------------------------------------------------------- A12


def test_A12_python_while_with_tensor_break():
    @tf.function
    def f(x):
        while True:
            if tf.equal(x, 0):
                break
            x -= 1
        return x

    with pytest.raises(NotImplementedError, match="started as non-Tensor, then changed to Tensor"):
        f(c(3))


def test_A12_python_while_variable_becomes_tensor():
    @tf.function
    def f():
        i = 0
        while i < 10:
            i = tf.constant(1)
        return i

    with pytest.raises(NotImplementedError, match="started as non-Tensor, then changed to Tensor"):
        f()


def test_A12_python_for_with_tensor_break():
    @tf.function
    def f(x):
        for i in range(5):
            if x > i:
                break
        return x

    message = (
        "break and return statements which depend on a TF condition are not supported in "
        "Python for loops. Did you intend to make it a TF loop?"
    )
    with pytest.raises(NotImplementedError, match=message):
        f(c(3))


# ----------------------------------------------------------------------------------- A13


def test_A13_list_append_in_tf_loop_is_inaccessible():
    @tf.function
    def f(n):
        out = []
        for i in tf.range(n):
            out.append(i)
        return tf.stack(out)

    with pytest.raises(InaccessibleTensorError, match="is out of scope and cannot be used here"):
        f(c(3))


def test_A13_list_append_in_python_loop_works():
    @tf.function
    def f(x):
        out = []
        for i in range(3):
            out.append(x + i)
        return tf.stack(out)

    assert val(f(c(1))) == [1, 2, 3]


# ----------------------------------------------------------------------------------- A14


def test_A14_assert_is_not_converted():
    @tf.function
    def f(x):
        assert x > 0, "msg"
        return x

    with pytest.raises(OperatorNotAllowedInGraphError, match="as a Python `bool` is not allowed"):
        f(c(1))

    @tf.function
    def g(x):
        assert False, "m"
        return x

    with pytest.raises(AssertionError, match="^m$"):
        g(c(1))


def test_A14_assert_statements_feature_makes_runtime_assertions():
    opts = tf.autograph.experimental.Feature.ASSERT_STATEMENTS

    @tf.function(experimental_autograph_options=opts)
    def f(x):
        assert x > 0, "x must be positive"
        return x * 2

    assert val(f(c(2))) == 4
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"assertion failed: \[x must be positive\]"
    ):
        f(c(-1))

    @tf.function(experimental_autograph_options=(tf.autograph.experimental.Feature.ALL,))
    def g(x):
        assert False, "m"  # a Python value: Python's assert, at trace time
        return x

    with pytest.raises(AssertionError, match="^m$"):
        g(c(1))


# ----------------------------------------------------------------------------------- A15


def test_A15_without_conversion_tensor_bool_fails():
    @tf.function(autograph=False)
    def unconverted(x):
        if x > 0:
            return x
        return -x

    @tf.function
    def explicit_bool(x):
        return bool(x > 0)

    for f in (unconverted, explicit_bool):
        with pytest.raises(OperatorNotAllowedInGraphError, match="Python `bool` is not allowed"):
            f(c(1))


# ----------------------------------------------------------------------------------- A16


def test_A16_print_is_not_converted(capsys):
    @tf.function
    def f(x):
        print(x)
        return x + 1

    f(c(1))
    f(c(2))
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 1 and printed[0].startswith('Tensor("')
    assert "shape=(), dtype=int32" in printed[0]


# ----------------------------------------------------------------------------------- A17


def abs_helper(x):
    if x > 0:
        return x
    else:
        return -x


def test_A17_called_functions_are_converted():
    @tf.function
    def f(x):
        return abs_helper(x)

    assert val(f(c(-4))) == 4 and val(f(c(5))) == 5


def test_A17_attribute_symbols():
    class State:
        pass

    @tf.function
    def f(x):
        s = State()
        s.a = tf.constant(0)
        if x > 0:
            s.a = x
        return s.a

    assert val(f(c(7))) == 7 and val(f(c(-7))) == 0


def test_A17_len_of_static_shape():
    @tf.function
    def f(t):
        return len(t)

    assert f(c([1, 2, 3])) == 3 or val(f(c([1, 2, 3]))) == 3


def test_A17_methods_are_converted_with_self():
    class Model:
        def __init__(self):
            self.scale = tf.Variable(2)

        @tf.function
        def __call__(self, x):
            if x > 0:
                y = x * self.scale
            else:
                y = x
            return y

    m = Model()
    assert val(m(c(3))) == 6 and val(m(c(-3))) == -3


# ----------------------------------------------------------------------------------- A18


def test_A18_python_object_changes_in_called_functions_are_trace_time_only():
    class Counter:
        def __init__(self):
            self.y = 0
            self.v = tf.Variable(0)

        def change(self):
            self.y += 1
            self.v.assign_add(1)

    counter = Counter()

    @tf.function
    def f(n):
        for i in tf.range(n):  # noqa: B007
            counter.change()
        return counter.v.read_value()

    assert val(f(c(3))) == 3
    assert counter.y == 1  # the body was traced once (plus nothing at run time)


def test_A18_if_outputs_only_live_symbols():
    @tf.function
    def f(x):
        if x > 0:
            tmp = tf.constant(1.0)  # noqa: F841 (dead: not a cond output)
            x = x + 1
        return x

    assert val(f(c(1))) == 2


# ------------------------------------------------------------------- traced == Python


def mixed(x, n):
    s = 0
    i = 0
    while i < n:
        if i % 3 == 0:
            i += 1
            continue
        s = s + (x if i % 2 == 0 else -x)
        if s > 20:
            break
        i += 1
    return s, i


@pytest.mark.parametrize("x, n", [(1, 0), (2, 5), (7, 9), (-3, 12)])
def test_traced_matches_python(x, n):
    assert val(tf.function(mixed)(c(x), c(n))) == mixed(x, n)


def test_op_source_locations_point_at_user_lines():
    @tf.function
    def f(x):
        if x > 0:
            y = x * 3
        else:
            y = x
        return y

    first = f.python_function.__code__.co_firstlineno
    graph = f.get_concrete_function(c(1)).graph
    mult = [op for op in graph.walk() if op.prim.name == "multiply"][0]
    cond_op = [op for op in graph.walk() if op.prim.name == "cond"][0]
    assert mult.source[:2] == (__file__, first + 3)
    assert cond_op.source[:2] == (__file__, first + 2)


def test_A9_range_of_variable_is_a_tf_loop():
    n = tf.Variable(4)

    @tf.function
    def f():
        s = 0
        for i in range(n):
            s += i
        return s

    assert val(f()) == 6
    n.assign(5)
    assert val(f()) == 10 and f.experimental_get_tracing_count() == 1


def test_set_loop_options_maximum_iterations():
    @tf.function
    def f(n):
        i = 0
        while i < n:
            ag.experimental.set_loop_options(maximum_iterations=3)
            i += 1
        return i

    assert val(f(c(10))) == 3 and val(f(c(2))) == 2


def test_issue4_signature_case_running_mean_with_periodic_reset():
    """The issue's example: a metric reset under a traced `if` inside a compiled step gives the
    same running means as plain Python, its graph has a cond whose regions write both
    variables, and the compiled program branches (lax.cond)."""
    total, count, step = tf.Variable(0.0), tf.Variable(0.0), tf.Variable(0)

    def train_step(loss):
        step.assign_add(1)
        if step % 10 == 0:
            total.assign(0.0)
            count.assign(0.0)
        total.assign_add(loss)
        count.assign_add(1.0)
        return total / count

    compiled = tf.function(train_step)
    got = [float(compiled(tf.constant(float(i)))) for i in range(1, 31)]
    py_total = py_count = 0.0
    expected = []
    for i in range(1, 31):
        if i % 10 == 0:
            py_total = py_count = 0.0
        py_total += i
        py_count += 1
        expected.append(py_total / py_count)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    cf = compiled.get_concrete_function(tf.constant(1.0))
    (cond_op,) = [op for op in cf.graph.ops if op.prim.name == "cond"]
    assert {v.name for v in cond_op.regions[0].writes} == {total.name, count.name}
    text = cf.as_text()
    assert "stablehlo.case" in text or "stablehlo.if" in text
