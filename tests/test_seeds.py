"""Every example of the seed documents (../shared/seeds) runs on tracefn and prints TensorFlow's
real values (issue 6 item 8). Each ``examples/seeds/*.py`` runs in its own process: graph mode
(``disable_eager_execution``) lasts for the rest of a process."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "examples" / "seeds"


def run_seed(stem: str) -> str:
    (path,) = SEEDS.glob(f"{stem}_*.py")
    proc = subprocess.run([sys.executable, "-W", "ignore", str(path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", text)]


def after(out: str, label: str, until: str | None = None) -> str:
    """The text printed after ``label`` (up to ``until`` or the end of the line)."""
    rest = out.split(label, 1)[1]
    return rest.split(until, 1)[0] if until else rest.split("\n", 1)[0]


def test_seed_000_reset_variables():
    out = run_seed("000")
    initial = numbers(after(out, "Initial value:\n", "Value after reset"))
    assert len(initial) == 4
    assert numbers(after(out, "Value after reset:\n", "Value after another")) == [1, 2, 3, 4]
    again = numbers(after(out, "Value after another reset:\n", "Initial values"))
    assert len(again) == 4 and again != initial  # a new draw
    var1 = numbers(after(out, "Initial values:\n var1:"))
    var1_reset = numbers(after(out, "Values after reset:\n var1:"))
    assert var1 != var1_reset  # the initializer re-samples (spec section 0, claim (a))
    var2_reset = after(out, "Values after reset:", "Initial value:").split("var2:")[1]
    assert numbers(var2_reset) == [0] * 4
    assert numbers(after(out, "Value after conditional reset (True):")) == [0, 0, 0]
    assert numbers(after(out, "Value after conditional reset (False):")) == [0, 0, 0]


def _keras_adam(steps: int, lr=0.1, b1=0.9, b2=0.999, eps=1e-7) -> list[float]:
    x, m, v, out = np.float32(0), 0.0, 0.0, []
    for t in range(1, steps + 1):
        g = 2 * float(x)
        m, v = m + (g - m) * (1 - b1), v + (g * g - v) * (1 - b2)
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        x = np.float32(x - lr_t * m / (np.sqrt(v) + eps) + 0.5)
        out.append(float(x))
    return out


def test_seed_001_modify_during_training():
    out = run_seed("001")
    example1 = [numbers(after(out, f"Iteration {i}: Variable value ="))[0] for i in range(1, 11)]
    np.testing.assert_allclose(example1, _keras_adam(10), rtol=1e-5)
    # Example 2: the int32 counter has no gradient, so apply_gradients raises (as in TF)
    assert out.count("No gradients provided for any variable") == 5
    counters = [numbers(after(out, f"Iteration {i}: Counter value ="))[0] for i in range(1, 6)]
    assert counters == [0] * 5
    x, expected = 1.0, []
    for _ in range(10):
        x = x - 0.01 * float(np.clip(2 * x, -0.5, 0.5)) - 0.1
        expected.append(x)
    example3 = [numbers(after(out, f"Epoch {i}: Variable value ="))[0] for i in range(1, 11)]
    np.testing.assert_allclose(example3, expected, rtol=1e-5, atol=1e-6)


def test_seed_002_repeated_initialization_resets():
    out = run_seed("002")
    lines = out.splitlines()
    assert lines[:9] == [
        "Value after first init: 1.0",
        "Value after second init: 1.0",
        "Value after explicit assignment: 2.0",
        "Value after init, following assignment: 1.0",  # claim (a) is false: init resets
        "Initial Counter: 0",
        "Counter: 1",
        "Counter: 2",
        "Counter: 3",
        "Counter after second init: 0",
    ]
    draws = [
        numbers(after(out, f"Random variable {label}:", "\nRandom"))
        for label in (
            "first init",
            "second init",
            "after assigning new random",
            "init after assigning random",
        )
    ]
    assert all(len(d) == 5 for d in draws)
    assert len({tuple(d) for d in draws}) == 4  # every initializer run draws anew


def test_seed_003_variable_reuse():
    out = run_seed("003")
    assert out.splitlines() == [
        "0", "0",
        "my_scope/my_var:0 my_scope_1/my_var:0",  # claim (b) is false: two variables
        "0", "0", "0", "5",
        "ValueError: Variable my_scope/my_var does not exist, or was not created with "
        "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in VarScope?",
        "0", "0", "5", "5",
    ]  # fmt: skip


def test_seed_004_variables_guide():
    out = run_seed("004")
    lines = out.splitlines()
    assert lines[:3] == ["my_variable:0 float32 (1, 2, 3)", "my_int_variable:0 int32 (1, 2, 3)",
                         "other_variable:0 int32 (2,)"]  # fmt: skip
    assert "my_collection_name: ['my_local:0']" in lines
    assert "local: ['my_local:0']" in lines
    assert "trainable: ['my_variable:0', 'my_int_variable:0', 'other_variable:0']" in lines
    assert "[b'my_variable' b'my_int_variable' b'other_variable' b'my_local']" in lines
    assert "[b'my_int_variable' b'other_variable' b'my_local']" in lines
    assert "[b'my_local']" in lines  # the global initializer leaves local variables alone
    assert "my_variable: (1, 2, 3) other_variable: [23 42]" in lines
    assert "v: 0.0 w: 1.0" in lines
    assert lines[lines.index("v: 0.0 w: 1.0") + 1 :][:2] == ["1.0", "3.0"]
    assert any(line.startswith("v is on /job:localhost/replica:0/task:0/device:") for line in lines)
    assert ("ValueError: Variable weights already exists, disallowed. Did you mean to set "
            "reuse=True or reuse=tf.AUTO_REUSE in VarScope?") in lines  # fmt: skip
    shared = "['model/conv1/weights:0', 'model/conv1/biases:0', 'model/conv2/weights:0', " \
             "'model/conv2/biases:0']"  # fmt: skip
    for label in ("reuse=True", "reuse_variables()", "scope object"):
        assert f"{label}: {shared}" in lines
    assert "output shapes: (1, 10, 10, 32) (1, 20, 20, 32)" in lines
