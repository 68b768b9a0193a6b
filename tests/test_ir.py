"""The IR layer: golden printouts of traced graphs and the verifier's rules."""

import pytest

import tracefn as tf
from tracefn import ir
from tracefn.errors import VerificationError
from tracefn.ir import Graph, Op, TensorType, Value
from tracefn.primitives import P
from tracefn.verify import verify

F32 = TensorType((3,), tf.float32)


def test_golden_print_of_a_stateful_step():
    v = tf.Variable([1.0, 2.0, 3.0], name="w")

    @tf.function
    def step(x, n):
        v.assign(v * x)
        y = tf.reduce_sum(v.read_value(), axis=0, keepdims=True)
        return y + n

    cf = step.get_concrete_function(tf.TensorSpec([3], tf.float32), 2.0)
    assert str(cf.graph) == (
        "{ lambda v0:Var[f32[3]] ; a:f32[3]. let\n"
        "    b:f32[3] <- v0\n"
        "    c:f32[3] = multiply b a\n"
        "    v0 <- c\n"
        "    d:f32[3] <- v0\n"
        "    e:f32[3] = identity d\n"
        "    f:f32[1] = reduce_sum[axis=(0,) keepdims=True] e\n"
        "    g:f32[] = const[value=2.0]\n"
        "    h:f32[1] = add f g\n"
        "  in (h,) }"
    )
    assert cf.graph.reads == [v] and cf.graph.writes == [v]


def test_golden_print_with_regions():
    v = tf.Variable(0.0)

    @tf.function
    def f(x):
        return tf.cond(x > 0, lambda: v.assign_add(x), lambda: v.assign(0.0)) * 2.0

    text = str(f.get_concrete_function(tf.TensorSpec([], tf.float32)).graph)
    assert text == (
        "{ lambda v0:Var[f32[]] ; a:f32[]. let\n"
        "    b:f32[] = const[value=0.0]\n"
        "    c:bool[] = greater a b\n"
        "    d:f32[] = cond c\n"
        "      true { let\n"
        "          e:f32[] <- v0\n"
        "          f:f32[] = add e a\n"
        "          v0 <- f\n"
        "          g:f32[] <- v0\n"
        "        in (g,) }\n"
        "      false { let\n"
        "          h:f32[] = const[value=0.0]\n"
        "          v0 <- h\n"
        "          i:f32[] <- v0\n"
        "        in (i,) }\n"
        "    j:f32[] = const[value=2.0]\n"
        "    k:f32[] = multiply d j\n"
        "  in (k,) }"
    )


def test_print_source_locations_point_at_user_lines():
    @tf.function
    def f(x):
        return x * 2.0  # the op's source line

    graph = f.get_concrete_function(tf.TensorSpec([], tf.float32)).graph
    text = ir.pretty(graph, source=True)
    assert "test_ir.py:" in text and "(f)" in text
    line = [op for op in graph.ops if op.prim is P.multiply][0].source[1]
    import inspect

    src_lines, start = inspect.getsourcelines(f.python_function)
    assert "x * 2.0" in src_lines[line - start]


def _graph(ops, inputs, outputs):
    return Graph(inputs=inputs, ops=ops, outputs=outputs)


def test_verifier_accepts_a_well_formed_graph():
    a = Value(F32)
    op = Op(P.add, [a, a], {}, [F32])
    verify(_graph([op], [a], op.outputs))


def test_verifier_rejects_use_before_definition():
    a, stray = Value(F32), Value(F32)
    op = Op(P.add, [a, stray], {}, [F32])
    with pytest.raises(VerificationError, match="input #1 .* used before it is defined"):
        verify(_graph([op], [a], op.outputs))


def test_verifier_rejects_double_definition():
    a = Value(F32)
    op = Op(P.negative, [a], {}, [F32])
    op.outputs[0] = a
    a.producer = op
    with pytest.raises(VerificationError, match="defined twice"):
        verify(_graph([op], [a], [a]))


def test_verifier_rejects_wrong_output_type():
    a = Value(F32)
    op = Op(P.add, [a, a], {}, [TensorType((4,), tf.float32)])
    with pytest.raises(VerificationError, match=r"output #0 is f32\[4\] but the shape rule gives"):
        verify(_graph([op], [a], op.outputs))


def test_verifier_rejects_undefined_graph_output():
    a = Value(F32)
    with pytest.raises(VerificationError, match="output #0 .* not defined"):
        verify(_graph([], [], [a]))


def test_verifier_rejects_undeclared_variable():
    v, w = tf.Variable(1.0), tf.Variable(2.0)
    from tracefn.variables import read_variable

    op = Op(read_variable, [], {"var": w}, [TensorType((), tf.float32)])
    g = Graph(ops=[op], outputs=op.outputs, variables=[v])
    with pytest.raises(VerificationError, match="not declared"):
        verify(g)


def test_verifier_rejects_branches_with_other_dtypes():
    from tracefn.control_flow import cond_p

    p = Value(TensorType((), tf.bool))
    t = Graph(outputs=[p])
    c = Op(P.cast, [p], {"dtype": tf.float32}, [TensorType((), tf.float32)])
    f = Graph(ops=[c], outputs=c.outputs)
    op = Op(cond_p, [p], {"_writes": ()}, [TensorType((), tf.bool)], regions=[t, f])
    with pytest.raises(VerificationError, match="false branch's output types"):
        verify(_graph([op], [p], op.outputs))


def test_clone_maps_variables():
    v, w = tf.Variable(1.0), tf.Variable(2.0)

    @tf.function
    def f():
        v.assign_add(1.0)

    g = f.get_concrete_function().graph
    c = ir.clone(g, {id(v): w})
    assert c.writes == [w] and g.writes == [v]
    assert c.ops[0] is not g.ops[0]
