"""``srma extract FILE.yaml... [-c config.yaml] -o DIR``: validate and harmonise study
extraction files against the review's config (default ``config/config.yaml`` in the
working directory, named on stderr when used).

Writes ``DIR/<study>.parquet`` (data model, section 4) per file, ``DIR/excluded.csv``
(every row that cannot be pooled, with the reason) and ``DIR/change_correlations.csv``
(baseline/follow-up correlations of the arms reporting all three SDs), and prints per
study how many rows are usable. Every file is validated before anything is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srma import io


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.yaml", help="study files")
    parser.add_argument(
        "-o", "--outdir", type=Path, default=Path("results/extraction"), help="output folder"
    )
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        help="the review's config (its instruments, timepoints and extraction settings); "
        "default: config/config.yaml in the working directory",
    )


def _config_path(given: Path | None) -> Path:
    """The config to validate against: the one given, else ``config/config.yaml`` in the
    working directory (said on stderr); a one-line error when there is none."""
    from srma.errors import ConfigError

    if given is not None:
        if not given.is_file():
            raise ConfigError(f"{given}: no such config file (pass -c path/to/config.yaml)")
        return given
    default = Path("config/config.yaml")
    if not default.is_file():
        raise ConfigError(
            f"no {default} in {Path.cwd()}: pass the review's config, -c path/to/config.yaml"
        )
    print(
        f"srma extract: validating against {default} (the review's config here; pass "
        "-c path/to/config.yaml for another)",
        file=sys.stderr,
    )
    return default


def run(args: argparse.Namespace) -> int:
    from srma.config import config_hash, load_config
    from srma.extraction import change_correlation_table, excluded_table, extract_study

    config = load_config(_config_path(args.config))
    chash = config_hash({k: config.get(k) for k in ("instruments", "timepoints", "extraction")})
    frames = {path: extract_study(path, config) for path in args.files}
    for path, rows in frames.items():
        study = path.stem
        io.write_parquet(rows, args.outdir / f"{study}.parquet", config_hash=chash)
        usable = int(rows["usable"].sum())
        print(f"{study}: {len(rows)} rows, {usable} usable, {len(rows) - usable} not usable")
    io.write_csv(
        excluded_table(list(frames.values())), args.outdir / "excluded.csv", config_hash=chash
    )
    corr = change_correlation_table(args.files, config)
    io.write_csv(corr, args.outdir / "change_correlations.csv", config_hash=chash)
    if len(corr):
        print(
            f"baseline/follow-up correlation from {len(corr)} arm(s) reporting all three SDs: "
            f"median r = {corr['r'].median():.3g} (config uses "
            f"{config['extraction']['change_score_correlation']:g})"
        )
    print(f"wrote {len(frames)} study tables, excluded.csv and change_correlations.csv")
    return 0
