"""Lower ``break``, ``continue`` and ``return`` into flag variables and guards.

Staged loops and conds are functions of their state, so jumps out of them must become state
too. After these passes a function has structured control flow only:

    while c:                      break_ = False
        if d:                     while not break_ and c:
            break                     if d:
        x = 1                             break_ = True
                                      if not break_:
                                          x = 1

A ``return`` nested in control flow becomes ``do_return = True; retval_ = value``, later
statements are guarded by ``if not do_return:``, loops get ``not do_return`` in their condition,
and the function ends with ``return ag__.retval(retval_)``. Before that, the common pattern
``if c: return a`` followed by more code moves that code into the ``else`` branch, so that both
branches of a staged cond return (spec A3, last row). A ``for`` loop's extra condition is kept in
the node attribute ``ag_extra_test`` (``for`` has no condition of its own).
"""

from __future__ import annotations

import ast

from .templates import Namer, expr, locate, template

__all__ = ["lower_jumps"]

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LOOPS = (ast.While, ast.For)


def _guard(flag: str, stmts: list[ast.stmt]) -> ast.If:
    (node,) = template("if not flag:\n    body", flag=flag, body=stmts)
    return locate([node], stmts[0])[0]


def _add_loop_test(loop: ast.While | ast.For, flag: str) -> None:
    """Make the loop also stop when ``flag`` is set: ``while not flag and <test>``."""
    if isinstance(loop, ast.While):
        loop.test = locate([expr("not flag and test", flag=flag, test=loop.test)], loop)[0]
        return
    old = getattr(loop, "ag_extra_test", None)
    new = expr("not flag", flag=flag) if old is None else expr(
        "not flag and old", flag=flag, old=old)  # fmt: skip
    loop.ag_extra_test = locate([new], loop)[0]


class _JumpLowering:
    """Replace the jumps of one kind in a block by ``replace(jump)`` and guard what follows."""

    def __init__(self, kind: type, flag: str, replace, into_loops: bool):
        self.kind = kind
        self.flag = flag
        self.replace = replace
        self.into_loops = into_loops  # `return` leaves nested loops too; break/continue do not

    def block(self, stmts: list[ast.stmt]) -> tuple[list[ast.stmt], bool]:
        out: list[ast.stmt] = []
        for i, stmt in enumerate(stmts):
            if isinstance(stmt, self.kind):
                out += locate(self.replace(stmt), stmt)
                return out, True  # what follows is dead code
            jumps = self.stmt(stmt)
            out.append(stmt)
            if jumps:
                rest, _ = self.block(stmts[i + 1 :])
                if rest:
                    out.append(_guard(self.flag, rest))
                return out, True
        return out, False

    def stmt(self, node: ast.stmt) -> bool:
        if isinstance(node, _SCOPES):
            return False
        if isinstance(node, _LOOPS):
            if not self.into_loops:
                return False
            node.body, jumps = self.block(node.body)
            if jumps:
                _add_loop_test(node, self.flag)
            return jumps
        jumps = False
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(node, field, None), list) and field in node._fields:
                new, j = self.block(getattr(node, field))
                setattr(node, field, new)
                jumps |= j
        for sub in getattr(node, "handlers", []) + getattr(node, "cases", []):
            sub.body, j = self.block(sub.body)
            jumps |= j
        return jumps


def _contains(stmts: list[ast.stmt], kind: type, into_loops: bool) -> bool:
    for stmt in stmts:
        for node in _walk_block(stmt, into_loops):
            if isinstance(node, kind):
                return True
    return False


def _walk_block(node: ast.AST, into_loops: bool):
    yield node
    if isinstance(node, _SCOPES) or (isinstance(node, _LOOPS) and not into_loops):
        return
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt) or isinstance(child, (ast.excepthandler, ast.match_case)):
            yield from _walk_block(child, into_loops)


# --------------------------------------------------------------------- break and continue


def _flag_lowering(kind: type, flag: str) -> _JumpLowering:
    """``break`` / ``continue`` become ``flag = True``."""
    return _JumpLowering(kind, flag, lambda jump: template(f"{flag} = True"), into_loops=False)


class _LoopJumps(ast.NodeTransformer):
    """Lower the break and continue statements of every loop in a function body."""

    def __init__(self, namer: Namer):
        self.namer = namer

    def _skip(self, node):
        return node  # nested functions are converted on their own

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _skip

    def _loop(self, node: ast.While | ast.For):
        self.generic_visit(node)  # inner loops first: their jumps are theirs
        orelse, node.orelse = node.orelse, []
        out: list[ast.stmt] = [node]
        if _contains(node.body, ast.Break, into_loops=False):
            flag = self.namer.new("break_")
            node.body, _ = _flag_lowering(ast.Break, flag).block(node.body)
            _add_loop_test(node, flag)
            out = template(f"{flag} = False") + out + ([_guard(flag, orelse)] if orelse else [])
        else:
            out += orelse  # no break: the else clause always runs after the loop
        if _contains(node.body, ast.Continue, into_loops=False):
            flag = self.namer.new("continue_")
            body, _ = _flag_lowering(ast.Continue, flag).block(node.body)
            node.body = template(f"{flag} = False") + body
        return locate(out, node)

    visit_While = visit_For = _loop


# ------------------------------------------------------------------------------------ return


def _definitely_returns(stmts: list[ast.stmt]) -> tuple[list[ast.stmt], bool]:
    """Rewrite ``if c: return a`` + rest into ``if c: return a`` / ``else: rest`` (and the
    mirror case), so that staged conds see a return in both branches."""
    for i, stmt in enumerate(stmts):
        rest = stmts[i + 1 :]
        if isinstance(stmt, ast.Return):
            return stmts[: i + 1], True
        if isinstance(stmt, ast.If):
            stmt.body, body_returns = _definitely_returns(stmt.body)
            stmt.orelse, else_returns = _definitely_returns(stmt.orelse)
            if body_returns and not else_returns and rest:
                stmt.orelse, else_returns = _definitely_returns(stmt.orelse + rest)
                return stmts[: i + 1], else_returns
            if else_returns and not body_returns and rest:
                stmt.body, body_returns = _definitely_returns(stmt.body + rest)
                return stmts[: i + 1], body_returns
            if body_returns and else_returns:
                return stmts[: i + 1], True
        elif isinstance(stmt, ast.With):
            stmt.body, returns = _definitely_returns(stmt.body)
            if returns:
                return stmts[: i + 1], True
        elif isinstance(stmt, (*_LOOPS, ast.Try)):
            for field in ("body", "orelse", "finalbody"):
                if field in stmt._fields:
                    setattr(stmt, field, _definitely_returns(getattr(stmt, field))[0])
    return stmts, False


def _only_top_level_returns(fn: ast.FunctionDef) -> bool:
    nested = [s for s in fn.body if not isinstance(s, ast.Return)]
    return not _contains(nested, ast.Return, into_loops=True)


def _lower_returns(fn: ast.FunctionDef, namer: Namer) -> None:
    if _only_top_level_returns(fn):
        return  # a plain `return` at the end needs no rewriting
    do_return, retval = namer.new("do_return"), namer.new("retval_")

    def replace(ret: ast.Return) -> list[ast.stmt]:
        value = ret.value if ret.value is not None else ast.Constant(None)
        return template(f"{do_return} = True\n{retval} = value", value=value)

    body, _ = _definitely_returns(fn.body)
    body, _ = _JumpLowering(ast.Return, do_return, replace, into_loops=True).block(body)
    head = template(f"{do_return} = False\n{retval} = ag__.UndefinedReturnValue()")
    tail = template(f"return ag__.retval({retval})")
    anchor_head, anchor_tail = fn.body[0], fn.body[-1]
    fn.body = locate(head, anchor_head) + body + locate(tail, anchor_tail)


def lower_jumps(fn: ast.FunctionDef, namer: Namer) -> None:
    """Lower the jumps of ``fn``'s own body (not of nested functions), in place."""
    fn.body = [s for stmt in fn.body for s in _as_list(_LoopJumps(namer).visit(stmt))]
    _lower_returns(fn, namer)


def _as_list(result) -> list[ast.stmt]:
    return result if isinstance(result, list) else [result]
