"""One Azure Blob Storage setting, rendered for every library that touches storage.

Lakes on Azure have `abfs://<container>/<prefix>` roots (`az://` is taken as a synonym
and written as `abfs://`, the scheme PyIceberg knows). The storage account and how to
reach it come from `[storage]`: `azure_account`, an optional `azure_endpoint` (Azurite,
sovereign clouds) and the names of the environment variables holding an account key or
a whole connection string. `AzureOptions` turns that into what each library takes: a
pyarrow `AzureFileSystem` (batchlake's own file access), PyIceberg FileIO properties
(`adls.*`, pyarrow FileIO), a DuckDB secret for its azure extension (which reads and
writes `az://`), adlfs/fsspec options and Spark's hadoop-azure conf.

Without a key, connection string or SAS token, pyarrow and DuckDB use the Azure default
credential chain (environment, managed identity, Azure CLI login).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from batchlake.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow.fs as pafs

    from batchlake.config import StorageSettings

AZURE_SCHEMES = ("abfs", "abfss", "az")
# The variables the Azure SDKs and adlfs read when [storage] names none.
CONNECTION_STRING_VAR = "AZURE_STORAGE_CONNECTION_STRING"
ACCOUNT_NAME_VAR = "AZURE_STORAGE_ACCOUNT_NAME"
ACCOUNT_KEY_VARS = ("AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_KEY")
SAS_TOKEN_VAR = "AZURE_STORAGE_SAS_TOKEN"
PYARROW_FILE_IO = "pyiceberg.io.pyarrow.PyArrowFileIO"


def is_azure(location: str) -> bool:
    return location.split("://", 1)[0] in AZURE_SCHEMES if "://" in location else False


def normalize_location(location: str) -> str:
    """`az://c/p` → `abfs://c/p`; refuses the `container@account.dfs...` form, naming the fix."""
    scheme, _, rest = location.partition("://")
    netloc = rest.split("/", 1)[0]
    if "@" in netloc:
        container, account = netloc.split("@", 1)
        raise ConfigError(
            f"storage location '{location}' names the account in the URL; write "
            f"abfs://{container}/{rest.split('/', 1)[1] if '/' in rest else ''} and set "
            f'azure_account = "{account.split(".", 1)[0]}" in [storage]'
        )
    return "abfs://" + rest if scheme == "az" else location


def duckdb_location(location: str) -> str:
    """The `az://` URL DuckDB's azure extension reads (blob API, which Azurite serves)."""
    return "az://" + location.split("://", 1)[1] if is_azure(location) else location


@dataclass(frozen=True)
class AzureCredentials:
    account_name: str
    account_key: str | None = None
    sas_token: str | None = None
    blob_endpoint: str | None = None  # http(s)://host[:port][/account]; None: Azure's own


def parse_connection_string(text: str, where: str) -> AzureCredentials:
    """The account, key or SAS and blob endpoint of an Azure Storage connection string."""
    parts: dict[str, str] = {}
    for item in text.strip().strip(";").split(";"):
        key, sep, value = item.partition("=")
        if sep:
            parts[key.strip().lower()] = value.strip()
    account = parts.get("accountname")
    endpoint = parts.get("blobendpoint")
    if not account and endpoint:  # SAS-only strings name the account by the endpoint
        account = urlparse(endpoint).netloc.split(".", 1)[0]
    if not account:
        raise ConfigError(
            f"the connection string in {where} has no AccountName; copy it whole from the "
            "storage account's 'Access keys' page"
        )
    if not endpoint and parts.get("endpointsuffix"):
        protocol = parts.get("defaultendpointsprotocol", "https")
        endpoint = f"{protocol}://{account}.blob.{parts['endpointsuffix']}"
    return AzureCredentials(
        account,
        account_key=parts.get("accountkey"),
        sas_token=parts.get("sharedaccesssignature"),
        blob_endpoint=endpoint.rstrip("/") if endpoint else None,
    )


@dataclass(frozen=True)
class AzureOptions:
    """How to reach an Azure storage account (every field optional in the file)."""

    account: str | None = None
    endpoint: str | None = None  # blob endpoint: Azurite http://127.0.0.1:10000/devstoreaccount1
    account_key_env: str | None = None
    connection_string_env: str | None = None

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> AzureOptions:
        return cls(
            account=settings.azure_account,
            endpoint=settings.azure_endpoint.rstrip("/") if settings.azure_endpoint else None,
            account_key_env=settings.azure_account_key_env,
            connection_string_env=settings.azure_connection_string_env,
        )

    # -- resolved values -----------------------------------------------------------------

    def credentials(self) -> AzureCredentials:
        """The account and its secret, from the variables [storage] names or the standard ones."""
        named = self.connection_string_env
        if named:
            text = os.environ.get(named)
            if not text:
                raise ConfigError(
                    f"environment variable {named} is not set (named by "
                    f"'storage.azure_connection_string_env'); export {named}='DefaultEndpoints"
                    "Protocol=https;AccountName=...;AccountKey=...'"
                )
            return self._with_settings(parse_connection_string(text, named))
        if not self.account_key_env and os.environ.get(CONNECTION_STRING_VAR):
            text = os.environ[CONNECTION_STRING_VAR]
            return self._with_settings(parse_connection_string(text, CONNECTION_STRING_VAR))
        account = self.account or os.environ.get(ACCOUNT_NAME_VAR)
        if not account:
            raise ConfigError(
                "no Azure storage account: set azure_account in [storage] (or "
                f"{ACCOUNT_NAME_VAR}), or name a connection string with "
                "azure_connection_string_env"
            )
        key: str | None = None
        if self.account_key_env:
            key = os.environ.get(self.account_key_env)
            if not key:
                raise ConfigError(
                    f"environment variable {self.account_key_env} is not set (named by "
                    f"'storage.azure_account_key_env'); export {self.account_key_env}=... or "
                    "remove the key to use the Azure credential chain"
                )
        else:
            key = next((os.environ[v] for v in ACCOUNT_KEY_VARS if os.environ.get(v)), None)
        sas = None if key else os.environ.get(SAS_TOKEN_VAR)
        return AzureCredentials(account, key, sas, self.endpoint)

    def _with_settings(self, found: AzureCredentials) -> AzureCredentials:
        """A connection string's values, with [storage]'s account and endpoint winning."""
        return AzureCredentials(
            self.account or found.account_name,
            found.account_key,
            found.sas_token,
            self.endpoint or found.blob_endpoint,
        )

    @staticmethod
    def _authority(creds: AzureCredentials) -> tuple[str, str] | None:
        """(host[:port], scheme) of a non-default blob endpoint, as pyarrow takes it.

        pyarrow puts the account in the path when the authority has a port (Azurite) and
        in front of the host otherwise (`<account>.blob.core.chinacloudapi.cn`).
        """
        if not creds.blob_endpoint:
            return None
        url = urlparse(creds.blob_endpoint)
        host = url.netloc
        prefix = f"{creds.account_name}."
        if host.startswith(prefix) and ":" not in host:
            host = host[len(prefix) :]
        return host, url.scheme or "https"

    def connection_string(self, creds: AzureCredentials | None = None) -> str | None:
        """A connection string for the resolved account (None when no key or SAS is known)."""
        creds = creds or self.credentials()
        if not (creds.account_key or creds.sas_token):
            return None
        endpoint = creds.blob_endpoint or f"https://{creds.account_name}.blob.core.windows.net"
        parts = [
            f"DefaultEndpointsProtocol={urlparse(endpoint).scheme or 'https'}",
            f"AccountName={creds.account_name}",
        ]
        if creds.account_key:
            parts.append(f"AccountKey={creds.account_key}")
        else:
            parts.append(f"SharedAccessSignature={(creds.sas_token or '').lstrip('?')}")
        parts.append(f"BlobEndpoint={endpoint}")
        return ";".join(parts) + ";"

    def where(self) -> str:
        """The blob endpoint in words, for messages."""
        try:
            creds = self.credentials()
        except ConfigError:
            return self.endpoint or "Azure Blob Storage"
        return creds.blob_endpoint or f"https://{creds.account_name}.blob.core.windows.net"

    # -- renderings ----------------------------------------------------------------------

    def pyarrow_filesystem(self) -> pafs.FileSystem:
        """pyarrow's AzureFileSystem; deletes go through the Azure SDK when a key is known.

        pyarrow deletes a blob of a flat-namespace account (and Azurite's) under a lease it
        then fails to release (the blob is gone) and retries that for ~7 s per file
        (measured, pyarrow 26); the SDK's plain DELETE takes ~20 ms.
        """
        import pyarrow.fs as pafs

        native = self.native_filesystem()
        connection = self.connection_string()
        if connection is None:
            return native
        try:
            from azure.storage.blob import BlobServiceClient
        except ImportError:
            return native
        from batchlake.storage.azure_fs import FastDeleteHandler

        service = BlobServiceClient.from_connection_string(connection)
        return pafs.PyFileSystem(FastDeleteHandler(native, service))

    def native_filesystem(self) -> pafs.AzureFileSystem:
        import pyarrow.fs as pafs

        creds = self.credentials()
        kwargs: dict[str, Any] = {}
        if creds.account_key:
            kwargs["account_key"] = creds.account_key
        elif creds.sas_token:
            kwargs["sas_token"] = creds.sas_token.lstrip("?")
        authority = self._authority(creds)
        if authority is not None:
            host, scheme = authority
            # The data-lake (dfs) endpoint is probed for a hierarchical namespace; Azurite
            # serves the blob API only, so it is pointed at the same host.
            kwargs.update(
                blob_storage_authority=host,
                blob_storage_scheme=scheme,
                dfs_storage_authority=host.replace(".blob.", ".dfs."),
                dfs_storage_scheme=scheme,
            )
        return pafs.AzureFileSystem(creds.account_name, **kwargs)

    def pyiceberg_properties(self) -> dict[str, str]:
        """PyIceberg FileIO properties (`adls.*`), with pyarrow's FileIO (as measured)."""
        creds = self.credentials()
        props = {"py-io-impl": PYARROW_FILE_IO, "adls.account-name": creds.account_name}
        if creds.account_key:
            props["adls.account-key"] = creds.account_key
        elif creds.sas_token:
            props["adls.sas-token"] = creds.sas_token.lstrip("?")
        authority = self._authority(creds)
        if authority is not None:
            host, scheme = authority
            props["adls.blob-storage-authority"] = host
            props["adls.blob-storage-scheme"] = scheme
            props["adls.dfs-storage-authority"] = host.replace(".blob.", ".dfs.")
            props["adls.dfs-storage-scheme"] = scheme
        connection = self.connection_string(creds)
        if connection:  # for PyIceberg's fsspec FileIO, should a project choose it
            props["adls.connection-string"] = connection
        return props

    def fsspec_options(self) -> dict[str, Any]:
        """Keyword arguments of `adlfs.AzureBlobFileSystem` (fsspec `storage_options`)."""
        creds = self.credentials()
        connection = self.connection_string(creds)
        if connection:
            return {"connection_string": connection}
        return {"account_name": creds.account_name, "anon": False}

    def duckdb_secret_parts(self) -> list[tuple[str, str]]:
        """(key, value) pairs of DuckDB's `CREATE SECRET (TYPE azure, ...)`."""
        creds = self.credentials()
        connection = self.connection_string(creds)
        if connection:
            return [("CONNECTION_STRING", connection)]
        return [("PROVIDER", "credential_chain"), ("ACCOUNT_NAME", creds.account_name)]

    def spark_conf(self) -> dict[str, str]:
        """hadoop-azure (`abfs`/`wasb`) settings; Spark needs hadoop-azure jars to use them."""
        creds = self.credentials()
        conf: dict[str, str] = {}
        if creds.account_key:
            for service in ("blob", "dfs"):
                host = f"{creds.account_name}.{service}.core.windows.net"
                conf[f"spark.hadoop.fs.azure.account.key.{host}"] = creds.account_key
        return conf
