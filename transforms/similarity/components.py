"""Connected components of verified near-duplicate edges, and each story's representative."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable


class UnionFind:
    """Disjoint sets over hashable nodes (path halving, union by size)."""

    def __init__(self) -> None:
        self._parent: dict = {}
        self._size: dict = {}

    def find(self, node):
        parent = self._parent.setdefault(node, node)
        if parent == node:
            self._size.setdefault(node, 1)
            return node
        while self._parent[node] != node:
            self._parent[node] = self._parent[self._parent[node]]
            node = self._parent[node]
        return node

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self._size[ra] < self._size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._size[ra] += self._size.pop(rb)

    def groups(self) -> list[list]:
        """Every set with more than one node, each sorted, in sorted order."""
        by_root: dict = {}
        for node in self._parent:
            by_root.setdefault(self.find(node), []).append(node)
        return sorted(sorted(g) for g in by_root.values() if len(g) > 1)


def components(edges: Iterable[tuple]) -> list[list]:
    """The connected components (two nodes or more) of an undirected edge list."""
    uf = UnionFind()
    for a, b in edges:
        uf.union(a, b)
    return uf.groups()


def representative_key(published: dt.date | None, article_id: str) -> tuple:
    """Sort key of a story's members: the earliest published first (undated last),
    ties broken by ``article_id``: the first member is the story's representative."""
    return (published is None, published or dt.date.min, article_id)
