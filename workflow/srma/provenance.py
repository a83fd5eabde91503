"""What produced an output: srma's code and the configuration a job used.

Snakemake reruns a job when its ``params`` change. The rules put the hash of the srma
source files a stage uses (:func:`code_hash`) and of the config values it reads
(:func:`srma.config.config_hash`) in ``params``, so that editing srma's code or a
setting reruns exactly the jobs it affects.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

from srma import __version__

PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def code_hash(*modules: str) -> str:
    """SHA-256 (16 hex digits) of srma's version and the source of ``modules`` and of
    every srma module they import, directly or not.

    ``modules`` are dotted names inside the package (``"pooling"``, ``"importers"``); a
    subpackage counts with all its ``.py`` files. The glue every rule goes through
    (``stages.py``, ``io.py``) always counts, without what it imports.
    """
    digest = hashlib.sha256(__version__.encode())
    shared = {PACKAGE_DIR / "stages.py", PACKAGE_DIR / "io.py"}
    for path in sorted(module_closure(modules) | shared):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def module_closure(modules) -> set[Path]:
    """The source files of ``modules`` and of the srma modules they import (read from
    the import statements, without importing anything)."""
    todo = [f for name in modules for f in _source_files(name)]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _srma_imports(path):
            todo.extend(_source_files(name))
    return seen


def _source_files(name: str) -> list[Path]:
    """Files of ``srma.<name>``: a module, or every file of a subpackage."""
    base = PACKAGE_DIR.joinpath(*name.split(".")) if name else PACKAGE_DIR
    if base.is_dir():
        return sorted(base.rglob("*.py"))
    if base.with_suffix(".py").is_file():
        return [base.with_suffix(".py")]
    # ``from srma.pkg import name`` where name is an attribute: the package's files
    parent = name.rpartition(".")[0]
    return _source_files(parent) if parent else [PACKAGE_DIR / "__init__.py"]


_FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n]+)", re.M)


@cache
def _srma_imports(path: Path) -> frozenset[str]:
    """Dotted names (relative to the srma package) imported by the file at ``path``.

    Read from the import statements with regular expressions rather than by parsing the
    file: Snakemake computes these hashes every time it builds the DAG, and parsing
    every srma module took over a second.
    """
    text = path.read_text(encoding="utf-8")
    package = path.parent.relative_to(PACKAGE_DIR).parts
    names: list[str] = []
    for module, what in _FROM_IMPORT.findall(text):
        level = len(module) - len(module.lstrip("."))
        module = module.lstrip(".")
        if level:
            anchor = package[: len(package) - level + 1]
            module = ".".join([*anchor, *filter(None, module.split("."))])
            module = f"srma.{module}" if module else "srma"
        items = [i.split(" as ")[0].strip() for i in _strip_comments(what).split(",")]
        names.append(module)
        names += [f"{module}.{i}" for i in items if i.isidentifier()]
    for what in _IMPORT.findall(text):
        names += [i.split(" as ")[0].strip() for i in _strip_comments(what).split(",")]
    found = set()
    for name in names:
        if name == "srma" or name.startswith("srma."):
            rel = name.removeprefix("srma").lstrip(".")
            if rel and _exists(rel):
                found.add(rel)
    return frozenset(found)


def _strip_comments(text: str) -> str:
    return re.sub(r"#[^\n]*", "", text).replace("(", "").replace(")", "").replace("\\", "")


def _exists(rel: str) -> bool:
    base = PACKAGE_DIR.joinpath(*rel.split("."))
    return base.is_dir() or base.with_suffix(".py").is_file()
