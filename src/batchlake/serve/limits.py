"""The limits of `POST /query`, the errors that say which one was hit, and their statuses.

| status | limit        | raised by                                                  |
|--------|--------------|------------------------------------------------------------|
| 400    | -            | refused by the allow-list, malformed SQL, a DuckDB error   |
| 408    | `time`       | `[serve] query_timeout_seconds` (parsing and running)      |
| 413    | `sql_bytes`  | more than `MAX_SQL_BYTES` of SQL (fixed)                   |
| 413    | `memory`     | `[serve] memory_limit` (per query worker)                  |
| 413    | `result`     | a result larger than a quarter of `[serve] memory_limit`   |
| 429    | `workers`    | every query worker busy for half the time limit            |
| 500    | -            | a query worker could not start or failed (logged)          |

The JSON error body carries the limit's name in `limit`, so clients need not read the text.
"""

from __future__ import annotations

import re

from batchlake.errors import BatchlakeError, ConfigError, QueryError

MAX_SQL_BYTES = 64 * 1024  # checked before parsing; real queries are a few KB at most


class LimitError(QueryError):
    """A query stopped by one of the server's limits (its `limit` names which)."""

    status = 400
    limit = ""


class QueryTimeout(LimitError):
    status = 408
    limit = "time"


class QueryTooLarge(LimitError):
    status = 413
    limit = "sql_bytes"


class QueryOutOfMemory(LimitError):
    status = 413
    limit = "memory"


class ResultTooLarge(LimitError):
    status = 413
    limit = "result"


class WorkersBusy(LimitError):
    status = 429
    limit = "workers"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkerError(BatchlakeError):
    """A query worker failed or could not start: the server's fault, logged, a 500."""

    status = 500


def timeout_error(seconds: float, what: str = "the query ran") -> QueryTimeout:
    return QueryTimeout(
        f"{what} longer than {seconds:g} s ([serve] query_timeout_seconds) and was stopped; "
        "narrow it (filters, LIMIT, fewer joins) or raise that setting"
    )


def memory_error(memory_limit: str) -> QueryOutOfMemory:
    return QueryOutOfMemory(
        f"the query needed more memory than its {memory_limit} budget ([serve] memory_limit) "
        "and was stopped; aggregate or filter earlier, or raise that setting"
    )


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt])(i?)b\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of a DuckDB memory setting: KB, MB, GB, TB are powers of 1000, KiB… of 1024."""
    found = _SIZE.match(text)
    if not found:
        raise ConfigError(
            f"[serve] memory_limit = '{text}' is not a size DuckDB reads; "
            "write it like '1GB', '512MB' or '2GiB'"
        )
    base = 1024 if found.group(3) else 1000
    return int(float(found.group(1)) * base ** ("kmgt".index(found.group(2).lower()) + 1))


def check_text(sql: str) -> str:
    """The SQL if its size and encoding allow parsing it; cheap, before any parse."""
    if len(sql) > MAX_SQL_BYTES:  # characters ≤ bytes: refuse without encoding it
        raise _too_large(len(sql.encode("utf-8", "replace")))
    try:
        size = len(sql.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise QueryError(
            f"query refused: the SQL holds a character that is not valid Unicode text "
            f"(a lone surrogate, {sql[exc.start]!a}, at character {exc.start}); "
            "send UTF-8 text"
        ) from None
    if size > MAX_SQL_BYTES:
        raise _too_large(size)
    if "\x00" in sql:  # DuckDB would read the SQL only up to it: not what was checked
        raise QueryError(
            f"query refused: the SQL holds a NUL character (at character {sql.index(chr(0))}); "
            "remove it"
        )
    return sql


def _too_large(size: int) -> QueryTooLarge:
    return QueryTooLarge(
        f"the SQL is {size:,} bytes; this server accepts at most {MAX_SQL_BYTES:,} bytes "
        "(a fixed limit): shorten it, e.g. move long value lists into a table"
    )
