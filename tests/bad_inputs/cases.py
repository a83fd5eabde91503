"""The bad-input corpus: one case per mistake a reviewer makes, applied to a finished run
of the fixture review (tests/fixtures/review) and run through the whole workflow by
``tests/test_bad_inputs.py``.

Each case is generated from the fixture's own files (an edit of one input), so the
corpus follows the fixture. Two kinds of case:

- **must stop** (``stops=True``): Snakemake exits non-zero within 60 s, the output
  holds one message naming the file, the line or record/study, and the field (the
  ``expect`` substrings, the first of which must appear exactly once), no Python
  traceback, and nothing under ``results/`` appears or changes. The config and the
  screening decisions are checked when the workflow starts, before any job: then
  ``results/`` is untouched. A study file, a search export, the dedup decisions or a
  risk-of-bias file is checked by its own job (the only job that reads it), and
  Snakemake removes a job's outputs before it
  runs: those files (``removed``, and only those) are gone, so that no result of the
  bad file remains, and every other file keeps its bytes.
- **accepted with a visible effect** (``stops=False``): valid but unusual input; the run
  succeeds and ``check`` finds the effect (a row in ``excluded.csv``, a warning in
  the output and the job's log, the study listed with its reason).

``CATEGORIES`` counts the cases per input kind and mistake.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

CFG = "config/config.yaml"
MILD = "resources/extraction/OrpingtonMild1991.yaml"
SCREEN = "resources/screening/decisions.csv"
PUBMED = "resources/searches/pubmed.nbib"
CENTRAL = "resources/searches/central.ris"

#: What the extraction job of OrpingtonMild1991 writes (removed when it fails).
STUDY_OUT = (
    "results/extraction/OrpingtonMild1991.parquet",
    "results/extraction/correlations/OrpingtonMild1991.parquet",
    "results/extraction/excluded/OrpingtonMild1991.parquet",
    "results/extraction/per_correlation/OrpingtonMild1991.parquet",
)
SCREEN_OUT = ("results/screening/decisions.parquet", "results/prisma/counts.json")
ROB = "resources/risk_of_bias/OrpingtonMild1991.yaml"
#: What the assess_study job of OrpingtonMild1991 writes (removed when it fails).
ROB_OUT = ("results/appraisal/rob/OrpingtonMild1991.parquet",)
DEDUP = "resources/dedup/decisions.csv"
DEDUP_HEADER = "record_id_1,record_id_2,decision,note\n"
#: What the deduplicate job writes (removed when it fails on the decisions file).
DEDUP_OUT = tuple(
    f"results/dedup/{name}"
    for name in (
        "clusters.parquet",
        "unique.parquet",
        "unique.ris",
        "uncertain.csv",
        "untitled.csv",
    )
)
PUBMED_OUT = ("results/records/pubmed.parquet",)
CENTRAL_OUT = ("results/records/central.parquet",)


@dataclass(frozen=True)
class Case:
    name: str
    category: str  # config, extraction, screening, search export, dedup decisions, risk of bias
    kind: str  # the mistake: wrong type, non-finite, out of range, ...
    apply: Callable[[Path], None]
    stops: bool = True
    expect: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    check: Callable[[Path, str], None] | None = None


# Edits ----------------------------------------------------------------------------------


def edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    """Replace the first ``old`` in the file ``rel`` by ``new`` (``old`` must be there)."""

    def apply(work: Path) -> None:
        path = work / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def append(rel: str, text: str) -> Callable[[Path], None]:
    def apply(work: Path) -> None:
        with open(work / rel, "a", encoding="utf-8") as fh:
            fh.write(text)

    return apply


def write(rel: str, data: str | bytes) -> Callable[[Path], None]:
    def apply(work: Path) -> None:
        path = work / rel
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))

    return apply


def replace_bytes(rel: str, old: bytes, new: bytes) -> Callable[[Path], None]:
    def apply(work: Path) -> None:
        path = work / rel
        data = path.read_bytes()
        assert old in data, (rel, old)
        path.write_bytes(data.replace(old, new, 1))

    return apply


def both(*edits: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(work: Path) -> None:
        for one in edits:
            one(work)

    return apply


def alias_bomb(indent: str, levels: int = 12) -> str:
    """Nested lists of aliases: a few lines that expand to 9**levels values."""
    nine = lambda x: ", ".join([x] * 9)  # noqa: E731
    lines = [f"{indent}- &a0 [{nine('lol')}]"]
    lines += [f"{indent}- &a{i} [{nine(f'*a{i - 1}')}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def screening_without(column: str) -> Callable[[Path], None]:
    """The decisions file without one column."""

    def apply(work: Path) -> None:
        path = work / SCREEN
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.drop(columns=[column]).to_csv(path, index=False)

    return apply


# Checks of the accepted cases -----------------------------------------------------------


def excluded_row(study: str, reason: str) -> Callable[[Path, str], None]:
    def check(work: Path, out: str) -> None:
        table = pd.read_csv(work / "results/extraction/excluded.csv")
        rows = table[table["study_id"] == study]
        assert rows["reason"].str.contains(reason, regex=False).any(), rows

    return check


def warned(*texts: str, log: str | None = "logs/screening/screening.log"):
    """Each text in a warning of the run's output (printed when the workflow starts) and,
    with ``log``, of that job's log."""

    def check(work: Path, out: str) -> None:
        logged = (work / log).read_text(encoding="utf-8") if log else None
        for text in texts:
            assert f"srma: warning: {SCREEN}" in out and text in out, out[-3000:]
            if logged is not None:
                assert "WARNING" in logged and text in logged, logged

    return check


def all_of(*checks: Callable[[Path, str], None]) -> Callable[[Path, str], None]:
    def check(work: Path, out: str) -> None:
        for one in checks:
            one(work, out)

    return check


def study_log(study: str, text: str) -> Callable[[Path, str], None]:
    def check(work: Path, out: str) -> None:
        logged = (work / f"logs/extraction/{study}.log").read_text(encoding="utf-8")
        assert text in logged, logged

    return check


def pooled_reason(study: str, group: str, reason: str) -> Callable[[Path, str], None]:
    def check(work: Path, out: str) -> None:
        from srma import io

        table = io.read_parquet(work / f"results/pooled/{group}.parquet")
        row = table[table["study_id"] == study]
        assert len(row) == 1 and not row["usable"].iat[0], row
        assert reason in row["reason"].iat[0], row["reason"].iat[0]

    return check


def prisma(**counts: int) -> Callable[[Path, str], None]:
    def check(work: Path, out: str) -> None:
        got = json.loads((work / "results/prisma/counts.json").read_text())
        assert {k: got[k] for k in counts} == counts, got

    return check


def unchanged(work: Path, out: str) -> None:
    """Marker: the test also checks that no file under results/ changed."""


# The corpus -----------------------------------------------------------------------------

M = f"{MILD}, line"  # an error in the study file names it and the line
R = "record OrpingtonMild1991"

CASES: list[Case] = [
    # ---- config (checked when the workflow starts: results/ untouched) ----
    Case("config_wrong_type", "config", "wrong type",
         edit(CFG, "min_studies: 2", "min_studies: two"),
         expect=("'two' is not of type 'integer'", "min_studies")),
    Case("config_unknown_key", "config", "extra key",
         edit(CFG, "  method: REML", "  method: REML\n  metod: DL"),
         expect=("'metod' was unexpected",)),
    Case("config_nan", "config", "non-finite",
         edit(CFG, "  level: 95", "  level: .nan"),
         expect=("config key 'pooling.level': nan is not a finite number",)),
    Case("config_inf", "config", "non-finite",
         edit(CFG, "    max: 400", "    max: .inf"),
         expect=("config key 'instruments.los.max': inf is not a finite number",)),
    Case("config_out_of_range", "config", "out of range",
         edit(CFG, "change_score_correlation: 0.5", "change_score_correlation: 1.5"),
         expect=("1.5 is greater than the maximum of 1", "change_score_correlation")),
    Case("config_overlapping_windows", "config", "inconsistent",
         edit(CFG, "    min: 20\n", "    min: 16\n"),
         expect=("config key 'timepoints.24w.min': window 16-30 weeks overlaps window '12w'",)),
    Case("config_target_outside_window", "config", "inconsistent",
         edit(CFG, "    target: 12", "    target: 20"),
         expect=("config key 'timepoints.12w.target': target = 20 weeks is outside",)),
    Case("config_window_inverted", "config", "inconsistent",
         edit(CFG, "    min: 10\n    max: 16", "    min: 16\n    max: 10"),
         expect=("config key 'timepoints.12w.min': min = 16 weeks is above max = 10",)),
    Case("config_instrument_min_above_max", "config", "inconsistent",
         edit(CFG, "    min: 0\n    max: 400", "    min: 500\n    max: 400"),
         expect=("config key 'instruments.los.min': min = 500 is not below max = 400",)),
    Case("config_missing_search_file", "config", "inconsistent with another file",
         edit(CFG, "path: resources/searches/pubmed.nbib", "path: resources/searches/gone.nbib"),
         expect=("config key 'searches.pubmed.path': resources/searches/gone.nbib: no such file",)),
    Case("config_export_listed_twice", "config", "duplicated key",
         edit(CFG, "path: resources/searches/central.ris", "path: resources/searches/pubmed.nbib"),
         expect=("config key 'searches.central.path'", "the same file as searches.pubmed")),
    Case("config_missing_screening_file", "config", "inconsistent with another file",
         edit(CFG, "decisions: resources/screening/decisions.csv",
              "decisions: resources/screening/gone.csv"),
         expect=("config key 'screening.decisions': resources/screening/gone.csv: no such file",)),
    Case("config_duplicated_key", "config", "duplicated key",
         append(CFG, "pooling:\n  method: DL\n"),
         # (lines not asserted: the fixture's config grows)
         expect=("field 'pooling': key given twice (first on line", "config/config.yaml, line")),
    Case("config_alias_bomb", "config", "hostile YAML",
         append(CFG, "review_notes:\n" + alias_bomb("  ")),
         expect=("field 'review_notes': YAML aliases expand", "config/config.yaml, line")),
    # read by Snakemake (configfile:), whose message names no file
    Case("config_empty", "config", "empty",
         write(CFG, "# nothing yet\n"),
         expect=("Config file must be given as JSON or YAML with keys at top level",)),
    Case("config_oversized", "config", "oversized",
         append(CFG, "# " + "x" * (1 << 20) + "\n"),
         expect=("config/config.yaml: the file has 1,", "may have at most 1,048,576")),
    # srma checks the file before Snakemake's reader (configfile:), which would name
    # neither the file nor the line.
    Case("config_not_utf8", "config", "not UTF-8",
         replace_bytes(CFG, b"Length of stay", b"Length of st\xe4y"),
         expect=("config/config.yaml, line ", "byte 0xe4 (column ", "is not UTF-8")),
    Case("config_custom_tag", "config", "hostile YAML",
         edit(CFG, 'title: "srma test review"', 'title: !include "srma test review"'),
         expect=("field 'review.title': YAML tag !include is not allowed",
                 "config/config.yaml, line ")),
    # ---- extraction files (checked by the study's own job) ----
    Case("study_wrong_type", "extraction", "wrong type",
         edit(MILD, "    mean: 27", "    mean: twenty-seven"),
         expect=(f"{M} 27, {R}, outcome 1, field 'mean': expected number or null",),
         removed=STUDY_OUT),
    Case("study_float_n", "extraction", "wrong type",
         edit(MILD, "    n: 31", "    n: 31.5"),
         expect=(f"{M} 15, {R}, arm 1, field 'n': expected integer or null, got 31.5",),
         removed=STUDY_OUT),
    Case("study_sd_nan", "extraction", "non-finite",
         edit(MILD, "    sd: 7", "    sd: .nan"),
         expect=(f"{M} 28, {R}, outcome 1, field 'sd': sd = nan is not a finite number",),
         removed=STUDY_OUT),
    Case("study_mean_inf", "extraction", "non-finite",
         edit(MILD, "    mean: 27", "    mean: .inf"),
         expect=(f"{M} 27, {R}, outcome 1, field 'mean': mean = inf is not a finite number",),
         removed=STUDY_OUT),
    Case("study_sd_inf", "extraction", "non-finite",
         edit(MILD, "    sd: 4", "    sd: .inf"),
         expect=(f"{M} 35, {R}, outcome 2, field 'sd': sd = inf is not a finite number",),
         removed=STUDY_OUT),
    Case("study_r_nan", "extraction", "non-finite",
         edit(MILD, "    r: 0.45", "    r: .NaN"),
         expect=(f"{M} 44, {R}, correlation 1, field 'r': r = nan is not a finite number",),
         removed=STUDY_OUT),
    Case("study_mean_out_of_range", "extraction", "out of range",
         edit(MILD, "    mean: 27", "    mean: -500"),
         expect=(f"{M} 27, {R}, outcome 1, field 'mean': mean = -500 is not a possible change",),
         removed=STUDY_OUT),
    Case("study_p_above_1", "extraction", "out of range",
         edit(MILD, "    r: 0.45\n", "    r: 0.45\n    p: 1.7\n"),
         expect=(f"{M} 45, {R}, correlation 1, field 'p': 1.7 is not a P value",),
         removed=STUDY_OUT),
    Case("study_n_zero", "extraction", "out of range",
         edit(MILD, "    n: 32", "    n: 0"),
         expect=(f"{M} 20, {R}, arm 2, field 'n': n = 0: an arm needs n >= 2",),
         removed=STUDY_OUT),
    Case("study_ci_inverted", "extraction", "inconsistent",
         edit(MILD, "statistic: change_mean_sd\n    mean: 27\n    sd: 7",
              "statistic: change_mean_ci\n    mean: 27\n    ci_lower: 30\n    ci_upper: 20"),
         expect=(f"{M} 28, {R}, outcome 1, field 'ci_lower': ci_lower is above ci_upper",),
         removed=STUDY_OUT),
    Case("study_quartiles_unordered", "extraction", "inconsistent",
         edit(MILD, "statistic: change_mean_sd\n    mean: 27\n    sd: 7",
              "statistic: change_median_iqr\n    median: 27\n    q1: 30\n    q3: 35"),
         expect=(f"{M} 27, {R}, outcome 1, field 'median': median = 27 is below q1 = 30",),
         removed=STUDY_OUT),
    Case("study_unknown_instrument", "extraction", "inconsistent with another file",
         edit(MILD, "  - instrument: los\n    timepoint_weeks: 12\n    arm: routine",
              "  - instrument: lso\n    timepoint_weeks: 12\n    arm: routine"),
         expect=(f"{M} 30, {R}, outcome 2, field 'instrument': unknown instrument 'lso'",),
         removed=STUDY_OUT),
    Case("study_id_not_file_name", "extraction", "inconsistent with another file",
         edit(MILD, "study_id: OrpingtonMild1991", "study_id: OrpingtonMild1992"),
         expect=(f"{M} 1, record OrpingtonMild1992, field 'study_id': must equal the file name",),
         removed=STUDY_OUT),
    Case("study_missing_field", "extraction", "missing field",
         edit(MILD, "    sd: 7\n", ""),
         expect=(f"{M} 23, {R}, outcome 1, field 'sd': required field is missing",),
         removed=STUDY_OUT),
    Case("study_unknown_field", "extraction", "extra field",
         edit(MILD, "    sd: 7\n", "    sdd: 7\n"),
         expect=(f"{M} 28, {R}, outcome 1, field 'sdd': unknown field",),
         removed=STUDY_OUT),
    Case("study_duplicated_key", "extraction", "duplicated key",
         edit(MILD, "    sd: 7\n", "    sd: 7\n    sd: 9\n"),
         expect=(f"{M} 29, {R}, outcome 1, field 'sd': key given twice (first on line 28)",),
         removed=STUDY_OUT),
    Case("study_empty", "extraction", "empty",
         write(MILD, ""),
         expect=(f"{MILD}: the file is empty",),
         removed=STUDY_OUT),
    Case("study_two_documents", "extraction", "wrong type",
         append(MILD, "---\nstudy_id: Other\n"),
         expect=(f"{M} 47: not valid YAML: expected a single document",),
         removed=STUDY_OUT),
    Case("study_not_utf8", "extraction", "not UTF-8",
         replace_bytes(MILD, b"population: stroke", b"population: str\xf6ke"),
         expect=(f"{M} 4: byte 0xf6 (column 16) is not UTF-8",),
         removed=STUDY_OUT),
    Case("study_alias_bomb", "extraction", "hostile YAML",
         edit(MILD, "control: routine care\n", "control: routine care\nnotes:\n" + alias_bomb(" ")),
         expect=(f"{M} 9, {R}, field 'notes': YAML alias *a0: anchors and aliases are not",),
         removed=STUDY_OUT),
    Case("study_custom_tag", "extraction", "hostile YAML",
         edit(MILD, "population: stroke", "population: !!python/object/apply:os.system [id]"),
         expect=(f"{M} 4, {R}, field 'population': YAML tag !!python/object/apply:os.system",),
         removed=STUDY_OUT),
    Case("study_binary_tag", "extraction", "hostile YAML",
         edit(MILD, "population: stroke", "population: !!binary c3Ryb2tl"),
         expect=(f"{M} 4, {R}, field 'population': YAML tag !!binary is not allowed",),
         removed=STUDY_OUT),
    Case("study_oversized", "extraction", "oversized",
         append(MILD, "# " + "x" * (1 << 20) + "\n"),
         expect=(f"{MILD}: the file has 1,", "a study file may have at most 1,048,576"),
         removed=STUDY_OUT),
    # ---- screening decisions (checked when the workflow starts: results/ untouched) ----
    Case("screening_missing_column", "screening", "missing column",
         screening_without("full_text_decision"),
         expect=(f"{SCREEN}, line 1, field 'full_text_decision': missing column(s) "
                 "full_text_decision",)),
    Case("screening_misspelled_column", "screening", "missing column",
         edit(SCREEN, ",study_id\n", ",study_ID\n"),
         expect=(f"{SCREEN}, line 1, field 'study_id': missing column(s) study_id",
                 "is 'study_ID' meant as 'study_id'?")),
    Case("screening_duplicated_column", "screening", "duplicated header",
         edit(SCREEN, ",study_id\n", ",study_id,study_id\n"),
         expect=(f"{SCREEN}, line 1, field 'study_id': column named twice",)),
    Case("screening_extra_cell", "screening", "extra column",
         edit(SCREEN, "OrpingtonMild1991\n", "OrpingtonMild1991,Mild\n"),
         expect=(f"{SCREEN}, line 3, record pmid:26414004: the row has 7 cells, the header 6",)),
    Case("screening_empty", "screening", "empty",
         write(SCREEN, ""),
         expect=(f"{SCREEN}, line 1: the file is empty",)),
    Case("screening_header_only", "screening", "empty",
         write(SCREEN, "record_key,title_abstract_decision,title_abstract_reason,"
               "full_text_decision,full_text_exclusion_reason,study_id\n"),
         expect=(f"{SCREEN}, line 2: no screening decisions",)),
    Case("screening_not_utf8", "screening", "not UTF-8",
         replace_bytes(SCREEN, b"review/editorial", b"r\xe9view/editorial"),
         expect=(f"{SCREEN}, line 5: byte 0xe9 is not UTF-8",)),
    Case("screening_bad_decision", "screening", "wrong type",
         edit(SCREEN, "pmid:26414004,include,,include", "pmid:26414004,include,,yes"),
         expect=(f"{SCREEN}, line 3, record pmid:26414004, field 'full_text_decision': "
                 "full_text_decision must be include",)),
    Case("screening_duplicated_record", "screening", "duplicated key",
         append(SCREEN, "pmid:26414004,exclude,no MRI,,,\n"),
         expect=(f"{SCREEN}, line 9, record pmid:26414004, field 'record_key': record_key "
                 "'pmid:26414004' is given twice (first on line 3)",)),
    Case("screening_included_without_study", "screening", "inconsistent",
         edit(SCREEN, ",OrpingtonMild1991\n", ",\n"),
         expect=(f"{SCREEN}, line 3, record pmid:26414004, field 'study_id': an included report "
                 "needs the study_id",)),
    Case("screening_inconsistent_decisions", "screening", "inconsistent",
         edit(SCREEN, "pmid:23644549,exclude,no MRI outcome in this report,,",
              "pmid:23644549,exclude,no MRI outcome in this report,include,"),
         expect=(f"{SCREEN}, line 6, record pmid:23644549, field 'full_text_decision': a record "
                 "excluded at title/abstract",)),
    # needs the deduplicated records: checked by the screening job
    Case("screening_unknown_record", "screening", "inconsistent with another file",
         edit(SCREEN, "pmid:26002023,", "pmid:99999999,"),
         expect=(f"{SCREEN}, line 5, record pmid:99999999, field 'record_key': record_key "
                 "'pmid:99999999' matches no deduplicated record",),
         removed=SCREEN_OUT),
    # ---- search exports (checked by the export's import job) ----
    Case("search_empty", "search export", "empty",
         write(PUBMED, ""),
         expect=("config key 'searches.pubmed.path': resources/searches/pubmed.nbib: the file "
                 "is empty",)),
    Case("search_blank", "search export", "empty",
         write(PUBMED, "\n\n   \n"),
         expect=(f"{PUBMED}: the file is empty",),
         removed=PUBMED_OUT),
    Case("search_not_utf8", "search export", "not UTF-8",
         replace_bytes(PUBMED, b"TI  - Course of Magnetic", b"TI  - Course of Magn\xe9tic"),
         expect=(f"{PUBMED}, record 2, field 'title': text is not UTF-8 (byte 0xE9)",),
         removed=PUBMED_OUT),
    Case("search_truncated", "search export", "missing field",
         edit(CENTRAL, "ER  - \n", ""),
         expect=(f"{CENTRAL}, line 20, record 1, field 'ER': a new record starts",),
         removed=CENTRAL_OUT),
    Case("search_unknown_format", "search export", "wrong type",  # a saved web page
         write(CENTRAL, "<html><body>Sign in to export</body></html>\n"),
         expect=(f"{CENTRAL}: unknown export format",),
         removed=CENTRAL_OUT),
    Case("search_missing", "search export", "missing file",
         lambda work: (work / PUBMED).unlink(),
         expect=("config key 'searches.pubmed.path': resources/searches/pubmed.nbib: no such",)),
    # ---- dedup decisions (checked by the deduplicate job, which reads the records) ----
    Case("dedup_bad_decision", "dedup decisions", "wrong type",
         write(DEDUP, DEDUP_HEADER + "pubmed:000001,central:000005,same,\n"),
         expect=(f"{DEDUP}, line 2, record pubmed:000001, field 'decision': decision must be",),
         removed=DEDUP_OUT),
    Case("dedup_unknown_record", "dedup decisions", "inconsistent with another file",
         write(DEDUP, DEDUP_HEADER + "pubmed:000001,pubmed:000099,separate,\n"),
         expect=(f"{DEDUP}, line 2, record pubmed:000099, field 'record_id_2': record id "
                 "'pubmed:000099' is not among the imported records",),
         removed=DEDUP_OUT),
    # Two different papers (PMIDs 26269397 and 26414004) forced together without a
    # reason: a study would be lost.
    Case("dedup_conflicting_merge", "dedup decisions", "inconsistent with another file",
         write(DEDUP, DEDUP_HEADER + "pubmed:000001,pubmed:000002,merge,looks the same\n"),
         expect=(f"{DEDUP}, line 2, record pubmed:000001, field 'doi': forced merge of "
                 "pubmed:000001 and pubmed:000002: their DOIs differ",),
         removed=DEDUP_OUT),
    Case("dedup_pair_twice", "dedup decisions", "duplicated key",
         write(DEDUP, DEDUP_HEADER + "pubmed:000004,central:000002,separate,\n"
               "central:000002,pubmed:000004,separate,\n"),
         expect=(f"{DEDUP}, line 3, record central:000002: pair central:000002 / "
                 "pubmed:000004 already decided on line 2",),
         removed=DEDUP_OUT),
    Case("dedup_duplicated_header", "dedup decisions", "duplicated header",
         write(DEDUP, "record_id_1,record_id_2,decision,decision\n"),
         expect=(f"{DEDUP}, line 1, field 'decision': column named twice",),
         removed=DEDUP_OUT),
    Case("dedup_missing_column", "dedup decisions", "missing column",
         write(DEDUP, "record_id_1,record_id_2,note\npubmed:000001,central:000005,x\n"),
         expect=(f"{DEDUP}, line 1, field 'decision': missing column(s) decision",),
         removed=DEDUP_OUT),
    Case("dedup_extra_cell", "dedup decisions", "extra column",
         write(DEDUP, DEDUP_HEADER + "pubmed:000004,central:000002,separate,a,b\n"),
         expect=(f"{DEDUP}, line 2: the row has 5 cells, the header 4",),
         removed=DEDUP_OUT),
    Case("dedup_not_utf8", "dedup decisions", "not UTF-8",
         write(DEDUP, (DEDUP_HEADER + "pubmed:000004,central:000002,separate,St\xe4dt\n")
               .encode("latin-1")),
         expect=(f"{DEDUP}, line 2: byte 0xe4 is not UTF-8",),
         removed=DEDUP_OUT),
    # ---- risk-of-bias files (checked by the study's own assess_study job) ----
    Case("rob_bad_judgement", "risk of bias", "wrong type",
         edit(ROB, "    judgement: no information\n", "    judgement: unclear\n"),
         expect=(f"{ROB}, line 10, record OrpingtonMild1991, field 'D1.judgement': "
                 "'unclear' is not allowed",),
         removed=ROB_OUT),
    Case("rob_duplicated_key", "risk of bias", "duplicated key",
         append(ROB, "tool: robins_i\n"),
         expect=(f"{ROB}, line ", "field 'tool': key given twice"),
         removed=ROB_OUT),
    Case("rob_not_utf8", "risk of bias", "not UTF-8",
         replace_bytes(ROB, b"row Orpington-Mild", b"row Orpington-M\xe4ld"),
         expect=(f"{ROB}, line ", "byte 0xe4 is not UTF-8"),
         removed=ROB_OUT),
    Case("rob_alias_bomb", "risk of bias", "hostile YAML",
         append(ROB, "notes:\n" + alias_bomb("  ")),
         expect=("YAML aliases are not allowed here; write the values out", f"{ROB}, line "),
         removed=ROB_OUT),
    # ---- valid but unusual: accepted, and the effect is visible ----
    Case("accept_week_outside_windows", "extraction", "unusual: week in no window",
         lambda work: (work / MILD).write_text(
             (work / MILD).read_text().replace("timepoint_weeks: 12\n    arm:", "timepoint_weeks: "
                                               "40\n    arm:")),
         stops=False,
         check=all_of(excluded_row("OrpingtonMild1991", "week 40 falls in no timepoint window"),
                      study_log("OrpingtonMild1991", "0 usable"))),
    Case("accept_reviewer_exclusion", "extraction", "unusual: row excluded by the reviewer",
         edit(MILD, "    sd: 4\n", "    sd: 4\n    exclude: scored by an unblinded reader\n"),
         stops=False,
         check=excluded_row("OrpingtonMild1991", "excluded by the reviewer: scored by an")),
    Case("accept_no_outcomes", "extraction", "unusual: no outcome rows",
         lambda work: (work / MILD).write_text(
             (work / MILD).read_text().split("outcomes:\n")[0]
             + "no_outcomes_reason: numbers not retrieved\noutcomes: []\n"),
         stops=False,
         check=excluded_row("OrpingtonMild1991", "no outcome rows: numbers not retrieved")),
    # An SD of 0 is not refused (a score that stays 0 in every patient); the study cannot
    # be weighted: excluded.csv, the pooled table and the forest plot list it as not
    # usable with the reason.
    Case("accept_sd_zero", "extraction", "unusual: SD of 0",
         edit(MILD, "    sd: 7", "    sd: 0"),
         stops=False,
         check=all_of(excluded_row("OrpingtonMild1991", "SD of change is 0"),
                      pooled_reason("OrpingtonMild1991", "los/12w", "SD"))),
    # An included study without its file would be counted in PRISMA and never analysed;
    # the file it should name would be analysed and never counted: the run stops when
    # it starts.
    Case("screening_study_without_file", "screening", "inconsistent with another file",
         edit(SCREEN, ",OrpingtonSevere1991\n", ",OrpingtonSevere1919\n"),
         expect=("line 7, record ", "field 'study_id': included study OrpingtonSevere1919 has "
                 "no extraction file resources/extraction/OrpingtonSevere1919.yaml")),
    Case("accept_extra_column", "screening", "extra column",
         lambda work: (work / SCREEN).write_text(
             "\n".join(line + (",notes" if i == 0 else ",")
                       for i, line in enumerate((work / SCREEN).read_text().splitlines()))
             + "\n"),
         stops=False, check=unchanged),
    Case("study_not_screened", "extraction", "inconsistent with another file",
         lambda work: (work / "resources/extraction/MontrealTransfer1992.yaml").write_text(
             (work / "resources/extraction/MontrealHome1992.yaml").read_text().replace(
                 "MontrealHome1992", "MontrealTransfer1992")),
         expect=("resources/extraction/MontrealTransfer1992.yaml, record MontrealTransfer1992, "
                 "field 'study_id': no included report in resources/screening/decisions.csv "
                 "names study MontrealTransfer1992",)),
]  # fmt: skip

#: Cases per category and mistake: ``{(category, kind, stops): n}``.
CATEGORIES = Counter((c.category, c.kind, c.stops) for c in CASES)
