"""Worker processes for the stage functions of a local Snakemake run.

With ``--force-use-threads`` (srma's default profile) Snakemake runs every ``run:`` job
in a thread of its own process: cheap to start, but the threads share one interpreter
lock, so CPU-bound stages (parsing exports, deduplication, extraction, figures) use one
core however many ``--cores`` are given. :func:`call` hands a stage function to a pool
of worker processes instead - as many as Snakemake's cores, started on first use and
kept for the rest of the run, so each pays the imports (pandas, matplotlib) once, not
once per job. With one core, or inside a job that Snakemake itself started in a process
of its own (a cluster job), the function runs in the calling thread.

Workers are started with ``spawn`` (never ``fork`` from a process running threads) and,
on Linux, ask the kernel to kill them when Snakemake dies, so a killed run leaves no
worker behind writing files.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import PurePath

from srma.logs import job_log

_LOCK = threading.Lock()
_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0
_WORKERS = 1


def configure(workers: int) -> None:
    """Use up to ``workers`` worker processes (1: run every stage in the caller)."""
    global _WORKERS, _POOL
    with _LOCK:
        _WORKERS = max(1, int(workers))
        if _POOL is not None and _POOL_SIZE != _WORKERS:
            _POOL.shutdown(wait=False)
            _POOL = None


def workers() -> int:
    """The number of worker processes :func:`call` may use."""
    return _WORKERS


def _pool() -> ProcessPoolExecutor:
    global _POOL, _POOL_SIZE
    with _LOCK:
        if _POOL is None:
            _POOL_SIZE = _WORKERS
            import multiprocessing

            _POOL = ProcessPoolExecutor(
                max_workers=_WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(list(sys.path),),
            )
        return _POOL


def _init_worker(path: list[str]) -> None:
    sys.path[:] = path
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        # PR_SET_PDEATHSIG (1): the kernel kills this worker when Snakemake dies.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def plain(value: object) -> object:
    """Snakemake's path and list objects as plain ``str``/``list``/``dict`` values, so
    that they pickle to a worker and reach the stage function as documented."""
    if isinstance(value, str | PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _run(module: str, name: str, kwargs: dict, log: str) -> None:
    func = getattr(importlib.import_module(module), name)
    with job_log(log):
        func(**kwargs)


def call(func: Callable[..., None], kwargs: dict, log: str | os.PathLike) -> bool:
    """Run ``func(**kwargs)`` in a worker process with its log in ``log``.

    Returns False, having done nothing, when no worker is to be used (the caller then
    runs the function itself); exceptions raised by ``func`` are raised here.
    """
    if _WORKERS <= 1:
        return False
    _pool().submit(_run, func.__module__, func.__name__, plain(kwargs), str(log)).result()
    return True
