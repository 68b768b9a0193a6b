"""``tracefn.compat.v1``: TF1 graphs, sessions, variable scopes, collections, initializers,
optimizers and device placement (spec section 6, C1-C10, and the section 8 decisions)."""

import collections
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tracefn as tft
import tracefn.compat.v1 as tf
from tracefn.errors import FailedPreconditionError, InvalidArgumentError


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def eager_store():
    """Eager ``get_variable`` keeps its store in the global default graph: start afresh."""
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def raises(kind, message):
    return pytest.raises(kind, match=re.escape(message))


def init_run(fetches, feed_dict=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed_dict)


# ------------------------------------------------------------------- C1: tf.Variable and reuse


def test_C1_tf_variable_ignores_reuse(graph):
    made = []
    for _ in range(2):
        with tf.variable_scope("my_scope", reuse=tf.AUTO_REUSE):
            made.append(tf.Variable(0, name="my_var"))
    with tf.variable_scope("my_scope", reuse=tf.AUTO_REUSE):
        made += [tf.Variable(0, name="my_var"), tf.Variable(0, name="my_var")]
    assert [v.name for v in made] == ["my_scope/my_var:0", "my_scope_1/my_var:0",
                                      "my_scope_2/my_var:0", "my_scope_2/my_var_1:0"]  # fmt: skip
    assert len({id(v) for v in made}) == 4


def test_C1_get_variable_auto_reuse_gives_the_same_object(graph):
    with tf.variable_scope("gs", reuse=tf.AUTO_REUSE):
        a = tf.get_variable("my_var", [2])
    with tf.variable_scope("gs", reuse=tf.AUTO_REUSE):
        b = tf.get_variable("my_var", [2])
    assert a is b and a.name == "gs/my_var:0"


# ----------------------------------------------------------------- C2: get_variable sharing


def test_C2_auto_reuse_requires_the_same_shape(graph):
    with tf.variable_scope("auto", reuse=tf.AUTO_REUSE):
        tf.get_variable("a", [2])
        with raises(ValueError, "Trying to share variable auto/a, but specified shape (3,) and "
                                "found shape (2,)."):  # fmt: skip
            tf.get_variable("a", [3])


def test_C2_existing_name_without_reuse(graph):
    with tf.variable_scope("foo"):
        tf.get_variable("v", [1])
        with raises(ValueError, "Variable foo/v already exists, disallowed. Did you mean to set "
                                "reuse=True or reuse=tf.AUTO_REUSE in VarScope?"):  # fmt: skip
            tf.get_variable("v", [1])


def test_C2_reuse_true_of_a_missing_name(graph):
    with tf.variable_scope("bar", reuse=True):
        with raises(ValueError, "Variable bar/v does not exist, or was not created with "
                                "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in "
                                "VarScope?"):  # fmt: skip
            tf.get_variable("v", [1])


def test_C2_reuse_true_returns_the_variable_shape_optional(graph):
    with tf.variable_scope("foo"):
        v = tf.get_variable("v", [1])
    with tf.variable_scope("foo", reuse=True):
        assert tf.get_variable("v") is v
        assert tf.get_variable("v", [1]) is v
        with raises(ValueError, "Trying to share variable foo/v, but specified shape (2,) and "
                                "found shape (1,)."):  # fmt: skip
            tf.get_variable("v", [2])
        with raises(ValueError, "Trying to share variable foo/v, but specified dtype int32 and "
                                "found dtype float32."):  # fmt: skip
            tf.get_variable("v", [1], dtype=tf.int32)


def test_C2_creation_errors(graph):
    with raises(ValueError, "Variable noshape did not get an initializer, so its `shape` "
                            "argument must be specified."):  # fmt: skip
        tf.get_variable("noshape")
    with raises(ValueError, "If initializer is a constant, do not specify shape."):
        tf.get_variable("c", [2], initializer=tf.constant([1.0, 2.0]))
    with raises(ValueError, "Initializer type '<dtype: 'int32'>' and explicit dtype "
                            "'<dtype: 'float32'>' don't match."):  # fmt: skip
        tf.get_variable("d", initializer=tf.constant([1, 2]), dtype=tf.float32)


def test_C2_a_tf_variable_is_not_found_by_get_variable(graph):
    with tf.variable_scope("my_scope"):
        tf.Variable(0, name="my_var")
    with tf.variable_scope("my_scope", reuse=True):
        with raises(ValueError, "Variable my_scope/my_var does not exist"):
            tf.get_variable("my_var", dtype=tf.int32)


# -------------------------------------------------------------------- C3: reuse inheritance


def test_C3_reuse_variables_shares_later_calls(graph):
    with tf.variable_scope("foo") as scope:
        v = tf.get_variable("v", [1])
        scope.reuse_variables()
        assert tf.get_variable("v", [1]) is v


def test_C3_children_inherit_reuse_and_cannot_switch_it_off(graph):
    with tf.variable_scope("outer"):
        with tf.variable_scope("inner"):
            v = tf.get_variable("v", [1])
    with tf.variable_scope("outer", reuse=True):
        with tf.variable_scope("inner", reuse=False) as inner:
            assert inner.reuse is True
            assert tf.get_variable("v", [1]) is v


def test_C3_reentry_by_scope_object(graph):
    with tf.variable_scope("model") as scope:
        v = tf.get_variable("w", [1])
    with tf.variable_scope(scope, reuse=True):
        assert tf.get_variable("w", [1]) is v


def test_C3_top_level_reuse_variables_makes_creation_fail(graph):
    tf.get_variable_scope().reuse_variables()
    with raises(ValueError, "Variable x does not exist, or was not created with "
                            "tf.get_variable()."):  # fmt: skip
        tf.get_variable("x", [1])


# ------------------------------------------------------------------- C4: get_variable defaults


def test_C4_defaults(graph):
    w = tf.get_variable("w", [3, 4])
    iv = tf.get_variable("iv", [3], dtype=tf.int32)
    bv = tf.get_variable("bv", [2], dtype=tf.bool)
    c = tf.get_variable("c", [2], initializer=tf.constant_initializer(3.0))
    t = tf.get_variable("t", initializer=tf.constant([1.0, 2.0]))
    with tf.variable_scope("sc", initializer=tf.constant_initializer(5.0), dtype=tf.float64):
        s = tf.get_variable("s", [])
    assert w.dtype == tf.float32 and s.dtype == tf.float64
    wv, ivv, bvv, cv, tv, sv = init_run([w, iv, bv, c, t, s])
    assert np.abs(wv).max() <= np.sqrt(6 / 7) and np.unique(wv).size == 12  # glorot uniform
    assert ivv.tolist() == [0, 0, 0] and bvv.tolist() == [False, False]
    assert cv.tolist() == [3, 3] and tv.tolist() == [1, 2] and sv == 5.0


def test_C4_default_initializer_is_glorot_uniform_op(graph):
    w = tf.get_variable("w", [3, 4])
    ops = [op.type for op in graph.get_operations() if op.name.startswith("w/Initializer")]
    assert ops[0] == "RandomUniform" and "Mul" in ops and w.initial_value.shape == (3, 4)


# ------------------------------------------------------------------------------ C5: names


def test_C5_names_are_unique_per_graph(graph):
    names = [tf.Variable(1.0).name, tf.Variable(1.0).name, tf.Variable(1.0, name="Variable").name]
    assert names == ["Variable:0", "Variable_1:0", "Variable_2:0"]
    with tf.variable_scope("rep"):
        x1, c1 = tf.Variable(1, name="x"), tf.constant(1, name="c")
        tf.get_variable("gv", [1])
    with tf.variable_scope("rep"):
        x2, c2 = tf.Variable(1, name="x"), tf.constant(1, name="c")
        gv2 = tf.get_variable("gv2", [1])
        with raises(ValueError, "Variable rep/gv already exists"):
            tf.get_variable("gv", [1])
    assert [x1.name, c1.name, x2.name, c2.name, gv2.name] == [
        "rep/x:0", "rep/c:0", "rep_1/x:0", "rep_1/c:0", "rep/gv2:0"]  # fmt: skip


def test_C5_reentry_by_object_opens_a_new_name_scope(graph):
    with tf.variable_scope("foo") as scope:
        pass
    with tf.variable_scope(scope):
        assert tf.constant(1, name="c").name == "foo_1/c:0"
        assert tf.Variable(1, name="t").name == "foo_1/t:0"
    with tf.variable_scope("foo"):
        assert tf.constant(1, name="c").name == "foo_2/c:0"


def test_C5_name_scope_prefixes_variables_but_not_get_variable(graph):
    with tf.name_scope("ns"):
        assert tf.Variable(1, name="nv").name == "ns/nv:0"
        assert tf.get_variable("ngv", [1]).name == "ngv:0"
    with tf.name_scope("ns"):
        assert tf.Variable(1, name="nv").name == "ns_1/nv:0"
    blocks = []
    for _ in range(2):
        with tf.variable_scope(None, default_name="blk"):
            blocks.append(tf.get_variable("w", [1]).name)
    assert blocks == ["blk/w:0", "blk_1/w:0"]


# ------------------------------------------------------------------------- C6: collections


def test_C6_default_collections(graph):
    w = tf.get_variable("w", [1])
    iv = tf.get_variable("iv", [1], dtype=tf.int32)
    bv = tf.get_variable("bv", [1], dtype=tf.bool)
    nt = tf.get_variable("nt", [1], trainable=False)
    lv = tf.get_local_variable("lv", [1])
    assert tf.global_variables() == [w, iv, bv, nt]
    assert tf.trainable_variables() == [w, iv, bv]
    assert tf.local_variables() == [lv] and not lv.trainable and not nt.trainable
    assert graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="i") == [iv]


def test_C6_section8_local_collection_is_never_trainable_by_default(graph):
    lv = tf.get_variable("lv", [1], collections=[tf.GraphKeys.LOCAL_VARIABLES])
    lv2 = tf.Variable(1.0, collections=[tf.GraphKeys.LOCAL_VARIABLES], trainable=False)
    lt = tf.get_variable("lt", [1], collections=[tf.GraphKeys.LOCAL_VARIABLES], trainable=True)
    assert tf.local_variables() == [lv, lv2, lt]
    assert tf.trainable_variables() == [lt] and tf.global_variables() == []
    assert not lv.trainable and isinstance(lv2, tf.Variable) and isinstance(lv2, tft.Variable)


def test_C6_global_initializer_skips_local_variables(graph):
    g = tf.get_variable("g", [1], initializer=tf.ones_initializer())
    lv = tf.get_local_variable("lv", [1], initializer=tf.ones_initializer())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(g) == 1.0
        with pytest.raises(FailedPreconditionError):
            sess.run(lv)
        sess.run(tf.local_variables_initializer())
        assert sess.run(lv) == 1.0


def test_C6_custom_collections(graph):
    v = tf.get_variable("v", [1])
    tf.add_to_collection("mine", v)
    tf.add_to_collections(["a", "b"], 3)
    assert tf.get_collection("mine") == [v] and tf.get_collection("b") == [3]
    tf.get_collection_ref("mine").append(4)
    assert tf.get_collection("mine") == [v, 4] and tf.get_collection("none") == []


# --------------------------------------------------------------- C7: sessions, initializers


def test_C7_reading_before_initialization_raises(graph):
    s = tf.Variable(1.0, name="s")
    with tf.Session() as sess:
        with raises(FailedPreconditionError, "Could not find variable s. This could mean that "
                    "the variable has been deleted. In TF1, it can also mean the variable is "
                    "uninitialized."):  # fmt: skip
            sess.run(s)
        with pytest.raises(FailedPreconditionError):
            sess.run(s + 1.0)


def test_C7_values_live_in_the_session(graph):
    s = tf.Variable(1.0, name="s")
    inc = s.assign_add(1.0)
    one, two = tf.Session(), tf.Session()
    one.run(s.initializer)
    one.run(inc)
    with pytest.raises(FailedPreconditionError):
        two.run(s)  # a new session starts uninitialized
    two.run(tf.global_variables_initializer())
    assert (one.run(s), two.run(s)) == (2.0, 1.0)


def test_C7_report_uninitialized_and_is_initialized(graph):
    tf.get_variable("w", [1])
    tf.get_variable("iv", [1], dtype=tf.int32)
    s = tf.Variable(1.0, name="s")
    tf.Variable(tf.random_uniform([2]), name="r")
    tf.get_variable("nt", [1], trainable=False)
    tf.get_local_variable("lv", [1])
    tf.get_variable("lv2", [1], collections=[tf.GraphKeys.LOCAL_VARIABLES])
    report = tf.report_uninitialized_variables()
    with tf.Session() as sess:
        assert sess.run(report).tolist() == [b"w", b"iv", b"s", b"r", b"nt", b"lv", b"lv2"]
        assert not sess.run(tf.is_variable_initialized(s))
        sess.run(tf.global_variables_initializer())
        assert sess.run(report).tolist() == [b"lv", b"lv2"]
        assert sess.run(tf.is_variable_initialized(s))


@pytest.mark.parametrize("how", ["global", "initializer", "variables_initializer"])
def test_C7_rerunning_an_initializer_resets(graph, how):
    s = tf.Variable(1.0, name="s")
    init = {"global": tf.global_variables_initializer(), "initializer": s.initializer,
            "variables_initializer": tf.variables_initializer([s])}[how]  # fmt: skip
    with tf.Session() as sess:
        sess.run(init)
        assert sess.run(s.assign(42.0)) == 42.0
        sess.run(init)
        assert sess.run(s) == 1.0  # spec section 0: claim (a) is false


def test_C7_rerunning_initializers_resamples_random_values(graph):
    r = tf.Variable(tf.random_uniform([2]), name="r")
    w = tf.get_variable("w", [3, 4])
    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        sess.run(init)
        first = sess.run([r, w])
        sess.run(init)
        second = sess.run([r, w])
    assert not np.allclose(first[0], second[0]) and not np.allclose(first[1], second[1])


def _two_inits(seed):
    with tf.Graph().as_default():
        if seed is not None:
            tf.set_random_seed(seed)
        r = tf.Variable(tf.random_normal([3]))
        init = tf.global_variables_initializer()
        runs = []
        for _ in range(2):
            with tf.Session() as sess:
                sess.run(init)
                a = sess.run(r)
                sess.run(init)
                runs.append((a, sess.run(r)))
    return runs


def test_C7_seeded_sessions_reproduce_the_sequence():
    (a1, a2), (b1, b2) = _two_inits(seed=0)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.allclose(a1, a2)
    (c1, _), (d1, _) = _two_inits(seed=None)
    assert not np.allclose(c1, d1)  # without a seed, sessions differ


# -------------------------------------------------------------- C8, C9: dependent initial values


def test_C8_initial_value_reading_another_variable(graph):
    a = tf.Variable(tf.random_uniform([3]), name="a")
    c = tf.Variable(a * 2, name="c")
    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        for _ in range(2):  # one initializer run; again after a re-sample
            sess.run(init)
            av, cv = sess.run([a, c])
            np.testing.assert_allclose(cv, 2 * av)


def test_C8_initial_value_resamples_each_run(graph):
    a = tf.Variable(tf.random_uniform([3]), name="a")
    with tf.Session() as sess:
        assert not np.allclose(sess.run(a.initial_value), sess.run(a.initial_value))


def test_C9_section8_initialized_value_is_current_or_initial(graph):
    a2 = tf.Variable(1.0, name="a2")
    b2 = tf.Variable(a2.initialized_value() * 2, name="b2")
    d = tf.Variable(a2 * 3, name="d")  # C8's rewrite: same behaviour
    with tf.Session() as sess:
        sess.run(b2.initializer)  # a2 is not initialized: its initial value is used
        sess.run(d.initializer)
        assert (sess.run(b2), sess.run(d)) == (2.0, 3.0)
        assert not sess.run(tf.is_variable_initialized(a2))  # and a2 stays uninitialized
        sess.run(a2.initializer)
        sess.run(a2.assign(100.0))
        assert sess.run(a2.initialized_value()) == 100.0
        sess.run(b2.initializer)
        assert sess.run(b2) == 200.0


def test_C9_guide_pattern_initializer_from_initialized_value(graph):
    v = tf.get_variable("v", shape=(), initializer=tf.zeros_initializer())
    w = tf.get_variable("w", initializer=v.initialized_value() + 1)
    assert init_run([v, w]) == [0.0, 1.0]


# ------------------------------------------------------- C10: get_variable outside graphs


def test_C10_section8_eager_get_variable_honours_reuse(eager_store):
    with tf.variable_scope("e"):
        x = tf.get_variable("x", [2], initializer=tf.ones_initializer())
        with raises(ValueError, "Variable e/x already exists, disallowed."):
            tf.get_variable("x", [2])
    with tf.variable_scope("e", reuse=True):
        assert tf.get_variable("x") is x
    assert x.name == "e/x:0" and x.numpy().tolist() == [1.0, 1.0]
    assert tf.trainable_variables() == [x]


def test_C10_section8_get_variable_inside_function(eager_store):
    @tft.function
    def layer(inp):
        with tf.variable_scope("dense", reuse=tf.AUTO_REUSE):
            w = tf.get_variable("w", [2], initializer=tf.constant_initializer(2.0))
        with tf.variable_scope("plain"):
            b = tf.get_variable("b", [2], initializer=tf.ones_initializer())
        return inp * w + b

    assert layer(tft.constant([1.0, 2.0])).numpy().tolist() == [3.0, 5.0]
    assert layer(tft.constant([2.0, 2.0])).numpy().tolist() == [5.0, 5.0]
    assert [v.name for v in tf.global_variables()] == ["dense/w:0", "plain/b:0"]


# ------------------------------------------------------------- V6 (TF1): assignments in graphs


def test_V6_assignment_runs_on_every_fetch(graph):
    v = tf.Variable(1.0)
    update = v.assign_add(2.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert [sess.run(update), sess.run(update)] == [3.0, 5.0]
        assert update.eval() == 7.0 and update.op.type == "AssignVariableOp"
        update.op.run()
        assert sess.run(v) == 9.0


def test_V6_assignment_used_in_an_op_reads_after_the_write(graph):
    v = tf.Variable(1.0)
    r = v.assign(10.0)
    y = r + 0.0
    later = v.assign_add(1.0)  # built, not fetched: does not run
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(y) == 10.0 and sess.run(v) == 10.0
        assert sess.run(later) == 11.0
        assert sess.run(tf.assign_sub(v, 4.0)) == 7.0
        assert sess.run(v.assign(0.0, read_value=False)) is None and sess.run(v) == 0.0


# ------------------------------------------------------------------------------- sessions


def test_session_fetch_structures_and_feeds(graph):
    Pair = collections.namedtuple("Pair", "a b")
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = tf.reduce_sum(x * 2.0, axis=1)
    v = tf.Variable(3.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        out = sess.run({"y": y, "rest": [v, (Pair(v, y),)], "op": v.initializer},
                       feed_dict={x: [[1, 2], [3, 4]]})  # fmt: skip
        assert out["y"].tolist() == [6, 14] and out["rest"][0] == 3.0 and out["op"] is None
        assert isinstance(out["rest"][1][0], Pair) and out["rest"][1][0].b.tolist() == [6, 14]
        assert sess.run("x:0", {"x:0": np.ones((1, 2))}).tolist() == [[1, 1]]
        assert sess.run(y, {x: np.ones((3, 2))}).shape == (3,)


def test_session_feed_errors(graph):
    x = tf.placeholder(tf.float32, [None, 2])
    y = x * 2.0
    with tf.Session() as sess:
        with raises(
            InvalidArgumentError,
            "You must feed a value for placeholder tensor "
            "'Placeholder' with dtype float and shape [?,2]",
        ):
            sess.run(y)
        with raises(ValueError, "Cannot feed value of shape (3,) for Tensor Placeholder:0, "
                                "which has shape (None, 2)"):  # fmt: skip
            sess.run(y, {x: np.ones(3)})


def test_session_feeding_any_tensor_overrides_it(graph):
    a = tf.constant(1.0)
    b = a + 1.0
    with tf.Session() as sess:
        assert sess.run(b) == 2.0 and sess.run(b, {a: 10.0}) == 11.0


def test_session_placeholders_with_unknown_dims_broadcast(graph):
    x = tf.placeholder(tf.float32, [None, 1])
    y = tf.placeholder(tf.float32, [None, 1])
    v = tf.Variable([1.0, 2.0])
    z = tf.placeholder(tf.float32, [None])
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(x - y, {x: [[3.0]], y: [[1.0]]}).tolist() == [[2.0]]
        assert sess.run(z * v, {z: [2.0, 2.0]}).tolist() == [2.0, 4.0]


def test_session_lifecycle_and_errors(graph):
    c = tf.constant(1.0)
    with tf.Session() as sess:
        assert sess.run(c) == 1.0 and tf.get_default_session() is sess
    with raises(RuntimeError, "Attempted to use a closed Session."):
        sess.run(c)
    with raises(TypeError, "Fetch argument None has invalid type"):
        tf.Session().run(None)
    with tf.Graph().as_default():
        other = tf.constant(2.0)
    with raises(ValueError, "is not an element of this graph"):
        tf.Session().run(other)
    with raises(RuntimeError, "The Session graph is empty."):
        tf.Session(graph=tf.Graph()).run([])


def test_session_eval_run_and_interactive_session(graph):
    v = tf.Variable(2.0)
    c = v * 3.0
    with raises(ValueError, "Cannot evaluate tensor using `eval()`: No default session is "
                            "registered."):  # fmt: skip
        c.eval()
    with raises(ValueError, "Cannot execute operation using `run()`: No default session"):
        v.initializer.run()
    sess = tf.InteractiveSession()
    v.initializer.run()
    assert c.eval() == 6.0 and v.eval() == 2.0 and c.eval(session=sess) == 6.0
    sess.close()
    assert tf.get_default_session() is None


def test_session_caches_programs(graph):
    x = tf.placeholder(tf.float32, [None])
    y = x + 1.0
    with tf.Session() as sess:
        sess.run(y, {x: [1.0]})
        sess.run(y, {x: [2.0]})
        assert len(sess._programs) == 1
        sess.run(y, {x: [1.0, 2.0]})  # another fed shape
        assert len(sess._programs) == 2


def test_function_called_while_building_a_graph(graph):
    @tft.function
    def conditional_reset(var, condition):
        if condition:
            return tf.assign(var, tft.zeros_like(var))
        return var

    v = tf.Variable([1.0, 2.0])
    reset, keep = conditional_reset(v, True), conditional_reset(v, False)
    assert reset.op.type == "PartitionedCall"
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(keep).tolist() == [1.0, 2.0]
        assert sess.run(reset).tolist() == [0.0, 0.0] and sess.run(v).tolist() == [0.0, 0.0]


# --------------------------------------------------------------------------------- graphs


def test_graph_lookup_and_errors(graph):
    x = tf.placeholder(tf.float32, [2], name="x")
    y = tf.multiply(x, 2.0)
    assert graph.get_tensor_by_name("x:0").name == "x:0"
    assert graph.get_operation_by_name("x").type == "Placeholder"
    assert y.op.name == "multiply" and y.graph is graph and tf.get_default_graph() is graph
    assert [op.type for op in graph.get_operations()] == ["Placeholder", "Const", "Mul"]
    with raises(KeyError, "The name 'nope' refers to an Operation not in the graph."):
        graph.get_operation_by_name("nope")
    with raises(ValueError, "looks like an (invalid) Operation name, not a Tensor."):
        graph.get_tensor_by_name("x")
    with raises(KeyError, "exists but only has 1 outputs."):
        graph.get_tensor_by_name("x:1")
    graph.finalize()
    with raises(RuntimeError, "Graph is finalized and cannot be modified."):
        tf.constant(1.0)


def test_control_dependencies_and_group(graph):
    v = tf.Variable(0.0)
    first = v.assign_add(1.0)
    with tf.control_dependencies([first]):
        after = tf.identity(tf.constant(5.0))
    both = tf.group(v.assign_add(10.0), first, name="both")
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(after) == 5.0 and sess.run(v) == 1.0  # the dependency ran
        assert sess.run(both) is None and sess.run(v) == 12.0
        assert both.name == "both" and both.type == "NoOp" and len(both.control_inputs) == 2


def test_graph_prints_as_ir(graph):
    v = tf.Variable(1.0, name="v")
    v.assign_add(2.0)
    assert str(graph) == textwrap.dedent("""\
        { lambda v0:Var[f32[]] ; . let
            a:f32[] = const[value=1.0]  # v/Const
            v0 <- a  # v/Assign
            b:f32[] = const[value=2.0]  # Const
            c:f32[] <- v0  # v/Read
            d:f32[] = add c b  # add
            v0 <- d  # v/Assign_1
          in () }""")


def test_placeholder_needs_graph_mode():
    with raises(RuntimeError, "tf.placeholder() is not compatible with eager execution."):
        tf.placeholder(tf.float32)
    assert tf.executing_eagerly() and tf.global_variables_initializer() is None


def test_disable_eager_execution_and_reset_default_graph():
    code = """
        import tracefn.compat.v1 as tf
        tf.disable_eager_execution()
        assert not tf.executing_eagerly()
        v = tf.Variable(1.0)
        assert type(v).__name__ == "GraphVariable" and tf.global_variables() == [v]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            print(sess.run(v + 1.0))
        tf.reset_default_graph()
        assert tf.global_variables() == [] and tf.Variable(2.0).name == "Variable:0"
        with tf.Graph().as_default():
            try:
                tf.reset_default_graph()
            except AssertionError as e:
                print("nested:", str(e)[:44])
    """
    assert _subprocess(code) == ["2.0", "nested: Do not use tf.reset_default_graph() to clear"]


def _subprocess(code: str, env: dict | None = None) -> list[str]:
    import os

    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, **(env or {})})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


# ------------------------------------------------------------------------------- gradients


def test_gradients_of_variables_and_tensors(graph):
    w = tf.Variable([1.0, 2.0])
    x = tf.placeholder(tf.float32, [2])
    h = w * x
    loss = tf.reduce_sum(h * h)
    gw, gx, gh = tf.gradients(loss, [w, x, h])
    with tf.Session() as sess:
        sess.run(w.initializer)
        out = sess.run([gw, gx, gh], {x: [3.0, 4.0]})
    assert [o.tolist() for o in out] == [[18.0, 64.0], [6.0, 32.0], [6.0, 16.0]]
    assert graph.get_operations()[-1].type == "gradients"


def test_gradients_unconnected_and_grad_ys(graph):
    a, b = tf.Variable(2.0), tf.Variable(1.0)
    y = a * a
    assert tf.gradients(y, [a, b])[1] is None
    (gb,) = tf.gradients(y, [b], unconnected_gradients="zero")
    (ga,) = tf.gradients([y, a * 3.0], [a], grad_ys=[10.0, 1.0])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run([gb, ga]) == [0.0, 43.0]


def test_gradients_need_a_graph_or_function():
    with raises(RuntimeError, "tf.gradients is not supported when eager execution is enabled."):
        tf.gradients(tft.constant(1.0), [tft.constant(1.0)])

    @tft.function
    def grad(x):
        return tf.gradients(x * x * x, [x])[0]

    assert float(grad(tft.constant(2.0))) == 12.0


# ---------------------------------------------------------------------------- TF1 training


def _two_layer_model(x):
    def layer(inp):
        w = tf.get_variable("w", [2, 2], initializer=tf.constant_initializer([0.5, -0.2, 0.1, 0.3]))
        b = tf.get_variable("b", [2], initializer=tf.zeros_initializer())
        return tf.matmul(inp, w) + b

    with tf.variable_scope("shared"):
        h = tf.nn.relu(layer(x))
    with tf.variable_scope("shared", reuse=True):  # the second layer shares the weights
        return layer(h)


def test_tf1_model_with_shared_layers_trains_with_gradient_descent(graph):
    rng = np.random.default_rng(0)
    xs = rng.uniform(0, 1, (32, 2)).astype(np.float32)
    ys = xs @ np.array([[0.2, 0.1], [0.1, 0.3]], np.float32)
    x, y = tf.placeholder(tf.float32, [32, 2]), tf.placeholder(tf.float32, [32, 2])
    loss = tf.reduce_mean(tf.square(_two_layer_model(x) - y))
    train_op = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    assert [v.name for v in tf.trainable_variables()] == ["shared/w:0", "shared/b:0"]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(loss, {x: xs, y: ys})
        for _ in range(200):
            sess.run(train_op, {x: xs, y: ys})
        after = sess.run(loss, {x: xs, y: ys})
    assert after < before / 20


def test_tf1_linear_regression_loop(graph):
    xs = np.linspace(0, 1, 20, dtype=np.float32)[:, None]
    x, y = tf.placeholder(tf.float32, [20, 1]), tf.placeholder(tf.float32, [20, 1])
    W = tf.Variable(tf.zeros([1, 1]), name="W")
    b = tf.Variable(tf.zeros([1]), name="b")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, W) + b - y))
    step = tf.train.get_or_create_global_step()
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss, global_step=step)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(300):
            _, current = sess.run([train, loss], {x: xs, y: 3 * xs + 2})
        w_val, b_val, steps = sess.run([W, b, step])
    assert current < 1e-4 and steps == 300
    np.testing.assert_allclose([w_val.item(), b_val.item()], [3.0, 2.0], atol=1e-2)


def _numpy_steps(kind: str, n: int = 3) -> list[float]:
    x, slot, m, v = 1.0, 0.0, 0.0, 0.0
    out = []
    for t in range(1, n + 1):
        g = 2 * x
        if kind == "momentum":
            slot = 0.9 * slot + g
            x -= 0.1 * slot
        else:
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            x -= 0.1 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-8)
        out.append(x)
    return out


@pytest.mark.parametrize("kind", ["momentum", "adam"])
def test_momentum_and_adam_match_tf1_update_rules(graph, kind):
    v = tf.Variable(1.0)
    opt = (tf.train.MomentumOptimizer(0.1, 0.9) if kind == "momentum"
           else tf.train.AdamOptimizer(0.1))  # fmt: skip
    train = opt.minimize(v * v)
    assert all(not s.trainable for s in opt.variables())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = [sess.run([train, v])[1] for _ in range(3)]
    np.testing.assert_allclose(got, _numpy_steps(kind), rtol=1e-5)


def test_minimize_without_gradients(graph):
    v = tf.Variable(1.0)
    c = tf.Variable(2.0)
    with raises(ValueError, "No gradients provided for any variable"):
        tf.train.GradientDescentOptimizer(0.1).minimize(c * 2.0, var_list=[v])


def test_eager_minimize_with_a_loss_function(eager_store):
    v = tf.get_variable("v", [], initializer=tf.constant_initializer(1.0))
    opt = tf.train.GradientDescentOptimizer(0.25)
    for _ in range(2):
        opt.minimize(lambda: v * v, var_list=[v])
    assert float(v) == 0.25


# ----------------------------------------------------------------------- random and devices


def test_random_ops_in_graphs(graph):
    ints = tf.random_uniform([100], 0, 5, dtype=tf.int32, seed=1)
    normal = tf.truncated_normal([1000], stddev=2.0)
    with tf.Session() as sess:
        a, b = sess.run(ints), sess.run(ints)
        n = sess.run(normal)
    assert a.min() >= 0 and a.max() < 5 and not np.array_equal(a, b)
    assert np.abs(n).max() <= 4.0 and 1.5 < n.std() < 2.0


def test_device_placement_on_several_host_devices():
    code = """
        import warnings
        import tracefn as tft
        import tracefn.compat.v1 as tf
        with tf.device("/CPU:1"):
            v = tft.Variable(1.0)
        print(v.device, list(v._value.devices())[0].id)
        @tft.function
        def bump():
            v.assign_add(1.0)
            return v.read_value()
        bump()
        print(float(v), list(v._value.devices())[0].id)
        v.assign(5.0)
        print(float(v), list(v._value.devices())[0].id)
        with tf.device("/device:CPU:3"), tf.device(None):
            print(repr(tft.Variable(0.0).device)[:1])
        with tf.device(lambda var: "/cpu:2"):
            print(tft.Variable(0.0).device)
        try:
            with tf.device("/device:GPU:1"):
                tft.Variable(0.0)
        except tf.errors.InvalidArgumentError as e:
            print(str(e).split(" but ")[1][:61])
        tf.config.set_soft_device_placement(True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with tf.device("/device:GPU:1"):
                print(tft.Variable(0.0).device, len(caught))
        with tf.Graph().as_default():
            with tf.device("/CPU:2"):
                g = tf.get_variable("g", [], initializer=tf.ones_initializer())
            with tf.Session() as sess:
                sess.run(g.initializer)
                sess.run(g.assign_add(1.0))
                print(g.device, sess.run(g), list(sess._store[id(g)].devices())[0].id)
    """
    out = _subprocess(code, {"XLA_FLAGS": "--xla_force_host_platform_device_count=4",
                             "JAX_PLATFORMS": "cpu"})  # fmt: skip
    assert out == [
        "/job:localhost/replica:0/task:0/device:CPU:1 1",
        "2.0 1",
        "5.0 1",
        "'",
        "/job:localhost/replica:0/task:0/device:CPU:2",
        "available devices are [ /job:localhost/replica:0/task:0/devic",
        "/job:localhost/replica:0/task:0/device:CPU:0 1",
        "/job:localhost/replica:0/task:0/device:CPU:2 2.0 2",
    ]


def test_replica_device_setter_places_variables_round_robin():
    with tft.device(tf.train.replica_device_setter(ps_tasks=2)):
        a, b, c = (tft.Variable(float(i)) for i in range(3))
    assert [a.device, b.device, c.device] == ["/job:ps/task:0", "/job:ps/task:1",
                                               "/job:ps/task:0"]  # fmt: skip
    with tft.Graph().as_default():
        with tf.device(tf.train.replica_device_setter(ps_tasks=2)):
            x, y = tf.Variable(1.0), tf.Variable(2.0)
        assert [x.device, y.device] == ["/job:ps/task:0", "/job:ps/task:1"]
