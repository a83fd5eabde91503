"""DAG-build cost of the extraction stage: ``srma.extraction.study_groups`` per study file.

Snakemake calls ``study_groups`` for every study file each time it builds the DAG, so it
must stay cheap. This script times it on the bundled review's study files
(``resources/extraction/*.yaml``) against two peers measured in the same run on the same
files:

- the floor: parsing the whole file with PyYAML's C safe loader
  (``srma.config.safe_load_yaml``), the least a whole-file YAML read pays;
- the full job: ``srma.extraction.extract_study`` (schema, checks, harmonisation).

Prints ms per file for each and the ratios study_groups / peer (< 1.0 for the C-loader
floor means the sliced parse of the ``outcomes`` section beats a full parse). Each timing
is the best of ``--repeat`` runs over all files.

    python benchmarks/extraction_groups.py [--repeat 5] [--copies 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))


def best_per_file(fn, files, repeat: int) -> float:
    """Best-of-``repeat`` wall time per file, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for f in files:
            fn(f)
        best = min(best, time.perf_counter() - start)
    return best / len(files) * 1000.0


def main(argv: list[str] | None = None) -> int:
    from srma.config import load_config, safe_load_yaml
    from srma.extraction import extract_study, study_groups

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--copies", type=int, default=1, help="time each file this many times")
    args = parser.parse_args(argv)

    config = load_config(ROOT / "config" / "config.yaml")
    files = sorted((ROOT / "resources" / "extraction").glob("*.yaml")) * args.copies
    groups = best_per_file(lambda f: study_groups(f, config), files, args.repeat)
    parse = best_per_file(safe_load_yaml, files, args.repeat)
    full = best_per_file(lambda f: extract_study(f, config), files, max(1, args.repeat // 2))
    print(f"{len(files)} study files (bundled review), best of {args.repeat}")
    print(f"study_groups            {groups:8.3f} ms/file")
    print(f"full C-loader parse     {parse:8.3f} ms/file", end="   ")
    print(f"ratio study_groups/parse = {groups / parse:.2f}")
    print(f"extract_study (job)     {full:8.3f} ms/file", end="   ")
    print(f"ratio study_groups/extract = {groups / full:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
