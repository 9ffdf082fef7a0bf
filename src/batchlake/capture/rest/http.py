"""The HTTP side of the REST source: one client, auth, retries, rate limit, clear errors.

Every request goes through `RestClient.get`, which waits for the rate limit, retries
what is worth retrying (connection errors, timeouts, 5xx, 429) with exponential backoff
and full jitter or the server's `Retry-After`, and turns everything else into a
`SourceError` that names the endpoint and the likely fix. Secrets (tokens, keys,
passwords) are scrubbed from every message, and URLs are shown without them.
"""

from __future__ import annotations

import base64
import random
import re
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from batchlake import __version__
from batchlake.errors import SourceError

if TYPE_CHECKING:
    from batchlake.config import RestSourceSettings

# Statuses worth another attempt: the server is overloaded, restarting or rate limiting.
_RETRY_STATUSES = {429, 500, 502, 503, 504}
# Transport failures worth another attempt (refused or dropped connections, timeouts).
_RETRY_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# Headers whose values are treated as secrets in messages.
_SECRET_HEADER = re.compile(r"auth|token|key|secret|cookie|session|password", re.IGNORECASE)
_EXCERPT_CHARS = 200


class RestClient:
    """One `httpx.Client` for a source, with its auth, retries and rate limit."""

    def __init__(
        self,
        source: str,
        settings: RestSourceSettings,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.source = source
        self.settings = settings
        auth = settings.auth
        headers = {"User-Agent": f"batchlake/{__version__}", "Accept": "application/json"}
        headers.update(settings.headers)
        self._query: dict[str, str] = {}
        basic: httpx.BasicAuth | None = None
        self._secrets = [v for k, v in settings.headers.items() if _SECRET_HEADER.search(k)]
        if auth.type == "bearer" and auth.token:
            headers["Authorization"] = f"Bearer {auth.token}"
            self._secrets.append(auth.token)
        elif auth.type == "api_key" and auth.key:
            if auth.location == "header":
                headers[auth.name] = auth.key
            else:
                self._query[auth.name] = auth.key
            self._secrets.append(auth.key)
        elif auth.type == "basic" and auth.username:
            password = auth.password or ""
            basic = httpx.BasicAuth(auth.username, password)
            token = base64.b64encode(f"{auth.username}:{password}".encode()).decode()
            self._secrets += [password, token]
        self._secrets = sorted({s for s in self._secrets if s}, key=len, reverse=True)
        self._client = httpx.Client(
            base_url=settings.base_url.rstrip("/") + "/",
            headers=headers,
            auth=basic,
            timeout=settings.timeout_seconds,
            follow_redirects=True,
            transport=transport,
        )
        self._next_request_at = 0.0

    def get(self, entity: str, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """A successful response for GET `url` (relative to base_url, or absolute).

        Raises `SourceError` on a non-retryable status or once retries are exhausted.
        """
        settings = self.settings
        query = {**(params or {}), **self._query}
        attempts = settings.max_retries + 1
        problem = ""
        shown = url
        for attempt in range(attempts):
            self._wait_for_rate_limit()
            # Merged by hand: httpx replaces a URL's own query (a next link's) with `params`.
            target = self._client.build_request("GET", url).url.copy_merge_params(query)
            request = self._client.build_request("GET", target)
            shown = self.show_url(request.url)
            retry_after: float | None = None
            try:
                response = self._client.send(request)
            except _RETRY_ERRORS as exc:
                problem = f"{type(exc).__name__}: {self.scrub(str(exc)) or 'no detail'}"
            except httpx.HTTPError as exc:
                raise SourceError(
                    f"{self._where(entity)}: GET {shown} failed: {type(exc).__name__}: "
                    f"{self.scrub(str(exc))}; check sources.{self.source}.base_url "
                    f"and endpoints.{entity}.path"
                ) from None
            else:
                if response.is_success:
                    return response
                if response.status_code not in _RETRY_STATUSES:
                    raise SourceError(self._status_message(entity, shown, response))
                problem = f"{response.status_code} {response.reason_phrase}"
                excerpt = self.excerpt(response.text)
                if excerpt:
                    problem += f" ({excerpt})"
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt + 1 < attempts:
                time.sleep(self._backoff(attempt, retry_after))
        raise SourceError(
            f"{self._where(entity)}: GET {shown} failed {attempts} time(s), last with "
            f"{problem}; the API is unreachable, failing or rate limiting: try again later, "
            f"or raise sources.{self.source}.max_retries / timeout_seconds"
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = self.settings.max_backoff_seconds
        if retry_after is not None:
            return min(retry_after, cap)
        return random.uniform(0, min(cap, self.settings.backoff_seconds * 2**attempt))

    def _wait_for_rate_limit(self) -> None:
        rate = self.settings.requests_per_second
        if rate is None:
            return
        now = time.monotonic()
        if self._next_request_at > now:
            time.sleep(self._next_request_at - now)
            now = self._next_request_at
        self._next_request_at = now + 1 / rate

    def _where(self, entity: str) -> str:
        return f"source '{self.source}', endpoint '{entity}'"

    def _status_message(self, entity: str, shown: str, response: httpx.Response) -> str:
        status = response.status_code
        endpoint = f"sources.{self.source}.endpoints.{entity}"
        if status in (401, 403):
            hint = (
                f"check sources.{self.source}.auth (type '{self.settings.auth.type}') and the "
                "environment variable it reads; the credentials are missing, wrong or "
                "lack access"
            )
        elif status in (404, 410):
            hint = f"check {endpoint}.path and sources.{self.source}.base_url"
        elif status in (400, 422):
            hint = f"check {endpoint}.params, its paginator and cursor parameters"
        elif status == 405:
            hint = f"check {endpoint}.path: it does not answer GET"
        else:
            hint = "see the API's documentation for this status"
        excerpt = self.excerpt(response.text)
        body = f": {excerpt}" if excerpt else ""
        return (
            f"{self._where(entity)}: GET {shown} answered {status} "
            f"{response.reason_phrase}{body}; {hint}"
        )

    def show_url(self, url: httpx.URL) -> str:
        """The URL's path and query for messages, without the API key parameter."""
        params = [(k, v) for k, v in url.params.multi_items() if k not in self._query]
        query = "&".join(f"{k}={v}" for k, v in params)
        return self.scrub(url.path + (f"?{query}" if query else ""))

    def excerpt(self, text: str) -> str:
        """The start of a body, on one line, secrets removed."""
        flat = " ".join(text.split())
        if len(flat) > _EXCERPT_CHARS:
            flat = flat[:_EXCERPT_CHARS] + "…"
        return self.scrub(flat)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        self._client.close()


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
