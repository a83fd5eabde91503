"""Per-job log files for rules that run inside the Snakemake process.

Rules call srma functions in ``run:`` blocks, which Snakemake may execute in several
threads of one process. :func:`job_log` attaches a handler to the ``srma`` logger that
only keeps records emitted by the current thread, so each job's log file holds that
job's messages and nothing else.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class _ThreadFilter(logging.Filter):
    def __init__(self, ident: int) -> None:
        super().__init__()
        self.ident = ident

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.ident


@contextmanager
def job_log(path: str | Path) -> Iterator[logging.Logger]:
    """Send this thread's ``srma`` log records to ``path`` (overwritten) while open.

    On an exception the error is written to the log before it propagates, so the
    Snakemake job's log says why the job failed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("srma")
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ThreadFilter(threading.get_ident()))
    logger.addHandler(handler)
    try:
        yield logger
    except BaseException as err:
        logger.error("%s: %s", type(err).__name__, err)
        raise
    finally:
        logger.removeHandler(handler)
        handler.close()
