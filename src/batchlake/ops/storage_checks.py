"""Storage checks for `batchlake doctor`: is the lake's storage reachable and writable?

`storage_checks(lake)` probes the storage root (and the catalog warehouse when it lives
elsewhere): it reaches the bucket, container or folder, then writes, reads back and deletes a small
object. Each result names the fix when something is wrong (the endpoint, the bucket,
the credentials or the permission), never a stack trace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from batchlake.errors import ConfigError
from batchlake.storage import Storage, filesystem_for, path_of, scheme_of, to_engine_path
from batchlake.storage.azure import is_azure

if TYPE_CHECKING:
    import pyarrow.fs as pafs

    from batchlake.lake import Lake

PROBE_DIR = ".batchlake-check"


@dataclass(frozen=True)
class CheckResult:
    """One check: `ok`, what was found, and (when not ok) what to do about it."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def storage_checks(lake: Lake) -> list[CheckResult]:
    """Reachability and write/read/delete permission of the storage root and warehouse."""
    results = _location_checks("storage", lake.storage.root, lake)
    warehouse = lake.settings.catalog.warehouse
    if warehouse and not to_engine_path(warehouse).startswith(to_engine_path(lake.storage.root)):
        results += _location_checks("warehouse", warehouse, lake)
    return results


def _location_checks(label: str, location: str, lake: Lake) -> list[CheckResult]:
    try:
        fs = (
            lake.storage.filesystem
            if location == lake.storage.root
            else filesystem_for(location, lake.s3, lake.azure)
        )
    except Exception as exc:
        return [_failed(f"{label} reachable", location, exc, lake)]
    reach = _reachable(label, location, fs, lake)
    if not reach.ok:
        return [reach]
    return [reach, _write_read_delete(label, location, fs, lake)]


def _reachable(label: str, location: str, fs: pafs.FileSystem, lake: Lake) -> CheckResult:
    from pyarrow.fs import FileType

    name = f"{label} reachable"
    scheme = scheme_of(location)
    try:
        if scheme == "file":
            Storage(location).makedirs(location)
            return CheckResult(name, True, f"folder {to_engine_path(location)}")
        bucket = path_of(location).split("/", 1)[0]
        kind = "container" if is_azure(location) else "bucket"
        info = fs.get_file_info(bucket)
        if info.type == FileType.NotFound:
            return CheckResult(
                name,
                False,
                f"{kind} '{bucket}' does not exist at {_where(lake, location)}",
                f"create the {kind} '{bucket}' or fix storage.root",
            )
        return CheckResult(name, True, f"{kind} '{bucket}' at {_where(lake, location)}")
    except Exception as exc:
        return _failed(name, location, exc, lake)


def _write_read_delete(label: str, location: str, fs: pafs.FileSystem, lake: Lake) -> CheckResult:
    name = f"{label} write/read/delete"
    probe = f"{path_of(to_engine_path(location)).rstrip('/')}/{PROBE_DIR}/{uuid.uuid4().hex}"
    payload = b"batchlake storage check\n"
    step = "write"
    try:
        if scheme_of(location) == "file":
            fs.create_dir(probe.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(probe) as out:
            out.write(payload)
        step = "read"
        with fs.open_input_stream(probe) as src:
            back = src.read()
        if back != payload:
            return CheckResult(name, False, "the probe object read back differs", None)
        step = "delete"
        fs.delete_file(probe)
        return CheckResult(name, True, f"wrote, read and deleted {PROBE_DIR}/<probe>")
    except Exception as exc:
        return _failed(name, location, exc, lake, step=step)


def _where(lake: Lake, location: str) -> str:
    if is_azure(location):
        return lake.azure.where()
    return lake.s3.endpoint or "AWS S3"


def _failed(
    name: str, location: str, exc: Exception, lake: Lake, *, step: str | None = None
) -> CheckResult:
    """A failed check with the fix its error points to."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    lowered = text.lower()
    action = f"cannot {step} under {location}" if step else f"cannot reach {location}"
    if isinstance(exc, ConfigError):
        fix = text.split("; ", 1)[-1]
    elif is_azure(location):
        fix = _azure_fix(lowered, location, lake, step)
    elif any(
        s in lowered
        for s in ("connection refused", "could not connect", "couldn't connect", "curl error")
    ):
        fix = (
            f"check storage.endpoint ({lake.s3.endpoint}): is the server running and reachable?"
            if lake.s3.endpoint
            else "check the network route to S3 and storage.region"
        )
    elif any(s in lowered for s in ("access denied", "accessdenied", "forbidden", "403")):
        verb = {"write": "s3:PutObject", "read": "s3:GetObject", "delete": "s3:DeleteObject"}
        needed = verb.get(step or "", "s3:ListBucket")
        fix = f"grant {needed} on {location} to the credentials in use ({_credential_source(lake)})"
    elif any(
        s in lowered
        for s in ("invalidaccesskeyid", "signaturedoesnotmatch", "no credentials", "expired")
    ):
        fix = f"fix the credentials ({_credential_source(lake)})"
    elif "permission denied" in lowered:
        fix = f"make {to_engine_path(location)} writable by this user, or change storage.root"
    else:
        fix = "check [storage] in batchlake.toml (root, endpoint, region, path_style)"
    return CheckResult(name, False, f"{action}: {text[:300]}", fix)


def _azure_fix(lowered: str, location: str, lake: Lake, step: str | None) -> str:
    """What to do about a failed probe of an abfs:// location."""
    settings = lake.settings.storage
    if settings.azure_connection_string_env:
        source = f"the connection string in {settings.azure_connection_string_env}"
    elif settings.azure_account_key_env:
        source = f"the account key in {settings.azure_account_key_env}"
    else:
        source = "AZURE_STORAGE_CONNECTION_STRING / AZURE_STORAGE_ACCOUNT_KEY or Azure's chain"
    if any(s in lowered for s in ("connection refused", "connect to server", "resolve host")):
        return (
            f"check the blob endpoint ({lake.azure.where()}; storage.azure_endpoint or the "
            "connection string's BlobEndpoint): is it running and reachable?"
        )
    # A wrong key or an expired SAS: "Server failed to authenticate the request" (Azure
    # says AuthenticationFailed, Azurite AuthorizationFailure); a missing role says
    # AuthorizationPermissionMismatch ("not authorized to perform this operation").
    if any(s in lowered for s in ("authenticationfailed", "failed to authenticate", "401")):
        return f"fix the credentials ({source})"
    if any(s in lowered for s in ("authorizationpermissionmismatch", "not authorized", "403")):
        role = "Storage Blob Data Contributor" if step in ("write", "delete") else "Reader"
        return f"grant the '{role}' role on {location} to the identity in use ({source})"
    return "check [storage] in batchlake.toml (root, azure_account, azure_endpoint)"


def _credential_source(lake: Lake) -> str:
    settings = lake.settings.storage
    if settings.access_key_id_env:
        return (
            f"environment variables {settings.access_key_id_env} and "
            f"{settings.secret_access_key_env}, named in [storage]"
        )
    return "the AWS credential chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, role"
