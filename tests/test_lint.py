"""The project's own standards: ruff, snakefmt and snakemake --lint are clean, and the
declared dependencies are what srma imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True)


def test_ruff_clean(root_dir):
    proc = _run([str(BIN / "ruff"), "check", "."], root_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_clean(root_dir):
    proc = _run([str(BIN / "ruff"), "format", "--check", "."], root_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_clean(root_dir):
    proc = _run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules"], root_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_clean(root_dir):
    proc = _run([sys.executable, "-m", "snakemake", "--lint"], root_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


#: Import names of the declared distributions that differ from their names on PyPI.
_IMPORT_NAMES = {"pyyaml": "yaml", "python-docx": "docx"}
#: Declared dependencies srma does not import itself, with the reason.
_NOT_IMPORTED = {
    "pygments": "snakemake --report renders its captions with it but does not declare it",
}


def _declared() -> dict[str, str]:
    """Import name -> distribution name of every dependency in pyproject.toml."""
    import re
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    names = {
        re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower()
        for d in project["project"]["dependencies"]
    }
    return {_IMPORT_NAMES.get(n, n).replace("-", "_"): n for n in names}


def _imported(root: Path) -> set[str]:
    """Top-level modules imported by the srma package and the rules, less the standard
    library and srma itself."""
    import ast

    found = set()
    files = [*(root / "workflow" / "srma").rglob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    for smk in [root / "Snakefile", *(root / "workflow" / "rules").glob("*.smk")]:
        for line in smk.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from"):
                found.add(words[1].split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "srma"}


def test_declared_dependencies_are_what_srma_imports(root_dir):
    declared = _declared()
    imported = _imported(root_dir)
    assert imported - set(declared) == set(), "imported but not declared in pyproject.toml"
    assert set(declared) - imported == set(_NOT_IMPORTED), "declared but never imported"
    env = (root_dir / "environment.yml").read_text(encoding="utf-8")
    conda = {"snakemake": "snakemake-minimal", "matplotlib": "matplotlib-base"}
    for dist in declared.values():
        assert f"- {conda.get(dist, dist)} " in env, f"{dist} missing from environment.yml"
