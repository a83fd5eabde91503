"""Stage functions handed to worker processes: run elsewhere, log, fail like at home."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import pytest

from srma import workers
from srma.errors import InputError

log = logging.getLogger("srma.tests")


def write_pid(*, out: str, items: list) -> None:
    """A stage-like function: writes its process id and what it was given."""
    log.info("writing %s", out)
    Path(out).write_text(f"{os.getpid()} {items}", encoding="utf-8")


def fail(*, study: str) -> None:
    raise InputError(f"{study}.yaml", "n must be at least 2", record=study, field="n", line=7)


@pytest.fixture
def two_workers():
    workers.configure(2)
    yield
    workers.configure(1)


def test_one_worker_means_the_caller_runs_the_function(tmp_path):
    workers.configure(1)
    assert not workers.call(write_pid, {"out": str(tmp_path / "x"), "items": []}, tmp_path / "l")
    assert not (tmp_path / "x").exists()


def test_a_worker_process_runs_the_function_and_writes_its_log(tmp_path, two_workers):
    out, log_path = tmp_path / "out.txt", tmp_path / "job.log"
    assert workers.call(write_pid, {"out": str(out), "items": (Path("a"), "b")}, log_path)
    pid, items = out.read_text().split(" ", 1)
    assert int(pid) != os.getpid()
    assert items == "['a', 'b']"  # paths and tuples arrive as plain str and list
    assert f"INFO srma.tests: writing {out}" in log_path.read_text()


def test_an_input_error_reaches_the_caller_whole(tmp_path, two_workers):
    with pytest.raises(InputError) as err:
        workers.call(fail, {"study": "Braun2006"}, tmp_path / "job.log")
    assert (err.value.path, err.value.record, err.value.field, err.value.line) == (
        "Braun2006.yaml",
        "Braun2006",
        "n",
        7,
    )
    assert str(err.value) == (
        "Braun2006.yaml, line 7, record Braun2006, field 'n': n must be at least 2"
    )
    assert "InputError" in (tmp_path / "job.log").read_text()


def test_input_error_pickles():
    err = InputError("a.ris", "no title", record=3)
    back = pickle.loads(pickle.dumps(err))
    assert (back.path, back.message, back.record, back.field, str(back)) == (
        "a.ris",
        "no title",
        3,
        None,
        str(err),
    )
