"""srma is for any review: no word of the bundled review's domain is in its code.

The bundled review (TNF inhibitors, MRI inflammation scores in axial spondyloarthritis)
lives in config/config.yaml and resources/; every outcome, unit, arm or measure name that
a figure, a caption or the report shows comes from the review's config. This test reads
the code paths (the srma package, the report's captions and the rules) and fails on any
of the bundled review's words, case-insensitive and as whole words, naming the file,
line and word.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Where srma's code is: the package, the report's text, the rules.
CODE_PATHS = [
    ("workflow/srma", "**/*.py"),
    ("workflow/report", "*.rst"),
    ("workflow/rules", "*.smk"),
    ("workflow/srma/templates", "**/*"),
]

#: Words of the bundled review's domain (``spondyl`` also as the start of a word:
#: spondylitis, spondyloarthritis).
DOMAIN_WORDS = re.compile(
    r"\b(?:MRI|TNFi|SPARCC|ASspiMRI|BASDAI|score\s+points|inflammation|spondyl\w*)\b",
    re.IGNORECASE,
)


def code_files() -> list[Path]:
    files = [p for folder, pattern in CODE_PATHS for p in sorted((ROOT / folder).glob(pattern))]
    return [p for p in files if "__pycache__" not in p.parts and p.is_file()]


def domain_words(text: str) -> list[tuple[int, str]]:
    """(line number, word) of every domain word in ``text``."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(0)) for m in DOMAIN_WORDS.finditer(text)]


def test_the_pattern_finds_the_words_and_only_them():
    text = (
        "MRI\nmri_measure\nTNFi-treated\nASspiMRI-a\nscore points\nscore\n  points\n"
        "Inflammation\nspondyloarthritis\nSPARCCs\nbasdai"
    )
    assert [word for _, word in domain_words(text)] == [
        "MRI",
        "TNFi",
        "ASspiMRI",
        "score points",
        "score\n  points",
        "Inflammation",
        "spondyloarthritis",
        "basdai",
    ]


def test_code_paths_hold_no_domain_word():
    files = code_files()
    assert len(files) > 20  # the globs found srma's code
    hits = [
        f"{path.relative_to(ROOT)}:{line}: {word!r}"
        for path in files
        for line, word in domain_words(path.read_text(encoding="utf-8"))
    ]
    assert not hits, "domain words in srma's code (take them from the config):\n" + "\n".join(hits)
