"""One training step, three placements: one device, a mesh of 8 devices, two processes.

The model, the data and the ``@tf.function`` step below never change; only the strategy does:

- one device: no strategy (``tf.distribute.get_strategy()`` is the default one);
- a mesh: ``MirroredStrategy`` over 8 devices (data parallel), then ``MeshStrategy`` on a
  2 x 4 mesh that also splits the hidden layer over a ``model`` axis;
- two processes: ``MultiWorkerMirroredStrategy``, one process per worker on localhost,
  joined through ``jax.distributed`` (CPU collectives over gloo).

Every run prints its losses and must end with the same weights as the one-device run.
Run: ``python examples/distributed_training.py`` (it starts the other runs as subprocesses:
jax fixes the number of devices of a process when it starts).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np

import tracefn as tf
import tracefn.distribute  # noqa: F401  (a no-op once tracefn/__init__ imports it)

STEPS, BATCH = 5, 64


def make_data() -> list:
    rng = np.random.RandomState(0)
    xs = rng.randn(STEPS, BATCH, 16).astype(np.float32)
    ys = (xs.sum(-1, keepdims=True) > 0).astype(np.float32)
    return list(zip(xs, ys))


def train(strategy) -> dict:
    """The same code for every placement: create the model in the strategy's scope, iterate
    the distributed dataset, run the compiled step."""
    rng = np.random.RandomState(1)
    with strategy.scope():
        w1 = tf.Variable((rng.randn(16, 32) * 0.3).astype(np.float32), name="hidden/kernel")
        b1 = tf.Variable(np.zeros(32, np.float32), name="hidden/bias")
        w2 = tf.Variable((rng.randn(32, 1) * 0.3).astype(np.float32), name="out/kernel")
    variables = [w1, b1, w2]

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        for v, g in zip(variables, tape.gradient(loss, variables)):
            v.assign_sub(0.5 * g)
        return loss

    losses = []
    for x, y in strategy.experimental_distribute_dataset(make_data()):
        loss = strategy.run(step, args=(x, y))
        losses.append(float(strategy.reduce("MEAN", loss, axis=None)))
    return {"losses": losses, "weights": [v.numpy().tolist() for v in variables],
            "replicas": strategy.num_replicas_in_sync}  # fmt: skip


# ------------------------------------------------------------------------------- the runs


def on_one_device() -> dict:
    return train(tf.distribute.get_strategy())


def on_a_mesh() -> dict:
    from jax.sharding import PartitionSpec as P

    mirrored = train(tf.distribute.MirroredStrategy())
    mesh = tf.distribute.MeshStrategy(
        (2, 4), ("batch", "model"),
        rules=[(r"hidden/kernel", P(None, "model")), (r"hidden/bias", P("model")),
               (r"out/kernel", P("model", None))],
    )  # fmt: skip
    return {"mirrored": mirrored, "mesh": train(mesh)}


def on_two_processes() -> dict:
    # The cluster comes from TRACEFN_COORDINATOR / TRACEFN_NUM_PROCESSES / TRACEFN_PROCESS_ID
    # (or TF_CONFIG); this creates the strategy before any computation, as jax requires.
    return train(tf.distribute.MultiWorkerMirroredStrategy())


def _spawn(mode: str, devices: int, extra_env: dict | None = None) -> subprocess.Popen:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu", **(extra_env or {}))  # fmt: skip
    return subprocess.Popen([sys.executable, __file__, mode], env=env, text=True,
                            stdout=subprocess.PIPE)  # fmt: skip


def _result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate(timeout=300)
    if proc.returncode:
        raise SystemExit(f"a run failed (exit code {proc.returncode})")
    return json.loads(out.splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def main() -> None:
    print("one device ...", flush=True)
    runs = {"one device": on_one_device()}
    print("a mesh of 8 devices ...", flush=True)
    runs.update({f"8 devices, {k}": v for k, v in _result(_spawn("mesh", 8)).items()})
    print("two processes ...", flush=True)
    port = _free_port()
    workers = [_spawn("worker", 1, {"TRACEFN_COORDINATOR": f"localhost:{port}",
                                    "TRACEFN_NUM_PROCESSES": "2", "TRACEFN_PROCESS_ID": str(i)})
               for i in range(2)]  # fmt: skip
    runs["2 processes, MultiWorkerMirrored"] = [_result(w) for w in workers][0]
    reference = runs["one device"]["weights"]
    print("\n| run | replicas | losses | max abs weight difference vs one device |")
    print("|---|---|---|---|")
    for name, run in runs.items():
        diff = max(float(np.max(np.abs(np.array(a) - np.array(b))))
                   for a, b in zip(run["weights"], reference))  # fmt: skip
        losses = " ".join(f"{x:.4f}" for x in run["losses"])
        print(f"| {name} | {run['replicas']} | {losses} | {diff:.2e} |")
        assert diff < 1e-5, f"{name} diverged from the one-device run"


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "main"
    if mode == "mesh":
        print(json.dumps(on_a_mesh()))
    elif mode == "worker":
        print(json.dumps(on_two_processes()))
    else:
        main()
