"""Time the whole workflow: full run, no-op rerun, one study added.

    python benchmarks/workflow.py [--review bundled|typical|large|all] [--cores 2]
                                  [--repeat 5] [--out benchmarks/out/workflow] [--keep]

Reviews:

- ``bundled``: the review srma ships (config/, resources/);
- ``typical``: a synthetic review of 100 studies and 10,000 search records
  (``benchmarks/synthetic_review.py``), the size the workflow is designed for;
- ``large``: 1,000 studies and 100,000 records, reported, not a design constraint.

For each review the workflow is copied beside its inputs in ``--out`` and run with
``python -m snakemake --cores C``: the full run, the same command again (nothing to do),
and, for the synthetic reviews, again after adding one study's extraction file
(``synthetic_review.add_study``). Every figure is printed next to the bare start of
Snakemake (``snakemake --version``) measured in the same run: the no-op rerun is timed
``--repeat`` times in turn with the bare start, given as median (min-max) and as the
ratio of the medians. Jobs are counted from Snakemake's log (a dry run cannot list the
jobs decided after the checkpoint ``study_groups``). Targets (2 cores):

- bundled: full run <= 30 s; no-op <= 2x the bare start;
- typical: full run <= 90 s; no-op <= 2.5x the bare start; one study added <= 20 s,
  rerunning only its extraction and risk-of-bias jobs, the groups it reports, the
  review-wide tables and, as its report's decisions row is added (found by other
  methods), the screening job and the PRISMA diagram;
- large: full run <= 600 s.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import synthetic_review  # noqa: E402
from workflow_runs import copy_workflow, jobs_run, snakemake_command  # noqa: E402

REVIEWS = {
    # name: (studies, records, targets); None: the bundled review
    "bundled": (None, None, {"full run": 30.0, "no-op / bare start": 2.0}),
    "typical": (
        100,
        10_000,
        {"full run": 90.0, "no-op / bare start": 2.5, "one study added": 20.0},
    ),
    "large": (1000, 100_000, {"full run": 600.0}),
}


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, proc.stdout + proc.stderr


def spread(values: list[float]) -> str:
    return f"{median(values):6.2f} s ({min(values):.2f}-{max(values):.2f})"


def describe(jobs: dict[str, int]) -> str:
    if not jobs:
        return "0 jobs"
    total = sum(n for rule, n in jobs.items() if rule != "all")
    return f"{total} jobs (" + ", ".join(f"{r} {n}" for r, n in sorted(jobs.items())) + ")"


def verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"target {target:g} [{'ok' if value <= target else 'OVER'}]"


def prepare(name: str, out: Path, seed: int) -> Path:
    """The review's folder with the workflow beside its inputs."""
    studies, records, _ = REVIEWS[name]
    work = out / name
    if work.exists():
        shutil.rmtree(work)
    if studies is None:
        return copy_workflow(work)
    start = time.perf_counter()
    counts = synthetic_review.generate(work, studies, records, seed)
    print(f"  synthetic review: {counts} written in {time.perf_counter() - start:.1f} s")
    for part in ("Snakefile", "workflow", "profiles"):
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, work / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, work / part)
    return work


def bench(name: str, args: argparse.Namespace) -> dict[str, str]:
    studies, _, targets = REVIEWS[name]
    print(f"== {name} review" + (f" ({studies} studies)" if studies else ""))
    work = prepare(name, args.out, args.seed)
    run = snakemake_command("--cores", str(args.cores))
    row: dict[str, str] = {"review": name}

    wall, log = timed(run, work)
    print(f"  full run        {wall:7.2f} s  {verdict(wall, targets.get('full run'))}")
    print(f"                  {describe(jobs_run(log))}")
    row["full run"] = f"{wall:.1f} s"

    starts, noops = [], []
    for _ in range(max(1, args.repeat)):
        starts.append(timed(snakemake_command("--version"), work)[0])
        wall, log = timed(run, work)
        if jobs_run(log):
            raise SystemExit(f"a no-op rerun ran jobs: {jobs_run(log)}")
        noops.append(wall)
    ratio = median(noops) / median(starts)
    print(f"  bare start      {spread(starts)}  (snakemake --version)")
    print(f"  no-op rerun     {spread(noops)}")
    target = targets.get("no-op / bare start")
    print(f"  no-op / bare start = {ratio:.2f}  {verdict(ratio, target)}")
    row["bare start"] = f"{median(starts):.2f} s"
    row["no-op"] = f"{median(noops):.2f} s ({ratio:.2f}x)"

    if studies is not None:
        synthetic_review.add_study(work, studies + 1)
        wall, log = timed(run, work)
        target = targets.get("one study added")
        print(f"  one study added {wall:7.2f} s  {verdict(wall, target)}")
        print(f"                  {describe(jobs_run(log))}")
        row["one study added"] = f"{wall:.1f} s"
    if not args.keep:
        shutil.rmtree(work)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--review", choices=[*REVIEWS, "all"], action="append", help="default: bundled, typical"
    )
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="no-op reruns timed in turn")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "workflow")
    parser.add_argument("--keep", action="store_true", help="keep the review folders")
    args = parser.parse_args(argv)
    names = args.review or ["bundled", "typical"]
    if "all" in names:
        names = list(REVIEWS)
    rows = [bench(name, args) for name in names]
    columns = ["review", "full run", "bare start", "no-op", "one study added"]
    print()
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(row.get(c, "") for c in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
