"""`chinook-store`: serve the store, load a Chinook copy, prepare ids of an existing copy."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from chinook_store.errors import StoreError
from chinook_store.settings import default_db_url

app = typer.Typer(
    name="chinook-store",
    help="The Chinook music store web app (FastAPI) on a Chinook database.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        help="Database URL: sqlite:///path.sqlite, mysql://user@host/db, postgresql://user@host/db.",
        envvar="CHINOOK_STORE_DB",
        show_default="sqlite:///demo-lake/data/chinook.sqlite (made by `batchlake demo`)",
    ),
]


@app.command()
def serve(
    db: DbOption = "",
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port).")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
) -> None:
    """Serve the store (pages at /, API at /api, OpenAPI at /docs)."""
    import secrets

    import uvicorn

    from chinook_store.db import check_schema, make_engine

    url = db or default_db_url()
    engine = make_engine(url)  # fail here, with one line, rather than in every worker
    check_schema(engine)
    engine.dispose()
    # Workers are separate processes: they read the settings from the environment, and
    # share one cookie-signing secret so a cart made on one worker is valid on another.
    os.environ["CHINOOK_STORE_DB"] = url
    os.environ.setdefault("CHINOOK_STORE_SECRET", secrets.token_urlsafe(32))
    typer.echo(f"Chinook store on http://{host}:{port}/ (database {engine.url!r})", err=True)
    uvicorn.run(
        "chinook_store.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


@app.command()
def load(
    db: DbOption = "",
    source: Annotated[
        str, typer.Option("--from", help="URL of the Chinook database to copy.")
    ] = "sqlite:///demo-lake/data/chinook.sqlite",
    replace: Annotated[bool, typer.Option(help="Drop the Chinook tables of --db first.")] = False,
) -> None:
    """Copy a Chinook database (default: the demo SQLite file) into --db."""
    from chinook_store.db import make_engine
    from chinook_store.load import copy_database

    if not db:
        raise StoreError("pass --db with the URL of the database to load into")
    counts = copy_database(make_engine(source), make_engine(db, create=True), replace=replace)
    typer.echo(", ".join(f"{t} {n:,}" for t, n in counts.items()), err=True)


@app.command()
def prepare(db: DbOption = "") -> None:
    """Make an existing Chinook copy generate Customer/Invoice/InvoiceLine ids (idempotent)."""
    from chinook_store.db import make_engine, prepare_ids

    changed = prepare_ids(make_engine(db or default_db_url()))
    typer.echo(
        f"ids now generated for: {', '.join(changed)}" if changed else "nothing to do", err=True
    )


def main() -> None:
    debug = os.environ.get("CHINOOK_STORE_DEBUG") == "1"
    try:
        app()
    except StoreError as error:
        if debug:
            raise
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
    except Exception as error:  # a database that cannot be reached, a driver missing…
        if debug:
            raise
        typer.echo(f"error: {type(error).__name__}: {error}".splitlines()[0], err=True)
        typer.echo("(set CHINOOK_STORE_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
