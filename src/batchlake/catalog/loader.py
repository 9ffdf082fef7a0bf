"""Open the PyIceberg catalog `[catalog] type` names: sql, glue or rest.

Every kind gets the lake's one S3 setting as FileIO properties (`s3.*`), so table files
on `s3://` are read and written with the same endpoint, region and credentials as the
raw zone; a lake on Azure gets its account the same way (`adls.*`). Explicit
`[catalog] properties` win over what is derived here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchlake.errors import ConfigError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from batchlake.config import CatalogSettings
    from batchlake.storage.azure import AzureOptions
    from batchlake.storage.s3 import S3Options

CATALOG_NAME = "batchlake"


def catalog_properties(
    settings: CatalogSettings,
    *,
    uri: str,
    warehouse: str,
    s3: S3Options | None,
    azure: AzureOptions | None = None,
) -> dict[str, str]:
    """The PyIceberg properties of the configured catalog (what `open_catalog` passes)."""
    props: dict[str, str] = {"warehouse": warehouse}
    if s3 is not None:
        props.update(s3.pyiceberg_properties())
    if azure is not None:
        props.update(azure.pyiceberg_properties())
    if settings.type == "sql":
        props["uri"] = uri
    elif settings.type == "rest":
        if not uri.startswith(("http://", "https://")):
            raise ConfigError(
                f"catalog.uri '{uri}' is not an Iceberg REST endpoint; with type = 'rest' write "
                "e.g. uri = 'https://catalog.example.com/api/catalog'"
            )
        props["uri"] = uri
    elif settings.type == "glue" and s3 is not None:
        props["glue.region"] = s3.resolved_region
        named = s3.named_credentials()
        if named is not None:
            props["glue.access-key-id"] = named.access_key_id
            props["glue.secret-access-key"] = named.secret_access_key
            if named.session_token:
                props["glue.session-token"] = named.session_token
        if s3.endpoint:  # an S3-compatible test double (moto) serves Glue on the same port
            props["glue.endpoint"] = s3.endpoint
    props.update(settings.properties)
    return props


def open_catalog(
    settings: CatalogSettings,
    *,
    uri: str,
    warehouse: str,
    s3: S3Options | None,
    azure: AzureOptions | None = None,
) -> Catalog:
    props = catalog_properties(settings, uri=uri, warehouse=warehouse, s3=s3, azure=azure)
    where = props.get("uri") or props.get("glue.endpoint") or "AWS Glue"
    try:
        if settings.type == "sql":
            from pyiceberg.catalog.sql import SqlCatalog

            return SqlCatalog(CATALOG_NAME, **props)
        if settings.type == "glue":
            from pyiceberg.catalog.glue import GlueCatalog

            return GlueCatalog(CATALOG_NAME, **props)
        from pyiceberg.catalog.rest import RestCatalog

        return RestCatalog(CATALOG_NAME, **props)
    except ImportError as exc:
        raise ConfigError(
            f"catalog type '{settings.type}' needs a package that is missing ({exc}); "
            "run pip install 'batchlake[s3]'"
        ) from exc
    except Exception as exc:
        raise ConfigError(
            f"cannot open the {settings.type} catalog at {where}: {_first_line(exc)}; "
            "check [catalog]"
        ) from exc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
