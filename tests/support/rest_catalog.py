"""A small Iceberg REST catalog server: a test peer for `[catalog] type = "rest"`, not a product.

No REST catalog server runs offline here (Polaris, Lakekeeper, Gravitino need Docker or
Maven), so the tests talk to this one. It implements the part of the Iceberg REST
catalog OpenAPI spec that PyIceberg's `RestCatalog` uses for tables: `GET /v1/config`;
namespaces list / create / load / exists / drop; tables list / create / load / exists /
drop; `POST /v1/namespaces/{ns}/tables/{t}` (commit: requirements + updates); and
`POST /v1/tables/rename`. It holds no Iceberg logic of its own: requests are parsed with
PyIceberg's request models (`CreateTableRequest`, `CommitTableRequest`) and handed to a
PyIceberg `SqlCatalog` on SQLite, whose `commit_table` checks the requirements, applies
the updates and writes the new metadata file. Requests are served one at a time.

    with rest_catalog_server(tmp_path / "rest") as uri:
        RestCatalog("any", uri=uri).list_namespaces()
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pyiceberg.catalog.rest import CreateTableRequest, TableResponse
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.table import CommitTableRequest, Table
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER

SEPARATOR = "\x1f"  # PyIceberg's default namespace separator in paths (%1F)

# What the server implements, announced in /v1/config: PyIceberg calls nothing else.
ENDPOINTS = [
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/tables/rename",
]

ERRORS: dict[type[Exception], int] = {
    NoSuchNamespaceError: 404,
    NoSuchTableError: 404,
    NamespaceAlreadyExistsError: 409,
    TableAlreadyExistsError: 409,
    NamespaceNotEmptyError: 409,
    CommitFailedException: 409,
}


def catalog(request: Request) -> SqlCatalog:
    found: SqlCatalog = request.app.state.catalog
    return found


def namespace_of(path: str) -> tuple[str, ...]:
    return tuple(path.split(SEPARATOR))


def model_response(model: Any) -> Response:
    """A PyIceberg model as JSON (its own serializer: aliases, no nulls)."""
    return Response(model.model_dump_json(), media_type="application/json")


def table_response(table: Table) -> Response:
    response = {"metadata-location": table.metadata_location, "metadata": table.metadata}
    return model_response(TableResponse.model_validate(response))


config_router = APIRouter(prefix="/v1")


@config_router.get("/config")
def get_config() -> dict[str, Any]:
    return {"defaults": {}, "overrides": {}, "endpoints": ENDPOINTS}


namespaces = APIRouter(prefix="/v1/namespaces")


@namespaces.get("")
def list_namespaces(parent: str | None = None, c: SqlCatalog = Depends(catalog)) -> dict[str, Any]:
    found = c.list_namespaces(namespace_of(parent) if parent else ())
    return {"namespaces": [list(n) for n in found]}


@namespaces.post("")
async def create_namespace(request: Request, c: SqlCatalog = Depends(catalog)) -> dict[str, Any]:
    body = json.loads(await request.body())
    c.create_namespace(tuple(body["namespace"]), body.get("properties") or {})
    return {"namespace": body["namespace"], "properties": body.get("properties") or {}}


@namespaces.get("/{namespace}")
def load_namespace(namespace: str, c: SqlCatalog = Depends(catalog)) -> dict[str, Any]:
    ident = namespace_of(namespace)
    return {"namespace": list(ident), "properties": c.load_namespace_properties(ident)}


@namespaces.head("/{namespace}", status_code=204)
def namespace_exists(namespace: str, c: SqlCatalog = Depends(catalog)) -> None:
    c.load_namespace_properties(namespace_of(namespace))  # 404 when missing


@namespaces.delete("/{namespace}", status_code=204)
def drop_namespace(namespace: str, c: SqlCatalog = Depends(catalog)) -> None:
    c.drop_namespace(namespace_of(namespace))


tables = APIRouter(prefix="/v1/namespaces/{namespace}/tables")


@tables.get("")
def list_tables(namespace: str, c: SqlCatalog = Depends(catalog)) -> dict[str, Any]:
    found = c.list_tables(namespace_of(namespace))
    return {"identifiers": [{"namespace": list(t[:-1]), "name": t[-1]} for t in found]}


@tables.post("")
async def create_table(
    namespace: str, request: Request, c: SqlCatalog = Depends(catalog)
) -> Response:
    body = CreateTableRequest.model_validate_json(await request.body())
    if body.stage_create:
        raise NotImplementedError("stage-create (create-table transactions) is not served")
    table = c.create_table(
        (*namespace_of(namespace), body.name),
        schema=body.table_schema,
        location=body.location,
        partition_spec=body.partition_spec or UNPARTITIONED_PARTITION_SPEC,
        sort_order=body.write_order or UNSORTED_SORT_ORDER,
        properties=body.properties,
    )
    return table_response(table)


@tables.get("/{table}")
def load_table(namespace: str, table: str, c: SqlCatalog = Depends(catalog)) -> Response:
    return table_response(c.load_table((*namespace_of(namespace), table)))


@tables.head("/{table}", status_code=204)
def table_exists(namespace: str, table: str, c: SqlCatalog = Depends(catalog)) -> None:
    c.load_table((*namespace_of(namespace), table))  # 404 when missing


@tables.post("/{table}")
async def commit_table(
    namespace: str, table: str, request: Request, c: SqlCatalog = Depends(catalog)
) -> Response:
    body = CommitTableRequest.model_validate_json(await request.body())
    current = c.load_table((*namespace_of(namespace), table))
    return model_response(c.commit_table(current, body.requirements, body.updates))


@tables.delete("/{table}", status_code=204)
def drop_table(
    namespace: str, table: str, purgeRequested: bool = False, c: SqlCatalog = Depends(catalog)
) -> None:
    ident = (*namespace_of(namespace), table)
    (c.purge_table if purgeRequested else c.drop_table)(ident)


rename = APIRouter(prefix="/v1/tables")


@rename.post("/rename", status_code=204)
async def rename_table(request: Request, c: SqlCatalog = Depends(catalog)) -> None:
    body = json.loads(await request.body())
    source, destination = body["source"], body["destination"]
    c.rename_table(
        (*source["namespace"], source["name"]), (*destination["namespace"], destination["name"])
    )


def create_app(sql_catalog: SqlCatalog) -> FastAPI:
    app = FastAPI(title="Iceberg REST catalog (test peer)")
    app.state.catalog = sql_catalog
    for router in (config_router, namespaces, tables, rename):
        app.include_router(router)
    one_at_a_time = asyncio.Lock()

    @app.middleware("http")
    async def serialize(request: Request, call_next: Any) -> Response:
        # SQLite and a test peer: one request at a time keeps it simple and deterministic.
        # Conflicting commits are still refused by the requirements (409), not by this lock.
        async with one_at_a_time:
            response: Response = await call_next(request)
        return response

    for error, status in ERRORS.items():
        app.add_exception_handler(error, _error_handler(status))
    app.add_exception_handler(NotImplementedError, _error_handler(501))
    return app


def _error_handler(status: int) -> Any:
    def handle(_: Request, exc: Exception) -> JSONResponse:
        error = {"message": str(exc), "type": type(exc).__name__, "code": status}
        return JSONResponse({"error": error}, status_code=status)

    return handle


@contextmanager
def rest_catalog_server(directory: Path) -> Iterator[str]:
    """Serve a REST catalog over a SQLite `SqlCatalog` in `directory`; yield its URI."""
    import uvicorn

    directory.mkdir(parents=True, exist_ok=True)
    sql_catalog = SqlCatalog(
        "rest-backing",
        uri=f"sqlite:///{directory / 'catalog.sqlite'}",
        warehouse=(directory / "warehouse").as_uri(),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(sql_catalog), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the REST catalog test server did not start")
            threading.Event().wait(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        sql_catalog.engine.dispose()
