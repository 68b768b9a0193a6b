"""``make bench``: run every benchmark in bench/ and write BENCHMARKS.md.

Each module exposes ``main() -> list[str]`` (markdown lines). Timings are ratios against
hand-written ``jax.jit`` code measured in the same process run, interleaved.
"""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import subprocess
import sys

import jax

MODULES = [
    ("dispatch", "Compiled-call dispatch (issue 3)"),
    ("training", "Training steps (issue 5)"),
    ("distributed", "Many devices (issue 8)"),
]


NOTES = [
    "## Reading these numbers",
    "",
    "- The machine has 2 shared cores and no accelerator; runs vary by 20-50% between runs,",
    "  which is why every row is a ratio measured interleaved in one process.",
    "- Dispatch: tracefn adds a fixed 2-4 us of Python per call (the cache-key walk, the state",
    "  lock, the write-back of new variable values, wrapping outputs as tensors) on top of",
    "  jax's own dispatch. Reading many variables costs nothing extra (the gathered list is",
    "  reused while no other code writes a variable), so the ratio falls towards 1.0x as N",
    "  grows; with one variable and a trivial program it stays at 1.2-1.4x. Closing that last",
    "  gap needs the key walk and dispatch in C, as jax's own jit fast path does.",
    "- Training steps: within 1.2x of hand-written jax.jit on both sizes; the compiled XLA",
    "  programs are the same size, the difference is the per-call cost above.",
    "- Fused steps: one compiled call runs K=32 steps as fast as a hand-written lax.scan; its",
    "  advantage over 32 single calls depends on how much of a single call is dispatch rather",
    "  than compute. On this CPU the small step is mostly compute, so the gain is 1.6-4x across",
    "  runs (jax's own scan-vs-single ratio moves with it); the 3x target is not met in every",
    "  run.",
    "",
]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"jax {jax.__version__}, backend {jax.default_backend()}"
    )


def main() -> None:
    sys.path.insert(0, os.path.dirname(__file__))
    out = [
        "# Benchmarks",
        "",
        f"Command: `make bench` (`{sys.executable} bench/run.py`), "
        f"{datetime.date.today().isoformat()}.",
        f"Machine: {machine()}.",
        "",
        "Each row times tracefn and the same computation hand-written with `jax.jit` (donated",
        "state) in one process, interleaved over several rounds; the ratio is tracefn / jax.",
        "",
    ]
    for name, title in MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError as e:
            out += [f"## {title}", "", f"(not run: {e})", ""]
            continue
        print(f"running bench/{name}.py ...", flush=True)
        out += [f"## {title}", "", *mod.main(), ""]
    out += NOTES
    text = "\n".join(out)
    print(text)
    path = os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md")
    with open(path, "w") as f:
        f.write(text + "\n")
    subprocess.run(["git", "--no-pager", "diff", "--stat", "BENCHMARKS.md"], check=False)


if __name__ == "__main__":
    main()
