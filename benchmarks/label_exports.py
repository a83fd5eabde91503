"""Labelled deduplication sets built from real search exports (held-out test sets).

Usage::

    .venv/bin/python benchmarks/label_exports.py [--shared ../shared] [--show SET]

For each set in :data:`SETS` (one search run in several databases, one export file per
database, in ``<shared>/datasets/exports/``) this script

1. reads every file with srma's own importer (:func:`srma.importers.read_export`, export
   name = file stem, ``database`` as a review's config would give it), so record ids
   (``<export>:<position>``) and fields are those the workflow sees;
2. lists *candidate pairs* with its own simple code, independent of ``srma.dedup``:
   same DOI, same PMID, same normalised title, or a title token-set similarity
   (``rapidfuzz.fuzz.token_set_ratio``) >= 60 with publication years at most one apart
   (or a year missing);
3. decides each pair: pairs where identifier and citation agree (see
   :func:`obvious`) are decided *same*, pairs whose titles and first authors plainly
   differ (see :func:`clearly_different`) *different*; every other pair must have a
   decision written
   by a person in ``benchmarks/data/dedup/decisions.csv`` (``set, record_id_1,
   record_id_2, same, reason``), else the script stops and lists the undecided pairs
   (``--show SET`` prints them in full for reading);
4. joins the *same* pairs into groups (connected components), checks that no group
   holds two records decided *different*, and writes
   ``benchmarks/data/dedup/<set>.csv.gz`` in the column format of the shared labelled
   sets (``label`` = smallest record id of the group).

What counts as a duplicate is the definition of ``shared/datasets/dedup/README.md``:
the same bibliographic record (the same article in two databases, versions of one
article). Two reports of one study, a conference abstract and the article it became,
an erratum and a reprint are different records.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import unicodedata
from pathlib import Path

import pandas as pd
from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
OUT = ROOT / "benchmarks" / "data" / "dedup"
DECISIONS = OUT / "decisions.csv"

#: set -> [(file under datasets/exports/, database as a review's config would name it)]
SETS: dict[str, list[tuple[str, str]]] = {
    # one restoration-ecology search (revtools' test data) in three databases
    "restoration": [
        ("pubmed/revtools__restoration_pubmed.nbib", "PubMed"),
        ("scopus/revtools__restoration_scopus.ris", "Scopus"),
        ("wos/revtools__restoration_WoS.ciw", "Web of Science"),
    ],
    # one search on spaniel dogs (ASySD's test data): Web of Science through Zotero
    # (BibTeX), PubMed through Mendeley (EndNote XML)
    "spaniels": [
        ("bibtex/asysd__zotero_export.bib", "Web of Science"),
        ("endnote/asysd__mendeley_export.xml", "PubMed"),
    ],
    # one search in eight databases (CiteSource's baseline test data), one file per
    # database: the PubMed RIS (50 records; the PubMed CSV holds 10 of them), the
    # Embase.com CSV, the Scopus CSV, the Cochrane Library CSV (its RIS files are the
    # same 3 records), and the only file of the others
    "cff_baseline": [
        ("pubmed/cff__baseline_pubmed.ris", "PubMed"),
        ("embase/cff__baseline_embase.csv", "Embase"),
        ("scopus/cff__baseline_scopus.csv", "Scopus"),
        ("wos/cff__baseline_webofscience.ris", "Web of Science"),
        ("ris/cff__baseline_cinahl.ris", "CINAHL"),
        ("ris/cff__baseline_psychInfo_ovid.ris", "PsycInfo"),
        ("ris/cff__baseline_eric_ovid.ris", "ERIC"),
        ("cochrane/cff__baseline_cochrane.csv", "CENTRAL"),
    ],
    # one search on the black-backed woodpecker (synthesisr's test data) in Scopus (RIS)
    # and Zoological Record (Web of Science platform, tagged format)
    "woodpecker": [
        ("scopus/synthesisr__scopus.ris", "Scopus"),
        ("wos/synthesisr__zoorec.txt", "Zoological Record"),
    ],
    # synthesisr's small examples of one search (records of 2020 that mention
    # restoration) in Scopus and Web of Science: the Scopus RIS (its BibTeX file holds
    # the same 3 records, imported to the same fields)
    "synthesisr_ex": [
        ("scopus/synthesisr__Scopus_ris_example.ris", "Scopus"),
        ("wos/synthesisr__WoS_txt_example.txt", "Web of Science"),
    ],
}

#: Abstracts are cut to this many characters in the written sets, so that each file
#: stays under 1 MB gzipped (srma's deduplicator does not read abstracts; bib-dedupe
#: compares them, on the same cut text for both records).
ABSTRACT_CHARS = 1200

COLUMNS = [
    "record_id",
    "label",
    "title",
    "authors",
    "year",
    "journal",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmid",
    "isbn",
    "abstract",
    "source",
    "entrytype",
    "booktitle",
    "url",
]


def read_set(shared: Path, name: str) -> pd.DataFrame:
    """The records table of one set, as srma's import stage reads its files."""
    from srma.importers import read_export

    frames = []
    for rel, database in SETS[name]:
        path = shared / "datasets" / "exports" / rel
        frames.append(read_export(path, export=Path(rel).stem, database=database))
    return pd.concat(frames, ignore_index=True)


def norm_title(title: object) -> str:
    """Lower-case ASCII letters and digits of a title, one space between words."""
    if not isinstance(title, str):
        return ""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"<[^>]+>", " ", text)  # markup such as <i>
    return " ".join(re.findall(r"[a-z0-9]+", text))


def norm_doi(doi: object) -> str:
    if not isinstance(doi, str):
        return ""
    doi = doi.strip().lower()
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", doi)
    return doi


def norm_pmid(pmid: object) -> str:
    return pmid.strip() if isinstance(pmid, str) else ""


def first_number(value: object) -> str:
    """The first run of digits of a volume or page field ("" when none)."""
    m = re.search(r"\d+", value) if isinstance(value, str) else None
    return m.group(0).lstrip("0") if m else ""


def surname(rec: pd.Series) -> str:
    authors = rec["authors"]
    if authors is None or len(authors) == 0:
        return ""
    first = str(authors[0])
    part = first.split(",")[0] if "," in first else first.split(" ")[0]
    return norm_title(part).replace(" ", "")


def year_of(rec: pd.Series) -> int | None:
    y = rec["year"]
    return None if pd.isna(y) else int(y)


def candidate_pairs(rec: pd.DataFrame) -> dict[tuple[int, int], set[str]]:
    """Index pairs ``(i, j)``, ``i < j``, with the reasons they are candidates."""
    pairs: dict[tuple[int, int], set[str]] = {}

    def add(i: int, j: int, why: str) -> None:
        pairs.setdefault((min(i, j), max(i, j)), set()).add(why)

    titles = [norm_title(t) for t in rec["title"]]
    for key, values in (
        ("doi", [norm_doi(d) for d in rec["doi"]]),
        ("pmid", [norm_pmid(p) for p in rec["pmid"]]),
        ("title", titles),
    ):
        seen: dict[str, list[int]] = {}
        for i, v in enumerate(values):
            if v:
                seen.setdefault(v, []).append(i)
        for idx in seen.values():
            for a in range(len(idx)):
                for b in range(a + 1, len(idx)):
                    add(idx[a], idx[b], key)
    years = [year_of(r) for _, r in rec.iterrows()]
    scores = process.cdist(titles, titles, scorer=fuzz.token_set_ratio, score_cutoff=60)
    n = len(titles)
    for i in range(n):
        if not titles[i]:
            continue
        for j in range(i + 1, n):
            if scores[i, j] >= 60 and titles[j]:
                yi, yj = years[i], years[j]
                if yi is None or yj is None or abs(yi - yj) <= 1:
                    add(i, j, "similar title")
    return pairs


def obvious(a: pd.Series, b: pd.Series) -> bool:
    """Same record beyond doubt: a shared DOI or PMID (or, when the two records do
    not both have a DOI, the same volume and first page), titles equal up to case,
    punctuation and markup (``fuzz.ratio`` >= 95 on normalised titles), the same
    first-author surname (when both have one), years at most one apart (when both
    have one: online-first and issue years), and neither title is an erratum,
    correction or retraction, nor starts with
    reply, response or comment.
    """
    da, db = norm_doi(a["doi"]), norm_doi(b["doi"])
    same_id = bool(da and da == db) or bool(
        norm_pmid(a["pmid"]) and norm_pmid(a["pmid"]) == norm_pmid(b["pmid"])
    )
    if not same_id and not (da and db):
        # no identifier in common and none in conflict: the citation must agree
        va, vb = first_number(a["volume"]), first_number(b["volume"])
        pa, pb = first_number(a["pages"]), first_number(b["pages"])
        same_id = bool(va and va == vb and pa and pa == pb)
    ta, tb = norm_title(a["title"]), norm_title(b["title"])
    if not (same_id and ta and tb and fuzz.ratio(ta, tb) >= 95):
        return False
    for t in (ta, tb):
        if re.search(r"\b(erratum|corrigendum|correction|retract\w*)\b", t) or re.match(
            r"(reply|response|comment)\b", t
        ):
            return False
    sa, sb = surname(a), surname(b)
    if sa and sb and sa != sb:
        return False
    ya, yb = year_of(a), year_of(b)
    return ya is None or yb is None or abs(ya - yb) <= 1


def clearly_different(a: pd.Series, b: pd.Series, why: set[str]) -> bool:
    """Different records beyond doubt, read from the titles and first authors: no
    shared DOI or PMID, and either the titles differ in wording (``fuzz.ratio`` < 70 on
    normalised titles, and neither title's words nearly contained in the other's:
    ``fuzz.token_set_ratio`` < 85), or they differ in more than a few characters
    (``fuzz.ratio`` < 90) and the first authors' surnames differ (``fuzz.ratio`` < 80).
    """
    if "doi" in why or "pmid" in why:
        return False
    ta, tb = norm_title(a["title"]), norm_title(b["title"])
    r = fuzz.ratio(ta, tb)
    if r < 70 and fuzz.token_set_ratio(ta, tb) < 85:
        return True
    sa, sb = surname(a), surname(b)
    return r < 90 and bool(sa and sb) and fuzz.ratio(sa, sb) < 80


def read_decisions() -> dict[tuple[str, str, str], tuple[bool, str]]:
    out: dict[tuple[str, str, str], tuple[bool, str]] = {}
    if not DECISIONS.exists():
        return out
    with open(DECISIONS, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            a, b = sorted((row["record_id_1"], row["record_id_2"]))
            if row["same"] not in ("yes", "no"):
                raise ValueError(f"{DECISIONS}: same must be yes or no, not {row['same']!r}")
            out[(row["set"], a, b)] = (row["same"] == "yes", row["reason"])
    return out


def show(a: pd.Series, b: pd.Series, why: set[str]) -> str:
    def one(r: pd.Series) -> str:
        authors = "; ".join(list(r["authors"])[:4]) if r["authors"] is not None else ""
        return (
            f"  {r['record_id']} [{r['database']}] {r['year']}  {authors}\n"
            f"    {r['title']}\n"
            f"    {r['journal']} {r['volume']}({r['issue']}) {r['pages']}  doi={r['doi']}"
            f" pmid={r['pmid']} type={list(r['publication_type'] or [])}\n"
            f"    abs: {str(r['abstract'])[:160]}"
        )

    return f"{sorted(why)}\n{one(a)}\n{one(b)}"


def entrytype(types: object) -> str:
    text = " ".join(types).lower() if types is not None else ""
    if "conference" in text or "proceedings" in text or "inproceedings" in text:
        return "inproceedings"
    if "chapter" in text or "incollection" in text:
        return "incollection"
    if text.strip() in ("book", "ser"):
        return "book"
    return "article"


def to_labelled(rec: pd.DataFrame, label: list[str]) -> pd.DataFrame:
    """The shared sets' column format (shared/datasets/dedup/README.md).

    ``url`` carries the record's accession where the shared format can (read back by
    ``srma.dedup.labelled.accession_from_url``): a Scopus EID as a Scopus record link.
    Abstracts are cut to :data:`ABSTRACT_CHARS` characters.
    """

    def text(v: object) -> str:
        return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)

    url = [
        f"https://www.scopus.com/inward/record.uri?eid={acc}"
        if isinstance(acc, str) and acc.startswith("2-s2.0-")
        else ""
        for acc in rec["accession"]
    ]
    types = [entrytype(t) for t in rec["publication_type"]]
    journals = [text(j) for j in rec["journal"]]
    in_book = [t == "inproceedings" for t in types]
    return pd.DataFrame(
        {
            "record_id": rec["record_id"],
            "label": label,
            "title": [text(v) for v in rec["title"]],
            "authors": [" and ".join(a) if a is not None else "" for a in rec["authors"]],
            "year": [text(y) for y in rec["year"]],
            "journal": ["" if b else j for j, b in zip(journals, in_book, strict=True)],
            "volume": [text(v) for v in rec["volume"]],
            "issue": [text(v) for v in rec["issue"]],
            "pages": [text(v) for v in rec["pages"]],
            "doi": [text(v) for v in rec["doi"]],
            "pmid": [text(v) for v in rec["pmid"]],
            "isbn": "",
            "abstract": [text(v)[:ABSTRACT_CHARS] for v in rec["abstract"]],
            "source": rec["database"],
            "entrytype": types,
            "booktitle": [j if b else "" for j, b in zip(journals, in_book, strict=True)],
            "url": url,
        }
    )[COLUMNS]


def label_set(shared: Path, name: str, decisions: dict, show_all: bool) -> dict | None:
    rec = read_set(shared, name)
    pairs = candidate_pairs(rec)
    ids = list(rec["record_id"])
    parent = list(range(len(rec)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    undecided, different = [], []
    n_obvious = n_different = n_hand = 0
    used = set()
    for (i, j), why in sorted(pairs.items()):
        a, b = rec.iloc[i], rec.iloc[j]
        key = (name, *sorted((ids[i], ids[j])))
        if key in decisions:
            used.add(key)
            same, _ = decisions[key]
            n_hand += 1
        elif obvious(a, b):
            same = True
            n_obvious += 1
        elif clearly_different(a, b, why):
            same = False
            n_different += 1
        else:
            undecided.append((i, j, why))
            continue
        if same:
            parent[find(i)] = find(j)
        else:
            different.append((i, j))
    stale = [k for k in decisions if k[0] == name and k not in used]
    if undecided or show_all:
        for i, j, why in undecided if not show_all else [(i, j, w) for (i, j), w in pairs.items()]:
            print(show(rec.iloc[i], rec.iloc[j], why), end="\n\n")
    if undecided:
        print(f"{name}: {len(undecided)} candidate pairs without a decision", file=sys.stderr)
        return None
    if stale:
        print(f"{name}: decisions for pairs that are not candidates: {stale}", file=sys.stderr)
        return None
    for i, j in different:
        if find(i) == find(j):
            print(f"{name}: {ids[i]} and {ids[j]} decided different but joined", file=sys.stderr)
            return None
    groups: dict[int, list[str]] = {}
    for i in range(len(rec)):
        groups.setdefault(find(i), []).append(ids[i])
    label = [min(groups[find(i)]) for i in range(len(rec))]
    OUT.mkdir(parents=True, exist_ok=True)
    out = to_labelled(rec, label)
    out.to_csv(OUT / f"{name}.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    return {
        "set": name,
        "records": len(rec),
        "groups": len(groups),
        "duplicates": len(rec) - len(groups),
        "candidate pairs": len(pairs),
        "same by rule": n_obvious,
        "different by rule": n_different,
        "decided by hand": n_hand,
        "of them same": sum(decisions[k][0] for k in used),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=os.environ.get("SRMA_SHARED", str(ROOT.parent / "shared")))
    ap.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    ap.add_argument("--show", action="store_true", help="print every candidate pair")
    args = ap.parse_args(argv)
    decisions = read_decisions()
    ok = True
    for name in args.sets:
        counts = label_set(Path(args.shared), name, decisions, args.show)
        if counts is None:
            ok = False
        else:
            print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
