"""Generate a synthetic srma review of N studies and M search records.

    python benchmarks/synthetic_review.py OUT --studies 1000 --records 100000 [--seed 1]

writes, under OUT, everything a review folder holds besides the workflow itself:

- ``config/config.yaml``: the bundled review's config with the synthetic exports;
- ``resources/searches/``: ``pubmed.nbib`` (MEDLINE), ``embase.ris`` and
  ``central.ris`` (RIS), M records in all. Every reference is found in 1 to 3 databases
  (about 1.4 records per reference, as in real multi-database searches), with the
  differences real exports show between databases: title case and final full stop,
  ``1328-35`` against ``1328-1335`` pages, a DOI or PMID missing, ``T2`` against ``JO``;
- ``resources/screening/decisions.csv``: one row per included report (each study has a
  main report, a fifth also a companion report) plus exclusions at title/abstract and at
  full text for 10 % of the other references;
- ``resources/dedup/decisions.csv``: no forced decisions (header only);
- ``resources/extraction/<study_id>.yaml``: one file per study in the format of
  ``docs/extraction.md``, with a realistic spread of designs (RCTs, a few controlled and
  uncontrolled cohorts), two-dose trials, instruments (1-3 of the five), timepoints
  (inside and outside the windows), reporting styles (every ``statistic``: mean/SD, SE,
  CI, P only, improvement, medians with IQR and/or range, baseline and follow-up, percent
  change, not reported) and 0-6 MRI-clinical correlations.

The same seed gives the same bytes. The review's values are random draws around
plausible effects (a TNF inhibitor lowering an MRI inflammation score by about 40 % of
its baseline, control by about 5 %), not data from any trial.
"""

from __future__ import annotations

import argparse
import copy
import csv
import random
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

WORDS = [
    "tumour",
    "necrosis",
    "factor",
    "inhibitor",
    "therapy",
    "magnetic",
    "resonance",
    "imaging",
    "inflammation",
    "sacroiliac",
    "joint",
    "spine",
    "axial",
    "spondyloarthritis",
    "ankylosing",
    "spondylitis",
    "radiographic",
    "non-radiographic",
    "randomised",
    "controlled",
    "trial",
    "placebo",
    "double-blind",
    "etanercept",
    "adalimumab",
    "infliximab",
    "golimumab",
    "certolizumab",
    "secukinumab",
    "efficacy",
    "safety",
    "long-term",
    "outcomes",
    "bone",
    "marrow",
    "oedema",
    "structural",
    "progression",
    "syndesmophyte",
    "erosion",
    "fat",
    "metaplasia",
    "disease",
    "activity",
    "score",
    "clinical",
    "response",
    "remission",
    "biomarkers",
    "C-reactive",
    "protein",
    "cohort",
    "study",
    "observational",
    "registry",
    "real-world",
    "evidence",
    "treatment",
    "patients",
    "early",
    "active",
    "chronic",
    "back",
    "pain",
    "function",
    "mobility",
    "quality",
    "life",
    "week",
    "results",
    "analysis",
    "open-label",
    "extension",
    "multicentre",
    "phase",
    "trial",
    "imaging",
    "scoring",
    "method",
    "reliability",
    "sensitivity",
    "change",
    "comparison",
    "association",
    "predictors",
    "correlation",
    "baseline",
    "follow-up",
]
SURNAMES = [
    "Smith",
    "Müller",
    "García",
    "Rossi",
    "Nowak",
    "Jensen",
    "Kim",
    "Wang",
    "Li",
    "Chen",
    "Tanaka",
    "Silva",
    "Dubois",
    "Novak",
    "Haddad",
    "Ivanova",
    "Okafor",
    "Larsen",
    "Kowalski",
    "Moreau",
    "Fischer",
    "Romano",
    "Costa",
    "Sato",
    "Park",
    "Zhang",
    "Nguyen",
    "Hansen",
    "Schmidt",
    "Bianchi",
    "Lopez",
    "Martin",
    "Bernard",
    "Petrov",
    "Yilmaz",
    "Andersen",
    "Weber",
]
JOURNALS = [
    ("Annals of the rheumatic diseases", "Ann Rheum Dis"),
    ("Arthritis & rheumatology (Hoboken, N.J.)", "Arthritis Rheumatol"),
    ("Rheumatology (Oxford, England)", "Rheumatology (Oxford)"),
    ("The Journal of rheumatology", "J Rheumatol"),
    ("Arthritis research & therapy", "Arthritis Res Ther"),
    ("Clinical and experimental rheumatology", "Clin Exp Rheumatol"),
    ("Seminars in arthritis and rheumatism", "Semin Arthritis Rheum"),
    ("RMD open", "RMD Open"),
]
DRUGS = ["etanercept", "adalimumab", "infliximab", "golimumab", "certolizumab pegol"]
CLINICAL = ["crp", "esr", "basdai", "basfi", "asdas", "pain", "morning_stiffness"]
# Weeks reported, most inside a config window, some outside every window (e.g. 36).
WEEKS = [6, 6, 8, 12, 12, 12, 14, 16, 24, 24, 24, 26, 30, 36, 48, 52, 52, 54, 104, 108]
# Reporting styles and how often trials use them.
STATISTICS = [
    ("change_mean_sd", 30),
    ("change_mean_se", 10),
    ("change_mean_ci", 9),
    ("change_mean", 5),
    ("improvement_mean", 5),
    ("change_median_iqr", 10),
    ("change_median_range", 5),
    ("change_median_iqr_range", 3),
    ("change_median", 2),
    ("baseline_followup", 12),
    ("pct_change_mean", 6),
    ("not_reported", 3),
]


@dataclass
class Reference:
    """One publication, as found in up to three databases."""

    key: int
    title: str
    authors: list[tuple[str, str]]
    year: int
    journal: tuple[str, str]
    volume: int
    issue: int
    first_page: int
    last_page: int
    pmid: str | None
    doi: str | None
    abstract: str
    databases: list[str] = field(default_factory=list)
    study_id: str | None = None
    role: str = "main"


def _title(rng: random.Random) -> str:
    words = rng.sample(WORDS, rng.randint(8, 16))
    words[0] = words[0].capitalize()
    return " ".join(words)


def _reference(rng: random.Random, key: int) -> Reference:
    journal = rng.choice(JOURNALS)
    first = rng.randint(1, 2400)
    n_auth = rng.randint(1, 12)
    authors = [(rng.choice(SURNAMES), "".join(rng.sample("ABCDEFGHJKLMNPRSTW", 2))) for _ in
               range(n_auth)]  # fmt: skip
    pmid = str(10_000_000 + key) if rng.random() < 0.9 else None
    doi = f"10.{rng.randint(1000, 9999)}/srma.{key:07d}" if rng.random() < 0.85 else None
    return Reference(
        key=key,
        title=_title(rng),
        authors=authors,
        year=rng.randint(1998, 2024),
        journal=journal,
        volume=rng.randint(1, 80),
        issue=rng.randint(1, 12),
        first_page=first,
        last_page=first + rng.randint(3, 14),
        pmid=pmid,
        doi=doi,
        abstract=" ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 220))).capitalize()
        + ".",
    )


def _references(rng: random.Random, n_studies: int, n_records: int) -> list[Reference]:
    """References whose database appearances add up to exactly ``n_records``."""
    refs: list[Reference] = []
    key = 0
    for i in range(n_studies):
        for role in ("main", "companion") if rng.random() < 0.2 else ("main",):
            ref = _reference(rng, key)
            key += 1
            ref.pmid = ref.pmid or str(10_000_000 + ref.key)  # included reports are in PubMed
            ref.study_id, ref.role = f"S{i + 1:04d}", role
            ref.databases = ["pubmed"] + [d for d in ("embase", "central") if rng.random() < 0.7]
            refs.append(ref)
    total = sum(len(r.databases) for r in refs)
    while total < n_records:
        ref = _reference(rng, key)
        key += 1
        draw = rng.random()
        dbs = ["pubmed", "embase", "central"]
        if draw < 0.68:
            ref.databases = [rng.choices(dbs, weights=(45, 40, 15))[0]]
        elif draw < 0.92:
            ref.databases = rng.sample(dbs[:2], 2) if rng.random() < 0.7 else rng.sample(dbs, 2)
        else:
            ref.databases = list(dbs)
        ref.databases = ref.databases[: n_records - total]
        if "pubmed" in ref.databases and ref.pmid is None:
            ref.pmid = str(10_000_000 + ref.key)
        refs.append(ref)
        total += len(ref.databases)
    return refs


# Search exports ----------------------------------------------------------------------


def _pages(ref: Reference, abbreviated: bool) -> str:
    last = str(ref.last_page)
    first = str(ref.first_page)
    if abbreviated and len(last) == len(first):
        i = 0
        while i < len(first) - 1 and first[i] == last[i]:
            i += 1
        last = last[i:]
    return f"{first}-{last}"


def _medline(ref: Reference) -> str:
    def tag(name: str, value: str) -> list[str]:
        lines = textwrap.wrap(value, 82) or [""]
        return [f"{name:<4}- {lines[0]}"] + [f"      {line}" for line in lines[1:]]

    out = [f"PMID- {ref.pmid}", "OWN - NLM", "STAT- MEDLINE"]
    out += tag("VI", str(ref.volume)) + tag("IP", str(ref.issue)) + tag("DP", str(ref.year))
    out += tag("TI", ref.title + ".")
    out += tag("PG", _pages(ref, True))
    if ref.doi:
        out += tag("LID", f"{ref.doi} [doi]")
    out += tag("AB", ref.abstract)
    for surname, initials in ref.authors:
        out += tag("FAU", f"{surname}, {initials}") + tag("AU", f"{surname} {initials}")
    out += tag("LA", "eng") + tag("PT", "Journal Article")
    out += tag("TA", ref.journal[1]) + tag("JT", ref.journal[0])
    if ref.doi:
        out += tag("AID", f"{ref.doi} [doi]")
    out += tag("SO", f"{ref.journal[1]}. {ref.year};{ref.volume}({ref.issue}):{_pages(ref, True)}.")
    return "\n".join(out) + "\n"


def _ris(ref: Reference, database: str, rng: random.Random) -> str:
    title = ref.title if rng.random() < 0.5 else ref.title + "."
    if database == "embase" and rng.random() < 0.3:
        title = title.upper() if rng.random() < 0.2 else title.lower().capitalize()
    out = ["TY  - JOUR", f"TI  - {title}"]
    out += [f"AU  - {s}, {i}" for s, i in ref.authors]
    out.append(f"PY  - {ref.year}")
    out.append(f"{'T2' if database == 'embase' else 'JO'}  - {ref.journal[0]}")
    if database == "embase":
        out.append(f"J2  - {ref.journal[1]}")
    out += [f"VL  - {ref.volume}", f"IS  - {ref.issue}", f"SP  - {ref.first_page}"]
    # CENTRAL prints the full last page, Embase the abbreviated one (1328-35).
    last = ref.last_page if database == "central" else _pages(ref, True).split("-")[1]
    out.append(f"EP  - {last}")
    if ref.doi and rng.random() < 0.93:
        out.append(f"DO  - {ref.doi}")
    if database == "embase" and ref.pmid and rng.random() < 0.6:
        out.append(f"C5  - {ref.pmid}")
    if database == "central":
        out.append(f"AN  - CN-{ref.key + 1_000_000:08d}")
    out.append(f"AB  - {ref.abstract}")
    out += ["LA  - English", f"DB  - {'Embase' if database == 'embase' else 'CENTRAL'}"]
    return "\n".join(out) + "\nER  - \n"


def write_exports(refs: list[Reference], folder: Path, rng: random.Random) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "pubmed": folder / "pubmed.nbib",
        "embase": folder / "embase.ris",
        "central": folder / "central.ris",
    }
    # Databases list records in their own order.
    for database, path in paths.items():
        members = [r for r in refs if database in r.databases]
        rng.shuffle(members)
        if database == "pubmed":
            text = "\n".join(_medline(r) for r in members)
        else:
            text = "\n".join(_ris(r, database, rng) for r in members)
        path.write_text(text, encoding="utf-8")
    return paths


# Screening ---------------------------------------------------------------------------


def write_screening(refs: list[Reference], path: Path, rng: random.Random) -> None:
    """Included reports with their study, and exclusions for some other references."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = [
        "record_key", "title", "year", "title_abstract_decision", "title_abstract_reason",
        "full_text_decision", "full_text_exclusion_reason", "study_id",
    ]  # fmt: skip
    ta_reasons = ["not axSpA", "no MRI outcome", "review or editorial", "not TNFi"]
    ft_reasons = ["no MRI inflammation score", "no control group", "duplicate population"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for ref in refs:
            # PubMed records always carry their PMID, so these keys always resolve.
            key = f"pmid:{ref.pmid}" if "pubmed" in ref.databases else None
            if ref.study_id:
                writer.writerow([key, ref.title, ref.year, "include", "", "include", "",
                                 ref.study_id])  # fmt: skip
            elif key and rng.random() < 0.10:
                if rng.random() < 0.8:
                    row = ["exclude", rng.choice(ta_reasons), "", "", ""]
                else:
                    row = ["include", "", "exclude", rng.choice(ft_reasons), ""]
                writer.writerow([key, ref.title, ref.year, *row])


# Extraction --------------------------------------------------------------------------


def _r(x: float, digits: int = 1) -> float:
    return round(float(x), digits)


def _outcome_values(
    rng: random.Random, statistic: str, rng_max: float, n: int, baseline: float, change: float
) -> dict:
    """Values for one arm row, as a paper in this style would print them."""
    sd = max(0.5, abs(rng.gauss(0.5, 0.15)) * baseline)
    # Keep the change within +/-(max - min) and the follow-up within [0, max].
    change = max(-baseline, min(change, rng_max - baseline))
    if statistic == "change_mean_sd":
        return {"mean": _r(change), "sd": _r(sd)}
    if statistic == "change_mean_se":
        return {"mean": _r(change), "se": _r(sd / n**0.5, 2)}
    if statistic == "change_mean_ci":
        half = 1.96 * sd / n**0.5
        return {"mean": _r(change), "ci_lower": _r(change - half), "ci_upper": _r(change + half)}
    if statistic == "change_mean":
        return {"mean": _r(change), "between_group_p": rng.choice(["0.002", "0.03", "<0.001"])}
    if statistic == "improvement_mean":
        return {"mean": _r(-change), "sd": _r(sd)}
    if statistic.startswith("change_median"):
        med = change * 0.9
        q1, q3 = med - 0.6 * sd, med + 0.6 * sd
        lo, hi = med - 1.8 * sd, med + 1.8 * sd
        span = rng_max
        lo, hi = max(lo, -span), min(hi, span)
        q1, q3 = max(q1, lo), min(q3, hi)
        values = {"median": _r(med)}
        if "iqr" in statistic:
            values |= {"q1": _r(min(q1, med)), "q3": _r(max(q3, med))}
        if "range" in statistic:
            values |= {"min": _r(min(lo, q1, med)), "max": _r(max(hi, q3, med))}
        return values
    if statistic == "baseline_followup":
        follow = baseline + change
        return {
            "baseline_mean": _r(baseline),
            "baseline_sd": _r(0.6 * baseline),
            "followup_mean": _r(follow),
            "followup_sd": _r(0.6 * max(follow, 0.5)),
        }
    if statistic == "pct_change_mean":
        values = {"pct": _r(100 * change / baseline)}
        if rng.random() < 0.7:
            values["baseline_mean"] = _r(baseline)
        return values
    return {}


def study_document(rng: random.Random, study_id: str, refs: list[Reference], config: dict) -> dict:
    """One study's extraction file (docs/extraction.md)."""
    design = rng.choices(["rct", "controlled_cohort", "cohort"], weights=(90, 5, 5))[0]
    drug = rng.choice(DRUGS)
    two_doses = design == "rct" and rng.random() < 0.15
    arms = []
    if two_doses:
        for dose in (50, 100):
            arms.append({"id": f"d{dose}", "role": "intervention",
                         "label": f"{drug} {dose} mg", "drug": drug,
                         "n": rng.randint(15, 180), "n_basis": "randomised"})  # fmt: skip
    else:
        arms.append({"id": "tnfi", "role": "intervention", "label": drug, "drug": drug,
                     "n": rng.randint(12, 200), "n_basis": "randomised"})  # fmt: skip
    if design != "cohort":
        arms.append({"id": "ctl", "role": "control", "label": "placebo",
                     "n": rng.randint(10, 150), "n_basis": "randomised"})  # fmt: skip
    main = refs[0]
    doc = {
        "study_id": study_id,
        "trial": f"{drug.split()[0].upper()}-{study_id}",
        "design": design,
        "population": rng.choice(["AS", "nr-axSpA", "axSpA"]),
        "intervention": drug,
        "control": "placebo" if design != "cohort" else "none",
        "reports": [
            {
                "id": f"R{ref.key:07d}",
                "citation": f"{ref.journal[1]} {ref.year};{ref.volume}({ref.issue}):"
                f"{_pages(ref, True)}",
                "year": ref.year,
                "pmid": ref.pmid,
                "doi": ref.doi,
                "role": ref.role,
            }
            for ref in refs
        ],
        "arms": arms,
        "outcomes": [],
    }
    instruments = config["instruments"]
    if rng.random() < 0.03:
        doc["no_outcomes_reason"] = "MRI reported as images only, no scores"
    else:
        for instrument in rng.sample(sorted(instruments), rng.choice([1, 1, 1, 2, 2, 3])):
            top = instruments[instrument]["max"]
            baseline = rng.uniform(0.12, 0.35) * top
            for week in sorted(set(rng.sample(WEEKS, rng.choice([1, 1, 2, 2, 3])))):
                statistic = rng.choices(*zip(*STATISTICS, strict=True))[0]
                for arm in arms:
                    effect = -0.40 if arm["role"] == "intervention" else -0.05
                    change = baseline * (effect + rng.gauss(0, 0.08))
                    row = {
                        "report": f"R{main.key:07d}",
                        "instrument": instrument,
                        "timepoint_weeks": week,
                        "arm": arm["id"],
                        "statistic": statistic,
                        **_outcome_values(rng, statistic, top, arm["n"], baseline, change),
                        "source": f"{doc['reports'][0]['citation']} Table {rng.randint(1, 4)}",
                    }
                    if statistic == "not_reported":
                        row["notes"] = "values shown only in a figure"
                    doc["outcomes"].append(row)
    mri = sorted(instruments)
    doc["correlations"] = [
        {
            "report": f"R{main.key:07d}",
            "mri_measure": rng.choice(mri),
            "mri_timing": rng.choice(["baseline", "change"]),
            "clinical_measure": rng.choice(CLINICAL),
            "timepoint_weeks": rng.choice([0, 12, 24]),
            "group": "all patients",
            "method": rng.choice(["spearman", "spearman", "pearson", "not_stated"]),
            "r": _r(rng.uniform(-0.2, 0.6), 2) if rng.random() < 0.85 else None,
            "p": rng.choice(["<0.001", "0.01", "0.04", "NS"]),
            "n": sum(a["n"] for a in arms) if rng.random() < 0.9 else None,
            "source": f"{doc['reports'][0]['citation']} text",
        }
        for _ in range(rng.choice([0, 0, 1, 2, 3, 6]))
    ]
    return doc


def write_extraction(
    refs: list[Reference], folder: Path, config: dict, rng: random.Random
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    by_study: dict[str, list[Reference]] = {}
    for ref in refs:
        if ref.study_id:
            by_study.setdefault(ref.study_id, []).append(ref)
    paths = []
    for study_id, study_refs in sorted(by_study.items()):
        path = folder / f"{study_id}.yaml"
        doc = study_document(rng, study_id, study_refs, config)
        path.write_text(
            f"# {study_id}: synthetic study (benchmarks/synthetic_review.py)\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100),
            encoding="utf-8",
        )
        paths.append(path)
    return paths


def add_study(review: Path, number: int, seed: int = 0) -> Path:
    """Add one more study file (as a reviewer would) and return its path.

    Its report is not in the search exports: it was found by other methods, so the
    decisions file gets its ``other:`` row (every study file needs an included report).
    An added study reruns its own extraction, the groups it joins, the screening job and
    the PRISMA diagram (the decisions file changed), not import or dedup. The study is a
    controlled one with outcome rows (drawn again until it is), so that it joins at
    least one group.
    """
    config = yaml.safe_load((review / "config" / "config.yaml").read_text(encoding="utf-8"))
    rng = random.Random(seed * 1_000_003 + number)
    while True:
        ref = _reference(rng, 9_000_000 + number)
        ref.study_id = f"S{number:04d}"
        doc = study_document(rng, ref.study_id, [ref], config)
        if doc.get("outcomes") and doc["design"] != "cohort":
            break
    path = review / config["extraction"]["directory"] / f"{ref.study_id}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100), encoding="utf-8")
    decisions = review / config["screening"]["decisions"]
    with decisions.open("a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerow(
            [f"other:{ref.study_id}", ref.title, ref.year, "include", "", "include", "",
             ref.study_id]
        )  # fmt: skip
    return path


def generate(out: Path, n_studies: int, n_records: int, seed: int = 1) -> dict:
    """Write the review under ``out``; return counts of what was written."""
    rng = random.Random(seed)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    refs = _references(rng, n_studies, n_records)
    exports = write_exports(refs, out / "resources" / "searches", rng)
    config = copy.deepcopy(config)
    config["review"]["title"] = f"Synthetic review: {n_studies} studies, {n_records} records"
    config["searches"] = {
        name: {"path": path.relative_to(out).as_posix(), "database": db}
        for (name, path), db in zip(exports.items(), ("PubMed", "Embase", "CENTRAL"), strict=True)
    }
    config["dedup"]["decisions"] = "resources/dedup/decisions.csv"
    config["screening"]["decisions"] = "resources/screening/decisions.csv"
    config["extraction"]["directory"] = "resources/extraction"
    write_screening(refs, out / "resources" / "screening" / "decisions.csv", rng)
    dedup = out / "resources" / "dedup" / "decisions.csv"
    dedup.parent.mkdir(parents=True, exist_ok=True)
    dedup.write_text("record_id_1,record_id_2,decision,note\n", encoding="utf-8")
    studies = write_extraction(refs, out / "resources" / "extraction", config, rng)
    (out / "config").mkdir(parents=True, exist_ok=True)
    (out / "config" / "config.yaml").write_text(
        "# Synthetic review written by benchmarks/synthetic_review.py\n"
        + yaml.safe_dump(config, sort_keys=False, width=100),
        encoding="utf-8",
    )
    return {
        "studies": len(studies),
        "references": len(refs),
        "records": sum(len(r.databases) for r in refs),
        "records_per_export": {k: sum(k in r.databases for r in refs) for k in exports},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the review into")
    parser.add_argument("--studies", type=int, default=1000, help="N studies (default 1000)")
    parser.add_argument("--records", type=int, default=100_000, help="M records (default 1e5)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    counts = generate(args.out, args.studies, args.records, args.seed)
    print(counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
