"""Training-step benchmarks: a tracefn ``function`` step (GradientTape, a Keras optimizer)
against the same step hand-written in jax (``jax.value_and_grad`` + optax in one ``jax.jit``
with donated parameters and optimizer state), measured interleaved in one process; the eager
tracefn step against the compiled one; K=32 fused steps (``tracefn.fused.run_steps``, one
``lax.scan``) against 32 single compiled calls.

Cases: small MLP 32-64-64-10, batch 32, SGD; large MLP 784-1024-1024-10, batch 256, Adam.
Run: ``python bench/training.py`` (prints a markdown table).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from timing import interleaved, time_per_call

import tracefn as tf
from tracefn import fused

K = 32
CASES = {
    "small": {"sizes": (32, 64, 64, 10), "batch": 32, "opt": "sgd", "calls": 500},
    "large": {"sizes": (784, 1024, 1024, 10), "batch": 256, "opt": "adam", "calls": 10},
}


# ------------------------------------------------------------------------------- timing


# ------------------------------------------------------------------------------- models


def mlp_loss(p, x, y):
    """The hand-written jax baselines' loss: the same MLP and cross entropy as tracefn's."""
    h = x
    for i, (w, b) in enumerate(p):
        h = h @ w + b
        if i < len(p) - 1:
            h = jax.nn.relu(h)
    return optax.softmax_cross_entropy_with_integer_labels(h, y).mean()


def init_params(sizes, seed=0) -> list:
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (n_in + n_out))
        params.append((rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32),
                       np.zeros(n_out, np.float32)))  # fmt: skip
    return params


def batch_of(sizes, batch, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=batch).astype(np.int32)
    return x, y


def tracefn_step(params, kind: str) -> tuple[Callable, list]:
    """The step as a plain Python function over tracefn Variables (compile it with
    ``tf.function``)."""
    variables = [tf.Variable(a) for layer in params for a in layer]
    opt = tf.keras.optimizers.SGD(0.01) if kind == "sgd" else tf.keras.optimizers.Adam(1e-3)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(x, y):
        with tf.GradientTape() as tape:
            h = x
            for i in range(0, len(variables), 2):
                h = tf.matmul(h, variables[i]) + variables[i + 1]
                if i < len(variables) - 2:
                    h = tf.nn.relu(h)
            loss = loss_fn(y, h)
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return loss

    return step, variables


def jax_step(params, kind: str) -> Callable:
    """The same step written directly in jax: one jitted function, state donated."""
    tx = optax.sgd(0.01) if kind == "sgd" else optax.adam(1e-3, eps=1e-7)
    state = {"params": jax.tree_util.tree_map(jnp.asarray, params)}
    state["opt"] = tx.init(state["params"])

    @jax.jit
    def _step(p, o, x, y):
        loss, grads = jax.value_and_grad(mlp_loss)(p, x, y)
        updates, o = tx.update(grads, o, p)
        return optax.apply_updates(p, updates), o, loss

    jitted = jax.jit(_step, donate_argnums=(0, 1))

    def run(x, y):
        state["params"], state["opt"], loss = jitted(state["params"], state["opt"], x, y)
        return loss

    return run


# ------------------------------------------------------------------------------- cases


def compare_with_jax(case: dict) -> dict:
    params = init_params(case["sizes"])
    x, y = batch_of(case["sizes"], case["batch"])
    step, _ = tracefn_step(params, case["opt"])
    compiled = tf.function(step)
    xt, yt = tf.constant(x), tf.constant(y)
    run_jax = jax_step(params, case["opt"])
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    times = interleaved({"tracefn": lambda: compiled(xt, yt)._array,
                         "jax": lambda: run_jax(xj, yj)}, case["calls"])  # fmt: skip
    n_eager = 3 if case["sizes"][0] > 100 else 20
    times["eager"] = time_per_call(lambda: step(xt, yt)._array, n_eager)
    return times


def jax_scan(params, kind: str) -> Callable:
    """K steps of the hand-written jax step in one ``lax.scan`` (jitted, state donated)."""
    tx = optax.sgd(0.01) if kind == "sgd" else optax.adam(1e-3, eps=1e-7)
    p = jax.tree_util.tree_map(jnp.asarray, params)
    state = {"carry": (p, tx.init(p))}

    def body(carry, xy):
        p, o = carry
        loss, grads = jax.value_and_grad(mlp_loss)(p, *xy)
        updates, o = tx.update(grads, o, p)
        return (optax.apply_updates(p, updates), o), loss

    scan = jax.jit(lambda c, xs, ys: jax.lax.scan(body, c, (xs, ys)), donate_argnums=(0,))

    def run(xs, ys):
        state["carry"], losses = scan(state["carry"], xs, ys)
        return losses

    return run


def compare_fused(case: dict) -> dict:
    """K single compiled calls against one fused call, for tracefn and for hand-written jax."""
    params = init_params(case["sizes"])
    xs = np.stack([batch_of(case["sizes"], case["batch"], seed=s)[0] for s in range(K)])
    ys = np.stack([batch_of(case["sizes"], case["batch"], seed=s)[1] for s in range(K)])
    compiled = tf.function(tracefn_step(params, case["opt"])[0])
    step_fused = tracefn_step(params, case["opt"])[0]
    singles = [(tf.constant(xs[i]), tf.constant(ys[i])) for i in range(K)]
    xst, yst = tf.constant(xs), tf.constant(ys)
    jax_single, jax_fused = jax_step(params, case["opt"]), jax_scan(params, case["opt"])
    jsingles = [(jnp.asarray(xs[i]), jnp.asarray(ys[i])) for i in range(K)]
    xsj, ysj = jnp.asarray(xs), jnp.asarray(ys)

    def single():
        for xi, yi in singles:
            out = compiled(xi, yi)
        return out._array

    def jax_singles():
        for xi, yi in jsingles:
            out = jax_single(xi, yi)
        return out

    return interleaved({
        "single": single, "fused": lambda: fused.run_steps(step_fused, xst, yst)._array,
        "jax_single": jax_singles, "jax_fused": lambda: jax_fused(xsj, ysj),
    }, max(case["calls"] // K, 3))  # fmt: skip


def main() -> list[str]:
    lines = ["| case | tracefn (ms/step) | jax.jit (ms/step) | tracefn / jax | eager tracefn "
             "(ms/step) | eager / compiled |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, case in CASES.items():
        t = compare_with_jax(case)
        lines.append(f"| {name} {'-'.join(map(str, case['sizes']))}, batch {case['batch']}, "
                     f"{case['opt']} | {t['tracefn'] * 1e3:.3f} | {t['jax'] * 1e3:.3f} | "
                     f"{t['tracefn'] / t['jax']:.2f}x | {t['eager'] * 1e3:.2f} | "
                     f"{t['eager'] / t['tracefn']:.0f}x |")  # fmt: skip
    f = compare_fused(CASES["small"])
    lines += ["", f"| small step x {K} | {K} single calls (ms) | one fused call (ms) | "
              "fused throughput / single |", "|---|---|---|---|"]  # fmt: skip
    for label, a, b in (("tracefn", "single", "fused"), ("jax.jit", "jax_single", "jax_fused")):
        lines.append(f"| {label} | {f[a] * 1e3:.3f} | {f[b] * 1e3:.3f} | {f[a] / f[b]:.1f}x |")
    return lines


if __name__ == "__main__":
    print(jax.devices()[0].platform, jax.__version__)
    print("\n".join(main()))
