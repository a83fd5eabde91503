"""Grow clusters from accepted pairs without chaining two articles together.

Pairs are applied in a fixed order: merges forced by a person, then exact
identifiers, then fuzzy matches by decreasing score (ties by row order). Two
clusters join only when the joined cluster would still hold at most one DOI, one
PMID, one volume, one first page, one kind, and years at most 1 apart, and when no
pair forbidden by a person would end up inside it. So ``A ~ B`` and ``B ~ C`` never
put ``A`` with a ``C`` that conflicts with it.

The cluster id is the ``record_id`` of the cluster's *anchor*: its member that comes
first in the records table. The import stage orders records by export (in config
order) and position, so when an update search is appended as a new export, every
existing cluster keeps its anchor and its id; a new record can only join an existing
cluster or start a new one.
"""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np
import pandas as pd

from srma.dedup.keys import Features
from srma.dedup.normalise import dois_equivalent

__all__ = ["UnionFind", "build_clusters"]

_GUARDED = ("pmid", "first_page", "kind")


class UnionFind:
    """Disjoint sets over rows ``0..n-1`` that keep, per set, the values of the guarded
    fields and the forbidden partners."""

    def __init__(self, feat: Features, forbidden: dict[int, set[int]]) -> None:
        n = len(feat)
        self.parent = list(range(n))
        self.feat = feat
        self.values: dict[int, dict[str, set]] = {}
        self.members: dict[int, list[int]] = {}
        self.forbidden = forbidden

    def _vals(self, root: int) -> dict[str, set]:
        got = self.values.get(root)
        if got is None:
            got = {}
            for name in _GUARDED:
                v = getattr(self.feat, name)[root]
                got[name] = {v} if v not in ("", "abstract?") else set()
            d = self.feat.doi[root]
            got["doi"] = {d} if d else set()
            y = int(self.feat.year[root])
            got["year"] = {y} if y > 0 else set()
            self.values[root] = got
        return got

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def _members(self, root: int) -> list[int]:
        return self.members.get(root, [root])

    def conflict(self, a: int, b: int, *, double_doi: bool = False) -> str:
        """Why the sets of roots ``a`` and ``b`` may not join (``""`` if they may).
        ``double_doi``: the joining pair is one article beyond doubt (all fields agree
        under two DOIs, or one identifier and one title): DOIs and first pages are not
        checked."""
        va, vb = self._vals(a), self._vals(b)
        for name in _GUARDED:
            if double_doi and name == "first_page":
                continue
            # both sides hold values and share none (after a "beyond doubt" join a
            # cluster may hold two first pages; a third record must agree with one)
            if va[name] and vb[name] and not (va[name] & vb[name]):
                return f"cluster would hold two {name.replace('_', ' ')}s"
        if not double_doi:
            for x in va["doi"]:
                for y in vb["doi"]:
                    if not dois_equivalent(x, y):
                        return "cluster would hold two dois"
        years = va["year"] | vb["year"]
        if years and max(years) - min(years) > 1:
            return "cluster would span years more than 1 apart"
        if self.forbidden:
            small, big = (a, b) if len(self._members(a)) <= len(self._members(b)) else (b, a)
            for m in self._members(small):
                for f in self.forbidden.get(m, ()):
                    if self.find(f) == big:
                        return "a person forbade this merge"
        return ""

    def union(self, a: int, b: int, *, force: bool = False, double_doi: bool = False) -> str:
        """Join the sets of rows ``a`` and ``b``; returns ``""`` when joined (or already
        together), else the reason it was refused."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ""
        if not force:
            why = self.conflict(ra, rb, double_doi=double_doi)
            if why:
                return why
        if len(self._members(ra)) < len(self._members(rb)):
            ra, rb = rb, ra
        va, vb = self._vals(ra), self._vals(rb)
        for name in va:
            va[name] |= vb[name]
        self.values.pop(rb, None)
        self.members[ra] = self._members(ra) + self._members(rb)
        self.members.pop(rb, None)
        self.parent[rb] = ra
        return ""


def build_clusters(
    record_ids: np.ndarray,
    feat: Features,
    edges: pd.DataFrame,
    forbidden: dict[int, set[int]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cluster rows from ``edges`` (columns ``i, j, how, score, force``, already in the
    order to apply).

    Returns ``(clusters, refused)``: the clusters table of data-model section 2 (one
    row per record, in record order) and the edges that the guards refused, with
    their ``reason``.
    """
    n = len(record_ids)
    uf = UnionFind(feat, forbidden or {})
    accepted: list[tuple[int, int, str, float]] = []
    refused = []
    if "double_doi" not in edges:
        edges = edges.assign(double_doi=False)
    cols = ["i", "j", "how", "score", "force", "double_doi"]
    for i, j, how, score, force, double in edges[cols].itertuples(index=False, name=None):
        i, j = int(i), int(j)
        if uf.find(i) == uf.find(j):
            continue
        why = uf.union(i, j, force=bool(force), double_doi=bool(double))
        if why:
            refused.append((i, j, how, score, why))
        else:
            accepted.append((i, j, how, score))

    # Spanning tree of accepted edges; walk it from the anchor (smallest row) so that
    # every other record names the record and edge that joined it.
    adj: dict[int, list[tuple[int, str, float]]] = defaultdict(list)
    for i, j, how, score in accepted:
        adj[i].append((j, how, score))
        adj[j].append((i, how, score))
    cluster = np.empty(n, dtype=object)
    match = np.empty(n, dtype=object)
    matched_to = np.empty(n, dtype=object)
    scores = np.full(n, np.nan)
    seen = np.zeros(n, dtype=bool)
    for start in range(n):  # rows in record order: the first unseen row is an anchor
        if seen[start]:
            continue
        cid = record_ids[start]
        seen[start] = True
        cluster[start], match[start], matched_to[start] = cid, "self", None
        queue = deque([start])
        while queue:
            x = queue.popleft()
            for y, how, score in sorted(adj.get(x, ())):
                if seen[y]:
                    continue
                seen[y] = True
                cluster[y] = cid
                match[y] = how
                matched_to[y] = record_ids[x]
                scores[y] = score
                queue.append(y)
    clusters = pd.DataFrame(
        {
            "record_id": record_ids,
            "cluster_id": cluster,
            "match": match,
            "matched_to": matched_to,
            "score": scores,
        }
    )
    refused_df = pd.DataFrame(refused, columns=["i", "j", "how", "score", "reason"])
    return clusters, refused_df
