"""``tracefn.Module``: a container that finds the variables and sub-modules in its attributes."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .tracing import name_scope as _name_scope
from .variables import Variable

__all__ = ["Module"]


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Module:
    """Base class for objects that own variables (TF's ``tf.Module``, spec V13).

    ``variables`` / ``trainable_variables`` / ``submodules`` are collected recursively from the
    attributes (lists, tuples and dicts included), in attribute-name order."""

    def __init__(self, name: str | None = None):
        self._name = name or _camel_to_snake(type(self).__name__)
        self._scope_name = self._name

    @property
    def name(self) -> str:
        return self._name

    @property
    def name_scope(self):
        """A context manager: variables created inside are named ``<module name>/...``."""
        return _name_scope(self._scope_name)

    @property
    def variables(self) -> tuple:
        return tuple(_walk(self, Variable, set()))

    @property
    def trainable_variables(self) -> tuple:
        return tuple(v for v in self.variables if v.trainable)

    @property
    def non_trainable_variables(self) -> tuple:
        return tuple(v for v in self.variables if not v.trainable)

    @property
    def submodules(self) -> tuple:
        return tuple(_walk(self, Module, set()))

    @classmethod
    def with_name_scope(cls, method):
        def wrapped(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)

        return wrapped

    def __repr__(self):
        return f"<{type(self).__name__} {self._name!r}>"


def _children(value) -> Iterator:
    if isinstance(value, dict):
        for k in sorted(value, key=repr):
            yield value[k]
    elif isinstance(value, (list, tuple)):
        yield from value


def _walk(obj, kind, seen: set) -> Iterator:
    """Depth-first over ``obj``'s attributes in name order, yielding instances of ``kind``."""
    attrs = vars(obj) if hasattr(obj, "__dict__") else {}
    for key in sorted(attrs):
        if key.startswith("_tracefn"):
            continue
        yield from _visit(attrs[key], kind, seen)


def _visit(value, kind, seen: set) -> Iterator:
    if id(value) in seen:
        return
    if isinstance(value, (Variable, Module)):
        seen.add(id(value))
        if isinstance(value, kind):
            yield value
        if isinstance(value, Module):
            yield from _walk(value, kind, seen)
    elif isinstance(value, (list, tuple, dict)):
        seen.add(id(value))
        for child in _children(value):
            yield from _visit(child, kind, seen)
