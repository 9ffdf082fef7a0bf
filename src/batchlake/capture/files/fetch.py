"""Getting a capture's files, and knowing from validators when nothing changed.

Local paths and globs are read in place; s3:// objects (fsspec) and http(s):// URLs
(httpx) are streamed to temporary files while their sha256 is computed. Validators kept
between captures: for every file its size, version (mtime, or ETag / Last-Modified on
S3) and sha256; for URLs the ETag and Last-Modified, sent back as `If-None-Match` /
`If-Modified-Since`; and a key of the entity's options, since changing them (a type
override, say) must re-read an unchanged file.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from batchlake.capture import redact_url
from batchlake.errors import ConfigError, SourceError

if TYPE_CHECKING:
    import httpx

_GLOB = re.compile(r"[*?\[]")
_CHUNK = 1 << 20


@dataclass
class Located:
    """One file to read: a local path (maybe a temporary copy) and its name for users."""

    path: str
    name: str
    content_type: str | None = None
    temporary: bool = False


@dataclass
class Fetched:
    files: list[Located] = field(default_factory=list)
    validators: dict[str, str] = field(default_factory=dict)
    unchanged: bool = False
    note: str | None = None


@dataclass
class _Entry:
    key: str  # the file's name in the validators
    size: int
    version: str
    path: str  # local path, or the path within a remote filesystem


def has_glob(location: str) -> bool:
    return bool(_GLOB.search(location))


def sha256_of(stream: IO[bytes], copy_to: IO[bytes] | None = None) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return digest.hexdigest()


def _combined(files: dict[str, list[Any]]) -> str:
    if len(files) == 1:
        return str(next(iter(files.values()))[2])
    lines = "".join(f"{name}\t{entry[2]}\n" for name, entry in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def _decide(
    entries: list[_Entry],
    validators: dict[str, str],
    options_key: str,
    digest: Callable[[_Entry], str],
) -> tuple[bool, str | None, dict[str, str]]:
    """Whether the files are the ones of the last capture; the new validators."""
    try:
        stored = json.loads(validators.get("files") or "{}")
    except ValueError:
        stored = {}
    same_options = validators.get("options") == options_key
    current: dict[str, list[Any]] = {}
    for entry in entries:
        old = stored.get(entry.key)
        same = old and old[0] == entry.size and old[1] == entry.version
        sha = old[2] if same else digest(entry)  # same size and version: trust the old hash
        current[entry.key] = [entry.size, entry.version, sha]
    new = {"sha256": _combined(current), "files": json.dumps(current), "options": options_key}
    if same_options and current == stored:
        return True, "files unchanged since the last capture (same size and version)", new
    if same_options and new["sha256"] == validators.get("sha256"):
        return True, "same content as the last capture (sha256)", new
    return False, None, new


def fetch_local(
    location: str, root: Path, validators: dict[str, str], options_key: str, key: str
) -> Fetched:
    """Files of a local path or glob, read in place."""
    if has_glob(location):
        paths = sorted(p for p in glob.glob(location, recursive=True) if os.path.isfile(p))
        if not paths:
            raise SourceError(
                f"no file matches {location}; fix {key} (relative paths start at the "
                "project folder)"
            )
    elif os.path.isdir(location):
        raise SourceError(f"{location} is a folder; set {key} to a file or a glob such as */*.csv")
    elif not os.path.isfile(location):
        raise SourceError(
            f"file {location} does not exist; fix {key} (relative paths start at the "
            "project folder)"
        )
    else:
        paths = [location]
    entries = []
    for path in paths:
        stat = os.stat(path)
        try:
            name = Path(path).resolve().relative_to(root).as_posix()
        except ValueError:
            name = path
        entries.append(_Entry(name, stat.st_size, str(stat.st_mtime_ns), path))

    def digest(entry: _Entry) -> str:
        with open(entry.path, "rb") as stream:
            return sha256_of(stream)

    unchanged, note, new = _decide(entries, validators, options_key, digest)
    files = [] if unchanged else [Located(p, p) for p in paths]
    return Fetched(files, new, unchanged, note)


def open_filesystem(url: str, storage_options: dict[str, str]) -> Any:
    """An fsspec filesystem for a URL's scheme (s3:// needs the s3 extra)."""
    import fsspec

    scheme = url.split("://", 1)[0]
    try:
        return fsspec.filesystem(scheme, **storage_options)
    except ImportError as exc:
        raise ConfigError(
            f"reading {scheme}:// files needs a package that is not installed ({exc}); "
            "run pip install 'batchlake[s3]'"
        ) from None


def fetch_remote(
    fs: Any,
    url: str,
    scratch: Path,
    validators: dict[str, str],
    options_key: str,
    key: str,
) -> Fetched:
    """Objects of an fsspec URL or glob, downloaded to temporary files when changed."""
    path = url.split("://", 1)[1]
    paths = sorted(fs.glob(path)) if has_glob(path) else [path] if fs.isfile(path) else []
    if not paths:
        raise SourceError(f"no file matches {url}; fix {key}")
    entries = []
    for found in paths:
        info = fs.info(found)
        version = next(
            (str(info[k]) for k in ("ETag", "LastModified", "mtime", "created") if info.get(k)),
            "",
        )
        entries.append(_Entry(fs.unstrip_protocol(found), int(info["size"]), version, found))
    copies: dict[str, str] = {}

    def download(entry: _Entry) -> str:
        handle, copy = tempfile.mkstemp(dir=scratch, prefix="object-")
        copies[entry.key] = copy
        with fs.open(entry.path, "rb") as stream, open(handle, "wb") as target:
            return sha256_of(stream, target)

    try:
        unchanged, note, new = _decide(entries, validators, options_key, download)
        if unchanged:
            for copy in copies.values():
                Path(copy).unlink(missing_ok=True)
            return Fetched([], new, True, note)
        for entry in entries:
            if entry.key not in copies:
                download(entry)
    except BaseException:
        for copy in copies.values():
            Path(copy).unlink(missing_ok=True)
        raise
    files = [Located(copies[e.key], e.key, temporary=True) for e in entries]
    return Fetched(files, new, False, None)


def fetch_http(
    client: httpx.Client,
    url: str,
    scratch: Path,
    validators: dict[str, str],
    options_key: str,
    key: str,
    *,
    retries: int,
    backoff: float,
) -> Fetched:
    """GET a URL into a temporary file; conditional when the last capture left validators."""
    import httpx

    headers = {}
    previous = validators.get("options") == options_key and "sha256" in validators
    if previous and validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if previous and validators.get("last_modified"):
        headers["If-Modified-Since"] = validators["last_modified"]
    shown = redact_url(url)
    problem = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    kept = dict(validators)
                    kept.update(_http_validators(response))
                    return Fetched([], kept, True, "not modified (HTTP 304)")
                if response.status_code >= 500 or response.status_code == 429:
                    problem = f"answered {response.status_code} {response.reason_phrase}"
                    continue
                if response.status_code >= 400:
                    raise SourceError(
                        f"GET {shown} answered {response.status_code} "
                        f"{response.reason_phrase}; check {key}"
                    )
                return _download(response, url, scratch, validators, options_key)
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}"
    raise SourceError(f"GET {shown} failed after {retries + 1} attempt(s): {problem}")


def _http_validators(response: httpx.Response) -> dict[str, str]:
    found = {}
    if response.headers.get("etag"):
        found["etag"] = response.headers["etag"]
    if response.headers.get("last-modified"):
        found["last_modified"] = response.headers["last-modified"]
    return found


def _download(
    response: httpx.Response,
    url: str,
    scratch: Path,
    validators: dict[str, str],
    options_key: str,
) -> Fetched:
    handle, copy = tempfile.mkstemp(dir=scratch, prefix="download-")
    digest = hashlib.sha256()
    try:
        with open(handle, "wb") as target:
            for chunk in response.iter_bytes(_CHUNK):
                digest.update(chunk)
                target.write(chunk)
    except BaseException:
        Path(copy).unlink(missing_ok=True)
        raise
    new = {"sha256": digest.hexdigest(), "options": options_key, **_http_validators(response)}
    same = validators.get("options") == options_key and validators.get("sha256") == new["sha256"]
    if same:
        Path(copy).unlink(missing_ok=True)
        return Fetched([], new, True, "same content as the last capture (sha256)")
    final = str(response.url)
    name = redact_url(final if urlsplit(final).path not in ("", "/") else url)
    located = Located(copy, name, response.headers.get("content-type"), temporary=True)
    return Fetched([located], new, False, None)
