"""``convert``: from a Python function to its converted twin, cached; and ``converted_call``.

The converted code of a function is compiled once per code object, inside a factory that makes
the function's free variables free variables of the converted code too:

    def factory():              # never called for its result: it only shapes the closure
        x = None                # one per free variable of the original function
        def inner(ag__):
            def f(...):         # the converted function
                ...
            return f
        return inner

Each original function then gets its own converted function, built from ``inner``'s code with
the original's globals and closure cells, so reads and ``nonlocal`` writes of enclosing
variables behave as before. ``ag__`` (the runtime operators) is the one extra free variable.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import os
import sysconfig
import types
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from . import operators, symbols
from .parsing import SourceUnavailable, parse_function
from .templates import Namer
from .transformer import convert_function

__all__ = ["AutoGraphWarning", "convert", "converted_call", "do_not_convert", "is_converted",
           "to_source"]  # fmt: skip


class AutoGraphWarning(UserWarning):
    """A function runs unconverted: Python control flow in it cannot depend on traced values."""


# Modules whose functions never need conversion (and must not be slowed down by it).
_SKIP_MODULES = {
    "tracefn", "jax", "jaxlib", "numpy", "scipy", "optax", "flax", "equinox", "ml_dtypes",
    "opt_einsum", "pytest", "_pytest", "builtins", "typing", "functools", "abc",
}  # fmt: skip
_STDLIB = os.path.normcase(sysconfig.get_paths()["stdlib"])
_SITE = ("site-packages", "dist-packages")

_CONVERTED_ATTR = "__tracefn_autograph__"
_CONVERTED_NAME = "__tracefn_converted__"
_DO_NOT_CONVERT_ATTR = "__tracefn_do_not_convert__"

_code_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # code -> _Entry | None
_fn_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # function -> converted
_skipped: weakref.WeakSet = weakref.WeakSet()  # code never converted (incl. autograph's own)
_warned: weakref.WeakSet = weakref.WeakSet()


class _Entry:
    __slots__ = ("inner_code", "source", "__weakref__")

    def __init__(self, inner_code: types.CodeType, source: str):
        self.inner_code = inner_code
        self.source = source


# ------------------------------------------------------------------------------ policy


def _module_allows(module: str | None) -> bool:
    return (module or "").split(".")[0] not in _SKIP_MODULES


def _file_allows(code: types.CodeType) -> bool:
    path = os.path.normcase(code.co_filename)
    return not (path.startswith(_STDLIB) and not any(s in path for s in _SITE))


_NOT_CONVERTED_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _should_convert(fn: types.FunctionType) -> bool:
    if getattr(fn, _CONVERTED_ATTR, False) or getattr(fn, _DO_NOT_CONVERT_ATTR, False):
        return False
    code = fn.__code__
    if code in _skipped:  # the common case in converted code: a tracefn op, a numpy function
        return False
    if (code.co_flags & _NOT_CONVERTED_FLAGS or not _module_allows(fn.__module__)
            or not _file_allows(code)):  # fmt: skip
        _skipped.add(code)
        return False
    return True


def _warn_once(fn: types.FunctionType, reason: str) -> None:
    if fn.__code__ in _warned:
        return
    _warned.add(fn.__code__)
    warnings.warn(
        f"tracefn.autograph could not convert {fn.__qualname__} ({reason}); it runs as plain "
        "Python, so `if`/`while`/`for` in it cannot depend on traced tensors. Define it in a "
        "file, or decorate it with tracefn.autograph.do_not_convert to silence this warning.",
        AutoGraphWarning,
        stacklevel=3,
    )


# --------------------------------------------------------------------------- compiling


def _strip_signature(node: ast.FunctionDef) -> None:
    """Defaults and annotations come from the original function object; decorators were
    already applied to it. Evaluating them again could fail or have side effects."""
    node.decorator_list = []
    node.returns = None
    args = node.args
    args.defaults = []
    args.kw_defaults = [None] * len(args.kw_defaults)
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if a is not None:
            a.annotation = None


def _factory_module(node: ast.FunctionDef, freevars: tuple[str, ...]) -> ast.Module:
    placeholders = "\n".join(f"    {v} = None" for v in freevars) or "    pass"
    # The enclosing function's name is reserved: a user global named like it stays visible.
    text = (f"def factory():\n{placeholders}\n    def __tracefn_inner__(ag__):\n        pass\n"
            "    return __tracefn_inner__")  # fmt: skip
    module = ast.parse(text)
    for n in ast.walk(module):  # the factory's own lines sit on the function's first line
        if "lineno" in n._attributes:
            n.lineno = n.end_lineno = node.lineno
            n.col_offset = n.end_col_offset = 0
    inner = module.body[0].body[-2]
    inner.body = [node, ast.copy_location(ast.Return(ast.Name(node.name, ast.Load())), node)]
    return ast.fix_missing_locations(module)


def _compile(fn: types.FunctionType) -> _Entry:
    node = parse_function(fn)
    if isinstance(node, ast.AsyncFunctionDef):
        raise SourceUnavailable("coroutines are not converted")
    _strip_signature(node)
    convert_function(node, Namer(node))
    ast.fix_missing_locations(node)
    source = ast.unparse(node)
    # Inside the factory the converted function must not bind the original's name: a closure
    # variable of that name (a decorator's `wrapper`) must still mean the original object.
    node.name = _CONVERTED_NAME
    module = _factory_module(node, fn.__code__.co_freevars)
    code = compile(module, fn.__code__.co_filename, "exec", dont_inherit=True)
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    inner_code = _rename(namespace["factory"]().__code__, fn.__code__)
    _remember_generated(inner_code)
    return _Entry(inner_code, source)


def _rename(inner_code: types.CodeType, original: types.CodeType) -> types.CodeType:
    """Give the converted function's code the original's name (frames, tracebacks)."""
    names = {"co_name": original.co_name}
    if hasattr(original, "co_qualname"):  # Python 3.11+
        names["co_qualname"] = original.co_qualname
    consts = tuple(
        c.replace(**names) if isinstance(c, types.CodeType) and c.co_name == _CONVERTED_NAME
        else c
        for c in inner_code.co_consts
    )  # fmt: skip
    return inner_code.replace(co_consts=consts)


def _remember_generated(code: types.CodeType) -> None:
    """Functions defined by converted code (nested defs, lambdas) are converted already."""
    _skipped.add(code)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _remember_generated(const)


def _entry(fn: types.FunctionType) -> _Entry | None:
    code = fn.__code__
    if code in _code_cache:
        return _code_cache[code]
    try:
        entry = _compile(fn)
    except SourceUnavailable as e:
        _warn_once(fn, f"its source is not available: {e}")
        entry = None
    except Exception as e:  # noqa: BLE001 - a conversion bug must not stop the user's program
        _warn_once(fn, f"conversion failed with {type(e).__name__}: {e}")
        entry = None
    _code_cache[code] = entry
    return entry


def _instantiate(entry: _Entry, fn: types.FunctionType) -> types.FunctionType:
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    closure = tuple(cells.get(v) or types.CellType() for v in entry.inner_code.co_freevars)
    inner = types.FunctionType(entry.inner_code, fn.__globals__, "inner", None, closure)
    new = inner(_AG)
    new.__defaults__ = fn.__defaults__
    new.__kwdefaults__ = fn.__kwdefaults__
    for attr in ("__name__", "__qualname__", "__doc__", "__module__", "__annotations__"):
        setattr(new, attr, getattr(fn, attr))
    setattr(new, _CONVERTED_ATTR, True)
    return new


# ------------------------------------------------------------------------------ public


def convert(fn: Callable) -> Callable:
    """The converted version of ``fn``: Python ``if``/``while``/``for``/``and``/``or``/``not``
    and conditional expressions on traced tensors become staged control flow; on Python
    values they behave as before. Works for functions, closures, lambdas (with readable
    source), bound methods (the binding is kept), ``functools.partial`` and callable objects;
    anything else is returned unchanged.

    >>> def f(x):
    ...     return x if x > 0 else -x
    >>> convert(f)(-3)
    3
    """
    if isinstance(fn, types.FunctionType):
        return _convert_function(fn)
    if isinstance(fn, types.MethodType):
        func = _convert_function(fn.__func__) if isinstance(fn.__func__, types.FunctionType) \
            else fn.__func__  # fmt: skip
        return fn if func is fn.__func__ else types.MethodType(func, fn.__self__)
    if isinstance(fn, functools.partial):
        func = convert(fn.func)
        return fn if func is fn.func else functools.partial(func, *fn.args, **fn.keywords)
    if _is_callable_object(fn):
        return convert(fn.__call__)
    return fn


def _is_callable_object(fn: Any) -> bool:
    """An instance of a user class with a Python ``__call__`` (a Keras-style layer)."""
    if isinstance(fn, type) or getattr(fn, _DO_NOT_CONVERT_ATTR, False):
        return False
    call = type(fn).__dict__.get("__call__") or getattr(type(fn), "__call__", None)  # noqa: B004
    return isinstance(call, types.FunctionType) and _module_allows(type(fn).__module__)


def _convert_function(fn: types.FunctionType) -> types.FunctionType:
    new = _fn_cache.get(fn)
    if new is not None:
        return new
    if not _should_convert(fn):
        return fn
    entry = _entry(fn)
    if entry is None:
        return fn
    new = _instantiate(entry, fn)
    _fn_cache[fn] = new
    return new


def converted_call(f: Callable, args: tuple, kwargs: dict | None = None) -> Any:
    """Call ``f(*args, **kwargs)`` from converted code, converting ``f`` first if it is user
    code. ``range`` with a traced bound becomes ``tracefn.range`` (a staged loop, spec A9)."""
    if kwargs is None:
        kwargs = {}
    if f is builtins.range and any(operators._is_traced(a) for a in args):
        from .. import array_ops
        from ..tracing import convert_to_tensor

        bounds = [convert_to_tensor(a) if operators._is_traced(a) else a for a in args]
        return array_ops.range(*bounds, **kwargs)
    if isinstance(f, (types.BuiltinFunctionType, type)):
        return f(*args, **kwargs)
    return convert(f)(*args, **kwargs)


def is_converted(fn: Callable) -> bool:
    """Whether ``fn`` is the result of ``convert`` (or a method bound to one)."""
    return bool(getattr(fn, _CONVERTED_ATTR, False))


def do_not_convert(fn: Callable) -> Callable:
    """Decorator: ``fn`` always runs as plain Python, even when called from converted code."""
    try:
        setattr(fn, _DO_NOT_CONVERT_ATTR, True)
        return fn
    except (AttributeError, TypeError):  # builtins and bound methods take no attributes

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs)

        setattr(wrapper, _DO_NOT_CONVERT_ATTR, True)
        return wrapper


def to_source(fn: Callable) -> str:
    """The Python source of ``fn`` after conversion; ValueError if it is not convertible.

    For ``def f(x): return x and 1`` it is::

        def f(x):
            return ag__.and_(lambda: x, lambda: 1)
    """
    fn = getattr(fn, "__func__", fn)
    if isinstance(fn, functools.partial):
        fn = fn.func
    if not isinstance(fn, types.FunctionType) or not _should_convert(fn):
        raise ValueError(f"{fn!r} is not converted by tracefn.autograph")
    entry = _entry(fn)
    if entry is None:
        raise ValueError(f"{fn!r} could not be converted (see the warning)")
    return entry.source


_AG = types.SimpleNamespace(
    **{name: getattr(operators, name) for name in operators.__all__},
    **{name: getattr(symbols, name) for name in symbols.__all__},
    converted_call=converted_call,
)
