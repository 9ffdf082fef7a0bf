"""A small Python client of `batchlake serve` (httpx).

from batchlake.serve.client import Client
lake = Client("http://127.0.0.1:8080", api_key="blk_...")
lake.tables()
lake.rows("refined.sales_by_day", limit=10, order_by="-total_amount", year=2024)
lake.query("SELECT year, sum(total_amount) FROM refined.sales_by_day GROUP BY 1")
run_id = lake.start_run()
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from batchlake.errors import BatchlakeError, LockError, NotFoundError, QueryError


class ClientError(BatchlakeError):
    """The server refused a request (bad key, wrong role, bad input) or is unreachable."""


_ERRORS: dict[int, type[BatchlakeError]] = {400: QueryError, 404: NotFoundError, 409: LockError}


class Client:
    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(
            base_url=url.rstrip("/") + "/api/v1",
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self.http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json().get("error") or response.text
            except ValueError:
                message = response.text[:200]
            kind = _ERRORS.get(response.status_code, ClientError)
            raise kind(f"{message} (HTTP {response.status_code})")
        return response

    @staticmethod
    def _path(table: str) -> str:
        zone, _, name = table.partition(".")
        if not name:
            raise QueryError(f"'{table}' is not a table name; write zone.table")
        return f"/tables/{zone}/{name}"

    # -- catalog -------------------------------------------------------------------------

    def tables(self, zone: str | None = None) -> list[dict[str, Any]]:
        params = {"zone": zone} if zone else {}
        found: list[dict[str, Any]] = self._call("GET", "/tables", params=params).json()
        return found

    def table(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", self._path(name)).json()
        return found

    def rows(
        self,
        name: str,
        *,
        limit: int = 100,
        offset: int = 0,
        cursor: str | None = None,
        columns: list[str] | None = None,
        order_by: str | None = None,
        as_of: str | int | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """One page: `columns`, `rows`, `total`, `next_cursor`. Filters as `col__gte=...`."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if cursor:
            params["cursor"] = cursor
        if columns:
            params["columns"] = ",".join(columns)
        if order_by:
            params["order_by"] = order_by
        if as_of is not None:
            params["as_of"] = str(as_of)
        for key, value in filters.items():
            params[key] = ",".join(map(str, value)) if isinstance(value, list | tuple) else value
        page: dict[str, Any] = self._call("GET", self._path(name) + "/rows", params=params).json()
        return page

    def iter_rows(
        self, name: str, *, page_size: int = 10_000, **kwargs: Any
    ) -> Iterator[list[Any]]:
        """Every row of a (filtered) table, page after page, on one snapshot."""
        cursor = None
        while True:
            page = self.rows(name, limit=page_size, cursor=cursor, **kwargs)
            yield from page["rows"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def query(self, sql: str, *, max_rows: int | None = None) -> dict[str, Any]:
        """`columns`, `rows`, `row_count`, `truncated`, `seconds`."""
        body: dict[str, Any] = {"sql": sql}
        if max_rows is not None:
            body["max_rows"] = max_rows
        answer: dict[str, Any] = self._call("POST", "/query", json=body).json()
        return answer

    # -- runs ----------------------------------------------------------------------------

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/runs", params={"limit": limit}).json()
        return found

    def run(self, run_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/runs/{run_id}").json()
        return found

    def start_run(self, select: list[str] | None = None, *, full_refresh: bool = False) -> str:
        body = {"select": select, "full_refresh": full_refresh}
        run_id: str = self._call("POST", "/runs", json=body).json()["run_id"]
        return run_id
