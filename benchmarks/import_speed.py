"""Import speed: srma's MEDLINE and RIS parsers against Biopython and rispy.

Builds a 100,000-record MEDLINE file and a 100,000-record RIS file by repeating the real
exports in ``../shared/datasets/exports`` (PubMed MEDLINE files; RIS files of every
dialect), then times, in the same run and on the same files, srma's one parser of each
format (the line-numbered text parser, ``srma.importers.medline.parse`` /
``srma.importers.ris.parse``) against its peer:

- MEDLINE: against ``Bio.Medline.parse`` (parse only, dict per record);
- RIS: against ``rispy.load(..., encoding="utf-8-sig")`` (parse only).

A BibTeX row times ``read_export`` on the real 1,000-entry Zotero export
(``bibtex/asysd__zotero_export.bib``, as it is) against bibtexparser 2 reading it with
its own LaTeX decoding of every field (``parse_string(text,
append_middleware=[LatexDecodingMiddleware()])``, srma's reading before it decoded only
the fields it uses).

Two rows per format: ``parse`` is srma's reading and decoding of the file plus its
parser (what the peer does), ``import`` the whole ``srma.importers.read_export``
(parse + normalise + records table), against the same peer.

Prints records/s for each and the ratio srma / peer (>= 1.0 means srma is at least as
fast; on the ``import`` rows while doing more: normalising fields and building the
table), by wall-clock time and by CPU time of the process (the latter is steadier on a
machine shared with other work). Runs of srma and the peer alternate and each figure is
the best of ``--repeat``. Needs Biopython (``pip install srma[bench]``).

    python benchmarks/import_speed.py [--records 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SRMA_SHARED", ROOT.parent / "shared"))
EXPORTS = SHARED / "datasets" / "exports"


def _records(paths: list[str], fmt: str) -> list[str]:
    """Record texts of the sample files (srma's own splitter; each checked by count)."""
    from srma.importers import medline, read_text, ris

    out = []
    for path in paths:
        text = read_text(path)
        if fmt == "medline":
            out += [rec[""][0] for rec in medline.parse(text, path)]
        else:
            out += [rec[""][0] for rec in ris.parse(text, path)]
    return out


def build(fmt: str, n: int, folder: Path) -> Path:
    """A file of ``n`` records made by cycling through the real samples' records."""
    from srma.importers import detect_format

    paths = [
        p
        for p in sorted(glob.glob(str(EXPORTS / "*" / "*")))
        if not p.endswith(".csv") and detect_format(p) == fmt
    ]
    records = _records(paths, fmt)
    sep = "\n\n" if fmt == "medline" else "\n"
    chunks = [records[i % len(records)] for i in range(n)]
    path = folder / f"bench_{fmt}.txt"
    path.write_text(sep.join(chunks) + "\n", encoding="utf-8")
    return path


def timed(fn) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, records) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    count = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, count


def compare(ours, peer, repeat: int) -> tuple[list[float], list[float], int, int]:
    """Best wall and CPU time of each, runs interleaved (ours, peer, ours, peer, ...) so
    that a change in the machine's load does not favour one side."""
    best_ours = [float("inf"), float("inf")]
    best_peer = [float("inf"), float("inf")]
    n_ours = n_peer = 0
    for _ in range(repeat):
        for best, fn in ((best_ours, ours), (best_peer, peer)):
            wall, cpu, count = timed(fn)
            best[0], best[1] = min(best[0], wall), min(best[1], cpu)
            if fn is ours:
                n_ours = count
            else:
                n_peer = count
    return best_ours, best_peer, n_ours, n_peer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not EXPORTS.is_dir():
        print(f"{EXPORTS} not found: the real export samples are needed", file=sys.stderr)
        return 2
    try:
        from Bio import Medline
    except ImportError:
        print("Biopython is needed: pip install biopython", file=sys.stderr)
        return 2
    import rispy

    from srma.importers import medline, read_export, read_text, ris

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        med = build("medline", args.records, folder)
        ris_path = build("ris", args.records, folder)

        def parse_med() -> int:
            return len(medline.parse(read_text(med), med))

        def import_med() -> int:
            return len(read_export(med, export="bench", fmt="medline"))

        def bio_med() -> int:
            with open(med, encoding="utf-8") as fh:
                return sum(1 for _ in Medline.parse(fh))

        def parse_ris() -> int:
            return len(ris.parse(read_text(ris_path), ris_path))

        def import_ris() -> int:
            return len(read_export(ris_path, export="bench", fmt="ris"))

        def rispy_ris() -> int:
            return len(rispy.load(ris_path, encoding="utf-8-sig"))

        bib = EXPORTS / "bibtex" / "asysd__zotero_export.bib"

        def import_bib() -> int:
            return len(read_export(bib, export="bench", fmt="bibtex"))

        def bibtexparser_bib() -> int:
            import bibtexparser
            from bibtexparser.middlewares import LatexDecodingMiddleware

            text = bib.read_text(encoding="utf-8-sig")
            library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
            return len(library.entries)

        t_ours, t_peer, n_ours, n_peer = compare(import_bib, bibtexparser_bib, args.repeat)
        if n_ours != n_peer:
            print(f"BibTeX: record counts differ: srma {n_ours}, bibtexparser {n_peer}")
            return 1
        bib_row = ("BibTeX", "import", "bibtexparser", n_ours, t_ours, t_peer)

        for label, stage, ours, peer_label, peer in (
            ("MEDLINE", "parse", parse_med, "Bio.Medline", bio_med),
            ("MEDLINE", "import", import_med, "Bio.Medline", bio_med),
            ("RIS", "parse", parse_ris, "rispy", rispy_ris),
            ("RIS", "import", import_ris, "rispy", rispy_ris),
        ):
            t_ours, t_peer, n_ours, n_peer = compare(ours, peer, args.repeat)
            if n_ours != args.records or n_peer != args.records:
                print(
                    f"{label} {stage}: record counts differ: srma {n_ours}, {peer_label} {n_peer}"
                )
                return 1
            rows.append((label, stage, peer_label, args.records, t_ours, t_peer))

    rows.append(bib_row)
    print(
        f"{args.records:,} records per MEDLINE/RIS file, {bib_row[3]:,} in the BibTeX file; "
        f"best of {args.repeat} interleaved runs"
    )
    print(
        f"{'format':<8} {'srma':<7} {'peer':<12} {'srma rec/s':>11} {'peer rec/s':>11}"
        f" {'ratio':>6} {'srma cpu rec/s':>15} {'peer cpu rec/s':>15} {'cpu ratio':>9}"
    )
    for label, stage, peer_label, n, (w_ours, c_ours), (w_peer, c_peer) in rows:
        print(
            f"{label:<8} {stage:<7} {peer_label:<12} {n / w_ours:>11,.0f} {n / w_peer:>11,.0f}"
            f" {w_peer / w_ours:>6.2f} {n / c_ours:>15,.0f} {n / c_peer:>15,.0f}"
            f" {c_peer / c_ours:>9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
