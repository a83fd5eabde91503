"""Time the whole workflow on a synthetic review: full run, no-op rerun, one study added.

    python benchmarks/workflow.py [--studies 1000] [--records 100000] [--cores 2]
                                  [--repeat 7] [--out benchmarks/out/workflow] [--keep]

Generates the review with ``benchmarks/synthetic_review.py`` into ``--out`` (replaced),
copies the workflow beside it and runs ``python -m snakemake --cores C`` there:

1. the full run;
2. the same command again (nothing to do);
3. after adding one study's extraction file (``synthetic_review.add_study``).

For each it prints the wall time, the jobs Snakemake executed per rule, and ratios
against peers measured in the same run: the no-op rerun against the bare start of
Snakemake (``snakemake --version``) and against a dry run (the DAG build alone); the
added-study rerun against the no-op rerun. A no-op rerun lasts a few seconds, within
the reach of a shared machine's noise, so it is then timed ``--repeat`` more times,
alternating with the bare start, and both are given as median (min-max). The targets
of issue 8 (1,000 studies, 100,000 records, 2 cores) are printed beside the times: full
run <= 300 s, no-op rerun <= 3 s, one study added <= 15 s with only its jobs rerun.
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
from workflow_runs import planned_jobs, snakemake_command  # noqa: E402

TARGETS = {"full run": 300.0, "no-op rerun": 3.0, "one study added": 15.0}


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, proc.stdout + proc.stderr


def spread(values: list[float]) -> str:
    return f"{median(values):5.2f} s ({min(values):.2f}-{max(values):.2f})"


def describe(jobs: dict[str, int]) -> str:
    """Job counts per rule; the extraction batches (rules extract_batch_NN) as one."""
    if not jobs:
        return "0 jobs"
    total = sum(n for rule, n in jobs.items() if rule != "all")
    folded: dict[str, int] = {}
    for rule, n in jobs.items():
        key = "extract_batch_NN" if rule.startswith("extract_batch_") else rule
        folded[key] = folded.get(key, 0) + n
    return f"{total} jobs (" + ", ".join(f"{r} {n}" for r, n in sorted(folded.items())) + ")"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat", type=int, default=7, help="no-op reruns and bare starts timed in turn"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "workflow")
    parser.add_argument("--keep", action="store_true", help="keep the review folder")
    args = parser.parse_args(argv)

    out = args.out
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    counts = synthetic_review.generate(out, args.studies, args.records, args.seed)
    print(f"synthetic review: {counts} written in {time.perf_counter() - start:.1f} s")
    for part in ("Snakefile", "workflow", "profiles"):
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, out / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, out / part)

    run = snakemake_command("--cores", str(args.cores))
    results: dict[str, tuple[float, dict[str, int]]] = {}

    wall, log = timed(snakemake_command("--version"), out)
    print(f"snakemake --version (bare start)       {wall:7.2f} s")
    start_peer = wall
    wall, log = timed(run + ["--dry-run"], out)
    print(f"dry run of the full review (DAG build) {wall:7.2f} s  {describe(planned_jobs(log))}")

    for label, prepare in (
        ("full run", None),
        ("no-op rerun", None),
        ("one study added", lambda: synthetic_review.add_study(out, args.studies + 1)),
    ):
        if prepare is not None:
            prepare()
        if label == "no-op rerun":
            wall, log = timed(run + ["--dry-run"], out)
            print(f"dry run before the no-op rerun         {wall:7.2f} s")
            dry = wall
        wall, log = timed(run, out)
        jobs = planned_jobs(log)
        results[label] = (wall, jobs)
        verdict = "ok" if wall <= TARGETS[label] else "OVER"
        print(
            f"{label:<38} {wall:7.2f} s  target {TARGETS[label]:5.0f} s [{verdict}]  "
            f"{describe(jobs)}"
        )

    if args.repeat > 0:
        starts, noops = [], []
        for _ in range(args.repeat):
            starts.append(timed(snakemake_command("--version"), out)[0])
            wall, log = timed(run, out)
            if planned_jobs(log):
                raise SystemExit(f"a no-op rerun ran jobs: {planned_jobs(log)}")
            noops.append(wall)
        print(f"{args.repeat} no-op reruns, in turn with the bare start (median, min-max):")
        print(f"  bare start  {spread(starts)}")
        print(f"  no-op rerun {spread(noops)}  target {TARGETS['no-op rerun']:.0f} s")
        print(f"  median no-op / median bare start = {median(noops) / median(starts):5.2f}")

    noop = results["no-op rerun"][0]
    added = results["one study added"][0]
    print()
    print(f"no-op rerun / bare snakemake start   = {noop / start_peer:5.2f}")
    print(f"no-op rerun / dry run                = {noop / dry:5.2f}")
    print(f"one study added / no-op rerun        = {added / noop:5.2f}")
    print(f"full run / no-op rerun               = {results['full run'][0] / noop:5.1f}")
    if not args.keep:
        shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
