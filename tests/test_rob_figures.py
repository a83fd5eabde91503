"""Risk-of-bias figures: content (every study and domain drawn, colours and symbols by
judgement, weighted shares), the forest plot's risk-of-bias columns, errors, and the
same bytes on rerun. The figure code draws what it is given and computes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.patches import Circle, Rectangle
from matplotlib.text import Text

import srma.figures.forest as forest_mod
import srma.figures.rob as rob_mod
from srma.appraisal.tools import ROB2, ROBINS_I
from srma.errors import InputError
from srma.figures.forest import forest_plot
from srma.figures.rob import COLOURS, DOMAINS, SYMBOLS, summary_bars, traffic_light

sys.path.insert(0, str(Path(__file__).parent))
from test_figures import ARMS, LABELS, Capture, three_study_group  # noqa: E402

ROB2_CYCLE = ["low", "some concerns", "high", "no information"]
STUDIES = ["Braun2006", "Song2011", "Krabbe2018", "Lambert2007"]


def rob2_table(studies=STUDIES) -> pd.DataFrame:
    """Every study x domain a different judgement (cycling), overall by the study."""
    rows = []
    for i, s in enumerate(studies):
        for k, d in enumerate(ROB2.domains):
            rows.append(
                {"study_id": s, "tool": "rob2", "domain": d, "judgement": ROB2_CYCLE[(i + k) % 4]}
            )
        rows.append(
            {"study_id": s, "tool": "rob2", "domain": "overall", "judgement": ROB2_CYCLE[i % 4]}
        )
    return pd.DataFrame(rows)


def robins_table() -> pd.DataFrame:
    levels = ["low", "moderate", "serious", "critical", "no information"]
    rows = []
    for i, s in enumerate(["Cui2016", "Maksymowych2014"]):
        for k, d in enumerate(ROBINS_I.domains):
            rows.append(
                {"study_id": s, "tool": "robins_i", "domain": d, "judgement": levels[(i + k) % 5]}
            )
        rows.append(
            {"study_id": s, "tool": "robins_i", "domain": "overall", "judgement": "critical"}
        )
    return pd.DataFrame(rows)


def svg_text(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(el.itertext()) for el in root.iter() if el.tag.endswith("}text")]


@pytest.fixture
def capture(monkeypatch):
    def install(module):
        cap = Capture(module.save_figure)
        monkeypatch.setattr(module, "save_figure", cap)
        return cap

    return install


def marks(fig) -> list[tuple[str, str]]:
    """(gid judgement, face colour) of every circle drawn."""
    return [
        (c.get_gid()[4:].replace("-", " "), to_hex(c.get_facecolor()))
        for c in fig.findobj(Circle)
        if (c.get_gid() or "").startswith("rob-")
    ]


def test_domain_names_match_the_tools():
    assert DOMAINS["rob2"] == ROB2.domains
    assert DOMAINS["robins_i"] == ROBINS_I.domains


def test_traffic_light_draws_every_study_and_domain_in_its_colour(tmp_path, capture):
    cap = capture(rob_mod)
    table = pd.concat([rob2_table(), robins_table()])  # the other tool's rows are left out
    assert traffic_light(table, tmp_path / "t.svg", tmp_path / "t.png", tool="rob2")
    [fig] = cap.figs
    text = svg_text(tmp_path / "t.svg")
    for label in ("Braun 2006", "Song 2011", "Krabbe 2018", "Lambert 2007"):
        assert label in text
    assert "Cui 2016" not in text
    for d, name in ROB2.domains.items():
        assert d in text and f"{d}: {name}" in text
    assert "Overall" in text and "Risk of bias (RoB 2)" in text
    drawn = marks(fig)
    # 4 studies x (5 domains + overall), then one legend mark per judgement.
    grid = drawn[:24]
    expected = []
    for i in range(4):
        expected += [ROB2_CYCLE[(i + k) % 4] for k in range(5)] + [ROB2_CYCLE[i % 4]]
    assert [j for j, _ in grid] == expected
    for judgement, colour in drawn:
        assert colour == COLOURS[judgement].lower()
    assert [j for j, _ in drawn[24:]] == ROB2_CYCLE
    # Each cell carries its judgement's symbol.
    for judgement in ROB2_CYCLE:
        assert text.count(SYMBOLS[judgement]) == expected.count(judgement) + 1


def test_traffic_light_robins_i_and_critical(tmp_path, capture):
    cap = capture(rob_mod)
    assert traffic_light(robins_table(), tmp_path / "r.svg", tmp_path / "r.png", tool="robins_i")
    text = svg_text(tmp_path / "r.svg")
    assert "D7" in text and "D7: Selection of the reported result" in text
    judgements = [j for j, _ in marks(cap.figs[0])]
    assert judgements.count("critical") == 2 + 2 + 1  # two overall, one domain each, legend
    assert "Critical" in text and "Moderate" in text


def test_traffic_light_without_studies_of_the_tool_is_a_note(tmp_path):
    assert not traffic_light(rob2_table(), tmp_path / "n.svg", tmp_path / "n.png", tool="robins_i")
    assert "No study was assessed with ROBINS-I." in svg_text(tmp_path / "n.svg")


def bars(fig) -> dict[tuple[str, str], float]:
    out = {}
    for r in fig.findobj(Rectangle):
        gid = r.get_gid() or ""
        if gid.startswith("bar-"):
            _, domain, judgement = gid.split("-", 2)
            out[(domain, judgement.replace("-", " "))] = r.get_width()
            assert to_hex(r.get_facecolor()) == COLOURS[judgement.replace("-", " ")].lower()
    return out


def test_summary_bars_share_of_studies_and_of_weight(tmp_path, capture):
    cap = capture(rob_mod)
    table = rob2_table()
    summary_bars(table, tmp_path / "s.svg", tmp_path / "s.png", tool="rob2")
    widths = bars(cap.figs[0])
    # Unweighted: each study a quarter of every bar.
    for (domain, _), w in widths.items():
        assert w == pytest.approx(rob_mod.BAR_W * 0.25), domain
    assert len(widths) == 6 * 4
    weights = {"Braun2006": 50, "Song2011": 25, "Krabbe2018": 15, "Lambert2007": 10}
    summary_bars(table, tmp_path / "w.svg", tmp_path / "w.png", tool="rob2", weights=weights)
    widths = bars(cap.figs[1])
    # Overall: Braun low (50%), Song some concerns (25%), Krabbe high (15%), Lambert NI.
    share = {"low": 0.50, "some concerns": 0.25, "high": 0.15, "no information": 0.10}
    for j, s in share.items():
        assert widths[("overall", j)] == pytest.approx(rob_mod.BAR_W * s)
    text = svg_text(tmp_path / "w.svg")
    assert "50%" in text and "25%" in text and "15%" in text and "10%" in text
    assert "Overall risk of bias" in text and "D3: Missing outcome data" in text
    assert "Share of the 4 studies' weight in the analysis" in text


def test_summary_bars_errors(tmp_path):
    with pytest.raises(InputError) as info:
        summary_bars(
            rob2_table(),
            tmp_path / "e.svg",
            tmp_path / "e.png",
            tool="rob2",
            weights={"Braun2006": 1},
        )
    assert info.value.record == "Song2011"
    with pytest.raises(InputError, match="add up to 0"):
        summary_bars(
            rob2_table(),
            tmp_path / "e.svg",
            tmp_path / "e.png",
            tool="rob2",
            weights=dict.fromkeys(STUDIES, 0),
        )


@pytest.mark.parametrize(
    "change, record, field, words",
    [
        (lambda t: pd.concat([t, t.iloc[[0]]]), "Braun2006", "domain", "given twice"),
        (lambda t: t.drop(index=2), "Braun2006", "judgement", "no judgement for D3"),
        (
            lambda t: t.assign(judgement=t["judgement"].replace("high", "serious")),
            None,
            "judgement",
            "not a RoB 2",
        ),
        (
            lambda t: t.assign(domain=t["domain"].replace("D5", "D6")),
            "Braun2006",
            "domain",
            "not 'D6'",
        ),
        (lambda t: t.drop(columns="judgement"), None, "judgement", "required column"),
    ],
)
def test_figure_input_errors_name_study_and_field(tmp_path, change, record, field, words):
    with pytest.raises(InputError) as info:
        traffic_light(change(rob2_table()), tmp_path / "x.svg", tmp_path / "x.png", tool="rob2")
    err = info.value
    assert err.field == field and words in err.message, str(err)
    if record:
        assert err.record == record


def test_forest_plot_risk_of_bias_columns(tmp_path, capture):
    cap = capture(forest_mod)
    group = three_study_group()
    studies = ["Lambert2007", "Maksymowych2016", "Sieper2013", "Braun2012"]
    rob = rob2_table(studies)
    forest_plot(group, tmp_path / "f.svg", tmp_path / "f.png", **LABELS, **ARMS, rob=rob)
    fig = cap.figs[0]
    drawn = marks(fig)
    # One mark per domain and overall for every study row, unusable ones included.
    expected = []
    for i in range(4):
        expected += [ROB2_CYCLE[(i + k) % 4] for k in range(5)] + [ROB2_CYCLE[i % 4]]
    assert [j for j, _ in drawn] == expected
    assert all(colour == COLOURS[j].lower() for j, colour in drawn)
    text = svg_text(tmp_path / "f.svg")
    assert "Risk of bias" in text and "O" in text and "D5" in text
    assert any(t.startswith("Risk of bias (RoB 2): D1 randomisation process") for t in text)
    assert any(t.startswith("Marks: + low") for t in text)
    # Each study's marks sit on its row: the same y as its label.
    labels = {t.get_text(): t.get_position()[1] for t in fig.findobj(Text)}
    circles = [c for c in fig.findobj(Circle) if (c.get_gid() or "").startswith("rob-")]
    rows = sorted({round(c.center[1], 6) for c in circles})
    assert rows == sorted(
        round(labels[s], 6)
        for s in ("Lambert 2007", "Maksymowych 2016\u2020", "Sieper 2013", "Braun 2012")
    )


def test_forest_plot_without_rob_is_unchanged(tmp_path):
    group = three_study_group()
    forest_plot(group, tmp_path / "a.svg", tmp_path / "a.png", **LABELS, **ARMS)
    assert "Risk of bias" not in svg_text(tmp_path / "a.svg")
    # Studies missing from the table get empty cells, not an error.
    forest_plot(
        group,
        tmp_path / "b.svg",
        tmp_path / "b.png",
        **LABELS,
        **ARMS,
        rob=rob2_table(["Sieper2013"]),
    )
    assert "Risk of bias" in svg_text(tmp_path / "b.svg")
    # A table without any assessed study adds nothing.
    none = pd.DataFrame(
        [{"study_id": "Sieper2013", "tool": "none", "domain": "overall", "judgement": "x"}]
    )
    forest_plot(group, tmp_path / "c.svg", tmp_path / "c.png", **LABELS, **ARMS, rob=none)
    assert (tmp_path / "c.svg").read_bytes() == (tmp_path / "a.svg").read_bytes()


def draw_all(folder: Path) -> dict[str, bytes]:
    table = rob2_table()
    traffic_light(table, folder / "t.svg", folder / "t.png", tool="rob2")
    summary_bars(
        table, folder / "s.svg", folder / "s.png", tool="rob2", weights=dict.fromkeys(STUDIES, 1)
    )
    forest_plot(
        three_study_group(),
        folder / "f.svg",
        folder / "f.png",
        **LABELS,
        **ARMS,
        rob=rob2_table(["Lambert2007", "Sieper2013"]),
    )
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_bytes_on_rerun_and_in_another_process(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = draw_all(tmp_path / "a")
    assert draw_all(tmp_path / "b") == first
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from pathlib import Path\n"
        "from test_rob_figures import draw_all\n"
        f"draw_all(Path({str(tmp_path / 'c')!r}))\n"
    )
    (tmp_path / "c").mkdir()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "c").iterdir())} == first


def test_rob_figures_import_no_statistics():
    code = (
        "import sys, json\n"
        "import srma.figures.rob\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('srma'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert all(
        m in ("srma", "srma.errors", "srma.io") or m.startswith("srma.figures") for m in loaded
    ), loaded
