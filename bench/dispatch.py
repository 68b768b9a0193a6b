"""Per-call time of a compiled step that reads N variables and writes one, tracefn vs the same
step hand-written as a ``jax.jit`` function with donated state; first-call latency too.

Each pair is measured interleaved (alternating rounds, best-of medians) in one process.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from timing import interleaved

import tracefn as tf


def dispatch_case(n: int) -> dict:
    reads = [tf.Variable(np.full((4,), float(i), np.float32)) for i in range(n)]
    acc = tf.Variable(np.zeros((4,), np.float32))
    x = tf.constant(np.ones((4,), np.float32))

    @tf.function
    def step(x):
        total = x
        for v in reads:
            total = total + v
        acc.assign(acc + total)
        return acc.read_value()

    def jax_step(acc, reads, x):
        total = x
        for r in reads:
            total = total + r
        new = acc + total
        return new, new

    jitted = jax.jit(jax_step, donate_argnums=(0,))
    state = {
        "acc": jnp.zeros((4,), jnp.float32),
        "reads": [jnp.full((4,), float(i), jnp.float32) for i in range(n)],
    }
    xj = jnp.ones((4,), jnp.float32)

    def run_jax():
        state["acc"], out = jitted(state["acc"], state["reads"], xj)
        return out

    return interleaved({"tracefn": lambda: step(x), "jax.jit": run_jax}, 2000, rounds=7)


def first_call_latency() -> dict:
    def body(x, w):
        return jnp.tanh(x @ w).sum()

    x = np.ones((8, 16), np.float32)
    w = np.ones((16, 16), np.float32)
    t0 = time.perf_counter()
    jax.block_until_ready(jax.jit(body)(x, w))
    jax_t = time.perf_counter() - t0

    wv = tf.Variable(w)

    @tf.function
    def f(x):
        return tf.reduce_sum(tf.tanh(x @ wv))

    t0 = time.perf_counter()
    f(tf.constant(x)).numpy()
    tf_t = time.perf_counter() - t0
    return {"tracefn": tf_t, "jax.jit": jax_t}


def main() -> list[str]:
    lines = ["| case | tracefn (us/call) | jax.jit (us/call) | ratio |", "|---|---|---|---|"]
    ratios = []
    for n in (1, 10, 100):
        r = dispatch_case(n)
        ratio = r["tracefn"] / r["jax.jit"]
        ratios.append(ratio)
        lines.append(
            f"| read {n} vars, write 1 | {r['tracefn'] * 1e6:.1f} | "
            f"{r['jax.jit'] * 1e6:.1f} | {ratio:.2f}x |"
        )
    fc = first_call_latency()
    lines.append(
        f"| first call (trace+compile) | {fc['tracefn'] * 1e3:.1f} ms | "
        f"{fc['jax.jit'] * 1e3:.1f} ms | {fc['tracefn'] / fc['jax.jit']:.2f}x |"
    )
    verdict = "holds" if max(ratios) <= 1.2 else "does NOT hold"
    lines += [
        "",
        f"Target (tracefn <= 1.2x hand-written jax.jit at every N): {verdict} "
        f"(worst {max(ratios):.2f}x).",
    ]
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
