"""`record`: the part of dataclasses we use, without its import cost.

`import dataclasses` pulls in inspect, ast, dis, tokenize and re: ~15-20 ms on every verb
that touches a record (create, exec), against ~0.1 ms for this module. A record class lists
its fields as annotations, in order, with optional class-level defaults; `Factory(list)`
stands for a fresh mutable default per instance (dataclasses' default_factory).

Records get __init__ (positional or keyword, in annotation order), __repr__ and __eq__;
`frozen=True` also makes them immutable and hashable. Annotations stay strings (the
modules use `from __future__ import annotations`): only the field names matter here.
"""

from __future__ import annotations

_NO_DEFAULT = object()


class Factory:
    """A default built anew for each instance: `tags: list = Factory(list)`."""

    __slots__ = ("make",)

    def __init__(self, make: object) -> None:
        self.make = make


def _fields_of(cls: type) -> tuple[tuple[str, object], ...]:
    """(name, default) in declaration order, base classes' records first."""
    fields: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        for name in klass.__dict__.get("__annotations__", {}):
            if name.startswith("__"):
                continue
            fields[name] = klass.__dict__.get(name, fields.get(name, _NO_DEFAULT))
    seen_default = False
    for name, default in fields.items():
        if default is _NO_DEFAULT and seen_default:
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")
        seen_default = seen_default or default is not _NO_DEFAULT
    return tuple(fields.items())


def _make_init(cls: type, fields: tuple[tuple[str, object], ...], frozen: bool):  # type: ignore[no-untyped-def]
    names = tuple(name for name, _ in fields)
    assign = object.__setattr__ if frozen else setattr

    def __init__(self, *args: object, **kwargs: object) -> None:  # noqa: N807
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} positional arguments, got {len(args)}")
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{cls.__name__}() got multiple values for {name!r}")
            assign(self, name, value)
        for name, default in fields[len(args):]:
            if name in kwargs:
                value = kwargs.pop(name)
            elif default is _NO_DEFAULT:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
            else:
                value = default.make() if isinstance(default, Factory) else default  # type: ignore[operator]
            assign(self, name, value)
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected arguments {sorted(kwargs)}")

    return __init__


def record(cls: type | None = None, *, frozen: bool = False):  # type: ignore[no-untyped-def]
    """Class decorator: `@record` or `@record(frozen=True)`."""

    def wrap(klass: type) -> type:
        fields = _fields_of(klass)
        names = tuple(name for name, _ in fields)
        klass.__init__ = _make_init(klass, fields, frozen)  # type: ignore[misc]
        klass.__record_fields__ = names  # type: ignore[attr-defined]

        def __repr__(self: object) -> str:  # noqa: N807
            inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
            return f"{type(self).__name__}({inner})"

        def __eq__(self: object, other: object) -> bool:  # noqa: N807
            if type(other) is not type(self):
                return NotImplemented
            return all(getattr(self, n) == getattr(other, n) for n in names)

        klass.__repr__ = __repr__  # type: ignore[method-assign]
        klass.__eq__ = __eq__  # type: ignore[method-assign]
        if frozen:
            def __setattr__(self: object, name: str, value: object = None) -> None:  # noqa: N807
                raise AttributeError(f"cannot assign to field {name!r} of frozen {type(self).__name__}")

            def __hash__(self: object) -> int:  # noqa: N807
                return hash(tuple(getattr(self, n) for n in names))

            klass.__setattr__ = __setattr__  # type: ignore[method-assign,assignment]
            klass.__delattr__ = __setattr__  # type: ignore[method-assign,assignment]
            klass.__hash__ = __hash__  # type: ignore[method-assign,assignment]
        else:
            klass.__hash__ = None  # type: ignore[assignment]  # mutable and comparable: unhashable, as dataclasses
        return klass

    return wrap if cls is None else wrap(cls)


def tuple_record(cls: type) -> type:
    """Class decorator: a collections.namedtuple with the class's annotated fields (in order,
    trailing class-level values as defaults) that keeps its methods, properties and docstring.
    typing.NamedTuple does the same, but `import typing` costs ~8 ms on every create."""
    from collections import namedtuple

    names = [n for n in cls.__dict__.get("__annotations__", {}) if not n.startswith("__")]
    defaults = [cls.__dict__[n] for n in names if n in cls.__dict__]
    if any(n not in cls.__dict__ for n in names[len(names) - len(defaults):]):
        raise TypeError(f"{cls.__name__}: field without a default follows one with a default")
    base = namedtuple(cls.__name__, names, defaults=defaults, module=cls.__module__)  # type: ignore[misc]
    body = {k: v for k, v in cls.__dict__.items()
            if k not in names and k not in ("__dict__", "__weakref__", "__annotations__")}
    body["__slots__"] = ()
    body["__annotations__"] = cls.__dict__.get("__annotations__", {})
    return type(cls.__name__, (base,), body)
