"""Run-time stand-ins for Python symbols that have no value yet.

Converted code moves the branches of an ``if`` and the body of a loop into nested functions that
share the enclosing function's variables through ``nonlocal``. A variable that a branch creates
must exist in the enclosing scope before the branch runs, so the converted code binds it to
``Undefined('y')`` first; the staged operators then recognise ``Undefined`` and report the
spec's errors ("'y' must also be initialized in the else branch"). ``UndefinedReturnValue`` plays
the same role for the value of a ``return`` lowered into a variable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Undefined", "UndefinedReturnValue", "ld", "ldu", "retval"]


class Undefined:
    """The value of symbol ``symbol_name`` before any assignment. Using it in any way raises the
    ``UnboundLocalError`` the original code would have raised."""

    __slots__ = ("symbol_name",)

    def __init__(self, symbol_name: str):
        object.__setattr__(self, "symbol_name", symbol_name)

    def __repr__(self) -> str:
        return f"Undefined({self.symbol_name!r})"

    def __getattr__(self, name: str):
        if name.startswith("__"):  # protocol probes (copy, pickle, numpy) see a plain object
            raise AttributeError(name)
        self._fail()

    def _fail(self, *args, **kwargs):
        raise UnboundLocalError(f"'{self.symbol_name}' is used before assignment")


def _add_failing_dunders() -> None:
    # Arithmetic, comparison, truth, iteration, indexing and calls all fail like an unbound name.
    names = (
        "add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow "
        "matmul rmatmul neg pos abs invert lt le gt ge and rand or ror xor rxor "
        "bool iter len getitem setitem call index int float contains"
    )
    for name in names.split():
        setattr(Undefined, f"__{name}__", Undefined._fail)


_add_failing_dunders()


class UndefinedReturnValue:
    """The return value of a function whose lowered ``return`` has not run (yet)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UndefinedReturnValue()"


def ld(value: Any) -> Any:
    """A read of a symbol that may be unbound: fails like Python if it is."""
    if isinstance(value, Undefined):
        value._fail()
    return value


def ldu(load: Callable[[], Any], name: str) -> Any:
    """``load()``, or ``Undefined(name)`` when the symbol (or attribute) is not bound."""
    try:
        return load()
    except (NameError, AttributeError):  # UnboundLocalError is a NameError
        return Undefined(name)


def retval(value: Any) -> Any:
    """The function result for a lowered ``return``: ``None`` if no return statement ran."""
    return None if isinstance(value, UndefinedReturnValue) else value
