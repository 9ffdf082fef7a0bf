"""`batchlake serve` (the REST API and dashboard) and `batchlake query --remote`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from batchlake.cli._output import Format, print_rows, stderr
from batchlake.errors import ConfigError

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve(
    project: Annotated[
        Path,
        typer.Option(
            "--project", "-p", help="The lake project folder.", envvar="BATCHLAKE_PROJECT"
        ),
    ] = Path("."),
    host: Annotated[str | None, typer.Option(help="Address to bind (\\[serve] host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (\\[serve] port; 0 picks one).")] = None,
    new_key: Annotated[
        str | None,
        typer.Option(
            "--new-key",
            help="Create an API key of this role (reader or operator), print it once, and exit.",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for the new key.")] = None,
) -> None:
    """Serve the REST API (/api/v1, OpenAPI at /docs), /metrics and the dashboard (/)."""
    from batchlake.lake import Lake

    lake = Lake.open(project)
    settings = lake.settings.serve
    if new_key is not None:
        from batchlake.serve.auth import create_key

        keys_file = Path(settings.keys_file)
        keys_file = keys_file if keys_file.is_absolute() else lake.project.root / keys_file
        key = create_key(keys_file, new_key, name)
        article = "an" if new_key[:1] in ("a", "e", "i", "o", "u") else "a"
        stderr.print(
            f"created {article} {new_key} key; its hash is in {keys_file}. The key (shown once):"
        )
        print(key)
        return
    update = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.model_copy(update=update)
    if settings.open_read and settings.host not in _LOOPBACK:
        raise ConfigError(
            f"[serve] open_read = true only works on a loopback host, not {settings.host}; "
            "set host = '127.0.0.1' or give readers keys"
        )
    try:
        import uvicorn

        from batchlake.serve import create_app
    except ImportError as exc:
        raise ConfigError(
            f"serving needs the serve extra ({exc.name} is missing); "
            "run pip install 'batchlake[serve]'"
        ) from exc

    app = create_app(lake, settings)
    if not len(app.state.ctx.keys) and not settings.open_read:
        stderr.print(
            "[yellow]no API keys yet[/yellow]: create one with "
            f"'batchlake serve -p {project} --new-key reader' (or operator)"
        )
    stderr.print(f"serving {lake.settings.name} on http://{settings.host}:{settings.port}/")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def remote_query(url: str, api_key: str | None, sql: str, fmt: Format, limit: int | None) -> None:
    """`batchlake query --remote URL`: the same answer, from a server."""
    from batchlake.serve.client import Client

    with Client(url, api_key) as client:
        answer = client.query(sql, max_rows=limit)
    names = [c["name"] for c in answer["columns"]]
    print_rows(names, [tuple(r) for r in answer["rows"]], fmt, title=None)
    if fmt is Format.table:
        more = " (the server's row limit was reached)" if answer["truncated"] else ""
        stderr.print(f"{answer['row_count']} row(s){more}")
