"""ociruntime.records: the dataclasses subset the hot path uses, checked for the behaviour
the runtime relies on (construction, defaults, fresh factories, equality, frozen)."""

from __future__ import annotations

import pytest

from ociruntime.records import Factory, record, tuple_record


@record
class Point:
    x: int
    y: int = 0
    tags: list = Factory(list)


@record(frozen=True)
class Key:
    name: str
    size: int = 1


def test_positional_keyword_and_defaults() -> None:
    p = Point(1, y=2)
    assert (p.x, p.y, p.tags) == (1, 2, [])
    assert Point(x=5).y == 0


def test_factory_gives_each_instance_its_own_value() -> None:
    a, b = Point(1), Point(2)
    a.tags.append("t")
    assert b.tags == []


def test_equality_and_repr() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert Point(1, 2) != Point(1, 3)
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"


@pytest.mark.parametrize("call", [lambda: Point(), lambda: Point(1, 2, [], 4), lambda: Point(1, z=3),
                                  lambda: Point(1, x=1)])
def test_bad_arguments_raise_type_error(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError):
        call()


def test_mutable_record_is_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(Point(1))


def test_frozen_record_is_immutable_and_hashable() -> None:
    k = Key("a")
    with pytest.raises(AttributeError):
        k.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del k.size
    assert hash(k) == hash(Key("a", 1))
    assert {k: 1}[Key("a")] == 1


def test_field_without_default_after_default_is_rejected() -> None:
    with pytest.raises(TypeError):
        @record
        class Bad:
            a: int = 1
            b: int


@tuple_record
class Span:
    """A half-open range."""

    start: int
    stop: int = 10

    @property
    def length(self) -> int:
        return self.stop - self.start


def test_tuple_record_is_a_named_tuple_with_methods() -> None:
    s = Span(2)
    assert s == (2, 10) and s.length == 8 and isinstance(s, tuple)
    assert s._replace(stop=4).length == 2
    assert Span.__doc__ == "A half-open range." and Span._fields == ("start", "stop")
    with pytest.raises(AttributeError):
        s.start = 3  # type: ignore[misc]


def test_tuple_record_rejects_a_default_before_a_required_field() -> None:
    with pytest.raises(TypeError):
        @tuple_record
        class Bad:
            a: int = 1
            b: int
