"""Many devices (issue 8): step time of the large MLP (784-1024-1024-10, batch 256, SGD) on
1, 2, 4 and 8 host devices, and the communication XLA inserted into the compiled step.

Two layouts per device count, each in a fresh subprocess (jax fixes its device count at
start, ``XLA_FLAGS=--xla_force_host_platform_device_count=N``):

- data parallel: ``MirroredStrategy``, variables replicated, the batch split over devices;
- model parallel: ``MeshStrategy`` over one ``model`` axis, the two hidden layers split
  Megatron-style (first kernel by columns, second by rows), the batch replicated.

Each row times the tracefn step against the same step hand-written as one ``jax.jit``
function over arrays with the same shardings (donated, outputs pinned), interleaved; the
collective columns count the instructions of the compiled HLO and the bytes they produce per
device and step. Host "devices" share this machine's cores, so more devices add no compute:
the table shows what the partitioning and its communication cost, not a speed-up.
Run: ``python bench/distributed.py`` (prints a markdown table).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

from timing import interleaved

SIZES = (784, 1024, 1024, 10)
BATCH = 256
LR = 0.01
DEVICE_COUNTS = (1, 2, 4, 8)


# ---------------------------------------------------------------- one device count (child)


def init_params(seed: int = 0) -> list:
    import numpy as np

    rng = np.random.default_rng(seed)
    params = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        limit = np.sqrt(6.0 / (n_in + n_out))
        params += [(f"kernel_{i}", rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32)),
                   (f"bias_{i}", np.zeros(n_out, np.float32))]  # fmt: skip
    return params


def batch(seed: int = 1):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, SIZES[0])).astype(np.float32)
    return x, rng.integers(0, SIZES[-1], size=BATCH).astype(np.int32)


def tracefn_step(strategy):
    import tracefn as tf

    with strategy.scope():
        vs = [tf.Variable(value, name=name) for name, value in init_params()]

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            h = x
            for i in range(0, len(vs), 2):
                h = tf.matmul(h, vs[i]) + vs[i + 1]
                h = tf.nn.relu(h) if i < len(vs) - 2 else h
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, h))
        for v, g in zip(vs, tape.gradient(loss, vs)):
            v.assign_sub(LR * g)
        return loss

    return step, vs


def jax_step(shardings: list) -> Callable:
    """The same step in jax over arrays with the tracefn variables' shardings."""
    import jax
    import optax

    params = [jax.device_put(v, s) for (_, v), s in zip(init_params(), shardings)]

    def loss_fn(p, x, y):
        h = x
        for i in range(0, len(p), 2):
            h = h @ p[i] + p[i + 1]
            h = jax.nn.relu(h) if i < len(p) - 2 else h
        return optax.softmax_cross_entropy_with_integer_labels(h, y).mean()

    def _step(p, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        return [a - LR * g for a, g in zip(p, grads)], loss

    jitted = jax.jit(_step, donate_argnums=(0,), out_shardings=(shardings, None))
    state = {"p": params}

    def run(x, y):
        state["p"], loss = jitted(state["p"], x, y)
        return loss

    return run


def measure(strategy) -> dict:
    from tracefn import distribute as td

    step, vs = tracefn_step(strategy)
    x, y = next(iter(strategy.experimental_distribute_dataset([batch()])))
    shardings = [v._value.sharding for v in vs]
    run_jax = jax_step(shardings)
    times = interleaved({"tracefn": lambda: step(x, y)._array,
                         "jax": lambda: run_jax(x._array, y._array)}, 5)  # fmt: skip
    text = td.compiled_text(step, x, y)
    return {**times, "count": td.count_collectives(text), "bytes": td.collective_bytes(text)}


def child() -> dict:
    import jax
    from jax.sharding import PartitionSpec as P

    from tracefn import distribute as td

    n = jax.device_count()
    rules = [("kernel_0", P(None, "model")), ("bias_0", P("model")), ("kernel_1", P("model"))]
    mesh = td.MeshStrategy((n,), ("model",), rules=rules)
    return {"devices": n, "data": measure(td.MirroredStrategy()), "model": measure(mesh)}


# ----------------------------------------------------------------------- the table (parent)


def run_child(n: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}",
               JAX_PLATFORMS="cpu")  # fmt: skip
    proc = subprocess.run([sys.executable, __file__, "--child"], env=env, text=True,
                          capture_output=True, timeout=600)  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"bench child with {n} devices failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _row(layout: str, n: int, m: dict) -> str:
    other = sum(m["count"][k] for k in ("all-to-all", "collective-permute"))
    comm = ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in m["bytes"].items() if v) or "none"
    return (f"| {layout} | {n} | {m['tracefn'] * 1e3:.1f} | {m['jax'] * 1e3:.1f} | "
            f"{m['tracefn'] / m['jax']:.2f}x | {m['count']['all-reduce']} | "
            f"{m['count']['all-gather']} | {m['count']['reduce-scatter']} | {other} | "
            f"{comm} |")  # fmt: skip


def main() -> list[str]:
    lines = [
        f"Large MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, SGD; N host devices on "
        f"{os.cpu_count()} cores (devices share the cores: this shows the cost of "
        "partitioning and communication, not a speed-up).",
        "",
        "| layout | devices | tracefn (ms/step) | jax.jit (ms/step) | tracefn / jax | all-reduce "
        "| all-gather | reduce-scatter | other collectives | bytes per device per step |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    results = [run_child(n) for n in DEVICE_COUNTS]
    for layout, key in (("data parallel (MirroredStrategy)", "data"),
                        ("model parallel (MeshStrategy)", "model")):  # fmt: skip
        lines += [_row(layout, r["devices"], r[key]) for r in results]
    return lines


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        print("RESULT " + json.dumps(child()), flush=True)
    else:
        print("\n".join(main()))
