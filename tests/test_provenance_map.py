"""results/provenance.json: every pooled number traced to study files and search records."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from srma import __version__
from srma.errors import InputError
from srma.provenance_map import build_provenance, write_provenance


def _group(instrument, timepoint, rows, pooled=None):
    table = pd.DataFrame(rows)
    table["instrument"], table["timepoint"], table["row_type"] = instrument, timepoint, "study"
    if pooled is not None:
        table = pd.concat(
            [
                table,
                pd.DataFrame(
                    [
                        {
                            **pooled,
                            "instrument": instrument,
                            "timepoint": timepoint,
                            "row_type": "pooled",
                            "usable": True,
                        }
                    ]
                ),
            ],
            ignore_index=True,
        )
    return table


@pytest.fixture
def review(tmp_path):
    files = {}
    for study, text in {
        "A2001": "study_id: A2001\n",
        "B2002": "study_id: B2002\n",
        "C2003": "study_id: C2003\n",
    }.items():
        path = tmp_path / f"{study}.yaml"
        path.write_text(text, encoding="utf-8")
        files[study] = path
    search = tmp_path / "pubmed.nbib"
    search.write_text("PMID- 1\n", encoding="utf-8")
    # pubmed:000001 and embase:000004 are one cluster (A2001's main report); A2001's
    # companion report is pubmed:000002; B2002 is embase:000001; pubmed:000003 excluded.
    clusters = pd.DataFrame(
        {
            "record_id": [
                "pubmed:000001",
                "pubmed:000002",
                "pubmed:000003",
                "embase:000001",
                "embase:000004",
            ],
            "cluster_id": [
                "pubmed:000001",
                "pubmed:000002",
                "pubmed:000003",
                "embase:000001",
                "pubmed:000001",
            ],
        }
    )
    decisions = pd.DataFrame(
        {
            "cluster_id": ["pubmed:000001", "pubmed:000002", "pubmed:000003", "embase:000001"],
            "study_id": ["A2001", "A2001", None, "B2002"],
            "status": ["included", "included", "excluded_title_abstract", "included"],
        }
    )
    pooled = _group(
        "sparcc_sij",
        "12w",
        [
            {"study_id": "A2001", "yi": -2.0, "vi": 0.5, "weight": 60.0, "usable": True},
            {"study_id": "B2002", "yi": -1.0, "vi": 1.0, "weight": 40.0, "usable": True},
            {
                "study_id": "C2003",
                "yi": None,
                "vi": None,
                "weight": None,
                "usable": False,
                "reason": "no usable control arm",
            },
        ],
        pooled={"estimate": -1.6, "k": 2, "tau2": 0.0},
    )
    return files, search, clusters, decisions, pooled


def test_pooled_number_maps_to_files_and_records(review):
    files, search, clusters, decisions, pooled = review
    prov = build_provenance(
        [pooled],
        extraction_files=files,
        clusters=clusters,
        decisions=decisions,
        search_files={"pubmed": search},
        config_hash="c0ffee",
    )
    assert prov["srma_version"] == __version__ and prov["config_hash"] == "c0ffee"
    (group,) = prov["pooled"]
    assert group["numbers"]["estimate"] == -1.6 and group["numbers"]["k"] == 2
    assert [s["study_id"] for s in group["studies"]] == ["A2001", "B2002"]
    assert group["not_used"] == [{"study_id": "C2003", "reason": "no usable control arm"}]
    a = prov["studies"]["A2001"]
    assert a["clusters"] == ["pubmed:000001", "pubmed:000002"]
    assert a["records"] == ["embase:000004", "pubmed:000001", "pubmed:000002"]
    assert a["exports"] == ["embase", "pubmed"]
    expected = hashlib.sha256(b"study_id: A2001\n").hexdigest()
    assert a["extraction_file"] == {"path": files["A2001"].as_posix(), "sha256": expected}
    assert prov["studies"]["B2002"]["records"] == ["embase:000001"]
    # C2003 entered no number, so it is not among the studies behind numbers.
    assert "C2003" not in prov["studies"] and prov["unlinked"] == []
    assert prov["search_files"]["pubmed"]["sha256"] == hashlib.sha256(b"PMID- 1\n").hexdigest()


def test_study_without_included_decision_is_reported_not_dropped(review):
    files, search, clusters, decisions, pooled = review
    decisions = decisions[decisions["study_id"] != "B2002"]
    prov = build_provenance(
        [pooled],
        extraction_files=files,
        clusters=clusters,
        decisions=decisions,
        search_files={"pubmed": search},
    )
    assert prov["unlinked"] == ["B2002"]
    assert prov["studies"]["B2002"]["records"] == []


def test_correlations_and_missing_extraction_file(review):
    files, search, clusters, decisions, pooled = review
    corr = pd.DataFrame(
        [
            {
                "mri_measure": "sparcc_sij",
                "mri_timing": "change",
                "clinical_measure": "crp",
                "k": 2,
                "r": 0.31,
                "status": "pooled",
                "studies": "A2001; B2002",
            }
        ]
    )
    prov = build_provenance(
        [],
        extraction_files=files,
        clusters=clusters,
        decisions=decisions,
        search_files={},
        correlations_pooled=corr,
    )
    assert prov["correlations"][0]["studies"] == ["A2001", "B2002"]
    assert prov["correlations"][0]["numbers"] == {"k": 2, "r": 0.31}
    with pytest.raises(InputError, match="B2002"):
        build_provenance(
            [pooled],
            extraction_files={"A2001": files["A2001"]},
            clusters=clusters,
            decisions=decisions,
            search_files={},
        )


def test_written_file_is_stable_json(review, tmp_path):
    files, search, clusters, decisions, pooled = review
    paths = {}
    for name, frame in {"pooled": pooled, "clusters": clusters, "decisions": decisions}.items():
        paths[name] = tmp_path / f"{name}.parquet"
        frame.to_parquet(paths[name])
    outs = []
    for i in range(2):
        out = tmp_path / f"prov{i}.json"
        write_provenance(
            [paths["pooled"]],
            extraction=sorted(files.values()),
            clusters=paths["clusters"],
            decisions=paths["decisions"],
            search_files={"pubmed": search},
            out=out,
        )
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert json.loads(outs[0])["pooled"][0]["table"] == paths["pooled"].as_posix()
