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
    text = "\n".join(out)
    print(text)
    path = os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md")
    with open(path, "w") as f:
        f.write(text + "\n")
    subprocess.run(["git", "--no-pager", "diff", "--stat", "BENCHMARKS.md"], check=False)


if __name__ == "__main__":
    main()
