"""Static analysis of one function's AST, for the control-flow transformer.

Three questions, answered per statement and stored on the AST nodes as attributes:

- *activity* (computed on demand): which symbols a block reads and writes. A symbol is a name
  (``x``) or an attribute chain rooted at a name (``self.x``, a "composite" symbol);
- *liveness* (``ag_live_out``, and ``ag_live_in`` at loop heads): which symbols may be read
  later before being overwritten. Only live symbols become outputs of a staged ``cond`` or
  carried values of a staged loop, which is why a symbol defined in one branch and not used
  afterwards is fine (spec A3, A18);
- *definedness* (``ag_must_in``): which names are certainly bound when the statement starts.
  Reads of other names that may hold an ``Undefined`` placeholder are checked at run time.

The analysis runs after break/continue/return lowering, so it only sees structured control flow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

__all__ = [
    "Activity",
    "activity",
    "analyze",
    "free_reads",
    "prefixes",
    "symbol",
    "parameters",
    "walk_scope",
    "COMPREHENSIONS",
]

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_LOOPS = (ast.While, ast.For)


def symbol(node: ast.AST) -> str | None:
    """``'x'`` for a name, ``'x.a.b'`` for an attribute chain rooted at a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = symbol(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def prefixes(sym: str) -> set[str]:
    """``'a.b.c'`` -> ``{'a', 'a.b', 'a.b.c'}``: reading a composite reads its bases."""
    parts = sym.split(".")
    return {".".join(parts[: i + 1]) for i in range(len(parts))}


# ---------------------------------------------------------------------------------- activity


class Activity(ast.NodeVisitor):
    """Symbols read and written by a block, not looking inside nested scopes except for the
    names they read from the enclosing scope."""

    def __init__(self):
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self.deleted: set[str] = set()

    @property
    def names(self) -> set[str]:
        """Plain names written (composites excluded)."""
        return {s for s in self.writes if "." not in s}

    def _write(self, sym: str, ctx: ast.expr_context) -> None:
        self.writes.add(sym)
        if isinstance(ctx, ast.Del) and "." not in sym:
            self.deleted.add(sym)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.reads.add(node.id)
        else:
            self._write(node.id, node.ctx)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        sym = symbol(node)
        if sym is None:
            self.generic_visit(node)
        elif isinstance(node.ctx, ast.Load):
            self.reads |= prefixes(sym)
        else:
            self._write(sym, node.ctx)
            self.reads |= prefixes(sym.rsplit(".", 1)[0])

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        sym = symbol(node.target)
        if sym is None:
            self.visit(node.target)
        else:
            self.reads |= prefixes(sym)
            self.writes.add(sym)
        self.visit(node.value)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.writes.add(node.target.id)
        self.visit(node.value)

    def _visit_scope(self, node, outer_exprs: Iterable[ast.AST]) -> None:
        for expr in outer_exprs:
            if expr is not None:
                self.visit(expr)
        self.reads |= free_reads(node)
        self.writes |= _walrus_targets(node)

    def visit_FunctionDef(self, node) -> None:
        self.writes.add(node.name)
        args = node.args
        self._visit_scope(node, [*node.decorator_list, *args.defaults, *args.kw_defaults])

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_scope(node, [*node.args.defaults, *node.args.kw_defaults])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.writes.add(node.name)
        kws = [k.value for k in node.keywords]
        self._visit_scope(node, [*node.decorator_list, *node.bases, *kws])

    def _visit_comprehension(self, node) -> None:
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        self._visit_scope(node, [])

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension

    def visit_Import(self, node) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.writes.add(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.writes.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node) -> None:
        if node.name:
            self.writes.add(node.name)
        self.generic_visit(node)

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node) -> None:
        if node.rest:
            self.writes.add(node.rest)
        self.generic_visit(node)


def activity(nodes: Iterable[ast.AST]) -> Activity:
    act = Activity()
    for node in nodes:
        if node is not None:
            act.visit(node)
    return act


def _scope_parts(node) -> tuple[list, set[str]]:
    """The nodes making up a nested scope's body and the names it binds as parameters."""
    if isinstance(node, COMPREHENSIONS):
        elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        gens = node.generators
        body = elts + [g.target for g in gens] + [g.iter for g in gens[1:]]
        return body + [c for g in gens for c in g.ifs], set()
    if isinstance(node, ast.ClassDef):
        return node.body, set()
    args = node.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    body = [node.body] if isinstance(node, ast.Lambda) else node.body
    return body, params


def parameters(fn: ast.FunctionDef | ast.Lambda) -> set[str]:
    return _scope_parts(fn)[1]


def free_reads(node: ast.AST) -> set[str]:
    """Symbols a nested scope (function, lambda, class, comprehension) reads from outside."""
    body, params = _scope_parts(node)
    act = activity(body)
    declared = {n for s in body if isinstance(s, (ast.Global, ast.Nonlocal)) for n in s.names}
    bound = params | (act.names - declared)
    return {r for r in act.reads if r.split(".")[0] not in bound} | declared


def _walrus_targets(node: ast.AST) -> set[str]:
    # `:=` inside a comprehension binds in the enclosing function.
    if not isinstance(node, COMPREHENSIONS):
        return set()
    return {n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr)}


# ---------------------------------------------------------------------------------- liveness


def _kill(live: set[str], written: Iterable[str]) -> set[str]:
    """Remove overwritten symbols: writing ``x`` also kills ``x.a``; writing ``x.a`` kills
    ``x.a.b`` but not ``x``."""
    out = set(live)
    for w in written:
        out = {s for s in out if s != w and not s.startswith(w + ".")}
    return out


class _Liveness:
    """Backward dataflow over structured statements."""

    def block(self, stmts: list[ast.stmt], live_out: set[str]) -> set[str]:
        live = set(live_out)
        for stmt in reversed(stmts):
            stmt.ag_live_out = frozenset(live)
            live = self.stmt(stmt, live)
        return live

    def stmt(self, node: ast.stmt, out: set[str]) -> set[str]:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is not None:
            return method(node, out)
        act = activity([node])
        return _kill(out, act.writes) | act.reads

    def _If(self, node: ast.If, out):
        test = activity([node.test]).reads
        return self.block(node.body, out) | self.block(node.orelse, out) | test

    def _While(self, node: ast.While, out):
        head = activity([node.test]).reads | self.block(node.orelse, out)
        while True:
            new = head | self.block(node.body, head)
            if new == head:
                break
            head = new
        node.ag_live_in = frozenset(head)
        return head

    def _For(self, node: ast.For, out):
        target = activity([node.target])
        # The condition canonicalize added for break/return is evaluated at the loop head.
        extra = activity([getattr(node, "ag_extra_test", None)]).reads
        head = self.block(node.orelse, out) | extra
        while True:
            body_in = _kill(self.block(node.body, head), target.writes) | target.reads
            new = head | body_in
            if new == head:
                break
            head = new
        node.ag_live_in = frozenset(head)
        return head | activity([node.iter]).reads

    def _Try(self, node: ast.Try, out):
        final = self.block(node.finalbody, out)
        handlers = set(final)
        for h in node.handlers:
            handlers |= _kill(self.block(h.body, final), [h.name] if h.name else [])
            handlers |= activity([h.type]).reads
        body = self.block(node.body, self.block(node.orelse, final) | handlers)
        return body | handlers | final

    _TryStar = _Try

    def _With(self, node: ast.With, out):
        items = activity(node.items)
        targets = activity([i.optional_vars for i in node.items]).writes
        return _kill(self.block(node.body, out), targets) | items.reads

    def _Match(self, node: ast.Match, out):
        live = set(out) | activity([node.subject]).reads
        for case in node.cases:
            binds = activity([case.pattern])
            guard = activity([case.guard]).reads
            live |= _kill(self.block(case.body, out), binds.writes) | binds.reads | guard
        return live

    def _Return(self, node: ast.Return, out):
        return activity([node.value]).reads

    def _Raise(self, node: ast.Raise, out):
        return activity([node.exc, node.cause]).reads


# ------------------------------------------------------------------------------- definedness


def _meet(a: set | None, b: set | None) -> set | None:
    """Intersection where ``None`` means "unreachable" (defines everything)."""
    if a is None:
        return b
    if b is None:
        return a
    return a & b


class _Definedness:
    """Forward dataflow: the names certainly bound before each statement (``None``: the
    statement is unreachable)."""

    def block(self, stmts, must: set | None) -> set | None:
        for stmt in stmts:
            stmt.ag_must_in = frozenset(must or ())
            must = self.stmt(stmt, must)
        return must

    def stmt(self, node, must):
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is not None:
            return method(node, must)
        act = activity([node])
        return None if must is None else (must | act.names) - act.deleted

    def _If(self, node, must):
        return _meet(self.block(node.body, must), self.block(node.orelse, must))

    def _loop(self, node, must):
        head = [node.target] if isinstance(node, ast.For) else [node.test]
        bound_at_start = activity(head).names  # the loop target, or `:=` in the test
        self.block(node.body, None if must is None else must | bound_at_start)
        self.block(node.orelse, must)
        return must  # the body may not run

    _While = _For = _loop

    def _Try(self, node, must):
        self.block(node.orelse, self.block(node.body, must))
        for handler in node.handlers:
            self.block(handler.body, must)
        return self.block(node.finalbody, must)

    _TryStar = _Try

    def _With(self, node, must):
        targets = activity([i.optional_vars for i in node.items]).names
        return self.block(node.body, None if must is None else must | targets)

    def _Match(self, node, must):
        for case in node.cases:
            binds = activity([case.pattern]).names
            self.block(case.body, None if must is None else must | binds)
        return must  # no case may match

    def _Return(self, node, must):
        return None

    _Raise = _Break = _Continue = _Return


# ------------------------------------------------------------------------------------ driver


class FunctionInfo:
    """What the transformer needs to know about the function as a whole."""

    def __init__(self, globals_: set[str], nonlocals: set[str], captured: set[str]):
        self.globals = globals_  # names declared `global`: nested functions need `global` too
        self.nonlocals = nonlocals
        self.captured = captured  # names read by nested functions: treated as always live


def _declared(stmts, kind) -> set[str]:
    found = set()
    for stmt in stmts:
        for node in walk_scope(stmt):
            if isinstance(node, kind):
                found |= set(node.names)
    return found


def walk_scope(node: ast.AST):
    """ast.walk that yields nested scopes but does not enter them."""
    yield node
    if not isinstance(node, _SCOPES):
        for child in ast.iter_child_nodes(node):
            yield from walk_scope(child)


def analyze(fn: ast.FunctionDef) -> FunctionInfo:
    """Annotate every statement of ``fn`` with liveness and definedness."""
    globals_ = _declared(fn.body, ast.Global)
    nonlocals = _declared(fn.body, ast.Nonlocal)
    nested = [n for s in fn.body for n in walk_scope(s) if isinstance(n, _SCOPES)]
    captured = set().union(*[free_reads(n) for n in nested])
    _Liveness().block(fn.body, globals_ | nonlocals)
    _Definedness().block(fn.body, parameters(fn) | globals_ | nonlocals)
    return FunctionInfo(globals_, nonlocals, {c.split(".")[0] for c in captured})
