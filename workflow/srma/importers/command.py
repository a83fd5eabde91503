"""``srma import FILE... -o records.parquet``: the import stage outside the workflow.

Each file is read with :func:`srma.importers.read_export` (export name = file stem,
unless two files share a stem, which is an error); the tables are concatenated in the
order given and written with :func:`srma.io.write_parquet`. Per-file counts are printed
and, with ``--counts``, written as CSV. Nothing is written when any file fails.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from srma.errors import InputError
from srma.io import write_csv, write_parquet

from . import FORMATS, count_table, read_export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="search export files")
    parser.add_argument("-o", "--output", required=True, help="records table to write (Parquet)")
    parser.add_argument("--counts", help="also write the per-file counts as CSV")
    parser.add_argument("--database", help="source database of every file (else detected)")
    parser.add_argument(
        "--format", dest="fmt", choices=FORMATS, help="format of every file (else detected)"
    )


def run(args: argparse.Namespace) -> int:
    tables = []
    seen: dict[str, str] = {}
    for name in args.files:
        stem = Path(name).stem
        if stem in seen:
            raise InputError(
                name, f"export name '{stem}' is also the name of {seen[stem]}: rename one"
            )
        seen[stem] = name
        tables.append(read_export(name, export=stem, database=args.database, fmt=args.fmt))
    counts = count_table(tables)
    records = pd.concat(tables, ignore_index=True)
    write_parquet(records, args.output)
    if args.counts:
        write_csv(counts, args.counts)
    width = max(len(e) for e in counts["export"])
    for row in counts.itertuples(index=False):
        print(f"{row.export:<{width}}  {row.records:>7}  {row.format:<14} {row.database}")
    print(f"{'total':<{width}}  {int(counts['records'].sum()):>7}  -> {args.output}")
    return 0
