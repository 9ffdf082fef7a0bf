"""`batchlake api-spec`: the REST API's OpenAPI document or a Postman collection, as a file."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from batchlake.cli._app import ProjectOption, _lake, app
from batchlake.cli._output import stderr
from batchlake.errors import ConfigError


class SpecFormat(enum.StrEnum):
    openapi = "openapi"
    postman = "postman"


@app.command("api-spec")
def api_spec(
    project: ProjectOption = Path("."),
    fmt: Annotated[
        SpecFormat,
        typer.Option("--format", "-f", help="openapi (OpenAPI 3 JSON) or postman (v2.1)."),
    ] = SpecFormat.openapi,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="The server's address in the collection (default: \\[serve] host:port)."),
    ] = None,
) -> None:
    """Export the REST API: its OpenAPI document, or a Postman collection to import."""
    lake = _lake(project)
    try:
        from batchlake.serve import create_app
        from batchlake.serve.collection import postman_collection
    except ImportError as exc:
        raise ConfigError(
            f"the API description needs the serve extra ({exc.name} is missing); "
            "run pip install 'batchlake[serve]'"
        ) from exc
    settings = lake.settings.serve
    spec = create_app(lake, settings).openapi()
    if fmt is SpecFormat.postman:
        spec = postman_collection(
            spec,
            base_url or f"http://{settings.host}:{settings.port}",
            **_examples(lake.catalog.table_names()),
        )
    text = json.dumps(spec, indent=2) + "\n"
    if output is None:
        print(text, end="")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    count = sum(len(folder["item"]) for folder in spec["item"]) if "item" in spec else None
    what = f"{count} requests" if count is not None else f"{len(spec['paths'])} paths"
    stderr.print(f"[green]wrote[/green] {output} ({fmt.value}, {what})")


def _examples(tables: list[str]) -> dict[str, dict[str, str]]:
    """Example values from this lake: a table for the path variables and the query."""
    if not tables:
        return {}
    table = next((t for t in tables if t.startswith("refined.")), tables[0])
    zone, name = table.split(".", 1)
    return {
        "path_values": {"zone": zone, "name": name},
        "body_values": {"sql": f"SELECT * FROM {table} LIMIT 10"},
    }
