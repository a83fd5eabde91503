"""The bundled review on a real SLURM cluster gives the same bytes as a local run.

The test starts a single-node SLURM cluster on this machine with
``../shared/tools/local-slurm.sh`` (root, Debian; it installs slurm-wlm and munge with
apt when missing), runs the workflow with ``--profile profiles/slurm`` (Snakemake's slurm
executor plugin), compares every file under ``results/`` with a local ``--cores 2`` run,
and stops the cluster, also when the test fails.

The plugin is installed into a separate virtual environment, ``.venv-slurm``, layered on
``.venv`` (it sees ``.venv``'s packages through a ``.pth`` file), because importing the
plugin makes every ``snakemake`` command wait 10 s for a SLURM controller when none
answers. The cluster has no accounting database, so job states come from ``squeue``
(``slurm-status-command: squeue`` in the profile).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml
from workflow_runs import (
    ROOT,
    command_output,
    copy_workflow,
    differing,
    result_digests,
    run_snakemake,
)

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

PROFILE = ROOT / "profiles" / "slurm"
SLURM_VENV = ROOT / ".venv-slurm"


def _slurm_requirements() -> list[str]:
    """The ``slurm`` extra of pyproject.toml: the one place its version is pinned."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return list(project["optional-dependencies"]["slurm"])


def _profile() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def slurm_python() -> Path:
    """Python of ``.venv-slurm``: ``.venv``'s packages plus the slurm executor plugin."""
    python = SLURM_VENV / "bin" / "python"
    requirements = _slurm_requirements()
    stamp = SLURM_VENV / ".srma-slurm-installed"
    if not stamp.is_file() or stamp.read_text() != "\n".join(requirements):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(SLURM_VENV)], check=True)
        base = sysconfig.get_paths()["purelib"]
        site_dir = command_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).strip()
        # addsitedir (not a bare path) so that .venv's own .pth files, among them the
        # editable install of srma, are read too.
        Path(site_dir, "srma-base-venv.pth").write_text(
            f"import site; site.addsitedir({base!r})\n", encoding="utf-8"
        )
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements], check=True)
        stamp.write_text("\n".join(requirements))
    return python


@pytest.fixture(scope="module")
def slurm_cluster(shared_dir: Path):
    """A one-node SLURM cluster on localhost for the module's tests, stopped afterwards."""
    script = shared_dir / "tools" / "local-slurm.sh"
    if not script.is_file():
        pytest.skip(f"{script} not found")
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("local-slurm.sh needs Linux and root")
    if shutil.which("sbatch") is None and shutil.which("apt-get") is None:
        pytest.skip("neither SLURM (sbatch) nor apt-get to install it")
    try:
        subprocess.run(["bash", str(script), "start"], check=True, timeout=900)
        yield script
    finally:
        subprocess.run(["bash", str(script), "stop"], check=False, timeout=300)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> dict[str, str]:
    work = copy_workflow(tmp_path_factory.mktemp("local"))
    run_snakemake(work, "--cores", "2")
    return result_digests(work)


def test_profile_sizes_every_grouped_and_heavy_rule():
    """Every rule named in the profile exists in the workflow (a renamed rule would
    silently lose its resources), and the groups' rules are the workflow's."""
    profile = _profile()
    rules = set(
        command_output([sys.executable, "-m", "snakemake", "--list-rules"], cwd=ROOT).split()
    )
    named = set(profile["set-resources"]) | set(profile["groups"])
    assert named <= rules, f"profile names rules the workflow lacks: {sorted(named - rules)}"
    assert profile["groups"]["extract_study"] == "extraction"
    assert set(profile["group-components"]) <= set(profile["groups"].values())
    assert profile["slurm-status-command"] == "squeue"


def test_slurm_run_is_byte_identical_to_local(slurm_cluster, slurm_python, local_run, tmp_path):
    work = copy_workflow(tmp_path / "slurm")
    env = dict(os.environ)
    # Jobs start `python -m snakemake` with the submitting shell's environment.
    env["PATH"] = f"{slurm_python.parent}{os.pathsep}{env.get('PATH', '')}"
    run_snakemake(
        work,
        "--profile",
        str(PROFILE),
        # First status check 5 s after submitting instead of 40 s (squeue is accepted
        # while the cluster's MinJobAge, 900 s here, is at least 3x this value).
        "--slurm-init-seconds-before-status-checks",
        "5",
        "--latency-wait",
        "10",
        "--slurm-keep-successful-logs",
        python=slurm_python,
        env=env,
        timeout=1200,
    )
    slurm = result_digests(work)
    assert local_run, "the local run wrote nothing"
    assert differing(local_run, slurm) == []

    # The jobs really went through SLURM, and the groups packed the per-study jobs.
    logs = work / ".snakemake" / "slurm_logs"
    submissions = {d.name: len(list(d.glob("*.log"))) for d in logs.iterdir() if d.is_dir()}
    studies = [p.stem for p in (work / "resources" / "extraction").glob("*.yaml")]
    components = _profile()["group-components"]["extraction"]
    extraction = [n for name, n in submissions.items() if name.startswith("group_extraction")]
    assert extraction == [math.ceil(len(studies) / components)], submissions
    assert not any(name.startswith("rule_extract_study") for name in submissions), submissions
