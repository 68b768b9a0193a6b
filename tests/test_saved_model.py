"""Export of compiled functions with ``tracefn.saved_model``: programs serialized with
``jax.export`` plus the variables' values, loaded where the defining module does not exist."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tracefn as tf
from tracefn import saved_model
from tracefn.checkpoint import Checkpoint

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Dense(tf.Module):
    def __init__(self):
        super().__init__()
        self.kernel = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="kernel")
        self.bias = tf.Variable(np.ones(2, np.float32), name="bias")


class Model(tf.Module):
    def __init__(self):
        super().__init__()
        self.dense = Dense()
        self.calls = tf.Variable(0, name="calls")

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def __call__(self, x):
        self.calls.assign_add(1)
        return tf.matmul(x, self.dense.kernel) + self.dense.bias

    @tf.function
    def scaled(self, x, factor=2.0):
        return {"y": x * factor, "n": self.calls.read_value(), "tag": "scaled"}

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
    def train(self, delta):
        self.dense.bias.assign_add(delta)
        return self.dense.bias.read_value()


def batch(n):
    return np.arange(3 * n, dtype=np.float32).reshape(n, 3)


def test_roundtrip_stateful_and_shape_polymorphic(tmp_path):
    m = Model()
    m.scaled(np.ones(2, np.float32))
    m.scaled(np.ones((2, 2), np.float32), factor=3.0)
    saved_model.save(m, str(tmp_path / "m"), signatures=m.__call__)
    loaded = saved_model.load(str(tmp_path / "m"))
    for n in (1, 4, 7):  # one export, any batch size
        np.testing.assert_array_equal(loaded(batch(n)).numpy(), m(batch(n)).numpy())
    assert int(loaded.calls) == 3 and int(m.calls) == 3  # each side updates its own state
    np.testing.assert_array_equal(loaded.train(np.ones(2, np.float32)).numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(loaded.dense.bias.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(m.dense.bias.numpy(), [1.0, 1.0])
    out = loaded.scaled(np.ones((2, 2), np.float32), factor=3.0)
    assert sorted(out) == ["n", "tag", "y"] and out["tag"] == "scaled"
    assert float(out["y"].numpy()[0, 0]) == 3.0 and int(out["n"]) == 3
    assert loaded.signatures["serving_default"](x=batch(2)).shape == (2, 2)


def test_loaded_variables_form_the_saved_attribute_tree(tmp_path):
    m = Model()
    m(batch(1))
    saved_model.save(m, str(tmp_path / "m"))
    loaded = saved_model.load(str(tmp_path / "m"))
    names = sorted(v.name for v in loaded.variables)
    assert names == ["bias:0", "calls:0", "kernel:0"]
    assert len(loaded.trainable_variables) == 3
    np.testing.assert_array_equal(loaded.dense.kernel.numpy(), m.dense.kernel.numpy())
    # The loaded variables are ordinary tracefn variables: checkpointable like any other.
    ckpt = Checkpoint(model=loaded)
    path = ckpt.write(str(tmp_path / "ckpt"))
    loaded.train(np.ones(2, np.float32))
    ckpt.read(path).assert_consumed()
    np.testing.assert_array_equal(loaded.dense.bias.numpy(), [1.0, 1.0])


def test_arguments_matching_no_trace_raise_a_clear_error(tmp_path):
    m = Model()
    m.scaled(np.ones(2, np.float32))
    saved_model.save(m, str(tmp_path / "m"))
    loaded = saved_model.load(str(tmp_path / "m"))
    with pytest.raises(TypeError, match=r"'scaled' has no exported trace.*x: float32\[2\]"):
        loaded.scaled(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"factor must be 2.0, got 5.0"):
        loaded.scaled(np.ones(2, np.float32), factor=5.0)
    with pytest.raises(TypeError, match=r"x must be float32, got int32"):
        loaded(np.ones((2, 3), np.int32))


class Trainer(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(np.ones((3, 1), np.float32), name="w")
        self.opt = tf.optimizers.Adam(0.1)

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32),
                                  tf.TensorSpec([None, 1], tf.float32)])  # fmt: skip
    def train(self, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((tf.matmul(x, self.w) - y) ** 2)
        self.opt.apply_gradients(zip(tape.gradient(loss, [self.w]), [self.w]))
        return loss


def test_exported_training_step_continues_exactly(tmp_path):
    x = np.random.RandomState(0).rand(8, 3).astype(np.float32)
    y = 2 * x.sum(axis=1, keepdims=True)
    trainer = Trainer()
    trainer.train(x, y)  # creates Adam's slots, which are exported with the rest
    saved_model.save(trainer, str(tmp_path / "t"))
    loaded = saved_model.load(str(tmp_path / "t"))
    # `x @ w - y` needs x and y to share their unknown batch size: exported with one symbol.
    got = [float(loaded.train(x[:n], y[:n])) for n in (8, 5, 8)]
    want = [float(trainer.train(x[:n], y[:n])) for n in (8, 5, 8)]
    assert got == want
    np.testing.assert_array_equal(loaded.w.numpy(), trainer.w.numpy())
    with pytest.raises(TypeError, match=r"must share it .* sizes \[3, 8\]"):
        loaded.train(x, y[:3])


def test_unexportable_programs_are_reported(tmp_path):
    class Printer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
        def show(self, x):
            tf.print(x)
            return x

    with pytest.raises(ValueError, match=r"Cannot export 'show'.*call back into Python"):
        saved_model.save(Printer(), str(tmp_path / "p"))
    assert not os.listdir(tmp_path)  # nothing half-written left behind
    with pytest.raises(ValueError, match="needs an input_signature"):
        saved_model.save(Model(), str(tmp_path / "q"), signatures=Model().scaled)


DEFINE = textwrap.dedent(
    """
    import numpy as np
    import tracefn as tf

    class Counter(tf.Module):
        def __init__(self):
            super().__init__()
            self.total = tf.Variable(np.zeros(3, np.float32), name="total")
            self.steps = tf.Variable(0, name="steps")

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def update(self, x):
            self.total.assign_add(tf.reduce_sum(x, axis=0))
            self.steps.assign_add(1)
            return self.total * tf.cast(self.steps, tf.float32)
    """
)

EXPORT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import mymodel_for_export as mm
    from tracefn import saved_model

    c = mm.Counter()
    c.update(np.ones((2, 3), np.float32))
    saved_model.save(c, sys.argv[1])
    """
)

LOAD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    try:
        import mymodel_for_export
        sys.exit("the defining module must not be importable here")
    except ModuleNotFoundError:
        pass
    from tracefn import saved_model

    loaded = saved_model.load(sys.argv[1])
    first = loaded.update(np.ones((4, 3), np.float32)).numpy().tolist()
    second = loaded.update(np.full((1, 3), 2.0, np.float32)).numpy().tolist()
    print(json.dumps({"first": first, "second": second, "steps": int(loaded.steps),
                      "total": loaded.total.numpy().tolist()}))
    """
)


def run(script, *args, pythonpath):
    env = dict(os.environ, PYTHONPATH=pythonpath, JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, str(script), *map(str, args)], env=env, text=True,
                          capture_output=True, timeout=120)  # fmt: skip


def test_exported_stateful_function_runs_in_a_fresh_process_without_its_module(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "mymodel_for_export.py").write_text(DEFINE)
    (tmp_path / "export.py").write_text(EXPORT)
    (tmp_path / "load.py").write_text(LOAD)
    out = tmp_path / "exported"
    done = run(tmp_path / "export.py", out, pythonpath=f"{REPO}{os.pathsep}{src}")
    assert done.returncode == 0, done.stderr[-3000:]
    (src / "mymodel_for_export.py").unlink()
    result = run(tmp_path / "load.py", out, pythonpath=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    # Saved after one update (total 2, steps 1); the loaded copy continues from there.
    assert got["first"] == [12.0, 12.0, 12.0]  # total 6 * steps 2
    assert got["second"] == [24.0, 24.0, 24.0]  # total 8 * steps 3
    assert got["steps"] == 3 and got["total"] == [8.0, 8.0, 8.0]
