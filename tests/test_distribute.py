"""tracefn.distribute: strategies on jax meshes and shardings (issue 8).

jax fixes its device count when a process starts, so the 8-device checks run in one
subprocess (``XLA_FLAGS=--xla_force_host_platform_device_count=8``) that prints its findings as
JSON, and the two-process checks run two workers on localhost (gloo CPU collectives). This
file is also that subprocess's script: ``python tests/test_distribute.py eight|worker ...``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from jax.sharding import PartitionSpec

import tracefn as tf
from tracefn import distribute as td

P = PartitionSpec
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 4
RTOL, ATOL = 1e-5, 1e-6

# ----------------------------------------------------------- the model every scenario trains


def make_data(steps: int = STEPS, batch: int = 32) -> list:
    rng = np.random.RandomState(0)
    xs = rng.randn(steps, batch, 8).astype(np.float32)
    ys = np.tanh(xs @ rng.randn(8, 2)).astype(np.float32)
    return list(zip(xs, ys))


def make_model(seed: int = 1) -> list:
    rng = np.random.RandomState(seed)
    return [
        tf.Variable((rng.randn(8, 16) * 0.3).astype(np.float32), name="dense/kernel"),
        tf.Variable(np.zeros(16, np.float32), name="dense/bias"),
        tf.Variable((rng.randn(16, 2) * 0.3).astype(np.float32), name="out/kernel"),
    ]


def make_step(vs: list, lr: float = 0.1, compiled: bool = True):
    w1, b1, w2 = vs

    def step(x, y):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.matmul(x, w1) + b1)
            loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) - y))
        grads = tape.gradient(loss, vs)
        for v, g in zip(vs, grads):
            v.assign_sub(lr * g)
        return loss

    return tf.function(step) if compiled else step


def train(strategy=None, seed: int = 1, compiled: bool = True) -> dict:
    """Train the model; report losses, final variables and each step's variable shardings."""
    strategy = strategy or td.get_strategy()
    with strategy.scope():
        vs = make_model(seed)
    step = make_step(vs, compiled=compiled)
    out: dict = {"losses": [], "specs": [[_spec(v) for v in vs]]}  # as created, then per step
    for x, y in strategy.experimental_distribute_dataset(make_data()):
        loss = strategy.run(step, args=(x, y))
        out["losses"].append(float(strategy.reduce("MEAN", loss, axis=None)))
        out["specs"].append([_spec(v) for v in vs])
    out["vars"] = {v.name: v.numpy().tolist() for v in vs}
    if compiled:
        out["collectives"] = td.count_collectives(td.compiled_text(step, x, y))
    return out


def train_lazily(strategy) -> dict | None:
    """Variables created by the step's first trace, updated by a Keras optimizer whose slots
    are created there too (``None`` if tracefn.keras is not available)."""
    try:
        import tracefn.keras  # noqa: F401
    except ImportError:
        return None
    with strategy.scope():
        opt = tf.keras.optimizers.Adam(0.01)
    made: list = []

    @tf.function
    def step(x, y):
        if not made:
            made.extend(make_model())
        w1, b1, w2 = made
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.matmul(x, w1) + b1)
            loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) - y))
        opt.apply_gradients(zip(tape.gradient(loss, made), made))
        return loss

    losses = [float(strategy.run(step, args=b)) for b in (
        strategy.experimental_distribute_dataset(make_data()))]  # fmt: skip
    return {"losses": losses, "vars": {v.name: v.numpy().tolist() for v in made},
            "specs": [_spec(v) for v in made + list(opt.variables)]}  # fmt: skip


def _spec(v) -> str:
    """``'8:(None, 'model')'``: the device count and the PartitionSpec, trailing Nones cut."""
    sharding = v._value.sharding
    spec = list(getattr(sharding, "spec", None) or ())
    while spec and spec[-1] is None:
        spec.pop()
    return f"{len(sharding.device_set)}:{tuple(spec)}"


def assert_same_training(got: dict, want: dict) -> None:
    np.testing.assert_allclose(got["losses"], want["losses"], rtol=RTOL, atol=ATOL)
    for name, value in want["vars"].items():
        np.testing.assert_allclose(got["vars"][name], value, rtol=RTOL, atol=ATOL, err_msg=name)


# ------------------------------------------------------------ the 8-device subprocess script


def eight_device_report() -> dict:
    import jax

    mesh_rules = [("dense/kernel", P(None, "model")), ("out/kernel", P("model", None))]
    report = {
        "devices": jax.device_count(),
        "single": train(),
        "mirrored": train(td.MirroredStrategy()),
        "mesh8": train(td.MeshStrategy((8,), ("model",), rules=mesh_rules)),
        "mesh2x4": train(td.MeshStrategy((2, 4), ("batch", "model"), rules=mesh_rules)),
        "eager": train(td.MirroredStrategy(), compiled=False),
        "lazy_single": train_lazily(td.get_strategy()),
        "lazy_mirrored": train_lazily(td.MirroredStrategy()),
    }
    for part in (_sharded_bytes(), _mixed_placements(), _drift(), _input_checks()):
        report.update(part)
    return report


def _sharded_bytes() -> dict:
    strategy = td.MeshStrategy((8,), ("model",), rules=[("big", P("model"))])
    with strategy.scope():
        big = tf.Variable(np.ones((64, 32), np.float32), name="big")
    shards = big._value.addressable_shards
    return {"bytes": {"total": big._value.nbytes, "per_device": [s.data.nbytes for s in shards]}}


def _mixed_placements() -> dict:
    import jax

    strategy = td.MirroredStrategy()
    with strategy.scope():
        w = tf.Variable(np.ones(3, np.float32), name="w")
    loose = tf.Variable(1.0, name="loose")  # outside the scope: uncommitted, on device 0
    pinned = tf.Variable(jax.device_put(np.float32(1.0), jax.devices()[3]), name="pinned")

    @tf.function
    def with_loose():
        loose.assign_add(tf.reduce_sum(w))
        return loose.read_value()

    @tf.function
    def with_pinned():
        pinned.assign_add(tf.reduce_sum(w))
        return pinned.read_value()

    out = {"loose": float(strategy.run(with_loose)), "loose_after": _spec(loose)}
    for key, call in (("run", lambda: strategy.run(with_pinned)), ("direct", with_pinned)):
        try:
            call()
            out[f"pinned_{key}"] = "no error"
        except ValueError as e:
            out[f"pinned_{key}"] = str(e)
    out["pinned_value"] = float(pinned.numpy())
    return {"mixed": out}


def _drift() -> dict:
    """Written variables that the step gives a value of another sharding."""
    strategy = td.MeshStrategy((8,), ("model",), rules=[("kernel", P(None, "model"))])
    with strategy.scope():
        kernel = tf.Variable(np.ones((4, 16), np.float32), name="kernel")

    @tf.function
    def reset():
        kernel.assign(tf.zeros([4, 16]))
        return tf.constant(0.0)

    want = _spec(kernel)
    reset()
    compiled = _spec(kernel)
    kernel.assign(np.ones((4, 16), np.float32))
    return {"drift": {"want": want, "compiled_assign": compiled, "eager_assign": _spec(kernel)}}


def _input_checks() -> dict:
    strategy = td.MirroredStrategy()
    try:
        next(iter(strategy.experimental_distribute_dataset([np.ones((10, 2), np.float32)])))
        uneven = "no error"
    except ValueError as e:
        uneven = str(e)
    batch = next(iter(strategy.experimental_distribute_dataset([np.arange(16.0)])))
    local = strategy.experimental_local_results(batch)
    per_fn = strategy.distribute_datasets_from_function(
        lambda ctx: [np.full((ctx.get_per_replica_batch_size(16), 2), i, np.float32)
                     for i in range(16)])  # fmt: skip
    first = next(iter(per_fn))
    return {"input": {"uneven": uneven, "local": [t.numpy().tolist() for t in local],
                      "from_fn": first.numpy()[:, 0].tolist()}}  # fmt: skip


# ----------------------------------------------------------- the two-process worker script


def worker_report(process_id: int, port: int) -> dict:
    # Process 0 finds the cluster in TF_CONFIG, process 1 in TRACEFN_* (both paths in use).
    strategy = td.MultiWorkerMirroredStrategy()
    import jax

    # A different seed per process: the strategy must start both from process 0's values.
    result = train(strategy, seed=1 + process_id)
    result.update(process_count=jax.process_count(), replicas=strategy.num_replicas_in_sync)
    return result


def _worker_env(process_id: int, port: int) -> dict:
    if process_id == 0:
        cluster = {"worker": [f"localhost:{port}", "localhost:1"]}
        return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker",
                                                                       "index": 0}})}  # fmt: skip
    return {"TRACEFN_COORDINATOR": f"localhost:{port}", "TRACEFN_NUM_PROCESSES": "2",
            "TRACEFN_PROCESS_ID": str(process_id)}  # fmt: skip


# ------------------------------------------------------------------------------- fixtures


def _env(devices: int, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACEFN_", "TF_CONFIG"))}
    env.update(XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu", **(extra or {}))  # fmt: skip
    return env


def _result(stdout: str, stderr: str) -> dict:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"the subprocess printed no result.\nstdout:\n{stdout}\nstderr:\n{stderr}"
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture(scope="module")
def eight() -> dict:
    proc = subprocess.run([sys.executable, __file__, "eight"], env=_env(8), cwd=ROOT,
                          capture_output=True, text=True, timeout=240)  # fmt: skip
    return _result(proc.stdout, proc.stderr)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes() -> list:
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, __file__, "worker", str(i), str(port)],
                              env=_env(2, _worker_env(i, port)), cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(2)]  # fmt: skip
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=240))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail("the two-process run timed out (jax.distributed over localhost)")
    return [_result(out, err) for out, err in outputs]


@pytest.fixture(scope="module")
def reference() -> dict:
    return train()


# --------------------------------------------------------------------- 8 devices, 1 process


def test_eight_devices_are_used(eight):
    assert eight["devices"] == 8
    assert eight["mirrored"]["specs"][0] == ["8:()"] * 3


def test_mirrored_training_matches_single_device(eight):
    assert_same_training(eight["mirrored"], eight["single"])


def test_eager_steps_on_sharded_arrays_match_single_device(eight):
    assert_same_training(eight["eager"], eight["single"])
    assert eight["eager"]["specs"][-1] == ["8:()"] * 3


def test_variables_and_optimizer_slots_created_in_the_first_trace(eight):
    assert eight["lazy_single"] is not None
    assert_same_training(eight["lazy_mirrored"], eight["lazy_single"])
    assert set(eight["lazy_mirrored"]["specs"]) == {"8:()"}


def test_mirrored_gradient_all_reduce_inserted_by_xla(eight):
    assert eight["mirrored"]["collectives"]["all-reduce"] >= 1
    assert eight["single"]["collectives"] == dict.fromkeys(td.hlo.COLLECTIVES, 0)


def test_mirrored_variables_stay_replicated_across_steps(eight):
    assert eight["mirrored"]["specs"] == [["8:()"] * 3] * (STEPS + 1)


def test_mesh_variables_are_created_with_their_rule_sharding(eight):
    assert eight["mesh8"]["specs"][0] == ["8:(None, 'model')", "8:()", "8:('model',)"]
    assert eight["mesh2x4"]["specs"][0] == ["8:(None, 'model')", "8:()", "8:('model',)"]


def test_mesh_variables_keep_their_sharding_across_steps(eight):
    for case in ("mesh8", "mesh2x4"):
        specs = eight[case]["specs"]
        assert all(s == specs[0] for s in specs), (case, specs)


def test_mesh_training_matches_single_device(eight):
    assert_same_training(eight["mesh8"], eight["single"])
    assert_same_training(eight["mesh2x4"], eight["single"])


def test_sharded_variable_holds_an_eighth_per_device(eight):
    b = eight["bytes"]
    assert b["total"] == 64 * 32 * 4
    assert b["per_device"] == [b["total"] // 8] * 8


def test_variable_outside_scope_is_transferred_not_wrong(eight):
    # Documented: an uncommitted variable joins the step's devices (jax moves it); its value
    # is right, and after a write it lives replicated on the strategy's devices.
    assert eight["mixed"]["loose"] == 4.0
    assert eight["mixed"]["loose_after"] == "8:()"


def test_variable_pinned_to_one_device_is_a_clear_error(eight):
    message = eight["mixed"]["pinned_run"]
    assert "live on different devices" in message
    assert "pinned:0: device 3" in message and "w:0: replicated over devices" in message
    assert "pinned:0: device 3" in eight["mixed"]["pinned_direct"]
    assert eight["mixed"]["pinned_value"] == 1.0  # a failed step changes nothing


def test_assigned_values_are_put_back_on_the_variable_sharding(eight):
    drift = eight["drift"]
    assert drift["compiled_assign"] == drift["want"]
    assert drift["eager_assign"] == drift["want"]


def test_uneven_batch_is_a_clear_error(eight):
    assert (
        "A batch of 10 examples cannot be split evenly over 8 replicas"
        in (eight["input"]["uneven"])
    )


def test_local_results_and_per_replica_datasets(eight):
    assert eight["input"]["local"] == [[2.0 * i, 2.0 * i + 1] for i in range(8)]
    # distribute_datasets_from_function: one per-replica batch for each of the 8 replicas.
    assert eight["input"]["from_fn"] == [float(i) for i in range(8) for _ in range(2)]


# ---------------------------------------------------------------------- 2 processes


def test_two_processes_match_single_process(two_processes, reference):
    for result in two_processes:
        assert result["process_count"] == 2 and result["replicas"] == 4
        assert result["specs"][-1] == ["4:()"] * 3
        assert_same_training(result, reference)


# ------------------------------------------------------------------- in this process


def test_default_strategy():
    assert not td.has_strategy()
    strategy = td.get_strategy()
    assert strategy.num_replicas_in_sync == 1 and strategy.mesh is None
    with strategy.scope():
        assert not td.has_strategy()
    assert strategy.run(lambda a, b=0: a + b, args=(1,), kwargs={"b": 2}) == 3


def test_scope_places_variables_and_sets_current_strategy():
    strategy = td.MirroredStrategy()
    with strategy.scope() as s:
        assert s is strategy and td.has_strategy() and td.get_strategy() is strategy
        v = tf.Variable([1.0, 2.0], name="placed")
    assert not td.has_strategy()
    assert v._sharding == strategy.variable_sharding(v) and v._value.sharding == v._sharding
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])

    @tf.function
    def bump():
        v.assign_add([1.0, 1.0])

    bump(), bump()  # donates the variable's buffer: the initial value must not share it
    np.testing.assert_array_equal(v.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(v.initial_value.numpy(), [1.0, 2.0])


def test_mixing_strategies_is_an_error():
    a, b = td.MirroredStrategy(), td.MeshStrategy((1,), ("model",))
    with a.scope(), pytest.raises(ValueError, match="Mixing different tf.distribute.Strategy"):
        with b.scope():
            pass


def test_mirrored_one_device_training_matches_plain(reference):
    import jax

    assert_same_training(train(td.MirroredStrategy([jax.local_devices()[0]])), reference)


def test_reduce():
    strategy = td.MirroredStrategy()
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert strategy.reduce(td.ReduceOp.SUM, x, axis=None) is x
    np.testing.assert_allclose(strategy.reduce("sum", x, axis=0).numpy(), [4.0, 6.0])
    np.testing.assert_allclose(strategy.reduce("MEAN", {"a": x}, axis=1)["a"].numpy(), [1.5, 3.5])
    with pytest.raises(ValueError, match="reduce_op must be"):
        strategy.reduce("MAX", x)


def test_reduce_inside_a_function():
    strategy = td.MirroredStrategy()

    @tf.function
    def f(x):
        return strategy.reduce("SUM", strategy.run(lambda t: t * 2.0, args=(x,)), axis=0)

    np.testing.assert_allclose(f(tf.constant([1.0, 2.0])).numpy(), 6.0)


def test_distribute_dataset_keeps_structure():
    strategy = td.MirroredStrategy()
    data = [{"x": np.ones((4, 2), np.float32), "y": (np.zeros(4, np.int32), 3)}]
    (batch,) = list(strategy.experimental_distribute_dataset(data))
    assert isinstance(batch["x"], tf.EagerTensor) and batch["x"].shape == (4, 2)
    assert batch["y"][0].dtype == tf.int32 and int(batch["y"][1]) == 3


def test_input_context():
    ctx = td.InputContext(2, 1, 4)
    assert ctx.get_per_replica_batch_size(64) == 16
    with pytest.raises(ValueError, match="is not divisible by `num_replicas_in_sync` 4"):
        ctx.get_per_replica_batch_size(10)


def test_mesh_strategy_errors():
    with pytest.raises(ValueError, match=r"mesh_shape \(2, 4\) needs 8 devices; 1 are"):
        td.MeshStrategy((2, 4))
    strategy = td.MeshStrategy((1,), ("model",), rules=[("w", P(None, None, "model")),
                                                         ("u", P("data"))])  # fmt: skip
    with strategy.scope():
        with pytest.raises(ValueError, match="names 3 dimensions; it has 2"):
            tf.Variable(np.ones((2, 2), np.float32), name="w")
        with pytest.raises(ValueError, match="over mesh axis 'data'; the mesh has axes"):
            tf.Variable(np.ones(2, np.float32), name="u")


def test_mesh_strategy_rules_first_match_wins():
    strategy = td.MeshStrategy((1,), ("model",), rules=[(r"kernel$", ("model",)),
                                                         (r"dense/", P())])  # fmt: skip
    with strategy.scope():
        k = tf.Variable(np.ones((2, 2), np.float32), name="dense/kernel")
        b = tf.Variable(np.ones(2, np.float32), name="dense/bias")
    assert k._value.sharding.spec == P("model") and b._value.sharding.spec == P()
    assert strategy.num_replicas_in_sync == 1  # no batch axis


def test_count_collectives():
    text = ("%all-reduce.2 = (f32[], f32[3,4]{1,0}) all-reduce(%a, %b), to_apply=%r\n"
            "%ag = f32[8]{0} all-gather-start(%c)\n%d = f32[8]{0} all-gather-done(%ag)\n"
            "%rs = f32[2]{0} reduce-scatter(%e)")  # fmt: skip
    counts = td.count_collectives(text)
    assert counts["all-reduce"] == 1 and counts["all-gather"] == 1
    assert counts["reduce-scatter"] == 1 and counts["all-to-all"] == 0


# ---------------------------------------------------------------------- device placement


def test_replica_device_setter_round_robin():
    setter = td.replica_device_setter(ps_tasks=2)
    assert [setter(op) for op in ("VariableV2", "VarHandleOp", "VariableV2", "MatMul")] == [
        "/job:ps/task:0",
        "/job:ps/task:1",
        "/job:ps/task:0",
        "/job:worker",
    ]


def test_replica_device_setter_with_variables_and_merging():
    setter = td.replica_device_setter(ps_tasks=3, worker_device="/job:worker/task:1")
    v = tf.Variable(1.0)
    assert setter(v) == "/job:ps/task:0"

    class Op:
        type, device = "MatMul", "/device:GPU:0"

    assert setter(Op()) == "/job:worker/task:1/device:GPU:0"
    Op.type, Op.device = "VariableV2", "/job:other"
    assert setter(Op()) == "/job:other"  # another job: no task is chosen for it


def test_replica_device_setter_cluster_and_none():
    assert td.replica_device_setter(ps_tasks=0) is None
    assert td.replica_device_setter(cluster={"worker": ["a:1"]}) is None
    setter = td.replica_device_setter(cluster={"ps": ["a:1", "b:1"], "worker": ["c:1"]})
    assert [setter("VariableV2") for _ in range(3)] == [
        "/job:ps/task:0",
        "/job:ps/task:1",
        "/job:ps/task:0",
    ]


def test_device_spec_and_resolve_device():
    import jax

    spec = td.DeviceSpec.from_string("/job:ps/replica:0/task:1/device:GPU:0")
    assert spec.to_string() == "/job:ps/replica:0/task:1/device:GPU:0"
    assert td.DeviceSpec.from_string("/cpu:1").to_string() == "/device:CPU:1"
    assert td.resolve_device("/job:worker") is None
    assert td.resolve_device("/cpu:0") == jax.local_devices(backend="cpu")[0]
    assert td.resolve_device("/job:ps/task:5") is None
    assert td.resolve_device("/job:ps/task:0/device:GPU:0") == jax.local_devices()[0]  # soft
    with pytest.raises(ValueError, match="does not exist"):
        td.resolve_device("/cpu:999")
    with pytest.raises(ValueError, match="Unknown attribute"):
        td.DeviceSpec.from_string("/bogus:1")


# ---------------------------------------------------------------------- cluster configuration


def test_cluster_config_sources():
    assert td.cluster_config(environ={}) == td.ClusterConfig(None, 1, 0)
    env = {"TRACEFN_COORDINATOR": "h:1", "TRACEFN_NUM_PROCESSES": "4", "TRACEFN_PROCESS_ID": "2"}
    assert td.cluster_config(environ=env) == td.ClusterConfig("h:1", 4, 2)
    assert td.cluster_config(process_id=3, environ=env) == td.ClusterConfig("h:1", 4, 3)
    tf_config = {"cluster": {"chief": ["c:1"], "worker": ["w:1", "w:2"]},
                 "task": {"type": "worker", "index": 1}}  # fmt: skip
    assert td.cluster_config(environ={"TF_CONFIG": json.dumps(tf_config)}) == (
        td.ClusterConfig("c:1", 3, 2)
    )


def test_cluster_config_errors():
    with pytest.raises(ValueError, match="needs this process's id"):
        td.cluster_config(num_processes=2, environ={})
    bad = {"cluster": {"worker": ["w:1"], "ps": ["p:1"]}, "task": {"type": "ps", "index": 0}}
    with pytest.raises(ValueError, match="is not a chief or worker task"):
        td.cluster_config(environ={"TF_CONFIG": json.dumps(bad)})


def _main(argv: list) -> None:
    if argv[0] == "eight":
        result = eight_device_report()
    else:
        result = worker_report(int(argv[1]), int(argv[2]))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
