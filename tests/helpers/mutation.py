"""Hypothesis building blocks shared by the property and fuzz tests: valid configs with a
few subtrees swapped for arbitrary values, so the generated input reaches deep checks."""

from __future__ import annotations

import copy

from hypothesis import strategies as st


def value_paths(node: object, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document (the root is the empty path)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += value_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += value_paths(value, prefix + (index,))
    return found


def mutated_documents(bases: dict[str, dict], values: st.SearchStrategy) -> st.SearchStrategy:
    """One of `bases` with one to three subtrees replaced by values drawn from `values`."""

    @st.composite
    def build(draw: st.DrawFn) -> dict:
        document = copy.deepcopy(bases[draw(st.sampled_from(sorted(bases)))])
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            path = draw(st.sampled_from(value_paths(document)))
            if not path:
                continue
            node = document
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = draw(values)
        return document

    return build()
