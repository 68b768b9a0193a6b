"""The control-flow transformer: statements and expressions become calls of runtime operators.

After ``canonicalize`` (structured control flow only) and ``analysis`` (liveness, definedness),
one ``NodeTransformer`` rewrites, bottom-up:

    if x > 0:                         y = ag__.Undefined('y')
        y = 1                         def if_body():
    else:                                 nonlocal y
        y = 2                             y = 1
                                      def else_body():
                                          nonlocal y
                                          y = 2
                                      def get_state():
                                          return (y,)
                                      def set_state(vars_):
                                          nonlocal y
                                          y, = vars_
                                      ag__.if_stmt(x > 0, if_body, else_body, get_state,
                                                   set_state, ('y',))

``while`` and ``for`` become ``ag__.while_stmt`` / ``ag__.for_stmt`` in the same way; ``and``,
``or``, ``not`` and ``a if c else b`` become ``ag__.and_`` / ``or_`` / ``not_`` / ``if_exp`` with
lazy operands; every call ``f(a)`` becomes ``ag__.converted_call(f, (a,), None)`` so that user
functions called from converted code are converted too. The *state* (the symbols a staged
cond/loop must output) is the set of symbols written in the block that are live afterwards (or,
for loops, live at the loop head). Every generated node gets the location of the user
statement it replaces.
"""

from __future__ import annotations

import ast

from . import analysis
from .analysis import activity, prefixes
from .canonicalize import lower_jumps
from .templates import Namer, expr, locate, make_def, template

__all__ = ["convert_function"]

# Builtins that inspect their caller's frame: calling them through converted_call would break.
_FRAME_BUILTINS = {"locals", "globals", "vars", "eval", "exec", "dir", "super"}


def convert_function(fn: ast.FunctionDef, namer: Namer) -> ast.FunctionDef:
    """Convert ``fn`` (and the functions nested in it) in place."""
    lower_jumps(fn, namer)
    info = analysis.analyze(fn)
    _Transformer(namer, info, fn).convert_body()
    _bind_hoisted(fn, info)
    return fn


def _hoisted(stmts: list[ast.stmt]) -> set[str]:
    """Names the generated block functions in ``stmts`` declare ``nonlocal``."""
    names: set[str] = set()
    for node in (n for stmt in stmts for n in analysis.walk_scope(stmt)):
        if getattr(node, "ag_generated", False):
            for inner in node.body:
                if isinstance(inner, ast.Nonlocal):
                    names.update(inner.names)
            names |= _hoisted(node.body)
    return names


def _bind_hoisted(fn: ast.FunctionDef, info: analysis.FunctionInfo) -> None:
    """``nonlocal y`` needs a binding of ``y`` in the function. A name assigned only inside
    blocks (now block functions) has none: bind it to ``Undefined('y')`` at the start. It was
    unbound there, and it stays unbound for ``ag__.ld`` and the staged operators' checks."""
    bound = analysis.parameters(fn) | info.globals | info.nonlocals | activity(fn.body).names
    missing = sorted(_hoisted(fn.body) - bound)
    if not missing:
        return
    stmts = [s for n in missing for s in template(f"{n} = ag__.Undefined({n!r})")]
    docstring = fn.body[:1] if ast.get_docstring(fn) is not None else []
    anchor = fn.body[len(docstring)] if len(fn.body) > len(docstring) else fn
    fn.body = docstring + locate(stmts, anchor) + fn.body[len(docstring) :]


def _is_generator(fn: ast.FunctionDef) -> bool:
    nodes = (n for stmt in fn.body for n in analysis.walk_scope(stmt))
    return any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await)) for n in nodes)


def _has_walrus(node: ast.AST) -> bool:
    # `lambda: (y := f())` would bind y in the lambda: leave such expressions alone.
    return any(isinstance(n, ast.NamedExpr) for n in ast.walk(node))


def _maybe_placeholders(fn: ast.FunctionDef) -> set[str]:
    """Names that may hold an ``Undefined`` placeholder: those assigned inside the blocks of
    an ``if`` / ``while`` / ``for``."""
    names: set[str] = set()
    for node in (n for stmt in fn.body for n in analysis.walk_scope(stmt)):
        if isinstance(node, (ast.If, ast.While, ast.For)):
            names |= activity(node.body + node.orelse).names
            if isinstance(node, ast.For):
                names |= activity([node.target]).names
    return names


def _names_tuple(state: list[str]) -> ast.Tuple:
    return ast.Tuple(elts=[ast.Constant(s) for s in state], ctx=ast.Load())


def _target(sym: str) -> ast.expr:
    return ast.parse(sym, mode="eval").body


class _Transformer(ast.NodeTransformer):
    def __init__(self, namer: Namer, info: analysis.FunctionInfo, fn: ast.FunctionDef):
        self.namer = namer
        self.info = info
        self.fn = fn
        self.placeholders = _maybe_placeholders(fn)
        self.stmts: list[ast.stmt] = []  # the statements being visited, innermost last
        self.nested_scopes = 0  # > 0 inside a lambda or comprehension

    def visit(self, node: ast.AST):
        if isinstance(node, ast.stmt):
            self.stmts.append(node)
            try:
                return super().visit(node)
            finally:
                self.stmts.pop()
        if isinstance(node, (ast.Lambda, *analysis.COMPREHENSIONS)):
            self.nested_scopes += 1
            try:
                return super().visit(node)
            finally:
                self.nested_scopes -= 1
        return super().visit(node)

    def convert_body(self) -> None:
        self.fn.body = self._block(self.fn.body)

    def _block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in stmts:
            new = self.visit(stmt)
            out += new if isinstance(new, list) else [new]
        return out

    # ------------------------------------------------------------------- shared pieces

    def _state(self, written: set[str], live: frozenset, roots: frozenset | None) -> list[str]:
        """Symbols a staged region outputs: live plain names, and composites (``self.x``)
        whose bases are not rewritten in the block (and, for loops, whose root is in
        ``roots``, the symbols live at the loop head)."""
        live = set(live) | self.info.captured
        names = sorted(s for s in written if "." not in s and s in live)
        composites = sorted(
            s for s in written
            if "." in s and not (prefixes(s) - {s}) & written
            and (roots is None or s.split(".")[0] in roots)
        )  # fmt: skip
        return names + composites

    def _decls(self, names: set[str]) -> list[ast.stmt]:
        """``nonlocal`` (or ``global``) for the plain names a generated function assigns."""
        decls = []
        local = sorted(names - self.info.globals)
        glob = sorted(names & self.info.globals)
        if local:
            decls.append(ast.Nonlocal(names=local))
        if glob:
            decls.append(ast.Global(names=glob))
        return decls

    def _def(self, name: str, params: list[str], body: list, written: set[str]) -> ast.FunctionDef:
        return make_def(name, params, self._decls(written) + body)

    def _reserve(self, state: list[str], *bases: str) -> dict[str, str]:
        """Names for the generated functions, taken before the nested statements are converted
        so that outer constructs get the lower numbers."""
        state_bases = ("get_state", "set_state", "vars_") if state else ()
        return self.namer.reserve(*bases, *state_bases)

    def _load(self, sym: str, node: ast.stmt, deleted: set[str]) -> ast.expr:
        if "." not in sym and sym in node.ag_must_in and sym not in deleted:
            return ast.Name(id=sym, ctx=ast.Load())
        return expr(f"ag__.ldu(lambda: {sym}, {sym!r})")  # may be unbound at run time

    def _state_fns(self, state: list[str], node: ast.stmt, deleted: set[str], names: dict):
        """``get_state`` / ``set_state`` definitions and the names to pass (None, None if the
        region has no state)."""
        if not state:
            return [], ast.Constant(None), ast.Constant(None)
        loads = ast.Tuple(elts=[self._load(s, node, deleted) for s in state], ctx=ast.Load())
        get_def = make_def(names["get_state"], [], [ast.Return(value=loads)])
        targets = ast.Tuple(elts=[_target(s) for s in state], ctx=ast.Store())
        assign = template("targets = vars_", targets=targets, vars_=names["vars_"])
        plain = {s for s in state if "." not in s}
        set_def = make_def(names["set_state"], [names["vars_"]], self._decls(plain) + assign)
        refs = [ast.Name(id=d.name, ctx=ast.Load()) for d in (get_def, set_def)]
        return [get_def, set_def], *refs

    # -------------------------------------------------------------------------- if

    def visit_If(self, node: ast.If):
        body_act, else_act = activity(node.body), activity(node.orelse)
        written = body_act.writes | else_act.writes
        state = self._state(written, node.ag_live_out, None)
        names = self._reserve(state, "if_body", *(["else_body"] if node.orelse else []))
        node = self.generic_visit(node)
        defs = [self._def(names["if_body"], [], node.body, body_act.names)]
        orelse: ast.expr = ast.Constant(None)
        if node.orelse:
            defs.append(self._def(names["else_body"], [], node.orelse, else_act.names))
            orelse = ast.Name(id=names["else_body"], ctx=ast.Load())
        deleted = body_act.deleted | else_act.deleted
        state_defs, get_state, set_state = self._state_fns(state, node, deleted, names)
        call = template(
            "ag__.if_stmt(test, body, orelse, get_state, set_state, names)",
            test=node.test, body=names["if_body"], orelse=orelse, get_state=get_state,
            set_state=set_state, names=_names_tuple(state),
        )  # fmt: skip
        return locate(defs + state_defs + call, node)

    # ----------------------------------------------------------------------- loops

    def _loop_options(self, node: ast.While | ast.For) -> dict[str, ast.expr]:
        """Remove ``set_loop_options(...)`` calls from the loop body; their keyword arguments
        become the loop's options (evaluated before the loop)."""
        options, body = {}, []
        for stmt in node.body:
            call = stmt.value if isinstance(stmt, ast.Expr) else None
            func = call.func if isinstance(call, ast.Call) else None
            name = getattr(func, "attr", getattr(func, "id", None))
            if name == "set_loop_options":
                options.update({k.arg: self.visit(k.value) for k in call.keywords})
            else:
                body.append(stmt)
        node.body = body or [ast.Pass()]
        return options

    def _loop_state(self, node: ast.While | ast.For, body_act) -> list[str]:
        return self._state(body_act.writes, node.ag_live_in | node.ag_live_out, node.ag_live_in)

    def _loop_call(self, op: str, first: list, node, state, body_act, opts, names):
        state_defs, get_state, set_state = self._state_fns(state, node, body_act.deleted, names)
        args = [*first, get_state, set_state, _names_tuple(state)]
        if opts:
            args.append(ast.Dict(keys=[ast.Constant(k) for k in opts], values=list(opts.values())))
        call = ast.Expr(value=expr(f"ag__.{op}()"))
        call.value.args = args
        return state_defs + [call]

    def visit_While(self, node: ast.While):
        opts = self._loop_options(node)
        body_act, test_act = activity(node.body), activity([node.test])
        body_names = body_act.names
        body_act.writes |= test_act.writes  # `while (line := f()):` updates line each time
        state = self._loop_state(node, body_act)
        names = self._reserve(state, "loop_test", "loop_body")
        node = self.generic_visit(node)
        test_def = self._def(names["loop_test"], [], [ast.Return(node.test)], test_act.names)
        body_def = self._def(names["loop_body"], [], node.body, body_names)
        first = [ast.Name(id=d.name, ctx=ast.Load()) for d in (test_def, body_def)]
        call = self._loop_call("while_stmt", first, node, state, body_act, opts, names)
        return locate([test_def, body_def] + call, node)

    def visit_For(self, node: ast.For):
        opts = self._loop_options(node)
        if isinstance(node.target, ast.Name):
            opts["iterate_names"] = ast.Constant(node.target.id)
        body_act = activity(node.body + [node.target])
        extra = getattr(node, "ag_extra_test", None)
        state = self._loop_state(node, body_act)
        bases = ["loop_body", "itr"] + (["extra_test"] if extra is not None else [])
        names = self._reserve(state, *bases)
        node = self.generic_visit(node)
        assign = template("target = itr", target=node.target, itr=names["itr"])
        body_def = self._def(names["loop_body"], [names["itr"]], assign + node.body, body_act.names)
        defs, extra_test = [body_def], ast.Constant(None)
        if extra is not None:
            test_def = self._def(names["extra_test"], [], [ast.Return(self.visit(extra))], set())
            defs.insert(0, test_def)
            extra_test = ast.Name(id=test_def.name, ctx=ast.Load())
        first = [node.iter, extra_test, ast.Name(id=body_def.name, ctx=ast.Load())]
        call = self._loop_call("for_stmt", first, node, state, body_act, opts, names)
        return locate(defs + call, node)

    # ------------------------------------------------------------------ expressions

    def visit_Name(self, node: ast.Name):
        """A read of a name that may still hold an ``Undefined`` placeholder fails like the
        original ``UnboundLocalError`` would."""
        stmt = self.stmts[-1] if self.stmts else None
        if (
            isinstance(node.ctx, ast.Load) and node.id in self.placeholders
            and not self.nested_scopes and stmt is not None
            and node.id not in getattr(stmt, "ag_must_in", (node.id,))
        ):  # fmt: skip
            return locate([expr(f"ag__.ld({node.id})")], node)[0]
        return node

    def visit_Assert(self, node: ast.Assert):
        """``assert test, msg`` becomes ``ag__.assert_stmt(test, lambda: msg)``: Python
        semantics on Python values; on traced ones TF's (spec A14: an error by default, a
        run-time assertion under ``Feature.ASSERT_STATEMENTS``)."""
        if not __debug__ or _has_walrus(node):
            return self.generic_visit(node)
        node = self.generic_visit(node)
        msg = node.msg if node.msg is not None else ast.Constant(None)
        new = template("ag__.assert_stmt(test, lambda: msg)", test=node.test, msg=msg)
        return locate(new, node)

    def visit_BoolOp(self, node: ast.BoolOp):
        if _has_walrus(node):
            return self.generic_visit(node)
        node = self.generic_visit(node)
        op = "and_" if isinstance(node.op, ast.And) else "or_"
        result = node.values[-1]
        for value in reversed(node.values[:-1]):
            result = expr(f"ag__.{op}(lambda: a, lambda: b)", a=value, b=result)
        return locate([result], node)[0]

    def visit_UnaryOp(self, node: ast.UnaryOp):
        node = self.generic_visit(node)
        if not isinstance(node.op, ast.Not):
            return node
        return locate([expr("ag__.not_(x)", x=node.operand)], node)[0]

    def visit_IfExp(self, node: ast.IfExp):
        if _has_walrus(node):
            return self.generic_visit(node)
        text = ast.unparse(node.test)  # named in error messages, as TF does (spec A5)
        node = self.generic_visit(node)
        new = expr(
            "ag__.if_exp(test, lambda: body, lambda: orelse, text)",
            test=node.test, body=node.body, orelse=node.orelse, text=ast.Constant(text),
        )  # fmt: skip
        return locate([new], node)[0]

    def visit_Call(self, node: ast.Call):
        node = self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and getattr(func.value, "id", None) == "ag__":
            return node
        if isinstance(func, ast.Name) and func.id in _FRAME_BUILTINS:
            return self._explicit_super(node) if func.id == "super" else node
        args = ast.Tuple(elts=node.args, ctx=ast.Load())
        kwargs: ast.expr = ast.Constant(None)
        if node.keywords:
            keys = [None if k.arg is None else ast.Constant(k.arg) for k in node.keywords]
            kwargs = ast.Dict(keys=keys, values=[k.value for k in node.keywords])
        new = expr("ag__.converted_call(f, args, kwargs)", f=func, args=args, kwargs=kwargs)
        return locate([new], node)[0]

    def _explicit_super(self, node: ast.Call) -> ast.Call:
        """``super()`` needs the class cell of a function compiled in a class body; the
        converted function is not, so name the class and the instance explicitly."""
        params = self.fn.args.posonlyargs + self.fn.args.args
        if node.args or not params:
            return node
        return locate([expr(f"super(__class__, {params[0].arg})")], node)[0]

    # -------------------------------------------------------------- nested scopes

    def visit_FunctionDef(self, node: ast.FunctionDef):
        if not _is_generator(node):
            convert_function(node, self.namer)
        return node

    def visit_AsyncFunctionDef(self, node):
        return node  # coroutines run unconverted

    def visit_ClassDef(self, node):
        return node  # classes defined inside a function run as Python
