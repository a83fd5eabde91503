"""Grow clusters from accepted pairs without chaining two articles together.

Pairs are applied in a fixed order: merges forced by a person, then exact
identifiers, then fuzzy matches by decreasing score (ties by row order). Two
clusters join only when the joined cluster would still hold at most one DOI, one
PMID, one first page, one kind, issues that can be one, first authors that can be
one person, and years at most 1 apart, and when no pair forbidden by a person would
end up inside it. So ``A ~ B`` and ``B ~ C`` never put ``A`` with a ``C`` that
conflicts with it (a record without authors, year or issue cannot chain two
identically titled reports of different authors, years or issues).

The cluster id is the ``record_id`` of the cluster's *anchor*: its member that comes
first in the records table. The import stage orders records by export (in config
order) and position, so when an update search is appended as a new export, every
existing cluster keeps its anchor and its id; a new record can only join an existing
cluster or start a new one.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from srma.dedup.compare import journal_paper
from srma.dedup.keys import Features, surnames_compatible
from srma.dedup.normalise import dois_equivalent, issues_overlap

__all__ = ["UnionFind", "build_clusters"]

_GUARDED = ("pmid", "first_page", "kind")


class UnionFind:
    """Disjoint sets over rows ``0..n-1``. The guarded fields of a set are read from
    its members when two sets are to join (sets are small; nothing is kept per set
    but its member list, so memory does not grow with the number of joins)."""

    def __init__(self, feat: Features, forbidden: dict[int, set[int]]) -> None:
        n = len(feat)
        self.parent = list(range(n))
        self.feat = feat
        self.members: dict[int, list[int]] = {}
        self.forbidden = forbidden
        c = feat.codes
        self._guarded = [(name, c[name]) for name in _GUARDED]
        weak = np.flatnonzero(
            (feat.kind == "abstract?") | journal_paper(feat, np.arange(n, dtype=np.int64))
        )
        # a weak "abstract?" mark does not count as a kind here, nor a conference
        # paper printed in a journal's issue (its pairs are checked in compare.py)
        kind = c["kind"].copy()
        kind[weak] = -1
        self._guarded[_GUARDED.index("kind")] = ("kind", kind)

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def _members(self, root: int) -> list[int]:
        return self.members.get(root, [root])

    def conflict(
        self, a: int, b: int, *, double_doi: bool = False, same_place: bool = False
    ) -> str:
        """Why the sets of roots ``a`` and ``b`` may not join (``""`` if they may).
        ``double_doi``: the joining pair is one article beyond doubt (all fields agree
        under two DOIs, or one identifier and one title): DOIs and first pages are not
        checked. ``same_place``: the joining pair has the same page range, which
        answers for issues and first authors printed otherwise."""
        ma, mb = self._members(a), self._members(b)
        feat = self.feat
        for name, code in self._guarded:
            if double_doi and name == "first_page":
                continue
            # both sides hold values and share none (after a "beyond doubt" join a
            # cluster may hold two first pages; a third record must agree with one)
            sa = {int(code[x]) for x in ma} - {-1}
            if not sa:
                continue
            sb = {int(code[y]) for y in mb} - {-1}
            if sb and not (sa & sb):
                return f"cluster would hold two {name.replace('_', ' ')}s"
        if not double_doi:
            da = [feat.doi[x] for x in ma if feat.doi[x]]
            db = [feat.doi[y] for y in mb if feat.doi[y]]
            for x in da:
                for y in db:
                    if not dois_equivalent(x, y):
                        return "cluster would hold two dois"
        years = [int(feat.year[x]) for x in ma + mb if feat.year[x] > 0]
        if years and max(years) - min(years) > 1:
            return "cluster would span years more than 1 apart"
        if not (same_place or double_doi):
            ia = {feat.issue[x] for x in ma} - {""}
            ib = {feat.issue[y] for y in mb} - {""} if ia else set()
            for x in ia:
                for y in ib:
                    if not issues_overlap(x, y):
                        return "cluster would hold two issues"
            surnames = feat.surnames  # a record's first authors, read on demand
            for rx in ma:
                x = feat.surname[rx]
                if not x:
                    continue
                for ry in mb:
                    y = feat.surname[ry]
                    if y and not (
                        surnames_compatible(x, y)
                        or any(surnames_compatible(x, t) for t in surnames[ry][1:])
                        or any(surnames_compatible(y, t) for t in surnames[rx][1:])
                    ):
                        return "cluster would hold two first authors"
        if self.forbidden:
            small, big = (a, b) if len(ma) <= len(mb) else (b, a)
            for m in self._members(small):
                for f in self.forbidden.get(m, ()):
                    if self.find(f) == big:
                        return "a person forbade this merge"
        return ""

    def union(
        self,
        a: int,
        b: int,
        *,
        force: bool = False,
        double_doi: bool = False,
        same_place: bool = False,
    ) -> str:
        """Join the sets of rows ``a`` and ``b``; returns ``""`` when joined (or already
        together), else the reason it was refused."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ""
        if not force:
            why = self.conflict(ra, rb, double_doi=double_doi, same_place=same_place)
            if why:
                return why
        if len(self._members(ra)) < len(self._members(rb)):
            ra, rb = rb, ra
        self.members[ra] = self._members(ra) + self._members(rb)
        self.members.pop(rb, None)
        self.parent[rb] = ra
        return ""


#: How a record joined its cluster (``match`` column), by code.
HOW = ("self", "doi", "pmid", "accession", "fuzzy", "decision")


def build_clusters(
    record_ids,
    feat: Features,
    edges: pd.DataFrame,
    forbidden: dict[int, set[int]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Cluster rows from ``edges`` (columns ``i, j, how, score, force``, already in the
    order to apply).

    ``record_ids``: the records' ids (an array or Series of strings). Returns
    ``(clusters, refused, anchor)``: the clusters table of data-model section 2 (one
    row per record, in record order; its string columns Arrow-backed, taken from
    ``record_ids`` without a Python string per record), the edges that the guards
    refused, with their ``reason``, and each record's anchor row.
    """
    import pyarrow as pa

    n = len(record_ids)
    uf = UnionFind(feat, forbidden or {})
    accepted: list[tuple[int, int, str, float]] = []
    refused = []
    for col in ("double_doi", "same_place"):
        if col not in edges:
            edges = edges.assign(**{col: False})
    cols = ["i", "j", "how", "score", "force", "double_doi", "same_place"]
    for i, j, how, score, force, double, place in edges[cols].itertuples(index=False, name=None):
        i, j = int(i), int(j)
        if uf.find(i) == uf.find(j):
            continue
        why = uf.union(i, j, force=bool(force), double_doi=bool(double), same_place=bool(place))
        if why:
            refused.append((i, j, how, score, why))
        else:
            accepted.append((i, j, how, score))

    # Spanning tree of accepted edges; walk it from the anchor (smallest row) so that
    # every other record names the record and edge that joined it. Adjacency in
    # arrays (sorted by node, then neighbour), not a dict of lists: a million records.
    anchor = np.arange(n, dtype=np.int64)
    joined_by = np.full(n, -1, dtype=np.int64)
    how_code = np.zeros(n, dtype=np.int8)
    scores = np.full(n, np.nan)
    code_of = {h: k for k, h in enumerate(HOW)}
    if accepted:
        ai = np.fromiter((e[0] for e in accepted), np.int64, len(accepted))
        aj = np.fromiter((e[1] for e in accepted), np.int64, len(accepted))
        src = np.concatenate([ai, aj])
        dst = np.concatenate([aj, ai])
        eid = np.concatenate([np.arange(len(ai)), np.arange(len(ai))])
        order = np.lexsort((eid, dst, src))
        src, dst, eid = src[order], dst[order], eid[order]
        start_of = np.searchsorted(src, np.arange(n + 1))
        seen = np.zeros(n, dtype=bool)
        for first in np.unique(src):  # rows in record order: the first of a cluster
            if seen[first]:
                continue
            seen[first] = True
            queue = deque([int(first)])
            while queue:
                x = queue.popleft()
                for k in range(start_of[x], start_of[x + 1]):
                    y = int(dst[k])
                    if seen[y]:
                        continue
                    seen[y] = True
                    _, _, how, score = accepted[eid[k]]
                    anchor[y] = first
                    joined_by[y] = x
                    how_code[y] = code_of[how]
                    scores[y] = score
                    queue.append(y)
    ids = _arrow_strings(record_ids)
    clusters = pd.DataFrame(
        {
            "record_id": _series(ids),
            "cluster_id": _series(ids.take(pa.array(anchor))),
            "match": _series(pa.array(HOW).take(pa.array(how_code.astype(np.int64)))),
            "matched_to": _series(ids.take(pa.array(joined_by, mask=joined_by < 0))),
            "score": scores,
        }
    )
    refused_df = pd.DataFrame(refused, columns=["i", "j", "how", "score", "reason"])
    return clusters, refused_df, anchor


def _arrow_strings(values):
    """Strings as an Arrow (chunked) array, without a Python object per value when
    they are Arrow-backed already."""
    import pyarrow as pa

    arrow = getattr(getattr(values, "array", None), "_pa_array", None)
    if arrow is not None and (
        pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type)
    ):
        return arrow
    return pa.chunked_array(
        [pa.array(np.asarray(values, dtype=object).astype(str), type=pa.string())]
    )


def _series(arrow) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(arrow))
