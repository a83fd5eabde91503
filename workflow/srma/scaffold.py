"""``srma init DIR``: a folder of its own for a review.

A review folder holds what the review is made of and what its runs write::

    DIR/Snakefile                  srma's workflow as a Snakemake module, on this folder
    DIR/config/config.yaml         the review's config: every key explained, example values
    DIR/profiles/default, slurm    Snakemake's settings (copied from srma's checkout)
    DIR/resources/searches/        the search exports        (README.md: what goes there)
    DIR/resources/dedup/           forced or forbidden merges (README.md)
    DIR/resources/screening/       the screening decisions   (README.md)
    DIR/resources/extraction/      one file per study        (README.md)
    DIR/resources/risk_of_bias/    one RoB 2 / ROBINS-I file per study (README.md)
    DIR/resources/grade/           the GRADE decisions       (README.md)
    DIR/results/, DIR/logs/        written by the runs

``cd DIR && snakemake --cores 4`` runs that review alone: the folder's Snakefile reads its
own ``config/config.yaml`` and passes it to the workflow (``module ...: config: config``),
so Snakemake skips the workflow's own ``configfile:`` and no other review's config is
read; every path is relative to the folder. The config's ``screening.decisions`` is
empty: until it names a file, a run imports and deduplicates the searches only and
writes the records to screen to ``results/dedup/unique.ris``.

The module is found at run time by :func:`workflow_snakefile`: the Snakefile of the srma
checkout whose package the Python running Snakemake imports, so the rules and the
package always come from one srma.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from srma.errors import SrmaError

__all__ = ["init_review", "workflow_snakefile", "add_arguments", "run"]

#: The files a new review gets from the package (``templates/review``); ``gitignore`` is
#: written as ``.gitignore``.
TEMPLATE = Path(__file__).resolve().parent / "templates" / "review"
#: The checkout the package belongs to (the package is ``<checkout>/workflow/srma``).
CHECKOUT = Path(__file__).resolve().parents[2]
#: The workflow profiles a review folder gets (Snakemake reads ``profiles/default``
#: beside the Snakefile it runs, not beside a module's).
PROFILES = ("default", "slurm")


def workflow_snakefile() -> str:
    """The absolute path of srma's workflow: the Snakefile of this package's checkout
    (what a review folder's Snakefile passes to ``module``)."""
    snakefile = CHECKOUT / "Snakefile"
    if not (snakefile.is_file() and (CHECKOUT / "workflow" / "rules").is_dir()):
        raise SrmaError(
            f"srma's workflow is not beside its package ({snakefile} or "
            f"{CHECKOUT / 'workflow' / 'rules'} missing): install srma from its checkout "
            "with `pip install -e /path/to/srma` (as `make install` does)"
        )
    return str(snakefile)


def _files() -> dict[Path, Path]:
    """Review-folder path -> source file: the template, then srma's profiles."""
    files = {}
    for src in sorted(TEMPLATE.rglob("*")):
        if src.is_file() and "__pycache__" not in src.parts:
            rel = src.relative_to(TEMPLATE)
            if rel == Path("gitignore"):
                rel = Path(".gitignore")
            files[rel] = src
    for name in PROFILES:
        profile = CHECKOUT / "profiles" / name
        for src in sorted(profile.rglob("*")):
            if src.is_file():
                files[Path("profiles", name, src.relative_to(profile))] = src
    return files


def init_review(directory: str | Path) -> list[Path]:
    """Write a new review folder at ``directory`` (created if missing) and return the
    files written, relative to it. Nothing is written when one of them exists already."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise SrmaError(f"{root}: exists and is not a folder")
    snakefile = workflow_snakefile()
    files = _files()
    present = [rel.as_posix() for rel in files if (root / rel).exists()]
    if present:
        named = ", ".join(present[:3]) + (f" and {len(present) - 3} more" if present[3:] else "")
        raise SrmaError(
            f"{root}: already holds {named}; nothing was written "
            "(srma init makes a new review folder and never overwrites a file)"
        )
    values = {
        "@SRMA_SNAKEFILE@": snakefile,
        "@SRMA_ROOT@": str(CHECKOUT),
        "@REVIEW_NAME@": root.resolve().name,
    }
    for rel, src in files.items():
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_relative_to(TEMPLATE):
            text = src.read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace(key, value)
            dest.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(src, dest)
    return list(files)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="the review folder to make")


def run(args: argparse.Namespace) -> int:
    root = Path(args.directory)
    written = init_review(root)
    print(f"srma init: a new review in {root}/ ({len(written)} files):")
    for rel in written:
        print(f"  {rel.as_posix()}")
    print(
        "\nNext:\n"
        f"  cd {root}\n"
        "  1. put your search exports in resources/searches/ and list them under\n"
        "     `searches:` in config/config.yaml; fill in `review`, `instruments` and\n"
        "     `timepoints` there\n"
        "  2. snakemake --cores 4    imports and deduplicates: the records to screen are\n"
        "     in results/dedup/unique.ris\n"
        "  3. write resources/screening/decisions.csv and one resources/extraction/\n"
        "     <study_id>.yaml per study (the README.md in each folder says how); set\n"
        "     screening.decisions in config/config.yaml\n"
        "  4. snakemake --cores 4, then snakemake --report results/report.html\n"
        "  5. appraisal: one resources/risk_of_bias/<study_id>.yaml per study and your\n"
        "     GRADE judgements in resources/grade/decisions.csv (README.md there); set\n"
        "     grade.mid and grade.ois in config/config.yaml"
    )
    return 0
