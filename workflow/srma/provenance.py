"""What produced an output: srma's code and the configuration a job used.

Snakemake reruns a job when its ``params`` change. The rules put the hash of the srma
source files a stage uses (:func:`code_hash`) and of the config values it reads
(:func:`srma.config.config_hash`) in ``params``, so that editing srma's code or a
setting reruns exactly the jobs it affects.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import cache
from pathlib import Path

from srma import __version__

PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def code_hash(*modules: str) -> str:
    """SHA-256 (16 hex digits) of srma's version and the source of ``modules``.

    ``modules`` are dotted names inside the package (``"pooling"``, ``"importers"``); a
    subpackage counts with all its ``.py`` files. The shared modules every stage uses
    (``io``, ``errors``, ``config``) always count.
    """
    digest = hashlib.sha256(__version__.encode())
    names = sorted(set(modules) | {"io", "errors", "config"})
    for name in names:
        for path in _source_files(name):
            digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _source_files(name: str) -> list[Path]:
    spec = importlib.util.find_spec(f"srma.{name}")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"srma.{name}")
    origin = Path(spec.origin)
    if origin.name == "__init__.py":
        return sorted(origin.parent.rglob("*.py"))
    return [origin]
