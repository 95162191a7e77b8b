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
    """Class decorator: an immutable tuple with the class's annotated fields (in order,
    trailing class-level values as defaults), keeping its methods, properties and docstring;
    `_fields`, `_replace()` and a repr like collections.namedtuple's. Neither `typing`
    (NamedTuple, ~8 ms) nor `collections` (namedtuple, ~3 ms with operator, keyword,
    reprlib) is imported: both would be paid on every create."""
    names = tuple(n for n in cls.__dict__.get("__annotations__", {}) if not n.startswith("__"))
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    if any(n not in defaults for n in names[len(names) - len(defaults):]):
        raise TypeError(f"{cls.__name__}: field without a default follows one with a default")
    index = {n: i for i, n in enumerate(names)}

    def __new__(klass, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]  # noqa: N807
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments, got {len(args)}")
        values = list(args)
        for name in names[len(args):]:
            if name in kwargs:
                values.append(kwargs.pop(name))
            elif name in defaults:
                values.append(defaults[name])
            else:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
        if kwargs:
            bad = sorted(kwargs)
            raise TypeError(f"{cls.__name__}() got unexpected or repeated arguments {bad}")
        return tuple.__new__(klass, values)

    def _replace(self, **changes: object):  # type: ignore[no-untyped-def]
        unknown = set(changes) - set(names)
        if unknown:
            raise TypeError(f"{cls.__name__}._replace() got unexpected fields {sorted(unknown)}")
        return tuple.__new__(type(self), [changes.get(n, self[i]) for i, n in enumerate(names)])

    def __repr__(self) -> str:  # noqa: N807
        return f"{type(self).__name__}({', '.join(f'{n}={self[i]!r}' for i, n in enumerate(names))})"

    def __getnewargs__(self) -> tuple:  # noqa: N807 - pickling and copy
        return tuple(self)

    body = {k: v for k, v in cls.__dict__.items()
            if k not in names and k not in ("__dict__", "__weakref__")}
    body.update(__slots__=(), __new__=__new__, _replace=_replace, __repr__=__repr__,
                __getnewargs__=__getnewargs__, _fields=names,
                __match_args__=names)
    for name, i in index.items():
        body[name] = property(lambda self, _i=i: tuple.__getitem__(self, _i), doc=f"field {i}: {name}")
    return type(cls.__name__, (tuple,), body)
