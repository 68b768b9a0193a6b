"""The examples run (the demo runs in `make demo`; the seed programs in test_seeds.py)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parent.parent


def test_distributed_training_example_runs():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "distributed_training.py")],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip()
