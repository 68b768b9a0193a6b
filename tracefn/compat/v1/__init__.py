"""``tracefn.compat.v1``: TensorFlow 1 programs on tracefn (``import tracefn.compat.v1 as tf``).

Graphs and sessions on tracefn's IR: after ``disable_eager_execution()`` (or inside
``with Graph().as_default():``) ops are recorded into the default graph, and a ``Session`` runs
the part its fetches need as one compiled XLA program, with the variables it touches as explicit
state held by the session. Variable scopes and ``get_variable`` (with ``reuse``), collections,
initializers, TF1 optimizers and ``tf.device`` work as in TF1 (spec section 6, with the
decisions of section 8). Every op of ``tracefn`` is available here too.

>>> import tracefn.compat.v1 as tf
>>> g = tf.Graph()
>>> with g.as_default():
...     v = tf.get_variable("v", shape=(), initializer=tf.zeros_initializer())
...     inc = v.assign_add(1.0)
...     with tf.Session() as sess:
...         _ = sess.run(tf.global_variables_initializer())
...         _ = sess.run(inc)
...         print(sess.run(inc))
2.0
"""

from tracefn import *  # noqa: F401,F403  (every TF2 op under its TF name)
from tracefn import config, dtypes, errors, math  # noqa: F401

for _name in ("initializers", "nn", "random", "train"):  # TF1's own versions, imported below
    globals().pop(_name, None)

from . import initializers, nn, random, train  # noqa: E402,F401
from .collections import (  # noqa: E402,F401
    GraphKeys,
    add_to_collection,
    add_to_collections,
    all_variables,
    get_collection,
    get_collection_ref,
    global_variables,
    local_variables,
    model_variables,
    moving_average_variables,
    trainable_variables,
)
from .device import DeviceSpec, device  # noqa: E402,F401
from .gradients import gradients  # noqa: E402,F401
from .graph import (  # noqa: E402,F401
    Graph,
    Operation,
    disable_eager_execution,
    enable_eager_execution,
    executing_eagerly,
    get_default_graph,
    reset_default_graph,
)
from .graph_ops import (  # noqa: E402,F401
    control_dependencies,
    group,
    name_scope,
    no_op,
    placeholder,
)
from .init_ops import (  # noqa: E402,F401
    constant_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    truncated_normal_initializer,
    variance_scaling_initializer,
    zeros_initializer,
)
from .random_ops import random_normal, random_uniform, set_random_seed, truncated_normal  # noqa: E402,F401
from .session import InteractiveSession, Session, get_default_session  # noqa: E402,F401
from .state_ops import (  # noqa: E402,F401
    Variable,
    VariableV1,
    assign,
    assign_add,
    assign_sub,
    global_variables_initializer,
    initialize_all_variables,
    initialize_local_variables,
    initialize_variables,
    is_variable_initialized,
    local_variables_initializer,
    report_uninitialized_variables,
    variables_initializer,
)
from .tf1_ops import (  # noqa: E402,F401
    arg_max,
    arg_min,
    constant,
    div,
    reduce_all,
    reduce_any,
    reduce_logsumexp,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
    to_double,
    to_float,
    to_int32,
    to_int64,
)
from .variable_scope import (  # noqa: E402,F401
    AUTO_REUSE,
    VariableScope,
    get_local_variable,
    get_variable,
    get_variable_scope,
    variable_scope,
)


def disable_v2_behavior() -> None:
    """TF's switch to TF1 behaviour; here it switches graph mode on (variables stay resource
    variables: the RefVariable differences of spec C9 follow the section-8 decisions)."""
    disable_eager_execution()


def enable_v2_behavior() -> None:
    enable_eager_execution()
