"""Test-suite settings: the IR verifier checks every graph tracefn builds."""

import pytest

import tracefn as tf

tf.config.VERIFY_GRAPHS = True


@pytest.fixture(autouse=True)
def _reset_eager_flag():
    yield
    tf.config.run_functions_eagerly(False)
