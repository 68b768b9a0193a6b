"""A small AST toolkit: code templates, fresh names, and source locations.

Generated code is written as Python text with placeholder names, parsed, and filled in:

    template('''
        def body_name():
            body
    ''', body_name='if_body', body=[...statements...])

A placeholder that is a ``str`` renames; an expression node replaces the name; a list of
statements replaces a statement consisting of the placeholder alone. Template nodes carry no
source location: ``locate`` gives them the location of the user's statement they replace, so
that tracebacks and op source locations point at the user's line.
"""

from __future__ import annotations

import ast
import copy
import textwrap
from typing import Any

__all__ = ["Namer", "expr", "locate", "make_def", "template"]

_POSITIONS = ("lineno", "col_offset", "end_lineno", "end_col_offset")


class Namer:
    """Fresh names that clash with no name used anywhere in the function being converted."""

    def __init__(self, tree: ast.AST):
        self.used: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                self.used.add(node.id)
            elif isinstance(node, ast.arg):
                self.used.add(node.arg)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.used.add(node.name)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                self.used.update(node.names)
            elif isinstance(node, ast.alias):
                self.used.add((node.asname or node.name).split(".")[0])

    def new(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2``... (``break_1`` for ``break_``)."""
        name, i = base, 0
        sep = "" if base.endswith("_") else "_"
        while name in self.used:
            i += 1
            name = f"{base}{sep}{i}"
        self.used.add(name)
        return name

    def reserve(self, *bases: str) -> dict[str, str]:
        """Fresh names for several bases at once: ``{'if_body': 'if_body_2', ...}``."""
        return {base: self.new(base) for base in bases}


class _Fill(ast.NodeTransformer):
    def __init__(self, subs: dict[str, Any]):
        self.subs = subs

    def visit_Expr(self, node: ast.Expr):
        value = node.value
        if isinstance(value, ast.Name) and isinstance(self.subs.get(value.id), list):
            return self.subs[value.id]
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name):
        if node.id not in self.subs:
            return node
        sub = self.subs[node.id]
        if isinstance(sub, str):
            return ast.Name(id=sub, ctx=node.ctx)
        sub = copy.deepcopy(sub) if getattr(sub, "_ag_used", False) else sub
        sub._ag_used = True  # a node placed twice is copied the second time
        if isinstance(sub, (ast.Name, ast.Attribute, ast.Tuple, ast.List, ast.Starred)):
            _set_ctx(sub, node.ctx)
        return sub

    def visit_FunctionDef(self, node: ast.FunctionDef):
        node.name = self.subs.get(node.name, node.name)
        return self.generic_visit(node)

    def visit_arg(self, node: ast.arg):
        node.arg = self.subs.get(node.arg, node.arg)
        return node


def _set_ctx(node: ast.AST, ctx: ast.expr_context) -> None:
    node.ctx = type(ctx)()
    if isinstance(node, (ast.Tuple, ast.List)):
        for elt in node.elts:
            _set_ctx(elt, ctx)
    elif isinstance(node, ast.Starred):
        _set_ctx(node.value, ctx)


def template(code: str, **subs: Any) -> list[ast.stmt]:
    """Parse ``code`` and fill in the placeholders (see the module docstring)."""
    tree = ast.parse(textwrap.dedent(code))
    for node in ast.walk(tree):
        for attr in _POSITIONS:
            if hasattr(node, attr):
                delattr(node, attr)
    body = _Fill(subs).visit(tree).body
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if hasattr(node, "_ag_used"):
            del node._ag_used
    return body


def expr(code: str, **subs: Any) -> ast.expr:
    """Like ``template`` for a single expression."""
    (stmt,) = template(code, **subs)
    return stmt.value


def make_def(name: str, params: list[str], body: list[ast.stmt]) -> ast.FunctionDef:
    """``def name(params): body`` (``pass`` if the body is empty)."""
    args = ast.arguments(
        posonlyargs=[], args=[ast.arg(arg=p) for p in params], vararg=None, kwonlyargs=[],
        kw_defaults=[], kwarg=None, defaults=[],
    )  # fmt: skip
    fields = {"decorator_list": [], "returns": None, "type_comment": None}
    if "type_params" in ast.FunctionDef._fields:  # Python 3.12+
        fields["type_params"] = []
    node = ast.FunctionDef(name=name, args=args, body=body or [ast.Pass()], **fields)
    node.ag_generated = True  # a block function, not a user scope (see transformer._bind)
    return node


def locate(nodes: list[ast.AST], anchor: ast.AST) -> list[ast.AST]:
    """Give every node without a location the location of ``anchor`` (a user statement).

    Generated expressions end on the anchor's first line: CPython places a method call on the
    last line of its ``obj.method`` node, so a multi-line range would put ``ag__.if_stmt(...)``
    on the last line of the user's ``if`` block. Their end column is unknown (None), so
    tracebacks show the user's line without a misleading ``^^^`` marker under it."""
    one_line = anchor.lineno == anchor.end_lineno
    for root in nodes:
        for node in ast.walk(root):
            if "lineno" not in node._attributes or hasattr(node, "lineno"):
                continue
            node.lineno, node.col_offset = anchor.lineno, anchor.col_offset
            if isinstance(node, ast.stmt):
                node.end_lineno, node.end_col_offset = anchor.end_lineno, anchor.end_col_offset
            else:
                node.end_lineno = anchor.lineno
                node.end_col_offset = anchor.end_col_offset if one_line else None
    return nodes
