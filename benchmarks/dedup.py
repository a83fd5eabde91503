"""Deduplication benchmark: srma against bib-dedupe on the labelled sets.

Usage::

    .venv/bin/python benchmarks/dedup.py [--shared ../shared] [--large 100000]
                                         [--skip-peer-large]

For every labelled set in ``<shared>/datasets/dedup/`` (real search exports with true
duplicate groups) and for a large file built from them, each tool runs in a fresh
subprocess on the same records (so peak memory is that process's maximum resident
set size, interpreter and libraries included, for both tools alike), and the script
prints per set: records, duplicates found, false merges (records put with a record of
another true group), record-level sensitivity, wall time and peak memory, side by side,
and srma's speed as a ratio of bib-dedupe's wall time.

The large file (default 100,000 records) concatenates the four sets and replicates
them; replica ``k`` (``k >= 1``) appends a replica-specific phrase to every title
("in rats", "in mice", ...), adds ``50 * k`` to every year and ``1000 * k`` to every
volume, and suffixes DOIs and PMIDs, the same way for every member of a true group.
Each replica is therefore a new set of articles with the original duplicate structure,
whose titles sit beside the originals' in every sorted title block (near-identical
titles that must be told apart). Records of different sets are labelled as different
groups even where the sets overlap, so a cross-set merge counts as a false merge.

Requires bib-dedupe (``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

PHRASES = [
    "in rats",
    "in mice",
    "in dogs",
    "in pigs",
    "in rabbits",
    "in sheep",
    "in zebrafish",
    "in primates",
    "in guinea pigs",
    "in hamsters",
    "in cats",
    "in goats",
]


def build_large(sets: list[Path], n: int, out: Path) -> Path:
    """Write a labelled CSV of ``n`` records replicated from ``sets`` (see module doc)."""
    frames = []
    for p in sets:
        stem = p.name.split(".")[0]
        frame = pd.read_csv(p, dtype=str, keep_default_na=False)
        frame["record_id"] = stem + ":" + frame["record_id"]
        frame["label"] = stem + ":" + frame["label"]
        frames.append(frame)
    base = pd.concat(frames, ignore_index=True)
    parts = []
    k = 0
    total = 0
    while total < n:
        rep = base.copy()
        if k:
            phrase = PHRASES[(k - 1) % len(PHRASES)] + ("" if k <= len(PHRASES) else f" {k}")
            rep["record_id"] = rep["record_id"] + f"~{k}"
            rep["label"] = rep["label"] + f"~{k}"
            has_title = rep["title"] != ""
            rep.loc[has_title, "title"] = (
                rep.loc[has_title, "title"].str.rstrip(". ") + " " + phrase
            )
            vol = pd.to_numeric(rep["volume"].str.extract(r"(\d+)")[0], errors="coerce")
            rep["volume"] = [str(int(v) + 1000 * k) if v == v else "" for v in vol]  # NaN != NaN
            rep.loc[rep["doi"] != "", "doi"] = rep.loc[rep["doi"] != "", "doi"] + f".r{k}"
            rep.loc[rep["pmid"] != "", "pmid"] = rep.loc[rep["pmid"] != "", "pmid"] + f"{k:02d}"
            year = pd.to_numeric(rep["year"], errors="coerce")
            rep["year"] = [str(int(y) + 50 * k) if y == y else "" for y in year]
            rep["url"] = ""
        parts.append(rep)
        total += len(rep)
        k += 1
    big = pd.concat(parts, ignore_index=True).iloc[:n]
    big.to_csv(out, index=False, compression="gzip")
    return out


_SRMA = """
import json, resource, sys, time
sys.path.insert(0, {workflow!r})
from srma.dedup import deduplicate
from srma.dedup.labelled import read_labelled, score_clusters
records = read_labelled({path!r})
t = time.perf_counter()
result = deduplicate(records)
wall = time.perf_counter() - t
score = score_clusters(records, result.clusters)
score.update(wall=wall, peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(score))
"""

_PEER = """
import json, logging, resource, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, {workflow!r})
import pandas as pd
from bib_dedupe.bib_dedupe import block, cluster, match, merge, prep
from srma.dedup.labelled import read_labelled, score_clusters
raw = pd.read_csv({path!r}, dtype=str, keep_default_na=False)
records = read_labelled({path!r})
df = pd.DataFrame({{
    "ID": raw["record_id"], "ENTRYTYPE": "article", "title": raw["title"],
    "author": raw["authors"], "year": raw["year"], "journal": raw["journal"],
    "volume": raw["volume"], "number": raw["issue"], "pages": raw["pages"],
    "doi": raw["doi"], "abstract": raw["abstract"], "url": raw["url"],
    "isbn": raw["isbn"],
}})
t = time.perf_counter()
prepped = prep(df, verbosity_level=0)
pairs = block(prepped, verbosity_level=0)
matched = match(pairs, verbosity_level=0)
groups = cluster(matched, verbosity_level=0)
merged = merge(df, duplicate_id_sets=groups, verbosity_level=0)
wall = time.perf_counter() - t
cid = {{r: r for r in df["ID"]}}
for g in groups:
    anchor = min(g)
    for r in g:
        cid[r] = anchor
clusters = pd.DataFrame({{"record_id": list(cid), "cluster_id": list(cid.values())}})
score = score_clusters(records, clusters)
score.update(wall=wall, peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(score))
"""


def run_tool(template: str, path: Path, timeout: float | None = None) -> dict:
    code = template.format(workflow=str(ROOT / "workflow"), path=str(path))
    env = dict(os.environ)
    # own process group, so that a time-out also stops the tool's worker processes
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": [f"stopped after {timeout:.0f} s"], "timeout": timeout}
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (stderr or stdout).strip().splitlines()[-1:]}
    return json.loads(lines[-1])


def fmt(res: dict, key: str, spec: str) -> str:
    if "error" in res:
        return "error"
    if key not in res:
        return "-"
    return format(res[key], spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=os.environ.get("SRMA_SHARED", str(ROOT.parent / "shared")))
    ap.add_argument(
        "--large", type=int, default=100_000, help="records in the large file (0: skip)"
    )
    ap.add_argument("--skip-peer-large", action="store_true", help="do not run bib-dedupe on it")
    ap.add_argument("--only", choices=["srma", "bib-dedupe"], help="run one tool only")
    ap.add_argument(
        "--sets", nargs="*", help="labelled sets to run (default: all; none: only the large file)"
    )
    ap.add_argument(
        "--peer-timeout",
        type=float,
        default=3600,
        help="stop bib-dedupe after this many seconds on one set (reported as a lower bound)",
    )
    args = ap.parse_args(argv)
    folder = Path(args.shared) / "datasets" / "dedup"
    sets = sorted(folder.glob("*.csv.gz"))
    if not sets:
        print(f"no labelled sets in {folder}", file=sys.stderr)
        return 2
    runs: list[tuple[str, Path, bool]] = [
        (p.name.split(".")[0], p, True)
        for p in sets
        if args.sets is None or p.name.split(".")[0] in args.sets
    ]
    tmp = Path(tempfile.mkdtemp(prefix="srma-bench-"))
    if args.large:
        big = build_large(sets, args.large, tmp / f"large{args.large}.csv.gz")
        runs.append((f"large{args.large // 1000}k", big, not args.skip_peer_large))
    header = (
        f"{'set':<14}{'tool':<11}{'records':>8}{'dups':>7}{'found':>7}{'false':>6}"
        f"{'sens':>8}{'wall s':>9}{'peak MB':>9}"
    )
    print(header)
    print("-" * len(header))
    pooled = {"srma": [0, 0], "bib-dedupe": [0, 0]}
    ratios = []
    for name, path, with_peer in runs:
        res = {}
        if args.only != "bib-dedupe":
            res["srma"] = run_tool(_SRMA, path)
        if with_peer and args.only != "srma":
            res["bib-dedupe"] = run_tool(_PEER, path, timeout=args.peer_timeout)
        for tool, r in res.items():
            print(
                f"{name:<14}{tool:<11}{fmt(r, 'records', 'd'):>8}"
                f"{fmt(r, 'duplicates_true', 'd'):>7}{fmt(r, 'true_duplicates_found', 'd'):>7}"
                f"{fmt(r, 'false_merges', 'd'):>6}{fmt(r, 'sensitivity', '.4f'):>8}"
                f"{fmt(r, 'wall', '.1f'):>9}{fmt(r, 'peak_mb', '.0f'):>9}"
            )
            if "error" in r:
                print(f"  {tool} failed: {r['error']}")
            elif not name.startswith("large"):
                pooled[tool][0] += r["true_duplicates_found"]
                pooled[tool][1] += r["duplicates_true"]
        s, p = res.get("srma", {}), res.get("bib-dedupe", {})
        if "wall" in s and "wall" in p:
            ratios.append((name, p["wall"] / s["wall"], p["peak_mb"] / s["peak_mb"], ""))
        elif "wall" in s and "timeout" in p:
            ratios.append((name, p["timeout"] / s["wall"], float("nan"), "at least "))
        sys.stdout.flush()
    print()
    for tool, (found, true) in pooled.items():
        if true:
            print(f"pooled sensitivity {tool}: {found}/{true} = {found / true:.4f}")
    for name, speed, mem, bound in ratios:
        memory = f", uses {mem:.1f}x less peak memory" if mem == mem else ""
        print(f"{name}: srma is {bound}{speed:.1f}x faster{memory}")
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"(children CPU time {used.ru_utime + used.ru_stime:.0f} s; {time.strftime('%H:%M')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
