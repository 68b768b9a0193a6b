"""Read a function's source and parse it with the user's line and column numbers.

The resulting nodes carry the positions they have in the user's file, and the converted code
is compiled under the user's file name, so frames of converted code (and the op source
locations tracefn records from them) point at the user's lines.
"""

from __future__ import annotations

import ast
import inspect
import types

__all__ = ["SourceUnavailable", "parse_function"]


class SourceUnavailable(Exception):
    """The source of a function cannot be found or parsed unambiguously."""


def _parse_indented(source: str, first_line: int) -> ast.Module:
    """Parse ``source`` (the lines of one definition, maybe indented, e.g. a method) keeping
    columns exact: an indented block is parsed as the body of ``if 1:``."""
    shift = 1
    if source[:1] in (" ", "\t"):
        source, shift = "if 1:\n" + source, 2
    tree = ast.parse(source)
    ast.increment_lineno(tree, first_line - shift)
    if shift == 2:
        tree.body = tree.body[0].body
    return tree


def _source(fn: types.FunctionType) -> tuple[str, int]:
    """The lines of ``fn``'s own definition. (``inspect.getsourcelines(fn)`` would follow
    ``__wrapped__`` and return the source of the function a decorator wraps.)"""
    try:
        lines, index = inspect.findsource(fn.__code__)
    except (OSError, TypeError) as e:
        raise SourceUnavailable(str(e)) from None
    return "".join(inspect.getblock(lines[index:])), index + 1


def parse_function(fn: types.FunctionType) -> ast.FunctionDef:
    """The ``def`` of ``fn`` (for a lambda, an equivalent ``def``) at its original position."""
    source, first_line = _source(fn)
    if fn.__code__.co_name == "<lambda>":
        return _lambda_def(fn, source, first_line)
    try:
        tree = _parse_indented(source, first_line)
    except SyntaxError as e:
        raise SourceUnavailable(f"cannot parse its source: {e}") from None
    node = tree.body[0] if tree.body else None
    is_def = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    if not is_def or node.name != fn.__code__.co_name:
        raise SourceUnavailable("its source does not start with its definition")
    return node


def _lambda_def(fn: types.FunctionType, source: str, first_line: int) -> ast.FunctionDef:
    """Find the one lambda in ``source`` that defines ``fn`` and turn it into a def."""
    candidates = [
        n for n in _lambdas(source, first_line)
        if n.lineno == fn.__code__.co_firstlineno and _arg_names(n.args) == _code_args(fn)
    ]  # fmt: skip
    if len(candidates) != 1:
        raise SourceUnavailable(f"found {len(candidates)} matching lambdas in its source line")
    lam = candidates[0]
    body = [ast.copy_location(ast.Return(value=lam.body), lam.body)]
    fields = {"decorator_list": [], "returns": None, "type_comment": None}
    if "type_params" in ast.FunctionDef._fields:
        fields["type_params"] = []
    node = ast.FunctionDef(name="lambda_", args=lam.args, body=body, **fields)
    return ast.copy_location(node, lam)


def _lambdas(source: str, first_line: int) -> list[ast.Lambda]:
    try:
        tree = _parse_indented(source, first_line)
    except SyntaxError:
        tree = _parse_fragment(source, first_line)
    return [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)]


def _parse_fragment(source: str, first_line: int) -> ast.AST:
    """Source lines that hold a lambda inside a larger expression may not parse on their own:
    parse the longest text starting at a ``lambda`` keyword that does."""
    trees = []
    start = source.find("lambda")
    while start >= 0:
        for end in range(len(source), start, -1):
            try:
                tree = ast.parse("(" + source[start:end] + ")", mode="eval")
            except SyntaxError:
                continue
            line = first_line + source.count("\n", 0, start)
            ast.increment_lineno(tree, line - 1)
            trees.append(tree)
            break
        start = source.find("lambda", start + 1)
    return ast.Module(body=[ast.Expr(t.body) for t in trees], type_ignores=[])


def _arg_names(args: ast.arguments) -> tuple[str, ...]:
    names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return tuple(names)


def _code_args(fn: types.FunctionType) -> tuple[str, ...]:
    code = fn.__code__
    n = code.co_argcount + code.co_kwonlyargcount
    n += bool(code.co_flags & inspect.CO_VARARGS) + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    return code.co_varnames[:n]
