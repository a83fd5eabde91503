"""Deduplication: each rule on small hand-made pairs, the outputs, decisions, stable
cluster ids, and the clusters on one real labelled set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rispy

from srma.dedup import deduplicate, read_decisions, write_ris
from srma.dedup.blocking import candidate_pairs
from srma.dedup.keys import features
from srma.dedup.normalise import (
    first_author_of,
    journals_compatible,
    norm_doi,
    norm_journal_tokens,
    norm_title,
    norm_volume,
    parse_pages,
    record_kind,
)
from srma.errors import InputError
from srma.importers.normalise import COLUMNS as RECORD_COLUMNS

COLUMNS = [c for c in RECORD_COLUMNS if c not in ("source_file", "format")]

BASE = {
    "title": "Golimumab reduces spinal inflammation in ankylosing spondylitis: MRI results "
    "of the randomised, placebo-controlled GO-RAISE study",
    "authors": ["Braun, J", "Baraliakos, X"],
    "first_author": "Braun",
    "year": 2012,
    "journal": "Annals of the Rheumatic Diseases",
    "volume": "71",
    "pages": "878-84",
}


def records(*rows: dict, export: str = "a") -> pd.DataFrame:
    """A records table (data-model section 1) from partial rows."""
    out = []
    for k, row in enumerate(rows, start=1):
        full = dict.fromkeys(COLUMNS)
        full.update(
            record_id=f"{row.get('export', export)}:{k:06d}",
            export=export,
            position=k,
            database=export,
        )
        full.update(row)
        out.append(full)
    frame = pd.DataFrame(out, columns=COLUMNS)
    frame["year"] = frame["year"].astype("Int32")
    return frame


def same_cluster(result, a: int, b: int) -> bool:
    cid = result.clusters["cluster_id"]
    return cid.iloc[a] == cid.iloc[b]


def pair(first: dict, second: dict, **kw):
    return deduplicate(records(BASE | first, BASE | second), **kw)


# --- normalisation ---------------------------------------------------------------


def test_title_normalisation_rules():
    assert norm_title("The <i>TNF-α</i> blockers: a REVIEW.") == "the tnf alpha blockers a review"
    assert norm_title("TNF-alpha blockers") == "tnf alpha blockers"
    assert norm_title("Efficacy of batroxobin. [Chinese]") == "efficacy of batroxobin"
    assert norm_title("Wirkung [Article in German]") == "wirkung"
    assert norm_title("Spondylarthrite ankylosante à début tardif") == (
        "spondylarthrite ankylosante a debut tardif"
    )
    assert norm_title("K\u00c3\u00b6nig's sign") == "konig s sign"  # UTF-8 read as Latin-1
    assert norm_title("&lt;b&gt;Bold&lt;/b&gt; claim") == "bold claim"
    assert norm_title(" ") is None and norm_title(None) is None


def test_pages_volume_doi_author():
    assert parse_pages("123-9") == ("123", "129") == parse_pages("123-129")
    assert parse_pages("1328-35") == ("1328", "1335")
    assert parse_pages("H887-94") == ("887", "894")
    assert parse_pages("06-Oct") == ("6", "10")  # a spreadsheet's date for 6-10
    assert parse_pages("e000430") == ("430", "430")
    assert parse_pages("") is None
    assert norm_volume("88 Suppl 1") == "88"
    assert norm_volume("1)") is None
    assert norm_doi("https://doi.org/10.1002/ART.21790.") == "10.1002/art.21790"
    assert norm_doi("10.1016/s0022-5223%2895%2970228-8") == "10.1016/s0022-5223(95)70228-8"
    assert first_author_of("Przyklenk K.Kloner R. A.") == "Przyklenk"
    assert first_author_of("Maksymowych WP") == "Maksymowych"
    assert first_author_of("van der Heijde, Désirée and Braun, J") == "van der Heijde"


def test_journal_abbreviation_compatibility():
    full = norm_journal_tokens("Annals of the Rheumatic Diseases")
    assert journals_compatible(norm_journal_tokens("Ann Rheum Dis"), full)
    assert journals_compatible(
        norm_journal_tokens("Neuro Endocrinol Lett"),
        norm_journal_tokens("Neuroendocrinology Letters"),
    )
    assert not journals_compatible(norm_journal_tokens("Circulation"), full)


def test_record_kinds():
    assert record_kind("Erratum: Golimumab reduces spinal inflammation") == "erratum"
    assert record_kind("Correction to: Golimumab reduces") == "erratum"
    assert record_kind("Comment on: golimumab in AS") == "comment"
    assert record_kind("FRI0270 Concurrent sacroiliac joint and spinal inflammation") == "abstract"
    assert record_kind("Any title", ["Journal Article", "Conference abstract"]) == "abstract"
    assert record_kind("A trial", None, "https://clinicaltrials.gov/show/NCT01453725") == "registry"
    assert record_kind("Golimumab reduces spinal inflammation") == "article"


# --- pairs: true duplicates --------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        {"title": BASE["title"].upper()},  # case
        {"title": BASE["title"].replace(":", " -").replace(",", "") + "."},  # punctuation
        {"title": BASE["title"] + " [Chinese]"},  # translated-title marker
        {"title": "<i>" + BASE["title"] + "</i>"},  # markup
        {"pages": "878-884"},  # 878-84 = 878-884
        {"journal": "Ann Rheum Dis"},  # abbreviation
        {"year": 2013},  # online vs print year
        {"volume": None, "pages": None},  # fields missing on one side
        {"first_author": "BRAUN", "authors": ["BRAUN J"]},
        {"title": BASE["title"].replace("spondylitis", "spondylitïs")},  # diacritics
    ],
)
def test_true_duplicates_merge(variant):
    result = pair({}, variant)
    assert same_cluster(result, 0, 1)
    assert result.clusters["match"].tolist() == ["self", "fuzzy"]
    assert len(result.unique) == 1


def test_greek_letter_spelled_out_is_duplicate():
    t1 = "Serum TNF-α and IL-6 levels after infliximab in ankylosing spondylitis patients"
    t2 = "Serum TNF-alpha and IL-6 levels after infliximab in ankylosing spondylitis patients"
    assert same_cluster(pair({"title": t1}, {"title": t2}), 0, 1)


def test_exact_keys_merge_despite_title_variants():
    a = {"doi": "10.1136/annrheumdis-2011-200308"}
    b = {"doi": "10.1136/ANNRHEUMDIS-2011-200308", "title": BASE["title"].split(":")[0]}
    result = pair(a, b)
    assert same_cluster(result, 0, 1)
    assert result.clusters["match"].iloc[1] == "doi"
    assert result.clusters["score"].iloc[1] == 100.0
    result = pair({"pmid": "22128083"}, {"pmid": "22128083", "title": BASE["title"][:70]})
    assert result.clusters["match"].iloc[1] == "pmid"
    acc = {"accession": "CN-00812345", "pages": None}
    result = pair(acc, acc | {"title": BASE["title"][:70]})
    assert result.clusters["match"].iloc[1] == "accession"
    # a shared identifier on an erratum does not merge it with the article
    result = pair({"pmid": "1"}, {"pmid": "1", "title": "Erratum: " + BASE["title"]})
    assert not same_cluster(result, 0, 1)
    assert result.uncertain.iloc[0]["reason"] == "same id, different kind"


# --- pairs: NOT duplicates ---------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        {"doi": "10.1136/other", "pages": None},  # conflicting DOIs (the first has one too)
        {"doi": "10.1136/other", "volume": None},
        {"pages": "901-9"},  # different pages
        {"volume": "72", "pages": None},  # different volume
        {"year": 2015},  # years more than 1 apart
        {"title": "Erratum: " + BASE["title"]},  # an erratum
        {"title": "Comment on: " + BASE["title"]},  # a comment
        {"first_author": "Sieper", "authors": ["Sieper, J"], "pages": None},
        {"first_author": "Sieper", "authors": ["Sieper, J"], "volume": "72", "pages": "1-9"},
    ],
)
def test_false_duplicates_stay_apart(variant):
    first = {"doi": "10.1136/annrheumdis-2011-200308"} if "doi" in variant else {}
    result = pair(first, variant)
    assert not same_cluster(result, 0, 1)
    assert len(result.unique) == 2


def test_double_doi_needs_every_other_field_to_agree():
    # One article under a publisher's old and new DOI (10.1007/BF... and 10.1007/s...):
    # title, first author, year, volume and full page range all agree.
    a = {"doi": "10.1007/bf00796210", "pages": "368-77"}
    b = {"doi": "10.1007/s003950050046", "pages": "368-377"}
    result = pair(a, b)
    assert same_cluster(result, 0, 1)
    # the same DOIs without pages on one side: two articles
    assert not same_cluster(pair(a, b | {"pages": None}), 0, 1)
    # a DOI printed with other punctuation or cut short is the same DOI
    c = {"doi": "10.1160/th09-03-0165", "pages": None}
    d = {"doi": "10.1160/th-09-03-0165", "pages": None}
    assert pair(c, d).clusters["match"].iloc[1] == "fuzzy"


def test_conference_abstract_and_its_paper_are_not_duplicates():
    paper = {}
    abstract = {
        "title": "SAT0123 " + BASE["title"],
        "journal": "Annals of the Rheumatic Diseases",
        "volume": "70",
        "pages": None,
        "year": 2011,
        "publication_type": ["Conference abstract"],
    }
    assert not same_cluster(pair(paper, abstract), 0, 1)
    # same title, congress named only by the publication type
    abstract2 = {"publication_type": ["Conference abstract"], "pages": None, "volume": None}
    assert not same_cluster(pair(paper, abstract2), 0, 1)


def test_separate_reports_of_one_trial_are_not_duplicates():
    week12 = {"title": "Etanercept in non-radiographic axial SpA: 12-week results of EMBARK"}
    week48 = {"title": "Etanercept in non-radiographic axial SpA: 48-week results of EMBARK"}
    result = pair(week12 | {"pages": None}, week48 | {"pages": None})
    assert not same_cluster(result, 0, 1)
    part1 = {"title": "Infliximab plus naproxen in early axial SpA: the INFAST study, Part 1"}
    part2 = {"title": "Infliximab plus naproxen in early axial SpA: the INFAST study, Part 2"}
    assert not same_cluster(pair(part1 | {"pages": None}, part2 | {"pages": None}), 0, 1)


def test_borderline_pair_is_listed_as_uncertain():
    other = {
        "title": BASE["title"].replace("reduces spinal inflammation", "lowers spine edema"),
        "pages": None,  # with equal volume and pages the pair would merge (reworded title)
    }
    result = pair({}, other)
    assert not same_cluster(result, 0, 1)
    unc = result.uncertain
    assert len(unc) == 1
    assert unc.iloc[0]["record_id_1"] == "a:000001" and unc.iloc[0]["record_id_2"] == "a:000002"
    assert 85 <= unc.iloc[0]["score"] < 95


def test_clusters_never_chain_two_conflicting_records():
    # B (no pages) matches A and C, but A and C have different pages: C stays apart.
    a = {"pages": "878-84"}
    b = {"pages": None}
    c = {"pages": "990-9"}
    result = deduplicate(records(BASE | a, BASE | b, BASE | c))
    cid = result.clusters["cluster_id"].tolist()
    assert cid[0] == cid[1] != cid[2]


# --- decisions --------------------------------------------------------------------


def test_decisions_force_and_forbid(tmp_path):
    recs = records(BASE, BASE | {"title": "Something else entirely about MRI", "pages": None})
    path = tmp_path / "decisions.csv"
    path.write_text("record_id_1,record_id_2,decision,note\na:000001,a:000002,merge,same\n")
    result = deduplicate(recs, decisions=read_decisions(path))
    assert same_cluster(result, 0, 1)
    assert result.clusters["match"].iloc[1] == "decision"
    recs = records(BASE, BASE)
    path.write_text("record_id_1,record_id_2,decision,note\na:000002,a:000001,separate,\n")
    result = deduplicate(recs, decisions=read_decisions(path))
    assert not same_cluster(result, 0, 1)
    assert result.uncertain.empty  # a decided pair is not asked again


def test_read_decisions_errors(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("record_id_1,record_id_2,decision,note\n")
    assert read_decisions(path).empty
    path.write_text("record_id_1,record_id_2,decision,note\na:000001,a:000002,maybe,\n")
    with pytest.raises(InputError, match=r"d\.csv, line 2, record a:000001, field 'decision'"):
        read_decisions(path)
    path.write_text("record_id_1,record_id_2,decision,note\na:000001,x:000009,merge,\n")
    with pytest.raises(InputError, match=r"line 2, record x:000009, field 'record_id_2'"):
        read_decisions(path, record_ids=["a:000001", "a:000002"])
    path.write_text("record_id_1,decision\n")
    with pytest.raises(InputError, match="missing column"):
        read_decisions(path)


# --- outputs ------------------------------------------------------------------------


def test_unique_takes_the_most_complete_member_and_keeps_every_id(tmp_path):
    sparse = BASE | {"journal": None, "pages": None, "abstract": None}
    full = BASE | {
        "abstract": "OBJECTIVE: ...",
        "doi": "10.1136/annrheumdis-2011-200308",
        "pmid": "22128083",
    }
    recs = pd.concat(
        [records(sparse, export="pubmed"), records(full, export="embase")], ignore_index=True
    )
    result = deduplicate(recs)
    assert len(result.unique) == 1
    row = result.unique.iloc[0]
    assert row["cluster_id"] == "pubmed:000001"  # anchor: first record
    assert row["record_ids"] == ["pubmed:000001", "embase:000001"]
    assert row["databases"] == ["embase", "pubmed"]
    assert row["n_records"] == 2
    assert row["abstract"] == "OBJECTIVE: ..." and row["pmid"] == "22128083"
    assert "record_id" not in result.unique.columns and "raw" not in result.unique.columns
    path = write_ris(result.unique, tmp_path / "unique.ris")
    entries = rispy.load(path)
    assert len(entries) == 1
    e = entries[0]
    assert e["id"] == "pubmed:000001"
    assert e["title"] == BASE["title"]
    assert e["authors"] == ["Braun, J", "Baraliakos, X"]
    assert e["start_page"] == "878" and e["end_page"] == "884"
    assert e["doi"] == "10.1136/annrheumdis-2011-200308"
    # same input, same bytes
    again = write_ris(deduplicate(recs).unique, tmp_path / "again.ris")
    assert again.read_bytes() == path.read_bytes()


def test_blocking_is_linear_in_records():
    rng = np.random.default_rng(1)
    words = np.array(["mri", "spine", "tnf", "trial", "axial", "sacroiliac", "placebo", "week"])
    rows = [
        {
            "title": " ".join(rng.choice(words, 8)),
            "first_author": f"A{k % 50}",
            "year": 2000 + k % 20,
            "volume": str(k % 30),
            "pages": f"{k % 97}-{k % 97 + 5}",
        }
        for k in range(3000)
    ]
    feat = features(records(*rows))
    pairs = candidate_pairs(feat, window=8)
    # four passes, each at most n * (window - 1) pairs
    assert len(pairs) <= 4 * 3000 * 7
    assert (pairs[:, 0] < pairs[:, 1]).all()


# --- living review ------------------------------------------------------------------


def test_update_search_keeps_cluster_ids():
    first = records(
        BASE,
        {
            "title": "Adalimumab and sacroiliac joint MRI in non-radiographic axial SpA",
            "year": 2013,
        },
        export="pubmed",
    )
    before = deduplicate(first)
    update = records(
        BASE | {"pages": "878-884"},  # a duplicate of an already screened record
        {"title": "Certolizumab and spinal MRI inflammation in axial SpA", "year": 2017},
        export="update2017",
    )
    after = deduplicate(pd.concat([first, update], ignore_index=True))
    old = before.clusters.set_index("record_id")["cluster_id"]
    new = after.clusters.set_index("record_id")["cluster_id"]
    assert (new.loc[old.index] == old).all()
    assert new["update2017:000001"] == "pubmed:000001"
    assert new["update2017:000002"] == "update2017:000002"  # the only new unique record
    assert after.unique["cluster_id"].tolist()[:2] == before.unique["cluster_id"].tolist()


# --- one real labelled set -----------------------------------------------------------


def test_clusters_on_the_stroke_set(shared_dir):
    from srma.dedup.labelled import read_labelled, score_clusters

    recs = read_labelled(shared_dir / "datasets" / "dedup" / "stroke.csv.gz")
    result = deduplicate(recs)
    assert len(result.clusters) == 1292
    assert result.clusters["record_id"].tolist() == recs["record_id"].tolist()
    score = score_clusters(recs, result.clusters)
    # the set's true groups (label column) were curated by its authors
    assert score["true_groups"] == 978
    assert score["false_merges"] == 0
    assert score["sensitivity"] >= 0.97
    cid = result.clusters.set_index("record_id")["cluster_id"]
    # "... vascular cognitive impairment. [Chinese]" and the same title without the note
    assert cid["id_0000001"] == cid["id_0000002"] == "id_0000001"
    # a thesis (volume "Ph.D.", pages "215 p") and its Dissertation Abstracts entry
    assert cid["id_0000009"] == cid["id_0000010"] == "id_0000009"
    # every record appears once, and the anchor of each cluster is its first record
    assert result.clusters["record_id"].is_unique
    firsts = result.clusters.groupby("cluster_id", sort=False)["record_id"].first()
    assert (firsts.index == firsts.to_numpy()).all()


def test_split_title_and_reworded_title_with_same_place_merge():
    # subtitle exported in another field: the title is the start of the other one
    main = {"title": "Golimumab reduces spinal inflammation in ankylosing spondylitis"}
    result = pair({}, main)
    assert same_cluster(result, 0, 1)
    assert result.clusters["match"].iloc[1] == "fuzzy"
    # the same cut title without volume and pages to support it: two records
    assert not same_cluster(pair({}, main | {"volume": None, "pages": None}), 0, 1)


def test_outputs_are_deterministic(tmp_path):
    from srma.io import write_parquet

    recs = records(BASE, BASE | {"pages": "878-884"}, {"title": "Another article", "year": 2001})
    paths = []
    for k in range(2):
        result = deduplicate(recs)
        paths.append(write_parquet(result.clusters, tmp_path / f"c{k}.parquet"))
        paths.append(write_parquet(result.unique, tmp_path / f"u{k}.parquet"))
    assert paths[0].read_bytes() == paths[2].read_bytes()
    assert paths[1].read_bytes() == paths[3].read_bytes()


def test_dedup_command_on_the_bundled_exports(root_dir, tmp_path, capsys):
    pytest.importorskip("srma.importers")
    from srma.cli import main
    from srma.io import read_parquet

    searches = root_dir / "resources" / "searches"
    files = [str(searches / f) for f in ("pubmed.nbib", "embase.ris", "cochrane_central.ris")]
    assert main(["dedup", *files, "-o", str(tmp_path / "out")]) == 0
    assert "115 records from 3 file(s) -> 77 unique" in capsys.readouterr().out
    clusters = read_parquet(tmp_path / "out" / "clusters.parquet")
    unique = read_parquet(tmp_path / "out" / "unique.parquet")
    assert len(clusters) == 115 and unique["cluster_id"].nunique() == 77
    assert sum(len(ids) for ids in unique["record_ids"]) == 115
    entries = rispy.load(tmp_path / "out" / "unique.ris")
    assert [e["id"] for e in entries] == unique["cluster_id"].tolist()
    # the congress abstract and the full paper of one trial are separate clusters
    titles = unique["title"].str.lower()
    assert (titles.str.contains("magnetic resonance imaging examinations of the spine")).sum() == 2
    # a decisions file naming an unknown record stops the run with a clear error
    bad = tmp_path / "decisions.csv"
    bad.write_text("record_id_1,record_id_2,decision,note\npubmed:000001,nope:1,merge,\n")
    assert main(["dedup", *files, "-o", str(tmp_path / "o2"), "--decisions", str(bad)]) == 1
    assert "record nope:1, field 'record_id_2'" in capsys.readouterr().err


def test_empty_and_untitled_inputs():
    empty = deduplicate(records(BASE).iloc[:0])
    assert len(empty.clusters) == 0 and len(empty.unique) == 0 and len(empty.uncertain) == 0
    assert "cluster_id" in empty.unique.columns
    # records without a title are never merged by a rule, not even by a shared DOI:
    # each is its own cluster, listed in ``untitled`` and (with its likely partner) in
    # ``uncertain`` for a person
    untitled = records(BASE | {"title": None}, BASE | {"title": None})
    result = deduplicate(untitled)
    assert len(result.unique) == 2
    assert result.untitled["record_id"].tolist() == ["a:000001", "a:000002"]
    doi = {"title": None, "doi": "10.1136/annrheumdis-2011-200308"}
    result = deduplicate(records(BASE | doi, BASE | doi))
    assert len(result.unique) == 2
    assert result.uncertain[["record_id_1", "record_id_2", "reason"]].values.tolist() == [
        ["a:000001", "a:000002", "no title, same id"]
    ]


# --- one database record under two DOIs; theses -------------------------------------


def test_one_database_record_under_two_dois():
    # An Embase record exported twice, its DOI corrected between the exports: the
    # accession names one database record, so the two DOIs do not split it.
    old = {"accession": "70929072", "doi": "10.1016/j.regpep.2012.05.039", "pages": "e24"}
    new = {"accession": "70929072", "doi": "10.1016/j.appet.2012.05.003", "pages": "e24"}
    result = pair(old, new | {"volume": None})
    assert same_cluster(result, 0, 1)
    assert result.clusters["match"].iloc[1] == "accession"
    # the same two DOIs without a shared accession: two articles
    no_acc = {"accession": None}
    assert not same_cluster(pair(old | no_acc, new | no_acc | {"volume": None}), 0, 1)
    # a shared accession with another title (score < 95) does not overrule the DOIs;
    # title and DOI both differ, so the pair is not likely enough to be listed
    other = new | {"title": "Golimumab and spinal inflammation in spondylitis: GO-RAISE"}
    result = pair(old, other)
    assert not same_cluster(result, 0, 1)
    assert result.uncertain.empty


def test_accession_from_a_labelled_sets_link():
    from srma.dedup.labelled import accession_from_url

    ovid = (
        "http://ovidsp.ovid.com/ovidweb.cgi?T=JS&CSC=Y&NEWS=N&PAGE=fulltext&D=emed13&AN=70929072"
        "http://ru.on.worldcat.org/atoztitles/link?/?url_ver=Z39.88-2004"
    )
    assert accession_from_url(ovid) == "70929072"
    # Ovid MEDLINE's AN is the PMID, not an accession
    assert accession_from_url(ovid.replace("D=emed13", "D=medl")) is None
    scopus = "https://www.scopus.com/inward/record.uri?eid=2-s2.0-84922404737&partnerID=40"
    assert accession_from_url(scopus) == "2-s2.0-84922404737"
    assert accession_from_url("https://www.ncbi.nlm.nih.gov/pubmed/18460911") is None
    assert accession_from_url(None) is None


THESIS_TITLE = "An intelligent rehabilitation system for cognitive rehabilitation"
THESIS = {
    "title": THESIS_TITLE,
    "authors": ["Yip, Chi Bun"],
    "first_author": "Yip",
    "year": 2011,
    "journal": None,
    "volume": "Ph.D.",
    "pages": "215 p",
}
DAI = THESIS | {
    "year": 2012,
    "journal": "Dissertation Abstracts International: Section B: The Sciences and Engineering",
    "volume": "73",
    "issue": "3-B",
    "pages": "1524",
}


def test_page_count_and_thesis_kind():
    assert parse_pages("215 p") is None  # 215 pages long, not page 215
    assert parse_pages("94 pp.") is None
    assert parse_pages("551P") == ("551", "551")  # a page with a letter
    assert record_kind(THESIS_TITLE, None, None, "Ph.D.", pages="215 p") == "thesis"
    assert record_kind(THESIS_TITLE, None, None, None, pages="215 p") == "thesis"
    assert record_kind(THESIS_TITLE, ["THES"]) == "thesis"
    assert record_kind(THESIS_TITLE, None, DAI["journal"], "73", pages="1524") == "thesis"
    assert record_kind(THESIS_TITLE, None, "Stroke", "41", pages="e505") == "article"


def test_thesis_and_its_dissertation_abstracts_entry():
    from srma.dedup.ris_out import ris_entries

    result = deduplicate(records(THESIS, DAI))
    assert same_cluster(result, 0, 1)
    assert result.clusters["match"].iloc[1] == "fuzzy"
    assert ris_entries(result.unique)[0]["type_of_reference"] == "THES"
    # the name printed otherwise ("C. B." for "Chi Bun"): title and surname alone are
    # too little for two theses; a person decides
    result = deduplicate(records(THESIS | {"authors": ["Yip, C. B."]}, DAI))
    assert not same_cluster(result, 0, 1)
    assert result.uncertain.iloc[0]["reason"] == "thesis, first author's name differs"
    # the thesis and the journal paper it became are not duplicates
    paper = THESIS | {"journal": "Stroke", "volume": "41", "pages": "e505", "year": 2012}
    assert not same_cluster(deduplicate(records(THESIS, paper)), 0, 1)
    # two theses of one title and author, 6 years apart (master's and doctoral)
    assert not same_cluster(deduplicate(records(THESIS | {"year": 2007}, DAI)), 0, 1)
