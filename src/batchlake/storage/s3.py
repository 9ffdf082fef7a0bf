"""One S3 setting, rendered for every library that touches storage.

`[storage]` holds the endpoint, region, path-style flag and (optionally) the names of
the environment variables carrying credentials. `S3Options` turns that into what each
library takes: a pyarrow `S3FileSystem`, s3fs/fsspec options, PyIceberg catalog
properties, a DuckDB secret, Spark's hadoop `s3a` conf, and a boto3 client. Without
named variables every library uses the standard AWS credential chain (environment,
profile, instance role); DuckDB, which has no chain of its own here, gets the keys the
chain resolves (botocore).
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

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


@dataclass(frozen=True)
class S3Options:
    """How to reach an S3-compatible store (all optional: plain AWS S3 needs none)."""

    endpoint: str | None = None  # http(s)://host:port
    region: str | None = None
    path_style: bool = False
    access_key_id_env: str | None = None
    secret_access_key_env: str | None = None
    session_token_env: str | None = None

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> S3Options:
        return cls(
            endpoint=settings.endpoint.rstrip("/") if settings.endpoint else None,
            region=settings.region,
            path_style=settings.path_style,
            access_key_id_env=settings.access_key_id_env,
            secret_access_key_env=settings.secret_access_key_env,
            session_token_env=settings.session_token_env,
        )

    # -- resolved values -----------------------------------------------------------------

    @property
    def resolved_region(self) -> str:
        return (
            self.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULT_REGION
        )

    @property
    def uses_ssl(self) -> bool:
        return not (self.endpoint or "").startswith("http://")

    @property
    def endpoint_host(self) -> str | None:
        """`host:port` of the endpoint (what pyarrow and DuckDB take)."""
        return urlparse(self.endpoint).netloc if self.endpoint else None

    def named_credentials(self) -> Credentials | None:
        """Credentials from the variables named in `[storage]`, or None (use the chain)."""
        if not self.access_key_id_env:
            return None
        values = {}
        for key, name in (
            ("storage.access_key_id_env", self.access_key_id_env),
            ("storage.secret_access_key_env", self.secret_access_key_env),
        ):
            assert name is not None
            value = os.environ.get(name)
            if not value:
                raise ConfigError(
                    f"environment variable {name} is not set (named by '{key}'); "
                    f"export {name}=... or remove the key to use the AWS credential chain"
                )
            values[key] = value
        token = os.environ.get(self.session_token_env) if self.session_token_env else None
        return Credentials(
            values["storage.access_key_id_env"], values["storage.secret_access_key_env"], token
        )

    def credentials(self) -> Credentials | None:
        """Named credentials, else what the AWS chain resolves (None when it finds none)."""
        named = self.named_credentials()
        if named is not None:
            return named
        try:
            import botocore.session
        except ImportError:  # the chain of the other libraries still applies
            return None
        found = botocore.session.Session().get_credentials()
        if found is None:
            return None
        frozen = found.get_frozen_credentials()
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)

    # -- renderings ----------------------------------------------------------------------

    def pyarrow_filesystem(self) -> pafs.S3FileSystem:
        import pyarrow.fs as pafs

        kwargs: dict[str, Any] = {"region": self.resolved_region}
        named = self.named_credentials()
        if named is not None:
            kwargs.update(
                access_key=named.access_key_id,
                secret_key=named.secret_access_key,
                session_token=named.session_token,
            )
        if self.endpoint:
            kwargs["endpoint_override"] = self.endpoint_host
            kwargs["scheme"] = "https" if self.uses_ssl else "http"
        if self.path_style:
            kwargs["force_virtual_addressing"] = False
        return pafs.S3FileSystem(**kwargs)

    def fsspec_options(self) -> dict[str, Any]:
        """Keyword arguments of `s3fs.S3FileSystem` (also `storage_options` of fsspec)."""
        options: dict[str, Any] = {"client_kwargs": {"region_name": self.resolved_region}}
        named = self.named_credentials()
        if named is not None:
            options.update(key=named.access_key_id, secret=named.secret_access_key)
            if named.session_token:
                options["token"] = named.session_token
        if self.endpoint:
            options["endpoint_url"] = self.endpoint
        if self.path_style:
            options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
        return options

    def pyiceberg_properties(self) -> dict[str, str]:
        """PyIceberg FileIO properties (`s3.*`); `s3.path-style-access` is for Java FileIO."""
        props = {"s3.region": self.resolved_region}
        named = self.named_credentials()
        if named is not None:
            props["s3.access-key-id"] = named.access_key_id
            props["s3.secret-access-key"] = named.secret_access_key
            if named.session_token:
                props["s3.session-token"] = named.session_token
        if self.endpoint:
            props["s3.endpoint"] = self.endpoint
        if self.path_style:
            props["s3.force-virtual-addressing"] = "false"
            props["s3.path-style-access"] = "true"
        return props

    def spark_conf(self) -> dict[str, str]:
        """Hadoop `s3a` settings (Spark needs hadoop-aws on its classpath to use them)."""
        prefix = "spark.hadoop.fs.s3a."
        conf = {
            "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            prefix + "endpoint.region": self.resolved_region,
        }
        named = self.named_credentials()
        if named is not None:
            conf[prefix + "access.key"] = named.access_key_id
            conf[prefix + "secret.key"] = named.secret_access_key
            if named.session_token:
                conf[prefix + "session.token"] = named.session_token
                conf[prefix + "aws.credentials.provider"] = (
                    "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
                )
        if self.endpoint:
            conf[prefix + "endpoint"] = self.endpoint
            conf[prefix + "connection.ssl.enabled"] = str(self.uses_ssl).lower()
        if self.path_style:
            conf[prefix + "path.style.access"] = "true"
        return conf

    def boto3_client(self, service: str = "s3") -> Any:
        import boto3

        kwargs: dict[str, Any] = {"region_name": self.resolved_region}
        named = self.named_credentials()
        if named is not None:
            kwargs.update(
                aws_access_key_id=named.access_key_id,
                aws_secret_access_key=named.secret_access_key,
                aws_session_token=named.session_token,
            )
        if self.endpoint:
            kwargs["endpoint_url"] = self.endpoint
        if self.path_style and service == "s3":
            from botocore.config import Config

            kwargs["config"] = Config(s3={"addressing_style": "path"})
        return boto3.client(service, **kwargs)
