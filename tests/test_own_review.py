"""A reviewer's own review, in a folder of its own (``srma init``).

``srma init DIR`` writes a review folder whose Snakefile uses srma's workflow as a
Snakemake module with the folder's own config. The end-to-end tests make one in a
temporary folder, fill it as a reviewer would with a review that has nothing to do with
the bundled one: metafor's dat.normand1999 (length of hospital stay, specialist vs
routine care after stroke, all 9 centres; ``tests/fixtures/own_review``: the extraction
files, two synthetic search exports of 12 and 4 records, 3 of them duplicates, and the
screening decisions), run ``snakemake --cores 2`` and ``snakemake --report`` there, and
check that the pooled result is metafor's (``expected.json``, from ``expected.R``), that
PRISMA counts only this review's exports, that the checkout's own ``results/`` and
``logs/`` are untouched, and that no word of the bundled review is in what it wrote.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_domain_words import domain_words
from workflow_runs import result_digests

from srma import io
from srma.cli import main as srma_main
from srma.config import check_config, validate_config
from srma.scaffold import workflow_snakefile

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "own_review"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
BIN = Path(sys.executable).parent

#: What a reviewer writes into the config srma init made (the rest stays as it was).
FILLED = {
    "review": {
        "title": "Specialist care and length of hospital stay after stroke",
        "intervention": "specialist care",
        "comparator": "routine care",
        "population": "adults admitted with stroke",
        "outcome_label": "length of hospital stay",
        "unit": "days",
        "lower_is_better": True,
    },
    "searches": {
        "trials": {"path": "resources/searches/trials.ris", "database": "Trials register"},
        "handsearch": {"path": "resources/searches/handsearch.csv", "database": "Hand search"},
    },
    "instruments": {"los": {"label": "Length of stay", "min": 0, "max": 400}},
    "timepoints": {"discharge": {"label": "At discharge", "min": 0, "max": 52, "target": 12}},
}


def init(directory: Path) -> Path:
    assert srma_main(["init", str(directory)]) == 0
    return directory


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )


def fill(review: Path, **sections) -> None:
    """Write the reviewer's values into the review's config (``screening`` as given)."""
    path = review / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config.update(FILLED)
    config.update(sections)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def checkout_outputs() -> dict[str, str]:
    """Digests of the checkout's own results/ and logs/ (empty when absent)."""
    return {**result_digests(ROOT, "results"), **result_digests(ROOT, "logs")}


# The folder srma init writes ----------------------------------------------------------


def test_init_writes_a_review_folder(tmp_path, capsys):
    review = init(tmp_path / "my-review")
    printed = capsys.readouterr().out
    for rel in [
        "Snakefile",
        "config/config.yaml",
        "profiles/default/config.yaml",
        "profiles/slurm/config.yaml",
        "resources/searches/README.md",
        "resources/screening/README.md",
        "resources/dedup/README.md",
        "resources/extraction/README.md",
        "README.md",
        ".gitignore",
    ]:
        assert (review / rel).is_file(), rel
        assert rel in printed
    # the profile Snakemake reads by itself is srma's
    assert (review / "profiles/default/config.yaml").read_bytes() == (
        ROOT / "profiles/default/config.yaml"
    ).read_bytes()
    # no extraction file, no decisions file: nothing a run would take for the reviewer's
    assert not list((review / "resources").rglob("*.yaml"))
    assert not list((review / "resources").rglob("*.csv"))
    snakefile = (review / "Snakefile").read_text(encoding="utf-8")
    assert 'configfile: "config/config.yaml"' in snakefile
    assert "module srma:" in snakefile and "use rule * from srma" in snakefile
    assert workflow_snakefile() == str(ROOT / "Snakefile")
    assert str(ROOT / "Snakefile") in snakefile  # said in a comment, for the reader
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile"], cwd=review, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr


def test_the_template_config_is_valid_and_neutral(tmp_path):
    review = init(tmp_path / "r")
    config = yaml.safe_load((review / "config/config.yaml").read_text(encoding="utf-8"))
    check_config(validate_config(config), paths=False)
    assert config["screening"]["decisions"] == ""  # nothing screened yet
    assert config["correlations"]["clinical_measures"] == []
    # every section and every key of a section has a comment above it (the entries of
    # searches, instruments and timepoints are the reviewer's, explained above them)
    lines = (review / "config/config.yaml").read_text(encoding="utf-8").splitlines()
    section = None
    uncommented = []
    for i, line in enumerate(lines):
        m = re.match(r"^( {0,2})([a-z_0-9]+):", line)
        if not m:
            continue
        if not m.group(1):
            section = m.group(2)
        elif section in ("searches", "instruments", "timepoints"):
            continue
        if not lines[i - 1].lstrip().startswith("#"):
            uncommented.append(f"line {i + 1}: {line}")
    assert not uncommented, uncommented
    assert len(config) == 12 and set(config) <= set(
        yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())["properties"]
    )
    # no word of the bundled review's domain in anything srma init wrote (but the
    # profiles, copied from srma)
    hits = [
        f"{path.relative_to(review)}:{line}: {word!r}"
        for path in sorted(review.rglob("*"))
        if path.is_file() and "profiles" not in path.parts
        for line, word in domain_words(path.read_text(encoding="utf-8"))
    ]
    assert not hits, hits


def test_init_never_overwrites(tmp_path, capsys):
    review = init(tmp_path / "r")
    (review / "config/config.yaml").write_text("review: {title: mine}\n", encoding="utf-8")
    assert srma_main(["init", str(review)]) == 1
    err = capsys.readouterr().err
    assert "already holds" in err and "nothing was written" in err
    assert (review / "config/config.yaml").read_text(encoding="utf-8") == (
        "review: {title: mine}\n"
    )


def test_the_extraction_readme_example_is_a_valid_study(tmp_path, capsys):
    review = init(tmp_path / "r")
    readme = (review / "resources/extraction/README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", readme, re.DOTALL).group(1)
    study = review / "resources/extraction/Smith2019.yaml"
    study.write_text(example, encoding="utf-8")
    code = srma_main(
        ["extract", str(study), "-c", str(review / "config/config.yaml"), "-o", str(tmp_path)]
    )
    assert code == 0, capsys.readouterr().err
    table = io.read_parquet(tmp_path / "Smith2019.parquet")
    assert set(table["instrument"]) == {"outcome_a"} and len(table) == 2


# A new review: searches only ------------------------------------------------------------


@pytest.mark.slow
def test_a_new_review_runs_to_the_records_to_screen(tmp_path):
    """Before any screening decision (screening.decisions empty, as srma init writes it),
    a run imports and deduplicates the searches and says what to do next."""
    review = init(tmp_path / "new-review")
    for export in ("trials.ris", "handsearch.csv"):
        shutil.copy(FIXTURE / "resources/searches" / export, review / "resources/searches")
    fill(review)
    proc = snakemake(review, "--cores", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "srma: no screening decisions yet" in proc.stderr
    ris = (review / "results/dedup/unique.ris").read_text(encoding="utf-8")
    assert ris.count("ER  -") == 13
    assert (review / "results/records/counts.csv").is_file()
    assert not (review / "results/prisma").exists()
    assert not (review / "results/extraction").exists()


# A whole review of its own --------------------------------------------------------------


@pytest.fixture(scope="module")
def own_review(tmp_path_factory):
    """srma init, fill in as a reviewer, run and report from the review's folder."""
    before = checkout_outputs()
    review = init(tmp_path_factory.mktemp("reviews") / "stroke-care")
    shutil.copytree(FIXTURE / "resources", review / "resources", dirs_exist_ok=True)
    fill(review, screening={"decisions": "resources/screening/decisions.csv"})
    run = snakemake(review, "--cores", "2")
    assert run.returncode == 0, run.stdout + run.stderr
    report = snakemake(review, "--report", "results/report.html")
    assert report.returncode == 0, report.stdout + report.stderr
    return review, run, before


def test_the_run_reads_only_the_reviews_config(own_review):
    review, run, _ = own_review
    assert "Using workflow specific profile profiles/default" in run.stdout + run.stderr
    assert "Config file(s): ['config/config.yaml']" in run.stdout + run.stderr
    assert f"Working directory: {review}" in run.stdout + run.stderr
    counts = pd.read_csv(review / "results/records/counts.csv")
    assert dict(zip(counts["export"], counts["records"], strict=True)) == {
        "trials": 12,
        "handsearch": 4,
    }


def test_the_pooled_result_is_metafors(own_review):
    review, _, _ = own_review
    table = io.read_parquet(review / "results/pooled/los/discharge.parquet")
    studies = table[table["row_type"] == "study"].set_index("study_id")
    order = [source.replace("-", "") for source in EXPECTED["data"]["source"]]
    assert sorted(studies.index) == sorted(order)
    studies = studies.loc[order]
    assert studies["yi"].tolist() == pytest.approx(EXPECTED["yi"], rel=1e-9)
    assert studies["vi"].tolist() == pytest.approx(EXPECTED["vi"], rel=1e-9)
    assert studies["weight"].tolist() == pytest.approx(EXPECTED["weights"], rel=1e-6)
    pooled = table[table["row_type"] == "pooled"].iloc[0]
    for key in ["estimate", "se", "ci_lb", "ci_ub", "pval", "tau2", "I2", "QE", "pi_lb", "pi_ub"]:
        assert pooled[key] == pytest.approx(EXPECTED[key], rel=1e-6), key
    row = pd.read_csv(review / "results/tables/pooled.csv").iloc[0]
    assert row["estimate"] == pytest.approx(EXPECTED["estimate"], rel=1e-6)


def test_prisma_counts_only_its_own_exports(own_review):
    review, _, _ = own_review
    counts = json.loads((review / "results/prisma/counts.json").read_text(encoding="utf-8"))
    assert counts["identified"] == {"Hand search": 4, "Trials register": 12, "total": 16}
    assert counts["duplicates_removed"] == 3
    assert counts["records_after_duplicates"] == 13
    assert counts["screened"] == 13 and counts["not_screened"] == 0
    assert counts["excluded_title_abstract"] == 3
    assert counts["assessed"] == 10
    assert counts["excluded_full_text"]["total"] == 1
    assert counts["included_reports"] == 9 and counts["included_studies"] == 9


def test_the_checkout_is_untouched(own_review):
    review, _, before = own_review
    assert checkout_outputs() == before
    assert (review / "results/report.html").is_file()
    assert (review / "logs").is_dir()


def test_no_word_of_the_bundled_review_in_its_outputs(own_review):
    review, _, _ = own_review
    texts = [
        path
        for path in sorted((review / "results").rglob("*"))
        if path.suffix in {".csv", ".svg", ".html", ".json", ".ris"}
    ]
    assert review / "results/report.html" in texts
    hits = [
        f"{path.relative_to(review)}:{line}: {word!r}"
        for path in texts
        for line, word in domain_words(path.read_text(encoding="utf-8"))
    ]
    assert not hits, hits
    report = (review / "results/report.html").read_text(encoding="utf-8")
    assert FILLED["review"]["title"] in report
    assert "Trials register" in (review / "results/figures/prisma.svg").read_text(encoding="utf-8")
