"""``srma import FILE... -o records.parquet``: the import stage outside the workflow.

Each file is read with :func:`srma.importers.read_export` (export name = file stem,
unless two files share a stem, which is an error); the tables are concatenated in the
order given and written with :func:`srma.io.write_parquet`. Per-file counts are printed
and, with ``--counts``, written as CSV. Nothing is written when any file fails.

With ``-c/--config`` the review's config says what to read: every search under
``searches:`` (or those named, by key or path, as FILE arguments), each with its export
name, ``database``, ``format`` and ``sheet``, as the workflow reads them. Without FILE
arguments and without ``-c``, ``config/config.yaml`` in the working directory is used
when it exists (and the command says so).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import pandas as pd

from srma.errors import ConfigError, InputError
from srma.io import write_csv, write_parquet

from . import FORMATS, count_table, read_export

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config/config.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="search export files (with -c: names or paths of the config's searches; "
        "default: all of them)",
    )
    parser.add_argument("-o", "--output", required=True, help="records table to write (Parquet)")
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        help="the review's config: read its searches (export names, database, format, "
        "sheet); without FILE and -c, config/config.yaml when it exists",
    )
    parser.add_argument("--counts", help="also write the per-file counts as CSV")
    parser.add_argument("--database", help="source database of every file (else detected)")
    parser.add_argument(
        "--format", dest="fmt", choices=FORMATS, help="format of every file (else detected)"
    )
    parser.add_argument(
        "--sheet", help="worksheet to read in Excel files (else the first; config: sheet)"
    )


def _jobs(args: argparse.Namespace) -> list[dict]:
    """``{name, path, database, fmt, sheet}`` of every file to read, in order."""
    config_path = args.config
    if config_path is None and not args.files:
        if not DEFAULT_CONFIG.is_file():
            raise ConfigError(
                f"no FILE given and no {DEFAULT_CONFIG} in {Path.cwd()}: give the export "
                "files, or the review's config with -c path/to/config.yaml"
            )
        config_path = DEFAULT_CONFIG
        print(
            f"srma import: reading the searches of {DEFAULT_CONFIG} (pass -c to use another "
            "config)",
            file=sys.stderr,
        )
    if config_path is None:
        jobs, seen = [], {}
        for name in args.files:
            stem = Path(name).stem
            if stem in seen:
                raise InputError(
                    name, f"export name '{stem}' is also the name of {seen[stem]}: rename one"
                )
            seen[stem] = name
            jobs.append({"name": stem, "path": name, "database": None, "fmt": None, "sheet": None})
        return jobs
    from srma.config import load_config

    if not Path(config_path).is_file():
        raise ConfigError(f"{config_path}: no such config file (pass -c path/to/config.yaml)")
    searches = load_config(config_path)["searches"]
    chosen = list(searches)
    if args.files:
        by_path = {os.path.normpath(s["path"]): k for k, s in searches.items()}
        chosen = []
        for item in args.files:
            name = item if item in searches else by_path.get(os.path.normpath(item))
            if name is None:
                raise ConfigError(
                    f"{item!r} is not a search of {config_path} (by name or path); its "
                    f"searches are {', '.join(searches)}"
                )
            chosen.append(name)
    if args.config is not None:
        print(f"srma import: {len(chosen)} search(es) of {config_path}", file=sys.stderr)
    return [
        {
            "name": name,
            "path": searches[name]["path"],
            "database": searches[name].get("database"),
            "fmt": searches[name].get("format"),
            "sheet": searches[name].get("sheet"),
        }
        for name in dict.fromkeys(chosen)
    ]


def _is_zip(path: str) -> bool:
    """Whether the file starts as a ZIP (an Excel workbook): ``--sheet`` is for those."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False  # read_export says why


def run(args: argparse.Namespace) -> int:
    jobs = _jobs(args)
    show = sys.stderr.isatty()
    items = jobs
    if show and len(jobs) > 1:
        from tqdm import tqdm

        items = tqdm(jobs, desc="import", unit="file", leave=False)
    tables = []
    for job in items:
        tables.append(
            read_export(
                job["path"],
                export=job["name"],
                database=args.database or job["database"],
                fmt=args.fmt or job["fmt"],
                sheet=job["sheet"] or (args.sheet if _is_zip(job["path"]) else None),
                progress=show,
            )
        )
    counts = count_table(tables)
    records = pd.concat(tables, ignore_index=True)
    write_parquet(records, args.output)
    if args.counts:
        write_csv(counts, args.counts)
    total = int(counts["records"].sum())
    log.info("imported %d records from %d file(s) -> %s", total, len(tables), args.output)
    width = max(len(e) for e in counts["export"])
    for row in counts.itertuples(index=False):
        print(f"{row.export:<{width}}  {row.records:>7}  {row.format:<14} {row.database}")
    print(f"{'total':<{width}}  {total:>7}  -> {args.output}")
    return 0
