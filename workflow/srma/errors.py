"""Errors raised on bad input.

Every message names the file, the record or study, and the field, so that a reviewer
can find the problem without reading a traceback.
"""

from __future__ import annotations

from functools import partial


class SrmaError(Exception):
    """Base class of srma's input errors."""


class InputError(SrmaError):
    """A file the user supplied cannot be used as it is.

    Parameters
    ----------
    path:
        The offending file.
    message:
        What is wrong and what was expected.
    record:
        Record number (1-based) or study/record identifier, when the problem is local.
    field:
        The field, tag or key at fault, when known.
    line:
        Line number (1-based) in the file, when known.
    """

    def __init__(
        self,
        path: object,
        message: str,
        *,
        record: object | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = str(path)
        self.record = record
        self.field = field
        self.line = line
        self.message = message
        where = [self.path]
        if line is not None:
            where.append(f"line {line}")
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}")

    def __reduce__(self):
        # Rebuilt from its parts when it crosses from a worker process (srma.workers).
        kwargs = {"record": self.record, "field": self.field, "line": self.line}
        return (partial(type(self), **kwargs), (self.path, self.message))


class ConfigError(SrmaError):
    """The configuration is invalid; the message names the key."""


def decode_utf8(path: object, data: bytes, advice: str = "save the file as UTF-8") -> str:
    """The text of a file's bytes as UTF-8 (a byte-order mark dropped); a byte that is not
    UTF-8 is an :class:`InputError` naming the file, the line and the byte, with
    ``advice``."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            path,
            f"byte 0x{data[err.start]:02x} is not UTF-8; {advice}",
            line=data.count(b"\n", 0, err.start) + 1,
        ) from None
