"""``srma dedup FILE... -o DIR``: deduplicate search exports named on the command line.

For reviewers who only want deduplication: each file is read by the import stage
(export name = file stem, made unique), the records are deduplicated, and ``DIR``
receives ``clusters.parquet``, ``unique.parquet``, ``unique.ris``, ``uncertain.csv``
and ``untitled.csv`` as the workflow writes them under ``results/dedup/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

#: Record count from which a progress bar is shown (unless --progress/--no-progress).
PROGRESS_FROM = 20_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="search export files")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--decisions",
        metavar="CSV",
        help="merge/separate decisions (record_id_1, record_id_2, decision, note, reason)",
    )
    parser.add_argument("--title-threshold", type=float, default=95.0)
    parser.add_argument("--uncertain-threshold", type=float, default=85.0)
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"progress bar (default: on from {PROGRESS_FROM:,} records)",
    )


def _export_names(files: list[str]) -> list[str]:
    names: list[str] = []
    for f in files:
        stem = Path(f).name.split(".")[0] or "export"
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}_{k}", k + 1
        names.append(name)
    return names


def run(args: argparse.Namespace) -> int:
    from srma.dedup import deduplicate, lean_memory_pool, read_decisions, write_outputs
    from srma.importers import read_export  # the import stage (lazy: optional here)

    lean_memory_pool()
    files = list(args.files)
    names = _export_names(files)
    show = args.progress
    frames = []
    iterator = zip(files, names, strict=True)
    if show is not False and len(files) > 1:
        from tqdm import tqdm

        iterator = tqdm(list(iterator), desc="reading", unit="file", disable=show is None)
    for path, name in iterator:
        frames.append(read_export(path, export=name))
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if show is None:
        show = len(records) >= PROGRESS_FROM and sys.stderr.isatty()
    decisions = None
    if args.decisions:
        decisions = read_decisions(args.decisions, record_ids=records["record_id"])
    result = deduplicate(
        records,
        decisions=decisions,
        title_threshold=args.title_threshold,
        uncertain_threshold=args.uncertain_threshold,
        progress=bool(show),
    )
    out = Path(args.output)
    write_outputs(result, out)
    print(
        f"{len(records)} records from {len(files)} file(s) -> {len(result.unique)} unique "
        f"({len(records) - len(result.unique)} duplicates removed, "
        f"{len(result.uncertain)} uncertain pairs, "
        f"{len(result.untitled)} records without a title); written to {out}"
    )
    return 0
