"""What a compiled step communicates: the collectives XLA's SPMD partitioner inserted.

``compiled_text(step, *args)`` is the optimized HLO of the program a call ``step(*args)`` runs,
for the arguments' and variables' actual shardings; ``count_collectives`` counts its
all-reduce / all-gather / reduce-scatter / all-to-all / collective-permute instructions and
``collective_bytes`` adds up the sizes of their results (per device).
"""

from __future__ import annotations

import re

__all__ = ["compiled_text", "count_collectives", "collective_bytes", "COLLECTIVES"]

COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")
# The op of an instruction, `%x = (f32[], f32[4]{0}) all-reduce(...)`, or its async form
# `all-reduce-start(...)`; not an instruction's name (`%all-reduce.2`), which `(` never follows.
_OP = re.compile(r"(?<![%\w.-])(" + "|".join(COLLECTIVES) + r")(?:-start)?\(")
_ARRAY = re.compile(r"\b(pred|[sufc]\d+|bf16|f8e\w+)\[([\d,]*)\]")
_BITS = {"pred": 8, "bf16": 16}


def compiled_text(fn, *args, **kwargs) -> str:
    """The optimized HLO text of ``fn(*args, **kwargs)`` (``fn`` a ``tracefn.function``)."""
    # Uses the function's private call path; a public
    # `experimental_get_compiler_ir(*args)(stage="optimized_hlo")` on Function would replace it.
    from ..cache_key import arg_key

    params = fn._canonicalize(args, kwargs)
    arrays: list = []
    avars: list = []
    for p in params:
        arg_key(p, arrays, avars)
    cf = fn.get_concrete_function(*args, **kwargs)
    state = [v._value for v in cf._captured + avars]
    return cf._jitted.lower(*state, *arrays).compile().as_text()


def count_collectives(hlo_text: str) -> dict[str, int]:
    """How many instructions of each collective kind ``hlo_text`` contains."""
    counts = dict.fromkeys(COLLECTIVES, 0)
    for match in _OP.finditer(hlo_text):
        counts[match.group(1)] += 1
    return counts


def collective_bytes(hlo_text: str) -> dict[str, int]:
    """Bytes of the results of each collective kind in ``hlo_text``, per device and call
    (for an async ``-start`` form, all arrays of its result tuple are counted)."""
    total = dict.fromkeys(COLLECTIVES, 0)
    for line in hlo_text.splitlines():
        match = _OP.search(line)
        if match is None or "=" not in line[: match.start()]:
            continue
        result_type = line[line.index("=") + 1 : match.start()]
        total[match.group(1)] += sum(_nbytes(t, dims) for t, dims in _ARRAY.findall(result_type))
    return total


def _nbytes(dtype: str, dims: str) -> int:
    bits = _BITS.get(dtype) or int(re.match(r"[a-z]+(\d+)", dtype).group(1))  # f32 -> 32
    count = 1
    for d in filter(None, dims.split(",")):
        count *= int(d)
    return count * bits // 8
