"""tracefn's IR: typed SSA values, ops with regions, graphs with an explicit state signature.

This module is the language; it imports no jax. A ``Graph`` is a list of ``Op``s in program
order. Each op applies a registered ``Primitive`` to input ``Value``s and defines output
``Value``s. Control flow ops own *regions* (sub-graphs: branches, loop condition and body) whose
ops may use values of the enclosing graphs, as in MLIR. Variables are not values: an op reads a
variable (``c <- v0``) or writes one (``v0 <- d``) and names it in its ``var`` attribute, so the
state a graph touches is visible in its text and in its signature.

The printer gives each value a short name at print time (``a``, ``b``, ... ``ba``) the way a jaxpr
does, so printouts are deterministic and can be compared as golden text.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .dtypes import DType, as_dtype

__all__ = ["TensorType", "Value", "Op", "Graph", "Primitive", "PRIMITIVES", "register"]


# ------------------------------------------------------------------------------------- types


class TensorType:
    """Abstract type of a value: a shape (``None`` for unknown rank, ``None`` dims for unknown
    sizes) and a dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = None if shape is None else tuple(None if d is None else int(d) for d in shape)
        self.dtype = as_dtype(dtype)

    @property
    def rank(self):
        return None if self.shape is None else len(self.shape)

    @property
    def is_fully_defined(self) -> bool:
        return self.shape is not None and None not in self.shape

    def __eq__(self, other):
        return (
            isinstance(other, TensorType)
            and self.shape == other.shape
            and self.dtype == other.dtype
        )

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return type_str(self)


_SHORT = {
    "float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "bool": "bool", "complex64": "c64", "complex128": "c128", "string": "str",
}  # fmt: skip


def type_str(t: TensorType) -> str:
    dt = _SHORT.get(t.dtype.name, t.dtype.name)
    if t.shape is None:
        return f"{dt}[*]"
    return f"{dt}[{','.join('?' if d is None else str(d) for d in t.shape)}]"


# --------------------------------------------------------------------------- values and ops


class Value:
    """An SSA value. ``producer`` is the op that defines it (``None`` for graph inputs)."""

    __slots__ = ("type", "producer", "index", "__weakref__")

    def __init__(self, type: TensorType, producer: Op | None = None, index: int = 0):
        self.type = type
        self.producer = producer
        self.index = index

    def __repr__(self):
        return f"Value({type_str(self.type)})"


class Primitive:
    """A kind of op: its name and the rules that interpret it.

    ``impl(*arrays, **attrs)`` computes the op on jax arrays (eager execution and lowering use
    it); ``abstract_eval(in_types, attrs) -> out_types`` is the shape/dtype rule (by default
    derived from ``impl`` by the ops layer); ``lower`` overrides lowering for ops with regions or
    effects; ``effect`` is ``None``, ``"read"`` or ``"write"`` (ops that name a variable) or
    ``"io"`` (host side effects such as print); ``regions`` names an op's regions for printing.
    """

    __slots__ = (
        "name", "impl", "abstract_eval", "lower", "effect", "regions", "multiple_results",
        "verify", "__weakref__",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        impl: Callable | None = None,
        *,
        abstract_eval: Callable | None = None,
        lower: Callable | None = None,
        effect: str | None = None,
        regions: Sequence[str] = (),
        multiple_results: bool = False,
        verify: Callable | None = None,
    ):
        self.name = name
        self.impl = impl
        self.abstract_eval = abstract_eval
        self.lower = lower
        self.effect = effect
        self.regions = tuple(regions)
        self.multiple_results = multiple_results
        self.verify = verify

    def __repr__(self):
        return self.name


PRIMITIVES: dict[str, Primitive] = {}


def register(prim: Primitive) -> Primitive:
    """Add ``prim`` to the registry; a second primitive of the same name is an error."""
    if prim.name in PRIMITIVES:
        raise ValueError(f"A primitive named {prim.name!r} is already registered.")
    PRIMITIVES[prim.name] = prim
    return prim


class Op:
    """One application of a primitive: ``outputs = prim[attrs](*inputs) { regions }``."""

    __slots__ = ("prim", "inputs", "attrs", "outputs", "regions", "name", "source")

    def __init__(
        self,
        prim: Primitive,
        inputs: Sequence[Value],
        attrs: dict[str, Any],
        out_types: Sequence[TensorType],
        regions: Sequence[Graph] = (),
        name: str | None = None,
        source: tuple | None = None,
    ):
        self.prim = prim
        self.inputs = list(inputs)
        self.attrs = attrs
        self.outputs = [Value(t, self, i) for i, t in enumerate(out_types)]
        self.regions = list(regions)
        self.name = name or prim.name
        self.source = source

    @property
    def var(self):
        """The variable a read or write op names (``None`` for other ops)."""
        return self.attrs.get("var")

    def __repr__(self):
        return f"Op({self.prim.name}, name={self.name!r})"


class Graph:
    """Inputs, ops in program order, outputs. A top-level graph also lists the variables it
    touches (``variables``), in order of first use; ``reads`` and ``writes`` derive from its ops."""

    __slots__ = ("inputs", "ops", "outputs", "variables", "name")

    def __init__(self, inputs=(), ops=(), outputs=(), variables=(), name: str = ""):
        self.inputs: list[Value] = list(inputs)
        self.ops: list[Op] = list(ops)
        self.outputs: list[Value] = list(outputs)
        self.variables: list = list(variables)
        self.name = name

    def walk(self) -> Iterator[Op]:
        """Every op, regions included, in program order (an op before its regions' ops)."""
        for op in self.ops:
            yield op
            for region in op.regions:
                yield from region.walk()

    def _touched(self, effect: str) -> list:
        seen: dict[int, Any] = {}
        for op in self.walk():
            if op.prim.effect == effect:
                seen.setdefault(id(op.var), op.var)
        return list(seen.values())

    @property
    def reads(self) -> list:
        """Variables read anywhere in the graph (regions included), in order of first read."""
        return self._touched("read")

    @property
    def writes(self) -> list:
        """Variables written anywhere in the graph (regions included), in order of first write."""
        return self._touched("write")

    def __str__(self):
        return pretty(self)

    def __repr__(self):
        return f"<Graph {self.name!r}: {len(self.ops)} ops>"


# ----------------------------------------------------------------------------------- printer


def _names() -> Iterator[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    for size in itertools.count(1):
        for combo in itertools.product(letters, repeat=size):
            name = "".join(combo)
            if name not in ("in", "let", "if"):
                yield name


class _Printer:
    def __init__(self, variables, source: bool, names: bool):
        self.gen = _names()
        self.env: dict[int, str] = {}
        self.var_names = {id(v): f"v{i}" for i, v in enumerate(variables)}
        self.source = source
        self.show_op_names = names

    def new(self, v: Value) -> str:
        name = self.env[id(v)] = next(self.gen)
        return name

    def use(self, v: Value) -> str:
        return self.env.get(id(v), "<undefined>")

    def decl(self, v: Value) -> str:
        return f"{self.new(v)}:{type_str(v.type)}"

    def var(self, var) -> str:
        key = id(var)
        if key not in self.var_names:
            self.var_names[key] = f"v{len(self.var_names)}"
        return self.var_names[key]

    def op_line(self, op: Op, indent: str) -> list[str]:
        ins = " ".join(self.use(v) for v in op.inputs)
        if op.prim.effect == "read":
            text = f"{self.decl(op.outputs[0])} <- {self.var(op.var)}"
        elif op.prim.effect == "write":
            text = f"{self.var(op.var)} <- {ins}"
        else:
            outs = " ".join(self.decl(v) for v in op.outputs)
            attrs = _attrs_str(op.attrs)
            text = f"{outs} = {op.prim.name}{attrs} {ins}".rstrip()
            if not op.outputs:
                text = f"{op.prim.name}{attrs} {ins}".rstrip()
        suffix = self.suffix(op)
        lines = [indent + text + suffix]
        labels = op.prim.regions or tuple(f"region{i}" for i in range(len(op.regions)))
        for label, region in zip(labels, op.regions):
            lines.extend(self.region(label, region, indent + "  "))
        return lines

    def suffix(self, op: Op) -> str:
        parts = []
        if self.show_op_names:
            parts.append(op.name)
        if self.source and op.source:
            file, line, fn = op.source
            parts.append(f"{file.rsplit('/', 1)[-1]}:{line} ({fn})")
        return ("  # " + " ".join(parts)) if parts else ""

    def body(self, graph: Graph, indent: str) -> list[str]:
        lines = []
        for op in graph.ops:
            lines.extend(self.op_line(op, indent))
        return lines

    def region(self, label: str, graph: Graph, indent: str) -> list[str]:
        ins = " ".join(self.decl(v) for v in graph.inputs)
        head = f"{indent}{label} {{ {ins}. let" if ins else f"{indent}{label} {{ let"
        lines = [head, *self.body(graph, indent + "    ")]
        lines.append(f"{indent}  in ({self.outs(graph)}) }}")
        return lines

    def outs(self, graph: Graph) -> str:
        return (
            "".join(self.use(v) + "," for v in graph.outputs)
            if len(graph.outputs) == 1
            else (" ".join(self.use(v) for v in graph.outputs))
        )


def _attr_value(v) -> str:
    if isinstance(v, DType):
        return v.name
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (tuple, list)):
        return "(" + ",".join(_attr_value(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    if hasattr(v, "shape") and hasattr(v, "dtype") and hasattr(v, "tolist"):
        if int(getattr(v, "size", 0)) <= 6:
            return repr(v.tolist()).replace(" ", "")
        return type_str(TensorType(v.shape, v.dtype))
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _attrs_str(attrs: dict) -> str:
    shown = {k: v for k, v in attrs.items() if not k.startswith("_")}
    if not shown:
        return ""
    return "[" + " ".join(f"{k}={_attr_value(v)}" for k, v in shown.items()) + "]"


def pretty(graph: Graph, *, source: bool = False, names: bool = False) -> str:
    """Print ``graph`` like a jaxpr: the variables it touches, its inputs, one op per line.

    ``source=True`` appends each op's ``# file.py:line (function)``; ``names=True`` its scoped
    name."""
    variables = list(graph.variables) or graph.reads + [
        v for v in graph.writes if all(v is not r for r in graph.reads)
    ]
    p = _Printer(variables, source, names)
    var_decls = " ".join(
        f"{p.var(v)}:Var[{type_str(TensorType(v.shape, v.dtype))}]" for v in variables
    )
    ins = " ".join(p.decl(v) for v in graph.inputs)
    head = f"{{ lambda {var_decls} ; {ins}. let" if var_decls else f"{{ lambda ; {ins}. let"
    lines = [head.replace(" ; .", " ; ."), *p.body(graph, "    ")]
    lines.append(f"  in ({p.outs(graph)}) }}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ clone


def clone(graph: Graph, var_map: dict | None = None, value_map: dict | None = None) -> Graph:
    """A copy of ``graph`` with fresh values (regions included). ``var_map`` maps ``id(var)`` to
    a replacement variable, for inlining a graph traced on other variables of the same spec."""
    var_map = var_map or {}
    vmap: dict[int, Value] = dict(value_map or {})
    new = Graph(name=graph.name)
    for v in graph.inputs:
        vmap[id(v)] = nv = Value(v.type)
        new.inputs.append(nv)
    for op in graph.ops:
        new.ops.append(_clone_op(op, vmap, var_map))
    new.outputs = [vmap.get(id(v), v) for v in graph.outputs]
    new.variables = [var_map.get(id(v), v) for v in graph.variables]
    return new


def _map_vars(value, var_map: dict):
    """``value`` with the variables in it (alone, or inside tuples and lists) replaced."""
    if isinstance(value, (tuple, list)):
        return type(value)(_map_vars(v, var_map) for v in value)
    return var_map.get(id(value), value)


def _clone_op(op: Op, vmap: dict, var_map: dict) -> Op:
    # Every attribute may name variables (`var`, a cond's `_writes`, a gradient's deltas).
    attrs = {k: _map_vars(v, var_map) for k, v in op.attrs.items()} if var_map else dict(op.attrs)
    regions = [clone(r, var_map, vmap) for r in op.regions]
    new = Op(op.prim, [vmap.get(id(v), v) for v in op.inputs], attrs,
             [v.type for v in op.outputs], regions, op.name, op.source)  # fmt: skip
    for old, nv in zip(op.outputs, new.outputs):
        vmap[id(old)] = nv
    return new
