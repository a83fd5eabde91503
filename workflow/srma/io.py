"""Reading and writing srma's intermediate and output tables.

Parquet files are written so that the same table gives the same bytes on every run
and whatever ``--cores`` is: no timestamps, a fixed row-group layout, fixed
compression, and the provenance (srma version, config hash) stored as file metadata.
CSV files meant for people (and spreadsheets) neutralise formula-like cells.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from srma import __version__

if TYPE_CHECKING:  # imported where used: building the DAG needs neither
    import pandas as pd
    import pyarrow as pa

#: Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _atomic_write_bytes(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename.

    A run killed half-way never leaves a truncated output behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A run killed mid-write (SIGKILL) leaves its temporary file behind; the job's
    # rerun removes it.
    for stale in path.parent.glob(f".{path.name}.*"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (mode 0644)."""
    path = Path(path)
    _atomic_write_bytes(path, lambda tmp: tmp.write_bytes(data))
    return path


def write_parquet(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    config_hash: str | None = None,
    metadata: Mapping[str, str] | None = None,
    schema: pa.Schema | None = None,
) -> Path:
    """Write ``df`` to ``path`` as Parquet, byte-identical for identical input.

    The srma version and, when given, the config hash are stored in the file's
    key-value metadata (``srma_version``, ``srma_config_hash``). ``schema`` fixes the
    column types (e.g. ``list<string>`` for a list column that is empty in every row).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False, schema=schema)
    meta = dict(table.schema.metadata or {})
    # pandas' own metadata holds its version, which is stable for one install.
    meta[b"srma_version"] = __version__.encode()
    if config_hash is not None:
        meta[b"srma_config_hash"] = config_hash.encode()
    for key, value in (metadata or {}).items():
        meta[key.encode()] = str(value).encode()
    table = table.replace_schema_metadata(dict(sorted(meta.items())))

    def _write(tmp: Path) -> None:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            use_dictionary=True,
            write_statistics=True,
            row_group_size=1 << 20,
        )

    _atomic_write_bytes(path, _write)
    return path


def read_parquet(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_parquet`."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


def parquet_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The srma key-value metadata of a Parquet file (``srma_*`` keys)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items() if k.startswith(b"srma_")}


def is_missing(value: object) -> bool:
    """True for None, NaN and pandas' missing markers (text and list-like values are
    not missing scalars)."""
    import pandas as pd

    if value is None:
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like values are not missing scalars
        return False


def typed_frame(
    rows: list[dict], columns: list[str], ints: tuple[str, ...], strings: tuple[str, ...]
) -> pd.DataFrame:
    """A table of ``rows`` with ``columns`` in the documented dtypes: ``ints`` nullable
    Int64, ``strings`` pandas string, every other column float64 (missing values as NA
    or NaN), so that an empty or partly filled table keeps its schema."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    for c in columns:
        if c in ints:
            values = [None if is_missing(v) else int(v) for v in frame[c]]
            frame[c] = pd.array(values, dtype="Int64")
        elif c in strings:
            values = [None if is_missing(v) else str(v) for v in frame[c]]
            frame[c] = pd.array(values, dtype="string")
        else:
            frame[c] = frame[c].astype("float64")
    return frame.reset_index(drop=True)


def _neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` where text cells that a spreadsheet would run as a formula
    (starting with ``= + - @``, tab or CR) are prefixed with ``'``.

    Numbers, and text that is a plain number such as ``-0.5``, are left alone.
    """
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_neutralise)
    return out


def write_csv(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    config_hash: str | None = None,
    float_format: str = "%.10g",
) -> Path:
    """Write a table for people: UTF-8, ``\\n`` line ends, formula cells neutralised.

    When ``config_hash`` is given, the columns ``srma_version`` and ``config_hash``
    are appended so that every table says what produced it.
    """
    path = Path(path)
    out = neutralise_formulas(df)
    if config_hash is not None:
        out = out.assign(srma_version=__version__, config_hash=config_hash)

    def _write(tmp: Path) -> None:
        out.to_csv(tmp, index=False, lineterminator="\n", float_format=float_format)

    _atomic_write_bytes(path, _write)
    return path


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path: str | os.PathLike) -> dict[str, str]:
    """``{"path": <path as given, with />, "sha256": <hex digest of the bytes>}``, as
    ``provenance.json`` records input files."""
    return {"path": Path(path).as_posix(), "sha256": sha256_file(path)}


def write_json(obj: object, path: str | os.PathLike) -> Path:
    """Write JSON with sorted keys and a final newline (stable bytes)."""
    path = Path(path)
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    _atomic_write_bytes(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def read_json(path: str | os.PathLike) -> object:
    """Read a JSON file written by :func:`write_json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
