"""JSON HTTP APIs: each configured endpoint is an entity, captured page by page.

An endpoint's records are found at `records_path` in each response body and handed to
ingest exactly as received, one page at a time, so memory holds one page. Pages follow
the endpoint's paginator: page numbers, offset/limit, a cursor token in the body, a next
URL in the body, or the `Link: <...>; rel="next"` header. An incremental endpoint sends
the stored cursor as `cursor_param` and keeps the largest `cursor_field` it captured as
the next cursor; a `diff` endpoint is read in full and compared with its last capture by
`primary_key` (see `batchlake.capture.diff`). Requests, auth, retries and the rate
limit live in `rest.http`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from batchlake.capture import Capture, DiffSpec, EntityState, SourceBase
from batchlake.capture.rest.http import RestClient
from batchlake.errors import SourceError

if TYPE_CHECKING:
    import httpx

    from batchlake.config import (
        PaginatorSettings,
        Project,
        RestEndpointSettings,
        RestSourceSettings,
    )

Page = list[dict[str, Any]]
_MISSING: Any = object()


class RestSource(SourceBase):
    """A JSON HTTP API; `transport` lets tests answer requests without a network."""

    def __init__(
        self,
        name: str,
        settings: RestSourceSettings,
        project: Project,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.transport = transport
        self.work_dir = project.state_dir / "tmp"
        self._client: RestClient | None = None

    @property
    def client(self) -> RestClient:
        if self._client is None:
            self._client = RestClient(self.name, self.settings, transport=self.transport)
        return self._client

    def entities(self) -> list[str]:
        return list(self.settings.endpoints)

    def _endpoint(self, entity: str) -> RestEndpointSettings:
        endpoint = self.settings.endpoints.get(entity)
        if endpoint is None:
            known = ", ".join(self.settings.endpoints) or "none"
            raise SourceError(
                f"source '{self.name}' has no endpoint '{entity}' (endpoints: {known}); "
                f"add [sources.{self.name}.endpoints.{entity}] to batchlake.toml"
            )
        return endpoint

    def describe(self, entity: str) -> dict[str, str]:
        endpoint = self._endpoint(entity)
        incremental = endpoint.mode == "incremental"
        return {
            "reads": endpoint.path,
            "mode": endpoint.mode,
            "cursor": f"{endpoint.cursor_param}/{endpoint.cursor_field}" if incremental else "",
            "primary_key": ",".join(endpoint.primary_key),
            "paginator": endpoint.paginator.type,
        }

    def read(self, entity: str, state: EntityState) -> Capture:
        endpoint = self._endpoint(entity)
        params: dict[str, Any] = dict(endpoint.params)
        incremental = endpoint.mode == "incremental"
        since = (state.cursor or endpoint.initial_cursor) if incremental else None
        if since and endpoint.cursor_param:
            params[endpoint.cursor_param] = since
        capture = Capture(format="json", cursor=state.cursor)
        pages = self._pages(entity, endpoint, params)
        if incremental:
            assert endpoint.cursor_field is not None
            pages = self._tracking_cursor(pages, entity, endpoint.cursor_field, capture)
        capture.records = pages
        if endpoint.mode == "diff":
            capture.diff = DiffSpec(
                tuple(endpoint.primary_key),
                f"sources.{self.name}.endpoints.{entity}.primary_key",
                self.work_dir,
            )
        return capture

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- pages ------------------------------------------------------------------------

    def _pages(
        self, entity: str, endpoint: RestEndpointSettings, params: dict[str, Any]
    ) -> Iterator[Page]:
        """Request page after page, yielding each page's records until the last one."""
        paginator = endpoint.paginator
        url, query = endpoint.path, dict(params)
        seen: set[str] = set()  # cursor tokens and URLs already followed
        previous: str | None = None  # digest of the last page's records
        page_number, offset, count = paginator.first_page, 0, 0
        while True:
            if paginator.type == "page":
                query[paginator.page_param] = page_number
                if paginator.size_param and paginator.page_size:
                    query[paginator.size_param] = paginator.page_size
            elif paginator.type == "offset":
                query[paginator.offset_param] = offset
                query[paginator.limit_param] = paginator.limit
            response = self.client.get(entity, url, query)
            body = self._body(entity, response)
            records = self._records(entity, endpoint, body, response)
            count += 1
            if paginator.type != "none" and records:
                digest = _digest(records)
                if digest == previous:
                    raise self._same_page(entity, paginator, response)
                previous = digest
            follow = self._next(entity, paginator, body, records, response, offset, page_number)
            yield records
            if follow is None or (paginator.max_pages and count >= paginator.max_pages):
                return
            if paginator.type == "page":
                page_number += 1
            elif paginator.type == "offset":
                offset += len(records)
            elif paginator.type == "cursor":
                if follow in seen:
                    raise self._same_page(entity, paginator, response)
                seen.add(follow)
                query = {**query, paginator.cursor_param: follow}
            else:  # next_url, link_header: the URL carries every parameter
                seen.add(str(response.url))
                if follow in seen:
                    raise self._same_page(entity, paginator, response)
                seen.add(follow)
                url, query = follow, {}

    def _next(
        self,
        entity: str,
        paginator: PaginatorSettings,
        body: Any,
        records: Page,
        response: httpx.Response,
        offset: int,
        page_number: int = 0,
    ) -> str | None:
        """What leads to the next page (a token, a URL, or "" for page/offset), or None."""
        kind = paginator.type
        if kind == "none":
            return None
        if kind == "page":
            return self._next_page_number(entity, paginator, body, records, page_number)
        if kind == "offset":
            return self._next_offset(entity, paginator, body, records, offset)
        if kind == "cursor":
            return self._next_cursor(entity, paginator, body)
        if kind == "next_url":
            return self._next_url(entity, paginator, body, response)
        link = response.links.get("next", {}).get("url")  # link_header
        return str(response.url.join(link)) if link else None

    def _next_page_number(
        self, entity: str, paginator: PaginatorSettings, body: Any, records: Page, page_number: int
    ) -> str | None:
        """An empty string while a page follows `page_number`, else None."""
        if paginator.pages_path is not None:  # the body says how many pages there are
            pages = self._total(entity, paginator.pages_path, body, "pages_path")
            return None if not records or page_number >= pages else ""
        short = paginator.page_size is not None and len(records) < paginator.page_size
        return None if not records or short else ""

    def _next_offset(
        self, entity: str, paginator: PaginatorSettings, body: Any, records: Page, offset: int
    ) -> str | None:
        """An empty string while records follow this page's, else None."""
        if not records:
            return None
        if paginator.total_path is not None:
            total = self._total(entity, paginator.total_path, body)
            return None if offset + len(records) >= total else ""
        return None if len(records) < paginator.limit else ""

    def _next_cursor(self, entity: str, paginator: PaginatorSettings, body: Any) -> str | None:
        """The cursor token at `cursor_path` in the body, or None when there is none."""
        token = _lookup(body, paginator.cursor_path)
        if token is _MISSING or token is None or token == "":
            return None
        if isinstance(token, (dict, list)):
            raise SourceError(
                f"{self._where(entity)}: cursor_path '{paginator.cursor_path}' holds "
                f"{type(token).__name__}, not a token; fix sources.{self.name}."
                f"endpoints.{entity}.paginator.cursor_path"
            )
        return str(token)

    def _next_url(
        self, entity: str, paginator: PaginatorSettings, body: Any, response: httpx.Response
    ) -> str | None:
        """The next URL at `next_url_path` in the body (resolved), or None."""
        found = _lookup(body, paginator.next_url_path)
        if found is _MISSING or not found:
            return None
        if not isinstance(found, str):
            raise SourceError(
                f"{self._where(entity)}: next_url_path '{paginator.next_url_path}' holds "
                f"{type(found).__name__}, not a URL; fix sources.{self.name}."
                f"endpoints.{entity}.paginator.next_url_path"
            )
        return str(response.url.join(found))

    def _same_page(
        self, entity: str, paginator: PaginatorSettings, response: httpx.Response
    ) -> SourceError:
        param = {
            "page": f"paginator.page_param ('{paginator.page_param}')",
            "offset": f"paginator.offset_param ('{paginator.offset_param}')",
            "cursor": f"paginator.cursor_param ('{paginator.cursor_param}')",
        }.get(paginator.type, "the next link it sends")
        return SourceError(
            f"{self._where(entity)}: the API returned the same page again after "
            f"GET {self.client.show_url(response.url)}: it seems to ignore {param}; stopped "
            f"to avoid looping forever; check sources.{self.name}.endpoints.{entity}.paginator"
        )

    def _total(self, entity: str, path: str, body: Any, key: str = "total_path") -> int:
        value = self._dig(entity, body, path, key)
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise TypeError(value)
            return int(value)
        except (TypeError, ValueError):
            raise SourceError(
                f"{self._where(entity)}: total_path '{path}' holds {value!r}, not a count; "
                f"fix sources.{self.name}.endpoints.{entity}.paginator.total_path"
            ) from None

    # -- bodies and records -------------------------------------------------------------

    def _body(self, entity: str, response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return json.loads(response.content)
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise SourceError(
                f"{self._where(entity)}: GET {self.client.show_url(response.url)} answered "
                f"{response.status_code} with a body that is not JSON ({kind}): "
                f"{self.client.excerpt(response.text)}; check sources.{self.name}.base_url "
                f"and endpoints.{entity}.path"
            ) from None

    def _records(
        self, entity: str, endpoint: RestEndpointSettings, body: Any, response: httpx.Response
    ) -> Page:
        if body is None:
            return []
        path = endpoint.records_path
        found = body if path is None else self._dig(entity, body, path, "records_path")
        if found is None:
            return []
        if isinstance(found, dict):
            return [found]
        if not isinstance(found, list):
            where = f"records_path '{path}' holds" if path else "the body is"
            raise SourceError(
                f"{self._where(entity)}: {where} a {_kind(found)}, not a list of records; "
                f"set sources.{self.name}.endpoints.{entity}.records_path to the list"
            )
        for position, record in enumerate(found):
            if not isinstance(record, dict):
                raise SourceError(
                    f"{self._where(entity)}: record {position} of GET "
                    f"{self.client.show_url(response.url)} is a {_kind(record)}, not a JSON "
                    f"object; set sources.{self.name}.endpoints.{entity}.records_path to a "
                    "list of objects"
                )
        return found

    def _dig(self, entity: str, body: Any, path: str, key: str) -> Any:
        """The value at a dotted path, or a SourceError saying which keys exist there."""
        current, walked = body, list[str]()
        for part in path.split("."):
            where = f"'{'.'.join(walked)}'" if walked else "the body"
            if isinstance(current, dict):
                if part not in current:
                    keys = ", ".join(list(current)[:20]) or "none"
                    raise SourceError(
                        f"{self._where(entity)}: {key} '{path}' not found: {where} has no "
                        f"key '{part}' (keys: {keys}); fix sources.{self.name}.endpoints."
                        f"{entity}.{_setting(key)}"
                    )
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                raise SourceError(
                    f"{self._where(entity)}: {key} '{path}' not found: {where} is a "
                    f"{_kind(current)}, not an object; fix sources.{self.name}.endpoints."
                    f"{entity}.{_setting(key)}"
                )
            walked.append(part)
        return current

    def _tracking_cursor(
        self, pages: Iterator[Page], entity: str, field: str, capture: Capture
    ) -> Iterator[Page]:
        """Pass pages through, leaving the largest `field` (as text) in `capture.cursor`."""
        best: Any = None
        checked = False
        for page in pages:
            present = False
            for record in page:
                value = _lookup(record, field)
                if value is _MISSING:
                    continue
                present = True
                if value is None or isinstance(value, (dict, list)):
                    continue
                if best is None or _greater(value, best):
                    best = value
            if page and not checked:
                checked = True
                if not present:
                    keys = ", ".join(list(page[0])[:20])
                    raise SourceError(
                        f"{self._where(entity)}: cursor_field '{field}' is in no record "
                        f"(keys: {keys}); fix sources.{self.name}.endpoints.{entity}."
                        "cursor_field"
                    )
            yield page
        if best is not None:
            capture.cursor = _text(best)

    def _where(self, entity: str) -> str:
        return f"source '{self.name}', endpoint '{entity}'"


def _lookup(value: Any, path: str) -> Any:
    """The value at a dotted path (list positions allowed), or `_MISSING`."""
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _greater(value: Any, than: Any) -> bool:
    """Numbers compare as numbers, anything else as text (ISO timestamps sort as text)."""
    if _is_number(value) and _is_number(than):
        return bool(value > than)
    return _text(value) > _text(than)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _digest(records: Page) -> str:
    data = json.dumps(records, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _setting(key: str) -> str:
    return f"paginator.{key}" if key == "total_path" else key
