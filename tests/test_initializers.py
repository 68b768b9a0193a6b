"""``tracefn.initializers``: shapes, dtypes, statistics and bounds, seeds, names."""

import math

import numpy as np
import pytest

import tracefn as tf
from tracefn import initializers as I
from tracefn import random_ops as R

SHAPE = (300, 200)  # fan_in 300, fan_out 200


def arr(t):
    return np.asarray(t)


def test_zeros_ones_constant():
    assert arr(I.Zeros()((2, 3))).tolist() == [[0.0] * 3] * 2
    assert arr(I.Ones()((2,), tf.int32)).dtype == np.int32
    assert arr(I.Constant(3.0)((2, 2))).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert arr(I.Constant([1, 2, 3, 4])((2, 2))).tolist() == [[1, 2], [3, 4]]
    assert arr(I.Constant([1.0, 2.0])((3, 2)))[2].tolist() == [1.0, 2.0]
    assert arr(I.Identity(2.0)((2, 3))).tolist() == [[2, 0, 0], [0, 2, 0]]


def test_random_normal_uniform_truncated_statistics():
    x = arr(I.RandomNormal(mean=1.0, stddev=0.5, seed=1)(SHAPE))
    assert abs(x.mean() - 1.0) < 0.01 and abs(x.std() - 0.5) < 0.01
    u = arr(I.RandomUniform(-0.3, 0.7, seed=1)(SHAPE))
    assert u.min() >= -0.3 and u.max() < 0.7 and abs(u.mean() - 0.2) < 0.01
    t = arr(I.TruncatedNormal(stddev=0.1, seed=1)(SHAPE))
    assert np.abs(t).max() <= 0.2 and abs(t.std() - 0.1 * 0.8796) < 0.003


@pytest.mark.parametrize("cls,limit", [
    (I.GlorotUniform, math.sqrt(6 / 500)),
    (I.HeUniform, math.sqrt(6 / 300)),
    (I.LecunUniform, math.sqrt(3 / 300)),
])  # fmt: skip
def test_uniform_variance_scaling_bounds(cls, limit):
    x = arr(cls(seed=0)(SHAPE))
    assert np.abs(x).max() <= limit and np.abs(x).max() > 0.99 * limit
    assert abs(x.std() - limit / math.sqrt(3)) < 0.01 * limit


@pytest.mark.parametrize("cls,std", [
    (I.GlorotNormal, math.sqrt(2 / 500)),
    (I.HeNormal, math.sqrt(2 / 300)),
    (I.LecunNormal, math.sqrt(1 / 300)),
])  # fmt: skip
def test_normal_variance_scaling_std_and_truncation(cls, std):
    x = arr(cls(seed=0)(SHAPE))
    assert abs(x.std() - std) < 0.02 * std  # the truncation is compensated
    assert np.abs(x).max() <= 2 * std / 0.87962566103423978 + 1e-6


def test_variance_scaling_modes_and_conv_fans():
    assert I.compute_fans((3, 3, 16, 32)) == (144.0, 288.0)
    assert I.compute_fans((5,)) == (5.0, 5.0) and I.compute_fans(()) == (1.0, 1.0)
    x = arr(I.VarianceScaling(2.0, "fan_out", "untruncated_normal", seed=0)((3, 3, 64, 100)))
    assert abs(x.std() - math.sqrt(2 / 900)) < 0.02 * math.sqrt(2 / 900)
    with pytest.raises(ValueError, match="Invalid `mode` argument"):
        I.VarianceScaling(mode="fan_x")
    with pytest.raises(ValueError, match="Invalid `distribution` argument"):
        I.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="must be positive"):
        I.VarianceScaling(scale=0.0)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (2, 3, 4)])
def test_orthogonal(shape):
    q = arr(I.Orthogonal(gain=2.0, seed=0)(shape)).reshape(-1, shape[-1])
    gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    assert np.allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)
    with pytest.raises(ValueError, match="at least two-dimensional"):
        I.Orthogonal()((3,))


def test_seeded_initializer_repeats_unseeded_draws_fresh_values():
    a, b = arr(I.GlorotUniform(seed=3)((4, 4))), arr(I.GlorotUniform(seed=3)((4, 4)))
    assert np.array_equal(a, b)
    init = I.GlorotUniform(seed=3)
    assert np.array_equal(arr(init((4, 4))), arr(init((4, 4))))
    assert not np.array_equal(a, arr(I.GlorotUniform(seed=4)((4, 4))))
    unseeded = I.RandomNormal()
    assert not np.array_equal(arr(unseeded((4,))), arr(unseeded((4,))))


def test_unseeded_initializers_are_reproducible_from_the_global_seed():
    R.set_seed(5)
    a = arr(I.HeNormal()((3, 3)))
    R.set_seed(5)
    assert np.array_equal(a, arr(I.HeNormal()((3, 3))))


def test_advancing_subclass_draws_the_next_values_of_the_seed():
    class TF1Uniform(I.RandomUniform):
        _advance_seeded = True

    R.set_seed(0)
    init = TF1Uniform(seed=7)
    first, second = arr(init((3,))), arr(init((3,)))
    assert not np.array_equal(first, second)
    R.set_seed(0)
    assert np.array_equal(arr(TF1Uniform(seed=7)((3,))), first)


def test_dtypes():
    assert arr(I.GlorotUniform(seed=0)((2, 2), tf.float64)).dtype == np.float64
    assert arr(I.Zeros()((2,), dtype="int64")).dtype == np.int64
    with pytest.raises(ValueError, match="floating point dtype"):
        I.RandomNormal()((2,), tf.int32)


def test_initializer_inside_first_trace_gives_a_concrete_variable():
    class Dense(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = None

        @tf.function
        def __call__(self, x):
            if self.w is None:
                self.w = tf.Variable(I.GlorotUniform()((2, 3)))
                self.v = tf.Variable(I.GlorotUniform()((2, 3)))
            return x @ self.w

    layer = Dense()
    assert tuple(layer(tf.ones([1, 2])).shape) == (1, 3)
    assert not np.array_equal(arr(layer.w), arr(layer.v))  # two draws, not one


def test_names_and_keras_alias():
    assert isinstance(I.get("glorot_uniform"), I.GlorotUniform)
    assert isinstance(I.get("HeNormal"), I.HeNormal)
    assert I.get(None) is None and isinstance(I.get(I.Ones), I.Ones)
    with pytest.raises(ValueError, match="Could not interpret initializer"):
        I.get("nope")
    assert tf.keras.initializers.GlorotUniform is I.GlorotUniform
    assert I.zeros_initializer is I.Zeros and I.glorot_uniform is I.GlorotUniform
    config = I.VarianceScaling(2.0, "fan_avg", "uniform", seed=1).get_config()
    assert I.VarianceScaling.from_config(config).get_config() == config
    assert I.GlorotUniform(seed=2).get_config() == {"seed": 2}
