"""What Snakemake needs to know about the study files when it builds the DAG.

Every ``snakemake`` command (a no-op rerun included) parses the workflow, so this runs
for every study file every time and must cost next to nothing at 1,000 studies:

- :func:`study_digest` - a digest of a study file's bytes: the key of the groups cache
  below (and of :func:`srma.extraction.extract_study_once`).
- :func:`batch_of` - the extraction job a study belongs to. Snakemake spends about
  2 ms of its own on every job each time it builds the DAG; 1,000 one-study jobs made
  a no-op rerun of a 1,000-study review take over 5 s. Studies are therefore extracted
  in :data:`BATCHES` fixed batches, a study's batch given by its id alone (CRC-32 modulo
  :data:`BATCHES`), so adding a study never moves another one.
- :func:`groups_of_studies` - the (instrument, timepoint) groups of every study, read
  with :func:`srma.extraction.study_groups` (a YAML parse, ~1-2 ms per file) only for
  files whose digest is not in the cache file of an earlier run.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections.abc import Mapping
from pathlib import Path

from srma.config import config_hash

#: Number of extraction batches (jobs). 32 keeps a 1,000-study review at about 31
#: studies per job (~1.5 s) and a small review at one or two studies per job.
BATCHES = 32

#: Bumped when the cache file's layout changes; older caches are ignored.
_CACHE_VERSION = 1


def study_digest(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes, first 16 hex digits."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def batch_of(study: str, batches: int = BATCHES) -> str:
    """The batch of a study id: ``crc32(id) mod batches``, as two or more digits."""
    width = len(str(batches - 1))
    return f"{zlib.crc32(study.encode('utf-8')) % batches:0{width}d}"


def groups_of_studies(
    files: Mapping[str, str | os.PathLike], config: Mapping, cache: str | os.PathLike
) -> dict[str, list[tuple[str, str]]]:
    """``study -> [(instrument, timepoint), ...]`` for every study file.

    ``config`` holds the sections :func:`srma.extraction.study_groups` reads
    (instruments, timepoints). ``cache`` is a JSON file mapping file digests to groups
    for one such config; it is rewritten (atomically) when a digest was missing, and a
    cache that cannot be read or written is simply not used.
    """
    from srma.extraction import study_groups

    settings = config_hash({k: config[k] for k in ("instruments", "timepoints")})
    cache = Path(cache)
    known: dict[str, list[list[str]]] = {}
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("version") == _CACHE_VERSION and stored.get("settings") == settings:
            known = stored["groups"]
    except (OSError, ValueError, KeyError, AttributeError):
        known = {}
    out: dict[str, list[tuple[str, str]]] = {}
    fresh: dict[str, list[list[str]]] = {}
    for study, path in files.items():
        digest = study_digest(path)
        groups = known.get(digest)
        if groups is None:
            groups = [list(g) for g in study_groups(path, config)]
        fresh[digest] = groups
        out[study] = [(i, t) for i, t in groups]
    if fresh != known:
        payload = {"version": _CACHE_VERSION, "settings": settings, "groups": fresh}
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
            tmp.write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")
            os.replace(tmp, cache)
        except OSError:
            pass
    return out
