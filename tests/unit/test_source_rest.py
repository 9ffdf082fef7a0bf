"""The REST source against fake APIs answered at the transport layer (httpx.MockTransport)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from batchlake.capture import Capture, EntityState
from batchlake.capture.rest import RestSource
from batchlake.config import Project, ProjectSettings, RestSourceSettings
from batchlake.errors import SourceError

Handler = Callable[[httpx.Request], httpx.Response]
ITEMS = [{"id": i, "name": f"item {i}"} for i in range(1, 26)]
SECRET = "s3cr3t-token-value"


class Api:
    """A fake API: answers with `handler` and keeps every request it received."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def params(self, name: str) -> list[str | None]:
        return [r.url.params.get(name) for r in self.requests]


def source(api: Api, endpoint: dict[str, Any] | None = None, **settings: Any) -> RestSource:
    """A source with one endpoint `items` (plus `settings`), answered by `api`."""
    data = {
        "type": "rest",
        "base_url": "https://api.test/v1",
        "backoff_seconds": 0,
        "max_backoff_seconds": 0,
        "endpoints": {"items": {"path": "/items", **(endpoint or {})}},
        **settings,
    }
    project = Project(Path("."), ProjectSettings())
    validated = RestSourceSettings.model_validate(data)
    return RestSource("api", validated, project, transport=httpx.MockTransport(api))


def capture(src: RestSource, state: EntityState | None = None) -> tuple[list[list[Any]], Capture]:
    result = src.read("items", state or EntityState())
    pages = [list(page) for page in result.records]
    return pages, result


def flat(pages: list[list[Any]]) -> list[Any]:
    return [record for page in pages for record in page]


def query_int(request: httpx.Request, name: str, default: int) -> int:
    return int(request.url.params.get(name, default))


# -- entities, describe, bodies ---------------------------------------------------------


def test_entities_and_describe() -> None:
    endpoint = {
        "mode": "incremental",
        "cursor_param": "since",
        "cursor_field": "meta.updated_at",
        "primary_key": ["id"],
        "paginator": {"type": "cursor"},
    }
    src = source(Api(lambda r: httpx.Response(200, json=[])), endpoint)
    assert src.entities() == ["items"]
    assert src.describe("items") == {
        "reads": "/items",
        "mode": "incremental",
        "cursor": "since/meta.updated_at",
        "primary_key": "id",
        "paginator": "cursor",
    }
    with pytest.raises(SourceError, match="no endpoint 'orders' \\(endpoints: items\\)"):
        src.read("orders", EntityState())


def test_unpaged_body_list_reaches_the_right_url_with_params() -> None:
    api = Api(lambda r: httpx.Response(200, json=ITEMS[:3]))
    pages, result = capture(source(api, {"params": {"status": "open", "deep": True}}))
    assert pages == [ITEMS[:3]] and result.format == "json"
    (request,) = api.requests
    assert request.url.path == "/v1/items"
    assert request.url.params["status"] == "open" and request.url.params["deep"] == "true"


def test_records_path_and_single_object_body() -> None:
    api = Api(lambda r: httpx.Response(200, json={"data": {"items": ITEMS[:2]}, "n": 2}))
    assert capture(source(api, {"records_path": "data.items"}))[0] == [ITEMS[:2]]
    one = Api(lambda r: httpx.Response(200, json={"id": 7, "nested": {"a": [1, 2]}}))
    assert capture(source(one))[0] == [[{"id": 7, "nested": {"a": [1, 2]}}]]


def test_records_path_errors_say_what_is_there() -> None:
    api = Api(lambda r: httpx.Response(200, json={"data": {"rows": [], "count": 0}}))
    with pytest.raises(SourceError) as missing:
        capture(source(api, {"records_path": "data.items"}))
    text = str(missing.value)
    assert "endpoint 'items'" in text and "no key 'items'" in text
    assert "keys: rows, count" in text and "records_path" in text

    scalar = Api(lambda r: httpx.Response(200, json={"data": "nothing"}))
    with pytest.raises(SourceError, match="holds a string, not a list of records"):
        capture(source(scalar, {"records_path": "data"}))

    listed = Api(lambda r: httpx.Response(200, json=[{"id": 1}, 2]))
    with pytest.raises(SourceError, match="record 1 of GET /v1/items is a int, not a JSON object"):
        capture(source(listed))

    html = Api(lambda r: httpx.Response(200, text="<html>Login page</html>"))
    with pytest.raises(SourceError, match=r"not JSON .*<html>Login page</html>"):
        capture(source(html))


# -- pagination -------------------------------------------------------------------------


def page_api(items: list[dict[str, Any]], *, default_size: int = 10) -> Api:
    def handler(request: httpx.Request) -> httpx.Response:
        page = query_int(request, "page", 1)
        size = query_int(request, "per_page", default_size)
        return httpx.Response(200, json={"results": items[(page - 1) * size : page * size]})

    return Api(handler)


def test_page_numbers_stop_at_a_short_page() -> None:
    api = page_api(ITEMS)
    paginator = {"type": "page", "size_param": "per_page", "page_size": 10}
    pages, _ = capture(source(api, {"records_path": "results", "paginator": paginator}))
    assert [len(p) for p in pages] == [10, 10, 5] and flat(pages) == ITEMS
    assert api.params("page") == ["1", "2", "3"] and api.params("per_page") == ["10"] * 3


def test_page_numbers_without_size_stop_at_an_empty_page() -> None:
    api = page_api(ITEMS[:20])
    paginator = {"type": "page", "page_param": "page", "first_page": 1}
    pages, _ = capture(source(api, {"records_path": "results", "paginator": paginator}))
    assert flat(pages) == ITEMS[:20]
    assert api.params("page") == ["1", "2", "3"]


def test_page_numbers_from_zero_and_max_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = query_int(request, "p", -1)
        return httpx.Response(200, json=ITEMS[page * 5 : (page + 1) * 5])

    api = Api(handler)
    paginator = {"type": "page", "page_param": "p", "first_page": 0, "max_pages": 2}
    pages, _ = capture(source(api, {"paginator": paginator}))
    assert flat(pages) == ITEMS[:10] and api.params("p") == ["0", "1"]


def offset_api(items: list[dict[str, Any]], *, with_total: bool) -> Api:
    def handler(request: httpx.Request) -> httpx.Response:
        offset = query_int(request, "skip", 0)
        limit = query_int(request, "take", 100)
        body: dict[str, Any] = {"rows": items[offset : offset + limit]}
        if with_total:
            body["meta"] = {"total": len(items)}
        return httpx.Response(200, json=body)

    return Api(handler)


def test_offset_stops_at_the_total() -> None:
    api = offset_api(ITEMS[:20], with_total=True)
    paginator = {
        "type": "offset",
        "offset_param": "skip",
        "limit_param": "take",
        "limit": 10,
        "total_path": "meta.total",
    }
    pages, _ = capture(source(api, {"records_path": "rows", "paginator": paginator}))
    assert flat(pages) == ITEMS[:20]
    assert api.params("skip") == ["0", "10"]  # no third request: offset reached the total
    assert api.params("take") == ["10", "10"]


def test_offset_without_total_stops_at_a_short_or_empty_page() -> None:
    paginator = {"type": "offset", "offset_param": "skip", "limit_param": "take", "limit": 10}
    short = offset_api(ITEMS, with_total=False)
    pages, _ = capture(source(short, {"records_path": "rows", "paginator": paginator}))
    assert flat(pages) == ITEMS and short.params("skip") == ["0", "10", "20"]
    exact = offset_api(ITEMS[:20], with_total=False)
    pages, _ = capture(source(exact, {"records_path": "rows", "paginator": paginator}))
    assert flat(pages) == ITEMS[:20] and exact.params("skip") == ["0", "10", "20"]


def test_offset_total_path_missing_is_an_error() -> None:
    api = offset_api(ITEMS, with_total=False)
    paginator = {"type": "offset", "total_path": "meta.total"}
    with pytest.raises(SourceError, match=r"total_path 'meta.total' not found.*keys: rows"):
        capture(source(api, {"records_path": "rows", "paginator": paginator}))


def test_cursor_tokens_in_the_body() -> None:
    tokens = {None: ("a1", ITEMS[:10]), "a1": ("b2", ITEMS[10:20]), "b2": (None, ITEMS[20:])}

    def handler(request: httpx.Request) -> httpx.Response:
        following, records = tokens[request.url.params.get("after")]
        return httpx.Response(200, json={"data": records, "paging": {"next": following}})

    api = Api(handler)
    paginator = {"type": "cursor", "cursor_param": "after", "cursor_path": "paging.next"}
    pages, _ = capture(source(api, {"records_path": "data", "paginator": paginator}))
    assert flat(pages) == ITEMS and api.params("after") == [None, "a1", "b2"]


@pytest.mark.parametrize("last", [{}, {"next_cursor": ""}, {"next_cursor": None}])
def test_cursor_missing_or_empty_ends_the_capture(last: dict[str, Any]) -> None:
    api = Api(lambda r: httpx.Response(200, json={"items": ITEMS[:2], **last}))
    pages, _ = capture(source(api, {"records_path": "items", "paginator": {"type": "cursor"}}))
    assert flat(pages) == ITEMS[:2] and len(api.requests) == 1


def test_next_url_absolute_and_relative() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = query_int(request, "page", 1)
        following = {
            1: "https://api.test/v1/items?page=2",  # absolute
            2: "/v1/items?page=3",  # relative to the host
            3: "items?page=4",  # relative to the current path
            4: None,
        }[page]
        return httpx.Response(200, json={"results": [ITEMS[page]], "next": following})

    api = Api(handler)
    endpoint = {"records_path": "results", "params": {"page": 1}, "paginator": {"type": "next_url"}}
    pages, _ = capture(source(api, endpoint))
    assert flat(pages) == ITEMS[1:5]
    assert [str(r.url) for r in api.requests][1:] == [
        f"https://api.test/v1/items?page={n}" for n in (2, 3, 4)
    ]


def test_link_header() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = query_int(request, "page", 1)
        links = [f'<https://api.test/v1/items?page={page + 1}>; rel="next"'] if page < 3 else []
        links.append('</v1/items?page=3>; rel="last"')
        return httpx.Response(200, json=[ITEMS[page]], headers={"Link": ", ".join(links)})

    api = Api(handler)
    pages, _ = capture(source(api, {"paginator": {"type": "link_header"}}))
    assert flat(pages) == ITEMS[1:4] and api.params("page") == [None, "2", "3"]


def test_pages_stream_one_request_at_a_time() -> None:
    api = page_api(ITEMS)
    paginator = {"type": "page", "size_param": "per_page", "page_size": 5}
    result = source(api, {"records_path": "results", "paginator": paginator}).read(
        "items", EntityState()
    )
    assert api.requests == []  # nothing is requested before the capture is consumed
    pages = iter(result.records)
    assert next(pages) == ITEMS[:5] and len(api.requests) == 1
    assert next(pages) == ITEMS[5:10] and len(api.requests) == 2


@pytest.mark.parametrize(
    ("paginator", "body"),
    [
        ({"type": "cursor"}, {"items": ITEMS[:2], "next_cursor": "same"}),
        ({"type": "next_url"}, {"items": ITEMS[:2], "next": "/v1/items?page=2"}),
        ({"type": "page"}, {"items": ITEMS[:2]}),  # ignores the page parameter
        ({"type": "offset", "limit": 2}, {"items": ITEMS[:2]}),
    ],
)
def test_the_same_page_forever_is_stopped(paginator: dict[str, Any], body: dict[str, Any]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if len(api.requests) > 5:
            raise AssertionError("the source kept requesting the same page")
        return httpx.Response(200, json=body)

    api = Api(handler)
    with pytest.raises(SourceError, match="endpoint 'items': the API returned the same page"):
        capture(source(api, {"records_path": "items", "paginator": paginator}))
    assert len(api.requests) <= 3


def test_link_header_pointing_back_is_stopped() -> None:
    api = Api(
        lambda r: httpx.Response(200, json=[ITEMS[0]], headers={"Link": '</v1/items>; rel="next"'})
    )
    with pytest.raises(SourceError, match=r"endpoint 'items'.*same page"):
        capture(source(api, {"paginator": {"type": "link_header"}}))


def test_new_links_to_the_same_records_are_stopped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if len(api.requests) > 5:
            raise AssertionError("the source kept following links to the same page")
        page = query_int(request, "page", 1)
        link = f'</v1/items?page={page + 1}>; rel="next"'  # a new link, the same records
        return httpx.Response(200, json=ITEMS[:3], headers={"Link": link})

    api = Api(handler)
    with pytest.raises(SourceError, match="same page again after GET /v1/items\\?page=2"):
        capture(source(api, {"paginator": {"type": "link_header"}}))
    assert len(api.requests) == 2


# -- auth -------------------------------------------------------------------------------


def test_bearer_token_header() -> None:
    api = Api(lambda r: httpx.Response(200, json=[]))
    capture(source(api, auth={"type": "bearer", "token": SECRET}))
    assert api.requests[0].headers["Authorization"] == f"Bearer {SECRET}"


def test_api_key_in_a_header_or_the_query() -> None:
    header = Api(lambda r: httpx.Response(200, json=[]))
    capture(source(header, auth={"type": "api_key", "key": SECRET, "name": "X-Key"}))
    assert header.requests[0].headers["X-Key"] == SECRET
    assert "api_key" not in header.requests[0].url.params

    query = Api(lambda r: httpx.Response(200, json={"items": [ITEMS[0]], "next": "?page=2"}))
    auth = {"type": "api_key", "key": SECRET, "name": "api_key", "location": "query"}
    with pytest.raises(SourceError):  # the next URL is followed with the key too, then loops
        capture(
            source(query, {"records_path": "items", "paginator": {"type": "next_url"}}, auth=auth)
        )
    assert [r.url.params["api_key"] for r in query.requests] == [SECRET] * len(query.requests)
    assert len(query.requests) >= 2


def test_basic_auth() -> None:
    api = Api(lambda r: httpx.Response(200, json=[]))
    capture(source(api, auth={"type": "basic", "username": "ana", "password": SECRET}))
    expected = base64.b64encode(f"ana:{SECRET}".encode()).decode()
    assert api.requests[0].headers["Authorization"] == f"Basic {expected}"


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "bearer", "token": SECRET},
        {"type": "api_key", "key": SECRET, "location": "query", "name": "key"},
        {"type": "basic", "username": "ana", "password": SECRET},
    ],
)
def test_rejected_credentials_are_explained_without_the_secret(auth: dict[str, Any]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # A careless API echoes what it received.
        echoed = f"invalid credentials {request.headers.get('Authorization')} {request.url}"
        return httpx.Response(401, text=echoed)

    api = Api(handler)
    with pytest.raises(SourceError) as error:
        capture(source(api, auth=auth))
    text = str(error.value)
    assert "endpoint 'items'" in text and "401" in text and "sources.api.auth" in text
    assert "invalid credentials" in text and "***" in text
    assert SECRET not in text and base64.b64encode(f"ana:{SECRET}".encode()).decode() not in text
    assert len(api.requests) == 1  # a 401 is not retried


def test_auth_settings_need_their_secret() -> None:
    with pytest.raises(ValidationError, match="auth type 'bearer' needs token"):
        RestSourceSettings.model_validate(
            {"type": "rest", "base_url": "https://x", "auth": {"type": "bearer"}}
        )
    with pytest.raises(ValidationError, match="not an http"):
        RestSourceSettings.model_validate({"type": "rest", "base_url": "api.example.com"})


# -- failures and retries ---------------------------------------------------------------


def scripted(*answers: int | type[Exception], then: Handler) -> Api:
    """Answer with each status (or raise each transport error) once, then with `then`."""
    remaining = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        if remaining:
            answer = remaining.pop(0)
            if isinstance(answer, int):
                headers = {"Retry-After": "0"} if answer == 429 else {}
                return httpx.Response(answer, text="busy", headers=headers)
            raise answer("simulated", request=request)  # type: ignore[call-arg]
        return then(request)

    return Api(handler)


def test_retries_5xx_429_and_transport_errors_then_succeeds() -> None:
    api = scripted(
        500,
        429,
        httpx.ReadTimeout,
        httpx.ConnectError,
        httpx.RemoteProtocolError,
        503,
        then=lambda r: httpx.Response(200, json=ITEMS[:3]),
    )
    pages, _ = capture(source(api, max_retries=6))
    assert pages == [ITEMS[:3]] and len(api.requests) == 7


def test_retries_are_exhausted_with_a_clear_error() -> None:
    api = Api(lambda r: httpx.Response(503, text="maintenance"))
    with pytest.raises(SourceError) as error:
        capture(source(api, max_retries=2))
    text = str(error.value)
    assert "endpoint 'items'" in text and "failed 3 time(s)" in text
    assert "503 Service Unavailable (maintenance)" in text and "max_retries" in text
    assert len(api.requests) == 3


def test_timeouts_exhaust_retries_too() -> None:
    api = scripted(*[httpx.ReadTimeout] * 5, then=lambda r: httpx.Response(200, json=[]))
    with pytest.raises(SourceError, match="failed 2 time\\(s\\), last with ReadTimeout"):
        capture(source(api, max_retries=1))


def test_retry_after_is_honoured_and_capped() -> None:
    def limited(delay: str) -> Api:
        state = {"calls": 0}

        def handler(request: httpx.Request) -> httpx.Response:
            state["calls"] += 1
            if state["calls"] == 1:
                return httpx.Response(429, headers={"Retry-After": delay})
            return httpx.Response(200, json=[])

        return Api(handler)

    clock = time.perf_counter()
    capture(source(limited("1"), max_backoff_seconds=0.2))
    assert 0.15 <= time.perf_counter() - clock < 0.9  # waited, but no more than the cap

    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    clock = time.perf_counter()
    capture(source(limited(later), max_backoff_seconds=0.2))
    assert 0.15 <= time.perf_counter() - clock < 0.9


def test_backoff_is_capped() -> None:
    api = scripted(500, 500, 500, then=lambda r: httpx.Response(200, json=[]))
    clock = time.perf_counter()
    capture(source(api, backoff_seconds=30, max_backoff_seconds=0.02))
    assert time.perf_counter() - clock < 1 and len(api.requests) == 4


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (404, "check sources.api.endpoints.items.path and sources.api.base_url"),
        (403, "check sources.api.auth"),
        (400, "check sources.api.endpoints.items.params"),
    ],
)
def test_client_errors_are_not_retried(status: int, hint: str) -> None:
    api = Api(lambda r: httpx.Response(status, json={"error": "no such thing " + "x" * 500}))
    with pytest.raises(SourceError) as error:
        capture(source(api, max_retries=5))
    text = str(error.value)
    assert f"source 'api', endpoint 'items': GET /v1/items answered {status}" in text
    assert '{"error":"no such thing' in text and hint in text
    assert len(text) < 600  # a short excerpt of the body, not all of it
    assert len(api.requests) == 1


# -- incremental ------------------------------------------------------------------------

EVENTS: list[dict[str, Any]] = [
    {"id": 1, "meta": {"updated_at": "2024-01-02T10:00:00Z"}, "seq": 9},
    {"id": 2, "meta": {"updated_at": "2024-03-01T08:00:00Z"}, "seq": 10},
    {"id": 3, "meta": {"updated_at": "2024-02-15T23:59:59Z"}, "seq": 2},
]


def events_api() -> Api:
    def handler(request: httpx.Request) -> httpx.Response:
        since = request.url.params.get("since")
        rows = [e for e in EVENTS if since is None or e["meta"]["updated_at"] > since]
        return httpx.Response(200, json={"events": rows})

    return Api(handler)


def test_incremental_sends_the_stored_cursor_and_keeps_the_max() -> None:
    api = events_api()
    endpoint = {
        "records_path": "events",
        "mode": "incremental",
        "cursor_param": "since",
        "cursor_field": "meta.updated_at",
    }
    src = source(api, endpoint)
    pages, first = capture(src)
    assert flat(pages) == EVENTS and first.cursor == "2024-03-01T08:00:00Z"
    pages, second = capture(src, EntityState(cursor=first.cursor))
    assert flat(pages) == [] and second.cursor == first.cursor  # nothing new: cursor kept
    assert api.params("since") == [None, "2024-03-01T08:00:00Z"]


def test_incremental_initial_cursor_and_numeric_max() -> None:
    api = Api(lambda r: httpx.Response(200, json=EVENTS))
    endpoint = {
        "mode": "incremental",
        "cursor_param": "after_seq",
        "cursor_field": "seq",
        "initial_cursor": "0",
    }
    _, result = capture(source(api, endpoint))
    assert result.cursor == "10"  # 10 > 9 as numbers, not as text
    assert api.params("after_seq") == ["0"]


def test_incremental_cursor_field_absent_is_an_error() -> None:
    api = Api(lambda r: httpx.Response(200, json=EVENTS))
    endpoint = {"mode": "incremental", "cursor_param": "since", "cursor_field": "updated_at"}
    with pytest.raises(SourceError, match=r"cursor_field 'updated_at' is in no record.*keys: id"):
        capture(source(api, endpoint))


# -- rate limit and client lifecycle ----------------------------------------------------


def test_requests_per_second_spaces_requests() -> None:
    api = page_api(ITEMS)
    paginator = {"type": "page", "size_param": "per_page", "page_size": 5}
    src = source(api, {"records_path": "results", "paginator": paginator}, requests_per_second=25)
    clock = time.perf_counter()
    pages, _ = capture(src)
    elapsed = time.perf_counter() - clock
    assert len(api.requests) == 6 and flat(pages) == ITEMS
    assert elapsed >= (6 - 1) / 25 * 0.8


def test_close_closes_the_client_and_a_new_read_reopens_it() -> None:
    api = Api(lambda r: httpx.Response(200, json=[{"a": 1}]))
    src = source(api)
    capture(src)
    client = src.client
    src.close()
    assert client._client.is_closed
    assert capture(src)[0] == [[{"a": 1}]]
    src.close()
    src.close()  # closing twice is harmless


def test_user_agent_and_configured_headers() -> None:
    api = Api(lambda r: httpx.Response(200, json=json.loads("[]")))
    capture(source(api, headers={"X-Tenant": "acme"}))
    headers = api.requests[0].headers
    assert headers["X-Tenant"] == "acme" and headers["User-Agent"].startswith("batchlake/")


def test_page_paginator_stops_at_the_page_count_in_the_body() -> None:
    """World Bank style: [{"page": n, "pages": N}, [records]] — never asks for page N + 1."""
    asked: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        asked.append(page)
        if page > 2:
            return httpx.Response(200, json=[{"page": page, "pages": 2}])
        return httpx.Response(
            200, json=[{"page": page, "pages": 2}, ITEMS[2 * page - 2 : 2 * page]]
        )

    endpoint = {
        "records_path": "1",
        "paginator": {
            "type": "page",
            "pages_path": "0.pages",
            "size_param": "per_page",
            "page_size": 2,
        },
    }
    pages, _ = capture(source(Api(handler), endpoint))
    assert asked == [1, 2] and flat(pages) == ITEMS[:4]
